// Integration tests of the SQLite store on a real database in a temporary directory.
#include "storage/sqlite_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace nave::storage {
namespace {

using namespace std::chrono_literals;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/nave-store-test-XXXXXX";
    char* dir = mkdtemp(tmpl);
    if (dir != nullptr) path_ = dir;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Collects watch events and lets a test wait for them.
class EventLog {
 public:
  WatchCallback callback() {
    return [this](std::span<const Event> events) {
      std::lock_guard lock(mutex_);
      ++calls_;
      for (const Event& e : events) events_.push_back(e);
      changed_.notify_all();
    };
  }
  bool waitFor(size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return events_.size() >= n; });
  }
  std::vector<Event> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }
  size_t size() {
    std::lock_guard lock(mutex_);
    return events_.size();
  }
  std::vector<int64_t> revisions() {
    std::vector<int64_t> out;
    for (const Event& e : events()) out.push_back(e.kv.modRevision);
    return out;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Event> events_;
  int calls_ = 0;
};

std::vector<int64_t> range(int64_t from, int64_t to) {
  std::vector<int64_t> out;
  for (int64_t r = from; r <= to; ++r) out.push_back(r);
  return out;
}

int64_t fileSize(const std::string& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  return ec ? -1 : static_cast<int64_t>(size);
}

// Rows in the log table, read with a separate raw connection.
int64_t logRows(const std::string& path) {
  sqlite3* db = nullptr;
  int64_t rows = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM log", -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      rows = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close_v2(db);
  return rows;
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty()) << "mkdtemp failed";
    options_.path = dir_.path() + "/state.db";
    options_.compactIntervalSeconds = 0;
    reopen();
  }

  void reopen() {
    store_.reset();
    auto opened = openSqliteStore(options_);
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    store_ = std::move(*opened);
  }

  KeyValue mustCreate(std::string_view key, std::string value, int64_t ttl = 0) {
    auto r = store_->create(key, std::move(value), ttl);
    EXPECT_TRUE(r.ok()) << r.error().message();
    return r.ok() ? *r : KeyValue{};
  }

  TempDir dir_;
  SqliteOptions options_;
  std::unique_ptr<Store> store_;
};

TEST_F(SqliteStoreTest, CreateGetUpdateRemove) {
  EXPECT_EQ(*store_->currentRevision(), 0);
  auto created = store_->create("/registry/pods/default/web-1", R"({"a":1})");
  ASSERT_TRUE(created.ok()) << created.error().message();
  EXPECT_EQ(created->key, "/registry/pods/default/web-1");
  EXPECT_EQ(created->value, R"({"a":1})");
  EXPECT_EQ(created->modRevision, 1);
  EXPECT_EQ(created->createRevision, 1);

  auto got = store_->get("/registry/pods/default/web-1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->value, R"({"a":1})");
  EXPECT_EQ(got->modRevision, 1);

  auto dup = store_->create("/registry/pods/default/web-1", "{}");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code(), ErrorCode::kAlreadyExists);

  auto stale = store_->update("/registry/pods/default/web-1", "{}", 7);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code(), ErrorCode::kConflict);
  auto missing = store_->update("/registry/pods/default/nope", "{}", 1);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  auto notFound = store_->get("/registry/pods/default/nope");
  ASSERT_FALSE(notFound.ok());
  EXPECT_EQ(notFound.error().code(), ErrorCode::kNotFound);

  auto updated = store_->update("/registry/pods/default/web-1", R"({"a":2})", 1);
  ASSERT_TRUE(updated.ok()) << updated.error().message();
  EXPECT_EQ(updated->modRevision, 2);  // failed writes consumed no revision
  EXPECT_EQ(updated->createRevision, 1);
  EXPECT_EQ(store_->get("/registry/pods/default/web-1")->value, R"({"a":2})");

  auto badRemove = store_->remove("/registry/pods/default/web-1", 1);
  ASSERT_FALSE(badRemove.ok());
  EXPECT_EQ(badRemove.error().code(), ErrorCode::kConflict);

  auto removed = store_->remove("/registry/pods/default/web-1", 2);
  ASSERT_TRUE(removed.ok()) << removed.error().message();
  EXPECT_EQ(removed->value, R"({"a":2})");
  EXPECT_EQ(removed->modRevision, 3);
  EXPECT_EQ(removed->createRevision, 1);
  EXPECT_EQ(store_->get("/registry/pods/default/web-1").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->remove("/registry/pods/default/web-1").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->update("/registry/pods/default/web-1", "{}", 3).error().code(),
            ErrorCode::kNotFound);

  auto again = store_->create("/registry/pods/default/web-1", "{}");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->modRevision, 4);
  EXPECT_EQ(again->createRevision, 4);
  auto unconditional = store_->remove("/registry/pods/default/web-1");
  ASSERT_TRUE(unconditional.ok());
  EXPECT_EQ(unconditional->modRevision, 5);
  EXPECT_EQ(*store_->currentRevision(), 5);
}

TEST_F(SqliteStoreTest, RevisionsAreSharedAcrossKeys) {
  std::vector<int64_t> revisions;
  for (int i = 0; i < 10; ++i) {
    revisions.push_back(mustCreate("/k/" + std::to_string(i), "v").modRevision);
    if (i % 3 == 0) {
      auto u = store_->update("/k/" + std::to_string(i), "w", revisions.back());
      ASSERT_TRUE(u.ok());
      revisions.push_back(u->modRevision);
    }
  }
  EXPECT_EQ(revisions, range(1, static_cast<int64_t>(revisions.size())));
  EXPECT_EQ(*store_->currentRevision(), static_cast<int64_t>(revisions.size()));
}

TEST_F(SqliteStoreTest, BinaryKeysAndValues) {
  std::string key1("/bin/\x00\x01", 7);
  std::string key2("/bin/\xff\xff", 7);
  std::string key3("/bin\xff", 5);
  std::string value("\x00\xfe{}\x00", 5);
  mustCreate(key1, value);
  mustCreate(key2, "");
  mustCreate(key3, "x");
  auto got = store_->get(key1);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->key, key1);
  EXPECT_EQ(got->value, value);
  auto empty = store_->get(key2);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->value, "");

  auto list = store_->list({.prefix = "/bin/"});
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->items.size(), 2u);
  EXPECT_EQ(list->items[0].key, key1);
  EXPECT_EQ(list->items[1].key, key2);
  // A prefix ending in 0xff bytes has an upper bound with fewer bytes.
  auto ff = store_->list({.prefix = std::string("/bin/\xff", 6)});
  ASSERT_TRUE(ff.ok());
  ASSERT_EQ(ff->items.size(), 1u);
  EXPECT_EQ(ff->items[0].key, key2);
  auto all = store_->list({.prefix = ""});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->items.size(), 3u);
  EXPECT_EQ(*store_->count(""), 3);
  EXPECT_EQ(*store_->count("/bin/"), 2);
}

TEST_F(SqliteStoreTest, ListPrefixAfterKeyLimit) {
  for (const char* k : {"/a/3", "/a/1", "/a/5", "/a/2", "/a/4", "/ab", "/b/1", "/a"}) {
    mustCreate(k, std::string("v") + k);
  }
  auto del = store_->remove("/a/4");
  ASSERT_TRUE(del.ok());

  auto all = store_->list({.prefix = "/a/"});
  ASSERT_TRUE(all.ok()) << all.error().message();
  std::vector<std::string> keys;
  for (auto& kv : all->items) keys.push_back(kv.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"/a/1", "/a/2", "/a/3", "/a/5"}));
  EXPECT_EQ(all->items[0].value, "v/a/1");
  EXPECT_EQ(all->items[0].modRevision, 2);
  EXPECT_FALSE(all->more);
  EXPECT_EQ(all->revision, 9);
  EXPECT_EQ(*store_->count("/a/"), 4);
  EXPECT_EQ(*store_->count("/a"), 6);
  EXPECT_EQ(*store_->count("/zzz"), 0);

  auto page1 = store_->list({.prefix = "/a/", .limit = 2});
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->items.size(), 2u);
  EXPECT_EQ(page1->items[1].key, "/a/2");
  EXPECT_TRUE(page1->more);
  EXPECT_EQ(page1->remaining, 2);

  // The next page at the first page's revision, even though the store moves on.
  mustCreate("/a/0", "late");
  auto page2 =
      store_->list({.prefix = "/a/", .afterKey = "/a/2", .limit = 2, .revision = page1->revision});
  ASSERT_TRUE(page2.ok());
  ASSERT_EQ(page2->items.size(), 2u);
  EXPECT_EQ(page2->items[0].key, "/a/3");
  EXPECT_EQ(page2->items[1].key, "/a/5");
  EXPECT_FALSE(page2->more);
  EXPECT_EQ(page2->remaining, 0);
  EXPECT_EQ(page2->revision, page1->revision);

  auto after = store_->list({.prefix = "/a/", .afterKey = "/a/5"});
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->items.empty());
  auto now = store_->list({.prefix = "/a/"});
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->items.size(), 5u);
  EXPECT_EQ(now->items[0].key, "/a/0");
}

TEST_F(SqliteStoreTest, ReadsAtPastRevisions) {
  auto c = mustCreate("/x/a", "1");                     // 1
  mustCreate("/x/b", "b");                              // 2
  auto u = store_->update("/x/a", "2", c.modRevision);  // 3
  ASSERT_TRUE(u.ok());
  auto d = store_->remove("/x/b");  // 4
  ASSERT_TRUE(d.ok());
  mustCreate("/x/b", "b2");  // 5

  EXPECT_EQ(store_->get("/x/a", 1)->value, "1");
  EXPECT_EQ(store_->get("/x/a", 2)->value, "1");
  EXPECT_EQ(store_->get("/x/a", 3)->value, "2");
  EXPECT_EQ(store_->get("/x/b", 1).error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->get("/x/b", 3)->value, "b");
  EXPECT_EQ(store_->get("/x/b", 4).error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->get("/x/b", 5)->createRevision, 5);

  auto at2 = store_->list({.prefix = "/x/", .revision = 2});
  ASSERT_TRUE(at2.ok());
  ASSERT_EQ(at2->items.size(), 2u);
  EXPECT_EQ(at2->items[0].value, "1");
  EXPECT_EQ(at2->revision, 2);
  auto at4 = store_->list({.prefix = "/x/", .revision = 4});
  ASSERT_TRUE(at4.ok());
  ASSERT_EQ(at4->items.size(), 1u);
  EXPECT_EQ(at4->items[0].value, "2");
  EXPECT_EQ(at4->items[0].modRevision, 3);

  auto future = store_->get("/x/a", 6);
  ASSERT_FALSE(future.ok());
  EXPECT_EQ(future.error().code(), ErrorCode::kTimeout);
  auto futureList = store_->list({.prefix = "/x/", .revision = 99});
  ASSERT_FALSE(futureList.ok());
  EXPECT_EQ(futureList.error().code(), ErrorCode::kTimeout);
}

TEST_F(SqliteStoreTest, WatchDeliversBeforeWritesReturn) {
  EventLog log;
  auto watch = store_->watch("/w/", *store_->currentRevision(), log.callback());
  ASSERT_TRUE(watch.ok()) << watch.error().message();

  auto c = mustCreate("/w/a", "1");
  // No waiting: the event is delivered before create() returns.
  ASSERT_EQ(log.size(), 1u);
  auto u = store_->update("/w/a", "2", c.modRevision);
  ASSERT_TRUE(u.ok());
  ASSERT_EQ(log.size(), 2u);
  auto d = store_->remove("/w/a");
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(log.size(), 3u);

  auto events = log.events();
  EXPECT_EQ(events[0].type, EventType::kCreate);
  EXPECT_EQ(events[0].kv.value, "1");
  EXPECT_EQ(events[0].kv.modRevision, 1);
  EXPECT_EQ(events[0].prevKv.key, "");
  EXPECT_EQ(events[1].type, EventType::kUpdate);
  EXPECT_EQ(events[1].kv.value, "2");
  EXPECT_EQ(events[1].kv.createRevision, 1);
  EXPECT_EQ(events[1].prevKv.value, "1");
  EXPECT_EQ(events[1].prevKv.modRevision, 1);
  EXPECT_EQ(events[2].type, EventType::kDelete);
  EXPECT_EQ(events[2].kv.value, "2");
  EXPECT_EQ(events[2].kv.modRevision, 3);
  EXPECT_EQ(events[2].prevKv.modRevision, 2);
}

TEST_F(SqliteStoreTest, WatchFiltersByPrefix) {
  EventLog pods, all;
  auto w1 = store_->watch("/registry/pods/", 0, pods.callback());
  auto w2 = store_->watch("", 0, all.callback());
  ASSERT_TRUE(w1.ok() && w2.ok());
  mustCreate("/registry/pods/a", "");
  mustCreate("/registry/services/a", "");
  mustCreate("/registry/pods/b", "");
  mustCreate("/registry/podsx", "");
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(pods.revisions(), (std::vector<int64_t>{1, 3}));
}

TEST_F(SqliteStoreTest, WatchFromThePastReplaysThenContinues) {
  for (int i = 0; i < 40; ++i) {
    auto c = mustCreate("/h/" + std::to_string(i % 7) + "/" + std::to_string(i), "v");
    if (i % 5 == 0) {
      ASSERT_TRUE(store_->update(c.key, "w", c.modRevision).ok());
    }
  }
  int64_t current = *store_->currentRevision();
  ASSERT_EQ(current, 48);

  EventLog log;
  auto watch = store_->watch("/h/", 10, log.callback());
  ASSERT_TRUE(watch.ok());
  ASSERT_TRUE(log.waitFor(static_cast<size_t>(current - 10)));
  for (int i = 0; i < 10; ++i) mustCreate("/h/live/" + std::to_string(i), "v");
  ASSERT_TRUE(log.waitFor(static_cast<size_t>(current - 10 + 10)));
  EXPECT_EQ(log.revisions(), range(11, current + 10));
  auto events = log.events();
  // History events carry their previous states like live ones.
  for (const Event& e : events) {
    if (e.type == EventType::kUpdate) {
      EXPECT_EQ(e.prevKv.value, "v");
      EXPECT_EQ(e.prevKv.modRevision, e.kv.modRevision - 1);
    }
  }
}

// Watches start from the past while writers keep going: each watch sees every revision after
// its start exactly once, in order.
TEST_F(SqliteStoreTest, WatchFromThePastUnderConcurrentWritesHasNoGapsOrDuplicates) {
  for (int i = 0; i < 100; ++i) mustCreate("/g/pre/" + std::to_string(i), "v");
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 400; ++i) {
        (void)store_->create("/g/w" + std::to_string(t) + "/" + std::to_string(i), "v");
      }
    });
  }
  std::vector<std::unique_ptr<EventLog>> logs;
  std::vector<std::unique_ptr<WatchHandle>> handles;
  std::vector<int64_t> starts;
  for (int i = 0; i < 8; ++i) {
    int64_t now = *store_->currentRevision();
    int64_t from = std::clamp<int64_t>(now - 50 + i * 10, 0, now);
    logs.push_back(std::make_unique<EventLog>());
    auto w = store_->watch("/g/", from, logs.back()->callback());
    ASSERT_TRUE(w.ok()) << w.error().message();
    handles.push_back(std::move(*w));
    starts.push_back(from);
    std::this_thread::sleep_for(5ms);
  }
  for (auto& t : writers) t.join();
  int64_t final = *store_->currentRevision();
  for (size_t i = 0; i < logs.size(); ++i) {
    ASSERT_TRUE(logs[i]->waitFor(static_cast<size_t>(final - starts[i])))
        << "watch " << i << " got " << logs[i]->size();
    EXPECT_EQ(logs[i]->revisions(), range(starts[i] + 1, final)) << "watch " << i;
  }
}

// Compaction while a watch is still replaying history stops short of what it has yet to read.
TEST_F(SqliteStoreTest, CompactionDoesNotCutAWatchCatchingUp) {
  // Updates, so that an unclamped compaction would remove nearly all of the history.
  std::vector<std::thread> writers;
  for (int t = 0; t < 16; ++t) {
    writers.emplace_back([&, t] {
      std::string key = "/cu/" + std::to_string(t);
      int64_t rev = mustCreate(key, "0").modRevision;
      for (int i = 1; i < 80; ++i) {
        auto u = store_->update(key, std::to_string(i), rev);
        ASSERT_TRUE(u.ok());
        rev = u->modRevision;
      }
    });
  }
  for (auto& t : writers) t.join();
  int64_t current = *store_->currentRevision();
  ASSERT_EQ(current, 1280);

  EventLog log;
  std::atomic<bool> firstCall{true}, inFirstCall{false};
  auto callback = log.callback();
  auto w = store_->watch("/cu/", 0, [&](std::span<const Event> events) {
    if (firstCall.exchange(false)) {
      inFirstCall = true;
      std::this_thread::sleep_for(300ms);
    }
    callback(events);
  });
  ASSERT_TRUE(w.ok());
  while (!inFirstCall.load()) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(store_->compact(current).ok());
  EXPECT_LT(store_->compactedRevision(), current);
  ASSERT_TRUE(log.waitFor(static_cast<size_t>(current)));
  EXPECT_EQ(log.revisions(), range(1, current));
  // Once the watch has caught up, compaction proceeds.
  ASSERT_TRUE(store_->compact(current).ok());
  EXPECT_EQ(store_->compactedRevision(), current);
}

TEST_F(SqliteStoreTest, CancelledWatchIsNeverCalledAgain) {
  EventLog log;
  auto watch = store_->watch("/c/", 0, log.callback());
  ASSERT_TRUE(watch.ok());
  mustCreate("/c/1", "");
  ASSERT_EQ(log.size(), 1u);
  watch->reset();
  mustCreate("/c/2", "");
  EXPECT_EQ(log.size(), 1u);

  // Cancelling from inside the callback itself does not deadlock.
  std::unique_ptr<WatchHandle> self;
  std::atomic<int> calls{0};
  auto w = store_->watch("/c/", *store_->currentRevision(), [&](std::span<const Event>) {
    ++calls;
    self.reset();
  });
  ASSERT_TRUE(w.ok());
  self = std::move(*w);
  mustCreate("/c/3", "");
  mustCreate("/c/4", "");
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(self, nullptr);
}

TEST_F(SqliteStoreTest, CancelWaitsForARunningCallback) {
  std::atomic<bool> inCallback{false}, finished{false};
  auto w = store_->watch("/slow/", 0, [&](std::span<const Event>) {
    inCallback = true;
    std::this_thread::sleep_for(200ms);
    finished = true;
  });
  ASSERT_TRUE(w.ok());
  std::thread writer([&] { mustCreate("/slow/1", ""); });
  while (!inCallback.load()) std::this_thread::sleep_for(1ms);
  w->reset();
  EXPECT_TRUE(finished.load());
  writer.join();
}

TEST_F(SqliteStoreTest, CallbacksMayReadTheStore) {
  std::vector<std::string> seen;
  auto w = store_->watch("/r/", 0, [&](std::span<const Event> events) {
    for (const Event& e : events) {
      auto got = store_->get(e.kv.key);
      auto listed = store_->list({.prefix = "/r/"});
      seen.push_back(got.ok() ? got->value : "gone");
      EXPECT_TRUE(listed.ok());
      EXPECT_GE(*store_->currentRevision(), e.kv.modRevision);
    }
  });
  ASSERT_TRUE(w.ok());
  mustCreate("/r/1", "a");
  ASSERT_TRUE(store_->remove("/r/1").ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "gone"}));
}

TEST_F(SqliteStoreTest, ConcurrentWritersGetDistinctRevisions) {
  constexpr int kThreads = 16, kWrites = 200;
  std::vector<std::vector<KeyValue>> written(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        auto r = store_->create("/cw/" + std::to_string(t) + "/" + std::to_string(i),
                                std::to_string(t * 1000 + i));
        if (r.ok()) written[t].push_back(*r);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<int64_t> revisions;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(written[t].size(), static_cast<size_t>(kWrites));
    int64_t last = 0;
    for (const KeyValue& kv : written[t]) {
      EXPECT_GT(kv.modRevision, last);  // one thread's writes are ordered
      last = kv.modRevision;
      revisions.insert(kv.modRevision);
      auto got = store_->get(kv.key);
      ASSERT_TRUE(got.ok());
      EXPECT_EQ(got->value, kv.value);
      EXPECT_EQ(got->modRevision, kv.modRevision);
    }
  }
  EXPECT_EQ(revisions.size(), static_cast<size_t>(kThreads * kWrites));
  EXPECT_EQ(*revisions.begin(), 1);
  EXPECT_EQ(*revisions.rbegin(), kThreads * kWrites);
  EXPECT_EQ(*store_->count("/cw/"), kThreads * kWrites);
}

// Racing writes to one key land in the same batches: each check sees the writes before it, and
// the losers' failures do not fail the winners.
TEST_F(SqliteStoreTest, RacingWritesToOneKeyAreSerialised) {
  constexpr int kThreads = 16;
  for (int round = 0; round < 10; ++round) {
    std::string key = "/race/" + std::to_string(round);
    std::atomic<int> created{0}, exists{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        auto r = store_->create(key, "v");
        if (r.ok()) ++created;
        if (!r.ok() && r.error().is(ErrorCode::kAlreadyExists)) ++exists;
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(created.load(), 1);
    EXPECT_EQ(exists.load(), kThreads - 1);

    int64_t rev = store_->get(key)->modRevision;
    std::atomic<int> updated{0}, conflicts{0};
    threads.clear();
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        auto r = store_->update(key, std::to_string(t), rev);
        if (r.ok()) ++updated;
        if (!r.ok() && r.error().is(ErrorCode::kConflict)) ++conflicts;
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(updated.load(), 1);
    EXPECT_EQ(conflicts.load(), kThreads - 1);
  }
}

TEST_F(SqliteStoreTest, TtlDeletesKeyWithAnEvent) {
  EventLog log;
  auto w = store_->watch("/ttl/", 0, log.callback());
  ASSERT_TRUE(w.ok());
  auto start = std::chrono::steady_clock::now();
  auto c = mustCreate("/ttl/a", "v", 1);
  mustCreate("/ttl/keep", "v");
  ASSERT_TRUE(log.waitFor(3, 10s));
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, 900ms);
  auto events = log.events();
  EXPECT_EQ(events[2].type, EventType::kDelete);
  EXPECT_EQ(events[2].kv.key, "/ttl/a");
  EXPECT_EQ(events[2].kv.value, "v");
  EXPECT_EQ(events[2].prevKv.modRevision, c.modRevision);
  EXPECT_EQ(store_->get("/ttl/a").error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(store_->get("/ttl/keep").ok());
}

TEST_F(SqliteStoreTest, TtlRestartsOnUpdateAndIsDroppedWithoutOne) {
  auto a = mustCreate("/ttl/a", "v", 1);
  auto b = mustCreate("/ttl/b", "v", 1);
  std::this_thread::sleep_for(600ms);
  auto a2 = store_->update("/ttl/a", "w", a.modRevision, 2);  // expires 2s from now
  auto b2 = store_->update("/ttl/b", "w", b.modRevision);     // no longer expires
  ASSERT_TRUE(a2.ok() && b2.ok());
  std::this_thread::sleep_for(1200ms);  // past the original deadlines
  EXPECT_TRUE(store_->get("/ttl/a").ok());
  EXPECT_TRUE(store_->get("/ttl/b").ok());
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (store_->get("/ttl/a").ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(store_->get("/ttl/a").error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(store_->get("/ttl/b").ok());
}

TEST_F(SqliteStoreTest, TtlSurvivesReopen) {
  mustCreate("/ttl/a", "v", 1);
  reopen();
  ASSERT_TRUE(store_->get("/ttl/a").ok());
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (store_->get("/ttl/a").ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(store_->get("/ttl/a").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(*store_->currentRevision(), 2);
}

TEST_F(SqliteStoreTest, CompactionExpiresOldRevisionsAndKeepsLatestStates) {
  std::string big(4000, 'x');
  auto keep = mustCreate("/cmp/keep", "k");               // 1
  auto gone = mustCreate("/cmp/gone", "g");               // 2
  int64_t rev = mustCreate("/cmp/hot", big).modRevision;  // 3
  for (int i = 0; i < 300; ++i) {                         // 4..303
    auto u = store_->update("/cmp/hot", big + std::to_string(i), rev);
    ASSERT_TRUE(u.ok());
    rev = u->modRevision;
  }
  ASSERT_TRUE(store_->remove("/cmp/gone").ok());  // 304
  int64_t current = *store_->currentRevision();
  ASSERT_EQ(current, 304);
  ASSERT_EQ(logRows(options_.path), 304);
  EXPECT_GT(fileSize(options_.path + "-wal"), 0);

  ASSERT_TRUE(store_->compact(current - 1).ok());
  EXPECT_EQ(store_->compactedRevision(), current - 1);
  // Left: keep@1, gone@2 (still live at 303), hot@303 and gone's tombstone@304.
  EXPECT_EQ(logRows(options_.path), 4);
  EXPECT_EQ(fileSize(options_.path + "-wal"), 0);

  EXPECT_EQ(store_->get("/cmp/keep", 5).error().code(), ErrorCode::kExpired);
  EXPECT_EQ(store_->get("/cmp/hot", current - 1).error().code(), ErrorCode::kExpired);
  EXPECT_EQ(store_->list({.prefix = "/cmp/", .revision = 2}).error().code(), ErrorCode::kExpired);
  EXPECT_EQ(store_->get("/cmp/keep")->modRevision, keep.modRevision);
  EXPECT_EQ(store_->get("/cmp/hot")->value, big + "299");
  EXPECT_EQ(store_->get("/cmp/gone").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->get("/cmp/gone", current - 1).error().code(), ErrorCode::kExpired);
  EXPECT_EQ(store_->get("/cmp/gone", current).error().code(), ErrorCode::kNotFound);
  auto listed = store_->list({.prefix = "/cmp/", .revision = current});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->items.size(), 2u);

  EventLog log;
  auto expired = store_->watch("/cmp/", current - 2, log.callback());
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code(), ErrorCode::kExpired);
  auto fromCompacted = store_->watch("/cmp/", current - 1, log.callback());
  ASSERT_TRUE(fromCompacted.ok());
  ASSERT_TRUE(log.waitFor(1));
  EXPECT_EQ(log.events()[0].type, EventType::kDelete);
  EXPECT_EQ(log.events()[0].kv.key, "/cmp/gone");

  // A second compaction removes what the first had to keep.
  auto u = store_->update("/cmp/keep", "k2", keep.modRevision);  // 305
  ASSERT_TRUE(u.ok());
  ASSERT_TRUE(store_->compact(u->modRevision).ok());
  EXPECT_EQ(logRows(options_.path), 2);  // keep@305, hot@303
  EXPECT_EQ(store_->get("/cmp/keep")->value, "k2");
  EXPECT_EQ(store_->compact(current + 100).error().code(), ErrorCode::kInvalid);
}

TEST_F(SqliteStoreTest, BackgroundCompactorKeepsTheRetainedWindow) {
  options_.compactIntervalSeconds = 1;
  options_.retainRevisions = 5;
  reopen();
  for (int i = 0; i < 30; ++i) mustCreate("/bg/" + std::to_string(i), "v");
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (store_->compactedRevision() < 25 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(store_->compactedRevision(), 25);
  EXPECT_TRUE(store_->get("/bg/0").ok());
  EXPECT_EQ(store_->get("/bg/29", 25).error().code(), ErrorCode::kExpired);
  EXPECT_TRUE(store_->get("/bg/29", 30).ok());
}

TEST_F(SqliteStoreTest, ReopenKeepsEverything) {
  auto a = mustCreate("/re/a", "1");
  ASSERT_TRUE(store_->update("/re/a", "2", a.modRevision).ok());
  mustCreate("/re/b", "b");
  ASSERT_TRUE(store_->remove("/re/b").ok());
  mustCreate("/re/c", "c");
  ASSERT_TRUE(store_->compact(2).ok());
  reopen();
  EXPECT_EQ(*store_->currentRevision(), 5);
  EXPECT_EQ(store_->compactedRevision(), 2);
  EXPECT_EQ(store_->get("/re/a")->value, "2");
  EXPECT_EQ(store_->get("/re/a", 3)->value, "2");
  EXPECT_EQ(store_->get("/re/b", 3)->value, "b");
  EXPECT_EQ(store_->get("/re/b").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->get("/re/a", 1).error().code(), ErrorCode::kExpired);
  EXPECT_EQ(mustCreate("/re/d", "d").modRevision, 6);

  // Revisions are never reused, even when compaction removed the highest row.
  ASSERT_TRUE(store_->remove("/re/d").ok());  // 7
  ASSERT_TRUE(store_->compact(7).ok());
  reopen();
  EXPECT_EQ(*store_->currentRevision(), 7);
  EXPECT_EQ(mustCreate("/re/e", "e").modRevision, 8);
}

// A compaction recorded but not finished (the process died between chunks) is finished by the
// next open.
TEST_F(SqliteStoreTest, InterruptedCompactionIsResumedOnOpen) {
  auto a = mustCreate("/ic/a", "1");                     // 1
  auto u = store_->update("/ic/a", "2", a.modRevision);  // 2
  ASSERT_TRUE(u.ok());
  ASSERT_TRUE(store_->update("/ic/a", "3", u->modRevision).ok());  // 3
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(options_.path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE meta SET value = 2 WHERE name = 'compacted'", nullptr, nullptr,
                         nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  ASSERT_EQ(logRows(options_.path), 3);
  reopen();
  EXPECT_EQ(store_->compactedRevision(), 2);
  EXPECT_EQ(store_->get("/ic/a", 2).error().code(), ErrorCode::kExpired);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (logRows(options_.path) != 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(logRows(options_.path), 2);  // a@1 is gone, a@2 (latest at 2) and a@3 stay
  EXPECT_EQ(store_->get("/ic/a", 3)->value, "3");
}

TEST_F(SqliteStoreTest, WatchHandleMayOutliveTheStore) {
  EventLog log;
  auto w = store_->watch("/o/", 0, log.callback());
  ASSERT_TRUE(w.ok());
  mustCreate("/o/a", "");
  store_.reset();
  w->reset();
  EXPECT_EQ(log.size(), 1u);
}

TEST_F(SqliteStoreTest, BatchesOfOneStillWork) {
  options_.maxBatch = 1;
  reopen();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i)
        mustCreate("/b1/" + std::to_string(t) + "/" + std::to_string(i), "");
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(*store_->count("/b1/"), 80);
  EXPECT_EQ(*store_->currentRevision(), 80);
}

TEST_F(SqliteStoreTest, RefusesFilesThatAreNotNaveStores) {
  store_.reset();
  std::string other = dir_.path() + "/other.db";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(other.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t (x)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto r = openSqliteStore({.path = other});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("not a nave store"), std::string::npos);

  std::string garbage = dir_.path() + "/garbage.db";
  std::ofstream(garbage) << std::string(8192, 'g');
  auto g = openSqliteStore({.path = garbage});
  ASSERT_FALSE(g.ok());

  auto missingDir = openSqliteStore({.path = dir_.path() + "/no/such/dir/state.db"});
  ASSERT_FALSE(missingDir.ok());
}

// A child process writes from several threads and reports each acknowledged write through a
// pipe; it is killed with SIGKILL mid-stream. Every acknowledged write must be there after a
// plain reopen.
TEST_F(SqliteStoreTest, AcknowledgedWritesSurviveKill9) {
  store_.reset();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    auto opened = openSqliteStore(options_);
    if (!opened.ok()) _exit(2);
    auto& store = *opened;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0;; ++i) {
          std::string key = "/crash/" + std::to_string(t) + "/" + std::to_string(i);
          auto r = store->create(key, std::string(100 + i % 300, 'v'));
          if (!r.ok()) _exit(3);
          std::string line = key + " " + std::to_string(r->modRevision) + "\n";
          if (write(fds[1], line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
            _exit(4);
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    _exit(0);
  }
  close(fds[1]);
  std::string acked;
  char buf[4096];
  size_t lines = 0;
  while (lines < 400) {
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    acked.append(buf, static_cast<size_t>(n));
    lines = static_cast<size_t>(std::count(acked.begin(), acked.end(), '\n'));
  }
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  // Lines written before the kill count as acknowledged too.
  while (true) {
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    acked.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  ASSERT_GE(lines, 400u);

  reopen();
  std::istringstream in(acked);
  std::string key;
  int64_t revision = 0;
  size_t checked = 0;
  int64_t maxRevision = 0;
  while (in >> key >> revision) {
    auto got = store_->get(key);
    ASSERT_TRUE(got.ok()) << key << " (revision " << revision << ") lost";
    EXPECT_EQ(got->modRevision, revision);
    maxRevision = std::max(maxRevision, revision);
    ++checked;
  }
  EXPECT_GE(checked, 400u);
  EXPECT_GE(*store_->currentRevision(), maxRevision);
  // The reopened store keeps working.
  EXPECT_TRUE(store_->create("/crash/after", "v").ok());
}

}  // namespace
}  // namespace nave::storage

namespace nave::storage {
namespace {

// Checkpoints run on their own connection (the writer never runs one inside a commit); the WAL
// must still be copied back and reused rather than grow with every write.
TEST(SqliteStoreWal, StaysBoundedUnderSustainedWrites) {
  char tmpl[] = "/tmp/nave-wal-test-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  {
    SqliteOptions o;
    o.path = dir + "/state.db";
    o.compactIntervalSeconds = 0;
    auto store = std::move(*openSqliteStore(o));
    std::string value(4000, 'v');
    std::vector<std::thread> writers;
    for (int t = 0; t < 8; ++t)
      writers.emplace_back([&, t] {
        for (int i = 0; i < 400; ++i)
          ASSERT_TRUE(store->create("/k/" + std::to_string(t) + "/" + std::to_string(i), value).ok());
      });
    for (auto& w : writers) w.join();
    struct stat st{};
    ASSERT_EQ(::stat((o.path + "-wal").c_str(), &st), 0);
    // 3,200 writes of 4 KB would leave a WAL of well over 20 MB without checkpoints; with them
    // it stays near the 1,000-page trigger (4 MB) plus what arrives while one runs.
    EXPECT_LT(st.st_size, 16 * 1024 * 1024) << "WAL size " << st.st_size;
  }
  std::string cmd = "rm -rf '" + dir + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
}

}  // namespace
}  // namespace nave::storage
