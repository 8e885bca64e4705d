// API benchmark: starts the real `nave server --disable-agent`, and measures
//  - start to ready (/readyz) and idle RSS of the server process,
//  - ConfigMap creates over HTTPS with 1 and 16 concurrent keep-alive clients (creates/s,
//    p50/p99 latency),
//  - LIST latency of 10,000 ConfigMaps,
// against a baseline measured in the same run on the same disk: raw durable single-row SQLite
// inserts per second (WAL, synchronous=FULL, one INSERT per transaction).
//
// Run it inside a network namespace (bench/run.sh does): the server listens on 127.0.0.1.
//   api_bench --nave build/nave --dir /var/tmp/nave-bench [--creates 4000] [--list 10000]
#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_client.h"
#include "common/json.h"
#include "common/strings.h"
#include "common/yaml.h"

namespace {

using namespace nave::bench;
using Clock = std::chrono::steady_clock;

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct Args {
  std::string nave = "build/nave";
  std::string dir = "/var/tmp/nave-bench";
  int creates = 4000;
  int listObjects = 10000;
  int port = 6443;
};

double sqliteBaseline(const std::string& dir) {
  std::string path = dir + "/baseline.db";
  for (const char* suffix : {"", "-wal", "-shm"}) ::unlink((path + suffix).c_str());
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                   "CREATE TABLE kv(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, value BLOB);",
               nullptr, nullptr, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO kv(name, value) VALUES(?, ?)", -1, &st, nullptr);
  std::string value(400, 'x');
  int n = 0;
  auto start = Clock::now();
  while (Clock::now() - start < std::chrono::seconds(3)) {
    std::string name = "/registry/core/configmaps/default/cm-" + std::to_string(n);
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    sqlite3_bind_text(st, 1, name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 2, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    ++n;
  }
  double rate = n / seconds(Clock::now() - start);
  sqlite3_finalize(st);
  sqlite3_close(db);
  for (const char* suffix : {"", "-wal", "-shm"}) ::unlink((path + suffix).c_str());
  return rate;
}

struct CreateResult {
  double rate, p50ms, p99ms;
  int failures;
};

CreateResult createConfigMaps(const Tls& tls, const std::string& ns, int total, int clients,
                              const std::string& prefix) {
  std::atomic<int> next{0};
  std::atomic<int> failures{0};
  std::vector<std::vector<double>> lat(clients);
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      CURL* c = newHandle(tls);
      curl_slist* h = curl_slist_append(nullptr, "Content-Type: application/json");
      h = curl_slist_append(h, "Accept: application/json");
      std::string url = tls.url + "/api/v1/namespaces/" + ns + "/configmaps";
      for (;;) {
        int i = next++;
        if (i >= total) break;
        std::string body = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + prefix +
                           std::to_string(i) +
                           R"(","labels":{"app":"bench"}},"data":{"key":"some configuration value"}})";
        auto t0 = Clock::now();
        long code = request(c, url, "POST", body, nullptr, h);
        lat[t].push_back(seconds(Clock::now() - t0) * 1000);
        if (code != 201) ++failures;
      }
      curl_slist_free_all(h);
      curl_easy_cleanup(c);
    });
  }
  for (auto& th : threads) th.join();
  double elapsed = seconds(Clock::now() - start);
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) { return all.empty() ? 0.0 : all[std::min(all.size() - 1, size_t(p * all.size()))]; };
  return {total / elapsed, pct(0.50), pct(0.99), failures.load()};
}


}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--nave") a.nave = v;
    else if (k == "--dir") a.dir = v;
    else if (k == "--creates") a.creates = std::atoi(v.c_str());
    else if (k == "--list") a.listObjects = std::atoi(v.c_str());
    else if (k == "--port") a.port = std::atoi(v.c_str());
  }
  ::mkdir(a.dir.c_str(), 0700);
  curl_global_init(CURL_GLOBAL_DEFAULT);

  double baseline = sqliteBaseline(a.dir);
  std::printf("baseline: raw durable single-row SQLite inserts: %.0f/s\n", baseline);

  std::string data = a.dir + "/data", kubeconfig = a.dir + "/kubeconfig.yaml";
  std::system(("rm -rf '" + data + "'").c_str());
  auto t0 = Clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    std::string port = std::to_string(a.port);
    execl(a.nave.c_str(), a.nave.c_str(), "server", "--disable-agent", "--data-dir", data.c_str(),
          "--write-kubeconfig", kubeconfig.c_str(), "--https-listen-port", port.c_str(),
          "--bind-address", "127.0.0.1", static_cast<char*>(nullptr));
    _exit(127);
  }
  Tls tls;
  double startup = -1;
  for (int i = 0; i < 4000; ++i) {
    struct stat st{};
    if (::stat(kubeconfig.c_str(), &st) == 0) {
      if (tls.url.empty()) tls = readKubeconfig(kubeconfig);
      CURL* c = newHandle(tls);
      std::string out;
      long code = request(c, tls.url + "/readyz", "GET", "", &out, nullptr);
      curl_easy_cleanup(c);
      if (code == 200) {
        startup = seconds(Clock::now() - t0);
        break;
      }
    }
    usleep(2000);
  }
  if (startup < 0) {
    std::fprintf(stderr, "server did not become ready\n");
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return 1;
  }
  std::printf("start to ready: %.0f ms\n", startup * 1000);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  long idleRss = rssKb(pid);
  std::printf("idle RSS: %.1f MB\n", idleRss / 1024.0);

  std::printf("\n%-10s %12s %10s %10s %8s\n", "clients", "creates/s", "p50 ms", "p99 ms", "vs SQLite");
  double rate16 = 0, p99at16 = 0;
  for (int clients : {1, 4, 16}) {
    auto r = createConfigMaps(tls, "default", a.creates, clients, "c" + std::to_string(clients) + "-");
    std::printf("%-10d %12.0f %10.2f %10.2f %8.2fx%s\n", clients, r.rate, r.p50ms, r.p99ms,
                r.rate / baseline, r.failures ? " (failures!)" : "");
    if (clients == 16) {
      rate16 = r.rate;
      p99at16 = r.p99ms;
    }
  }

  // LIST of 10k objects in one namespace.
  {
    CURL* c = newHandle(tls);
    curl_slist* h = curl_slist_append(nullptr, "Content-Type: application/json");
    std::string out;
    request(c, tls.url + "/api/v1/namespaces", "POST",
            R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"list-bench"}})", &out, h);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
  }
  createConfigMaps(tls, "list-bench", a.listObjects, 16, "l-");
  std::vector<double> listMs;
  size_t bytes = 0;
  for (int i = 0; i < 7; ++i) {
    CURL* c = newHandle(tls);
    curl_slist* h = curl_slist_append(nullptr, "Accept: application/json");
    std::string out;
    auto s = Clock::now();
    request(c, tls.url + "/api/v1/namespaces/list-bench/configmaps", "GET", "", &out, h);
    listMs.push_back(seconds(Clock::now() - s) * 1000);
    bytes = out.size();
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
  }
  std::sort(listMs.begin(), listMs.end());
  std::printf("\nLIST %d ConfigMaps: median %.1f ms (%zu bytes)\n", a.listObjects, listMs[listMs.size() / 2], bytes);
  long loadedRss = rssKb(pid);
  std::printf("RSS after the runs: %.1f MB\n", loadedRss / 1024.0);

  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  std::printf("\nRESULT {\"sqlite_inserts_per_s\":%.0f,\"startup_ms\":%.0f,\"idle_rss_mb\":%.1f,"
              "\"creates_per_s_16\":%.0f,\"p99_ms_16\":%.2f,\"list_10k_ms\":%.1f}\n",
              baseline, startup * 1000, idleRss / 1024.0, rate16, p99at16, listMs[listMs.size() / 2]);
  return 0;
}
