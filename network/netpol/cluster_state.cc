#include "network/netpol/cluster_state.h"

namespace nave::network::netpol {

namespace {

const Json& arrayMember(const Json& obj, std::string_view key) {
  static const Json empty = Json::array();
  const Json* m = findMember(obj, key);
  return m != nullptr && m->is_array() ? *m : empty;
}

const Json& labelsOf(const Json& object) {
  return objectMember(objectMember(object, "metadata"), "labels");
}

Result<uint8_t> parseProtocol(const Json& obj) {
  std::string p = getString(obj, "protocol", "TCP");
  if (p == "TCP") return uint8_t{IPPROTO_TCP};
  if (p == "UDP") return uint8_t{IPPROTO_UDP};
  if (p == "SCTP") return uint8_t{IPPROTO_SCTP};
  return Error(ErrorCode::kInvalid, "unsupported protocol \"" + p + "\"");
}

std::optional<Ipv4Address> podAddress(const Json& status) {
  if (auto ip = Ipv4Address::parse(getString(status, "podIP")); ip.ok()) return *ip;
  for (const Json& entry : arrayMember(status, "podIPs"))
    if (auto ip = Ipv4Address::parse(getString(entry, "ip")); ip.ok()) return *ip;
  return std::nullopt;
}

Result<PolicyPort> parsePort(const Json& entry) {
  PolicyPort p;
  p.protocol = TRY(parseProtocol(entry));
  const Json* port = findMember(entry, "port");
  if (port == nullptr || port->is_null()) return p;
  if (port->is_string()) {
    p.name = port->get<std::string>();
    if (p.name.empty()) return Error(ErrorCode::kInvalid, "an empty port name");
    return p;
  }
  int64_t number = port->is_number_integer() ? port->get<int64_t>() : 0;
  int64_t end = getInt(entry, "endPort", number);
  if (number < 1 || number > 65535 || end < number || end > 65535)
    return Error(ErrorCode::kInvalid, "bad port or endPort");
  p.port = static_cast<uint16_t>(number);
  p.endPort = static_cast<uint16_t>(end);
  return p;
}

Result<std::optional<selectors::LabelSelector>> optionalSelector(const Json& obj,
                                                                 std::string_view key) {
  const Json* s = findMember(obj, key);
  if (s == nullptr || s->is_null()) return std::optional<selectors::LabelSelector>();
  return std::optional<selectors::LabelSelector>(TRY(selectors::LabelSelector::fromObject(*s)));
}

Result<PolicyPeer> parsePeer(const Json& entry) {
  PolicyPeer peer;
  if (const Json* block = findMember(entry, "ipBlock"); block != nullptr && block->is_object()) {
    std::vector<std::string> except;
    for (const Json& e : arrayMember(*block, "except"))
      if (e.is_string()) except.push_back(e.get<std::string>());
    peer.isBlock = true;
    peer.block = TRY(blockRanges(getString(*block, "cidr"), except));
    return peer;
  }
  peer.pods = TRY(optionalSelector(entry, "podSelector"));
  peer.namespaces = TRY(optionalSelector(entry, "namespaceSelector"));
  return peer;
}

Result<PolicyRule> parseRule(const Json& rule, std::string_view peersKey) {
  PolicyRule r;
  for (const Json& p : arrayMember(rule, "ports")) r.ports.push_back(TRY(parsePort(p)));
  for (const Json& p : arrayMember(rule, peersKey)) r.peers.push_back(TRY(parsePeer(p)));
  return r;
}

// The addresses of `from` not in `cut`, appended to `out`.
void subtract(const AddressRange& from, const AddressRange& cut, std::vector<AddressRange>& out) {
  if (cut.last < from.first || from.last < cut.first) {
    out.push_back(from);
    return;
  }
  if (from.first < cut.first) out.push_back({from.first, Ipv4Address{cut.first.value - 1}});
  if (cut.last < from.last) out.push_back({Ipv4Address{cut.last.value + 1}, from.last});
}

}  // namespace

PodInfo parsePod(const Json& pod) {
  const Json& meta = objectMember(pod, "metadata");
  const Json& spec = objectMember(pod, "spec");
  const Json& status = objectMember(pod, "status");
  PodInfo p;
  p.ns = getString(meta, "namespace");
  p.name = getString(meta, "name");
  p.nodeName = getString(spec, "nodeName");
  p.labels = labelsOf(pod);
  p.ip = podAddress(status);
  p.hostNetwork = getBool(spec, "hostNetwork");
  std::string phase = getString(status, "phase");
  p.finished = phase == "Succeeded" || phase == "Failed";
  for (const Json& c : arrayMember(spec, "containers")) {
    for (const Json& port : arrayMember(c, "ports")) {
      auto protocol = parseProtocol(port);
      int64_t number = getInt(port, "containerPort");
      if (!protocol.ok() || number < 1 || number > 65535) continue;
      p.ports.push_back({getString(port, "name"), *protocol, static_cast<uint16_t>(number)});
    }
  }
  return p;
}

NamespaceInfo parseNamespace(const Json& ns) {
  NamespaceInfo n;
  n.name = getString(objectMember(ns, "metadata"), "name");
  n.labels = labelsOf(ns);
  // The API server sets this label on every namespace; a namespace from elsewhere (tests, an
  // older store) gets it here, so that selectors on it behave the same.
  if (!n.labels.contains("kubernetes.io/metadata.name"))
    n.labels["kubernetes.io/metadata.name"] = n.name;
  return n;
}

Result<PolicyInfo> parsePolicy(const Json& policy) {
  const Json& meta = objectMember(policy, "metadata");
  const Json& spec = objectMember(policy, "spec");
  PolicyInfo p;
  p.ns = getString(meta, "namespace");
  p.name = getString(meta, "name");
  auto parsed = [&]() -> Result<void> {
    const Json* selector = findMember(spec, "podSelector");
    p.podSelector = TRY(selectors::LabelSelector::fromObject(selector ? *selector : Json()));
    for (const Json& r : arrayMember(spec, "ingress"))
      p.ingressRules.push_back(TRY(parseRule(r, "from")));
    for (const Json& r : arrayMember(spec, "egress"))
      p.egressRules.push_back(TRY(parseRule(r, "to")));
    return {};
  }();
  if (!parsed.ok())
    return std::move(parsed).error().context("NetworkPolicy " + p.ns + "/" + p.name);
  const Json& types = arrayMember(spec, "policyTypes");
  for (const Json& t : types) {
    p.ingress |= t == "Ingress";
    p.egress |= t == "Egress";
  }
  if (types.empty()) {
    p.ingress = true;
    p.egress = !p.egressRules.empty();
  }
  return p;
}

Result<std::vector<AddressRange>> blockRanges(const std::string& cidr,
                                              const std::vector<std::string>& except) {
  if (cidr.find(':') != std::string::npos) return std::vector<AddressRange>{};
  auto prefix = Ipv4Prefix::parse(cidr);
  if (!prefix.ok()) return std::move(prefix).error().context("ipBlock cidr");
  std::vector<AddressRange> ranges{{prefix->network(), prefix->broadcast()}};
  for (const std::string& e : except) {
    if (e.find(':') != std::string::npos) continue;
    auto cut = Ipv4Prefix::parse(e);
    if (!cut.ok()) return std::move(cut).error().context("ipBlock except");
    std::vector<AddressRange> left;
    for (const AddressRange& r : ranges) subtract(r, {cut->network(), cut->broadcast()}, left);
    ranges = std::move(left);
  }
  return ranges;
}

}  // namespace nave::network::netpol
