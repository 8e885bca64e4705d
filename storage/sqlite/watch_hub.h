// WatchHub: the store's registry of watchers. The writer hands it each committed batch of
// events (deliver) before acknowledging the writes; watchers that start in the past are first
// caught up from the log by the hub's own thread.
//
// Gap-free catch-up: a watcher starting below the committed revision is registered "unsynced"
// before its history is read. From then on the writer buffers every batch for it; the catch-up
// thread reads the log in chunks (each chunk a fresh snapshot, taken after registration, so
// every batch committed before registration is in some chunk) and, once a chunk reaches the
// end of its snapshot, delivers the buffer and marks the watcher synced, all under the
// watcher's mutex. Every event is therefore seen at least once, and a per-watcher position
// (nextRevision) drops the duplicates between history and buffer.
//
// Compaction must not remove history an unsynced watcher has yet to read, so the compacted
// revision is set through the hub (beginCompaction), which clamps it below every catch-up
// position, and watch registration checks it under the same lock.
//
// Locks: mutex_ guards watchers_, catchUp_ and the compacted revision's updates; a watcher's
// own mutex guards its delivery state and is held while its callback runs. mutex_ is never
// taken while a watcher mutex is wanted, so a callback may register or cancel watches.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/result.h"
#include "storage/sqlite/log_table.h"
#include "storage/store.h"

namespace nave::storage::sqlite {

class WatchHub : public std::enable_shared_from_this<WatchHub> {
 public:
  // Reads up to `limit` events under a prefix after a revision (log_table's readEvents on a
  // reader connection, in its own snapshot).
  using HistoryReader =
      std::function<Result<EventChunk>(std::string_view prefix, int64_t after, int64_t limit)>;

  WatchHub(HistoryReader reader, int64_t committedRevision, int64_t compactedRevision);
  ~WatchHub();

  // Starts and stops the catch-up thread. After stop() no callback runs again: the store calls
  // it (after its writer has stopped) before it destroys what the history reader uses.
  void start();
  void stop();

  Result<std::unique_ptr<WatchHandle>> watch(std::string_view prefix, int64_t fromRevision,
                                             WatchCallback callback);

  // Called by the writer after a batch commits, with the batch's events in revision order and
  // its highest revision.
  void deliver(std::span<const Event> events, int64_t batchRevision);

  int64_t compactedRevision() const { return compacted_.load(std::memory_order_acquire); }
  // Raises the compacted revision to at most `target`, staying below every position an
  // unsynced watcher still has to read. Returns the revision actually set (never lower than
  // the current one).
  int64_t beginCompaction(int64_t target);
  // Restores the compacted revision after a compaction that did not commit.
  void abortCompaction(int64_t previous);

 private:
  struct Watcher;
  class Handle;

  void cancel(const std::shared_ptr<Watcher>& watcher);
  void catchUpLoop();
  // One catch-up step for `watcher`: returns true when it is synced (or gone).
  bool catchUpStep(Watcher& watcher);

  HistoryReader reader_;
  std::atomic<int64_t> compacted_;

  std::mutex mutex_;
  std::condition_variable catchUpWake_;
  int64_t committed_;  // the highest revision handed to deliver(); guarded by mutex_
  std::vector<std::shared_ptr<Watcher>> watchers_;
  std::deque<std::shared_ptr<Watcher>> catchUp_;
  bool stopping_ = false;
  std::thread catchUpThread_;
};

}  // namespace nave::storage::sqlite
