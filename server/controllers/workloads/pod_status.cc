#include "server/controllers/workloads/pod_status.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "server/controllers/workloads/controller_refs.h"

namespace nave::controllers::workloads {

namespace {

const Json* readyCondition(const Json& pod) {
  const Json* status = findMember(pod, "status");
  const Json* conditions = status ? findMember(*status, "conditions") : nullptr;
  if (conditions == nullptr || !conditions->is_array()) return nullptr;
  for (const Json& c : *conditions)
    if (getString(c, "type") == "Ready") return &c;
  return nullptr;
}

std::string phaseOf(const Json& pod) {
  const Json* status = findMember(pod, "status");
  return status ? getString(*status, "phase") : "";
}

int phaseOrdinal(const std::string& phase) {
  if (phase == "Pending") return 0;
  if (phase == "Unknown") return 1;
  if (phase == "Running") return 2;
  return 0;
}

int64_t deletionCost(const Json& pod) {
  const Json* md = findMember(pod, "metadata");
  const Json* annotations = md ? findMember(*md, "annotations") : nullptr;
  if (annotations == nullptr) return 0;
  std::string v = getString(*annotations, "controller.kubernetes.io/pod-deletion-cost");
  if (v.empty()) return 0;
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  return end != nullptr && *end == '\0' ? n : 0;
}

int64_t maxRestarts(const Json& pod) {
  int64_t most = 0;
  const Json* status = findMember(pod, "status");
  for (const char* field : {"containerStatuses", "initContainerStatuses"}) {
    const Json* statuses = status ? findMember(*status, field) : nullptr;
    if (statuses == nullptr || !statuses->is_array()) continue;
    for (const Json& s : *statuses) most = std::max(most, getInt(s, "restartCount"));
  }
  return most;
}

std::optional<WallTime> creationTime(const Json& pod) {
  const Json* md = findMember(pod, "metadata");
  return md ? parseRfc3339(getString(*md, "creationTimestamp")) : std::nullopt;
}

// Kubernetes buckets ages by their base-2 logarithm (in nanoseconds) so that pods of about the
// same age are not told apart by a few seconds.
int logBucket(WallTime t, WallTime now) {
  auto d = std::chrono::duration_cast<std::chrono::nanoseconds>(now - t).count();
  return d > 0 ? static_cast<int>(std::log2(static_cast<double>(d))) : -1;
}

// -1 when a sorts first, 1 when b does, 0 when the times do not decide. A missing time sorts
// first; otherwise the later (younger) time does.
int compareTimes(const std::optional<WallTime>& a, const std::optional<WallTime>& b, WallTime now,
                 const Json& podA, const Json& podB) {
  if (a == b) return 0;
  if (!a || !b) return !a ? -1 : 1;
  int diff = logBucket(*a, now) - logBucket(*b, now);
  if (diff == 0) {
    std::string ua = getString(podA["metadata"], "uid"), ub = getString(podB["metadata"], "uid");
    return ua == ub ? 0 : (ua < ub ? -1 : 1);
  }
  return diff < 0 ? -1 : 1;
}

}  // namespace

bool isPodActive(const Json& pod) {
  std::string phase = phaseOf(pod);
  return phase != "Succeeded" && phase != "Failed" && !hasDeletionTimestamp(pod);
}

std::optional<WallTime> podReadySince(const Json& pod) {
  const Json* c = readyCondition(pod);
  if (c == nullptr || getString(*c, "status") != "True") return std::nullopt;
  auto t = parseRfc3339(getString(*c, "lastTransitionTime"));
  return t ? t : std::optional<WallTime>(WallTime{});
}

std::optional<WallTime> podAvailableAt(const Json& pod, int64_t minReadySeconds) {
  auto since = podReadySince(pod);
  if (!since) return std::nullopt;
  return *since + std::chrono::seconds(minReadySeconds);
}

bool isPodAvailable(const Json& pod, int64_t minReadySeconds, WallTime now) {
  auto since = podReadySince(pod);
  if (!since) return false;
  if (minReadySeconds == 0) return true;
  // Kubernetes: available when readySince + minReadySeconds is before now.
  return *since != WallTime{} && *since + std::chrono::seconds(minReadySeconds) < now;
}

void sortPodsForDeletion(std::vector<Json>& pods, std::vector<int> ranks, WallTime now) {
  std::vector<size_t> order(pods.size());
  std::iota(order.begin(), order.end(), 0);
  auto before = [&](size_t i, size_t j) {
    const Json& a = pods[i];
    const Json& b = pods[j];
    std::string nodeA = getString(a.value("spec", Json::object()), "nodeName");
    std::string nodeB = getString(b.value("spec", Json::object()), "nodeName");
    if (nodeA != nodeB && (nodeA.empty() || nodeB.empty())) return nodeA.empty();
    int pa = phaseOrdinal(phaseOf(a)), pb = phaseOrdinal(phaseOf(b));
    if (pa != pb) return pa < pb;
    bool ra = isPodReady(a), rb = isPodReady(b);
    if (ra != rb) return !ra;
    int64_t ca = deletionCost(a), cb = deletionCost(b);
    if (ca != cb) return ca < cb;
    if (ranks[i] != ranks[j]) return ranks[i] > ranks[j];
    if (ra && rb) {
      auto ta = podReadySince(a), tb = podReadySince(b);
      if (*ta == WallTime{}) ta.reset();
      if (*tb == WallTime{}) tb.reset();
      if (int c = compareTimes(ta, tb, now, a, b); c != 0) return c < 0;
    }
    int64_t restartsA = maxRestarts(a), restartsB = maxRestarts(b);
    if (restartsA != restartsB) return restartsA > restartsB;
    if (int c = compareTimes(creationTime(a), creationTime(b), now, a, b); c != 0) return c < 0;
    return false;
  };
  std::stable_sort(order.begin(), order.end(), before);
  std::vector<Json> sorted;
  sorted.reserve(pods.size());
  for (size_t i : order) sorted.push_back(std::move(pods[i]));
  pods = std::move(sorted);
}

}  // namespace nave::controllers::workloads
