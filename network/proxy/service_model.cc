#include "network/proxy/service_model.h"

#include <netinet/in.h>

#include <algorithm>

namespace nave::network::proxy {

namespace {

uint8_t protocolNumber(const std::string& p) {
  if (p.empty() || p == "TCP") return IPPROTO_TCP;
  if (p == "UDP") return IPPROTO_UDP;
  if (p == "SCTP") return IPPROTO_SCTP;
  return 0;
}

void addAddress(std::vector<Ipv4Address>& out, const std::string& text) {
  auto ip = Ipv4Address::parse(text);
  if (ip.ok() && std::find(out.begin(), out.end(), *ip) == out.end()) out.push_back(*ip);
}

bool condition(const Json& conditions, const char* name, bool fallback) {
  const Json* c = findMember(conditions, name);
  return c && c->is_boolean() ? c->get<bool>() : fallback;
}

}  // namespace

Service parseService(const Json& service, const std::vector<Json>& slices) {
  const Json& md = objectMember(service, "metadata");
  const Json& spec = objectMember(service, "spec");
  Service s;
  s.ns = getString(md, "namespace");
  s.name = getString(md, "name");
  std::string type = getString(spec, "type", "ClusterIP");
  if (type == "ExternalName") return s;
  if (auto ip = Ipv4Address::parse(getString(spec, "clusterIP")); ip.ok()) {
    s.hasClusterIp = true;
    s.clusterIp = *ip;
  }
  if (const Json* ips = findMember(spec, "externalIPs"); ips && ips->is_array())
    for (const Json& ip : *ips)
      if (ip.is_string()) addAddress(s.externalIps, ip.get<std::string>());
  if (type == "LoadBalancer") {
    const Json& lb = objectMember(objectMember(service, "status"), "loadBalancer");
    if (const Json* ingress = findMember(lb, "ingress"); ingress && ingress->is_array())
      for (const Json& i : *ingress)  // ipMode Proxy: the load balancer sends to the nodes itself
        if (getString(i, "ipMode") != "Proxy") addAddress(s.loadBalancerIps, getString(i, "ip"));
  }
  bool external = type == "NodePort" || type == "LoadBalancer";
  s.internalLocal = getString(spec, "internalTrafficPolicy") == "Local";
  s.externalLocal = external && getString(spec, "externalTrafficPolicy") == "Local";
  if (getString(spec, "sessionAffinity") == "ClientIP") {
    const Json& cfg = objectMember(objectMember(spec, "sessionAffinityConfig"), "clientIP");
    s.affinitySeconds = static_cast<uint32_t>(getInt(cfg, "timeoutSeconds", 10800));
    if (s.affinitySeconds == 0) s.affinitySeconds = 10800;
  }
  const Json* ports = findMember(spec, "ports");
  if (!ports || !ports->is_array()) return s;
  for (const Json& p : *ports) {
    ServicePort sp;
    sp.name = getString(p, "name");
    sp.protocol = protocolNumber(getString(p, "protocol"));
    int64_t port = getInt(p, "port"), nodePort = getInt(p, "nodePort");
    if (sp.protocol == 0 || port <= 0 || port > 65535) continue;
    sp.port = static_cast<uint16_t>(port);
    if (external && nodePort > 0 && nodePort <= 65535)
      sp.nodePort = static_cast<uint16_t>(nodePort);
    for (const Json& slice : slices) {
      if (getString(slice, "addressType") != "IPv4") continue;
      // The slice's port of the same name (and protocol) carries the target port.
      const Json* slicePorts = findMember(slice, "ports");
      if (!slicePorts || !slicePorts->is_array()) continue;
      int64_t target = 0;
      for (const Json& q : *slicePorts) {
        if (getString(q, "name") == sp.name &&
            protocolNumber(getString(q, "protocol")) == sp.protocol)
          target = getInt(q, "port");
      }
      if (target <= 0 || target > 65535) continue;
      const Json* eps = findMember(slice, "endpoints");
      if (!eps || !eps->is_array()) continue;
      for (const Json& e : *eps) {
        const Json* addrs = findMember(e, "addresses");
        if (!addrs || !addrs->is_array() || addrs->empty() || !(*addrs)[0].is_string()) continue;
        auto ip = Ipv4Address::parse((*addrs)[0].get<std::string>());
        if (!ip.ok()) continue;
        const Json& c = objectMember(e, "conditions");
        Endpoint ep;
        ep.ip = *ip;
        ep.port = static_cast<uint16_t>(target);
        ep.ready = condition(c, "ready", true);
        ep.serving = condition(c, "serving", ep.ready);
        ep.terminating = condition(c, "terminating", false);
        ep.nodeName = getString(e, "nodeName");
        sp.endpoints.push_back(std::move(ep));
      }
    }
    std::sort(sp.endpoints.begin(), sp.endpoints.end(), [](const Endpoint& a, const Endpoint& b) {
      return std::tie(a.ip, a.port) < std::tie(b.ip, b.port);
    });
    sp.endpoints.erase(std::unique(sp.endpoints.begin(), sp.endpoints.end(),
                                   [](const Endpoint& a, const Endpoint& b) {
                                     return a.ip == b.ip && a.port == b.port;
                                   }),
                       sp.endpoints.end());
    s.ports.push_back(std::move(sp));
  }
  return s;
}

std::vector<Endpoint> usableEndpoints(const std::vector<Endpoint>& all,
                                      const std::string* onlyNode) {
  std::vector<Endpoint> ready, draining;
  for (const Endpoint& e : all) {
    if (onlyNode && e.nodeName != *onlyNode) continue;
    if (e.ready)
      ready.push_back(e);
    else if (e.serving && e.terminating)
      draining.push_back(e);
  }
  return ready.empty() ? draining : ready;
}

}  // namespace nave::network::proxy
