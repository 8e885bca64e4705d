#include "network/proxy/servicelb_controller.h"

#include <algorithm>

#include "common/log.h"

namespace nave::network::proxy {

namespace {

const client::Resource kServices{"", "v1", "services"};
const client::Resource kNodes{"", "v1", "nodes"};

bool handled(const Json& svc) {
  const Json& spec = objectMember(svc, "spec");
  return getString(spec, "type") == "LoadBalancer" && getString(spec, "loadBalancerClass").empty();
}

bool nodeReady(const Json& node) {
  const Json* conditions = findMember(objectMember(node, "status"), "conditions");
  if (!conditions || !conditions->is_array()) return false;
  for (const Json& c : *conditions)
    if (getString(c, "type") == "Ready") return getString(c, "status") == "True";
  return false;
}

// What a node's ingress entries of a LoadBalancer should change for.
std::string nodeView(const Json* node) {
  return node ? std::to_string(nodeReady(*node)) +
                    dumpJson(objectMember(*node, "status").value("addresses", Json::array()))
              : "";
}

}  // namespace

ServiceLbController::ServiceLbController(controllers::ControllerContext& ctx)
    : ctx_(ctx),
      services_(ctx.informers.informer(kServices)),
      nodes_(ctx.informers.informer(kNodes)),
      queue_(std::chrono::milliseconds(200), std::chrono::seconds(60)) {
  services_.addObjectHandler([this](const Json* before, const Json* after) {
    // Also a Service that stopped being a LoadBalancer: its addresses go.
    if (after && (handled(*after) || (before && handled(*before))))
      queue_.add(controllers::Informer::keyOf(*after));
  });
  nodes_.addObjectHandler([this](const Json* before, const Json* after) {
    if (nodeView(before) == nodeView(after)) return;
    for (const Json& svc : services_.list())
      if (handled(svc)) queue_.add(controllers::Informer::keyOf(svc));
  });
}

void ServiceLbController::start() {
  workers_.start(queue_, 1, "servicelb", [this](const std::string& key) { return reconcile(key); });
}

Json ServiceLbController::ingress() const {
  std::vector<std::string> ips;
  for (const Json& node : nodes_.list()) {
    if (!nodeReady(node)) continue;
    std::string internal, external;
    const Json* addrs = findMember(objectMember(node, "status"), "addresses");
    if (!addrs || !addrs->is_array()) continue;
    for (const Json& a : *addrs) {
      std::string type = getString(a, "type");
      if (type == "ExternalIP" && external.empty()) external = getString(a, "address");
      if (type == "InternalIP" && internal.empty()) internal = getString(a, "address");
    }
    std::string ip = external.empty() ? internal : external;
    if (!ip.empty() && std::find(ips.begin(), ips.end(), ip) == ips.end()) ips.push_back(ip);
  }
  std::sort(ips.begin(), ips.end());
  Json out = Json::array();
  for (const std::string& ip : ips) out.push_back({{"ip", ip}, {"ipMode", "VIP"}});
  return out;
}

Result<controllers::Reconciled> ServiceLbController::reconcile(const std::string& key) {
  std::optional<Json> svc = services_.get(key);
  if (!svc) return controllers::Reconciled{};
  const Json& lb = objectMember(objectMember(*svc, "status"), "loadBalancer");
  Json want = Json::array();
  if (handled(*svc)) {
    want = ingress();
  } else if (getString(objectMember(*svc, "spec"), "type") == "LoadBalancer") {
    return controllers::Reconciled{};  // another implementation's (loadBalancerClass)
  }
  if (lb.value("ingress", Json::array()) == want) return controllers::Reconciled{};
  const Json& md = (*svc)["metadata"];
  Json patch = {{"metadata", {{"resourceVersion", getString(md, "resourceVersion")}}},
                {"status", {{"loadBalancer", {{"ingress", want}}}}}};
  auto r = ctx_.client.patch(kServices, getString(md, "namespace"), getString(md, "name"),
                             api::PatchType::kMerge, dumpJson(patch), {}, "status");
  if (!r.ok()) {
    if (r.error().is(ErrorCode::kNotFound)) return controllers::Reconciled{};
    return std::move(r).error().context("status of LoadBalancer " + key);
  }
  log::info("servicelb: load balancer addresses", {{"service", key}, {"ingress", dumpJson(want)}});
  return controllers::Reconciled{};
}

}  // namespace nave::network::proxy
