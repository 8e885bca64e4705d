#include "server/controllers/batch/job_controller.h"

#include <algorithm>

#include "common/log.h"
#include "server/selectors/selectors.h"

namespace nave::controllers::batch {
namespace {

constexpr char kComponent[] = "job-controller";
constexpr char kPodsByJobIndex[] = "batch.job";  // "namespace/name" of a pod's controller Job
constexpr auto kExpectationTimeout = std::chrono::minutes(5);
constexpr int kMaxPodChangesPerSync = 500;
constexpr char kIndexFailureCount[] = "batch.kubernetes.io/job-index-failure-count";

const Json& member(const Json& o, std::string_view key) {
  static const Json kNull;
  const Json* m = findMember(o, key);
  return m != nullptr ? *m : kNull;
}

std::string uidOf(const Json& o) { return getString(member(o, "metadata"), "uid"); }
std::string nameOf(const Json& o) { return getString(member(o, "metadata"), "name"); }
std::string namespaceOf(const Json& o) { return getString(member(o, "metadata"), "namespace"); }

bool podReady(const Json& pod) { return conditionIsTrue(pod, "Ready"); }

// How many times the pod's index failed before it (backoffLimitPerIndex).
int64_t indexFailureCount(const Json& pod) {
  const Json& v = member(member(member(pod, "metadata"), "annotations"), kIndexFailureCount);
  if (!v.is_string()) return 0;
  char* end = nullptr;
  long long n = std::strtoll(v.get_ref<const std::string&>().c_str(), &end, 10);
  return *end == '\0' && n > 0 ? n : 0;
}

std::set<std::string> uidSet(const Json& list) {
  std::set<std::string> out;
  if (list.is_array())
    for (const Json& v : list)
      if (v.is_string()) out.insert(v.get<std::string>());
  return out;
}

Json uidArray(const std::set<std::string>& uids) {
  Json out = Json::array();
  for (const std::string& u : uids) out.push_back(u);
  return out;
}

int64_t restartCount(const Json& pod) {
  int64_t n = 0;
  for (const char* k : {"initContainerStatuses", "containerStatuses"}) {
    const Json& list = member(member(pod, "status"), k);
    if (list.is_array())
      for (const Json& cs : list) n += getInt(cs, "restartCount");
  }
  return n;
}

// Which active pods to delete first: unscheduled, then not ready, then the newest (as
// Kubernetes' ActivePods ordering, reduced).
bool deleteBefore(const Json* a, const Json* b) {
  auto rank = [](const Json* p) {
    bool scheduled = !getString(member(*p, "spec"), "nodeName").empty();
    return std::make_pair(scheduled ? 1 : 0, podReady(*p) ? 1 : 0);
  };
  if (rank(a) != rank(b)) return rank(a) < rank(b);
  return getString(member(*a, "metadata"), "creationTimestamp") >
         getString(member(*b, "metadata"), "creationTimestamp");
}

// The index of the first successPolicy rule the succeeded indexes meet.
std::optional<int> matchSuccessPolicy(const Json& policy, const std::set<int>& succeeded, int completions) {
  const Json& rules = member(policy, "rules");
  if (!rules.is_array() || succeeded.empty()) return std::nullopt;
  for (size_t i = 0; i < rules.size(); ++i) {
    const Json& countField = member(rules[i], "succeededCount");
    std::optional<int64_t> count;
    if (countField.is_number_integer()) count = countField.get<int64_t>();
    const Json& indexesField = member(rules[i], "succeededIndexes");
    if (indexesField.is_string()) {
      std::set<int> required = parseIndexSet(indexesField.get<std::string>(), completions);
      if (required.empty()) continue;
      int64_t have = 0;
      for (int ix : required) have += succeeded.count(ix);
      if (count ? have >= *count : have == static_cast<int64_t>(required.size())) return static_cast<int>(i);
    } else if (count && static_cast<int64_t>(succeeded.size()) >= *count) {
      return static_cast<int>(i);
    }
  }
  return std::nullopt;
}

struct Finish {
  std::string type;  // "Complete" or "Failed"
  std::string reason, message;
  std::string interim() const { return type == "Complete" ? "SuccessCriteriaMet" : "FailureTarget"; }
};

// The finish an earlier sync decided (its interim condition), waiting for pods to terminate.
std::optional<Finish> decidedFinish(const Json& job) {
  for (const char* interim : {"FailureTarget", "SuccessCriteriaMet"}) {
    const Json* c = findCondition(job, interim);
    if (c != nullptr && getString(*c, "status") == "True")
      return Finish{std::string(interim) == "FailureTarget" ? "Failed" : "Complete", getString(*c, "reason"),
                    getString(*c, "message")};
  }
  return std::nullopt;
}

// A Job's spec, read once per sync.
struct JobSpec {
  bool indexed = false;
  bool hasCompletions = false;
  int64_t completions = 0, parallelism = 1, backoffLimit = 6;
  bool suspended = false;
  bool onFailure = false;                // restartPolicy OnFailure
  const Json* failurePolicy = nullptr;   // into the Job
  const Json* successPolicy = nullptr;   // into the Job
  bool onlyReplaceFailed = false;        // podReplacementPolicy Failed
  bool perIndex = false;                 // backoffLimitPerIndex set (Indexed only)
  int64_t backoffLimitPerIndex = 0;
  std::optional<int64_t> maxFailedIndexes, activeDeadlineSeconds;
};

JobSpec readSpec(const Json& job) {
  const Json& spec = member(job, "spec");
  auto optInt = [&](std::string_view k) -> std::optional<int64_t> {
    const Json& v = member(spec, k);
    if (v.is_number_integer()) return v.get<int64_t>();
    return std::nullopt;
  };
  JobSpec s;
  s.indexed = getString(spec, "completionMode") == "Indexed";
  std::optional<int64_t> completions = optInt("completions");
  s.hasCompletions = completions.has_value();
  s.completions = completions.value_or(0);
  s.parallelism = getInt(spec, "parallelism", 1);
  s.backoffLimit = getInt(spec, "backoffLimit", 6);
  s.suspended = getBool(spec, "suspend");
  s.onFailure = getString(member(member(spec, "template"), "spec"), "restartPolicy") == "OnFailure";
  if (const Json& p = member(spec, "podFailurePolicy"); p.is_object()) s.failurePolicy = &p;
  if (const Json& p = member(spec, "successPolicy"); p.is_object() && s.indexed) s.successPolicy = &p;
  s.onlyReplaceFailed = s.failurePolicy != nullptr || getString(spec, "podReplacementPolicy") == "Failed";
  std::optional<int64_t> perIndex = optInt("backoffLimitPerIndex");
  s.perIndex = s.indexed && perIndex.has_value();
  s.backoffLimitPerIndex = perIndex.value_or(0);
  s.maxFailedIndexes = optInt("maxFailedIndexes");
  s.activeDeadlineSeconds = optInt("activeDeadlineSeconds");
  return s;
}

// The Job's progress as recorded in its status, updated as this sync counts pods.
struct Progress {
  std::set<std::string> uncountedSucceeded, uncountedFailed;  // status.uncountedTerminatedPods
  std::set<int> succeededIndexes, failedIndexes;              // Indexed
  bool counted(const std::string& uid) const {
    return uncountedSucceeded.count(uid) > 0 || uncountedFailed.count(uid) > 0;
  }
};

// What the pods say, and which of them this sync counts for the first time.
struct PodTally {
  std::vector<const Json*> active;  // neither terminated nor being deleted
  std::map<int, std::vector<const Json*>> activeByIndex;
  int64_t terminating = 0, ready = 0, onFailureRestarts = 0;
  std::vector<const Json*> toRelease;             // terminated pods whose finalizer goes now
  std::set<std::string> newSucceeded, newFailed;  // NonIndexed successes, all failures (UIDs)
  bool newSuccess = false;                        // any, including Indexed ones
  WallTime lastFailure{};
  std::map<int, int64_t> nextFailureCount;  // per index, for the pod replacing a failed one
};

PodTally tallyPods(const JobSpec& spec, const std::vector<Json>& pods, const std::optional<Finish>& finish,
                   const std::set<std::string>& released, Progress& progress, WallTime now) {
  PodTally t;
  const bool succeededEarly = finish && finish->type == "Complete";
  for (const Json& p : pods) {
    const std::string phase = getString(member(p, "status"), "phase");
    const bool terminal = phase == "Succeeded" || phase == "Failed";
    const bool deleting = isDeleting(p);
    const int index = spec.indexed ? podCompletionIndex(p) : -1;
    const bool validIndex = !spec.indexed || (index >= 0 && index < spec.completions);
    if (!terminal && !deleting) {
      t.active.push_back(&p);
      if (podReady(p)) ++t.ready;
      if (spec.indexed) t.activeByIndex[index].push_back(&p);
      if (spec.onFailure) t.onFailureRestarts += restartCount(p);
    }
    if (!terminal && deleting) ++t.terminating;
    const std::string uid = uidOf(p);
    if (!hasFinalizer(p, kTrackingFinalizer) || released.count(uid)) continue;
    if (phase == "Succeeded") {
      if (spec.indexed) {
        if (validIndex && progress.succeededIndexes.insert(index).second) t.newSuccess = true;
      } else if (!progress.counted(uid)) {
        t.newSucceeded.insert(uid);
        t.newSuccess = true;
      }
      t.toRelease.push_back(&p);
      continue;
    }
    // A deleted pod counts as failed (unless pods are only replaced once they failed): its end
    // is not a success. Pods stopped because the Job succeeded early are not failures, nor are
    // pods deleted because the Job was suspended.
    if (phase != "Failed" && !(deleting && (!spec.onlyReplaceFailed || finish))) continue;
    t.toRelease.push_back(&p);
    if (progress.counted(uid) || !validIndex || succeededEarly || (spec.suspended && phase != "Failed")) continue;
    std::string action;
    if (spec.failurePolicy != nullptr && phase == "Failed")
      if (auto m = matchPodFailurePolicy(*spec.failurePolicy, p)) action = m->action;
    if (action == "Ignore") continue;
    t.newFailed.insert(uid);
    t.lastFailure = std::max(t.lastFailure, podFinishTime(p, now));
    if (spec.perIndex && (action == "FailIndex" || indexFailureCount(p) + 1 > spec.backoffLimitPerIndex))
      progress.failedIndexes.insert(index);
  }
  if (spec.perIndex) {
    for (const Json& p : pods) {
      if (getString(member(p, "status"), "phase") != "Failed") continue;
      if (spec.failurePolicy != nullptr)
        if (auto m = matchPodFailurePolicy(*spec.failurePolicy, p); m && m->action == "Ignore") continue;
      int64_t& next = t.nextFailureCount[podCompletionIndex(p)];
      next = std::max(next, indexFailureCount(p) + 1);
    }
  }
  return t;
}

// How a running Job ends now, if it does: a FailJob rule, too many failed indexes, the backoff
// limit, the deadline or its success policy. `deadlineIn` is set while a deadline is ahead.
std::optional<Finish> findFinish(const JobSpec& spec, const std::vector<Json>& pods, const PodTally& tally,
                                 const Progress& progress, int64_t failed, int64_t oldFailed,
                                 std::optional<WallTime> startTime, WallTime now,
                                 std::optional<std::chrono::milliseconds>& deadlineIn) {
  if (spec.failurePolicy != nullptr) {
    for (const Json& p : pods) {
      if (getString(member(p, "status"), "phase") != "Failed") continue;
      if (auto m = matchPodFailurePolicy(*spec.failurePolicy, p); m && m->action == "FailJob")
        return Finish{"Failed", "PodFailurePolicy", m->message};
    }
  }
  if (spec.perIndex && spec.maxFailedIndexes &&
      static_cast<int64_t>(progress.failedIndexes.size()) > *spec.maxFailedIndexes)
    return Finish{"Failed", "MaxFailedIndexesExceeded", "Job has exceeded the specified maximal number of failed indexes"};
  bool newFailure = failed > oldFailed;
  bool pastOnFailureLimit =
      spec.onFailure && (spec.backoffLimit == 0 ? tally.onFailureRestarts > 0 : tally.onFailureRestarts >= spec.backoffLimit);
  if ((newFailure && static_cast<int64_t>(tally.active.size()) != spec.parallelism && failed > spec.backoffLimit) ||
      pastOnFailureLimit)
    return Finish{"Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit"};
  if (spec.activeDeadlineSeconds && startTime && !spec.suspended) {
    auto left = *startTime + std::chrono::seconds(*spec.activeDeadlineSeconds) - now;
    if (left <= std::chrono::milliseconds(0))
      return Finish{"Failed", "DeadlineExceeded", "Job was active longer than specified deadline"};
    deadlineIn = std::chrono::duration_cast<std::chrono::milliseconds>(left);
  }
  if (spec.successPolicy != nullptr) {
    if (auto rule = matchSuccessPolicy(*spec.successPolicy, progress.succeededIndexes, static_cast<int>(spec.completions)))
      return Finish{"Complete", "SuccessPolicy", "Matched rules at index " + std::to_string(*rule)};
  }
  return std::nullopt;
}

// Which active pods a running Job stops and which pods (completion indexes, -1 for
// NonIndexed) it starts.
struct PodPlan {
  std::vector<const Json*> toDelete;
  std::vector<int> toCreate;
};

PodPlan planPods(const JobSpec& spec, PodTally& tally, const std::vector<Json>& pods, const Progress& progress,
                 int64_t succeeded) {
  PodPlan plan;
  const int64_t active = static_cast<int64_t>(tally.active.size());
  if (spec.suspended) {
    plan.toDelete = tally.active;
    return plan;
  }
  if (!spec.indexed) {
    int64_t wantActive = spec.parallelism;
    if (!spec.hasCompletions) {
      // A work queue: once one pod succeeded, the rest only finish.
      if (succeeded > 0) wantActive = active;
    } else {
      wantActive = std::clamp<int64_t>(spec.completions - succeeded, 0, spec.parallelism);
    }
    if (active > wantActive) {
      std::vector<const Json*> sorted = tally.active;
      std::sort(sorted.begin(), sorted.end(), deleteBefore);
      plan.toDelete.assign(sorted.begin(), sorted.begin() + (active - wantActive));
    }
    int64_t diff = wantActive - active - (spec.onlyReplaceFailed ? tally.terminating : 0);
    for (int64_t i = 0; i < std::min<int64_t>(diff, kMaxPodChangesPerSync); ++i) plan.toCreate.push_back(-1);
    return plan;
  }
  // Indexed: one active pod per index still to do; extra pods and pods of unknown or finished
  // indexes go.
  const std::set<int>& done = progress.succeededIndexes;
  const std::set<int>& failed = progress.failedIndexes;
  int64_t kept = 0;
  std::set<int> busy;
  for (auto& [index, list] : tally.activeByIndex) {
    std::sort(list.begin(), list.end(), [](const Json* a, const Json* b) { return deleteBefore(b, a); });
    bool wanted = index >= 0 && index < spec.completions && !done.count(index) && !failed.count(index);
    for (size_t i = 0; i < list.size(); ++i) {
      if (wanted && i == 0) {
        ++kept;
        busy.insert(index);
      } else {
        plan.toDelete.push_back(list[i]);
      }
    }
  }
  if (spec.onlyReplaceFailed)
    for (const Json& p : pods)
      if (isDeleting(p) && !isPodTerminal(p)) busy.insert(podCompletionIndex(p));
  int64_t wantActive =
      std::min<int64_t>(spec.parallelism, spec.completions - static_cast<int64_t>(done.size() + failed.size()));
  int64_t diff = std::min<int64_t>(wantActive - kept, kMaxPodChangesPerSync);
  for (int i = 0; i < spec.completions && diff > 0; ++i) {
    if (done.count(i) || failed.count(i) || busy.count(i)) continue;
    plan.toCreate.push_back(i);
    --diff;
  }
  return plan;
}

}  // namespace

JobController::JobController(ControllerContext& ctx, JobControllerOptions options)
    : ctx_(ctx), options_(std::move(options)), jobs_(ctx.informers.informer(kJobs)),
      pods_(ctx.informers.informer(kPods)) {
  jobs_.addHandler([this](const std::string& key) { queue_.add(key); });
  pods_.addIndex(kPodsByJobIndex, [](const Json& pod) -> std::vector<std::string> {
    const Json* ref = controllerRef(pod);
    if (ref == nullptr || getString(*ref, "kind") != "Job" ||
        getString(*ref, "apiVersion").rfind("batch/", 0) != 0)
      return {};
    return {namespaceOf(pod) + "/" + getString(*ref, "name")};
  });
  pods_.addObjectHandler([this](const Json* before, const Json* after) { onPod(before, after); });
}

JobController::~JobController() { stop(); }

void JobController::start() { workers_.start(queue_, options_.workers, "job", [this](const std::string& k) { return sync(k); }); }

void JobController::stop() { workers_.stop(); }

void JobController::onPod(const Json* before, const Json* after) {
  const Json& pod = after != nullptr ? *after : *before;
  const Json* ref = controllerRef(pod);
  // A pod that lost its controller goes back to its old Job once; an orphan may be adopted by
  // a Job whose selector it matches.
  if (const Json* old = before != nullptr ? controllerRef(*before) : nullptr;
      old != nullptr && ref == nullptr && getString(*old, "kind") == "Job")
    queue_.add(namespaceOf(pod) + "/" + getString(*old, "name"));
  if (ref == nullptr && after != nullptr && !isDeleting(*after)) {
    for (const Json& job : jobs_.list(namespaceOf(pod))) {
      auto selector = selectors::LabelSelector::fromObject(member(member(job, "spec"), "selector"));
      if (selector.ok() && !selector->empty() && selector->matches(member(member(pod, "metadata"), "labels")))
        queue_.add(Informer::keyOf(job));
    }
    return;
  }
  if (ref == nullptr || getString(*ref, "kind") != "Job") return;
  std::string key = namespaceOf(pod) + "/" + getString(*ref, "name");
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = state_.find(key);
    if (it != state_.end()) {
      JobState& st = it->second;
      std::string uid = uidOf(pod);
      if (before == nullptr && after != nullptr && st.pendingCreates > 0) --st.pendingCreates;
      if (after == nullptr || isDeleting(*after)) st.pendingDeletes.erase(uid);
      if (after == nullptr || !hasFinalizer(*after, kTrackingFinalizer)) st.finalizersRemoved.erase(uid);
    }
  }
  queue_.add(key);
}

std::chrono::milliseconds JobController::backoffRemaining(const JobState& st, WallTime now) const {
  if (st.failuresAfterLastSuccess == 0) return std::chrono::milliseconds(0);
  auto delay = options_.podBackoff;
  for (int i = 1; i < st.failuresAfterLastSuccess && delay < options_.maxPodBackoff; ++i) delay *= 2;
  delay = std::min(delay, options_.maxPodBackoff);
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - st.lastFailure);
  return elapsed >= delay ? std::chrono::milliseconds(0) : delay - elapsed;
}

Result<void> JobController::removeFinalizer(const Json& pod) {
  const Json& list = member(member(pod, "metadata"), "finalizers");
  for (size_t i = 0; list.is_array() && i < list.size(); ++i) {
    if (list[i] != kTrackingFinalizer) continue;
    // Test, then remove: a concurrent change to the list fails the patch instead of removing
    // another finalizer.
    std::string path = "/metadata/finalizers/" + std::to_string(i);
    Json patch = Json::array({{{"op", "test"}, {"path", path}, {"value", kTrackingFinalizer}},
                              {{"op", "remove"}, {"path", path}}});
    auto r = ctx_.client.patch(kPods, namespaceOf(pod), nameOf(pod), api::PatchType::kJson, dumpJson(patch));
    if (!r.ok() && !r.error().is(ErrorCode::kNotFound))
      return std::move(r).error().context("removing finalizer of pod " + nameOf(pod));
    return {};
  }
  return {};
}

Result<void> JobController::releasePods(const std::vector<Json>& pods) {
  for (const Json& pod : pods)
    if (hasFinalizer(pod, kTrackingFinalizer)) TRY(removeFinalizer(pod));
  return {};
}

Result<void> JobController::createPod(const Json& job, int index, std::optional<int64_t> failureCount) {
  const Json& spec = member(job, "spec");
  const Json& templ = member(spec, "template");
  Json meta = Json::object();
  std::string base = nameOf(job) + (index >= 0 ? "-" + std::to_string(index) : "");
  meta["generateName"] = base + "-";
  meta["namespace"] = namespaceOf(job);
  meta["labels"] = member(member(templ, "metadata"), "labels").is_object() ? templ["metadata"]["labels"] : Json::object();
  meta["annotations"] =
      member(member(templ, "metadata"), "annotations").is_object() ? templ["metadata"]["annotations"] : Json::object();
  meta["finalizers"] = Json::array({kTrackingFinalizer});
  meta["ownerReferences"] = Json::array({controllerRefTo(job, "batch/v1", "Job")});
  Json podSpec = member(templ, "spec").is_object() ? templ["spec"] : Json::object();
  if (index >= 0) {
    meta["annotations"][kCompletionIndexKey] = std::to_string(index);
    meta["labels"][kCompletionIndexKey] = std::to_string(index);
    if (failureCount) meta["annotations"][kIndexFailureCount] = std::to_string(*failureCount);
    if (getString(podSpec, "hostname").empty()) podSpec["hostname"] = base;
    Json env = {{"name", "JOB_COMPLETION_INDEX"},
                {"valueFrom",
                 {{"fieldRef",
                   {{"apiVersion", "v1"},
                    {"fieldPath", std::string("metadata.annotations['") + kCompletionIndexKey + "']"}}}}}};
    for (const char* list : {"initContainers", "containers"}) {
      if (!podSpec.contains(list) || !podSpec[list].is_array()) continue;
      for (Json& c : podSpec[list]) {
        if (!c.is_object()) continue;
        if (!c.contains("env") || !c["env"].is_array()) c["env"] = Json::array();
        bool defined = std::any_of(c["env"].begin(), c["env"].end(),
                                   [](const Json& e) { return getString(e, "name") == "JOB_COMPLETION_INDEX"; });
        if (!defined) c["env"].push_back(env);
      }
    }
  }
  Json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", std::move(meta)}, {"spec", std::move(podSpec)}};
  auto created = ctx_.client.create(kPods, namespaceOf(job), pod);
  if (!created.ok()) {
    ctx_.events.eventAs(kComponent, job, "Warning", "FailedCreate", "Error creating: " + created.error().message());
    return std::move(created).error().context("creating pod for job " + nameOf(job));
  }
  ctx_.events.eventAs(kComponent, job, "Normal", "SuccessfulCreate", "Created pod: " + nameOf(*created));
  return {};
}

Result<void> JobController::deletePod(const Json& job, const Json& pod) {
  api::DeleteOptions opts;
  opts.preconditionUid = uidOf(pod);
  auto r = ctx_.client.remove(kPods, namespaceOf(pod), nameOf(pod), opts);
  if (!r.ok()) {
    if (r.error().is(ErrorCode::kNotFound)) return {};
    ctx_.events.eventAs(kComponent, job, "Warning", "FailedDelete", "Error deleting: " + r.error().message());
    return std::move(r).error().context("deleting pod " + nameOf(pod));
  }
  ctx_.events.eventAs(kComponent, job, "Normal", "SuccessfulDelete", "Deleted pod: " + nameOf(pod));
  return {};
}

Result<Reconciled> JobController::sync(const std::string& key) {
  std::vector<Json> allPods = pods_.byIndex(kPodsByJobIndex, key);
  std::optional<Json> found = jobs_.get(key);
  if (!found) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      state_.erase(key);
    }
    TRY(releasePods(allPods));
    return Reconciled{};
  }
  Json job = std::move(*found);
  // A Job another controller manages (spec.managedBy) is left to it entirely.
  if (const Json& managedBy = member(member(job, "spec"), "managedBy");
      managedBy.is_string() && managedBy != "kubernetes.io/job-controller")
    return Reconciled{};
  const std::string uid = uidOf(job);
  // Pods of an earlier Job of the same name are let go; the garbage collector removes them.
  std::vector<Json> pods, others;
  for (Json& p : allPods) (getString(*controllerRef(p), "uid") == uid ? pods : others).push_back(std::move(p));
  TRY(releasePods(others));
  if (!jobFinishedType(job).empty()) {
    // Nothing runs for a finished Job; a pod that raced its end is not counted.
    TRY(releasePods(pods));
    return Reconciled{};
  }
  if (!isDeleting(job)) TRY(claimPods(job, pods));

  const WallTime now = options_.now();
  const JobSpec spec = readSpec(job);
  const Json status = job.contains("status") && job["status"].is_object() ? job["status"] : Json::object();
  Progress progress;
  const Json& uncounted = member(status, "uncountedTerminatedPods");
  progress.uncountedSucceeded = uidSet(member(uncounted, "succeeded"));
  progress.uncountedFailed = uidSet(member(uncounted, "failed"));
  if (spec.indexed)
    progress.succeededIndexes = parseIndexSet(getString(status, "completedIndexes"), static_cast<int>(spec.completions));
  if (spec.perIndex)
    progress.failedIndexes = parseIndexSet(getString(status, "failedIndexes"), static_cast<int>(spec.completions));
  std::optional<Finish> finish = decidedFinish(job);

  std::unique_lock<std::mutex> lock(mu_);
  JobState& st = state_[key];
  // Forget expectations the informer has caught up with.
  std::set<std::string> present;
  for (const Json& p : pods) {
    present.insert(uidOf(p));
    if (!hasFinalizer(p, kTrackingFinalizer)) st.finalizersRemoved.erase(uidOf(p));
    if (isDeleting(p)) st.pendingDeletes.erase(uidOf(p));
  }
  std::erase_if(st.finalizersRemoved, [&](const std::string& u) { return !present.count(u); });
  std::erase_if(st.pendingDeletes, [&](const std::string& u) { return !present.count(u); });
  const bool satisfied = (st.pendingCreates == 0 && st.pendingDeletes.empty()) ||
                         std::chrono::steady_clock::now() - st.expectedAt > kExpectationTimeout;
  std::set<std::string> released = st.finalizersRemoved;
  lock.unlock();

  PodTally tally = tallyPods(spec, pods, finish, released, progress, now);
  lock.lock();
  if (tally.newSuccess) st.failuresAfterLastSuccess = 0;
  if (!tally.newFailed.empty()) {
    st.failuresAfterLastSuccess += static_cast<int>(tally.newFailed.size());
    st.lastFailure = tally.lastFailure;
  }
  lock.unlock();

  const int64_t oldSucceeded = getInt(status, "succeeded");
  const int64_t oldFailed = getInt(status, "failed");
  const int64_t succeeded =
      spec.indexed ? static_cast<int64_t>(progress.succeededIndexes.size())
                   : oldSucceeded + static_cast<int64_t>(progress.uncountedSucceeded.size() + tally.newSucceeded.size());
  const int64_t failed = oldFailed + static_cast<int64_t>(progress.uncountedFailed.size() + tally.newFailed.size());

  Json newStatus = status;
  if (!newStatus.contains("startTime") && !spec.suspended) newStatus["startTime"] = formatRfc3339(now);
  std::optional<std::chrono::milliseconds> requeue;
  if (!finish)
    finish = findFinish(spec, pods, tally, progress, failed, oldFailed, parseRfc3339(getString(newStatus, "startTime")),
                        now, requeue);

  // Start and stop pods: a Job that ends stops them all.
  PodPlan plan;
  bool managed = false;
  if (finish) {
    plan.toDelete = tally.active;
  } else if (satisfied && !isDeleting(job)) {
    managed = true;
    plan = planPods(spec, tally, pods, progress, succeeded);
    if (!plan.toCreate.empty()) {
      lock.lock();
      auto wait = backoffRemaining(st, now);
      lock.unlock();
      if (wait > std::chrono::milliseconds(0)) {
        plan.toCreate.clear();
        if (!requeue || wait < *requeue) requeue = wait;
      }
    }
  }
  std::optional<Error> podError;
  int64_t created = changePods(key, job, plan.toDelete, plan.toCreate,
                               spec.perIndex ? &tally.nextFailureCount : nullptr, podError);
  const bool changedPods = !plan.toDelete.empty() || !plan.toCreate.empty();
  const int64_t activeCount = static_cast<int64_t>(tally.active.size() - plan.toDelete.size()) + created;

  if (!finish) {
    const auto ended = static_cast<int64_t>(progress.succeededIndexes.size() + progress.failedIndexes.size());
    bool complete = spec.hasCompletions ? succeeded >= spec.completions : succeeded > 0;
    if (spec.perIndex && !progress.failedIndexes.empty() && ended >= spec.completions && activeCount == 0) {
      finish = Finish{"Failed", "FailedIndexes", "Job has failed indexes"};
    } else if (complete && activeCount == 0) {
      finish = Finish{"Complete", "CompletionsReached", "Reached expected number of succeeded pods"};
    } else if (managed) {
      if (spec.suspended) {
        if (ensureCondition(newStatus, "Suspended", "True", "JobSuspended", "Job suspended", now))
          ctx_.events.eventAs(kComponent, job, "Normal", "Suspended", "Job suspended");
      } else if (ensureCondition(newStatus, "Suspended", "False", "JobResumed", "Job resumed", now)) {
        ctx_.events.eventAs(kComponent, job, "Normal", "Resumed", "Job resumed");
        // The deadline counts the time the Job runs without interruption.
        newStatus["startTime"] = formatRfc3339(now);
      }
    }
  }
  if (finish) ensureCondition(newStatus, finish->interim(), "True", finish->reason, finish->message, now);

  newStatus["active"] = activeCount;
  newStatus["ready"] = tally.ready;
  newStatus["terminating"] = tally.terminating;
  if (spec.indexed) newStatus["completedIndexes"] = formatIndexSet(progress.succeededIndexes);
  if (spec.perIndex) newStatus["failedIndexes"] = formatIndexSet(progress.failedIndexes);
  auto setUncounted = [&] {
    Json u = Json::object();
    if (!progress.uncountedSucceeded.empty()) u["succeeded"] = uidArray(progress.uncountedSucceeded);
    if (!progress.uncountedFailed.empty()) u["failed"] = uidArray(progress.uncountedFailed);
    newStatus["uncountedTerminatedPods"] = u;
  };
  auto writeStatus = [&]() -> Result<void> {
    if (newStatus == member(job, "status")) return {};
    Json next = job;
    next["status"] = newStatus;
    auto r = ctx_.client.update(kJobs, namespaceOf(job), next, {}, "status");
    if (!r.ok()) return std::move(r).error().context("updating status of job " + nameOf(job));
    job = std::move(*r);
    return {};
  };
  // First record the pods about to be released as uncounted (or their indexes as ended), so
  // that a crash after removing their finalizers cannot lose them.
  progress.uncountedSucceeded.insert(tally.newSucceeded.begin(), tally.newSucceeded.end());
  progress.uncountedFailed.insert(tally.newFailed.begin(), tally.newFailed.end());
  setUncounted();
  newStatus["succeeded"] = spec.indexed ? succeeded : oldSucceeded;
  newStatus["failed"] = oldFailed;
  if (!tally.toRelease.empty()) TRY(writeStatus());

  // Release the pods, then move what is no longer held into the counters.
  for (const Json* p : tally.toRelease) {
    if (auto r = releasePod(key, *p); !r.ok()) podError = std::move(r).error();
    else released.insert(uidOf(*p));
  }
  std::map<std::string, const Json*> podByUid;
  for (const Json& p : pods) podByUid[uidOf(p)] = &p;
  auto isReleased = [&](const std::string& u) {
    auto it = podByUid.find(u);
    return it == podByUid.end() || !hasFinalizer(*it->second, kTrackingFinalizer) || released.count(u);
  };
  int64_t movedSucceeded = std::erase_if(progress.uncountedSucceeded, isReleased);
  int64_t movedFailed = std::erase_if(progress.uncountedFailed, isReleased);
  setUncounted();
  if (!spec.indexed) newStatus["succeeded"] = oldSucceeded + movedSucceeded;
  newStatus["failed"] = oldFailed + movedFailed;

  // The end: once every pod is counted and none is still terminating.
  const bool finished = finish && progress.uncountedSucceeded.empty() && progress.uncountedFailed.empty() &&
                        tally.terminating == 0 && !changedPods;
  if (finished) {
    ensureCondition(newStatus, finish->type, "True", finish->reason, finish->message, now);
    if (finish->type == "Complete") newStatus["completionTime"] = formatRfc3339(now);
  }
  TRY(writeStatus());
  if (finished) {
    if (finish->type == "Complete")
      ctx_.events.eventAs(kComponent, job, "Normal", "Completed", "Job completed");
    else
      ctx_.events.eventAs(kComponent, job, "Warning", finish->reason, finish->message);
    log::v(2, "job finished", {{"job", key}, {"condition", finish->type}, {"reason", finish->reason}});
  }
  if (podError) return std::move(*podError);
  if (requeue) *requeue = std::max(*requeue, std::chrono::milliseconds(1));
  return Reconciled{requeue};
}

int64_t JobController::changePods(const std::string& key, const Json& job, const std::vector<const Json*>& toDelete,
                                  const std::vector<int>& toCreate, const std::map<int, int64_t>* failureCounts,
                                  std::optional<Error>& error) {
  if (toDelete.empty() && toCreate.empty()) return 0;
  std::unique_lock<std::mutex> lock(mu_);
  JobState& st = state_[key];
  st.expectedAt = std::chrono::steady_clock::now();
  for (const Json* p : toDelete) st.pendingDeletes.insert(uidOf(*p));
  st.pendingCreates += static_cast<int>(toCreate.size());
  lock.unlock();
  for (const Json* p : toDelete) {
    if (auto r = deletePod(job, *p); !r.ok()) {
      lock.lock();
      st.pendingDeletes.erase(uidOf(*p));
      lock.unlock();
      error = std::move(r).error();
    }
  }
  // The first failed creation stops the rest (they would most likely fail alike: a quota, an
  // invalid template); the retry backs off.
  int64_t created = 0;
  for (int index : toCreate) {
    std::optional<int64_t> failureCount;
    if (failureCounts != nullptr) {
      auto it = failureCounts->find(index);
      failureCount = it != failureCounts->end() ? it->second : 0;
    }
    if (auto r = createPod(job, index, failureCount); !r.ok()) {
      lock.lock();
      st.pendingCreates = std::max<int>(0, st.pendingCreates - static_cast<int>(toCreate.size() - created));
      lock.unlock();
      error = std::move(r).error();
      break;
    }
    ++created;
  }
  return created;
}

Result<void> JobController::claimPods(const Json& job, std::vector<Json>& pods) {
  auto selector = selectors::LabelSelector::fromObject(member(member(job, "spec"), "selector"));
  // An empty selector would take every pod of the namespace.
  if (!selector.ok() || selector->empty()) return {};
  auto matches = [&](const Json& p) { return selector->matches(member(member(p, "metadata"), "labels")); };
  const std::string uid = uidOf(job);
  auto patchPod = [&](const Json& pod, Json ops) -> Result<void> {
    ops.insert(ops.begin(), Json{{"op", "test"}, {"path", "/metadata/uid"}, {"value", uidOf(pod)}});
    auto r = ctx_.client.patch(kPods, namespaceOf(pod), nameOf(pod), api::PatchType::kJson, dumpJson(ops));
    // A pod that is gone or changed meanwhile is looked at again with the next sync.
    if (!r.ok() && !r.error().is(ErrorCode::kNotFound) && !r.error().is(ErrorCode::kInvalid) &&
        !r.error().is(ErrorCode::kConflict))
      return std::move(r).error().context("claiming pod " + nameOf(pod));
    return {};
  };

  // Release the pods whose labels no longer match.
  std::vector<Json> kept;
  for (Json& p : pods) {
    if (matches(p) || isDeleting(p)) {
      kept.push_back(std::move(p));
      continue;
    }
    Json ops = Json::array();
    const Json& refs = member(member(p, "metadata"), "ownerReferences");
    for (size_t i = 0; refs.is_array() && i < refs.size(); ++i)
      if (getString(refs[i], "uid") == uid) ops.push_back({{"op", "remove"}, {"path", "/metadata/ownerReferences/" + std::to_string(i)}});
    const Json& finalizers = member(member(p, "metadata"), "finalizers");
    for (size_t i = 0; finalizers.is_array() && i < finalizers.size(); ++i)
      if (finalizers[i] == kTrackingFinalizer) ops.push_back({{"op", "remove"}, {"path", "/metadata/finalizers/" + std::to_string(i)}});
    TRY(patchPod(p, std::move(ops)));
  }
  pods = std::move(kept);

  // Adopt the orphans that match, as long as the Job is the one the selector was made for.
  std::vector<const Json*> orphans;
  std::vector<Json> inNamespace = pods_.list(namespaceOf(job));
  for (const Json& p : inNamespace)
    if (controllerRef(p) == nullptr && !isDeleting(p) && matches(p)) orphans.push_back(&p);
  if (orphans.empty()) return {};
  auto live = ctx_.client.get(kJobs, namespaceOf(job), nameOf(job));
  if (!live.ok() || uidOf(*live) != uid || isDeleting(*live)) return {};
  for (const Json* p : orphans) {
    const Json& meta = member(*p, "metadata");
    Json ref = controllerRefTo(job, "batch/v1", "Job");
    Json ops = Json::array();
    if (member(meta, "ownerReferences").is_array())
      ops.push_back({{"op", "add"}, {"path", "/metadata/ownerReferences/-"}, {"value", ref}});
    else
      ops.push_back({{"op", "add"}, {"path", "/metadata/ownerReferences"}, {"value", Json::array({ref})}});
    if (!hasFinalizer(*p, kTrackingFinalizer)) {
      if (member(meta, "finalizers").is_array())
        ops.push_back({{"op", "add"}, {"path", "/metadata/finalizers/-"}, {"value", kTrackingFinalizer}});
      else
        ops.push_back({{"op", "add"}, {"path", "/metadata/finalizers"}, {"value", Json::array({kTrackingFinalizer})}});
    }
    TRY(patchPod(*p, std::move(ops)));
    log::v(2, "job adopted pod", {{"job", nameOf(job)}, {"pod", nameOf(*p)}});
  }
  return {};
}

Result<void> JobController::releasePod(const std::string& key, const Json& pod) {
  // Expected before the patch: the informer may deliver the change before it returns.
  const std::string uid = uidOf(pod);
  {
    std::lock_guard<std::mutex> lock(mu_);
    state_[key].finalizersRemoved.insert(uid);
  }
  auto r = removeFinalizer(pod);
  if (!r.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    state_[key].finalizersRemoved.erase(uid);
  }
  return r;
}

}  // namespace nave::controllers::batch
