#include "network/dns/zone.h"

#include <algorithm>
#include <ctime>
#include <mutex>

namespace nave::dns {
namespace {

std::vector<std::string> splitLabels(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t dot = s.find('.', start);
    if (dot == std::string_view::npos) dot = s.size();
    out.emplace_back(s.substr(start, dot - start));
    start = dot + 1;
  }
  return out;
}

std::string dashed(uint32_t ip) {
  return std::to_string(ip >> 24) + "-" + std::to_string(ip >> 16 & 0xff) + "-" +
         std::to_string(ip >> 8 & 0xff) + "-" + std::to_string(ip & 0xff);
}

const Json& arrayMember(const Json& obj, std::string_view key) {
  static const Json empty = Json::array();
  const Json* m = findMember(obj, key);
  return m && m->is_array() ? *m : empty;
}

Record record(std::string name, uint16_t type, std::string rdata) {
  return Record{std::move(name), type, kClassIn, kRecordTtl, std::move(rdata)};
}

bool wantsA(uint16_t t) {
  return t == kTypeA || t == kTypeAny;
}

}  // namespace

std::optional<uint32_t> parseIpv4(std::string_view s) {
  uint32_t ip = 0;
  int parts = 0;
  size_t i = 0;
  while (parts < 4) {
    size_t start = i;
    uint32_t v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 3)
      v = v * 10 + uint32_t(s[i++] - '0');
    if (i == start || v > 255 || (i - start > 1 && s[start] == '0')) return std::nullopt;
    ip = ip << 8 | v;
    if (++parts < 4) {
      if (i >= s.size() || s[i] != '.') return std::nullopt;
      i++;
    }
  }
  if (i != s.size()) return std::nullopt;
  return ip;
}

ClusterZone::ClusterZone(std::string domain, std::string dnsIp)
    : domain_(lowercase(domain)), dnsIp_(parseIpv4(dnsIp).value_or(0)) {
  while (!domain_.empty() && domain_.back() == '.') domain_.pop_back();
  soa_ = record(domain_, kTypeSoa,
                rdataSoa("ns.dns." + domain_, "hostmaster." + domain_, uint32_t(std::time(nullptr)),
                         7200, 1800, 86400, kRecordTtl));
}

void ClusterZone::setService(const std::string& key, const Json* object) {
  std::unique_lock lock(mu_);
  if (!object) {
    services_.erase(key);
  } else {
    Service s;
    const Json& meta = objectMember(*object, "metadata");
    const Json& spec = objectMember(*object, "spec");
    s.name = getString(meta, "name");
    s.ns = getString(meta, "namespace");
    if (getString(spec, "type") == "ExternalName") s.externalName = getString(spec, "externalName");
    s.headless = getString(spec, "clusterIP") == "None";
    s.publishNotReady = getBool(spec, "publishNotReadyAddresses");
    for (const Json& ip : arrayMember(spec, "clusterIPs"))
      if (auto v = ip.is_string() ? parseIpv4(ip.get<std::string>()) : std::nullopt)
        s.clusterIps.push_back(*v);
    if (s.clusterIps.empty())
      if (auto v = parseIpv4(getString(spec, "clusterIP"))) s.clusterIps.push_back(*v);
    for (const Json& p : arrayMember(spec, "ports"))
      s.ports.push_back({lowercase(getString(p, "name")),
                         lowercase(getString(p, "protocol", "TCP")), uint16_t(getInt(p, "port"))});
    services_[key] = std::move(s);
  }
  rebuildLocked(key);
}

void ClusterZone::setEndpointSlice(const std::string& key, const Json* object) {
  std::unique_lock lock(mu_);
  std::string oldService;
  if (auto it = slices_.find(key); it != slices_.end()) {
    oldService = it->second.service;
    auto& keys = slicesOf_[oldService];
    keys.erase(key);
    if (keys.empty()) slicesOf_.erase(oldService);
    slices_.erase(it);
  }
  std::string service;
  if (object && getString(*object, "addressType") == "IPv4") {
    const Json& meta = objectMember(*object, "metadata");
    std::string name = getString(objectMember(meta, "labels"), "kubernetes.io/service-name");
    if (!name.empty()) {
      Slice s;
      s.service = service = getString(meta, "namespace") + "/" + name;
      std::vector<Port> ports;
      for (const Json& p : arrayMember(*object, "ports"))
        ports.push_back({lowercase(getString(p, "name")),
                         lowercase(getString(p, "protocol", "TCP")), uint16_t(getInt(p, "port"))});
      for (const Json& e : arrayMember(*object, "endpoints")) {
        const Json& addresses = arrayMember(e, "addresses");
        if (addresses.empty() || !addresses[0].is_string()) continue;
        auto ip = parseIpv4(addresses[0].get<std::string>());
        if (!ip) continue;
        Endpoint ep{*ip, lowercase(getString(e, "hostname")), ports};
        if (ep.hostname.empty()) ep.hostname = dashed(*ip);
        // A nil ready condition means ready (discovery.k8s.io/v1 EndpointConditions).
        bool ready = getBool(objectMember(e, "conditions"), "ready", true);
        (ready ? s.ready : s.notReady).push_back(std::move(ep));
      }
      slices_[key] = std::move(s);
      slicesOf_[service].insert(key);
    }
  }
  if (!oldService.empty() && oldService != service) rebuildLocked(oldService);
  if (!service.empty()) rebuildLocked(service);
}

void ClusterZone::rebuildLocked(const std::string& serviceKey) {
  size_t slash = serviceKey.find('/');
  if (slash == std::string::npos) return;
  std::string entryKey = serviceKey.substr(slash + 1) + "." + serviceKey.substr(0, slash);
  if (auto it = entries_.find(entryKey); it != entries_.end()) {
    removePtrsLocked(it->second);
    if (--namespaces_[it->second.service.ns] == 0) namespaces_.erase(it->second.service.ns);
    entries_.erase(it);
  }
  auto sit = services_.find(serviceKey);
  if (sit == services_.end()) return;
  Entry e{sit->second, {}};
  if (e.service.externalName.empty()) {
    auto keys = slicesOf_.find(serviceKey);
    for (const std::string& sliceKey :
         keys == slicesOf_.end() ? std::set<std::string>{} : keys->second) {
      const Slice& slice = slices_.at(sliceKey);
      auto add = [&](const std::vector<Endpoint>& list) {
        for (const Endpoint& ep : list)
          if (std::none_of(e.endpoints.begin(), e.endpoints.end(),
                           [&](const Endpoint& x) { return x.ip == ep.ip; }))
            e.endpoints.push_back(ep);
      };
      add(slice.ready);
      if (e.service.publishNotReady) add(slice.notReady);
    }
    std::sort(e.endpoints.begin(), e.endpoints.end(),
              [](const Endpoint& a, const Endpoint& b) { return a.ip < b.ip; });
  }
  namespaces_[e.service.ns]++;
  addPtrsLocked(e, entryKey + ".svc." + domain_);
  entries_.emplace(entryKey, std::move(e));
}

void ClusterZone::setNamespace(const std::string& name, bool exists) {
  std::unique_lock lock(mu_);
  if (exists)
    namespaceObjects_.insert(name);
  else
    namespaceObjects_.erase(name);
}

void ClusterZone::setNode(const std::string& name, const Json* object) {
  std::optional<uint32_t> ip;
  if (object)
    for (const Json& a : arrayMember(objectMember(*object, "status"), "addresses"))
      if (getString(a, "type") == "InternalIP" && (ip = parseIpv4(getString(a, "address")))) break;
  std::unique_lock lock(mu_);
  if (ip)
    nodes_[lowercase(name)] = *ip;
  else
    nodes_.erase(lowercase(name));
}

bool ClusterZone::namespaceExistsLocked(const std::string& ns) const {
  return namespaceObjects_.count(ns) || namespaces_.count(ns);
}

void ClusterZone::addPtrsLocked(const Entry& e, const std::string& fqdn) {
  if (!e.service.externalName.empty()) return;
  if (!e.service.headless)
    for (uint32_t ip : e.service.clusterIps) ptrs_[ip].push_back(fqdn);
  // Endpoints of every Service, headless or not: CoreDNS answers their PTR names too.
  for (const Endpoint& ep : e.endpoints) ptrs_[ep.ip].push_back(ep.hostname + "." + fqdn);
}

void ClusterZone::removePtrsLocked(const Entry& e) {
  std::string fqdn = e.service.name + "." + e.service.ns + ".svc." + domain_;
  auto drop = [&](uint32_t ip, const std::string& name) {
    auto it = ptrs_.find(ip);
    if (it == ptrs_.end()) return;
    std::erase(it->second, name);
    if (it->second.empty()) ptrs_.erase(it);
  };
  for (uint32_t ip : e.service.clusterIps) drop(ip, fqdn);
  for (const Endpoint& ep : e.endpoints) drop(ep.ip, ep.hostname + "." + fqdn);
}

Answer ClusterZone::nameError(uint8_t rcode) const {
  Answer a;
  a.rcode = rcode;
  a.authoritative = true;
  a.authority.push_back(soa_);
  return a;
}

std::optional<Answer> ClusterZone::lookup(const Question& q) const {
  const std::string& name = q.key;
  if (q.cls != kClassIn && q.cls != 255) return std::nullopt;
  constexpr std::string_view kReverse = ".in-addr.arpa";
  if (name.ends_with(kReverse)) {
    std::vector<std::string> l =
        splitLabels(std::string_view(name).substr(0, name.size() - kReverse.size()));
    if (l.size() != 4) return std::nullopt;
    auto ip = parseIpv4(l[3] + "." + l[2] + "." + l[1] + "." + l[0]);
    if (!ip) return std::nullopt;
    std::shared_lock lock(mu_);
    Answer a;
    a.authoritative = true;
    bool ptr = q.type == kTypePtr || q.type == kTypeAny;
    if (auto it = ptrs_.find(*ip); it != ptrs_.end()) {
      for (const std::string& target : it->second)
        if (ptr) a.answer.push_back(record(q.name, kTypePtr, rdataName(target)));
      return a;
    }
    for (const auto& [node, nodeIp] : nodes_) {
      if (nodeIp != *ip) continue;
      if (ptr)
        a.answer.push_back(Record{q.name, kTypePtr, kClassIn, kNodeHostTtl, rdataName(node)});
      return a;
    }
    return std::nullopt;  // not ours: CoreDNS' fallthrough in-addr.arpa
  }
  if (name == domain_) {
    Answer a = nameError(kNoError);
    if (q.type == kTypeSoa || q.type == kTypeAny) a.answer.swap(a.authority);
    if (q.type == kTypeNs || q.type == kTypeAny) {
      a.authority.clear();
      a.answer.push_back(record(q.name, kTypeNs, rdataName("ns.dns." + domain_)));
      a.additional.push_back(record("ns.dns." + domain_, kTypeA, rdataA(dnsIp_)));
    }
    if (q.type == kTypeSoa) a.answer[0].name = q.name;
    return a;
  }
  if (name.size() <= domain_.size() + 1 || !name.ends_with(domain_) ||
      name[name.size() - domain_.size() - 1] != '.') {
    std::shared_lock lock(mu_);
    auto it = nodes_.find(name);
    if (it == nodes_.end()) return std::nullopt;
    Answer a;
    a.authoritative = true;
    if (wantsA(q.type))
      a.answer.push_back(Record{q.name, kTypeA, kClassIn, kNodeHostTtl, rdataA(it->second)});
    return a;
  }
  std::vector<std::string> labels =
      splitLabels(std::string_view(name).substr(0, name.size() - domain_.size() - 1));
  size_t n = labels.size();
  const std::string& kind = labels.back();
  if (kind == "svc") {
    if (n == 1) return nameError(kNoError);
    std::shared_lock lock(mu_);
    if (n == 2) return nameError(namespaceExistsLocked(labels[0]) ? kNoError : kNxDomain);
    auto it = entries_.find(labels[n - 3] + "." + labels[n - 2]);
    if (it == entries_.end()) return nameError(kNxDomain);
    labels.resize(n - 3);
    return serviceAnswer(it->second, q, labels);
  }
  if (kind == "pod") {
    if (n == 1) return nameError(kNoError);
    std::shared_lock lock(mu_);
    if (!namespaceExistsLocked(labels[n - 2])) return nameError(kNxDomain);
    if (n == 2) return nameError(kNoError);
    std::string dotted = labels[0];
    std::replace(dotted.begin(), dotted.end(), '-', '.');
    auto ip = n == 3 ? parseIpv4(dotted) : std::nullopt;
    if (!ip) return nameError(kNxDomain);
    Answer a = wantsA(q.type) ? Answer{} : nameError(kNoError);
    a.authoritative = true;
    if (wantsA(q.type)) a.answer.push_back(record(q.name, kTypeA, rdataA(*ip)));
    return a;
  }
  if (kind == "dns" && n <= 2 && (n == 1 || labels[0] == "ns")) {
    if (n == 1 || !wantsA(q.type)) return nameError(kNoError);
    Answer a;
    a.authoritative = true;
    a.answer.push_back(record(q.name, kTypeA, rdataA(dnsIp_)));
    return a;
  }
  return nameError(kNxDomain);
}

Answer ClusterZone::serviceAnswer(const Entry& e, const Question& q,
                                  const std::vector<std::string>& prefix) const {
  const Service& s = e.service;
  std::string fqdn = s.name + "." + s.ns + ".svc." + domain_;
  Answer a;
  a.authoritative = true;
  auto noData = [&] { return nameError(kNoError); };
  // The SRV records of the named ports matching `match`, with their targets' A records.
  auto srv = [&](auto match) {
    std::vector<const Endpoint*> used;
    for (const Port& p : s.ports) {
      if (!match(p)) continue;
      if (!s.headless) {
        a.answer.push_back(record(q.name, kTypeSrv, rdataSrv(0, 100, p.port, fqdn)));
        continue;
      }
      std::vector<std::pair<const Endpoint*, uint16_t>> targets;
      for (const Endpoint& ep : e.endpoints)
        for (const Port& epPort : ep.ports)
          if (epPort.name == p.name && epPort.protocol == p.protocol)
            targets.push_back({&ep, epPort.port});
      // CoreDNS' weights: 100 shared among the records of one priority.
      uint16_t weight = uint16_t(std::max<size_t>(1, 100 / std::max<size_t>(1, targets.size())));
      for (const auto& [ep, port] : targets) {
        a.answer.push_back(
            record(q.name, kTypeSrv, rdataSrv(0, weight, port, ep->hostname + "." + fqdn)));
        if (std::find(used.begin(), used.end(), ep) == used.end()) used.push_back(ep);
      }
    }
    if (!s.headless && !a.answer.empty())
      for (uint32_t ip : s.clusterIps) a.additional.push_back(record(fqdn, kTypeA, rdataA(ip)));
    for (const Endpoint* ep : used)
      a.additional.push_back(record(ep->hostname + "." + fqdn, kTypeA, rdataA(ep->ip)));
    return a.answer.empty() ? noData() : a;
  };

  if (prefix.empty()) {
    if (!s.externalName.empty()) {
      a.answer.push_back(record(q.name, kTypeCname, rdataName(lowercase(s.externalName))));
      return a;
    }
    // CoreDNS: a headless Service without endpoints has no records, so no name.
    if (s.headless && e.endpoints.empty()) return nameError(kNxDomain);
    if (q.type == kTypeSrv) return srv([](const Port& p) { return !p.name.empty(); });
    if (!wantsA(q.type)) return noData();
    if (s.headless)
      for (const Endpoint& ep : e.endpoints)
        a.answer.push_back(record(q.name, kTypeA, rdataA(ep.ip)));
    else
      for (uint32_t ip : s.clusterIps) a.answer.push_back(record(q.name, kTypeA, rdataA(ip)));
    return a.answer.empty() ? noData() : a;
  }
  if (prefix.size() == 1) {
    const std::string& l = prefix[0];
    if (l.starts_with("_")) {
      bool exists = std::any_of(s.ports.begin(), s.ports.end(), [&](const Port& p) {
        return !p.name.empty() && "_" + p.protocol == l;
      });
      return exists ? noData() : nameError(kNxDomain);
    }
    for (const Endpoint& ep : e.endpoints) {
      if (ep.hostname != l) continue;
      if (!wantsA(q.type)) return noData();
      a.answer.push_back(record(q.name, kTypeA, rdataA(ep.ip)));
      return a;
    }
    return nameError(kNxDomain);
  }
  if (prefix.size() == 2 && prefix[0].starts_with("_") && prefix[1].starts_with("_")) {
    auto match = [&](const Port& p) {
      return !p.name.empty() && "_" + p.name == prefix[0] && "_" + p.protocol == prefix[1];
    };
    if (std::none_of(s.ports.begin(), s.ports.end(), match)) return nameError(kNxDomain);
    if (q.type != kTypeSrv && q.type != kTypeAny) return noData();
    Answer srvs = srv(match);
    // A headless Service's SRV names need endpoints with the port (CoreDNS: else NXDOMAIN).
    return s.headless && srvs.answer.empty() ? nameError(kNxDomain) : srvs;
  }
  return nameError(kNxDomain);
}

}  // namespace nave::dns
