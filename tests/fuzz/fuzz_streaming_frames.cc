// Fuzzes the node API's frame parsers with what a hostile client could send: SPDY/3.1 frames
// (with compressed header blocks), WebSocket frames (masked, as clients send them, and not)
// and channel-protocol messages. Each input is fed in two pieces; parsers must return frames
// or clear errors, never crash or overrun.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "runtime/agent/streaming/channel.h"
#include "runtime/agent/streaming/spdy_frame.h"
#include "runtime/agent/streaming/websocket.h"

namespace {

using namespace nave::agent;

void fuzzSpdy(std::string_view data) {
  spdy::ParserLimits limits;
  limits.maxDataFrame = 1 << 16;
  limits.maxHeaderBlock = 1 << 16;
  spdy::FrameParser parser(limits);
  size_t half = data.size() / 2;
  for (std::string_view piece : {data.substr(0, half), data.substr(half)}) {
    parser.feed(piece);
    for (;;) {
      auto next = parser.next();
      if (!next.ok()) return;
      if (!next->has_value()) break;
      if ((*next)->data.size() > limits.maxDataFrame) std::abort();
    }
  }
  auto headers = spdy::decodeHeaderBlock(data, limits);
  if (headers.ok() && headers->size() > limits.maxHeaders) std::abort();
}

void fuzzWebSocket(std::string_view data, bool requireMask) {
  ws::Limits limits;
  limits.maxFramePayload = 1 << 16;
  limits.requireMask = requireMask;
  ws::FrameParser parser(limits);
  size_t half = data.size() / 2;
  for (std::string_view piece : {data.substr(0, half), data.substr(half)}) {
    parser.feed(piece);
    for (;;) {
      auto next = parser.next();
      if (!next.ok()) return;
      if (!next->has_value()) break;
      if ((*next)->payload.size() > limits.maxFramePayload) std::abort();
      for (std::string_view protocol : {channel::kV5, channel::kV4Base64}) {
        auto decoded = channel::decode(channel::codecFor(protocol), (*next)->payload);
        (void)decoded;
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size == 0) return 0;
  std::string_view data(reinterpret_cast<const char*>(bytes) + 1, size - 1);
  switch (bytes[0] % 3) {
    case 0: fuzzSpdy(data); break;
    case 1: fuzzWebSocket(data, true); break;
    default: fuzzWebSocket(data, false); break;
  }
  return 0;
}
