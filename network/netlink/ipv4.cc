#include "network/netlink/ipv4.h"

#include <arpa/inet.h>

#include <charconv>

namespace nave::network {

Result<Ipv4Address> Ipv4Address::parse(std::string_view text) {
  auto bad = [&] {
    return Error(ErrorCode::kInvalid, "invalid IPv4 address \"" + std::string(text) + "\"");
  };
  uint32_t value = 0;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      if (p == end || *p != '.') return bad();
      ++p;
    }
    // from_chars would accept "+1" nowhere but does accept leading zeros; refuse them, since
    // inet_aton reads "010" as octal and the two readings must not disagree.
    if (p == end || *p < '0' || *p > '9' ||
        (*p == '0' && p + 1 != end && p[1] >= '0' && p[1] <= '9'))
      return bad();
    unsigned octet = 0;
    auto [next, ec] = std::from_chars(p, end, octet);
    if (ec != std::errc() || octet > 255) return bad();
    value = (value << 8) | octet;
    p = next;
  }
  if (p != end) return bad();
  return Ipv4Address{value};
}

std::string Ipv4Address::toString() const {
  return std::to_string(value >> 24) + "." + std::to_string((value >> 16) & 0xff) + "." +
         std::to_string((value >> 8) & 0xff) + "." + std::to_string(value & 0xff);
}

uint32_t Ipv4Address::networkOrder() const {
  return htonl(value);
}

Ipv4Address Ipv4Address::fromNetworkOrder(uint32_t be) {
  return Ipv4Address{ntohl(be)};
}

Result<Ipv4Prefix> Ipv4Prefix::parse(std::string_view text, bool allowBare) {
  auto bad = [&] {
    return Error(ErrorCode::kInvalid, "invalid IPv4 CIDR \"" + std::string(text) + "\"");
  };
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    if (!allowBare) return bad();
    auto a = Ipv4Address::parse(text);
    if (!a.ok()) return bad();
    return Ipv4Prefix{*a, 32};
  }
  auto a = Ipv4Address::parse(text.substr(0, slash));
  if (!a.ok()) return bad();
  std::string_view len = text.substr(slash + 1);
  int n = -1;
  auto [next, ec] = std::from_chars(len.data(), len.data() + len.size(), n);
  if (len.empty() || len.size() > 2 || ec != std::errc() || next != len.data() + len.size() ||
      n < 0 || n > 32 || (len.size() == 2 && len[0] == '0'))
    return bad();
  return Ipv4Prefix{*a, n};
}

std::string Ipv4Prefix::toString() const {
  return address.toString() + "/" + std::to_string(length);
}

uint32_t Ipv4Prefix::mask() const {
  return length == 0 ? 0 : ~uint32_t{0} << (32 - length);
}

Ipv4Address Ipv4Prefix::network() const {
  return Ipv4Address{address.value & mask()};
}

Ipv4Address Ipv4Prefix::broadcast() const {
  return Ipv4Address{address.value | ~mask()};
}

bool Ipv4Prefix::contains(Ipv4Address a) const {
  return (a.value & mask()) == network().value;
}

bool Ipv4Prefix::contains(const Ipv4Prefix& other) const {
  return other.length >= length && contains(other.address);
}

}  // namespace nave::network
