#include "storage/sqlite/watch_hub.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "common/log.h"

namespace nave::storage::sqlite {
namespace {

// Events read from the log per catch-up step; watchers take turns between steps.
constexpr int64_t kCatchUpChunk = 512;

}  // namespace

struct WatchHub::Watcher {
  Watcher(std::string_view p, int64_t from, WatchCallback cb)
      : prefix(p), callback(std::move(cb)), nextRevision(from + 1) {}

  bool matches(const Event& e) const {
    return e.kv.modRevision >= nextRevision.load(std::memory_order_relaxed) &&
           std::string_view(e.kv.key).starts_with(prefix);
  }

  // Calls the callback with the events it has not seen yet; mutex held.
  void deliverLocked(std::span<const Event> events) {
    std::vector<Event> picked;
    bool all = true;
    for (const Event& e : events) {
      if (!matches(e)) {
        all = false;
        break;
      }
    }
    std::span<const Event> out = events;
    if (!all) {
      for (const Event& e : events) {
        if (matches(e)) picked.push_back(e);
      }
      out = picked;
    }
    if (out.empty()) return;
    nextRevision.store(out.back().kv.modRevision + 1, std::memory_order_relaxed);
    tlDelivering = this;
    callback(out);
    tlDelivering = nullptr;
  }

  const std::string prefix;
  const WatchCallback callback;

  std::mutex mutex;  // guards the fields below and serialises callback calls
  // Only events at or above this revision are delivered. Atomic so the hub can read the
  // catch-up positions without taking watcher mutexes.
  std::atomic<int64_t> nextRevision;
  std::atomic<bool> synced{false};
  std::atomic<bool> cancelled{false};
  std::vector<Event> buffered;  // live events received while unsynced

  // The watcher whose callback this thread is running, so that a callback cancelling its own
  // watch does not wait for itself.
  static thread_local Watcher* tlDelivering;
};

thread_local WatchHub::Watcher* WatchHub::Watcher::tlDelivering = nullptr;

class WatchHub::Handle : public WatchHandle {
 public:
  Handle(std::shared_ptr<WatchHub> hub, std::shared_ptr<Watcher> watcher)
      : hub_(std::move(hub)), watcher_(std::move(watcher)) {}
  ~Handle() override { hub_->cancel(watcher_); }

 private:
  std::shared_ptr<WatchHub> hub_;
  std::shared_ptr<Watcher> watcher_;
};

WatchHub::WatchHub(HistoryReader reader, int64_t committedRevision, int64_t compactedRevision)
    : reader_(std::move(reader)), compacted_(compactedRevision), committed_(committedRevision) {}

WatchHub::~WatchHub() {
  stop();
}

void WatchHub::start() {
  catchUpThread_ = std::thread([this] { catchUpLoop(); });
}

void WatchHub::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  catchUpWake_.notify_all();
  if (catchUpThread_.joinable()) catchUpThread_.join();
  // Live delivery comes from the writer, which has stopped before this; a late deliver() would
  // find stopping_ set.
}

Result<std::unique_ptr<WatchHandle>> WatchHub::watch(std::string_view prefix, int64_t fromRevision,
                                                     WatchCallback callback) {
  if (fromRevision < 0) {
    return Error(ErrorCode::kInvalid, "watch revision must not be negative");
  }
  auto watcher = std::make_shared<Watcher>(prefix, fromRevision, std::move(callback));
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return Error(ErrorCode::kUnavailable, "store is closing");
    int64_t compacted = compacted_.load(std::memory_order_acquire);
    if (fromRevision < compacted) {
      return Error(ErrorCode::kExpired, "watch from revision " + std::to_string(fromRevision) +
                                            ": history is compacted up to revision " +
                                            std::to_string(compacted));
    }
    // Starting at or after the last delivered batch needs no history: the next deliver() sees
    // this watcher.
    if (fromRevision >= committed_) {
      watcher->synced.store(true);
    } else {
      catchUp_.push_back(watcher);
    }
    watchers_.push_back(watcher);
  }
  if (!watcher->synced.load()) catchUpWake_.notify_one();
  return std::unique_ptr<WatchHandle>(new Handle(shared_from_this(), std::move(watcher)));
}

void WatchHub::cancel(const std::shared_ptr<Watcher>& watcher) {
  {
    std::lock_guard lock(mutex_);
    std::erase(watchers_, watcher);
    std::erase(catchUp_, watcher);
  }
  if (Watcher::tlDelivering == watcher.get()) {
    watcher->cancelled.store(true);
    return;
  }
  // Waits for a running callback to return.
  std::lock_guard lock(watcher->mutex);
  watcher->cancelled.store(true);
  watcher->buffered.clear();
}

void WatchHub::deliver(std::span<const Event> events, int64_t batchRevision) {
  std::vector<std::shared_ptr<Watcher>> watchers;
  {
    std::lock_guard lock(mutex_);
    committed_ = std::max(committed_, batchRevision);
    if (stopping_) return;
    watchers = watchers_;
  }
  if (events.empty()) return;
  for (const auto& w : watchers) {
    std::lock_guard lock(w->mutex);
    if (w->cancelled.load()) continue;
    if (w->synced.load()) {
      w->deliverLocked(events);
      continue;
    }
    for (const Event& e : events) {
      if (std::string_view(e.kv.key).starts_with(w->prefix)) w->buffered.push_back(e);
    }
  }
}

int64_t WatchHub::beginCompaction(int64_t target) {
  std::lock_guard lock(mutex_);
  int64_t limit = target;
  for (const auto& w : catchUp_) {
    limit = std::min(limit, w->nextRevision.load() - 1);
  }
  int64_t current = compacted_.load();
  int64_t next = std::max(current, limit);
  compacted_.store(next, std::memory_order_release);
  return next;
}

void WatchHub::abortCompaction(int64_t previous) {
  std::lock_guard lock(mutex_);
  compacted_.store(previous, std::memory_order_release);
}

void WatchHub::catchUpLoop() {
  std::unique_lock lock(mutex_);
  while (true) {
    catchUpWake_.wait(lock, [this] { return stopping_ || !catchUp_.empty(); });
    if (stopping_) return;
    // Round robin: the watcher goes to the back rather than out, because beginCompaction
    // must keep seeing its position until it is synced.
    std::shared_ptr<Watcher> watcher = catchUp_.front();
    catchUp_.pop_front();
    catchUp_.push_back(watcher);
    lock.unlock();
    bool done = catchUpStep(*watcher);
    lock.lock();
    if (done) {
      std::erase(catchUp_, watcher);
    }
  }
}

bool WatchHub::catchUpStep(Watcher& watcher) {
  if (watcher.cancelled.load()) return true;
  int64_t after = watcher.nextRevision.load() - 1;
  auto chunk = reader_(watcher.prefix, after, kCatchUpChunk);
  if (!chunk.ok()) {
    log::error("Watch catch-up read failed; retrying",
               {{"prefix", watcher.prefix}, {"error", chunk.error().message()}});
    std::unique_lock lock(mutex_);
    catchUpWake_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stopping_; });
    return false;
  }
  std::lock_guard lock(watcher.mutex);
  if (watcher.cancelled.load()) return true;
  watcher.deliverLocked(chunk->events);
  if (!chunk->complete) return false;
  if (!watcher.cancelled.load()) {
    std::vector<Event> buffered = std::move(watcher.buffered);
    watcher.buffered.clear();
    watcher.deliverLocked(buffered);
  }
  watcher.synced.store(true);
  return true;
}

}  // namespace nave::storage::sqlite
