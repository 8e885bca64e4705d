// CronJobController (pkg/controller/cronjob, batch/v1): creates a Job from spec.jobTemplate
// at each scheduled time of spec.schedule (in spec.timeZone, UTC by default), named
// CRONJOB-<scheduled time in minutes since the epoch> so that a time is never run twice, and
// annotated with batch.kubernetes.io/cronjob-scheduled-timestamp. Only the most recent missed
// time is run (none when it is older than startingDeadlineSeconds); concurrencyPolicy Allow,
// Forbid or Replace decides what happens while an earlier Job still runs; finished Jobs beyond
// successfulJobsHistoryLimit and failedJobsHistoryLimit are deleted, oldest first. Keeps
// status.active, lastScheduleTime and lastSuccessfulTime. Each CronJob is looked at again at
// its next scheduled time (a timer on the work queue), never polled.
#pragma once

#include <string>
#include <vector>

#include "server/controllers/batch/cron_schedule.h"
#include "server/controllers/batch/job_util.h"
#include "server/controllers/controller.h"

namespace nave::controllers::batch {

struct CronJobControllerOptions {
  NowFunc now = [] { return std::chrono::system_clock::now(); };
  std::string zoneinfoDir = "/usr/share/zoneinfo";
  int workers = 2;
};

class CronJobController : public Controller {
 public:
  explicit CronJobController(ControllerContext& ctx, CronJobControllerOptions options = {});
  ~CronJobController() override;
  void start() override;
  void stop() override;

 private:
  Result<Reconciled> sync(const std::string& key);
  // Deletes the oldest finished Jobs beyond the history limits. Returns whether the status
  // (its active list) changed.
  bool trimHistory(const Json& cronJob, Json& status, std::vector<Json>& jobs);
  bool deleteJob(const Json& cronJob, Json& status, const Json& job);

  ControllerContext& ctx_;
  CronJobControllerOptions options_;
  Informer& cronJobs_;
  Informer& jobs_;
  WorkQueue queue_;
  Workers workers_;
};

}  // namespace nave::controllers::batch
