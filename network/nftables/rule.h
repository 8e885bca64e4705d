// Rule: one nftables rule, built expression by expression as the kernel runs them.
//
// Expressions load packet data into registers (payload, meta, ct, fib), compare or transform
// it (cmp, bitwise, lookup), and act (nat, masquerade, counter, verdicts). The matchers below
// emit the same expression sequences `nft` does for the equivalent text, so `nft list` prints
// rules built here as readable rules.
//
// Registers: kReg1..kReg4 are 16 bytes wide; reg32(0..15) name their 4-byte quarters
// (reg32(0..3) overlap kReg1). A concatenation is loaded into consecutive reg32s.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "network/nftables/objects.h"

struct nftnl_rule;
struct nftnl_expr;

namespace nave::network::nft {

constexpr uint32_t kRegVerdict = NFT_REG_VERDICT;
constexpr uint32_t kReg1 = NFT_REG_1;
constexpr uint32_t reg32(int i) {
  return NFT_REG32_00 + static_cast<uint32_t>(i);
}

class Rule {
 public:
  Rule(Family family, const std::string& table, const std::string& chain);
  Rule(Rule&&) noexcept;
  Rule& operator=(Rule&&) noexcept;
  ~Rule();

  // --- Expressions ---
  // `base` is NFT_PAYLOAD_NETWORK_HEADER, NFT_PAYLOAD_TRANSPORT_HEADER...
  Rule& payload(uint32_t base, uint32_t offset, uint32_t length, uint32_t dreg);
  Rule& meta(uint32_t key, uint32_t dreg);  // NFT_META_L4PROTO, NFT_META_OIFNAME...
  Rule& ct(uint32_t key, uint32_t dreg);    // NFT_CT_STATUS, NFT_CT_STATE...
  Rule& fib(uint32_t flags, uint32_t result, uint32_t dreg);
  Rule& cmp(uint32_t op, uint32_t sreg, const Bytes& data);  // NFT_CMP_EQ, NFT_CMP_NEQ...
  // dreg = (sreg & mask) ^ xorValue, over mask.size() bytes.
  Rule& bitwise(uint32_t sreg, uint32_t dreg, const Bytes& mask, const Bytes& xorValue);
  // Looks the key in `sreg` up in the named set of this rule's table. Without `dreg` the rule
  // continues when found (or when not found, `invert`); with it, the map's value is loaded
  // into `dreg` (kRegVerdict for a verdict map).
  Rule& lookup(const std::string& set, uint32_t sreg, std::optional<uint32_t> dreg = {},
               bool invert = false);
  // Looks up an anonymous set or map added to the same transaction (Transaction::
  // addAnonymousSet returned `setId`).
  Rule& lookupAnonymous(uint32_t setId, uint32_t sreg, std::optional<uint32_t> dreg = {});
  // `update @set { key }`: adds the key in `sreg` to a set with timeouts, or refreshes its
  // timeout.
  Rule& dynsetUpdate(const std::string& set, uint32_t sreg);
  Rule& immediate(uint32_t dreg, const Bytes& data);
  Rule& numgenRandom(uint32_t modulus, uint32_t dreg);  // 0 <= random < modulus
  Rule& metaSet(uint32_t key, uint32_t sreg);           // e.g. `meta mark set`
  // `meta mark set meta mark | bits`, through `reg` (keep it clear of registers in use).
  Rule& setMarkBits(uint32_t bits, uint32_t reg = NFT_REG_1);
  Rule& counter();
  // `flags` NF_NAT_RANGE_PROTO_RANDOM_FULLY gives nft's `masquerade fully-random`.
  Rule& masquerade(uint32_t flags = 0);
  // `reject`: ICMP port unreachable (icmpx in inet tables, so IPv6 gets ICMPv6), or a TCP
  // reset with `tcpReset`; ends the rule.
  Rule& reject(bool tcpReset = false);
  // Destination NAT to the IPv4 address in `addrReg` and, when given, the port in `portReg`.
  Rule& dnat(uint32_t addrReg, std::optional<uint32_t> portReg = {});
  Rule& verdict(const Verdict& v);

  // --- Matchers (each loads into kReg1) ---
  Rule& ipSaddr(const Ipv4Prefix& prefix, bool negate = false);
  Rule& ipDaddr(const Ipv4Prefix& prefix, bool negate = false);
  Rule& l4proto(uint8_t proto);
  Rule& iifname(const std::string& name, bool negate = false);
  Rule& oifname(const std::string& name, bool negate = false);
  Rule& fibDaddrLocal();          // `fib daddr type local`: to an address of this host
  Rule& ctStatus(uint32_t bits);  // `ct status dnat`: any of `bits` (IPS_DST_NAT...) set
  Rule& ctState(uint32_t bits);   // `ct state new`: any of `bits` (NF_CT_STATE_BIT...) set
  Rule& fibSaddrLocal();          // `fib saddr type local`: from an address of this host
  // `meta mark & mask != 0` (or `== 0` with `isZero`).
  Rule& markBits(uint32_t mask, bool isZero = false);

  Family family() const { return family_; }
  std::string describe() const;  // "ip nave-podnet postrouting", for error messages

 private:
  friend class Transaction;
  nftnl_rule* raw() const { return rule_; }
  void add(nftnl_expr* e);
  Rule& ipPrefix(uint32_t offset, const Ipv4Prefix& prefix, bool negate);
  Rule& ifname(uint32_t key, const std::string& name, bool negate);

  Family family_;
  std::string table_, chain_;
  nftnl_rule* rule_ = nullptr;  // owned
};

}  // namespace nave::network::nft
