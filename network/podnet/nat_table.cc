#include "network/podnet/nat_table.h"

#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter_ipv4.h>

#include <algorithm>
#include <set>
#include <tuple>

#include "network/nftables/rule.h"
#include "network/nftables/transaction.h"

namespace nave::network {

namespace {

using nft::Concat;
using nft::Family;
using nft::reg32;
using nft::Rule;

constexpr char kAnyMap[] = "hostports";
constexpr char kIpMap[] = "hostports-ip";
constexpr char kHostPortsChain[] = "hostports";

const char* protocolName(uint8_t p) {
  switch (p) {
    case IPPROTO_TCP:
      return "TCP";
    case IPPROTO_UDP:
      return "UDP";
    case IPPROTO_SCTP:
      return "SCTP";
  }
  return "?";
}

nft::Bytes mapKey(const PortMapping& m) {
  Concat key;
  if (m.hostIp) key.ipv4(*m.hostIp);
  return key.inetProto(m.protocol).inetService(m.hostPort).bytes();
}

bool startsWith(const nft::Bytes& data, const nft::Bytes& prefix) {
  return data.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), data.begin());
}

std::string describeTarget(const nft::Bytes& data) {
  if (data.size() < 8) return "another pod";
  Ipv4Address ip{(uint32_t{data[0]} << 24) | (uint32_t{data[1]} << 16) | (uint32_t{data[2]} << 8) |
                 data[3]};
  return ip.toString() + ":" + std::to_string((data[4] << 8) | data[5]);
}

}  // namespace

std::string PortMapping::describe() const {
  std::string s = hostIp ? hostIp->toString() + ":" : "";
  return s + std::to_string(hostPort) + "/" + protocolName(protocol);
}

Result<std::vector<PortMapping>> parseHostPorts(const std::vector<HostPort>& hostPorts) {
  std::vector<PortMapping> out;
  std::set<std::tuple<uint32_t, uint8_t, uint16_t>> seen;
  for (const HostPort& h : hostPorts) {
    PortMapping m;
    if (h.protocol == "TCP" || h.protocol.empty()) {
      m.protocol = IPPROTO_TCP;
    } else if (h.protocol == "UDP") {
      m.protocol = IPPROTO_UDP;
    } else if (h.protocol == "SCTP") {
      m.protocol = IPPROTO_SCTP;
    } else {
      return Error(ErrorCode::kInvalid, "hostPort " + std::to_string(h.hostPort) +
                                            ": unsupported protocol \"" + h.protocol +
                                            "\" (TCP, UDP or SCTP)");
    }
    if (h.hostPort == 0 || h.containerPort == 0)
      return Error(ErrorCode::kInvalid, "hostPort mapping " + std::to_string(h.hostPort) + "->" +
                                            std::to_string(h.containerPort) +
                                            ": ports must not be 0");
    m.hostPort = h.hostPort;
    m.containerPort = h.containerPort;
    if (!h.hostIp.empty() && h.hostIp != "0.0.0.0") {
      auto ip = Ipv4Address::parse(h.hostIp);
      if (!ip.ok())
        return std::move(ip).error().context("hostIP of hostPort " + std::to_string(h.hostPort));
      m.hostIp = *ip;
    }
    if (!seen.insert({m.hostIp ? m.hostIp->value : 0, m.protocol, m.hostPort}).second)
      return Error(ErrorCode::kInvalid, "hostPort " + m.describe() + " is given twice");
    out.push_back(m);
  }
  return out;
}

Result<void> NatTable::ensure(nft::NftSocket& nft) const {
  const Family ip = Family::kIp;
  nft::Transaction tx;
  tx.addTable({ip, kName});
  tx.addChain({ip, kName, "prerouting",
               nft::BaseChainSpec{"nat", NF_INET_PRE_ROUTING, NF_IP_PRI_NAT_DST, NF_ACCEPT}});
  tx.addChain({ip, kName, "output",
               nft::BaseChainSpec{"nat", NF_INET_LOCAL_OUT, NF_IP_PRI_NAT_DST, NF_ACCEPT}});
  tx.addChain({ip, kName, "postrouting",
               nft::BaseChainSpec{"nat", NF_INET_POST_ROUTING, NF_IP_PRI_NAT_SRC, NF_ACCEPT}});
  tx.addChain({ip, kName, kHostPortsChain, std::nullopt});
  using nft::DataType;
  tx.addSet({ip,
             kName,
             kAnyMap,
             {DataType::kInetProto, DataType::kInetService},
             {DataType::kIpv4Addr, DataType::kInetService}});
  tx.addSet({ip,
             kName,
             kIpMap,
             {DataType::kIpv4Addr, DataType::kInetProto, DataType::kInetService},
             {DataType::kIpv4Addr, DataType::kInetService}});
  for (const char* chain : {"prerouting", "output", "postrouting", kHostPortsChain})
    tx.flushChain(ip, kName, chain);

  for (const char* chain : {"prerouting", "output"}) {
    Rule jump(ip, kName, chain);
    jump.verdict(nft::Verdict::jump(kHostPortsChain));
    tx.addRule(jump);
  }
  // Key fields in consecutive 32-bit registers, the looked-up address and port back in the
  // first two: what `dnat ip to ... map @m` compiles to.
  Rule byIp(ip, kName, kHostPortsChain);
  byIp.payload(NFT_PAYLOAD_NETWORK_HEADER, 16, 4, reg32(0))
      .meta(NFT_META_L4PROTO, reg32(1))
      .payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, reg32(2))
      .lookup(kIpMap, reg32(0), reg32(0))
      .setMarkBits(NatTable::kHostPortMark, NFT_REG_3)
      .dnat(reg32(0), reg32(1));
  tx.addRule(byIp);
  Rule any(ip, kName, kHostPortsChain);
  any.fibDaddrLocal()
      .meta(NFT_META_L4PROTO, reg32(0))
      .payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, reg32(1))
      .lookup(kAnyMap, reg32(0), reg32(0))
      .setMarkBits(NatTable::kHostPortMark, NFT_REG_3)
      .dnat(reg32(0), reg32(1));
  tx.addRule(any);

  Rule outside(ip, kName, "postrouting");
  outside.ipSaddr(podCidr_).ipDaddr(clusterCidr_, true).masquerade();
  tx.addRule(outside);
  Rule hairpin(ip, kName, "postrouting");
  hairpin.markBits(kHostPortMark).ipSaddr(podCidr_).oifname(bridge_).masquerade();
  tx.addRule(hairpin);
  Rule localhost(ip, kName, "postrouting");
  localhost.ipSaddr(Ipv4Prefix{Ipv4Address{0x7f000000}, 8}).oifname(bridge_).masquerade();
  tx.addRule(localhost);

  auto r = nft.commit(tx);
  if (!r.ok())
    return std::move(r).error().context("set up nftables table ip " + std::string(kName));
  return {};
}

Result<void> NatTable::setHostPorts(nft::NftSocket& nft, Ipv4Address podIp,
                                    const std::vector<PortMapping>& mappings) const {
  const nft::Bytes pod = Concat().ipv4(podIp).bytes();
  nft::Transaction tx;
  for (bool byIp : {false, true}) {
    const char* map = byIp ? kIpMap : kAnyMap;
    auto current = nft.elements(Family::kIp, kName, map);
    if (!current.ok())
      return std::move(current).error().context("hostPorts of pod " + podIp.toString());
    std::vector<nft::Bytes> stale;
    for (const auto& e : *current) {
      if (startsWith(e.data, pod)) {
        stale.push_back(e.key);
        continue;
      }
      // Checked here to name the port; the exclusive add below is what guarantees it.
      for (const auto& m : mappings) {
        if (byIp == m.hostIp.has_value() && mapKey(m) == e.key)
          return Error(ErrorCode::kConflict, "hostPort " + m.describe() + " is already mapped to " +
                                                 describeTarget(e.data));
      }
    }
    if (!stale.empty()) tx.deleteElements(Family::kIp, kName, map, stale);
  }
  for (const auto& m : mappings) {
    nft::SetElement e{mapKey(m), Concat().ipv4(podIp).inetService(m.containerPort).bytes(), {}};
    tx.addElements(Family::kIp, kName, m.hostIp ? kIpMap : kAnyMap, {e}, true);
  }
  // Most pods have no hostPorts: nothing to change is no transaction (a commit waits for the
  // kernel's RCU grace period, milliseconds each, and attaches are serialised).
  if (tx.empty()) return {};
  auto r = nft.commit(tx);
  if (!r.ok()) {
    if (r.error().is(ErrorCode::kAlreadyExists))
      return Error(ErrorCode::kConflict,
                   "a hostPort of pod " + podIp.toString() +
                       " was just mapped to another pod: " + r.error().message());
    return std::move(r).error().context("hostPorts of pod " + podIp.toString());
  }
  return {};
}

Result<void> NatTable::remove(nft::NftSocket& nft) const {
  if (!TRY(nft.hasTable({Family::kIp, kName}))) return {};
  nft::Transaction tx;
  tx.deleteTable({Family::kIp, kName});
  auto r = nft.commit(tx);
  if (!r.ok() && !r.error().is(ErrorCode::kNotFound)) return r;
  return {};
}

}  // namespace nave::network
