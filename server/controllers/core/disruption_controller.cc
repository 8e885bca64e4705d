#include "server/controllers/core/disruption_controller.h"

#include <cmath>
#include <set>

#include "common/time.h"
#include "server/controllers/object_util.h"
#include "server/selectors/selectors.h"

namespace nave::controllers {
namespace {

const client::Resource kBudgets{"policy", "v1", "poddisruptionbudgets"};
const client::Resource kPods{"", "v1", "pods"};
const client::Resource kReplicaSets{"apps", "v1", "replicasets"};
const client::Resource kStatefulSets{"apps", "v1", "statefulsets"};
constexpr auto kDisruptedPodTimeout = std::chrono::minutes(2);

// An IntOrString of a budget: an integer, or "N%" of `total` rounded up.
std::optional<int64_t> scaled(const Json& v, int64_t total) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (!v.is_string()) return std::nullopt;
  std::string s = v.get<std::string>();
  if (s.empty() || s.back() != '%') return std::nullopt;
  char* end = nullptr;
  long pct = std::strtol(s.c_str(), &end, 10);
  if (end != s.c_str() + s.size() - 1) return std::nullopt;
  return static_cast<int64_t>(std::ceil(static_cast<double>(pct) * static_cast<double>(total) / 100.0));
}

}  // namespace

DisruptionController::DisruptionController(ControllerContext& ctx)
    : ctx_(ctx),
      budgets_(ctx.informers.informer(kBudgets)),
      pods_(ctx.informers.informer(kPods)),
      replicaSets_(ctx.informers.informer(kReplicaSets)),
      statefulSets_(ctx.informers.informer(kStatefulSets)),
      queue_(std::chrono::milliseconds(50), std::chrono::seconds(30)) {
  budgets_.addHandler([this](const std::string& key) { queue_.add(key); });
  // A pod, ReplicaSet or StatefulSet change may change its namespace's budgets.
  auto byNamespace = [this](const Json* before, const Json* after) {
    const Json& o = after ? *after : *before;
    std::string ns = getString(o["metadata"], "namespace");
    for (const std::string& key : budgets_.keysByIndex(Informer::kNamespaceIndex, ns)) queue_.add(key);
  };
  pods_.addObjectHandler(byNamespace);
  replicaSets_.addObjectHandler(byNamespace);
  statefulSets_.addObjectHandler(byNamespace);
}

void DisruptionController::start() {
  workers_.start(queue_, 1, "disruption", [this](const std::string& key) { return reconcile(key); });
}

std::optional<int64_t> DisruptionController::controllerScale(const std::string& ns,
                                                             const std::vector<Json>& pods) {
  std::set<std::string> seen;
  int64_t total = 0;
  for (const Json& pod : pods) {
    const Json* controller = nullptr;
    for (const Json& ref : pod["metadata"].value("ownerReferences", Json::array()))
      if (getBool(ref, "controller")) controller = &ref;
    if (controller == nullptr) return std::nullopt;
    std::string uid = getString(*controller, "uid");
    if (!seen.insert(uid).second) continue;
    std::string kind = getString(*controller, "kind");
    Informer* informer = kind == "ReplicaSet" ? &replicaSets_ : kind == "StatefulSet" ? &statefulSets_ : nullptr;
    if (informer == nullptr) return std::nullopt;
    auto owner = informer->get(ns + "/" + getString(*controller, "name"));
    if (!owner || getString((*owner)["metadata"], "uid") != uid) return std::nullopt;
    total += getInt(owner->value("spec", Json::object()), "replicas", 1);
  }
  return total;
}

Result<Reconciled> DisruptionController::reconcile(const std::string& key) {
  auto budget = budgets_.get(key);
  if (!budget || isDeleting(*budget)) return Reconciled{};
  const Json& md = (*budget)["metadata"];
  std::string ns = getString(md, "namespace");
  const Json spec = budget->value("spec", Json::object());
  std::vector<Json> pods;
  if (const Json* sel = findMember(spec, "selector"); sel && !sel->is_null()) {
    auto selector = selectors::LabelSelector::fromObject(*sel);
    if (selector.ok())
      for (Json& pod : pods_.list(ns))
        if (selector->matches(pod["metadata"].value("labels", Json::object()))) pods.push_back(std::move(pod));
  }
  Json old = budget->value("status", Json::object());

  // Pods evicted but not yet deleted stay counted as disrupted for a while.
  auto now = std::chrono::system_clock::now();
  Json disrupted = Json::object();
  std::optional<std::chrono::milliseconds> recheck;
  const Json previouslyDisrupted = old.value("disruptedPods", Json::object());
  for (auto& [name, at] : previouslyDisrupted.items()) {
    auto when = parseRfc3339(at.is_string() ? at.get<std::string>() : "");
    if (!when || now - *when > kDisruptedPodTimeout) continue;
    bool stillThere = false;
    for (const Json& p : pods)
      if (getString(p["metadata"], "name") == name && !isDeleting(p)) stillThere = true;
    if (!stillThere) continue;
    disrupted[name] = at;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*when + kDisruptedPodTimeout - now);
    if (!recheck || left < *recheck) recheck = left;
  }
  int64_t healthy = 0;
  for (const Json& p : pods)
    if (isPodReady(p) && !isDeleting(p) && !disrupted.contains(getString(p["metadata"], "name"))) healthy++;

  int64_t expected = static_cast<int64_t>(pods.size());
  int64_t desired = 0;
  const Json* minAvailable = findMember(spec, "minAvailable");
  const Json* maxUnavailable = findMember(spec, "maxUnavailable");
  bool unknownScale = false;
  if (minAvailable && minAvailable->is_number_integer()) {
    desired = minAvailable->get<int64_t>();
  } else {
    auto scale = controllerScale(ns, pods);
    if (!scale) unknownScale = !pods.empty();
    else expected = *scale;
    if (minAvailable) desired = scaled(*minAvailable, expected).value_or(0);
    else if (maxUnavailable) desired = std::max<int64_t>(0, expected - scaled(*maxUnavailable, expected).value_or(0));
  }
  int64_t allowed = unknownScale ? 0 : std::max<int64_t>(0, healthy - desired);

  Json status = old;
  status["observedGeneration"] = getInt(md, "generation");
  status["disruptionsAllowed"] = allowed;
  status["currentHealthy"] = healthy;
  status["desiredHealthy"] = desired;
  status["expectedPods"] = expected;
  if (disrupted.empty()) status.erase("disruptedPods");
  else status["disruptedPods"] = disrupted;
  std::string condStatus = allowed > 0 ? "True" : "False";
  std::string reason = allowed > 0 ? "SufficientPods" : unknownScale ? "SyncFailed" : "InsufficientPods";
  Json conditions = Json::array();
  bool same = false;
  for (const Json& c : old.value("conditions", Json::array()))
    if (getString(c, "type") == "DisruptionAllowed" && getString(c, "status") == condStatus &&
        getString(c, "reason") == reason) {
      conditions.push_back(c);
      same = true;
    }
  if (!same)
    conditions.push_back({{"type", "DisruptionAllowed"}, {"status", condStatus}, {"reason", reason},
                          {"message", ""}, {"observedGeneration", getInt(md, "generation")},
                          {"lastTransitionTime", formatRfc3339(now)}});
  status["conditions"] = conditions;
  Reconciled out;
  if (recheck) out.requeueAfter = *recheck + std::chrono::milliseconds(100);
  if (status == old) return out;
  Json updated = *budget;
  updated["status"] = status;
  auto r = ctx_.client.update(kBudgets, ns, updated, {}, "status");
  if (!r.ok() && !r.error().is(ErrorCode::kNotFound)) return std::move(r).error();
  return out;
}

}  // namespace nave::controllers
