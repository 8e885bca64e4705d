// pods/NAME/eviction: the API-initiated eviction `kubectl drain` uses. A pod that does not run
// (Pending, Succeeded, Failed) or is being deleted goes at once; otherwise the one
// PodDisruptionBudget that selects it must allow a disruption, which the eviction uses up
// (status.disruptionsAllowed - 1, the pod recorded in status.disruptedPods) before the pod is
// deleted; when it does not, the answer is 429 and the caller retries. Two budgets for one pod
// are an error, as in Kubernetes.
#include <chrono>

#include "common/time.h"
#include "server/api/resource_api.h"
#include "server/api/status.h"
#include "server/selectors/selectors.h"

namespace nave::api {
namespace {

constexpr int kMaxAttempts = 16;

Error budgetViolation(const std::string& causeMessage) {
  Error e(ErrorCode::kTooManyRequests, "Cannot evict pod as it would violate the pod's disruption budget.");
  e.causes.push_back({"DisruptionBudget", causeMessage, ""});
  return e;
}

bool podReady(const Json& pod) {
  const Json* status = findMember(pod, "status");
  const Json* conditions = status ? findMember(*status, "conditions") : nullptr;
  if (conditions == nullptr || !conditions->is_array()) return false;
  for (const Json& c : *conditions)
    if (getString(c, "type") == "Ready") return getString(c, "status") == "True";
  return false;
}

}  // namespace

Result<WriteResult> ResourceApi::evict(RequestContext& ctx, const registry::ResourceType& podType,
                                       std::string_view ns, std::string_view name,
                                       const Json& eviction, const WriteOptions& options) {
  DeleteOptions del;
  if (const Json* d = findMember(eviction, "deleteOptions"); d && d->is_object()) {
    if (const Json* g = findMember(*d, "gracePeriodSeconds"); g && g->is_number_integer())
      del.gracePeriodSeconds = g->get<int64_t>();
    if (const Json* p = findMember(*d, "preconditions"); p && p->is_object()) {
      if (std::string uid = getString(*p, "uid"); !uid.empty()) del.preconditionUid = uid;
      if (std::string rv = getString(*p, "resourceVersion"); !rv.empty()) del.preconditionResourceVersion = rv;
    }
    del.propagationPolicy = getString(*d, "propagationPolicy");
  }
  del.dryRun = options.dryRun;
  auto deletePod = [&]() -> Result<WriteResult> {
    TRY(remove(ctx, podType, ns, name, del));
    return WriteResult{{{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", Json::object()},
                        {"status", "Success"}},
                       201};
  };
  auto pdbType = types_.find("policy", "v1", "poddisruptionbudgets");
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    Current cur = TRY(current(podType, ns, name));
    if (!cur.object) return notFound(podType, name);
    const Json& pod = cur.object->object;
    const Json& md = pod["metadata"];
    std::string phase = getString(pod.value("status", Json::object()), "phase");
    bool beingDeleted = md.contains("deletionTimestamp") && !md["deletionTimestamp"].is_null();
    if (phase == "Succeeded" || phase == "Failed" || phase == "Pending" || beingDeleted || !pdbType)
      return deletePod();

    // The budgets of the pod's namespace that select it.
    std::vector<cache::ObjectPtr> budgets;
    Json labels = md.value("labels", Json::object());
    cache::CacheList all = cache_.list(pdbType->keyPrefix() + std::string(ns) + "/", "", {}, 0);
    for (const cache::ObjectPtr& pdb : all.items) {
      const Json* spec = findMember(pdb->object, "spec");
      const Json* selector = spec ? findMember(*spec, "selector") : nullptr;
      if (selector == nullptr || selector->is_null()) continue;  // selects nothing
      auto parsed = selectors::LabelSelector::fromObject(*selector);
      if (parsed.ok() && parsed->matches(labels)) budgets.push_back(pdb);
    }
    if (budgets.empty()) return deletePod();
    if (budgets.size() > 1)
      return Error(ErrorCode::kInternal,
                   "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.");
    Json pdb = budgets[0]->object;
    std::string pdbName = getString(pdb["metadata"], "name");
    Json& status = pdb["status"];
    if (!status.is_object()) status = Json::object();
    if (getInt(status, "observedGeneration") < getInt(pdb["metadata"], "generation"))
      return budgetViolation("The disruption budget " + pdbName + " is still being processed by the server.");
    int64_t allowed = getInt(status, "disruptionsAllowed");
    int64_t currentHealthy = getInt(status, "currentHealthy");
    int64_t desiredHealthy = getInt(status, "desiredHealthy");
    // An unready pod does not count as healthy: evicting it costs nothing while the budget is
    // met (unhealthyPodEvictionPolicy IfHealthyBudget, the default; AlwaysAllow always).
    std::string unhealthyPolicy = getString(pdb.value("spec", Json::object()), "unhealthyPodEvictionPolicy");
    if (!podReady(pod) && (unhealthyPolicy == "AlwaysAllow" || currentHealthy >= desiredHealthy))
      return deletePod();
    if (allowed <= 0)
      return budgetViolation("The disruption budget " + pdbName + " needs " + std::to_string(desiredHealthy) +
                             " healthy pods and has " + std::to_string(currentHealthy) + " currently");
    status["disruptionsAllowed"] = allowed - 1;
    Json& disrupted = status["disruptedPods"];
    if (!disrupted.is_object()) disrupted = Json::object();
    disrupted[std::string(name)] = formatRfc3339(std::chrono::system_clock::now());
    if (options.dryRun) return deletePod();
    auto updated = storeUpdate(*pdbType, budgets[0], std::move(pdb), false);
    if (!updated.ok() && updated.error().is(ErrorCode::kConflict)) continue;
    TRY(updated);
    return deletePod();
  }
  return budgetViolation("too many concurrent changes to the disruption budget, try again");
}

}  // namespace nave::api
