// The server side of WebSocket (RFC 6455) as the streaming protocols need it: the opening
// handshake with subprotocol negotiation, the frame codec (client frames must be masked,
// fragmented messages are reassembled, control frames interleave), and a connection that
// answers pings and the closing handshake. No extensions (permessage-deflate is never
// negotiated).
//
// Threading: one thread calls readMessage(); send() and close() may be called from others
// (writeMu_ keeps frames whole).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "server/http/http_server.h"

namespace nave::agent::ws {

enum Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// Close codes used here.
inline constexpr uint16_t kCloseNormal = 1000;
inline constexpr uint16_t kCloseProtocolError = 1002;
inline constexpr uint16_t kCloseInvalidData = 1007;
inline constexpr uint16_t kCloseTooBig = 1009;

struct Frame {
  bool fin = true;
  uint8_t opcode = kBinary;
  std::string payload;  // unmasked
};

struct Limits {
  size_t maxFramePayload = 16 << 20;
  size_t maxMessage = 16 << 20;  // a reassembled message
  bool requireMask = true;       // servers require masked client frames (section 5.1)
};

// Incremental frame decoder. Errors are final and carry the close code to answer with
// (kBadRequest: 1002, kTooLarge: 1009).
class FrameParser {
 public:
  explicit FrameParser(Limits limits = {}) : limits_(limits) {}
  void feed(std::string_view bytes) { buffer_.append(bytes); }
  Result<std::optional<Frame>> next();

 private:
  Limits limits_;
  std::string buffer_;
  size_t offset_ = 0;
  bool failed_ = false;
};

// One encoded frame; masked with `maskKey` when given (clients; tests).
std::string encodeFrame(uint8_t opcode, std::string_view payload, bool fin = true,
                        const uint8_t* maskKey = nullptr);
// The payload of a close frame.
std::string closePayload(uint16_t code, std::string_view reason = "");
// Sec-WebSocket-Accept for a Sec-WebSocket-Key.
std::string acceptKey(std::string_view key);

// Whether a request asks for a WebSocket upgrade (Connection has the "upgrade" token and
// Upgrade is "websocket"), which is how Kubernetes tells WebSocket from SPDY requests.
bool isWebSocketRequest(const http::Request& request);

struct Handshake {
  std::string protocol;  // the negotiated subprotocol, "" when the client offered none
  std::vector<http::Header> responseHeaders;  // for the 101 response
};
// Checks the opening handshake and picks the first subprotocol the client offered that is in
// `supported` ("" in `supported` accepts a client that offers none). Errors carry the HTTP
// status to answer with: kBadRequest (400) for a malformed handshake, kForbidden (403) when
// no subprotocol matches (as x/net/websocket answers a failed handshake).
Result<Handshake> negotiate(const http::Request& request, const std::vector<std::string>& supported);

struct Message {
  uint8_t opcode = kBinary;  // kText or kBinary
  std::string data;
};

class Connection {
 public:
  explicit Connection(http::Stream& transport, Limits limits = {})
      : transport_(transport), parser_(limits), limits_(limits) {}

  // The next data message, reassembled. Pings are answered on the way. nullopt when the peer
  // ended the connection: a close frame (answered) or end of stream. An error after a
  // protocol violation (the close frame with its code has been sent).
  Result<std::optional<Message>> readMessage();
  // Sends one unfragmented message; false once closed or the transport failed.
  bool send(uint8_t opcode, std::string_view data);
  // Sends a close frame (once) and ends our sending direction.
  void close(uint16_t code = kCloseNormal, std::string_view reason = "");
  // The close code the peer sent, 0 before (1005 for a close frame without a code).
  uint16_t peerCloseCode() const { return peerCloseCode_; }

 private:
  bool sendFrame(const std::string& bytes);

  http::Stream& transport_;
  FrameParser parser_;
  Limits limits_;
  std::mutex writeMu_;
  bool closeSent_ = false;    // guarded by writeMu_
  bool writeFailed_ = false;  // guarded by writeMu_
  uint16_t peerCloseCode_ = 0;
  bool eof_ = false;
};

}  // namespace nave::agent::ws
