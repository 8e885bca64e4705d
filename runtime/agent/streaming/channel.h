// Kubernetes' channel protocols over WebSocket (k8s.io/apimachinery/pkg/util/httpstream/
// wsstream): each message carries one channel's data, prefixed by the channel number, either
// as a raw byte in a binary message (channel.k8s.io, v4.channel.k8s.io, v5.channel.k8s.io) or
// as an ASCII digit followed by base64 in a text message (base64.channel.k8s.io,
// v4.base64.channel.k8s.io). v5 adds the close signal: a message [255, channel] half-closes
// the channel.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace nave::agent::channel {

inline constexpr std::string_view kV5 = "v5.channel.k8s.io";
inline constexpr std::string_view kV4 = "v4.channel.k8s.io";
inline constexpr std::string_view kV4Base64 = "v4.base64.channel.k8s.io";
inline constexpr std::string_view kV1 = "channel.k8s.io";
inline constexpr std::string_view kV1Base64 = "base64.channel.k8s.io";
inline constexpr uint8_t kCloseSignal = 255;

struct Codec {
  bool base64 = false;
  bool streamClose = false;  // v5
};
// The codec of a negotiated subprotocol ("" is binary, as Kubernetes' default).
Codec codecFor(std::string_view protocol);

struct Encoded {
  uint8_t opcode;  // ws::kBinary or ws::kText
  std::string payload;
};
Encoded encode(const Codec& codec, uint8_t channel, std::string_view data);

struct Decoded {
  enum Kind { kData, kClose, kEmpty } kind = kEmpty;
  uint8_t channel = 0;
  std::string data;
};
// A received message. kEmpty for an empty message (ignored, as wsstream does). Errors
// (kBadRequest): a close signal not followed by exactly one channel byte (wsstream ends the
// connection), or invalid base64 (wsstream drops the message).
Result<Decoded> decode(const Codec& codec, std::string_view message);

}  // namespace nave::agent::channel
