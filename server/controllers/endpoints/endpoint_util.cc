#include "server/controllers/endpoints/endpoint_util.h"

#include "common/time.h"

namespace nave::controllers::endpoints {
namespace {

const Json& member(const Json& o, const char* name) {
  static const Json empty = Json::object();
  const Json* m = findMember(o, name);
  return m && m->is_object() ? *m : empty;
}

}  // namespace

const Json* serviceSelector(const Json& service) {
  const Json* selector = findMember(member(service, "spec"), "selector");
  if (selector == nullptr || !selector->is_object()) return nullptr;
  return selector;
}

bool selectorMatches(const Json& selector, const Json& labels) {
  // A Service's selector is a set of equalities; an empty one selects nothing here.
  if (!selector.is_object() || selector.empty()) return false;
  for (auto& [k, v] : selector.items())
    if (!labels.is_object() || !labels.contains(k) || labels[k] != v) return false;
  return true;
}

bool isHeadless(const Json& service) {
  return getString(member(service, "spec"), "clusterIP") == "None";
}

bool podIsReady(const Json& pod) {
  const Json* conditions = findMember(member(pod, "status"), "conditions");
  if (conditions == nullptr || !conditions->is_array()) return false;
  for (const Json& c : *conditions)
    if (getString(c, "type") == "Ready") return getString(c, "status") == "True";
  return false;
}

bool podIsTerminating(const Json& pod) {
  const Json* ts = findMember(member(pod, "metadata"), "deletionTimestamp");
  return ts != nullptr && !ts->is_null();
}

bool shouldPodBeInEndpoints(const Json& pod, bool includeTerminating) {
  std::string phase = getString(member(pod, "status"), "phase");
  if (phase == "Succeeded" || phase == "Failed") return false;
  if (podIPv4(pod).empty()) return false;
  if (!includeTerminating && podIsTerminating(pod)) return false;
  return true;
}

std::string podIPv4(const Json& pod) {
  const Json& status = member(pod, "status");
  std::vector<std::string> ips;
  if (const Json* list = findMember(status, "podIPs"); list && list->is_array())
    for (const Json& ip : *list) ips.push_back(getString(ip, "ip"));
  ips.push_back(getString(status, "podIP"));
  for (const std::string& ip : ips)
    if (!ip.empty() && ip.find(':') == std::string::npos) return ip;
  return "";
}

std::optional<int> resolveTargetPort(const Json& pod, const Json& servicePort) {
  const Json* target = findMember(servicePort, "targetPort");
  if (target == nullptr || target->is_null()) return static_cast<int>(getInt(servicePort, "port"));
  if (target->is_number_integer()) return target->get<int>();
  if (!target->is_string()) return std::nullopt;
  std::string name = target->get<std::string>();
  if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos)
    return std::stoi(name);
  std::string protocol = getString(servicePort, "protocol", "TCP");
  const Json* containers = findMember(member(pod, "spec"), "containers");
  if (containers == nullptr || !containers->is_array()) return std::nullopt;
  for (const Json& c : *containers) {
    const Json* ports = findMember(c, "ports");
    if (ports == nullptr || !ports->is_array()) continue;
    for (const Json& p : *ports)
      if (getString(p, "name") == name && getString(p, "protocol", "TCP") == protocol)
        return static_cast<int>(getInt(p, "containerPort"));
  }
  return std::nullopt;
}

std::string endpointHostname(const Json& pod, const Json& service) {
  const Json& spec = member(pod, "spec");
  std::string hostname = getString(spec, "hostname");
  if (hostname.empty()) return "";
  if (getString(spec, "subdomain") != getString(member(service, "metadata"), "name")) return "";
  if (getString(member(pod, "metadata"), "namespace") !=
      getString(member(service, "metadata"), "namespace"))
    return "";
  return hostname;
}

Json podReference(const Json& pod) {
  const Json& md = member(pod, "metadata");
  return {{"kind", "Pod"},
          {"namespace", getString(md, "namespace")},
          {"name", getString(md, "name")},
          {"uid", getString(md, "uid")}};
}

void enqueueServicesOfPods(Informer& services, Informer& pods,
                           const std::function<void(const std::string&)>& enqueue) {
  services.addHandler(enqueue);
  pods.addObjectHandler([&services, enqueue](const Json* before, const Json* after) {
    const Json& pod = after ? *after : *before;
    std::string ns = getString(member(pod, "metadata"), "namespace");
    const Json noLabels = Json::object();
    auto labelsOf = [&](const Json* p) {
      return p ? member(*p, "metadata").value("labels", noLabels) : noLabels;
    };
    Json oldLabels = labelsOf(before), newLabels = labelsOf(after);
    for (const Json& svc : services.list(ns)) {
      const Json* selector = serviceSelector(svc);
      if (selector == nullptr) continue;
      if (selectorMatches(*selector, oldLabels) || selectorMatches(*selector, newLabels))
        enqueue(Informer::keyOf(svc));
    }
  });
}

void TriggerTimes::note(const std::string& key) {
  std::lock_guard lock(mu_);
  times_.try_emplace(key, formatRfc3339Micro(std::chrono::system_clock::now()));
}

void TriggerTimes::restore(const std::string& key, const std::string& time) {
  std::lock_guard lock(mu_);
  auto [it, fresh] = times_.try_emplace(key, time);
  if (!fresh && time < it->second) it->second = time;
}

std::string TriggerTimes::take(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = times_.find(key);
  if (it == times_.end()) return "";
  std::string t = it->second;
  times_.erase(it);
  return t;
}

}  // namespace nave::controllers::endpoints
