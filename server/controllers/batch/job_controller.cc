#include "server/controllers/batch/job_controller.h"

#include <algorithm>

#include "common/log.h"

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

  const WallTime now = options_.now();
  const Json& spec = job["spec"];
  const bool indexed = getString(spec, "completionMode") == "Indexed";
  const Json& completionsField = member(spec, "completions");
  const bool hasCompletions = completionsField.is_number_integer();
  const int64_t completions = hasCompletions ? completionsField.get<int64_t>() : 0;
  const int64_t parallelism = getInt(spec, "parallelism", 1);
  const int64_t backoffLimit = getInt(spec, "backoffLimit", 6);
  const bool suspended = getBool(spec, "suspend");
  const Json* failurePolicy = findMember(spec, "podFailurePolicy");
  if (failurePolicy != nullptr && !failurePolicy->is_object()) failurePolicy = nullptr;
  const bool onlyReplaceFailed = failurePolicy != nullptr || getString(spec, "podReplacementPolicy") == "Failed";
  const std::string restartPolicy = getString(member(member(spec, "template"), "spec"), "restartPolicy");

  Json status = job.contains("status") && job["status"].is_object() ? job["status"] : Json::object();
  const Json& uncountedIn = member(status, "uncountedTerminatedPods");
  std::set<std::string> uncountedSucceeded = uidSet(member(uncountedIn, "succeeded"));
  std::set<std::string> uncountedFailed = uidSet(member(uncountedIn, "failed"));
  std::set<int> succeededIndexes;
  if (indexed) succeededIndexes = parseIndexSet(getString(status, "completedIndexes"), static_cast<int>(completions));
  // backoffLimitPerIndex: indexes fail on their own, and the Job fails at the end if any did.
  const Json& perIndexField = member(spec, "backoffLimitPerIndex");
  const bool perIndex = indexed && perIndexField.is_number_integer();
  const int64_t backoffLimitPerIndex = perIndex ? perIndexField.get<int64_t>() : 0;
  std::set<int> failedIndexes;
  if (perIndex) failedIndexes = parseIndexSet(getString(status, "failedIndexes"), static_cast<int>(completions));
  std::map<int, int64_t> nextFailureCount;  // per index, for the pod that replaces a failed one

  // The finish decided by an earlier sync, waiting for pods to terminate.
  std::optional<Finish> finish;
  for (const char* interim : {"FailureTarget", "SuccessCriteriaMet"}) {
    if (const Json* c = findCondition(job, interim); c != nullptr && getString(*c, "status") == "True")
      finish = Finish{std::string(interim) == "FailureTarget" ? "Failed" : "Complete", getString(*c, "reason"),
                      getString(*c, "message")};
  }

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
  bool satisfied = (st.pendingCreates == 0 && st.pendingDeletes.empty()) ||
                   std::chrono::steady_clock::now() - st.expectedAt > kExpectationTimeout;
  std::set<std::string> finalizersRemoved = st.finalizersRemoved;
  lock.unlock();

  // Classify the pods and find the newly terminated ones.
  std::vector<const Json*> active, toRelease;
  std::map<int, std::vector<const Json*>> activeByIndex;
  int64_t terminating = 0, ready = 0, onFailureRestarts = 0;
  std::set<std::string> newSucceeded, newFailed;
  int newSucceededIndexes = 0;
  WallTime lastFailure{};
  for (const Json& p : pods) {
    const std::string phase = getString(member(p, "status"), "phase");
    const bool terminal = phase == "Succeeded" || phase == "Failed";
    const bool deleting = isDeleting(p);
    const int index = indexed ? podCompletionIndex(p) : -1;
    const bool validIndex = !indexed || (index >= 0 && index < completions);
    if (!terminal && !deleting) {
      active.push_back(&p);
      if (podReady(p)) ++ready;
      if (indexed) activeByIndex[index].push_back(&p);
      if (restartPolicy == "OnFailure") onFailureRestarts += restartCount(p);
    }
    if (!terminal && deleting) ++terminating;
    const std::string puid = uidOf(p);
    if (!hasFinalizer(p, kTrackingFinalizer) || finalizersRemoved.count(puid)) continue;
    const bool counted = uncountedSucceeded.count(puid) || uncountedFailed.count(puid);
    if (phase == "Succeeded") {
      if (indexed) {
        if (validIndex && succeededIndexes.insert(index).second) ++newSucceededIndexes;
      } else if (!counted) {
        newSucceeded.insert(puid);
      }
      toRelease.push_back(&p);
      continue;
    }
    // A deleted pod counts as failed (unless it is only replaced once it failed): its end is
    // not a success. Pods stopped because the Job succeeded early are not failures.
    const bool succeededEarly = finish && finish->type == "Complete";
    bool failed = phase == "Failed" || (deleting && !onlyReplaceFailed) || (deleting && finish);
    if (failed) {
      bool count = !counted && validIndex && !succeededEarly;
      std::string action;
      if (count && failurePolicy != nullptr && phase == "Failed") {
        auto m = matchPodFailurePolicy(*failurePolicy, p);
        if (m) action = m->action;
        if (action == "Ignore") count = false;
      }
      // Pods deleted because the Job was suspended are not failures.
      if (count && suspended && phase != "Failed") count = false;
      if (count) {
        newFailed.insert(puid);
        lastFailure = std::max(lastFailure, podFinishTime(p, now));
        if (perIndex && (action == "FailIndex" || indexFailureCount(p) + 1 > backoffLimitPerIndex))
          failedIndexes.insert(index);
      }
      toRelease.push_back(&p);
    }
  }
  if (perIndex) {
    for (const Json& p : pods) {
      if (getString(member(p, "status"), "phase") != "Failed") continue;
      if (failurePolicy != nullptr)
        if (auto m = matchPodFailurePolicy(*failurePolicy, p); m && m->action == "Ignore") continue;
      int64_t& next = nextFailureCount[podCompletionIndex(p)];
      next = std::max(next, indexFailureCount(p) + 1);
    }
  }

  lock.lock();
  if (!newSucceeded.empty() || newSucceededIndexes > 0) st.failuresAfterLastSuccess = 0;
  if (!newFailed.empty()) {
    st.failuresAfterLastSuccess += static_cast<int>(newFailed.size());
    st.lastFailure = lastFailure;
  }
  lock.unlock();

  const int64_t oldSucceeded = getInt(status, "succeeded");
  const int64_t oldFailed = getInt(status, "failed");
  const int64_t succeeded = indexed ? static_cast<int64_t>(succeededIndexes.size())
                                    : oldSucceeded + static_cast<int64_t>(uncountedSucceeded.size() + newSucceeded.size());
  const int64_t failed = oldFailed + static_cast<int64_t>(uncountedFailed.size() + newFailed.size());

  Json newStatus = status;
  if (!newStatus.contains("startTime") && !suspended) newStatus["startTime"] = formatRfc3339(now);
  std::optional<std::chrono::milliseconds> requeue;
  auto requeueIn = [&](std::chrono::milliseconds d) {
    d = std::max(d, std::chrono::milliseconds(1));
    if (!requeue || d < *requeue) requeue = d;
  };

  if (!finish && failurePolicy != nullptr) {
    for (const Json& p : pods) {
      if (getString(member(p, "status"), "phase") != "Failed") continue;
      if (auto m = matchPodFailurePolicy(*failurePolicy, p); m && m->action == "FailJob") {
        finish = Finish{"Failed", "PodFailurePolicy", m->message};
        break;
      }
    }
  }
  const Json& maxFailedIndexes = member(spec, "maxFailedIndexes");
  if (!finish && perIndex && maxFailedIndexes.is_number_integer() &&
      static_cast<int64_t>(failedIndexes.size()) > maxFailedIndexes.get<int64_t>())
    finish = Finish{"Failed", "MaxFailedIndexesExceeded", "Job has exceeded the specified maximal number of failed indexes"};
  if (!finish) {
    bool newFailure = failed > oldFailed;
    bool pastOnFailureLimit = restartPolicy == "OnFailure" &&
                              (backoffLimit == 0 ? onFailureRestarts > 0 : onFailureRestarts >= backoffLimit);
    std::optional<WallTime> startTime = parseRfc3339(getString(newStatus, "startTime"));
    const Json& deadline = member(spec, "activeDeadlineSeconds");
    if ((newFailure && static_cast<int64_t>(active.size()) != parallelism && failed > backoffLimit) ||
        pastOnFailureLimit) {
      finish = Finish{"Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit"};
    } else if (deadline.is_number_integer() && startTime && !suspended) {
      auto left = *startTime + std::chrono::seconds(deadline.get<int64_t>()) - now;
      if (left <= std::chrono::milliseconds(0))
        finish = Finish{"Failed", "DeadlineExceeded", "Job was active longer than specified deadline"};
      else
        requeueIn(std::chrono::duration_cast<std::chrono::milliseconds>(left));
    }
  }
  // successPolicy: an Indexed Job may succeed before every index did; its other pods stop.
  if (const Json& policy = member(spec, "successPolicy"); !finish && indexed && policy.is_object()) {
    if (std::optional<int> rule = matchSuccessPolicy(policy, succeededIndexes, static_cast<int>(completions)))
      finish = Finish{"Complete", "SuccessPolicy", "Matched rules at index " + std::to_string(*rule)};
  }

  // Start and stop pods.
  int64_t activeCount = static_cast<int64_t>(active.size());
  bool manageCalled = false;
  bool changedPods = false;
  std::vector<const Json*> toDelete;
  std::vector<int> toCreate;  // completion indexes, -1 for NonIndexed
  if (finish) {
    toDelete = active;  // a Job that ends stops its pods
  } else if (satisfied && !isDeleting(job)) {
    manageCalled = true;
    if (suspended) {
      toDelete = active;
    } else if (!indexed) {
      int64_t wantActive = parallelism;
      if (!hasCompletions) {
        if (succeeded > 0) wantActive = activeCount;
      } else {
        wantActive = std::clamp<int64_t>(completions - succeeded, 0, parallelism);
      }
      if (activeCount > wantActive) {
        std::vector<const Json*> sorted = active;
        std::sort(sorted.begin(), sorted.end(), deleteBefore);
        toDelete.assign(sorted.begin(), sorted.begin() + (activeCount - wantActive));
      }
      int64_t diff = wantActive - activeCount - (onlyReplaceFailed ? terminating : 0);
      for (int64_t i = 0; i < std::min<int64_t>(diff, kMaxPodChangesPerSync); ++i) toCreate.push_back(-1);
    } else {
      // One active pod per index that has not succeeded; extra pods and pods of unknown or
      // finished indexes go.
      int64_t kept = 0;
      std::set<int> busy;
      for (auto& [index, list] : activeByIndex) {
        std::sort(list.begin(), list.end(), [](const Json* a, const Json* b) { return deleteBefore(b, a); });
        bool valid = index >= 0 && index < completions && !succeededIndexes.count(index) &&
                     !failedIndexes.count(index);
        for (size_t i = 0; i < list.size(); ++i) {
          if (valid && i == 0) {
            ++kept;
            busy.insert(index);
          } else {
            toDelete.push_back(list[i]);
          }
        }
      }
      if (onlyReplaceFailed)
        for (const Json& p : pods)
          if (isDeleting(p) && !isPodTerminal(p)) busy.insert(podCompletionIndex(p));
      int64_t wantActive = std::min<int64_t>(
          parallelism, completions - static_cast<int64_t>(succeededIndexes.size() + failedIndexes.size()));
      int64_t diff = std::min<int64_t>(wantActive - kept, kMaxPodChangesPerSync);
      for (int i = 0; i < completions && diff > 0; ++i) {
        if (succeededIndexes.count(i) || failedIndexes.count(i) || busy.count(i)) continue;
        toCreate.push_back(i);
        --diff;
      }
    }
    if (!toCreate.empty()) {
      lock.lock();
      auto wait = backoffRemaining(st, now);
      lock.unlock();
      if (wait > std::chrono::milliseconds(0)) {
        toCreate.clear();
        requeueIn(wait);
      }
    }
  }
  if (!toDelete.empty() || !toCreate.empty()) {
    lock.lock();
    st.expectedAt = std::chrono::steady_clock::now();
    for (const Json* p : toDelete) st.pendingDeletes.insert(uidOf(*p));
    st.pendingCreates += static_cast<int>(toCreate.size());
    lock.unlock();
    changedPods = true;
  }
  std::optional<Error> podError;
  for (const Json* p : toDelete) {
    if (auto r = deletePod(job, *p); !r.ok()) {
      lock.lock();
      st.pendingDeletes.erase(uidOf(*p));
      lock.unlock();
      podError = std::move(r).error();
    }
  }
  int64_t created = 0;
  for (int index : toCreate) {
    std::optional<int64_t> failureCount;
    if (perIndex) failureCount = nextFailureCount[index];
    if (auto r = createPod(job, index, failureCount); !r.ok()) {
      lock.lock();
      st.pendingCreates = std::max(0, st.pendingCreates - 1);
      lock.unlock();
      podError = std::move(r).error();
    } else {
      ++created;
    }
  }
  activeCount = activeCount - static_cast<int64_t>(toDelete.size()) + created;

  if (!finish) {
    bool complete = hasCompletions ? succeeded >= completions && activeCount == 0
                                   : succeeded > 0 && activeCount == 0;
    if (perIndex && !failedIndexes.empty() &&
        static_cast<int64_t>(succeededIndexes.size() + failedIndexes.size()) >= completions && activeCount == 0) {
      finish = Finish{"Failed", "FailedIndexes", "Job has failed indexes"};
    } else if (complete) {
      finish = Finish{"Complete", "CompletionsReached", "Reached expected number of succeeded pods"};
    } else if (manageCalled) {
      if (suspended) {
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
  newStatus["ready"] = ready;
  newStatus["terminating"] = terminating;
  if (indexed) newStatus["completedIndexes"] = formatIndexSet(succeededIndexes);
  if (perIndex) newStatus["failedIndexes"] = formatIndexSet(failedIndexes);
  auto setUncounted = [&](const std::set<std::string>& s, const std::set<std::string>& f) {
    Json u = Json::object();
    if (!s.empty()) u["succeeded"] = uidArray(s);
    if (!f.empty()) u["failed"] = uidArray(f);
    newStatus["uncountedTerminatedPods"] = u;
  };
  // First record the pods about to be released as uncounted (or their indexes as completed),
  // so that a crash after removing their finalizers cannot lose them.
  uncountedSucceeded.insert(newSucceeded.begin(), newSucceeded.end());
  uncountedFailed.insert(newFailed.begin(), newFailed.end());
  setUncounted(uncountedSucceeded, uncountedFailed);
  newStatus["succeeded"] = indexed ? succeeded : oldSucceeded;
  newStatus["failed"] = oldFailed;
  auto writeStatus = [&]() -> Result<void> {
    if (newStatus == member(job, "status")) return {};
    Json next = job;
    next["status"] = newStatus;
    auto r = ctx_.client.update(kJobs, namespaceOf(job), next, {}, "status");
    if (!r.ok()) return std::move(r).error().context("updating status of job " + nameOf(job));
    job = std::move(*r);
    return {};
  };
  if (!toRelease.empty()) TRY(writeStatus());

  // Release the pods, then move what is no longer held into the counters.
  for (const Json* p : toRelease) {
    lock.lock();
    st.finalizersRemoved.insert(uidOf(*p));
    lock.unlock();
    if (auto r = removeFinalizer(*p); !r.ok()) {
      lock.lock();
      st.finalizersRemoved.erase(uidOf(*p));
      lock.unlock();
      podError = std::move(r).error();
    } else {
      finalizersRemoved.insert(uidOf(*p));
    }
  }
  std::map<std::string, const Json*> podByUid;
  for (const Json& p : pods) podByUid[uidOf(p)] = &p;
  auto released = [&](const std::string& u) {
    auto it = podByUid.find(u);
    return it == podByUid.end() || !hasFinalizer(*it->second, kTrackingFinalizer) || finalizersRemoved.count(u);
  };
  int64_t movedSucceeded = std::erase_if(uncountedSucceeded, released);
  int64_t movedFailed = std::erase_if(uncountedFailed, released);
  setUncounted(uncountedSucceeded, uncountedFailed);
  if (!indexed) newStatus["succeeded"] = oldSucceeded + movedSucceeded;
  newStatus["failed"] = oldFailed + movedFailed;

  // The end: once every pod is counted and none is still terminating.
  bool finished = false;
  if (finish && uncountedSucceeded.empty() && uncountedFailed.empty() && terminating == 0 && !changedPods) {
    ensureCondition(newStatus, finish->type, "True", finish->reason, finish->message, now);
    if (finish->type == "Complete") newStatus["completionTime"] = formatRfc3339(now);
    finished = true;
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
  return Reconciled{requeue};
}

}  // namespace nave::controllers::batch
