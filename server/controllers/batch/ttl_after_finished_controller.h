// TtlAfterFinishedController (pkg/controller/ttlafterfinished): deletes a finished Job
// ttlSecondsAfterFinished after its Complete or Failed condition, with foreground propagation
// so that its pods go first. Each Job is looked at again when its time comes (a timer on the
// work queue), never polled.
#pragma once

#include "server/controllers/batch/job_util.h"
#include "server/controllers/controller.h"

namespace nave::controllers::batch {

class TtlAfterFinishedController : public Controller {
 public:
  explicit TtlAfterFinishedController(ControllerContext& ctx,
                                      NowFunc now = [] { return std::chrono::system_clock::now(); });
  ~TtlAfterFinishedController() override;
  void start() override;
  void stop() override;

 private:
  Result<Reconciled> sync(const std::string& key);

  ControllerContext& ctx_;
  NowFunc now_;
  Informer& jobs_;
  WorkQueue queue_;
  Workers workers_;
};

}  // namespace nave::controllers::batch
