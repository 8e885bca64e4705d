#include "network/netpol/netpol_table.h"

#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <cstring>
#include <iterator>

#include "network/nftables/rule.h"
#include "network/nftables/transaction.h"

namespace nave::network::netpol {

namespace {

using nft::DataType;
using nft::Family;
using nft::Rule;
using nft::Transaction;

constexpr Family kFamily = Family::kInet;
constexpr char kSelf[] = "self";
constexpr char kIngressPods[] = "ingress-pods";
constexpr char kEgressPods[] = "egress-pods";
constexpr uint32_t kSaddr = 12, kDaddr = 16;  // offsets in the IPv4 header

nft::Bytes u32Bytes(uint32_t v) {  // host byte order, as ct and fib results are compared
  nft::Bytes b(4);
  std::memcpy(b.data(), &v, 4);
  return b;
}

nft::Bytes be16(uint16_t v) {
  return {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v & 0xff)};
}

nft::Bytes addressKey(Ipv4Address a) {
  return nft::Concat().ipv4(a).bytes();
}

// `meta nfproto ipv4`: what nft puts before IPv4 header matches in an inet table (and what lets
// `nft list` print them as `ip saddr`).
Rule& ipv4Only(Rule& r) {
  return r.meta(NFT_META_NFPROTO, nft::kReg1).cmp(NFT_CMP_EQ, nft::kReg1, {NFPROTO_IPV4});
}

Rule newRule(const std::string& chain) {
  return Rule(kFamily, NetpolTable::kName, chain);
}

std::set<Ipv4Address> selfOf(const Ruleset& r) {
  std::set<Ipv4Address> out;
  for (const auto& [ip, chain] : r.ingressPods) out.insert(ip);
  for (const auto& [ip, chain] : r.egressPods) out.insert(ip);
  return out;
}

nft::Bytes selfKey(Ipv4Address a) {
  return nft::Concat().ipv4(a).ipv4(a).bytes();
}

nft::Bytes portKey(const std::pair<Ipv4Address, uint16_t>& e) {
  return nft::Concat().ipv4(e.first).inetService(e.second).bytes();
}

std::vector<nft::KeyRange> keyRanges(const std::vector<AddressRange>& ranges) {
  std::vector<nft::KeyRange> out;
  for (const AddressRange& r : ranges) out.push_back({addressKey(r.first), addressKey(r.last)});
  return out;
}

template <typename Container>
Container minus(const Container& a, const Container& b) {  // both sorted
  Container out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::inserter(out, out.end()));
  return out;
}

void addBase(Transaction& tx) {
  const std::string t = NetpolTable::kName;
  tx.addTable({kFamily, t});
  tx.addSet({kFamily, t, kSelf, {DataType::kIpv4Addr, DataType::kIpv4Addr}, {}});
  tx.addSet({kFamily, t, kIngressPods, {DataType::kIpv4Addr}, {DataType::kVerdict}});
  tx.addSet({kFamily, t, kEgressPods, {DataType::kIpv4Addr}, {DataType::kVerdict}});
  for (bool ingress : {false, true}) {
    std::string chain = ingress ? "ingress" : "egress";
    tx.addChain({kFamily, t, chain,
                 nft::BaseChainSpec{"filter", NF_INET_FORWARD, ingress ? 1 : 0, NF_ACCEPT}});
    Rule established = newRule(chain);
    established.ct(NFT_CT_STATE, nft::kReg1)
        .bitwise(nft::kReg1, nft::kReg1,
                 u32Bytes(NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED)),
                 u32Bytes(0))
        .cmp(NFT_CMP_NEQ, nft::kReg1, u32Bytes(0))
        .verdict(nft::Verdict::accept());
    tx.addRule(established);
    Rule self = newRule(chain);
    ipv4Only(self)
        .payload(NFT_PAYLOAD_NETWORK_HEADER, kSaddr, 4, nft::reg32(0))
        .payload(NFT_PAYLOAD_NETWORK_HEADER, kDaddr, 4, nft::reg32(1))
        .lookup(kSelf, nft::reg32(0))
        .verdict(nft::Verdict::accept());
    tx.addRule(self);
    if (ingress) {
      Rule node = newRule(chain);
      node.fib(NFTA_FIB_F_SADDR, NFT_FIB_RESULT_ADDRTYPE, nft::kReg1)
          .cmp(NFT_CMP_EQ, nft::kReg1, u32Bytes(RTN_LOCAL))
          .verdict(nft::Verdict::accept());
      tx.addRule(node);
    }
    Rule dispatch = newRule(chain);
    ipv4Only(dispatch)
        .payload(NFT_PAYLOAD_NETWORK_HEADER, ingress ? kDaddr : kSaddr, 4, nft::kReg1)
        .lookup(ingress ? kIngressPods : kEgressPods, nft::kReg1, nft::kRegVerdict);
    tx.addRule(dispatch);
  }
}

Rule podRule(const std::string& chain, const AllowRule& a, bool ingress) {
  Rule r = newRule(chain);
  if (!a.peerSet.empty() || !a.peerPortSet.empty()) ipv4Only(r);
  if (!a.peerSet.empty()) {
    r.payload(NFT_PAYLOAD_NETWORK_HEADER, ingress ? kSaddr : kDaddr, 4, nft::kReg1)
        .lookup(a.peerSet, nft::kReg1);
  }
  if (a.protocol != 0) r.l4proto(a.protocol);
  if (!a.peerPortSet.empty()) {
    r.payload(NFT_PAYLOAD_NETWORK_HEADER, kDaddr, 4, nft::reg32(0))
        .payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, nft::reg32(1))
        .lookup(a.peerPortSet, nft::reg32(0));
  }
  if (a.firstPort != 0) {
    r.payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, nft::kReg1);
    if (a.firstPort == a.lastPort) {
      r.cmp(NFT_CMP_EQ, nft::kReg1, be16(a.firstPort));
    } else {  // big-endian bytes compare as numbers
      r.cmp(NFT_CMP_GTE, nft::kReg1, be16(a.firstPort));
      r.cmp(NFT_CMP_LTE, nft::kReg1, be16(a.lastPort));
    }
  }
  r.verdict(nft::Verdict::accept());
  return r;
}

void addChainRules(Transaction& tx, const std::string& name, const PodChain& chain) {
  for (const AllowRule& a : chain.rules) tx.addRule(podRule(name, a, chain.ingress));
  Rule reject = newRule(name);
  reject.counter().reject();
  tx.addRule(reject);
}

void addPeerSet(Transaction& tx, const std::string& name) {
  tx.addSet({kFamily, NetpolTable::kName, name, {DataType::kIpv4Addr}, {}, true});
}

void addPortSet(Transaction& tx, const std::string& name) {
  tx.addSet({kFamily, NetpolTable::kName, name, {DataType::kIpv4Addr, DataType::kInetService}, {}});
}

std::vector<nft::SetElement> verdictElements(const std::map<Ipv4Address, std::string>& pods) {
  std::vector<nft::SetElement> out;
  for (const auto& [ip, chain] : pods)
    out.push_back({addressKey(ip), {}, nft::Verdict::goTo(chain)});
  return out;
}

std::vector<nft::SetElement> keyElements(const std::vector<nft::Bytes>& keys) {
  std::vector<nft::SetElement> out;
  for (const nft::Bytes& k : keys) out.push_back({k, {}, {}});
  return out;
}

// Elements of a set or map added and removed between two states.
template <typename Items, typename Key>
void diffElements(Transaction& tx, const std::string& set, const Items& before, const Items& after,
                  Key key) {
  std::vector<nft::Bytes> removed, added;
  for (const auto& e : minus(before, after)) removed.push_back(key(e));
  for (const auto& e : minus(after, before)) added.push_back(key(e));
  if (!removed.empty()) tx.deleteElements(kFamily, NetpolTable::kName, set, removed);
  if (!added.empty()) tx.addElements(kFamily, NetpolTable::kName, set, keyElements(added));
}

void diffVerdicts(Transaction& tx, const std::string& map,
                  const std::map<Ipv4Address, std::string>& before,
                  const std::map<Ipv4Address, std::string>& after) {
  // A changed value is a delete and an add: the kernel refuses to overwrite an element.
  std::vector<nft::Bytes> removed;
  std::map<Ipv4Address, std::string> added;
  for (const auto& [ip, chain] : before) {
    auto it = after.find(ip);
    if (it == after.end() || it->second != chain) removed.push_back(addressKey(ip));
  }
  for (const auto& [ip, chain] : after) {
    auto it = before.find(ip);
    if (it == before.end() || it->second != chain) added[ip] = chain;
  }
  if (!removed.empty()) tx.deleteElements(kFamily, NetpolTable::kName, map, removed);
  if (!added.empty()) tx.addElements(kFamily, NetpolTable::kName, map, verdictElements(added));
}

Transaction replaceAll(const Ruleset& rules) {
  const std::string t = NetpolTable::kName;
  Transaction tx;
  tx.addTable({kFamily, t});  // so that the delete cannot fail
  tx.deleteTable({kFamily, t});
  addBase(tx);
  for (const auto& [name, ranges] : rules.peerSets) {
    addPeerSet(tx, name);
    if (!ranges.empty()) tx.addRanges(kFamily, t, name, keyRanges(ranges));
  }
  for (const auto& [name, elements] : rules.portSets) {
    addPortSet(tx, name);
    std::vector<nft::Bytes> keys;
    for (const auto& e : elements) keys.push_back(portKey(e));
    if (!keys.empty()) tx.addElements(kFamily, t, name, keyElements(keys));
  }
  for (const auto& [name, chain] : rules.chains) {
    tx.addChain({kFamily, t, name, std::nullopt});
    addChainRules(tx, name, chain);
  }
  if (!rules.ingressPods.empty())
    tx.addElements(kFamily, t, kIngressPods, verdictElements(rules.ingressPods));
  if (!rules.egressPods.empty())
    tx.addElements(kFamily, t, kEgressPods, verdictElements(rules.egressPods));
  std::vector<nft::Bytes> self;
  for (Ipv4Address ip : selfOf(rules)) self.push_back(selfKey(ip));
  if (!self.empty()) tx.addElements(kFamily, t, kSelf, keyElements(self));
  return tx;
}

// Sets and chains first (what the maps will point at), then the maps, then what nothing uses
// any more: within one transaction the kernel checks references in that order.
Transaction changes(const Ruleset& before, const Ruleset& after) {
  const std::string t = NetpolTable::kName;
  Transaction tx;
  for (const auto& [name, ranges] : after.peerSets) {
    auto old = before.peerSets.find(name);
    if (old == before.peerSets.end()) {
      addPeerSet(tx, name);
      if (!ranges.empty()) tx.addRanges(kFamily, t, name, keyRanges(ranges));
      continue;
    }
    auto removed = minus(old->second, ranges), added = minus(ranges, old->second);
    if (!removed.empty()) tx.deleteRanges(kFamily, t, name, keyRanges(removed));
    if (!added.empty()) tx.addRanges(kFamily, t, name, keyRanges(added));
  }
  static const std::set<std::pair<Ipv4Address, uint16_t>> kNone;
  for (const auto& [name, elements] : after.portSets) {
    auto old = before.portSets.find(name);
    if (old == before.portSets.end()) addPortSet(tx, name);
    diffElements(tx, name, old == before.portSets.end() ? kNone : old->second, elements, portKey);
  }
  for (const auto& [name, chain] : after.chains) {
    auto old = before.chains.find(name);
    if (old != before.chains.end() && old->second == chain) continue;
    if (old == before.chains.end())
      tx.addChain({kFamily, t, name, std::nullopt});
    else
      tx.flushChain(kFamily, t, name);
    addChainRules(tx, name, chain);
  }
  diffVerdicts(tx, kIngressPods, before.ingressPods, after.ingressPods);
  diffVerdicts(tx, kEgressPods, before.egressPods, after.egressPods);
  diffElements(tx, kSelf, selfOf(before), selfOf(after), selfKey);
  for (const auto& [name, chain] : before.chains)
    if (!after.chains.contains(name)) tx.deleteChain(kFamily, t, name);
  for (const auto& [name, ranges] : before.peerSets)
    if (!after.peerSets.contains(name)) tx.deleteSet(kFamily, t, name);
  for (const auto& [name, elements] : before.portSets)
    if (!after.portSets.contains(name)) tx.deleteSet(kFamily, t, name);
  return tx;
}

std::string rangeText(const AddressRange& r) {
  return r.first == r.last ? r.first.toString() : r.first.toString() + "-" + r.last.toString();
}

void renderSet(std::string& out, const std::string& name, const char* type, bool interval,
               const std::vector<std::string>& elements) {
  out += "\tset " + name + " {\n\t\ttype " + type + "\n";
  if (interval) out += "\t\tflags interval\n";
  if (!elements.empty()) {
    out += "\t\telements = { ";
    for (size_t i = 0; i < elements.size(); ++i) out += (i ? ", " : "") + elements[i];
    out += " }\n";
  }
  out += "\t}\n";
}

}  // namespace

Result<void> NetpolTable::apply(const Ruleset& rules) {
  Transaction tx = applied_ ? changes(*applied_, rules) : replaceAll(rules);
  lastOperations_ = tx.size();
  applied_.reset();  // until the commit is known to have worked
  auto r = nft_.commit(tx);
  if (!r.ok())
    return std::move(r).error().context("program nftables table inet " + std::string(kName));
  applied_ = rules;
  return {};
}

Result<void> NetpolTable::remove() {
  applied_.reset();
  if (!TRY(nft_.hasTable({kFamily, kName}))) return {};
  Transaction tx;
  tx.deleteTable({kFamily, kName});
  auto r = nft_.commit(tx);
  if (!r.ok() && !r.error().is(ErrorCode::kNotFound)) return r;
  return {};
}

std::string renderTable(const Ruleset& rules) {
  std::string out = "table inet " + std::string(NetpolTable::kName) + " {\n";
  std::vector<std::string> elements;
  for (Ipv4Address ip : selfOf(rules)) elements.push_back(ip.toString() + " . " + ip.toString());
  renderSet(out, kSelf, "ipv4_addr . ipv4_addr", false, elements);
  for (const auto& [map, pods] :
       {std::pair{kIngressPods, &rules.ingressPods}, std::pair{kEgressPods, &rules.egressPods}}) {
    out += "\tmap " + std::string(map) + " {\n\t\ttype ipv4_addr : verdict\n";
    if (!pods->empty()) {
      out += "\t\telements = { ";
      bool first = true;
      for (const auto& [ip, chain] : *pods) {
        out += (first ? "" : ", ") + ip.toString() + " : goto " + chain;
        first = false;
      }
      out += " }\n";
    }
    out += "\t}\n";
  }
  for (const auto& [name, ranges] : rules.peerSets) {
    elements.clear();
    for (const AddressRange& r : ranges) elements.push_back(rangeText(r));
    renderSet(out, name, "ipv4_addr", true, elements);
  }
  for (const auto& [name, set] : rules.portSets) {
    elements.clear();
    for (const auto& [ip, port] : set)
      elements.push_back(ip.toString() + " . " + std::to_string(port));
    renderSet(out, name, "ipv4_addr . inet_service", false, elements);
  }
  for (const auto& [name, chain] : rules.chains) {
    out += "\tchain " + name + " {\n";
    for (const AllowRule& a : chain.rules) out += "\t\t" + renderRule(a, chain.ingress) + "\n";
    out += "\t\tcounter reject\n\t}\n";
  }
  for (bool ingress : {false, true}) {
    out += ingress
               ? "\tchain ingress {\n\t\ttype filter hook forward priority filter + 1; policy "
                 "accept;\n"
               : "\tchain egress {\n\t\ttype filter hook forward priority filter; policy accept;\n";
    out += "\t\tct state established,related accept\n\t\tip saddr . ip daddr @self accept\n";
    if (ingress)
      out += "\t\tfib saddr type local accept\n\t\tip daddr vmap @ingress-pods\n";
    else
      out += "\t\tip saddr vmap @egress-pods\n";
    out += "\t}\n";
  }
  return out + "}\n";
}

}  // namespace nave::network::netpol
