#include "server/controllers/workloads/slow_start.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace nave::controllers::workloads {

namespace {

// Threads per batch: enough to overlap the API server's writes, few enough for a small node.
constexpr int kMaxParallel = 16;

}  // namespace

SlowStartOutcome slowStartBatch(int count, int initialBatchSize,
                                const std::function<Result<void>()>& fn) {
  SlowStartOutcome outcome;
  int remaining = count;
  for (int batch = std::min(remaining, initialBatchSize); batch > 0;
       batch = std::min(2 * batch, remaining)) {
    std::atomic<int> next{0}, succeeded{0};
    std::mutex mu;
    std::optional<Error> error;  // guarded by mu
    auto run = [&] {
      while (next.fetch_add(1) < batch) {
        Result<void> r = fn();
        if (r.ok()) {
          ++succeeded;
        } else {
          std::lock_guard lock(mu);
          if (!error) error = r.error();
        }
      }
    };
    int threads = std::min(batch, kMaxParallel);
    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i) pool.emplace_back(run);
    run();
    for (auto& t : pool) t.join();
    outcome.succeeded += succeeded;
    if (error) {
      outcome.firstError = std::move(*error);
      return outcome;
    }
    remaining -= batch;
  }
  return outcome;
}

}  // namespace nave::controllers::workloads
