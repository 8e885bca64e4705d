#include "server/http/http_server.h"

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/eventfd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "server/pki/pki.h"
#include "tests/server/http/test_client.h"

namespace nave::http {
namespace {

using namespace std::chrono_literals;
using testing::ClientTls;
using testing::TestClient;

std::string makeTempDir() {
  char tmpl[] = "/tmp/nave-http-test-XXXXXX";
  const char* dir = ::mkdtemp(tmpl);
  return dir ? dir : "";
}

class HttpServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = makeTempDir();
    auto pki = pki::ensureServerPki(dir_ + "/pki", {"localhost", "127.0.0.1"});
    ASSERT_TRUE(pki.ok()) << pki.error().message();
    pki_ = *pki;
    auto other = pki::ensureServerPki(dir_ + "/other", {"localhost", "127.0.0.1"});
    ASSERT_TRUE(other.ok()) << other.error().message();
    otherPki_ = *other;
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }

  void TearDown() override {
    if (server_) server_->stop();
  }

  void start(Handler handler) {
    options_.bindAddress = "127.0.0.1";
    options_.certPem = pki_.serving.certPem;
    options_.keyPem = pki_.serving.keyPem;
    auto s = HttpServer::start(options_, std::move(handler));
    ASSERT_TRUE(s.ok()) << s.error().message();
    server_ = std::move(*s);
  }

  ClientTls tls() const { return ClientTls{pki_.ca.certPem, "", ""}; }

  std::unique_ptr<TestClient> connect(int timeoutMs = 5000) {
    ClientTls t = tls();
    return TestClient::connect(server_->port(), options_.plaintext ? nullptr : &t, timeoutMs);
  }

  static std::string dir_;
  static pki::ServerPki pki_;
  static pki::ServerPki otherPki_;
  ServerOptions options_;
  std::unique_ptr<HttpServer> server_;
};

std::string HttpServerTest::dir_;
pki::ServerPki HttpServerTest::pki_;
pki::ServerPki HttpServerTest::otherPki_;

void echo(Request& req, ResponseWriter& w) {
  std::string body = req.method + " " + req.path + " " + req.rawQuery + " " + req.body;
  w.send(200, {{"Content-Type", "text/plain"}, {"X-Remote", req.remoteAddress}}, body);
}

std::string get(std::string_view path, std::string_view extra = "") {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: test\r\n" + std::string(extra) + "\r\n";
}

TEST_F(HttpServerTest, ServesKeepAliveAndPipelinedRequestsOnOneConnection) {
  start(echo);
  auto c = connect();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->alpn(), "http/1.1");  // offered h2 too, as Go does; must not get it
  ASSERT_TRUE(c->send(get("/a%20b?x=%41&y")));
  auto r1 = c->readResponse();
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->status, 200);
  EXPECT_EQ(r1->body, "GET /a b x=%41&y ");
  EXPECT_FALSE(r1->header("Date").empty());
  EXPECT_TRUE(r1->header("Connection").empty());
  ASSERT_TRUE(c->send(get("/second")));
  auto r2 = c->readResponse();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->body, "GET /second  ");
  EXPECT_EQ(r1->header("X-Remote"), r2->header("X-Remote"));  // the same connection
  EXPECT_EQ(r1->header("X-Remote").rfind("127.0.0.1:", 0), 0u);

  ASSERT_TRUE(c->send(get("/p1") + "POST /p2 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc" +
                      get("/p3")));
  for (const char* expected : {"GET /p1  ", "POST /p2  abc", "GET /p3  "}) {
    auto r = c->readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, expected);
  }
}

size_t discardBody(char*, size_t size, size_t n, void*) {
  return size * n;
}

TEST_F(HttpServerTest, CurlReusesTheConnectionOverHttp11) {
  start(echo);
  CURL* curl = curl_easy_init();
  ASSERT_NE(curl, nullptr);
  std::string url = "https://127.0.0.1:" + std::to_string(server_->port()) + "/version";
  curl_blob ca{const_cast<char*>(pki_.ca.certPem.data()), pki_.ca.certPem.size(), CURL_BLOB_COPY};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &ca);
  curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);  // offers h2
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discardBody);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(curl_easy_perform(curl), CURLE_OK);
    long code = 0, version = 0, newConnections = -1;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(curl, CURLINFO_HTTP_VERSION, &version);
    curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &newConnections);
    EXPECT_EQ(code, 200);
    EXPECT_EQ(version, CURL_HTTP_VERSION_1_1);
    EXPECT_EQ(newConnections, i == 0 ? 1 : 0) << "request " << i;
  }
  curl_easy_cleanup(curl);
}

TEST_F(HttpServerTest, ReadsChunkedRequestBodiesInPieces) {
  start(echo);
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_TRUE(
      c->send("PUT /obj HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"));
  std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(c->send("lo\r\n1;ext=x\r\n!\r\n"));
  std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(c->send("0\r\nTrailer: x\r\n\r\n"));
  auto r = c->readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "PUT /obj  hello!");
  ASSERT_TRUE(c->send(get("/after")));  // the connection is still in step
  auto after = c->readResponse();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->body, "GET /after  ");
}

TEST_F(HttpServerTest, HonoursExpectContinue) {
  start(echo);
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_TRUE(
      c->send("POST /x HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"));
  auto interim = c->readHead();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c->send("data"));
  auto r = c->readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "POST /x  data");
}

struct TooLargeProbe {
  std::atomic<int> calls{0};
  std::atomic<bool> tooLarge{false};
  std::atomic<size_t> bodySize{999};
};

Handler tooLargeHandler(TooLargeProbe& probe) {
  return [&probe](Request& req, ResponseWriter& w) {
    probe.calls++;
    probe.tooLarge = req.bodyTooLarge;
    probe.bodySize = req.body.size();
    if (req.bodyTooLarge) {
      w.send(413, {}, "too large\n");
    } else {
      w.send(200, {}, "ok\n");
    }
  };
}

TEST_F(HttpServerTest, OversizedContentLengthBodyIsNotReadAndClosesTheConnection) {
  options_.maxBodyBytes = 1024;
  TooLargeProbe probe;
  start(tooLargeHandler(probe));
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 1024\r\n\r\n" +
                      std::string(1024, 'a')));
  auto ok = c->readResponse();  // exactly the limit is fine
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(probe.bodySize, 1024u);

  ASSERT_TRUE(c->send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 200000\r\n\r\n" +
                      std::string(200000, 'b')));
  auto r = c->readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_TRUE(probe.tooLarge);
  EXPECT_EQ(probe.bodySize, 0u);
  EXPECT_TRUE(c->closedByServer());
  EXPECT_EQ(probe.calls, 2);
}

TEST_F(HttpServerTest, OversizedChunkedBodyIsCutOffAndClosesTheConnection) {
  options_.maxBodyBytes = 1024;
  TooLargeProbe probe;
  start(tooLargeHandler(probe));
  auto c = connect();
  ASSERT_TRUE(c);
  std::string request = "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 10; ++i) request += "200\r\n" + std::string(512, 'c') + "\r\n";
  request += "0\r\n\r\n";
  ASSERT_TRUE(c->send(request));
  auto r = c->readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_TRUE(probe.tooLarge);
  EXPECT_EQ(probe.bodySize, 0u);
  EXPECT_TRUE(c->closedByServer());
}

TEST_F(HttpServerTest, MalformedRequestsGetAnErrorAndTheConnectionCloses) {
  options_.maxHeaderBytes = 4096;
  std::atomic<int> calls{0};
  start([&](Request&, ResponseWriter& w) {
    calls++;
    w.send(200, {}, "");
  });
  struct Case {
    std::string request;
    int status;
  } cases[] = {
      {"GARBAGE\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n  continued\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
       400},
      {"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(8192, 'x') + "\r\n\r\n", 431},
      {"GET / HTTP/3.0\r\nHost: t\r\n\r\n", 505},
  };
  for (const Case& tc : cases) {
    auto c = connect();
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->send(tc.request));
    auto r = c->readResponse();
    ASSERT_TRUE(r) << tc.request.substr(0, 60);
    EXPECT_EQ(r->status, tc.status) << tc.request.substr(0, 60);
    EXPECT_EQ(r->header("Connection"), "close");
    EXPECT_TRUE(c->closedByServer()) << tc.request.substr(0, 60);
  }
  EXPECT_EQ(calls, 0);
}

TEST_F(HttpServerTest, HandlersThatDoNotRespondOrThrowGet500) {
  start([](Request& req, ResponseWriter& w) {
    if (req.path == "/throw") throw std::runtime_error("boom");
  });
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->send(get("/silent")));
  auto r = c->readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  ASSERT_TRUE(c->send(get("/throw")));  // still keep-alive after a silent handler
  r = c->readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_TRUE(c->closedByServer());
}

TEST_F(HttpServerTest, HandlersControlClosingButNotFraming) {
  start([](Request&, ResponseWriter& w) {
    w.send(200,
           {{"Connection", "Close"}, {"Content-Length", "999"}, {"X-Injected", "a\r\nEvil: 1"}},
           "body");
  });
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->send(get("/")));
  auto r = c->readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("Content-Length"), "4");
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_EQ(r->header("Evil"), "");
  EXPECT_EQ(r->body, "body");
  EXPECT_TRUE(c->closedByServer());
}

TEST_F(HttpServerTest, HeadGetsHeadersWithoutBody) {
  start([](Request&, ResponseWriter& w) { w.send(200, {}, "hello"); });
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->send("HEAD / HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = c->readResponse(/*headRequest=*/true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("Content-Length"), "5");
  ASSERT_TRUE(c->send(get("/")));
  r = c->readResponse();
  ASSERT_TRUE(r);  // had the HEAD response carried a body, this would misparse
  EXPECT_EQ(r->body, "hello");
}

TEST_F(HttpServerTest, Http10ClientsGetCloseDelimitedResponses) {
  start([](Request& req, ResponseWriter& w) {
    if (req.path == "/stream") {
      w.startStream(200, {});
      w.write("part1,");
      w.write("part2");
      w.end();
      return;
    }
    w.send(200, {}, "plain");
  });
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  auto r = c->readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("Connection"), "keep-alive");
  EXPECT_EQ(r->body, "plain");
  ASSERT_TRUE(c->send("GET /stream HTTP/1.0\r\n\r\n"));
  r = c->readResponse();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->chunked);
  EXPECT_EQ(r->body, "part1,part2");  // ended by the close
}

TEST_F(HttpServerTest, StreamingNoticesTheClientGoingAway) {
  std::promise<std::pair<ResponseWriter::Wake, bool>> result;
  start([&](Request&, ResponseWriter& w) {
    w.startStream(200, {{"Content-Type", "application/json"}});
    w.write("{\"type\":\"ADDED\"}\n");
    ResponseWriter::Wake wake = w.wait(-1, 10000);
    bool wrote = true;
    for (int i = 0; i < 100 && wrote; ++i) wrote = w.write("more\n");
    result.set_value({wake, wrote});
  });
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->send(get("/watch")));
  auto head = c->readHead();
  ASSERT_TRUE(head);
  EXPECT_TRUE(head->chunked);
  auto chunk = c->readChunk();
  ASSERT_TRUE(chunk);
  EXPECT_EQ(*chunk, "{\"type\":\"ADDED\"}\n");
  auto begin = std::chrono::steady_clock::now();
  c->close();
  auto future = result.get_future();
  ASSERT_EQ(future.wait_for(5s), std::future_status::ready);
  auto [wake, wrote] = future.get();
  EXPECT_EQ(wake, ResponseWriter::Wake::kClientGone);
  EXPECT_FALSE(wrote);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 5s);
}

TEST_F(HttpServerTest, WaitReportsWakeFdAndTimeoutAndTheConnectionStaysUsable) {
  int efd = ::eventfd(0, EFD_CLOEXEC);
  ASSERT_GE(efd, 0);
  UniqueFd wakeFd(efd);
  std::promise<ResponseWriter::Wake> first;
  start([&](Request& req, ResponseWriter& w) {
    if (req.path != "/watch") return w.send(200, {}, "next");
    w.startStream(200, {});
    first.set_value(w.wait(efd, 50));
    w.write("ready");
    ResponseWriter::Wake second = w.wait(efd, 10000);
    w.write(second == ResponseWriter::Wake::kWakeFd ? "woken" : "not woken");
    w.end();
  });
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->send(get("/watch")));
  ASSERT_TRUE(c->readHead());
  EXPECT_EQ(first.get_future().get(), ResponseWriter::Wake::kTimeout);
  EXPECT_EQ(c->readChunk().value_or("?"), "ready");
  uint64_t one = 1;
  ASSERT_EQ(::write(efd, &one, sizeof one), 8);
  EXPECT_EQ(c->readChunk().value_or("?"), "woken");
  EXPECT_EQ(c->readChunk().value_or("?"), "");
  ASSERT_TRUE(c->send(get("/next")));
  auto r = c->readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "next");
}

TEST_F(HttpServerTest, UpgradeHandsTheConnectionToTheHandler) {
  std::thread echoThread;
  std::promise<void> handlerReturned;
  start([&](Request& req, ResponseWriter& w) {
    std::unique_ptr<Stream> s = w.upgrade(101, {{"Connection", "Upgrade"}, {"Upgrade", "echo/1"}});
    ASSERT_TRUE(s);
    EXPECT_TRUE(w.responded());
    // The stream outlives the handler and the server's connection thread.
    echoThread = std::thread([s = std::move(s)] {
      char buf[256];
      long n;
      while ((n = s->read(buf, sizeof buf)) > 0) {
        if (!s->write(std::string_view(buf, static_cast<size_t>(n)))) break;
      }
      s->close();
    });
    handlerReturned.set_value();
  });
  auto c = connect();
  ASSERT_TRUE(c);
  // Bytes sent right behind the request belong to the stream.
  ASSERT_TRUE(c->send(get("/exec", "Connection: Upgrade\r\nUpgrade: echo/1\r\n") + "early,"));
  auto head = c->readHead();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 101);
  EXPECT_EQ(head->header("Upgrade"), "echo/1");
  ASSERT_EQ(handlerReturned.get_future().wait_for(5s), std::future_status::ready);
  std::this_thread::sleep_for(50ms);  // the server thread is gone; the stream still works
  ASSERT_TRUE(c->send("late"));
  std::string got;
  char buf[64];
  while (got.size() < 10) {
    long n = c->readSome(buf, sizeof buf);
    ASSERT_GT(n, 0);
    got.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(got, "early,late");
  c->close();
  echoThread.join();
}

std::string identityOf(const Request& req) {
  std::string orgs;
  for (const std::string& o : req.peer.organizations) orgs += (orgs.empty() ? "" : ",") + o;
  return std::string(req.peer.present ? "yes" : "no") + "|" + req.peer.commonName + "|" + orgs;
}

TEST_F(HttpServerTest, ClientCertificatesBecomeIdentitiesOnlyWhenTheyVerify) {
  options_.clientCaPem = pki_.ca.certPem;
  start([](Request& req, ResponseWriter& w) { w.send(200, {}, identityOf(req)); });
  auto whoami = [&](const std::string& cert, const std::string& key) -> std::string {
    ClientTls t{pki_.ca.certPem, cert, key};
    auto c = TestClient::connect(server_->port(), &t);
    if (!c || !c->send(get("/whoami")) || !c->send(get("/again"))) return "connect failed";
    auto first = c->readResponse();
    auto second = c->readResponse();
    if (!first || !second) return "no response";
    EXPECT_EQ(first->body, second->body);  // per connection, for every request on it
    return first->body;
  };
  EXPECT_EQ(whoami(pki_.adminClient.certPem, pki_.adminClient.keyPem),
            "yes|system:admin|system:masters");
  auto alice = pki::issueClientCertificate(pki_.ca, "alice", {"dev", "ops"}, 1);
  ASSERT_TRUE(alice.ok());
  EXPECT_EQ(whoami(alice->certPem, alice->keyPem), "yes|alice|dev,ops");
  EXPECT_EQ(whoami("", ""), "no||");
  // Signed by another cluster's CA: served, but anonymous.
  EXPECT_EQ(whoami(otherPki_.adminClient.certPem, otherPki_.adminClient.keyPem), "no||");
  // A serving certificate is not for client authentication, even from the right CA.
  EXPECT_EQ(whoami(pki_.serving.certPem, pki_.serving.keyPem), "no||");
}

TEST_F(HttpServerTest, WithoutClientCaNoIdentityIsTaken) {
  start([](Request& req, ResponseWriter& w) { w.send(200, {}, identityOf(req)); });
  ClientTls t{pki_.ca.certPem, pki_.adminClient.certPem, pki_.adminClient.keyPem};
  auto c = TestClient::connect(server_->port(), &t);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->send(get("/")));
  auto r = c->readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "no||");
}

TEST_F(HttpServerTest, StopEndsActiveStreamsPromptly) {
  std::promise<ResponseWriter::Wake> watched;
  std::promise<long> streamRead;
  start([&](Request& req, ResponseWriter& w) {
    if (req.path == "/watch") {
      w.startStream(200, {});
      w.write("started");
      watched.set_value(w.wait(-1, -1));
      EXPECT_FALSE(w.write("after stop"));
    } else {
      auto s = w.upgrade(101, {{"Upgrade", "x"}});
      char buf[16];
      streamRead.set_value(s->read(buf, sizeof buf));
    }
  });
  auto watcher = connect();
  ASSERT_TRUE(watcher);
  ASSERT_TRUE(watcher->send(get("/watch")));
  ASSERT_TRUE(watcher->readHead());
  ASSERT_EQ(watcher->readChunk().value_or(""), "started");
  auto upgraded = connect();
  ASSERT_TRUE(upgraded);
  ASSERT_TRUE(upgraded->send(get("/exec")));
  ASSERT_TRUE(upgraded->readHead());
  auto idle = connect();
  ASSERT_TRUE(idle);

  auto begin = std::chrono::steady_clock::now();
  server_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 2s);
  EXPECT_EQ(watched.get_future().get(), ResponseWriter::Wake::kClientGone);
  EXPECT_LE(streamRead.get_future().get(), 0);
  EXPECT_TRUE(idle->closedByServer());
  server_->stop();  // idempotent
  server_.reset();  // and the destructor too
}

TEST_F(HttpServerTest, IdleAndStalledConnectionsAreClosed) {
  options_.idleTimeoutSeconds = 1;
  start(echo);
  auto idle = connect();
  ASSERT_TRUE(idle);
  ASSERT_TRUE(idle->send(get("/")));
  ASSERT_TRUE(idle->readResponse());
  auto stalledHead = connect();
  ASSERT_TRUE(stalledHead);
  ASSERT_TRUE(stalledHead->send("GET / HTTP/1.1\r\nHost:"));
  auto stalledBody = connect();
  ASSERT_TRUE(stalledBody);
  ASSERT_TRUE(stalledBody->send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc"));
  auto begin = std::chrono::steady_clock::now();
  EXPECT_TRUE(idle->closedByServer());
  EXPECT_TRUE(stalledHead->closedByServer());
  EXPECT_TRUE(stalledBody->closedByServer());
  auto elapsed = std::chrono::steady_clock::now() - begin;
  EXPECT_GT(elapsed, 500ms);
  EXPECT_LT(elapsed, 4s);
}

TEST_F(HttpServerTest, RefusesConnectionsBeyondTheLimit) {
  options_.maxConnections = 1;
  start(echo);
  auto first = connect();
  ASSERT_TRUE(first);
  ASSERT_TRUE(first->send(get("/")));
  ASSERT_TRUE(first->readResponse());
  EXPECT_EQ(connect(), nullptr);  // closed before the handshake
  first->close();
  std::unique_ptr<TestClient> later;
  for (int i = 0; i < 50 && !later; ++i) {
    std::this_thread::sleep_for(50ms);
    later = connect();
  }
  ASSERT_TRUE(later);  // the slot is freed once the first connection ends
  ASSERT_TRUE(later->send(get("/")));
  EXPECT_TRUE(later->readResponse());
}

TEST_F(HttpServerTest, PlaintextModeServesWithoutTls) {
  options_.plaintext = true;
  start(echo);
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->send(get("/plain")));
  auto r = c->readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "GET /plain  ");
}

TEST_F(HttpServerTest, StartReportsBadCertificatesAndBusyPorts) {
  ServerOptions bad;
  bad.bindAddress = "127.0.0.1";
  bad.certPem = "not a certificate";
  bad.keyPem = pki_.serving.keyPem;
  auto r = HttpServer::start(bad, echo);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalid);

  bad.certPem = pki_.serving.certPem;
  bad.keyPem = pki_.adminClient.keyPem;  // not the certificate's key
  EXPECT_FALSE(HttpServer::start(bad, echo).ok());

  start(echo);
  ServerOptions busy = options_;
  busy.port = server_->port();
  auto second = HttpServer::start(busy, echo);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message().find("in use"), std::string::npos) << second.error().message();
}

}  // namespace
}  // namespace nave::http
