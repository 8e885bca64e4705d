// SingleFlight: concurrent calls with the same key share one execution and its result (Go's
// x/sync/singleflight). A call that starts after the shared one finished runs again.
//
// Thread-safety: all methods may be called concurrently (mu_ guards calls_).
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/result.h"

namespace nave::runtime {

template <typename T>
class SingleFlight {
 public:
  // Runs fn, or waits for the call already running under `key` and returns its result.
  // `shared`, when given, tells whether this call joined another one.
  Result<T> run(const std::string& key, const std::function<Result<T>()>& fn,
                bool* shared = nullptr) {
    std::shared_ptr<Call> call;
    bool leader = false;
    {
      std::lock_guard lock(mu_);
      auto it = calls_.find(key);
      if (it != calls_.end()) {
        call = it->second;
        ++call->waiters;
      } else {
        call = std::make_shared<Call>();
        calls_.emplace(key, call);
        leader = true;
      }
    }
    if (shared != nullptr) *shared = !leader;
    if (!leader) {
      std::unique_lock lock(call->mu);
      call->cv.wait(lock, [&] { return call->result.has_value(); });
      return *call->result;
    }
    Result<T> result = fn();
    {
      std::lock_guard lock(mu_);
      calls_.erase(key);
    }
    {
      std::lock_guard lock(call->mu);
      call->result.emplace(result);
    }
    call->cv.notify_all();
    return result;
  }

  // How many calls wait for the one running under `key` (for tests).
  int waiters(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = calls_.find(key);
    return it == calls_.end() ? 0 : it->second->waiters;
  }

 private:
  struct Call {
    int waiters = 0;  // guarded by SingleFlight::mu_
    std::mutex mu;
    std::condition_variable cv;
    std::optional<Result<T>> result;  // guarded by mu
  };
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Call>> calls_;
};

}  // namespace nave::runtime
