// JobController (pkg/controller/job, batch/v1): runs a Job's pods to completion. Pods are made
// from the template with the batch.kubernetes.io/job-tracking finalizer, so that every
// terminated pod is counted exactly once even when it is deleted: a terminated pod's UID is
// first recorded in status.uncountedTerminatedPods, then its finalizer is removed, then it
// moves into status.succeeded or status.failed. Supports completions and parallelism,
// completionMode Indexed (status.completedIndexes), backoffLimit with exponential backoff
// (10 s doubling, up to 6 min) before replacing failed pods, restartPolicy OnFailure restart
// counts, activeDeadlineSeconds, suspend, podReplacementPolicy, podFailurePolicy (FailJob,
// Ignore, Count, FailIndex) and backoffLimitPerIndex/maxFailedIndexes (status.failedIndexes). As in Kubernetes 1.31, a Job that met its success criteria or a
// failure first gets the SuccessCriteriaMet or FailureTarget condition, and Complete or Failed
// once none of its pods is still terminating. Jobs whose spec.managedBy names another
// controller are left alone.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "server/controllers/batch/job_util.h"
#include "server/controllers/controller.h"

namespace nave::controllers::batch {

struct JobControllerOptions {
  NowFunc now = [] { return std::chrono::system_clock::now(); };
  // The delay before replacing a failed pod, doubling with each further failure.
  std::chrono::milliseconds podBackoff = std::chrono::seconds(10);
  std::chrono::milliseconds maxPodBackoff = std::chrono::minutes(6);
  int workers = 4;
};

class JobController : public Controller {
 public:
  explicit JobController(ControllerContext& ctx, JobControllerOptions options = {});
  ~JobController() override;
  void start() override;
  void stop() override;

 private:
  // What the controller expects to see in the informers after its own writes, so that a sync
  // running before they arrive neither creates pods twice nor counts a pod twice (the
  // "expectations" of Kubernetes' controllers), and the failure history behind the backoff.
  struct JobState {
    int pendingCreates = 0;
    std::set<std::string> pendingDeletes;     // pod UIDs deleted, not yet seen deleting
    std::set<std::string> finalizersRemoved;  // pod UIDs, not yet seen without the finalizer
    std::chrono::steady_clock::time_point expectedAt;
    int failuresAfterLastSuccess = 0;
    WallTime lastFailure;
  };

  Result<Reconciled> sync(const std::string& key);
  void onPod(const Json* before, const Json* after);
  // Removes the tracking finalizer from the pods left by a Job that is gone or replaced.
  Result<void> releasePods(const std::vector<Json>& pods);
  Result<void> removeFinalizer(const Json& pod);
  // Creates a pod for `job` (with completion index `index`, or -1, and for backoffLimitPerIndex
  // the failures of its index so far). On failure, records an event and returns the error.
  Result<void> createPod(const Json& job, int index, std::optional<int64_t> failureCount);
  Result<void> deletePod(const Json& job, const Json& pod);
  // Deletes and creates pods (with expectations); returns how many were created. The last
  // failure, if any, goes to `error`.
  int64_t changePods(const std::string& key, const Json& job, const std::vector<const Json*>& toDelete,
                     const std::vector<int>& toCreate, const std::map<int, int64_t>* failureCounts,
                     std::optional<Error>& error);
  // Kubernetes' ControllerRefManager for a running Job: its pods whose labels no longer match
  // its selector are released (removed from `pods`); orphan pods that match are adopted (a
  // controller reference and the tracking finalizer), to be counted from the next sync.
  Result<void> claimPods(const Json& job, std::vector<Json>& pods);
  // Removes the tracking finalizer of a counted pod (expected in the Job's state).
  Result<void> releasePod(const std::string& key, const Json& pod);
  std::chrono::milliseconds backoffRemaining(const JobState& state, WallTime now) const;

  ControllerContext& ctx_;
  JobControllerOptions options_;
  Informer& jobs_;
  Informer& pods_;
  WorkQueue queue_;
  Workers workers_;
  std::mutex mu_;
  std::map<std::string, JobState> state_;  // by Job key; guarded by mu_
};

}  // namespace nave::controllers::batch
