#include "network/ingress/controller/ingress_status_controller.h"

#include <algorithm>

#include "network/ingress/routes.h"

namespace nave::ingress {
namespace {

const client::Resource kIngresses{"networking.k8s.io", "v1", "ingresses"};
const client::Resource kIngressClasses{"networking.k8s.io", "v1", "ingressclasses"};
const client::Resource kNodes{"", "v1", "nodes"};

bool nodeReady(const Json& node) {
  const Json* conditions = findMember(objectMember(node, "status"), "conditions");
  if (conditions == nullptr || !conditions->is_array()) return false;
  for (const Json& c : *conditions) {
    if (c.is_object() && getString(c, "type") == "Ready") return getString(c, "status") == "True";
  }
  return false;
}

std::string internalIp(const Json& node) {
  const Json* addresses = findMember(objectMember(node, "status"), "addresses");
  if (addresses == nullptr || !addresses->is_array()) return {};
  for (const Json& a : *addresses) {
    if (a.is_object() && getString(a, "type") == "InternalIP") return getString(a, "address");
  }
  return {};
}

}  // namespace

IngressStatusController::IngressStatusController(controllers::ControllerContext& ctx)
    : ctx_(ctx),
      ingresses_(ctx.informers.informer(kIngresses)),
      classes_(ctx.informers.informer(kIngressClasses)),
      nodes_(ctx.informers.informer(kNodes)),
      queue_(std::chrono::milliseconds(200), std::chrono::seconds(60)) {
  ingresses_.addHandler([this](const std::string& key) { queue_.add(key); });
  classes_.addHandler([this](const std::string&) { enqueueAll(); });
  // Only a node's readiness or addresses matter; its status is posted every few seconds.
  nodes_.addObjectHandler([this](const Json* before, const Json* after) {
    if (before && after && nodeReady(*before) == nodeReady(*after) &&
        internalIp(*before) == internalIp(*after))
      return;
    enqueueAll();
  });
}

void IngressStatusController::enqueueAll() {
  for (const Json& ing : ingresses_.list()) queue_.add(controllers::Informer::keyOf(ing));
}

void IngressStatusController::start() {
  workers_.start(queue_, 1, "ingress-status", [this](const std::string& key) { return reconcile(key); });
}

Result<controllers::Reconciled> IngressStatusController::reconcile(const std::string& key) {
  std::optional<Json> ing = ingresses_.get(key);
  if (!ing) return controllers::Reconciled{};
  std::vector<Json> own;
  for (Json& c : classes_.list()) {
    if (getString(objectMember(c, "spec"), "controller") == kControllerName) own.push_back(std::move(c));
  }
  if (!servedBy(*ing, own)) return controllers::Reconciled{};
  std::vector<std::string> ips;
  for (const Json& node : nodes_.list()) {
    std::string ip = internalIp(node);
    if (nodeReady(node) && !ip.empty()) ips.push_back(ip);
  }
  std::sort(ips.begin(), ips.end());
  Json want = Json::array();
  for (const std::string& ip : ips) want.push_back({{"ip", ip}});
  const Json& lb = objectMember(objectMember(*ing, "status"), "loadBalancer");
  const Json* have = findMember(lb, "ingress");
  if ((have && *have == want) || (!have && want.empty())) return controllers::Reconciled{};
  const Json& md = objectMember(*ing, "metadata");
  Json patch = {{"status", {{"loadBalancer", {{"ingress", want}}}}}};
  auto r = ctx_.client.patch(kIngresses, getString(md, "namespace"), getString(md, "name"),
                             api::PatchType::kMerge, dumpJson(patch), {}, "status");
  if (!r.ok() && !r.error().is(ErrorCode::kNotFound)) return std::move(r).error();
  return controllers::Reconciled{};
}

}  // namespace nave::ingress
