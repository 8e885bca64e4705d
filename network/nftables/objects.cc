#include "network/nftables/objects.h"

#include <arpa/inet.h>

#include <cassert>
#include <cstring>

namespace nave::network::nft {

std::string_view familyName(Family family) {
  switch (family) {
    case Family::kIp:
      return "ip";
    case Family::kIp6:
      return "ip6";
    case Family::kInet:
      return "inet";
  }
  return "?";
}

uint32_t dataTypeLength(DataType type) {
  switch (type) {
    case DataType::kVerdict:
      return 0;  // the kernel sizes verdicts itself
    case DataType::kMark:
    case DataType::kInteger:
      return 4;
    case DataType::kIpv4Addr:
      return 4;
    case DataType::kIpv6Addr:
      return 16;
    case DataType::kInetProto:
      return 1;
    case DataType::kInetService:
      return 2;
    case DataType::kIfname:
      return 16;
  }
  return 0;
}

namespace {

uint32_t concatLength(const std::vector<DataType>& types) {
  if (types.size() == 1) return dataTypeLength(types[0]);
  uint32_t n = 0;
  for (DataType t : types) n += (dataTypeLength(t) + 3) & ~3u;
  return n;
}

}  // namespace

uint32_t SetSpec::keyLength() const {
  return concatLength(key);
}
uint32_t SetSpec::dataLength() const {
  return concatLength(data);
}

Concat& Concat::ipv4(Ipv4Address a) {
  uint32_t be = a.networkOrder();
  Bytes b(4);
  std::memcpy(b.data(), &be, 4);
  fields_.push_back(std::move(b));
  return *this;
}

Concat& Concat::inetProto(uint8_t proto) {
  fields_.push_back({proto});
  return *this;
}

Concat& Concat::inetService(uint16_t port) {
  fields_.push_back({static_cast<uint8_t>(port >> 8), static_cast<uint8_t>(port & 0xff)});
  return *this;
}

Concat& Concat::raw(Bytes field) {
  fields_.push_back(std::move(field));
  return *this;
}

Bytes Concat::bytes() const {
  if (fields_.size() == 1) return fields_[0];
  Bytes out;
  for (const Bytes& f : fields_) {
    out.insert(out.end(), f.begin(), f.end());
    out.resize((out.size() + 3) & ~size_t{3}, 0);
  }
  return out;
}

}  // namespace nave::network::nft
