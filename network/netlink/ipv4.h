// IPv4 addresses and prefixes as values, parsed strictly from their dotted forms.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace nave::network {

// An IPv4 address; `value` in host byte order, so arithmetic (next address, masks) is plain.
struct Ipv4Address {
  uint32_t value = 0;

  // "10.42.0.1": four decimal octets without leading zeros or anything around them.
  static Result<Ipv4Address> parse(std::string_view text);
  std::string toString() const;
  uint32_t networkOrder() const;  // as the kernel's structures and nftables keys want it
  static Ipv4Address fromNetworkOrder(uint32_t be);

  friend bool operator==(Ipv4Address a, Ipv4Address b) = default;
  friend auto operator<=>(Ipv4Address a, Ipv4Address b) = default;
};

// An address with a prefix length, e.g. a pod CIDR ("10.42.0.0/24") or an interface address
// ("10.42.0.1/24": host bits may be set).
struct Ipv4Prefix {
  Ipv4Address address;
  int length = 32;

  // "A.B.C.D/N" with 0 <= N <= 32. A bare address is a /32 only when `allowBare`.
  static Result<Ipv4Prefix> parse(std::string_view text, bool allowBare = false);
  std::string toString() const;

  uint32_t mask() const;  // host byte order
  Ipv4Address network() const;
  Ipv4Address broadcast() const;  // the last address of the prefix
  bool hasHostBits() const { return address != network(); }
  bool contains(Ipv4Address a) const;
  bool contains(const Ipv4Prefix& other) const;  // `other` lies entirely within this prefix

  friend bool operator==(const Ipv4Prefix& a, const Ipv4Prefix& b) = default;
};

}  // namespace nave::network
