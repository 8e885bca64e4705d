#include "network/nftables/rule.h"

#include <arpa/inet.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <linux/if.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/rtnetlink.h>

#include <cassert>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace nave::network::nft {

namespace {

nftnl_expr* newExpr(const char* name) {
  nftnl_expr* e = nftnl_expr_alloc(name);
  if (!e) std::abort();  // out of memory
  return e;
}

Bytes u32Bytes(uint32_t v) {  // host byte order, as meta/ct/fib results are compared
  Bytes b(4);
  std::memcpy(b.data(), &v, 4);
  return b;
}

}  // namespace

Rule::Rule(Family family, const std::string& table, const std::string& chain)
    : family_(family), table_(table), chain_(chain), rule_(nftnl_rule_alloc()) {
  if (!rule_) std::abort();
  nftnl_rule_set_u32(rule_, NFTNL_RULE_FAMILY, static_cast<uint32_t>(family));
  nftnl_rule_set_str(rule_, NFTNL_RULE_TABLE, table.c_str());
  nftnl_rule_set_str(rule_, NFTNL_RULE_CHAIN, chain.c_str());
}

Rule::Rule(Rule&& other) noexcept
    : family_(other.family_),
      table_(std::move(other.table_)),
      chain_(std::move(other.chain_)),
      rule_(std::exchange(other.rule_, nullptr)) {}

Rule& Rule::operator=(Rule&& other) noexcept {
  if (this != &other) {
    if (rule_) nftnl_rule_free(rule_);
    family_ = other.family_;
    table_ = std::move(other.table_);
    chain_ = std::move(other.chain_);
    rule_ = std::exchange(other.rule_, nullptr);
  }
  return *this;
}

Rule::~Rule() {
  if (rule_) nftnl_rule_free(rule_);
}

std::string Rule::describe() const {
  return std::string(familyName(family_)) + " " + table_ + " " + chain_;
}

void Rule::add(nftnl_expr* e) {
  assert(rule_ && "use of a moved-from Rule");
  nftnl_rule_add_expr(rule_, e);  // the rule owns it from here
}

Rule& Rule::payload(uint32_t base, uint32_t offset, uint32_t length, uint32_t dreg) {
  nftnl_expr* e = newExpr("payload");
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, length);
  add(e);
  return *this;
}

Rule& Rule::meta(uint32_t key, uint32_t dreg) {
  nftnl_expr* e = newExpr("meta");
  nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
  nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
  add(e);
  return *this;
}

Rule& Rule::ct(uint32_t key, uint32_t dreg) {
  nftnl_expr* e = newExpr("ct");
  nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
  nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, dreg);
  add(e);
  return *this;
}

Rule& Rule::fib(uint32_t flags, uint32_t result, uint32_t dreg) {
  nftnl_expr* e = newExpr("fib");
  nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, flags);
  nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, result);
  nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, dreg);
  add(e);
  return *this;
}

Rule& Rule::cmp(uint32_t op, uint32_t sreg, const Bytes& data) {
  nftnl_expr* e = newExpr("cmp");
  nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
  nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
  nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data.data(), static_cast<uint32_t>(data.size()));
  add(e);
  return *this;
}

Rule& Rule::bitwise(uint32_t sreg, uint32_t dreg, const Bytes& mask, const Bytes& xorValue) {
  assert(mask.size() == xorValue.size());
  nftnl_expr* e = newExpr("bitwise");
  nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, sreg);
  nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, dreg);
  nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, static_cast<uint32_t>(mask.size()));
  nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask.data(), static_cast<uint32_t>(mask.size()));
  nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xorValue.data(),
                 static_cast<uint32_t>(xorValue.size()));
  add(e);
  return *this;
}

Rule& Rule::lookup(const std::string& set, uint32_t sreg, std::optional<uint32_t> dreg,
                   bool invert) {
  nftnl_expr* e = newExpr("lookup");
  nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set.c_str());
  nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
  if (dreg) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, *dreg);
  if (invert) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
  add(e);
  return *this;
}

Rule& Rule::lookupAnonymous(uint32_t setId, uint32_t sreg, std::optional<uint32_t> dreg) {
  nftnl_expr* e = newExpr("lookup");
  nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, "__map%d");
  nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, setId);
  nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
  if (dreg) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, *dreg);
  add(e);
  return *this;
}

Rule& Rule::dynsetUpdate(const std::string& set, uint32_t sreg) {
  nftnl_expr* e = newExpr("dynset");
  nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, set.c_str());
  nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, sreg);
  nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
  add(e);
  return *this;
}

Rule& Rule::immediate(uint32_t dreg, const Bytes& data) {
  nftnl_expr* e = newExpr("immediate");
  nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, dreg);
  nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data.data(), static_cast<uint32_t>(data.size()));
  add(e);
  return *this;
}

Rule& Rule::numgenRandom(uint32_t modulus, uint32_t dreg) {
  nftnl_expr* e = newExpr("numgen");
  nftnl_expr_set_u32(e, NFTNL_EXPR_NG_DREG, dreg);
  nftnl_expr_set_u32(e, NFTNL_EXPR_NG_MODULUS, modulus);
  nftnl_expr_set_u32(e, NFTNL_EXPR_NG_TYPE, NFT_NG_RANDOM);
  nftnl_expr_set_u32(e, NFTNL_EXPR_NG_OFFSET, 0);
  add(e);
  return *this;
}

Rule& Rule::metaSet(uint32_t key, uint32_t sreg) {
  nftnl_expr* e = newExpr("meta");
  nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
  nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, sreg);
  add(e);
  return *this;
}

Rule& Rule::counter() {
  add(newExpr("counter"));
  return *this;
}

Rule& Rule::masquerade(uint32_t flags) {
  nftnl_expr* e = newExpr("masq");
  if (flags) nftnl_expr_set_u32(e, NFTNL_EXPR_MASQ_FLAGS, flags);
  add(e);
  return *this;
}

Rule& Rule::reject(bool tcpReset) {
  nftnl_expr* e = newExpr("reject");
  bool inet = family_ == Family::kInet;
  uint32_t type = tcpReset ? NFT_REJECT_TCP_RST
                           : (inet ? NFT_REJECT_ICMPX_UNREACH : NFT_REJECT_ICMP_UNREACH);
  uint8_t code = tcpReset ? 0 : (inet ? NFT_REJECT_ICMPX_PORT_UNREACH : 3 /* ICMP_PORT_UNREACH */);
  nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, type);
  nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, code);
  add(e);
  return *this;
}

Rule& Rule::dnat(uint32_t addrReg, std::optional<uint32_t> portReg) {
  nftnl_expr* e = newExpr("nat");
  nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
  nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
  nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, addrReg);
  nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MAX, addrReg);
  uint32_t flags = NF_NAT_RANGE_MAP_IPS;
  if (portReg) {
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, *portReg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MAX, *portReg);
    flags |= NF_NAT_RANGE_PROTO_SPECIFIED;
  }
  nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FLAGS, flags);
  add(e);
  return *this;
}

Rule& Rule::verdict(const Verdict& v) {
  nftnl_expr* e = newExpr("immediate");
  nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
  nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, static_cast<uint32_t>(v.code));
  if (v.code == NFT_JUMP || v.code == NFT_GOTO) {
    assert(!v.chain.empty());
    nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, v.chain.c_str());
  }
  add(e);
  return *this;
}

Rule& Rule::ipPrefix(uint32_t offset, const Ipv4Prefix& prefix, bool negate) {
  // As nft: a byte-aligned prefix loads and compares only the bytes it covers; any other
  // loads the whole address and masks it.
  assert(prefix.length > 0 && "a /0 prefix matches everything: leave the matcher out");
  uint32_t bytes = prefix.length % 8 == 0 ? static_cast<uint32_t>(prefix.length) / 8 : 4;
  uint32_t be = prefix.network().networkOrder();
  auto first = [&](uint32_t v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    return Bytes(p, p + bytes);
  };
  payload(NFT_PAYLOAD_NETWORK_HEADER, offset, bytes, kReg1);
  if (prefix.length % 8 != 0) bitwise(kReg1, kReg1, first(htonl(prefix.mask())), Bytes(bytes, 0));
  return cmp(negate ? NFT_CMP_NEQ : NFT_CMP_EQ, kReg1, first(be));
}

Rule& Rule::ipSaddr(const Ipv4Prefix& prefix, bool negate) {
  return ipPrefix(12, prefix, negate);
}

Rule& Rule::ipDaddr(const Ipv4Prefix& prefix, bool negate) {
  return ipPrefix(16, prefix, negate);
}

Rule& Rule::l4proto(uint8_t proto) {
  meta(NFT_META_L4PROTO, kReg1);
  return cmp(NFT_CMP_EQ, kReg1, {proto});
}

Rule& Rule::ifname(uint32_t key, const std::string& name, bool negate) {
  assert(name.size() < IFNAMSIZ);
  Bytes padded(IFNAMSIZ, 0);
  std::memcpy(padded.data(), name.data(), name.size());
  meta(key, kReg1);
  return cmp(negate ? NFT_CMP_NEQ : NFT_CMP_EQ, kReg1, padded);
}

Rule& Rule::iifname(const std::string& name, bool negate) {
  return ifname(NFT_META_IIFNAME, name, negate);
}

Rule& Rule::oifname(const std::string& name, bool negate) {
  return ifname(NFT_META_OIFNAME, name, negate);
}

Rule& Rule::fibDaddrLocal() {
  fib(NFTA_FIB_F_DADDR, NFT_FIB_RESULT_ADDRTYPE, kReg1);
  return cmp(NFT_CMP_EQ, kReg1, u32Bytes(RTN_LOCAL));
}

Rule& Rule::ctStatus(uint32_t bits) {
  ct(NFT_CT_STATUS, kReg1);
  bitwise(kReg1, kReg1, u32Bytes(bits), u32Bytes(0));
  return cmp(NFT_CMP_NEQ, kReg1, u32Bytes(0));
}

Rule& Rule::ctState(uint32_t bits) {
  ct(NFT_CT_STATE, kReg1);
  bitwise(kReg1, kReg1, u32Bytes(bits), u32Bytes(0));
  return cmp(NFT_CMP_NEQ, kReg1, u32Bytes(0));
}

Rule& Rule::fibSaddrLocal() {
  fib(NFTA_FIB_F_SADDR, NFT_FIB_RESULT_ADDRTYPE, kReg1);
  return cmp(NFT_CMP_EQ, kReg1, u32Bytes(RTN_LOCAL));
}

Rule& Rule::setMarkBits(uint32_t bits, uint32_t reg) {
  meta(NFT_META_MARK, reg);
  bitwise(reg, reg, u32Bytes(~bits), u32Bytes(bits));
  return metaSet(NFT_META_MARK, reg);
}

Rule& Rule::markBits(uint32_t mask, bool isZero) {
  meta(NFT_META_MARK, kReg1);
  bitwise(kReg1, kReg1, u32Bytes(mask), u32Bytes(0));
  return cmp(isZero ? NFT_CMP_EQ : NFT_CMP_NEQ, kReg1, u32Bytes(0));
}

}  // namespace nave::network::nft
