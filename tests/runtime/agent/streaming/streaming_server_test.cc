// The node API over real TLS on loopback: who may connect, and exec over SPDY and WebSocket
// and logs, spoken by minimal clients built from the same framing code.
#include "runtime/agent/streaming/streaming_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <set>

#include "runtime/agent/streaming/spdy_frame.h"
#include "runtime/agent/streaming/websocket.h"
#include "server/pki/x509.h"

namespace nave::agent {
namespace {

class FixedSession final : public StreamSession {
 public:
  FixedSession(int out, int code) : out_(::dup(out)), code_(code) {}
  void resize(unsigned, unsigned) override {}
  Result<int> wait() override {
    [[maybe_unused]] ssize_t n = ::write(out_.get(), "hi\n", 3);
    out_.reset();
    return code_;
  }

 private:
  UniqueFd out_;
  int code_;
};

class TestBackend final : public StreamingBackend {
 public:
  Result<std::unique_ptr<StreamSession>> exec(const ContainerRef& c, const std::vector<std::string>& command,
                                              const StreamOptions&, StreamFds fds) override {
    if (c.pod.name == "missing") return Error(ErrorCode::kNotFound, "pod does not exist");
    lastCommand = command;
    return std::unique_ptr<StreamSession>(new FixedSession(fds.stdoutFd, 3));
  }
  Result<std::unique_ptr<StreamSession>> attach(const ContainerRef&, const StreamOptions&, StreamFds fds) override {
    return std::unique_ptr<StreamSession>(new FixedSession(fds.stdoutFd, 0));
  }
  Result<UniqueFd> portForward(const PodRef&, uint16_t) override {
    return Error(ErrorCode::kInternal, "no ports here");
  }
  Result<void> logs(const ContainerRef& c, const LogOptions& o,
                    const std::function<bool(std::string_view)>& write) override {
    if (o.previous) return Error(ErrorCode::kBadRequest, "previous terminated container \"c\" in pod \"p\" not found");
    for (int i = 1; i <= 3; ++i)
      if (!write(c.container + " line " + std::to_string(i) + "\n")) break;
    return {};
  }
  std::vector<std::string> lastCommand;
};

struct Certs {
  pki::KeyPair ca, serving, apiserver, stranger;
};

Certs makeCerts() {
  Certs c;
  auto key = pki::generateKey();
  pki::CertificateSpec spec;
  spec.usage = pki::CertificateUsage::kCa;
  spec.commonName = "test-ca";
  auto ca = pki::issueCertificate(spec, key->get(), nullptr, nullptr);
  c.ca = {pki::certificatePem(ca->get()), pki::privateKeyPem(key->get())};
  c.serving = *pki::issueKubeletServingCertificate(c.ca, "node1", {"127.0.0.1"});
  c.apiserver = *pki::issueClientCertificate(c.ca, pki::kKubeletClientCommonName,
                                             {pki::kKubeletClientOrganization}, 1);
  c.stranger = *pki::issueClientCertificate(c.ca, "system:admin", {"system:masters"}, 1);
  return c;
}

// A blocking TLS client connection.
class Client {
 public:
  Client(int port, const pki::KeyPair* identity, const std::string& caPem) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    auto ca = pki::parseCertificatePem(caPem);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_), ca->get());
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (identity != nullptr) {
      auto cert = pki::parseCertificatePem(identity->certPem);
      auto key = pki::parsePrivateKeyPem(identity->keyPem);
      SSL_CTX_use_certificate(ctx_, cert->get());
      SSL_CTX_use_PrivateKey(ctx_, key->get());
    }
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(uint16_t(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), "127.0.0.1");
    connected_ = SSL_connect(ssl_) == 1;
  }
  ~Client() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    ::close(fd_);
  }
  bool connected() const { return connected_; }
  void send(std::string_view data) { ASSERT_EQ(SSL_write(ssl_, data.data(), int(data.size())), int(data.size())); }
  // Reads until `enough(buffer)` (which may consume the buffer) or the end of the connection.
  std::string readUntil(const std::function<bool(std::string&)>& enough) {
    char chunk[16384];
    while (!enough(buffer_)) {
      int n = SSL_read(ssl_, chunk, sizeof chunk);
      if (n <= 0) break;
      buffer_.append(chunk, size_t(n));
    }
    return buffer_;
  }
  std::string take(size_t n) {
    std::string out = buffer_.substr(0, n);
    buffer_.erase(0, n);
    return out;
  }
  // One whole HTTP response (Content-Length or chunked; the body decoded).
  std::pair<std::string, std::string> response() {
    readUntil([](std::string& b) { return b.find("\r\n\r\n") != std::string::npos; });
    size_t end = buffer_.find("\r\n\r\n");
    std::string head = take(end + 4);
    std::string body;
    if (head.find("Transfer-Encoding: chunked") != std::string::npos) {
      readUntil([](std::string& b) { return b.find("\r\n0\r\n\r\n") != std::string::npos || b.starts_with("0\r\n\r\n"); });
      while (true) {
        size_t nl = buffer_.find("\r\n");
        size_t size = std::stoul(buffer_.substr(0, nl), nullptr, 16);
        take(nl + 2);
        if (size == 0) break;
        body += take(size);
        take(2);
      }
    } else if (size_t cl = head.find("Content-Length: "); cl != std::string::npos) {
      size_t length = std::stoul(head.substr(cl + 16));
      readUntil([&](std::string& b) { return b.size() >= length; });
      body = take(length);
    }
    return {head, body};
  }
  std::string& buffer() { return buffer_; }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

class StreamingServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    certs_ = makeCerts();
    StreamingServerOptions o;
    o.bindAddress = "127.0.0.1";
    o.port = 0;
    o.servingCertPem = certs_.serving.certPem;
    o.servingKeyPem = certs_.serving.keyPem;
    o.clientCaPem = certs_.ca.certPem;
    o.allowedOrganization = pki::kKubeletClientOrganization;
    auto s = StreamingServer::start(o, backend_);
    ASSERT_TRUE(s.ok()) << s.error().message();
    server_ = std::move(*s);
  }
  std::unique_ptr<Client> client(const pki::KeyPair* who) {
    return std::make_unique<Client>(server_->port(), who, certs_.ca.certPem);
  }
  std::pair<std::string, std::string> get(const pki::KeyPair* who, const std::string& path) {
    auto c = client(who);
    c->send("GET " + path + " HTTP/1.1\r\nHost: node1\r\nConnection: close\r\n\r\n");
    return c->response();
  }

  Certs certs_;
  TestBackend backend_;
  std::unique_ptr<StreamingServer> server_;
};

TEST_F(StreamingServerTest, OnlyTheApiServerIdentityIsServed) {
  auto [head, body] = get(&certs_.apiserver, "/healthz");
  EXPECT_TRUE(head.starts_with("HTTP/1.1 200")) << head;
  EXPECT_EQ(body, "ok");
  std::tie(head, body) = get(&certs_.stranger, "/healthz");
  EXPECT_TRUE(head.starts_with("HTTP/1.1 403")) << head;
  EXPECT_EQ(body, "Forbidden (user=system:admin, verb=get, resource=nodes, subresource(s)=[healthz])");
  std::tie(head, body) = get(nullptr, "/healthz");
  EXPECT_TRUE(head.starts_with("HTTP/1.1 401")) << head;
  std::tie(head, body) = get(&certs_.apiserver, "/nothing/here");
  EXPECT_TRUE(head.starts_with("HTTP/1.1 404")) << head;
}

TEST_F(StreamingServerTest, StartNeedsAClientCa) {
  StreamingServerOptions o;
  o.port = 0;
  o.servingCertPem = certs_.serving.certPem;
  o.servingKeyPem = certs_.serving.keyPem;
  EXPECT_TRUE(StreamingServer::start(o, backend_).error().is(ErrorCode::kInvalid));
}

TEST_F(StreamingServerTest, LogsAndTheirErrors) {
  auto [head, body] = get(&certs_.apiserver, "/containerLogs/ns/pod/c");
  EXPECT_TRUE(head.starts_with("HTTP/1.1 200")) << head;
  EXPECT_EQ(body, "c line 1\nc line 2\nc line 3\n");
  std::tie(head, body) = get(&certs_.apiserver, "/containerLogs/ns/pod/c?limitBytes=5");
  EXPECT_EQ(body, "c lin");
  std::tie(head, body) = get(&certs_.apiserver, "/containerLogs/ns/pod/c?tailLines=-1");
  EXPECT_TRUE(head.starts_with("HTTP/1.1 422")) << head;
  EXPECT_EQ(body, R"({"message": "Invalid request."})");
  std::tie(head, body) = get(&certs_.apiserver, "/containerLogs/ns/pod/c?sinceTime=yesterday");
  EXPECT_TRUE(head.starts_with("HTTP/1.1 400")) << head;
  std::tie(head, body) = get(&certs_.apiserver, "/containerLogs/ns/pod/c?previous=true");
  EXPECT_TRUE(head.starts_with("HTTP/1.1 400")) << head;
  EXPECT_EQ(body, "previous terminated container \"c\" in pod \"p\" not found");
}

TEST_F(StreamingServerTest, ExecRefusalsBeforeTheUpgrade) {
  auto [head, body] = get(&certs_.apiserver, "/exec/ns/pod/c?command=ls");
  EXPECT_TRUE(head.starts_with("HTTP/1.1 400")) << head;
  EXPECT_EQ(body, "you must specify at least 1 of stdin, stdout, stderr\n");
  std::tie(head, body) = get(&certs_.apiserver, "/exec/ns/pod/c?command=ls&output=1");
  EXPECT_EQ(body, "unable to upgrade: X-Stream-Protocol-Version is required\n");
  auto c = client(&certs_.apiserver);
  c->send("POST /exec/ns/pod/c?command=ls&output=1 HTTP/1.1\r\nHost: n\r\nConnection: Upgrade\r\n"
          "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v9.channel.k8s.io\r\n\r\n");
  std::tie(head, body) = c->response();
  EXPECT_TRUE(head.starts_with("HTTP/1.1 403")) << head;
  EXPECT_NE(head.find("X-Accepted-Stream-Protocol-Versions: v4.channel.k8s.io"), std::string::npos);
  EXPECT_EQ(body, "unable to upgrade: unable to negotiate protocol: client supports [v9.channel.k8s.io], "
                  "server accepts [v4.channel.k8s.io v3.channel.k8s.io v2.channel.k8s.io channel.k8s.io]\n");
  c = client(&certs_.apiserver);
  c->send("POST /exec/ns/missing/c?command=ls&output=1 HTTP/1.1\r\nHost: n\r\nConnection: Upgrade\r\n"
          "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n");
  std::tie(head, body) = c->response();
  EXPECT_TRUE(head.starts_with("HTTP/1.1 404")) << head;
  EXPECT_EQ(body, "pod does not exist\n");
}

TEST_F(StreamingServerTest, ExecOverSpdyReportsTheExitCode) {
  auto c = client(&certs_.apiserver);
  c->send("POST /exec/ns/pod/uid-1/c?command=sh&command=-c&command=exit+3&output=1 HTTP/1.1\r\nHost: n\r\n"
          "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n"
          "X-Stream-Protocol-Version: channel.k8s.io\r\n\r\n");
  c->readUntil([](std::string& b) { return b.find("\r\n\r\n") != std::string::npos; });
  std::string head = c->take(c->buffer().find("\r\n\r\n") + 4);
  ASSERT_TRUE(head.starts_with("HTTP/1.1 101")) << head;
  EXPECT_NE(head.find("X-Stream-Protocol-Version: v4.channel.k8s.io"), std::string::npos);
  spdy::FrameWriter writer;
  std::string out;
  for (auto [id, type] : {std::pair{1u, "error"}, std::pair{3u, "stdout"}}) {
    spdy::Frame syn;
    syn.type = spdy::FrameType::kSynStream;
    syn.streamId = id;
    syn.headers = {{"streamtype", type}};
    writer.append(syn, out);
  }
  spdy::FrameWriter::appendPing(1, out);
  c->send(out);
  spdy::FrameParser parser;
  std::map<uint32_t, std::string> data;
  std::set<uint32_t> replied, finished;
  bool pong = false, goAway = false;
  c->readUntil([&](std::string& b) {
    parser.feed(b);
    b.clear();
    for (;;) {
      auto f = parser.next();
      EXPECT_TRUE(f.ok());
      if (!f.ok() || !f->has_value()) break;
      spdy::Frame& frame = **f;
      if (frame.type == spdy::FrameType::kSynReply) replied.insert(frame.streamId);
      if (frame.type == spdy::FrameType::kPing) pong = frame.pingId == 1;
      if (frame.type == spdy::FrameType::kGoAway) goAway = true;
      if (frame.type == spdy::FrameType::kData) {
        EXPECT_TRUE(replied.count(frame.streamId)) << "data before the reply";
        data[frame.streamId] += frame.data;
        if (frame.fin()) finished.insert(frame.streamId);
      }
    }
    return goAway;
  });
  EXPECT_TRUE(pong);
  EXPECT_EQ(data[3], "hi\n");
  EXPECT_EQ(data[1], R"({"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: )"
                     R"(error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode",)"
                     R"("details":{"causes":[{"reason":"ExitCode","message":"3"}]}})");
  EXPECT_EQ(finished, (std::set<uint32_t>{1, 3}));
  EXPECT_EQ(backend_.lastCommand, (std::vector<std::string>{"sh", "-c", "exit 3"}));
}

TEST_F(StreamingServerTest, AttachOverWebSocketV5) {
  auto c = client(&certs_.apiserver);
  c->send("GET /attach/ns/pod/c?output=1&stdin=1 HTTP/1.1\r\nHost: n\r\nConnection: Upgrade\r\n"
          "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n");
  c->readUntil([](std::string& b) { return b.find("\r\n\r\n") != std::string::npos; });
  std::string head = c->take(c->buffer().find("\r\n\r\n") + 4);
  ASSERT_TRUE(head.starts_with("HTTP/1.1 101")) << head;
  EXPECT_NE(head.find("Sec-WebSocket-Protocol: v5.channel.k8s.io"), std::string::npos);
  EXPECT_NE(head.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), std::string::npos);
  const uint8_t mask[4] = {1, 2, 3, 4};
  c->send(ws::encodeFrame(ws::kBinary, std::string("\xff\x00", 2), true, mask));  // stdin closed
  ws::Limits limits;
  limits.requireMask = false;
  ws::FrameParser parser(limits);
  std::vector<ws::Frame> frames;
  c->readUntil([&](std::string& b) {
    parser.feed(b);
    b.clear();
    for (auto f = parser.next(); f.ok() && f->has_value(); f = parser.next()) frames.push_back(std::move(**f));
    return !frames.empty() && frames.back().opcode == ws::kClose;
  });
  ASSERT_EQ(frames.size(), 4u);
  EXPECT_EQ(frames[0].payload, std::string("\x01", 1));  // the connection is established
  EXPECT_EQ(frames[1].payload, std::string("\x01hi\n", 4));
  EXPECT_EQ(frames[2].payload, std::string("\x03") + R"({"metadata":{},"status":"Success"})");
  EXPECT_EQ(frames[3].payload, ws::closePayload(ws::kCloseNormal));
}

}  // namespace
}  // namespace nave::agent
