#include "runtime/agent/streaming/channel.h"

#include "common/strings.h"
#include "runtime/agent/streaming/websocket.h"

namespace nave::agent::channel {

Codec codecFor(std::string_view protocol) {
  Codec c;
  c.base64 = protocol == kV1Base64 || protocol == kV4Base64;
  c.streamClose = protocol == kV5;
  return c;
}

Encoded encode(const Codec& codec, uint8_t channel, std::string_view data) {
  if (codec.base64) {
    std::string text(1, char('0' + channel));
    text += base64Encode(data);
    return {ws::kText, std::move(text)};
  }
  std::string bytes(1, char(channel));
  bytes.append(data);
  return {ws::kBinary, std::move(bytes)};
}

Result<Decoded> decode(const Codec& codec, std::string_view message) {
  Decoded d;
  if (message.empty()) return d;
  uint8_t first = uint8_t(message[0]);
  if (codec.streamClose && first == kCloseSignal) {
    if (message.size() != 2) {
      return Error(ErrorCode::kBadRequest, "single channel byte should follow stream close signal, got " +
                                               std::to_string(message.size() - 1) + " bytes");
    }
    d.kind = Decoded::kClose;
    d.channel = uint8_t(message[1]);
    return d;
  }
  d.kind = Decoded::kData;
  if (codec.base64) {
    d.channel = uint8_t(first - '0');
    if (!base64Decode(message.substr(1), d.data))
      return Error(ErrorCode::kBadRequest, "invalid base64 data on channel " + std::to_string(d.channel));
  } else {
    d.channel = first;
    d.data.assign(message.substr(1));
  }
  return d;
}

}  // namespace nave::agent::channel
