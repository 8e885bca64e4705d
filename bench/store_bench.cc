// store_bench: durable write throughput of the SQLite store against raw SQLite.
//
//   store_bench [--dir DIR] [--seconds N] [--value-bytes N]
//
// (a) baseline: one connection, WAL, synchronous=FULL, one INSERT per transaction, i.e. what
//     a store without group commit could do at best on this disk;
// (b) Store::create from 1, 4 and 16 threads (group commit shares fsyncs between them).
// Each run uses a fresh database in a temporary directory under DIR, removed afterwards.
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "storage/sqlite_store.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Measurement {
  std::string name;
  int64_t ops = 0;
  double seconds = 0;
  std::vector<double> latenciesMs;
};

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  return v[i];
}

class ScratchDir {
 public:
  explicit ScratchDir(const std::string& parent) {
    std::string tmpl = parent + "/nave-store-bench-XXXXXX";
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string podJson(size_t bytes, int64_t i) {
  std::string v = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-)" +
                  std::to_string(i) + R"(","namespace":"default"},"spec":{"pad":")";
  if (v.size() + 4 < bytes) v.append(bytes - v.size() - 4, 'x');
  v += "\"}}";
  return v;
}

bool rawSqlite(const std::string& parent, double seconds, size_t valueBytes, Measurement& m) {
  ScratchDir dir(parent);
  if (dir.path().empty()) return false;
  std::string path = dir.path() + "/raw.db";
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return false;
  const char* setup =
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
      "CREATE TABLE log (revision INTEGER PRIMARY KEY AUTOINCREMENT, key BLOB NOT NULL,"
      " created INTEGER, deleted INTEGER, create_revision INTEGER, prev_revision INTEGER,"
      " expires_at INTEGER, value BLOB);"
      "CREATE INDEX log_key_revision ON log (key, revision, deleted);";
  if (sqlite3_exec(db, setup, nullptr, nullptr, nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "raw sqlite setup: %s\n", sqlite3_errmsg(db));
    sqlite3_close(db);
    return false;
  }
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT INTO log (key, created, deleted, create_revision, prev_revision,"
                     " expires_at, value) VALUES (?1, 1, 0, 0, 0, 0, ?2)",
                     -1, &insert, nullptr);
  auto start = Clock::now();
  auto end = start + std::chrono::duration<double>(seconds);
  bool ok = true;
  while (Clock::now() < end) {
    std::string key = "/registry/pods/default/web-" + std::to_string(m.ops);
    std::string value = podJson(valueBytes, m.ops);
    auto t0 = Clock::now();
    sqlite3_bind_blob(insert, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(insert, 2, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    int rc = sqlite3_step(insert);
    sqlite3_reset(insert);
    if (rc != SQLITE_DONE) {
      std::fprintf(stderr, "raw sqlite insert: %s\n", sqlite3_errmsg(db));
      ok = false;
      break;
    }
    m.latenciesMs.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    ++m.ops;
  }
  m.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  sqlite3_finalize(insert);
  sqlite3_close(db);
  return ok;
}

bool storeCreates(const std::string& parent, int threads, double seconds, size_t valueBytes,
                  Measurement& m) {
  ScratchDir dir(parent);
  if (dir.path().empty()) return false;
  nave::storage::SqliteOptions options;
  options.path = dir.path() + "/state.db";
  options.compactIntervalSeconds = 0;
  auto opened = nave::storage::openSqliteStore(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "open store: %s\n", opened.error().message().c_str());
    return false;
  }
  auto& store = *opened;
  std::vector<std::vector<double>> latencies(static_cast<size_t>(threads));
  std::atomic<bool> failed{false};
  auto start = Clock::now();
  auto end = start + std::chrono::duration<double>(seconds);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int64_t i = 0; Clock::now() < end && !failed.load(); ++i) {
        std::string key = "/registry/pods/ns-" + std::to_string(t) + "/web-" + std::to_string(i);
        auto t0 = Clock::now();
        auto r = store->create(key, podJson(valueBytes, i));
        if (!r.ok()) {
          std::fprintf(stderr, "create: %s\n", r.error().message().c_str());
          failed = true;
          return;
        }
        latencies[static_cast<size_t>(t)].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      }
    });
  }
  for (auto& w : workers) w.join();
  m.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& l : latencies) m.latenciesMs.insert(m.latenciesMs.end(), l.begin(), l.end());
  m.ops = static_cast<int64_t>(m.latenciesMs.size());
  return !failed.load();
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/tmp";
  double seconds = 3;
  size_t valueBytes = 1024;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--dir") == 0) {
      dir = argv[i + 1];
    } else if (std::strcmp(argv[i], "--seconds") == 0) {
      seconds = std::atof(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--value-bytes") == 0) {
      valueBytes = static_cast<size_t>(std::atol(argv[i + 1]));
    } else {
      std::fprintf(stderr, "usage: %s [--dir DIR] [--seconds N] [--value-bytes N]\n", argv[0]);
      return 2;
    }
  }
  std::printf("durable writes in %s, %.0f s per run, %zu-byte values, SQLite %s\n\n", dir.c_str(),
              seconds, valueBytes, sqlite3_libversion());

  std::vector<Measurement> results;
  Measurement raw{"raw SQLite, 1 INSERT per txn"};
  if (!rawSqlite(dir, seconds, valueBytes, raw)) return 1;
  results.push_back(std::move(raw));
  for (int threads : {1, 4, 16}) {
    Measurement m{"Store::create, " + std::to_string(threads) + " thread" +
                  (threads > 1 ? "s" : "")};
    if (!storeCreates(dir, threads, seconds, valueBytes, m)) return 1;
    results.push_back(std::move(m));
  }

  std::printf("%-32s %9s %10s %9s %9s\n", "run", "writes", "writes/s", "p50 ms", "p99 ms");
  for (Measurement& m : results) {
    std::printf("%-32s %9lld %10.0f %9.2f %9.2f\n", m.name.c_str(), static_cast<long long>(m.ops),
                static_cast<double>(m.ops) / m.seconds, percentile(m.latenciesMs, 0.50),
                percentile(m.latenciesMs, 0.99));
  }
  return 0;
}
