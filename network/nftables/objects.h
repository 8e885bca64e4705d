// The nftables objects a Transaction creates (tables, chains, sets and maps, their elements)
// described as plain values. Tables belong to whoever created them: nave only ever names its
// own, so nothing here touches another program's rules.
#pragma once

// glibc's <netinet/in.h> first: the uapi headers then leave out their clashing copies.
#include <netinet/in.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "network/netlink/ipv4.h"

namespace nave::network::nft {

using Bytes = std::vector<uint8_t>;

enum class Family : uint8_t {
  kIp = NFPROTO_IPV4,
  kIp6 = NFPROTO_IPV6,
  kInet = NFPROTO_INET,
};
std::string_view familyName(Family family);  // "ip", "ip6", "inet"

// A verdict: of an immediate (the end of a rule), a chain's policy, or a verdict map's value.
struct Verdict {
  int32_t code = NF_ACCEPT;  // NF_ACCEPT, NF_DROP, NFT_JUMP, NFT_GOTO, NFT_RETURN, NFT_CONTINUE
  std::string chain;         // for NFT_JUMP and NFT_GOTO

  static Verdict accept() { return {NF_ACCEPT, {}}; }
  static Verdict drop() { return {NF_DROP, {}}; }
  static Verdict jump(std::string chain) { return {NFT_JUMP, std::move(chain)}; }
  static Verdict goTo(std::string chain) { return {NFT_GOTO, std::move(chain)}; }
  static Verdict ret() { return {NFT_RETURN, {}}; }
  friend bool operator==(const Verdict&, const Verdict&) = default;
};

// The types of set keys and map values, with nft's own type numbers so that `nft list` shows
// them by name.
enum class DataType : uint32_t {
  kVerdict = 1,
  kInteger = 4,  // e.g. numgen's result: 32-bit, host byte order
  kMark = 19,  // 32-bit, host byte order
  kIpv4Addr = 7,
  kIpv6Addr = 8,
  kInetProto = 12,    // 1 byte (IPPROTO_TCP...)
  kInetService = 13,  // 2 bytes, network byte order
  kIfname = 41,       // 16 bytes, NUL padded
};
uint32_t dataTypeLength(DataType type);

// Builds a key or value of a set element. One field is stored as is; fields of a
// concatenation are each padded to 4 bytes (the width of the 32-bit registers they are loaded
// into), which is what the kernel compares.
class Concat {
 public:
  Concat& ipv4(Ipv4Address a);
  Concat& inetProto(uint8_t proto);
  Concat& inetService(uint16_t port);  // given in host order
  Concat& raw(Bytes field);
  Bytes bytes() const;

 private:
  std::vector<Bytes> fields_;
};

struct TableSpec {
  Family family = Family::kIp;
  std::string name;
};

struct BaseChainSpec {
  std::string type = "filter";  // "filter", "nat", "route"
  uint32_t hook = NF_INET_PRE_ROUTING;
  int32_t priority = 0;  // e.g. NF_IP_PRI_NAT_DST (-100), NF_IP_PRI_NAT_SRC (100)
  int32_t policy = NF_ACCEPT;
};

struct ChainSpec {
  Family family = Family::kIp;
  std::string table, name;
  std::optional<BaseChainSpec> base;  // none: a regular chain, reached by jump/goto
};

struct SetSpec {
  Family family = Family::kIp;
  std::string table, name;
  std::vector<DataType> key;   // one type, or the fields of a concatenation
  std::vector<DataType> data;  // empty: a set; {kVerdict}: a verdict map; otherwise a map
  bool interval = false;       // prefixes and ranges as keys (single-field keys only)
  // Elements expire this long after they were added or last updated (0: never); such a set
  // can be updated from rules (`update @set { ip saddr }`).
  uint32_t timeoutMs = 0;
  uint32_t keyLength() const;
  uint32_t dataLength() const;
};

struct SetElement {
  Bytes key;
  Bytes data;                      // maps
  std::optional<Verdict> verdict;  // verdict maps
  friend bool operator==(const SetElement&, const SetElement&) = default;
};

// A range of keys of an interval set, [first, last] inclusive, each in network byte order.
struct KeyRange {
  Bytes first, last;
  friend bool operator==(const KeyRange&, const KeyRange&) = default;
};

}  // namespace nave::network::nft
