#include "runtime/agent/streaming/websocket.h"

#include <gtest/gtest.h>

#include <cstring>

#include "runtime/agent/streaming/channel.h"

namespace nave::agent::ws {
namespace {

const uint8_t kMask[4] = {0x37, 0xfa, 0x21, 0x3d};

// An in-memory transport: reads come from `input`, writes collect in `output`.
class MemoryStream final : public http::Stream {
 public:
  explicit MemoryStream(std::string input) : input_(std::move(input)) {}
  long read(char* buffer, size_t size) override {
    size_t n = std::min(size, std::min<size_t>(input_.size() - offset_, 7));  // small reads
    std::memcpy(buffer, input_.data() + offset_, n);
    offset_ += n;
    return long(n);
  }
  bool write(std::string_view data) override {
    output += data;
    return true;
  }
  void closeWrite() override { writeClosed = true; }
  void close() override {}
  std::string output;
  bool writeClosed = false;

 private:
  std::string input_;
  size_t offset_ = 0;
};

std::vector<Frame> framesOf(std::string_view bytes, bool requireMask = false) {
  Limits limits;
  limits.requireMask = requireMask;
  FrameParser parser(limits);
  parser.feed(bytes);
  std::vector<Frame> out;
  for (;;) {
    auto next = parser.next();
    EXPECT_TRUE(next.ok());
    if (!next.ok() || !next->has_value()) return out;
    out.push_back(std::move(**next));
  }
}

TEST(WebSocket, AcceptKeyAsInRfc6455) {
  EXPECT_EQ(acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocket, FramesOfAllLengthEncodingsRoundTripMasked) {
  for (size_t size : {0u, 125u, 126u, 65535u, 65536u, 300000u}) {
    std::string payload(size, 'p');
    for (size_t i = 0; i < size; ++i) payload[i] = char(i * 7);
    auto frames = framesOf(encodeFrame(kBinary, payload, true, kMask), true);
    ASSERT_EQ(frames.size(), 1u) << size;
    EXPECT_EQ(frames[0].payload, payload);
    EXPECT_TRUE(frames[0].fin);
  }
  // Server frames are not masked.
  std::string server = encodeFrame(kText, "hi");
  EXPECT_EQ(server, std::string("\x81\x02hi", 4));
}

Result<std::optional<Frame>> firstFrame(std::string_view bytes, Limits limits = {}) {
  FrameParser parser(limits);
  parser.feed(bytes);
  return parser.next();
}

TEST(WebSocket, HostileFramesFailClearly) {
  EXPECT_EQ(firstFrame(encodeFrame(kBinary, "x")).error().message(), "websocket: client frame is not masked");
  EXPECT_EQ(firstFrame(encodeFrame(kPing, "x", false, kMask)).error().message(),
            "websocket: fragmented control frame");
  EXPECT_EQ(firstFrame(encodeFrame(kPing, std::string(126, 'x'), true, kMask)).error().message(),
            "websocket: control frame payload longer than 125 bytes");
  std::string reserved = encodeFrame(kBinary, "x", true, kMask);
  reserved[0] = char(reserved[0] | 0x40);
  EXPECT_EQ(firstFrame(reserved).error().message(), "websocket: reserved bits set without an extension");
  std::string unknown = encodeFrame(kBinary, "x", true, kMask);
  unknown[0] = char(0x83);
  EXPECT_EQ(firstFrame(unknown).error().message(), "websocket: unknown opcode 3");
  std::string huge("\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00", 10);
  EXPECT_EQ(firstFrame(huge).error().message(), "websocket: invalid payload length");
  Limits small;
  small.maxFramePayload = 100;
  auto tooBig = firstFrame(encodeFrame(kBinary, std::string(200, 'x'), true, kMask).substr(0, 8), small);
  EXPECT_TRUE(tooBig.error().is(ErrorCode::kTooLarge));
  // Truncated: waits for more.
  auto partial = firstFrame(encodeFrame(kBinary, "hello", true, kMask).substr(0, 6));
  ASSERT_TRUE(partial.ok());
  EXPECT_FALSE(partial->has_value());
}

TEST(WebSocket, ConnectionReassemblesFragmentsAnswersPingsAndCloses) {
  std::string in = encodeFrame(kBinary, "hel", false, kMask) + encodeFrame(kPing, "p1", true, kMask) +
                   encodeFrame(kContinuation, "lo", false, kMask) +
                   encodeFrame(kContinuation, "!", true, kMask) + encodeFrame(kText, "two", true, kMask) +
                   encodeFrame(kClose, closePayload(1000, "bye"), true, kMask);
  MemoryStream transport(in);
  Connection conn(transport);
  auto m1 = conn.readMessage();
  ASSERT_TRUE(m1.ok() && m1->has_value());
  EXPECT_EQ((*m1)->data, "hello!");
  EXPECT_EQ((*m1)->opcode, kBinary);
  auto m2 = conn.readMessage();
  ASSERT_TRUE(m2.ok() && m2->has_value());
  EXPECT_EQ((*m2)->data, "two");
  EXPECT_EQ((*m2)->opcode, kText);
  auto end = conn.readMessage();
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->has_value());
  EXPECT_EQ(conn.peerCloseCode(), 1000);
  // The pong, then the close echoed, then the write side closed.
  EXPECT_EQ(transport.output, encodeFrame(kPong, "p1") + encodeFrame(kClose, closePayload(1000)));
  EXPECT_TRUE(transport.writeClosed);
  EXPECT_FALSE(conn.send(kBinary, "late"));
}

TEST(WebSocket, ProtocolViolationsCloseWithTheirCode) {
  struct Case {
    std::string input;
    uint16_t code;
  } cases[] = {
      {encodeFrame(kBinary, "x"), kCloseProtocolError},
      {encodeFrame(kContinuation, "x", true, kMask), kCloseProtocolError},
      {encodeFrame(kBinary, "a", false, kMask) + encodeFrame(kBinary, "b", true, kMask), kCloseProtocolError},
      {encodeFrame(kText, "\xff\xfe", true, kMask), kCloseInvalidData},
      {encodeFrame(kClose, "x", true, kMask), kCloseProtocolError},
  };
  for (const Case& c : cases) {
    MemoryStream transport(c.input);
    Connection conn(transport);
    auto m = conn.readMessage();
    EXPECT_FALSE(m.ok());
    EXPECT_EQ(transport.output, encodeFrame(kClose, closePayload(c.code)));
  }
  // A message reassembled beyond the limit.
  Limits limits;
  limits.maxMessage = 10;
  MemoryStream transport(encodeFrame(kBinary, "123456", false, kMask) +
                         encodeFrame(kContinuation, "789012", true, kMask));
  Connection conn(transport, limits);
  EXPECT_TRUE(conn.readMessage().error().is(ErrorCode::kTooLarge));
  EXPECT_EQ(transport.output, encodeFrame(kClose, closePayload(kCloseTooBig)));
}

TEST(WebSocket, EndOfStreamInsideAMessageIsAnError) {
  MemoryStream transport(encodeFrame(kBinary, "abc", false, kMask));
  Connection conn(transport);
  EXPECT_FALSE(conn.readMessage().ok());
}

http::Request handshakeRequest(std::vector<http::Header> extra) {
  http::Request r;
  r.method = "GET";
  r.headers = {{"Upgrade", "websocket"}, {"Connection", "keep-alive, Upgrade"},
               {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}, {"Sec-WebSocket-Version", "13"}};
  r.headers.insert(r.headers.end(), extra.begin(), extra.end());
  return r;
}

TEST(WebSocket, NegotiatePicksTheClientsFirstSupportedProtocol) {
  auto hs = negotiate(handshakeRequest({{"Sec-WebSocket-Protocol", "v9.channel.k8s.io, v4.channel.k8s.io"},
                                        {"Sec-WebSocket-Protocol", "v5.channel.k8s.io"}}),
                      {"v5.channel.k8s.io", "v4.channel.k8s.io"});
  ASSERT_TRUE(hs.ok());
  EXPECT_EQ(hs->protocol, "v4.channel.k8s.io");
  bool accept = false;
  for (const auto& h : hs->responseHeaders)
    if (h.name == "Sec-WebSocket-Accept") accept = h.value == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
  EXPECT_TRUE(accept);
  // No protocol offered: accepted when "" is supported.
  EXPECT_EQ(negotiate(handshakeRequest({}), {"v4.channel.k8s.io", ""})->protocol, "");
  EXPECT_TRUE(negotiate(handshakeRequest({}), {"v4.channel.k8s.io"}).error().is(ErrorCode::kForbidden));
  http::Request post = handshakeRequest({});
  post.method = "POST";
  EXPECT_TRUE(negotiate(post, {""}).error().is(ErrorCode::kMethodNotAllowed));
  http::Request noKey = handshakeRequest({});
  noKey.headers[2].value = "short";
  EXPECT_TRUE(negotiate(noKey, {""}).error().is(ErrorCode::kBadRequest));
  http::Request oldVersion = handshakeRequest({});
  oldVersion.headers[3].value = "8";
  EXPECT_TRUE(negotiate(oldVersion, {""}).error().is(ErrorCode::kBadRequest));
  EXPECT_FALSE(isWebSocketRequest(http::Request{}));
}

TEST(ChannelProtocol, BinaryAndBase64Framing) {
  auto binary = channel::codecFor(channel::kV4);
  auto e = channel::encode(binary, 1, "out");
  EXPECT_EQ(e.opcode, kBinary);
  EXPECT_EQ(e.payload, std::string("\x01out", 4));
  auto d = channel::decode(binary, std::string("\x00in", 3));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->kind, channel::Decoded::kData);
  EXPECT_EQ(d->channel, 0);
  EXPECT_EQ(d->data, "in");

  auto base64 = channel::codecFor(channel::kV4Base64);
  e = channel::encode(base64, 2, "err");
  EXPECT_EQ(e.opcode, kText);
  EXPECT_EQ(e.payload, "2ZXJy");
  d = channel::decode(base64, "0aGk=");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->channel, 0);
  EXPECT_EQ(d->data, "hi");
  EXPECT_FALSE(channel::decode(base64, "0!!!").ok());
  EXPECT_EQ(channel::decode(binary, "")->kind, channel::Decoded::kEmpty);
}

TEST(ChannelProtocol, V5CloseSignal) {
  auto v5 = channel::codecFor(channel::kV5);
  auto d = channel::decode(v5, std::string("\xff\x00", 2));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->kind, channel::Decoded::kClose);
  EXPECT_EQ(d->channel, 0);
  EXPECT_EQ(channel::decode(v5, "\xff").error().message(),
            "single channel byte should follow stream close signal, got 0 bytes");
  EXPECT_FALSE(channel::decode(v5, "\xff\x01\x02").ok());
  // Before v5, 255 is just a channel number.
  EXPECT_EQ(channel::decode(channel::codecFor(channel::kV4), std::string("\xff\x00", 2))->kind,
            channel::Decoded::kData);
}

}  // namespace
}  // namespace nave::agent::ws
