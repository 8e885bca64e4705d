// WorkQueue: the rate-limited, de-duplicating queue of object keys that every controller's
// workers take from (client-go's workqueue): a key queued while it is being processed is
// processed again afterwards, never concurrently; failures back off exponentially per key.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

namespace nave::controllers {

class WorkQueue {
 public:
  using Clock = std::chrono::steady_clock;

  WorkQueue(std::chrono::milliseconds baseDelay = std::chrono::milliseconds(5),
            std::chrono::milliseconds maxDelay = std::chrono::seconds(300))
      : baseDelay_(baseDelay), maxDelay_(maxDelay) {}

  void add(const std::string& key);
  void addAfter(const std::string& key, std::chrono::milliseconds delay);
  // Re-queues after this key's next backoff delay (5 ms doubling up to the maximum).
  void addRateLimited(const std::string& key);
  // Resets the key's backoff (after a success).
  void forget(const std::string& key);
  // Blocks for the next key; nullopt once shut down.
  std::optional<std::string> get();
  // Marks a key from get() as processed.
  void done(const std::string& key);
  void shutdown();

 private:
  void promoteDue();  // needs mu_

  std::chrono::milliseconds baseDelay_, maxDelay_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;                   // guarded by mu_
  std::set<std::string> dirty_;                     // queued, guarded by mu_
  std::set<std::string> processing_;                // guarded by mu_
  std::multimap<Clock::time_point, std::string> delayed_;  // guarded by mu_
  std::map<std::string, int> failures_;             // guarded by mu_
  bool shutdown_ = false;                           // guarded by mu_
};

}  // namespace nave::controllers
