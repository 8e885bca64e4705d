#include "runtime/agent/streaming/websocket.h"

#include <openssl/sha.h>

#include "common/strings.h"

namespace nave::agent::ws {
namespace {

bool isControl(uint8_t opcode) { return (opcode & 0x8) != 0; }

bool hasToken(std::string_view header, std::string_view token) {
  for (const std::string& part : split(header, ','))
    if (toLower(trim(part)) == token) return true;
  return false;
}

Error protocolError(std::string message) {
  return Error(ErrorCode::kBadRequest, "websocket: " + std::move(message));
}

}  // namespace

Result<std::optional<Frame>> FrameParser::next() {
  if (failed_) return protocolError("connection already failed");
  if (offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  } else if (offset_ > 64 * 1024 && offset_ * 2 > buffer_.size()) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  std::string_view in(buffer_);
  in.remove_prefix(offset_);
  if (in.size() < 2) return std::optional<Frame>();
  uint8_t b0 = uint8_t(in[0]), b1 = uint8_t(in[1]);
  auto fail = [&](ErrorCode code, std::string m) -> Result<std::optional<Frame>> {
    failed_ = true;
    return Error(code, "websocket: " + m);
  };
  if ((b0 & 0x70) != 0) return fail(ErrorCode::kBadRequest, "reserved bits set without an extension");
  uint8_t opcode = b0 & 0x0f;
  bool fin = (b0 & 0x80) != 0;
  if (opcode > kBinary && opcode != kClose && opcode != kPing && opcode != kPong)
    return fail(ErrorCode::kBadRequest, "unknown opcode " + std::to_string(opcode));
  bool masked = (b1 & 0x80) != 0;
  if (limits_.requireMask && !masked) return fail(ErrorCode::kBadRequest, "client frame is not masked");
  uint64_t length = b1 & 0x7f;
  size_t at = 2;
  if (length == 126) {
    if (in.size() < 4) return std::optional<Frame>();
    length = (uint64_t(uint8_t(in[2])) << 8) | uint8_t(in[3]);
    at = 4;
  } else if (length == 127) {
    if (in.size() < 10) return std::optional<Frame>();
    length = 0;
    for (int i = 0; i < 8; ++i) length = (length << 8) | uint8_t(in[2 + i]);
    if ((length >> 63) != 0) return fail(ErrorCode::kBadRequest, "invalid payload length");
    at = 10;
  }
  if (isControl(opcode)) {
    if (!fin) return fail(ErrorCode::kBadRequest, "fragmented control frame");
    if (length > 125) return fail(ErrorCode::kBadRequest, "control frame payload longer than 125 bytes");
  }
  if (length > limits_.maxFramePayload)
    return fail(ErrorCode::kTooLarge, "frame of " + std::to_string(length) + " bytes exceeds the limit");
  uint8_t key[4] = {};
  if (masked) {
    if (in.size() < at + 4) return std::optional<Frame>();
    for (int i = 0; i < 4; ++i) key[i] = uint8_t(in[at + i]);
    at += 4;
  }
  if (in.size() - at < length) return std::optional<Frame>();
  Frame f;
  f.fin = fin;
  f.opcode = opcode;
  f.payload.assign(in.substr(at, size_t(length)));
  if (masked)
    for (size_t i = 0; i < f.payload.size(); ++i) f.payload[i] = char(f.payload[i] ^ key[i & 3]);
  offset_ += at + size_t(length);
  return std::optional<Frame>(std::move(f));
}

std::string encodeFrame(uint8_t opcode, std::string_view payload, bool fin, const uint8_t* maskKey) {
  std::string out;
  out += char((fin ? 0x80 : 0) | (opcode & 0x0f));
  uint8_t maskBit = maskKey != nullptr ? 0x80 : 0;
  if (payload.size() < 126) {
    out += char(maskBit | payload.size());
  } else if (payload.size() <= 0xffff) {
    out += char(maskBit | 126);
    out += char(payload.size() >> 8);
    out += char(payload.size() & 0xff);
  } else {
    out += char(maskBit | 127);
    for (int i = 7; i >= 0; --i) out += char((uint64_t(payload.size()) >> (8 * i)) & 0xff);
  }
  if (maskKey == nullptr) {
    out.append(payload);
  } else {
    out.append(reinterpret_cast<const char*>(maskKey), 4);
    for (size_t i = 0; i < payload.size(); ++i) out += char(payload[i] ^ maskKey[i & 3]);
  }
  return out;
}

std::string closePayload(uint16_t code, std::string_view reason) {
  std::string p;
  p += char(code >> 8);
  p += char(code & 0xff);
  p.append(reason.substr(0, 123));
  return p;
}

std::string acceptKey(std::string_view key) {
  std::string text = std::string(key) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return base64Encode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

bool isWebSocketRequest(const http::Request& request) {
  return toLower(trim(request.header("Upgrade"))) == "websocket" &&
         hasToken(request.header("Connection"), "upgrade");
}

Result<Handshake> negotiate(const http::Request& request, const std::vector<std::string>& supported) {
  if (request.method != "GET")
    return Error(ErrorCode::kMethodNotAllowed, "websocket: the handshake must be a GET request");
  if (!isWebSocketRequest(request)) return protocolError("not a websocket handshake");
  std::string_view key = trim(request.header("Sec-WebSocket-Key"));
  std::string decodedKey;
  if (key.empty() || !base64Decode(key, decodedKey) || decodedKey.size() != 16)
    return protocolError("mismatch challenge/response");
  if (trim(request.header("Sec-WebSocket-Version")) != "13")
    return protocolError("missing or bad WebSocket Version");
  std::vector<std::string> offered;
  for (const http::Header& h : request.headers) {
    if (toLower(h.name) != "sec-websocket-protocol") continue;
    for (const std::string& p : split(h.value, ','))
      if (!trim(p).empty()) offered.emplace_back(trim(p));
  }
  if (offered.empty()) offered.emplace_back();
  Handshake hs;
  bool found = false;
  for (const std::string& o : offered) {
    for (const std::string& s : supported) {
      if (o == s) {
        hs.protocol = o;
        found = true;
        break;
      }
    }
    if (found) break;
  }
  if (!found) {
    return Error(ErrorCode::kForbidden, "websocket: requested protocol(s) are not supported: [" +
                                            join(offered, " ") + "]; supports [" +
                                            join(supported, " ") + "]");
  }
  hs.responseHeaders = {{"Upgrade", "websocket"},
                        {"Connection", "Upgrade"},
                        {"Sec-WebSocket-Accept", acceptKey(key)}};
  if (!hs.protocol.empty()) hs.responseHeaders.push_back({"Sec-WebSocket-Protocol", hs.protocol});
  return hs;
}

bool Connection::sendFrame(const std::string& bytes) {
  if (writeFailed_) return false;
  if (!transport_.write(bytes)) writeFailed_ = true;
  return !writeFailed_;
}

bool Connection::send(uint8_t opcode, std::string_view data) {
  std::lock_guard lock(writeMu_);
  if (closeSent_) return false;
  return sendFrame(encodeFrame(opcode, data));
}

void Connection::close(uint16_t code, std::string_view reason) {
  std::lock_guard lock(writeMu_);
  if (closeSent_) return;
  closeSent_ = true;
  sendFrame(encodeFrame(kClose, closePayload(code, reason)));
  transport_.closeWrite();
}

Result<std::optional<Message>> Connection::readMessage() {
  std::optional<Message> partial;
  char buffer[32 * 1024];
  for (;;) {
    auto next = parser_.next();
    if (!next.ok()) {
      close(next.error().is(ErrorCode::kTooLarge) ? kCloseTooBig : kCloseProtocolError);
      return std::move(next).error();
    }
    if (!next->has_value()) {
      if (eof_) return std::optional<Message>();
      long n = transport_.read(buffer, sizeof buffer);
      if (n <= 0) {
        eof_ = true;
        if (partial) return protocolError("connection ended inside a message");
        return std::optional<Message>();
      }
      parser_.feed(std::string_view(buffer, size_t(n)));
      continue;
    }
    Frame& f = **next;
    switch (f.opcode) {
      case kPing: {
        std::lock_guard lock(writeMu_);
        if (!closeSent_) sendFrame(encodeFrame(kPong, f.payload));
        break;
      }
      case kPong:
        break;
      case kClose: {
        uint16_t code = 1005;
        if (f.payload.size() == 1) {
          close(kCloseProtocolError);
          return protocolError("close frame with a one-byte payload");
        }
        if (f.payload.size() >= 2) code = uint16_t((uint8_t(f.payload[0]) << 8) | uint8_t(f.payload[1]));
        peerCloseCode_ = code;
        close(code == 1005 ? kCloseNormal : code);
        eof_ = true;
        return std::optional<Message>();
      }
      case kText:
      case kBinary:
        if (partial) {
          close(kCloseProtocolError);
          return protocolError("new message inside a fragmented message");
        }
        partial = Message{f.opcode, std::move(f.payload)};
        break;
      case kContinuation:
        if (!partial) {
          close(kCloseProtocolError);
          return protocolError("continuation frame without a message");
        }
        if (partial->data.size() + f.payload.size() > limits_.maxMessage) {
          close(kCloseTooBig);
          return Error(ErrorCode::kTooLarge, "websocket: message exceeds the limit");
        }
        partial->data += f.payload;
        break;
    }
    if (partial && !isControl(f.opcode) && f.fin) {
      if (partial->opcode == kText && !isValidUtf8(partial->data)) {
        close(kCloseInvalidData);
        return Error(ErrorCode::kBadRequest, "websocket: text message is not valid UTF-8");
      }
      return std::optional<Message>(std::move(partial));
    }
  }
}

}  // namespace nave::agent::ws
