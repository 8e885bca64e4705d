#include "network/ingress/http_codec.h"

#include <gtest/gtest.h>

namespace nave::ingress {
namespace {

http::Request parse(std::string_view head, http::RequestFraming& framing) {
  http::Request r;
  EXPECT_EQ(http::parseRequestHead(head, r, framing), 0) << head;
  return r;
}

TEST(UpstreamRequest, RewritesHopByHopAndForwardedHeaders) {
  http::RequestFraming f;
  http::Request r = parse(
      "POST /a?b=1 HTTP/1.1\r\nHost: app.test\r\nConnection: keep-alive, X-Secret\r\n"
      "X-Secret: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nX-Forwarded-For: 1.2.3.4\r\n"
      "X-Real-IP: 9.9.9.9\r\nX-Forwarded-Proto: ftp\r\nTransfer-Encoding: chunked\r\n"
      "Accept: */*\r\n\r\n",
      f);
  std::string out;
  appendUpstreamRequest(r, f, {"10.0.0.9", "https", "443"}, out);
  EXPECT_EQ(out,
            "POST /a?b=1 HTTP/1.1\r\nHost: app.test\r\nAccept: */*\r\n"
            "X-Forwarded-For: 1.2.3.4, 10.0.0.9\r\nX-Real-IP: 10.0.0.9\r\n"
            "X-Forwarded-Proto: https\r\nX-Forwarded-Host: app.test\r\nX-Forwarded-Port: 443\r\n"
            "Transfer-Encoding: chunked\r\n\r\n");
}

TEST(UpstreamRequest, KeepsUpgradeRequests) {
  http::RequestFraming f;
  http::Request r = parse(
      "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Key: abc\r\nContent-Length: 0\r\n\r\n",
      f);
  EXPECT_TRUE(wantsUpgrade(r));
  std::string out;
  appendUpstreamRequest(r, f, {"1.1.1.1", "http", "80"}, out);
  EXPECT_NE(out.find("Sec-WebSocket-Key: abc\r\n"), std::string::npos);
  EXPECT_NE(out.find("Content-Length: 0\r\n"), std::string::npos);
  EXPECT_NE(out.find("Connection: upgrade\r\nUpgrade: websocket\r\n\r\n"), std::string::npos);
}

struct ResponseCase {
  std::string head;
  bool headRequest, http10, keepAliveIn;
  bool ok;
  http::BodyFraming body;
  bool untilClose, backendKeepAlive, keepAliveOut;
  std::string expectIn;  // a substring of the rewritten head
};

TEST(ResponseHead, FramingAndRewriting) {
  using B = http::BodyFraming;
  std::vector<ResponseCase> cases = {
      {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\nKeep-Alive: x\r\n\r\n",
       false, false, true, true, B::kContentLength, false, true, true,
       "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, false, true, true,
       B::kChunked, false, true, true, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"},
      {"HTTP/1.0 200 OK\r\nServer: x\r\n\r\n", false, true, true, true, B::kNone, true, false,
       false, "HTTP/1.1 200 OK\r\nServer: x\r\nConnection: close\r\n\r\n"},
      // A body delimited by close goes to an HTTP/1.1 client chunked; its connection stays.
      {"HTTP/1.0 200 OK\r\nServer: x\r\n\r\n", false, false, true, true, B::kNone, true, false,
       true, "HTTP/1.1 200 OK\r\nServer: x\r\nTransfer-Encoding: chunked\r\n\r\n"},
      {"HTTP/1.1 204 No Content\r\n\r\n", false, false, true, true, B::kNone, false, true, true,
       "HTTP/1.1 204 No Content\r\n\r\n"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", true, false, true, true, B::kNone, false,
       true, true, "Content-Length: 9"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\n", false, true, true,
       true, B::kContentLength, false, false, true, "Connection: keep-alive\r\n"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", false, true,
       true, true, B::kChunked, false, true, false, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"},
      {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
       false, false, true, true, B::kNone, false, false, true,
       "Connection: upgrade\r\nUpgrade: websocket\r\n"},
      {"HTTP/1.1 2x0 OK\r\n\r\n", false, false, true, false, B::kNone, false, false, true, ""},
      {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", false, false, true,
       false, B::kNone, false, false, true, ""},
      {"HTTP/1.1 200 OK\r\n folded\r\n\r\n", false, false, true, false, B::kNone, false, false,
       true, ""},
      {"SSH-2.0-OpenSSH\r\n\r\n", false, false, true, false, B::kNone, false, false, true, ""},
  };
  for (const ResponseCase& c : cases) {
    bool keepAlive = c.keepAliveIn;
    ResponseFraming f;
    std::string out;
    bool ok = rewriteResponseHead(c.head, c.headRequest, c.http10, keepAlive, f, out);
    ASSERT_EQ(ok, c.ok) << c.head;
    if (!ok) continue;
    EXPECT_EQ(f.body, c.body) << c.head;
    EXPECT_EQ(f.untilClose, c.untilClose) << c.head;
    EXPECT_EQ(f.backendKeepAlive, c.backendKeepAlive) << c.head;
    EXPECT_EQ(keepAlive, c.keepAliveOut) << c.head;
    EXPECT_NE(out.find(c.expectIn), std::string::npos) << c.head << "\n--- got:\n" << out;
  }
}

TEST(LocalResponse, IsCompleteAndSaysWhetherItCloses) {
  std::string out;
  appendLocalResponse(404, true, out);
  EXPECT_TRUE(out.starts_with("HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: "));
  EXPECT_EQ(out.find("Connection: close"), std::string::npos);
  size_t body = out.find("\r\n\r\n") + 4;
  size_t length = std::stoul(out.substr(out.find("Content-Length: ") + 16));
  EXPECT_EQ(out.size() - body, length);
  out.clear();
  appendLocalResponse(502, false, out);
  EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);
}

}  // namespace
}  // namespace nave::ingress
