#include "server/controllers/endpoints/endpointslice_controller.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/log.h"

namespace nave::controllers {
namespace {

using namespace endpoints;

constexpr char kServiceIndex[] = "service";
constexpr char kZoneLabel[] = "topology.kubernetes.io/zone";

// What identifies an endpoint across syncs: its pod, else its address.
std::string endpointId(const Json& e) {
  std::string uid = getString(e.value("targetRef", Json::object()), "uid");
  if (!uid.empty()) return uid;
  const Json addresses = e.value("addresses", Json::array());
  return addresses.empty() ? "" : addresses[0].get<std::string>();
}

std::string firstAddress(const Json& e) {
  const Json addresses = e.value("addresses", Json::array());
  return addresses.empty() || !addresses[0].is_string() ? "" : addresses[0].get<std::string>();
}

}  // namespace

EndpointSliceController::EndpointSliceController(ControllerContext& ctx)
    : ctx_(ctx),
      services_(ctx.informers.informer(kServices)),
      pods_(ctx.informers.informer(kPods)),
      nodes_(ctx.informers.informer(kNodes)),
      slices_(ctx.informers.informer(kEndpointSlices)),
      queue_(std::chrono::milliseconds(50), std::chrono::seconds(60)) {
  enqueueServicesOfPods(services_, pods_, [this](const std::string& key) {
    triggerTimes_.note(key);
    queue_.add(key);
  });
  slices_.addIndex(kServiceIndex, [](const Json& slice) {
    const Json& md = slice.value("metadata", Json::object());
    const Json labels = md.value("labels", Json::object());
    if (getString(labels, kManagedByLabel) != kSliceControllerName)
      return std::vector<std::string>{};
    std::string svc = getString(labels, kServiceNameLabel);
    if (svc.empty()) return std::vector<std::string>{};
    return std::vector<std::string>{getString(md, "namespace") + "/" + svc};
  });
  // A slice of ours deleted by someone else is recreated.
  slices_.addObjectHandler([this](const Json* before, const Json* after) {
    if (after != nullptr) return;
    const Json& md = before->value("metadata", Json::object());
    const Json labels = md.value("labels", Json::object());
    if (getString(labels, kManagedByLabel) == kSliceControllerName)
      queue_.add(getString(md, "namespace") + "/" + getString(labels, kServiceNameLabel));
  });
  // A node's zone appears in its endpoints.
  nodes_.addObjectHandler([this](const Json* before, const Json* after) {
    auto zone = [](const Json* n) {
      return n ? getString(n->value("metadata", Json::object()).value("labels", Json::object()),
                           kZoneLabel)
               : "";
    };
    if (before == nullptr || after == nullptr || zone(before) == zone(after)) return;
    for (const Json& svc : services_.list()) queue_.add(Informer::keyOf(svc));
  });
}

void EndpointSliceController::start() {
  workers_.start(queue_, 2, "endpointslice",
                 [this](const std::string& key) { return reconcile(key); });
}

bool EndpointSliceController::informerCaughtUp(const std::string& key,
                                               const std::vector<Json>& slices) {
  std::lock_guard lock(mu_);
  auto it = expected_.find(key);
  if (it == expected_.end()) return true;
  std::set<std::string> seen;
  for (const Json& s : slices) seen.insert(getString(s["metadata"], "name"));
  Expected& e = it->second;
  std::erase_if(e.created, [&](const std::string& n) { return seen.count(n) > 0; });
  std::erase_if(e.deleted, [&](const std::string& n) { return seen.count(n) == 0; });
  // Writes the watch never shows (a slice deleted right after its creation) are forgotten.
  if ((e.created.empty() && e.deleted.empty()) ||
      std::chrono::steady_clock::now() - e.since > std::chrono::seconds(10)) {
    expected_.erase(it);
    return true;
  }
  return false;
}

Json EndpointSliceController::newSlice(const Json& service, const Json& ports) const {
  const Json& md = service["metadata"];
  std::string name = getString(md, "name");
  // generateName leaves room for its five random characters within 63.
  std::string prefix = name.size() > 57 ? name.substr(0, 57) : name;
  Json slice = {{"apiVersion", "discovery.k8s.io/v1"},
                {"kind", "EndpointSlice"},
                {"metadata",
                 {{"generateName", prefix + "-"},
                  {"namespace", getString(md, "namespace")},
                  {"ownerReferences",
                   {{{"apiVersion", "v1"},
                     {"kind", "Service"},
                     {"name", name},
                     {"uid", getString(md, "uid")},
                     {"controller", true},
                     {"blockOwnerDeletion", true}}}}}},
                {"addressType", "IPv4"},
                {"endpoints", Json::array()}};
  if (!ports.empty()) slice["ports"] = ports;
  return slice;
}

Result<Reconciled> EndpointSliceController::reconcile(const std::string& key) {
  auto slash = key.find('/');
  std::string ns = key.substr(0, slash);
  auto service = services_.get(key);
  std::vector<Json> existing = slices_.byIndex(kServiceIndex, key);
  if (!informerCaughtUp(key, existing)) return Reconciled{std::chrono::milliseconds(100)};
  // ExternalName Services have no endpoints of ours.
  bool externalName = service && getString((*service)["spec"], "type") == "ExternalName";
  if (!service || externalName) {
    // The garbage collector would delete them too (they are owned); this is quicker.
    triggerTimes_.take(key);
    for (const Json& s : existing) {
      auto r = ctx_.client.remove(kEndpointSlices, ns, getString(s["metadata"], "name"));
      if (!r.ok() && !r.error().is(ErrorCode::kNotFound)) return std::move(r).error();
    }
    return Reconciled{};
  }
  const Json* selector = serviceSelector(*service);
  if (selector == nullptr) return Reconciled{};
  const Json& spec = (*service)["spec"];
  bool publishNotReady = spec.value("publishNotReadyAddresses", false);
  const Json servicePorts = spec.value("ports", Json::array());

  // The endpoints we want, grouped by their ports (as JSON text).
  std::map<std::string, std::map<std::string, Json>> desired;  // ports -> id -> endpoint
  for (const Json& pod : pods_.list(ns)) {
    if (!selectorMatches(*selector, pod["metadata"].value("labels", Json::object()))) continue;
    if (!shouldPodBeInEndpoints(pod, true)) continue;
    bool serving = podIsReady(pod);
    bool terminating = podIsTerminating(pod);
    Json e = {{"addresses", {podIPv4(pod)}},
              {"conditions",
               {{"ready", publishNotReady || (serving && !terminating)},
                {"serving", serving},
                {"terminating", terminating}}}};
    std::string hostname = endpointHostname(pod, *service);
    if (!hostname.empty()) e["hostname"] = hostname;
    std::string nodeName = getString(pod["spec"], "nodeName");
    if (!nodeName.empty()) {
      e["nodeName"] = nodeName;
      if (auto node = nodes_.get(nodeName)) {
        std::string zone =
            getString((*node)["metadata"].value("labels", Json::object()), kZoneLabel);
        if (!zone.empty()) e["zone"] = zone;
      }
    }
    e["targetRef"] = podReference(pod);
    Json ports = Json::array();
    for (const Json& sp : servicePorts) {
      auto port = resolveTargetPort(pod, sp);
      if (!port) continue;
      Json p = {{"name", getString(sp, "name")},
                {"port", *port},
                {"protocol", getString(sp, "protocol", "TCP")}};
      if (sp.contains("appProtocol")) p["appProtocol"] = sp["appProtocol"];
      ports.push_back(p);
    }
    desired[ports.dump()][endpointId(e)] = e;
  }

  const Json& smd = (*service)["metadata"];
  Json labels = smd.value("labels", Json::object());
  labels[kServiceNameLabel] = getString(smd, "name");
  labels[kManagedByLabel] = kSliceControllerName;
  if (isHeadless(*service))
    labels[kHeadlessLabel] = "";
  else
    labels.erase(kHeadlessLabel);
  std::string triggerTime = triggerTimes_.take(key);

  // Existing slices by their ports; an endpoint stays in the slice it is in while wanted.
  std::sort(existing.begin(), existing.end(), [](const Json& a, const Json& b) {
    return getString(a["metadata"], "name") < getString(b["metadata"], "name");
  });
  std::vector<Json> toWrite, toCreate, toDelete;
  if (desired.empty()) desired[Json::array().dump()];  // the placeholder's (empty) group
  for (auto& [portsKey, wanted] : desired) {
    Json ports = Json::parse(portsKey);
    std::vector<Json> slices;
    for (const Json& s : existing)
      if (s.value("ports", Json::array()).dump() == portsKey) slices.push_back(s);
    std::set<std::string> placed;
    std::vector<Json> contents;  // per slice, the new endpoint list
    for (const Json& s : slices) {
      Json list = Json::array();
      for (const Json& e : s.value("endpoints", Json::array())) {
        std::string id = endpointId(e);
        auto it = wanted.find(id);
        if (it == wanted.end() || placed.count(id)) continue;
        list.push_back(it->second);
        placed.insert(id);
      }
      contents.push_back(list);
    }
    std::vector<Json> fresh;
    for (auto& [id, e] : wanted)
      if (!placed.count(id)) fresh.push_back(e);
    std::sort(fresh.begin(), fresh.end(),
              [](const Json& a, const Json& b) { return firstAddress(a) < firstAddress(b); });
    size_t next = 0;
    for (Json& list : contents)
      while (next < fresh.size() && list.size() < kMaxEndpointsPerSlice)
        list.push_back(fresh[next++]);
    while (next < fresh.size()) {
      Json list = Json::array();
      while (next < fresh.size() && list.size() < kMaxEndpointsPerSlice)
        list.push_back(fresh[next++]);
      slices.push_back(newSlice(*service, ports));
      contents.push_back(list);
    }
    if (slices.empty()) {  // the placeholder of a Service without endpoints
      slices.push_back(newSlice(*service, ports));
      contents.push_back(Json::array());
    }
    for (size_t i = 0; i < slices.size(); ++i) {
      Json& s = slices[i];
      bool isNew = !s["metadata"].contains("uid");
      // An emptied slice goes, unless it is the group's last (a placeholder).
      if (contents[i].empty() && !wanted.empty()) {
        if (!isNew) toDelete.push_back(s);
        continue;
      }
      Json updated = s;
      updated["endpoints"] = contents[i];
      updated["metadata"]["labels"] = labels;
      updated["addressType"] = "IPv4";
      if (!isNew && updated == s) continue;
      if (!triggerTime.empty())
        updated["metadata"]["annotations"][kLastChangeTriggerTime] = triggerTime;
      (isNew ? toCreate : toWrite).push_back(updated);
    }
  }
  // Slices whose ports no endpoint has any more.
  for (const Json& s : existing) {
    std::string k = s.value("ports", Json::array()).dump();
    if (!desired.count(k)) toDelete.push_back(s);
  }

  std::optional<Error> failed;
  auto note = [&](const Result<Json>& r) {
    if (!r.ok() && !r.error().is(ErrorCode::kNotFound) && !failed) failed = r.error();
  };
  std::set<std::string> created, deleted;
  // Existing slices first: when one of them was stale, new slices made now would take
  // endpoints that belong in it.
  for (const Json& s : toWrite) note(ctx_.client.update(kEndpointSlices, ns, s));
  if (failed) toCreate.clear();
  for (const Json& s : toCreate) {
    auto r = ctx_.client.create(kEndpointSlices, ns, s);
    if (r.ok()) created.insert(getString((*r)["metadata"], "name"));
    note(r);
  }
  for (const Json& s : toDelete) {
    std::string name = getString(s["metadata"], "name");
    auto r = ctx_.client.remove(kEndpointSlices, ns, name);
    if (r.ok() || r.error().is(ErrorCode::kNotFound)) deleted.insert(name);
    note(r);
  }
  if (!created.empty() || !deleted.empty()) {
    std::lock_guard lock(mu_);
    Expected& e = expected_[key];
    e.created.insert(created.begin(), created.end());
    e.deleted.insert(deleted.begin(), deleted.end());
    e.since = std::chrono::steady_clock::now();
  }
  if (failed) {
    if (!triggerTime.empty()) triggerTimes_.restore(key, triggerTime);
    return *failed;
  }
  return Reconciled{};
}

}  // namespace nave::controllers
