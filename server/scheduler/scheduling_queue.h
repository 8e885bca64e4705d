// SchedulingQueue: the pods waiting to be scheduled (kube-scheduler's PriorityQueue). Three
// parts: the active queue, ordered by priority then creation time; the backoff set, pods that
// failed recently and wait out their backoff (1 s doubling to 10 s) before going back; and
// the unschedulable set, pods no node fits, which wait for a cluster change (a node added or
// changed, a pod deleted) or 5 minutes. Nothing wakes up while nothing is due.
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>

namespace nave::scheduler {

class SchedulingQueue {
 public:
  using Clock = std::chrono::steady_clock;

  struct Entry {
    std::string key;
    int32_t priority = 0;
    std::string creationTimestamp;
    int attempts = 0;  // failed scheduling attempts so far
    Clock::time_point lastFailure;
    uint64_t poppedAtMove = 0;  // the move counter when the pod was popped
  };

  SchedulingQueue(std::chrono::milliseconds initialBackoff = std::chrono::seconds(1),
                  std::chrono::milliseconds maxBackoff = std::chrono::seconds(10),
                  std::chrono::milliseconds unschedulableTimeout = std::chrono::minutes(5))
      : initialBackoff_(initialBackoff),
        maxBackoff_(maxBackoff),
        unschedulableTimeout_(unschedulableTimeout) {}

  // A new pending pod, or one whose spec changed: to the active queue (or, if it failed
  // recently, to backoff). `changed` false (e.g. only its status changed) leaves a pod that
  // waits where it waits.
  void add(const std::string& key, int32_t priority, const std::string& creationTimestamp,
           bool changed = true);
  void remove(const std::string& key);
  bool contains(const std::string& key) const;
  // Blocks for the next pod; nullopt once shut down. The pod is in flight until done(),
  // addUnschedulable() or addBackoff(); updates that do not change it are ignored meanwhile
  // (the scheduler's own status updates).
  std::optional<Entry> pop();
  void done(const std::string& key);
  // The pod popped as `e` fits no node: to the unschedulable set, or straight to backoff if
  // the cluster changed while it was being scheduled.
  void addUnschedulable(Entry e);
  // The pod popped as `e` failed for another reason (a bind error): to backoff.
  void addBackoff(Entry e);
  // A cluster change: every unschedulable pod gets another chance (after its backoff).
  void moveAllToActive();
  void shutdown();

  size_t activeSize() const;
  size_t unschedulableSize() const;

 private:
  using Order =
      std::tuple<int64_t, std::string, uint64_t, std::string>;  // -priority, creation, seq, key
  void pushActiveLocked(Entry e);
  void eraseLocked(const std::string& key);
  void promoteDueLocked(Clock::time_point now);
  std::chrono::milliseconds backoffOf(const Entry& e) const;

  const std::chrono::milliseconds initialBackoff_, maxBackoff_, unschedulableTimeout_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  // All guarded by mu_.
  std::set<Order> active_;
  std::map<std::string, Order> activeKeys_;
  std::map<std::string, Entry> entries_;  // every queued pod (active, backoff or unschedulable)
  std::multimap<Clock::time_point, std::string> backoff_;   // due time -> key
  std::map<std::string, Clock::time_point> unschedulable_;  // key -> since
  std::set<std::string> inFlight_;                          // popped, not yet back or done
  uint64_t seq_ = 0;
  uint64_t moves_ = 0;
  bool shutdown_ = false;
};

}  // namespace nave::scheduler
