// The proxy over real sockets inside a throwaway network namespace: a small blocking backend
// written here (so that each test can see exactly what arrived) behind an IngressProxy, and
// raw-socket or curl clients.
#include "network/ingress/proxy.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "common/strings.h"
#include "network/ingress/http_codec.h"
#include "tests/network/netns_fixture.h"

namespace nave::ingress {
namespace {

using network::testing::TestNetns;

// Reads one HTTP message (request or response) from a blocking socket: the head and, by
// Content-Length or chunked framing, the body (decoded). False at EOF or on a timeout.
bool readMessage(int fd, std::string& buffer, std::string& head, std::string& body,
                 bool bodyless = false) {
  auto fill = [&] {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1) return false;
    char buf[16384];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    buffer.append(buf, static_cast<size_t>(n));
    return true;
  };
  size_t end;
  while ((end = http::findHeadEnd(buffer, 0)) == 0) {
    if (!fill()) return false;
  }
  head = buffer.substr(0, end);
  buffer.erase(0, end);
  body.clear();
  std::string lower = head;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (bodyless) return true;
  if (lower.find("transfer-encoding: chunked") != std::string::npos) {
    http::ChunkedDecoder dec(1 << 30, 1 << 20);
    for (;;) {
      size_t used = dec.feed(buffer, body);
      buffer.erase(0, used);
      if (dec.done()) return true;
      if (dec.malformed() || !fill()) return false;
    }
  }
  size_t cl = lower.find("content-length: ");
  if (cl == std::string::npos) return true;
  size_t len = std::stoul(lower.substr(cl + 16));
  while (buffer.size() < len) {
    if (!fill()) return false;
  }
  body = buffer.substr(0, len);
  buffer.erase(0, len);
  return true;
}

void sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

std::string header(const std::string& head, const std::string& name) {
  std::string lowerHead = head, lowerName = name + ":";
  for (char& c : lowerHead) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (char& c : lowerName) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t at = lowerHead.find("\n" + lowerName);
  if (at == std::string::npos) return "";
  size_t start = at + 1 + lowerName.size();
  size_t end = head.find("\r\n", start);
  return std::string(nave::trim(head.substr(start, end - start)));
}

// A backend answering by path: /chunked (a chunked body), /ws (101, then echoes),
// /upload (the body it received, and its framing), anything else the request head it saw.
class Backend {
 public:
  explicit Backend(TestNetns& ns, std::string name) : name_(std::move(name)) {
    listener_ = network::testing::listenIn(ns, "127.0.0.1", 0);
    sockaddr_in sa{};
    socklen_t len = sizeof sa;
    ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    thread_ = std::thread([this] { acceptLoop(); });
  }
  ~Backend() {
    stopping_ = true;
    ::shutdown(listener_.get(), SHUT_RDWR);
    thread_.join();
    for (auto& t : connections_) t.join();
  }
  uint16_t port() const { return port_; }
  int connectionsAccepted() const { return accepted_; }

 private:
  void acceptLoop() {
    while (!stopping_) {
      pollfd p{listener_.get(), POLLIN, 0};
      if (::poll(&p, 1, 100) != 1) continue;
      int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++accepted_;
      connections_.emplace_back([this, fd] { serve(UniqueFd(fd)); });
    }
  }
  void serve(UniqueFd fd) {
    std::string buffer, head, body;
    while (!stopping_ && readMessage(fd.get(), buffer, head, body)) {
      std::string path = head.substr(head.find(' ') + 1);
      path = path.substr(0, path.find(' '));
      if (path == "/ws") {
        sendAll(fd.get(), "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
        for (;;) {
          pollfd p{fd.get(), POLLIN, 0};
          if (::poll(&p, 1, 10000) != 1) return;
          char buf[4096];
          ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
          if (n <= 0) return;
          sendAll(fd.get(), "echo:" + std::string(buf, static_cast<size_t>(n)));
        }
      }
      if (path == "/hang") {  // never answers
        while (!stopping_) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return;
      }
      if (path == "/close") {  // a body delimited by closing the connection
        sendAll(fd.get(), "HTTP/1.0 200 OK\r\nServer: old\r\n\r\nuntil-close");
        return;
      }
      std::string out;
      if (path == "/big") {  // 32 MiB: more than the proxy moves in one turn of its loop
        std::string chunk(1 << 20, 'b');
        sendAll(fd.get(), "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(32 << 20) + "\r\n\r\n");
        for (int i = 0; i < 32; ++i) sendAll(fd.get(), chunk);
        continue;
      }
      if (path == "/chunked") {
        out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n";
      } else {
        std::string reply = path == "/upload" ? "got " + std::to_string(body.size()) + ":" + body
                                              : name_ + "\n" + head;
        out = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(reply.size()) + "\r\n\r\n" + reply;
      }
      sendAll(fd.get(), out);
    }
  }

  std::string name_;
  UniqueFd listener_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
  std::vector<std::thread> connections_;
};

std::shared_ptr<Upstream> upstreamTo(const std::string& name, std::vector<uint16_t> ports) {
  auto u = std::make_shared<Upstream>();
  u->name = name;
  for (uint16_t p : ports) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(p);
    ::inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    u->endpoints.push_back(sa);
  }
  return u;
}

class ProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NAVE_REQUIRE_NETNS();
    ns_ = TestNetns::create("ingress");
    a_ = std::make_unique<Backend>(*ns_, "backend-a");
    b_ = std::make_unique<Backend>(*ns_, "backend-b");
    auto cert = selfSignedCertificate("secure.test");
    ASSERT_TRUE(cert.ok());
    cert_ = *cert;
    auto fallback = selfSignedCertificate("fallback.invalid");
    ASSERT_TRUE(fallback.ok());
    TlsCertificate tls;
    tls.hosts = {"secure.test"};
    tls.certPem = cert_.certPem;
    tls.keyPem = cert_.keyPem;
    auto store = CertificateStore::build({tls}, *fallback);
    ASSERT_TRUE(store.ok());
    auto table = std::make_shared<RouteTable>();
    table->addPath("a.test", "/", PathType::kPrefix, upstreamTo("a", {a_->port()}));
    table->addPath("b.test", "/", PathType::kPrefix, upstreamTo("b", {b_->port()}));
    table->addPath("secure.test", "/", PathType::kPrefix, upstreamTo("a", {a_->port()}));
    table->addPath("both.test", "/", PathType::kPrefix, upstreamTo("ab", {a_->port(), b_->port()}));
    table->addPath("down.test", "/", PathType::kPrefix, upstreamTo("down", {1}));
    table->addPath("none.test", "/", PathType::kPrefix, upstreamTo("none", {}));
    table->finish();
    ProxyOptions o;
    o.httpPort = 0;
    o.httpsPort = 0;
    o.threads = 2;
    o.maxHeaderBytes = 4096;
    o.backendTimeoutSeconds = 1;
    auto proxy = ns_->run([&] { return IngressProxy::start(o, *store); });
    ASSERT_TRUE(proxy.ok()) << proxy.error().message();
    proxy_ = std::move(proxy).value();
    proxy_->update(table, nullptr);
  }
  void TearDown() override {
    if (proxy_) proxy_->stop();
    a_.reset();
    b_.reset();
  }

  UniqueFd connectProxy() {
    return ns_->run([&] {
      UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      sockaddr_in sa = network::testing::inetAddress("127.0.0.1", static_cast<uint16_t>(proxy_->httpPort()));
      EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
      return fd;
    });
  }

  std::unique_ptr<TestNetns> ns_;
  std::unique_ptr<Backend> a_, b_;
  std::unique_ptr<IngressProxy> proxy_;
  pki::KeyPair cert_;
};

TEST_F(ProxyTest, RoutesByHostOverOneKeepAliveConnection) {
  UniqueFd c = connectProxy();
  std::string buf, head, body;
  for (int i = 0; i < 3; ++i) {
    sendAll(c.get(), "GET /x HTTP/1.1\r\nHost: a.test\r\n\r\n");
    ASSERT_TRUE(readMessage(c.get(), buf, head, body));
    EXPECT_TRUE(head.starts_with("HTTP/1.1 200 OK")) << head;
    EXPECT_TRUE(body.starts_with("backend-a\n")) << body;
    sendAll(c.get(), "GET /y HTTP/1.1\r\nHost: b.test:80\r\n\r\n");
    ASSERT_TRUE(readMessage(c.get(), buf, head, body));
    EXPECT_TRUE(body.starts_with("backend-b\n")) << body;
  }
  // Six requests, one backend connection each way: the pool kept them.
  EXPECT_EQ(a_->connectionsAccepted(), 1);
  EXPECT_EQ(b_->connectionsAccepted(), 1);
  sendAll(c.get(), "GET / HTTP/1.1\r\nHost: nowhere.test\r\n\r\n");
  ASSERT_TRUE(readMessage(c.get(), buf, head, body));
  EXPECT_TRUE(head.starts_with("HTTP/1.1 404 Not Found")) << head;
  sendAll(c.get(), "GET / HTTP/1.1\r\nHost: none.test\r\n\r\n");
  ASSERT_TRUE(readMessage(c.get(), buf, head, body));
  EXPECT_TRUE(head.starts_with("HTTP/1.1 503 Service Unavailable")) << head;
  sendAll(c.get(), "GET / HTTP/1.1\r\nHost: down.test\r\n\r\n");
  ASSERT_TRUE(readMessage(c.get(), buf, head, body));
  EXPECT_TRUE(head.starts_with("HTTP/1.1 502 Bad Gateway")) << head;
}

TEST_F(ProxyTest, SetsForwardedHeadersAndDropsHopByHopOnes) {
  UniqueFd c = connectProxy();
  sendAll(c.get(),
          "GET /h?q=1 HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-For: 203.0.113.7\r\n"
          "Connection: keep-alive, X-Drop\r\nX-Drop: 1\r\nX-Keep: 2\r\n\r\n");
  std::string buf, head, seen;
  ASSERT_TRUE(readMessage(c.get(), buf, head, seen));
  EXPECT_NE(seen.find("GET /h?q=1 HTTP/1.1\r\n"), std::string::npos) << seen;
  EXPECT_EQ(header(seen, "Host"), "a.test");
  EXPECT_EQ(header(seen, "X-Forwarded-For"), "203.0.113.7, 127.0.0.1");
  EXPECT_EQ(header(seen, "X-Real-IP"), "127.0.0.1");
  EXPECT_EQ(header(seen, "X-Forwarded-Proto"), "http");
  EXPECT_EQ(header(seen, "X-Forwarded-Host"), "a.test");
  EXPECT_EQ(header(seen, "X-Forwarded-Port"), std::to_string(proxy_->httpPort()));
  EXPECT_EQ(header(seen, "X-Keep"), "2");
  EXPECT_EQ(header(seen, "X-Drop"), "");
  EXPECT_EQ(header(seen, "Connection"), "");
}

TEST_F(ProxyTest, StreamsChunkedBodiesBothWays) {
  UniqueFd c = connectProxy();
  std::string buf, head, body;
  sendAll(c.get(), "GET /chunked HTTP/1.1\r\nHost: a.test\r\n\r\n");
  ASSERT_TRUE(readMessage(c.get(), buf, head, body));
  EXPECT_EQ(header(head, "Transfer-Encoding"), "chunked");
  EXPECT_EQ(body, "hello world");
  // A chunked upload sent in pieces, then a Content-Length one on the same connection.
  sendAll(c.get(), "POST /upload HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab");
  sendAll(c.get(), "cd\r\n3\r\nefg\r\n0\r\n\r\n");
  ASSERT_TRUE(readMessage(c.get(), buf, head, body));
  EXPECT_EQ(body, "got 7:abcdefg");
  std::string big(300000, 'x');
  sendAll(c.get(), "POST /upload HTTP/1.1\r\nHost: a.test\r\nContent-Length: 300000\r\n\r\n" + big);
  ASSERT_TRUE(readMessage(c.get(), buf, head, body));
  EXPECT_EQ(body, "got 300000:" + big);
  sendAll(c.get(), "GET /big HTTP/1.1\r\nHost: a.test\r\n\r\n");
  ASSERT_TRUE(readMessage(c.get(), buf, head, body));
  EXPECT_EQ(body.size(), size_t{32} << 20);
  EXPECT_EQ(body.find_first_not_of('b'), std::string::npos);
  // A body the backend ends by closing arrives chunked, and the client connection stays.
  sendAll(c.get(), "GET /close HTTP/1.1\r\nHost: a.test\r\n\r\n");
  ASSERT_TRUE(readMessage(c.get(), buf, head, body));
  EXPECT_EQ(header(head, "Transfer-Encoding"), "chunked") << head;
  EXPECT_EQ(body, "until-close");
  // HTTP/1.0 gets the chunked response decoded, and the connection closed after it.
  sendAll(c.get(), "GET /chunked HTTP/1.0\r\nHost: a.test\r\n\r\n");
  ASSERT_TRUE(readMessage(c.get(), buf, head, body, true));
  EXPECT_EQ(header(head, "Transfer-Encoding"), "");
  EXPECT_EQ(header(head, "Connection"), "close");
  char rest[64];
  std::string all = buf;
  ssize_t n;
  while ((n = ::recv(c.get(), rest, sizeof rest, 0)) > 0) all.append(rest, static_cast<size_t>(n));
  EXPECT_EQ(all, "hello world");
}

TEST_F(ProxyTest, TunnelsUpgradedConnections) {
  UniqueFd c = connectProxy();
  sendAll(c.get(), "GET /ws HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  std::string buf, head, body;
  ASSERT_TRUE(readMessage(c.get(), buf, head, body, true));
  EXPECT_TRUE(head.starts_with("HTTP/1.1 101")) << head;
  EXPECT_EQ(header(head, "Upgrade"), "websocket");
  sendAll(c.get(), "ping");
  std::string got = buf;
  while (got.size() < 9) {
    char b[64];
    ssize_t n = ::recv(c.get(), b, sizeof b, 0);
    ASSERT_GT(n, 0);
    got.append(b, static_cast<size_t>(n));
  }
  EXPECT_EQ(got, "echo:ping");
}

TEST_F(ProxyTest, RefusesMalformedAndOversizedRequests) {
  struct Case {
    std::string request;
    std::string status;
  };
  std::vector<Case> cases = {
      {"GET / HTTP/1.1\r\n\r\n", "400"},  // no Host
      {"GET / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", "400"},
      {"GET / HTTP/2.0\r\nHost: a.test\r\n\r\n", "505"},
      {"GET / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: gzip\r\n\r\n", "501"},
      {"GET / HTTP/1.1\r\nHost: a.test\r\nX-Big: " + std::string(5000, 'a') + "\r\n\r\n", "431"},
      {"\x16\x03\x01garbage\r\n\r\n", "400"},
  };
  for (const Case& k : cases) {
    UniqueFd c = connectProxy();
    sendAll(c.get(), k.request);
    std::string buf, head, body;
    ASSERT_TRUE(readMessage(c.get(), buf, head, body)) << k.request.substr(0, 60);
    EXPECT_TRUE(head.starts_with("HTTP/1.1 " + k.status)) << head;
    EXPECT_EQ(header(head, "Connection"), "close");
  }
}

TEST_F(ProxyTest, AnswersGatewayTimeoutWhenTheBackendIsSilent) {
  UniqueFd c = connectProxy();
  sendAll(c.get(), "GET /hang HTTP/1.1\r\nHost: a.test\r\n\r\n");
  std::string buf, head, body;
  ASSERT_TRUE(readMessage(c.get(), buf, head, body));
  EXPECT_TRUE(head.starts_with("HTTP/1.1 504 Gateway Timeout")) << head;
  // The client connection is still good.
  sendAll(c.get(), "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n");
  ASSERT_TRUE(readMessage(c.get(), buf, head, body));
  EXPECT_TRUE(body.starts_with("backend-a")) << body;
}

TEST_F(ProxyTest, BalancesRoundRobin) {
  UniqueFd c = connectProxy();
  std::string buf, head, body, seen;
  for (int i = 0; i < 4; ++i) {
    sendAll(c.get(), "GET / HTTP/1.1\r\nHost: both.test\r\n\r\n");
    ASSERT_TRUE(readMessage(c.get(), buf, head, body));
    seen += body.substr(0, body.find('\n')) + " ";
  }
  EXPECT_EQ(seen, "backend-a backend-b backend-a backend-b ");
}

TEST_F(ProxyTest, ServesTlsCertificatesBySni) {
  if (network::testing::shell("command -v curl").first != 0) GTEST_SKIP() << "SKIPPED LOUDLY: no curl";
  std::string dir = "/tmp/nave-ingress-test-" + std::to_string(::getpid());
  ::mkdir(dir.c_str(), 0700);
  std::ofstream(dir + "/ca.pem") << cert_.certPem;
  std::string port = std::to_string(proxy_->httpsPort());
  auto curl = [&](const std::string& host) {
    return ns_->exec("curl -sS --max-time 10 --cacert " + dir + "/ca.pem --resolve " + host + ":" +
                     port + ":127.0.0.1 https://" + host + ":" + port + "/tls");
  };
  auto [rc, out] = curl("secure.test");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("backend-a"), std::string::npos) << out;
  EXPECT_NE(out.find("X-Forwarded-Proto: https"), std::string::npos) << out;
  // Another name gets the default certificate, which the CA does not vouch for.
  auto [rc2, out2] = curl("other.test");
  EXPECT_NE(rc2, 0) << out2;
  auto [rc3, out3] = ns_->exec("curl -sS -k --max-time 10 --resolve other.test:" + port +
                               ":127.0.0.1 https://other.test:" + port + "/");
  EXPECT_EQ(rc3, 0);
  EXPECT_NE(out3.find("404 Not Found"), std::string::npos) << out3;
  network::testing::shell("rm -rf " + dir);
}

}  // namespace
}  // namespace nave::ingress
