#include "server/controllers/controller.h"

#include "common/log.h"

namespace nave::controllers {

void Workers::start(WorkQueue& queue, int count, std::string name, Reconciler reconcile) {
  queue_ = &queue;
  for (int i = 0; i < count; ++i) {
    threads_.emplace_back([&queue, name, reconcile] {
      while (auto key = queue.get()) {
        Result<Reconciled> r = reconcile(*key);
        if (!r.ok()) {
          log::v(r.error().is(ErrorCode::kConflict) ? 4 : 2, "reconcile failed; retrying",
                 {{"controller", name}, {"key", *key}, {"error", r.error().message()}});
          queue.addRateLimited(*key);
        } else {
          queue.forget(*key);
          if (r->requeueAfter) queue.addAfter(*key, *r->requeueAfter);
        }
        queue.done(*key);
      }
    });
  }
}

void Workers::stop() {
  if (queue_ != nullptr) queue_->shutdown();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

}  // namespace nave::controllers
