// SqliteStore: Store on the SQLite revision log (log_table.h).
//
// Threads:
//   writer     owns the write connection; commits queued writes in batches (group commit),
//              delivers each batch's events to watchers, then acknowledges the writers.
//              Compaction also runs here, in chunks between batches.
//   sweeper    deletes keys whose TTL passed, through the writer queue.
//   compactor  every compactIntervalSeconds, compacts to current - retainRevisions.
//   catch-up   (in WatchHub) replays history to watches that start in the past.
// Readers take a connection from the ReaderPool.
#include "storage/sqlite_store.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/log.h"
#include "storage/sqlite/log_table.h"
#include "storage/sqlite/reader_pool.h"
#include "storage/sqlite/sqlite_handle.h"
#include "storage/sqlite/watch_hub.h"

namespace nave::storage {
namespace {

using sqlite::Connection;
using sqlite::LogRow;
using sqlite::LogState;
using sqlite::ReaderPool;
using sqlite::Transaction;
using sqlite::WatchHub;

// Revisions of successor rows compacted per transaction, so that writes are not held up for
// long by a large compaction.
constexpr int64_t kCompactChunk = 2000;
// Expired keys deleted per sweep round.
constexpr int64_t kSweepBatch = 256;
constexpr size_t kMaxIdleReaders = 8;
// The sweeper re-reads the next deadline at least this often (wall-clock jumps).
constexpr auto kMaxSweepSleep = std::chrono::seconds(30);

int64_t nowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Error closingError() {
  return Error(ErrorCode::kUnavailable, "store is closing");
}

// The revision a read at `requested` (0 = current) sees, or why it cannot.
Result<int64_t> resolveRevision(int64_t requested, const LogState& state) {
  if (requested < 0) return Error(ErrorCode::kInvalid, "revision must not be negative");
  if (requested == 0) return state.current;
  if (requested <= state.compacted) {
    return Error(ErrorCode::kExpired, "revision " + std::to_string(requested) +
                                          " is compacted (compacted revision " +
                                          std::to_string(state.compacted) + ")");
  }
  if (requested > state.current) {
    return Error(ErrorCode::kTimeout, "revision " + std::to_string(requested) +
                                          " is newer than the current revision " +
                                          std::to_string(state.current));
  }
  return requested;
}

class SqliteStore final : public Store {
 public:
  static Result<std::unique_ptr<Store>> open(const SqliteOptions& options);
  ~SqliteStore() override;

  Result<int64_t> currentRevision() override { return committed_.load(); }
  int64_t compactedRevision() override { return hub_->compactedRevision(); }

  Result<KeyValue> get(std::string_view key, int64_t revision) override;
  Result<ListResult> list(const ListOptions& options) override;
  Result<int64_t> count(std::string_view prefix) override;

  Result<KeyValue> create(std::string_view key, std::string value, int64_t ttlSeconds) override;
  Result<KeyValue> update(std::string_view key, std::string value, int64_t expectedModRevision,
                          int64_t ttlSeconds) override;
  Result<KeyValue> remove(std::string_view key, int64_t expectedModRevision) override;

  Result<std::unique_ptr<WatchHandle>> watch(std::string_view prefix, int64_t fromRevision,
                                             WatchCallback callback) override {
    return hub_->watch(prefix, fromRevision, std::move(callback));
  }

  Result<void> compact(int64_t revision) override;

 private:
  enum class OpKind { kCreate, kUpdate, kRemove, kExpire };
  struct WriteOp {
    OpKind kind;
    std::string key;
    std::string value;
    int64_t expectedRevision = 0;
    int64_t ttlSeconds = 0;
    std::promise<Result<KeyValue>> done;
  };
  struct CompactJob {
    int64_t target = 0;
    std::optional<std::promise<Result<void>>> done;  // none for a resumed compaction
  };
  // The compaction the writer is working through.
  struct ActiveCompaction {
    CompactJob job;
    int64_t target = 0;    // after clamping by the watch hub
    int64_t previous = 0;  // the compacted revision before it
    bool recorded = false;
  };

  SqliteStore(const SqliteOptions& options, std::unique_ptr<Connection> writer, LogState state);

  std::unique_ptr<WriteOp> makeOp(OpKind kind, std::string_view key, std::string value,
                                  int64_t expected, int64_t ttlSeconds);
  Result<KeyValue> submit(std::unique_ptr<WriteOp> op);

  void writerLoop();
  void runBatch(std::vector<std::unique_ptr<WriteOp>>& batch);
  Result<KeyValue> applyOp(WriteOp& op, int64_t revision, std::vector<Event>& events);
  void startCompaction(CompactJob job);
  void compactionStep();
  void finishCompaction(Result<void> result);

  void sweeperLoop();
  void sweepExpired();
  void compactorLoop();
  // Copies committed WAL frames into the database on its own connection, so the writer never
  // waits for the database file's fsync; woken by the WAL hook once the WAL holds enough pages.
  void checkpointerLoop();
  static int onWalCommit(void* self, sqlite3* db, const char* name, int pages);

  const SqliteOptions options_;
  ReaderPool readers_;
  std::shared_ptr<WatchHub> hub_;
  std::atomic<int64_t> committed_;

  // Writer thread state (no lock: only the writer thread touches it after open).
  std::unique_ptr<Connection> writer_;
  int64_t lastRevision_;
  int64_t swept_;
  std::optional<ActiveCompaction> compaction_;

  std::mutex queueMutex_;  // guards queue_, compactions_, writerStopping_
  std::condition_variable queueWake_;
  std::deque<std::unique_ptr<WriteOp>> queue_;
  std::deque<CompactJob> compactions_;
  bool writerStopping_ = false;

  std::mutex timerMutex_;  // guards timersStopping_, expiryChanged_
  std::condition_variable timerWake_;
  bool timersStopping_ = false;
  bool expiryChanged_ = false;

  std::mutex checkpointMutex_;  // guards checkpointWanted_, checkpointStopping_
  std::condition_variable checkpointWake_;
  bool checkpointWanted_ = false;
  bool checkpointStopping_ = false;
  std::atomic<int> walPages_{0};  // WAL size after the last commit (set by the WAL hook)

  std::thread writerThread_;
  std::thread sweeperThread_;
  std::thread compactorThread_;
  std::thread checkpointerThread_;
};

// WAL pages after which the checkpointer runs (SQLite's own automatic checkpoint default).
constexpr int kCheckpointPages = 1000;

Result<std::unique_ptr<Store>> SqliteStore::open(const SqliteOptions& options) {
  if (options.path.empty()) return Error(ErrorCode::kInvalid, "sqlite store: empty path");
  if (sqlite3_threadsafe() == 0) {
    return Error(ErrorCode::kInternal, "sqlite store: SQLite is built without thread support");
  }
  auto writer = TRY(sqlite::openWriterConnection(options.path));
  LogState state = TRY(sqlite::readLogState(*writer));
  std::unique_ptr<SqliteStore> store(new SqliteStore(options, std::move(writer), state));
  // A reader connection now, so that a file readers cannot open fails here rather than later.
  { TRY(store->readers_.acquire()); }
  if (state.swept < state.compacted) {
    // A compaction was interrupted (crash or close): finish removing its rows. Queued before
    // the writer starts, so it is seen without a wake-up.
    store->compactions_.push_back(CompactJob{state.compacted, std::nullopt});
  }
  store->hub_->start();
  // Checkpoints happen on the checkpointer's connection, not inside the writer's commits.
  TRY(store->writer_->exec("PRAGMA wal_autocheckpoint = 0"));
  sqlite3_wal_hook(store->writer_->raw(), &SqliteStore::onWalCommit, store.get());
  store->checkpointerThread_ = std::thread([s = store.get()] { s->checkpointerLoop(); });
  store->writerThread_ = std::thread([s = store.get()] { s->writerLoop(); });
  store->sweeperThread_ = std::thread([s = store.get()] { s->sweeperLoop(); });
  if (options.compactIntervalSeconds > 0) {
    store->compactorThread_ = std::thread([s = store.get()] { s->compactorLoop(); });
  }
  log::v(1, "Opened SQLite store",
         {{"path", options.path}, {"revision", state.current}, {"compacted", state.compacted}});
  return std::unique_ptr<Store>(std::move(store));
}

SqliteStore::SqliteStore(const SqliteOptions& options, std::unique_ptr<Connection> writer,
                         LogState state)
    : options_(options),
      readers_(options.path, kMaxIdleReaders),
      committed_(state.current),
      writer_(std::move(writer)),
      lastRevision_(state.current),
      swept_(state.swept) {
  hub_ = std::make_shared<WatchHub>(
      [this](std::string_view prefix, int64_t after, int64_t limit) -> Result<sqlite::EventChunk> {
        auto conn = TRY(readers_.acquire());
        return sqlite::readEvents(*conn, prefix, after, limit);
      },
      state.current, state.compacted);
}

SqliteStore::~SqliteStore() {
  // Background writers first (they feed the queue), then the writer drains the queue, then
  // no more events can reach the watch hub's catch-up thread.
  {
    std::lock_guard lock(timerMutex_);
    timersStopping_ = true;
  }
  timerWake_.notify_all();
  if (sweeperThread_.joinable()) sweeperThread_.join();
  if (compactorThread_.joinable()) compactorThread_.join();
  {
    std::lock_guard lock(queueMutex_);
    writerStopping_ = true;
  }
  queueWake_.notify_all();
  if (writerThread_.joinable()) writerThread_.join();
  {
    std::lock_guard lock(checkpointMutex_);
    checkpointStopping_ = true;
  }
  checkpointWake_.notify_all();
  if (checkpointerThread_.joinable()) checkpointerThread_.join();
  hub_->stop();
}

int SqliteStore::onWalCommit(void* self, sqlite3*, const char*, int pages) {
  auto* store = static_cast<SqliteStore*>(self);
  store->walPages_.store(pages, std::memory_order_relaxed);
  if (pages >= kCheckpointPages) {
    {
      std::lock_guard lock(store->checkpointMutex_);
      store->checkpointWanted_ = true;
    }
    store->checkpointWake_.notify_one();
  }
  return SQLITE_OK;
}

void SqliteStore::checkpointerLoop() {
  std::unique_ptr<Connection> conn;
  for (;;) {
    {
      std::unique_lock lock(checkpointMutex_);
      checkpointWake_.wait(lock, [this] { return checkpointWanted_ || checkpointStopping_; });
      if (checkpointStopping_) return;
      checkpointWanted_ = false;
    }
    if (!conn) {
      auto opened = sqlite::openReaderConnection(options_.path);
      if (!opened.ok()) {
        log::warning("checkpointer cannot open the database", {{"error", opened.error().message()}});
        continue;
      }
      conn = std::move(*opened);
    }
    // PASSIVE: copies what it can without blocking the writer or readers; the WAL is reused
    // from its start once a checkpoint has caught up and no reader needs the old frames.
    int logFrames = 0, checkpointed = 0;
    int rc = sqlite3_wal_checkpoint_v2(conn->raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                       &logFrames, &checkpointed);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
      log::warning("WAL checkpoint failed", {{"error", sqlite3_errmsg(conn->raw())}});
  }
}

// Reads.

Result<KeyValue> SqliteStore::get(std::string_view key, int64_t revision) {
  auto conn = TRY(readers_.acquire());
  std::optional<LogRow> row;
  if (revision == 0) {
    row = TRY(sqlite::readLatestRow(*conn, key));
  } else {
    auto txn = TRY(Transaction::begin(*conn));
    LogState state = TRY(sqlite::readLogState(*conn));
    int64_t at = TRY(resolveRevision(revision, state));
    row = TRY(sqlite::readLatestRow(*conn, key, at));
    TRY(txn.commit());
  }
  if (!row || row->deleted) return Error(ErrorCode::kNotFound, "key not found");
  return KeyValue{std::move(row->key), std::move(row->value), row->createRevision, row->revision};
}

Result<ListResult> SqliteStore::list(const ListOptions& options) {
  if (options.limit < 0) return Error(ErrorCode::kInvalid, "list limit must not be negative");
  auto conn = TRY(readers_.acquire());
  auto txn = TRY(Transaction::begin(*conn));
  LogState state = TRY(sqlite::readLogState(*conn));
  int64_t at = TRY(resolveRevision(options.revision, state));
  ListResult result = TRY(sqlite::listKeys(*conn, options, at));
  TRY(txn.commit());
  return result;
}

Result<int64_t> SqliteStore::count(std::string_view prefix) {
  auto conn = TRY(readers_.acquire());
  return sqlite::countKeys(*conn, prefix);
}

// Writes.

std::unique_ptr<SqliteStore::WriteOp> SqliteStore::makeOp(OpKind kind, std::string_view key,
                                                          std::string value, int64_t expected,
                                                          int64_t ttlSeconds) {
  auto op = std::make_unique<WriteOp>();
  op->kind = kind;
  op->key = std::string(key);
  op->value = std::move(value);
  op->expectedRevision = expected;
  op->ttlSeconds = ttlSeconds;
  return op;
}

Result<KeyValue> SqliteStore::create(std::string_view key, std::string value, int64_t ttlSeconds) {
  return submit(makeOp(OpKind::kCreate, key, std::move(value), 0, ttlSeconds));
}

Result<KeyValue> SqliteStore::update(std::string_view key, std::string value,
                                     int64_t expectedModRevision, int64_t ttlSeconds) {
  return submit(makeOp(OpKind::kUpdate, key, std::move(value), expectedModRevision, ttlSeconds));
}

Result<KeyValue> SqliteStore::remove(std::string_view key, int64_t expectedModRevision) {
  return submit(makeOp(OpKind::kRemove, key, {}, expectedModRevision, 0));
}

Result<KeyValue> SqliteStore::submit(std::unique_ptr<WriteOp> op) {
  std::future<Result<KeyValue>> done = op->done.get_future();
  {
    std::lock_guard lock(queueMutex_);
    if (writerStopping_) return closingError();
    queue_.push_back(std::move(op));
  }
  queueWake_.notify_one();
  return done.get();
}

void SqliteStore::writerLoop() {
  std::vector<std::unique_ptr<WriteOp>> batch;
  while (true) {
    bool compact = false;
    {
      std::unique_lock lock(queueMutex_);
      queueWake_.wait(lock, [this] {
        return writerStopping_ || !queue_.empty() || !compactions_.empty() || compaction_;
      });
      size_t n = std::min(queue_.size(), static_cast<size_t>(std::max(options_.maxBatch, 1)));
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (!compaction_ && !compactions_.empty() && !writerStopping_) {
        CompactJob job = std::move(compactions_.front());
        compactions_.pop_front();
        lock.unlock();
        startCompaction(std::move(job));
        lock.lock();
      }
      compact = compaction_.has_value() && !writerStopping_;
      if (batch.empty() && !compact && writerStopping_) break;
    }
    if (!batch.empty()) {
      runBatch(batch);
      batch.clear();
      // Under sustained writes the background checkpoint never catches up with the WAL's end,
      // and SQLite reuses the WAL only after a complete one. Past a bound, finish it here,
      // between batches: the checkpointer has already copied most frames.
      if (walPages_.load(std::memory_order_relaxed) >= kCheckpointPages * 4) {
        int logFrames = 0, checkpointed = 0;
        sqlite3_wal_checkpoint_v2(writer_->raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &logFrames,
                                  &checkpointed);
        walPages_.store(0, std::memory_order_relaxed);
      }
    }
    if (compact) compactionStep();
  }
  // Queued writes are drained above; what is left are compactions nobody will run now. The
  // swept position is durable, so the next open resumes them.
  if (compaction_) finishCompaction(closingError());
  std::lock_guard lock(queueMutex_);
  for (CompactJob& job : compactions_) {
    if (job.done) job.done->set_value(closingError());
  }
  compactions_.clear();
}

void SqliteStore::runBatch(std::vector<std::unique_ptr<WriteOp>>& batch) {
  std::vector<std::optional<Result<KeyValue>>> results(batch.size());
  std::vector<Event> events;
  std::optional<Error> batchError;
  int64_t revision = lastRevision_;
  bool ttlWritten = false;

  auto txn = Transaction::begin(*writer_, "BEGIN IMMEDIATE");
  if (!txn.ok()) {
    batchError = std::move(txn).error();
  } else {
    for (size_t i = 0; i < batch.size(); ++i) {
      auto r = applyOp(*batch[i], revision + 1, events);
      if (r.ok()) {
        ++revision;
        if (batch[i]->ttlSeconds > 0) ttlWritten = true;
      } else if (!writer_->inTransaction()) {
        // SQLite rolled the whole transaction back (I/O error, full disk): the earlier writes
        // of the batch are gone too.
        batchError = r.error();
        break;
      }
      results[i] = std::move(r);
    }
    if (!batchError) {
      auto committed = txn->commit();
      if (!committed.ok()) batchError = std::move(committed).error();
    }
  }

  if (batchError) {
    log::error("SQLite store: write batch failed",
               {{"error", batchError->message()}, {"writes", batch.size()}});
    for (auto& op : batch) op->done.set_value(*batchError);
    return;
  }
  lastRevision_ = revision;
  committed_.store(revision);
  // Watchers see the batch before any of its writers returns (see store.h).
  hub_->deliver(events, revision);
  if (ttlWritten) {
    {
      std::lock_guard lock(timerMutex_);
      expiryChanged_ = true;
    }
    timerWake_.notify_all();
  }
  for (size_t i = 0; i < batch.size(); ++i) batch[i]->done.set_value(std::move(*results[i]));
}

Result<KeyValue> SqliteStore::applyOp(WriteOp& op, int64_t revision, std::vector<Event>& events) {
  std::optional<LogRow> current = TRY(sqlite::readLatestRow(*writer_, op.key));
  bool live = current && !current->deleted;

  LogRow row;
  row.revision = revision;
  row.key = op.key;
  Event event{EventType::kCreate, {}, {}};
  switch (op.kind) {
    case OpKind::kCreate:
      if (live) return Error(ErrorCode::kAlreadyExists, "key already exists");
      row.created = true;
      row.createRevision = revision;
      row.value = std::move(op.value);
      break;
    case OpKind::kUpdate:
      if (!live) return Error(ErrorCode::kNotFound, "key not found");
      if (current->revision != op.expectedRevision) {
        return Error(ErrorCode::kConflict, "key was modified: expected revision " +
                                               std::to_string(op.expectedRevision) + ", found " +
                                               std::to_string(current->revision));
      }
      event.type = EventType::kUpdate;
      row.createRevision = current->createRevision;
      row.value = std::move(op.value);
      break;
    case OpKind::kRemove:
    case OpKind::kExpire:
      if (!live) return Error(ErrorCode::kNotFound, "key not found");
      if ((op.kind == OpKind::kExpire || op.expectedRevision != 0) &&
          current->revision != op.expectedRevision) {
        return Error(ErrorCode::kConflict, "key was modified: expected revision " +
                                               std::to_string(op.expectedRevision) + ", found " +
                                               std::to_string(current->revision));
      }
      event.type = EventType::kDelete;
      row.deleted = true;
      row.createRevision = current->createRevision;
      row.value = current->value;
      break;
  }
  row.prevRevision = current ? current->revision : 0;
  if (op.ttlSeconds > 0 && !row.deleted) row.expiresAtMs = nowUnixMs() + op.ttlSeconds * 1000;

  // Appending may take two statements (insert, clear the superseded row's deadline); a
  // savepoint keeps a failure from leaving half of it in the batch.
  bool twoStatements = current && current->expiresAtMs > 0;
  if (twoStatements) TRY(writer_->exec("SAVEPOINT write_op"));
  auto appended = sqlite::appendRow(*writer_, row, current ? &*current : nullptr);
  if (twoStatements && writer_->inTransaction()) {
    if (!appended.ok()) (void)writer_->exec("ROLLBACK TO write_op");
    (void)writer_->exec("RELEASE write_op");
  }
  if (!appended.ok()) return std::move(appended).error();

  event.kv = KeyValue{row.key, std::move(row.value), row.createRevision, revision};
  if (event.type != EventType::kCreate) {
    event.prevKv =
        KeyValue{row.key, std::move(current->value), current->createRevision, current->revision};
  }
  KeyValue result = event.kv;
  events.push_back(std::move(event));
  return result;
}

// Compaction.

Result<void> SqliteStore::compact(int64_t revision) {
  int64_t current = committed_.load();
  if (revision > current) {
    return Error(ErrorCode::kInvalid, "compact revision " + std::to_string(revision) +
                                          " is newer than the current revision " +
                                          std::to_string(current));
  }
  if (revision <= hub_->compactedRevision()) return okResult();
  std::promise<Result<void>> promise;
  std::future<Result<void>> done = promise.get_future();
  {
    std::lock_guard lock(queueMutex_);
    if (writerStopping_) return closingError();
    compactions_.push_back(CompactJob{revision, std::move(promise)});
  }
  queueWake_.notify_one();
  return done.get();
}

void SqliteStore::startCompaction(CompactJob job) {
  int64_t previous = hub_->compactedRevision();
  int64_t target = hub_->beginCompaction(job.target);
  // A resumed compaction has its target recorded already, but rows from swept_ on remain.
  if (target <= previous && swept_ >= target) {
    if (job.done) job.done->set_value(okResult());
    return;
  }
  compaction_ = ActiveCompaction{std::move(job), target, previous, target <= previous};
  log::v(2, "Compacting SQLite store", {{"target", target}, {"from", swept_}});
}

void SqliteStore::compactionStep() {
  ActiveCompaction& c = *compaction_;
  int64_t to = std::min(swept_ + kCompactChunk, c.target);
  auto step = [&]() -> Result<void> {
    auto txn = TRY(Transaction::begin(*writer_, "BEGIN IMMEDIATE"));
    if (!c.recorded) TRY(sqlite::recordCompacted(*writer_, c.target));
    TRY(sqlite::compactRange(*writer_, swept_, to));
    return txn.commit();
  };
  auto r = step();
  if (!r.ok()) {
    if (!c.recorded) hub_->abortCompaction(c.previous);
    finishCompaction(std::move(r).error().context("compact"));
    return;
  }
  c.recorded = true;
  swept_ = to;
  if (to < c.target) return;
  // Return the freed pages and bound the WAL. Failures only leave the files larger.
  auto shrunk = sqlite::shrinkFiles(*writer_);
  if (!shrunk.ok()) {
    log::warning("SQLite store: shrinking files after compaction failed",
                 {{"error", shrunk.error().message()}});
  }
  finishCompaction(okResult());
}

void SqliteStore::finishCompaction(Result<void> result) {
  if (!result.ok()) {
    log::error("SQLite store: compaction failed", {{"error", result.error().message()}});
  }
  if (compaction_->job.done) compaction_->job.done->set_value(std::move(result));
  compaction_.reset();
}

void SqliteStore::compactorLoop() {
  std::unique_lock lock(timerMutex_);
  while (!timersStopping_) {
    timerWake_.wait_for(lock, std::chrono::seconds(options_.compactIntervalSeconds),
                        [this] { return timersStopping_; });
    if (timersStopping_) break;
    lock.unlock();
    int64_t target = committed_.load() - options_.retainRevisions;
    if (target > hub_->compactedRevision()) {
      auto r = compact(target);
      if (!r.ok()) {
        log::warning("SQLite store: periodic compaction failed", {{"error", r.error().message()}});
      }
    }
    lock.lock();
  }
}

// TTL.

void SqliteStore::sweeperLoop() {
  while (true) {
    {
      std::lock_guard lock(timerMutex_);
      if (timersStopping_) return;
      expiryChanged_ = false;
    }
    sweepExpired();
    std::optional<int64_t> next;
    bool failed = false;
    {
      auto readNext = [this]() -> Result<std::optional<int64_t>> {
        auto conn = TRY(readers_.acquire());
        return sqlite::readNextExpiry(*conn);
      };
      auto r = readNext();
      if (r.ok()) {
        next = *r;
      } else {
        failed = true;
        log::error("SQLite store: reading TTL deadlines failed", {{"error", r.error().message()}});
      }
    }
    auto sleep = std::chrono::duration_cast<std::chrono::milliseconds>(kMaxSweepSleep);
    if (failed) {
      sleep = std::chrono::seconds(1);
    } else if (next) {
      sleep = std::min(sleep, std::chrono::milliseconds(std::max<int64_t>(*next - nowUnixMs(), 0)));
    }
    std::unique_lock lock(timerMutex_);
    timerWake_.wait_for(lock, sleep, [this] { return timersStopping_ || expiryChanged_; });
  }
}

void SqliteStore::sweepExpired() {
  while (true) {
    std::vector<sqlite::ExpiredKey> expired;
    {
      auto conn = readers_.acquire();
      if (!conn.ok()) return;
      auto r = sqlite::readExpiredKeys(**conn, nowUnixMs(), kSweepBatch);
      if (!r.ok()) {
        log::error("SQLite store: reading expired keys failed", {{"error", r.error().message()}});
        return;
      }
      expired = std::move(*r);
    }
    if (expired.empty()) return;
    std::vector<std::future<Result<KeyValue>>> pending;
    {
      std::lock_guard lock(queueMutex_);
      if (writerStopping_) return;
      for (auto& k : expired) {
        auto op = makeOp(OpKind::kExpire, k.key, {}, k.revision, 0);
        pending.push_back(op->done.get_future());
        queue_.push_back(std::move(op));
      }
    }
    queueWake_.notify_one();
    bool progress = false;
    for (auto& f : pending) {
      auto r = f.get();
      // A key written since it was read is no longer expired: its deadline was cleared.
      if (r.ok() || r.error().is(ErrorCode::kConflict) || r.error().is(ErrorCode::kNotFound)) {
        progress = true;
      }
    }
    if (!progress) return;  // the writer is failing; the sweeper loop retries later
  }
}

}  // namespace

Result<std::unique_ptr<Store>> openSqliteStore(const SqliteOptions& options) {
  return SqliteStore::open(options);
}

}  // namespace nave::storage
