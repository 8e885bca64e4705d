#include "server/controllers/endpoints/endpoints_controller.h"

#include <algorithm>
#include <map>

#include "common/log.h"

namespace nave::controllers {
namespace {

using namespace endpoints;

struct Subset {
  Json ports;
  std::vector<Json> ready, notReady;
};

bool byIp(const Json& a, const Json& b) {
  std::string ia = getString(a, "ip"), ib = getString(b, "ip");
  if (ia != ib) return ia < ib;
  return getString(a.value("targetRef", Json::object()), "uid") <
         getString(b.value("targetRef", Json::object()), "uid");
}

constexpr char kOverCapacity[] = "endpoints.kubernetes.io/over-capacity";

}  // namespace

bool EndpointsController::truncateSubsets(Json& subsets) {
  size_t total = 0;
  for (const Json& s : subsets)
    total += s.value("addresses", Json::array()).size() +
             s.value("notReadyAddresses", Json::array()).size();
  if (total <= EndpointsController::kMaxAddresses) return false;
  size_t room = EndpointsController::kMaxAddresses;
  for (const char* list : {"addresses", "notReadyAddresses"})
    for (Json& s : subsets) {
      if (!s.contains(list)) continue;
      Json& addresses = s[list];
      if (addresses.size() > room)
        addresses.erase(addresses.begin() + static_cast<std::ptrdiff_t>(room), addresses.end());
      room -= addresses.size();
      if (addresses.empty()) s.erase(list);
    }
  Json kept = Json::array();
  for (Json& s : subsets)
    if (s.contains("addresses") || s.contains("notReadyAddresses")) kept.push_back(std::move(s));
  subsets = std::move(kept);
  return true;
}

EndpointsController::EndpointsController(ControllerContext& ctx)
    : ctx_(ctx),
      services_(ctx.informers.informer(kServices)),
      pods_(ctx.informers.informer(kPods)),
      endpoints_(ctx.informers.informer(kEndpoints)),
      queue_(std::chrono::milliseconds(50), std::chrono::seconds(60)) {
  enqueueServicesOfPods(services_, pods_, [this](const std::string& key) {
    triggerTimes_.note(key);
    queue_.add(key);
  });
  // Endpoints deleted or changed by someone else are put back.
  endpoints_.addObjectHandler([this](const Json* before, const Json* after) {
    if (after == nullptr ||
        (before && before->value("subsets", Json()) != after->value("subsets", Json())))
      queue_.add(Informer::keyOf(after ? *after : *before));
  });
}

void EndpointsController::start() {
  workers_.start(queue_, 2, "endpoint", [this](const std::string& key) { return reconcile(key); });
}

Json EndpointsController::desiredSubsets(const Json& service, const std::vector<Json>& pods) {
  const Json& spec = service["spec"];
  bool publishNotReady = spec.value("publishNotReadyAddresses", false);
  const Json ports = spec.value("ports", Json::array());
  std::map<std::string, Subset> subsets;  // by the ports' JSON
  for (const Json& pod : pods) {
    if (!shouldPodBeInEndpoints(pod, publishNotReady)) continue;
    Json address = {{"ip", podIPv4(pod)}};
    std::string hostname = endpointHostname(pod, service);
    if (!hostname.empty()) address["hostname"] = hostname;
    std::string node = getString(pod["spec"], "nodeName");
    if (!node.empty()) address["nodeName"] = node;
    address["targetRef"] = podReference(pod);
    bool ready = publishNotReady || podIsReady(pod);
    Json resolved = Json::array();
    for (const Json& sp : ports) {
      auto port = resolveTargetPort(pod, sp);
      if (!port) continue;  // a named port this pod lacks
      Json p = {{"port", *port}, {"protocol", getString(sp, "protocol", "TCP")}};
      if (!getString(sp, "name").empty()) p["name"] = getString(sp, "name");
      if (sp.contains("appProtocol")) p["appProtocol"] = sp["appProtocol"];
      resolved.push_back(p);
    }
    // A pod serving none of the ports is left out, unless the Service is headless without ports.
    if (resolved.empty() && !(ports.empty() && isHeadless(service))) continue;
    Subset& s = subsets[resolved.dump()];
    s.ports = resolved;
    (ready ? s.ready : s.notReady).push_back(address);
  }
  std::vector<Json> out;
  for (auto& [_, s] : subsets) {
    std::sort(s.ready.begin(), s.ready.end(), byIp);
    std::sort(s.notReady.begin(), s.notReady.end(), byIp);
    Json subset = Json::object();
    if (!s.ready.empty()) subset["addresses"] = s.ready;
    if (!s.notReady.empty()) subset["notReadyAddresses"] = s.notReady;
    if (!s.ports.empty()) subset["ports"] = s.ports;
    out.push_back(subset);
  }
  auto firstIp = [](const Json& s) {
    const Json& list = s.contains("addresses") ? s["addresses"] : s["notReadyAddresses"];
    return getString(list[0], "ip");
  };
  std::sort(out.begin(), out.end(),
            [&](const Json& a, const Json& b) { return firstIp(a) < firstIp(b); });
  return Json(out);
}

Result<Reconciled> EndpointsController::reconcile(const std::string& key) {
  auto slash = key.find('/');
  std::string ns = key.substr(0, slash), name = key.substr(slash + 1);
  auto service = services_.get(key);
  auto current = endpoints_.get(key);
  if (!service) {
    triggerTimes_.take(key);
    if (current) {
      auto r = ctx_.client.remove(kEndpoints, ns, name);
      if (!r.ok() && !r.error().is(ErrorCode::kNotFound)) return std::move(r).error();
    }
    return Reconciled{};
  }
  if (serviceSelector(*service) == nullptr) return Reconciled{};
  std::vector<Json> pods;
  for (const Json& pod : pods_.list(ns))
    if (selectorMatches(*serviceSelector(*service),
                        pod["metadata"].value("labels", Json::object())))
      pods.push_back(pod);
  Json subsets = desiredSubsets(*service, pods);
  bool truncated = truncateSubsets(subsets);

  Json labels = (*service)["metadata"].value("labels", Json::object());
  labels["endpointslice.kubernetes.io/skip-mirror"] = "true";
  if (isHeadless(*service))
    labels[kHeadlessLabel] = "";
  else
    labels.erase(kHeadlessLabel);
  std::string triggerTime = triggerTimes_.take(key);
  auto overCapacity = [&](const Json& ep) {
    return !getString(ep["metadata"].value("annotations", Json::object()), kOverCapacity).empty();
  };
  if (current && current->value("subsets", Json::array()) == subsets &&
      (*current)["metadata"].value("labels", Json::object()) == labels &&
      overCapacity(*current) == truncated)
    return Reconciled{};

  Json ep = current ? *current
                    : Json{{"apiVersion", "v1"},
                           {"kind", "Endpoints"},
                           {"metadata", {{"name", name}, {"namespace", ns}}}};
  ep["metadata"]["labels"] = labels;
  Json& annotations = ep["metadata"]["annotations"];
  if (!annotations.is_object()) annotations = Json::object();
  if (!triggerTime.empty()) annotations[kLastChangeTriggerTime] = triggerTime;
  if (truncated)
    annotations[kOverCapacity] = "truncated";
  else
    annotations.erase(kOverCapacity);
  if (annotations.empty()) ep["metadata"].erase("annotations");
  if (subsets.empty())
    ep.erase("subsets");
  else
    ep["subsets"] = subsets;
  auto r =
      current ? ctx_.client.update(kEndpoints, ns, ep) : ctx_.client.create(kEndpoints, ns, ep);
  if (!r.ok()) {
    if (!triggerTime.empty()) triggerTimes_.restore(key, triggerTime);
    // A Service deleted meanwhile: its next sync cleans up.
    if (r.error().is(ErrorCode::kNotFound) && !services_.get(key)) return Reconciled{};
    return std::move(r).error();
  }
  return Reconciled{};
}

}  // namespace nave::controllers
