// What the Job, CronJob and TTL-after-finished controllers share: resources, well-known names,
// conditions, controller references, completion index sets ("0-2,4") and pod failure policy
// rules (pkg/controller/job's utils and pod_failure_policy.go).
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "common/json.h"
#include "server/controllers/object_util.h"
#include "common/time.h"
#include "server/client/client.h"

namespace nave::controllers::batch {

inline const client::Resource kJobs{"batch", "v1", "jobs"};
inline const client::Resource kCronJobs{"batch", "v1", "cronjobs"};
inline const client::Resource kPods{"", "v1", "pods"};

inline constexpr char kTrackingFinalizer[] = "batch.kubernetes.io/job-tracking";
inline constexpr char kCompletionIndexKey[] = "batch.kubernetes.io/job-completion-index";
inline constexpr char kScheduledTimestampAnnotation[] = "batch.kubernetes.io/cronjob-scheduled-timestamp";

// The controllers' clock; tests inject their own.
using NowFunc = std::function<WallTime()>;

// status.conditions[type=...] of an object, or null.
const Json* findCondition(const Json& object, std::string_view type);
bool conditionIsTrue(const Json& object, std::string_view type);
// "Complete" or "Failed" when a Job has finished, else "".
std::string jobFinishedType(const Json& job);
// Sets a condition in `status` (as ensureJobConditionStatus): an existing condition of the type
// changes (and gets a new lastTransitionTime) only when its status differs; a missing one is
// added unless `status` is "False". Returns whether anything changed.
bool ensureCondition(Json& status, std::string_view type, std::string_view conditionStatus,
                     std::string_view reason, std::string_view message, WallTime now);

// The ownerReferences entry with controller: true, or null.
const Json* controllerRef(const Json& object);
// A controller reference to `owner` (controller and blockOwnerDeletion true).
Json controllerRefTo(const Json& owner, std::string_view apiVersion, std::string_view kind);
bool hasFinalizer(const Json& object, std::string_view finalizer);
bool isPodTerminal(const Json& pod);
using controllers::isDeleting;  // server/controllers/object_util.h

// Completion index sets as in status.completedIndexes: "1,3-5,7". Indexes outside
// [0, completions) and malformed pieces are dropped.
std::set<int> parseIndexSet(std::string_view text, int completions);
std::string formatIndexSet(const std::set<int>& indexes);
// The pod's completion index from its annotation, or -1.
int podCompletionIndex(const Json& pod);

// The first podFailurePolicy rule matching a failed pod: its action ("FailJob", "Ignore",
// "Count", "FailIndex") and, for FailJob, the message the Job's condition carries.
struct PolicyMatch {
  std::string action;
  std::string message;
};
std::optional<PolicyMatch> matchPodFailurePolicy(const Json& policy, const Json& pod);

// When a terminated pod finished: the latest container finishedAt, else `fallback`.
WallTime podFinishTime(const Json& pod, WallTime fallback);

// Seconds since the epoch, and back.
int64_t toSeconds(WallTime t);
WallTime fromSeconds(int64_t seconds);

}  // namespace nave::controllers::batch
