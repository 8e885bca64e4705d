// The DNS server over real sockets, in a network namespace of the test's own: UDP, TCP,
// truncation, FORMERR, forwarding to a fake upstream (UDP, TCP on truncation) and its cache.
#include "network/dns/dns_server.h"

#include <poll.h>
#include <sys/eventfd.h>

#include <atomic>
#include <thread>

#include "tests/network/netns_fixture.h"

namespace nave::dns {
namespace {

using network::testing::inetAddress;
using network::testing::TestNetns;

constexpr const char* kServerIp = "127.0.0.1";
constexpr const char* kUpstreamIp = "127.0.0.2";

Question question(const std::string& name, uint16_t type) {
  return Question{name, lowercase(name), type, kClassIn};
}

std::string plainQuery(uint16_t id, const std::string& name, uint16_t type) {
  std::string w = {char(id >> 8), char(id & 0xff), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  EXPECT_TRUE(appendName(w, name).ok());
  w += {char(type >> 8), char(type & 0xff), 0, 1};
  return w;
}

// A fake upstream resolver on 127.0.0.2:53 (UDP and TCP) answering with `respond`.
class FakeUpstream {
 public:
  using Respond = std::function<Answer(const Question&, bool tcp)>;
  FakeUpstream(TestNetns& ns, Respond respond) : respond_(std::move(respond)) {
    udp_ = network::testing::udpIn(ns, kUpstreamIp, 53);
    tcp_ = network::testing::listenIn(ns, kUpstreamIp, 53);
    stop_.reset(::eventfd(0, EFD_CLOEXEC));
    thread_ = std::thread([this] { run(); });
  }
  ~FakeUpstream() {
    uint64_t one = 1;
    (void)!::write(stop_.get(), &one, sizeof one);
    thread_.join();
  }
  int udpQueries() const { return udpQueries_; }
  int tcpQueries() const { return tcpQueries_; }

 private:
  void run() {
    for (;;) {
      pollfd fds[3] = {{udp_.get(), POLLIN, 0}, {tcp_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
      ::poll(fds, 3, -1);
      if (fds[2].revents) return;
      if (fds[0].revents) {
        char buf[4096];
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        ssize_t n =
            ::recvfrom(udp_.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&peer), &len);
        auto q = parseQuery(std::string_view(buf, size_t(n)));
        if (!q.ok()) continue;
        udpQueries_++;
        std::string r = encodeResponse(*q, respond_(q->question, false), q->udpSize);
        ::sendto(udp_.get(), r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&peer), len);
      }
      if (fds[1].revents) {
        UniqueFd c(::accept4(tcp_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        unsigned char len[2];
        if (::recv(c.get(), len, 2, MSG_WAITALL) != 2) continue;
        std::string buf(size_t(len[0]) << 8 | len[1], '\0');
        if (::recv(c.get(), buf.data(), buf.size(), MSG_WAITALL) != ssize_t(buf.size())) continue;
        auto q = parseQuery(buf);
        if (!q.ok()) continue;
        tcpQueries_++;
        std::string r = encodeResponse(*q, respond_(q->question, true), 65535);
        std::string framed = {char(r.size() >> 8), char(r.size() & 0xff)};
        framed += r;
        ::send(c.get(), framed.data(), framed.size(), MSG_NOSIGNAL);
      }
    }
  }
  Respond respond_;
  UniqueFd udp_, tcp_, stop_;
  std::atomic<int> udpQueries_{0}, tcpQueries_{0};
  std::thread thread_;
};

class DnsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NAVE_REQUIRE_NETNS();
    ns_ = TestNetns::create("dns");
    ASSERT_TRUE(ns_);
    Json web = {{"metadata", {{"namespace", "default"}, {"name", "web"}}},
                {"spec", {{"clusterIP", "10.43.0.20"}, {"ports", Json::array()}}}};
    zone_.setService("default/web", &web);
    // A headless Service with 60 endpoints: more than 512 bytes of answer.
    Json many = {{"metadata", {{"namespace", "default"}, {"name", "many"}}},
                 {"spec", {{"clusterIP", "None"}}}};
    zone_.setService("default/many", &many);
    Json endpoints = Json::array();
    for (int i = 1; i <= 60; i++)
      endpoints.push_back(
          {{"addresses", {"10.42.1." + std::to_string(i)}}, {"conditions", {{"ready", true}}}});
    Json slice = {{"metadata",
                   {{"namespace", "default"},
                    {"name", "many-x"},
                    {"labels", {{"kubernetes.io/service-name", "many"}}}}},
                  {"addressType", "IPv4"},
                  {"endpoints", endpoints}};
    zone_.setEndpointSlice("default/many-x", &slice);
  }

  void startServer(bool withForwarder) {
    server_ = ns_->run([&]() -> std::unique_ptr<DnsServer> {
      std::unique_ptr<Forwarder> f;
      if (withForwarder) {
        ForwarderOptions fo;
        fo.upstreams = {inetAddress(kUpstreamIp, 53)};
        fo.timeoutMs = 300;
        auto started = Forwarder::start(fo, cache_);
        EXPECT_TRUE(started.ok());
        f = std::move(*started);
      }
      DnsServerOptions o;
      o.address = kServerIp;
      o.udpThreads = 2;
      auto s = DnsServer::start(o, zone_, cache_, std::move(f));
      EXPECT_TRUE(s.ok()) << s.error().message();
      return s.ok() ? std::move(*s) : nullptr;
    });
    ASSERT_TRUE(server_);
  }

  // Sends `wire` over UDP; returns the reply ("" when none comes within a second).
  std::string udp(const std::string& wire, int waitMs = 5000) {
    UniqueFd fd =
        ns_->run([] { return UniqueFd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)); });
    sockaddr_in sa = inetAddress(kServerIp, 53);
    ::sendto(fd.get(), wire.data(), wire.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, waitMs) != 1) return "";
    char buf[65536];
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, size_t(n)) : "";
  }

  Response udpResponse(const std::string& wire) {
    std::string r = udp(wire);
    auto parsed = parseResponse(r);
    EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().message());
    return parsed.ok() ? *parsed : Response{};
  }

  std::unique_ptr<TestNetns> ns_;
  ClusterZone zone_{"cluster.local", "10.43.0.10"};
  ResponseCache cache_;
  std::unique_ptr<DnsServer> server_;
};

TEST_F(DnsServerTest, AnswersOverUdp) {
  startServer(false);
  Response r = udpResponse(plainQuery(77, "web.default.svc.cluster.local", kTypeA));
  EXPECT_EQ(r.id, 77);
  EXPECT_EQ(r.answer.rcode, kNoError);
  ASSERT_EQ(r.answer.answer.size(), 1u);
  EXPECT_EQ(r.answer.answer[0].rdata, rdataA(0x0a2b0014));
  r = udpResponse(plainQuery(78, "nothing.default.svc.cluster.local", kTypeA));
  EXPECT_EQ(r.answer.rcode, kNxDomain);
  // Outside the zone with no forwarder: SERVFAIL.
  EXPECT_EQ(udpResponse(plainQuery(79, "example.com", kTypeA)).answer.rcode, kServFail);
}

TEST_F(DnsServerTest, SeveralAddressesComeInTurn) {
  startServer(false);
  // One client socket: SO_REUSEPORT hands all its datagrams to the same thread.
  UniqueFd fd = ns_->run([] { return UniqueFd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)); });
  sockaddr_in sa = inetAddress(kServerIp, 53);
  std::vector<std::string> firsts;
  for (uint16_t id = 1; id <= 2; id++) {
    std::string q = encodeQuery(id, question("many.default.svc.cluster.local", kTypeA), 4096);
    ::sendto(fd.get(), q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    pollfd p{fd.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 5000), 1);
    char buf[65536];
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    auto r = parseResponse(std::string_view(buf, size_t(n)));
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->answer.answer.size(), 60u);
    firsts.push_back(r->answer.answer[0].rdata);
  }
  EXPECT_NE(firsts[0], firsts[1]);
}

TEST_F(DnsServerTest, MalformedQueriesGetFormErrAndResponsesNothing) {
  startServer(false);
  std::string two = plainQuery(5, "web.default.svc.cluster.local", kTypeA);
  two[5] = 2;
  std::string r = udp(two);
  ASSERT_EQ(r.size(), kHeaderSize);
  EXPECT_EQ(uint8_t(r[3]) & 0xf, kFormErr);
  std::string response = plainQuery(6, "web.default.svc.cluster.local", kTypeA);
  response[2] = char(0x81);
  EXPECT_EQ(udp(response, 300), "");
  EXPECT_EQ(udp("xx", 300), "");
  // Still serving.
  EXPECT_EQ(
      udpResponse(plainQuery(7, "web.default.svc.cluster.local", kTypeA)).answer.answer.size(), 1u);
}

TEST_F(DnsServerTest, TruncatesOverUdpAndAnswersInFullOverTcp) {
  startServer(false);
  std::string raw = udp(plainQuery(1, "many.default.svc.cluster.local", kTypeA));
  ASSERT_GE(raw.size(), kHeaderSize);
  EXPECT_LE(raw.size(), 512u);
  EXPECT_TRUE(uint8_t(raw[2]) & 0x02);  // TC
  // As many answers as fit in 512 bytes: (512 - 12 - 36) / 16.
  EXPECT_EQ(uint8_t(raw[6]) << 8 | uint8_t(raw[7]), 29);
  Response r;
  r = udpResponse(encodeQuery(2, question("many.default.svc.cluster.local", kTypeA), 4096));
  EXPECT_FALSE(r.truncated());
  EXPECT_EQ(r.answer.answer.size(), 60u);

  // TCP: two queries on one connection, written at once.
  UniqueFd fd = ns_->run([] { return UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)); });
  sockaddr_in sa = inetAddress(kServerIp, 53);
  ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  std::string out;
  for (const std::string& q : {plainQuery(10, "many.default.svc.cluster.local", kTypeA),
                               plainQuery(11, "web.default.svc.cluster.local", kTypeA)}) {
    out += {char(q.size() >> 8), char(q.size() & 0xff)};
    out += q;
  }
  ASSERT_EQ(::send(fd.get(), out.data(), out.size(), MSG_NOSIGNAL), ssize_t(out.size()));
  timeval tv{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  for (uint16_t id : {10, 11}) {
    unsigned char len[2];
    ASSERT_EQ(::recv(fd.get(), len, 2, MSG_WAITALL), 2);
    std::string msg(size_t(len[0]) << 8 | len[1], '\0');
    ASSERT_EQ(::recv(fd.get(), msg.data(), msg.size(), MSG_WAITALL), ssize_t(msg.size()));
    auto resp = parseResponse(msg);
    ASSERT_TRUE(resp.ok());
    EXPECT_EQ(resp->id, id);
    EXPECT_FALSE(resp->truncated());
    EXPECT_EQ(resp->answer.answer.size(), id == 10 ? 60u : 1u);
  }
}

TEST_F(DnsServerTest, ForwardsOtherNamesAndCachesTheAnswers) {
  FakeUpstream upstream(*ns_, [](const Question& q, bool) {
    Answer a;
    if (q.key == "example.com") {
      a.answer.push_back({q.name, kTypeA, kClassIn, 60, rdataA(0x01020304)});
    } else if (q.key == "refused.test") {
      a.rcode = kRefused;
    } else {
      a.rcode = kNxDomain;
      a.authority.push_back(
          {"test", kTypeSoa, kClassIn, 60, rdataSoa("ns.test", "h.test", 1, 2, 3, 4, 10)});
    }
    return a;
  });
  startServer(true);
  Response r = udpResponse(plainQuery(1, "Example.com", kTypeA));
  EXPECT_EQ(r.answer.rcode, kNoError);
  ASSERT_EQ(r.answer.answer.size(), 1u);
  EXPECT_EQ(r.answer.answer[0].rdata, rdataA(0x01020304));
  EXPECT_EQ(r.question.name, "Example.com");
  EXPECT_LE(r.answer.answer[0].ttl, 30u);  // k3s' `cache 30`
  r = udpResponse(plainQuery(2, "example.com", kTypeA));
  EXPECT_EQ(r.answer.answer.size(), 1u);
  EXPECT_EQ(upstream.udpQueries(), 1);  // from the cache

  // Negative answers pass through and are cached by the SOA's minimum.
  EXPECT_EQ(udpResponse(plainQuery(3, "missing.test", kTypeA)).answer.rcode, kNxDomain);
  EXPECT_EQ(udpResponse(plainQuery(4, "missing.test", kTypeA)).answer.rcode, kNxDomain);
  EXPECT_EQ(upstream.udpQueries(), 2);
  // Failures pass through and are not cached.
  EXPECT_EQ(udpResponse(plainQuery(5, "refused.test", kTypeA)).answer.rcode, kRefused);
  EXPECT_EQ(udpResponse(plainQuery(6, "refused.test", kTypeA)).answer.rcode, kRefused);
  EXPECT_EQ(upstream.udpQueries(), 4);
}

TEST_F(DnsServerTest, ExternalNameAnswersCarryTheTargetsRecords) {
  Json ext = {{"metadata", {{"namespace", "default"}, {"name", "ext"}}},
              {"spec", {{"type", "ExternalName"}, {"externalName", "example.com"}}}};
  zone_.setService("default/ext", &ext);
  Json local = {
      {"metadata", {{"namespace", "default"}, {"name", "alias"}}},
      {"spec", {{"type", "ExternalName"}, {"externalName", "web.default.svc.cluster.local"}}}};
  zone_.setService("default/alias", &local);
  FakeUpstream upstream(*ns_, [](const Question& q, bool) {
    Answer a;
    a.answer.push_back({q.name, kTypeA, kClassIn, 60, rdataA(0x01020304)});
    return a;
  });
  startServer(true);
  Response r = udpResponse(plainQuery(1, "ext.default.svc.cluster.local", kTypeA));
  ASSERT_EQ(r.answer.answer.size(), 2u);
  EXPECT_EQ(r.answer.answer[0].type, kTypeCname);
  EXPECT_EQ(r.answer.answer[1].name, "example.com");
  EXPECT_EQ(r.answer.answer[1].rdata, rdataA(0x01020304));
  // A target in the zone is answered from it.
  r = udpResponse(plainQuery(2, "alias.default.svc.cluster.local", kTypeA));
  ASSERT_EQ(r.answer.answer.size(), 2u);
  EXPECT_EQ(r.answer.answer[1].rdata, rdataA(0x0a2b0014));
  EXPECT_EQ(upstream.udpQueries(), 1);
}

TEST_F(DnsServerTest, RetriesTruncatedUpstreamAnswersOverTcp) {
  FakeUpstream upstream(*ns_, [](const Question& q, bool tcp) {
    Answer a;
    for (uint32_t i = 0; i < (tcp ? 100u : 1u); i++)
      a.answer.push_back({q.name, kTypeA, kClassIn, 60, rdataA(0x01000000 + i)});
    if (!tcp) a.answer.resize(200, a.answer[0]);  // too big for 1232 bytes: truncated
    return a;
  });
  startServer(true);
  Response r = udpResponse(encodeQuery(1, question("big.example", kTypeA), 4096));
  EXPECT_EQ(r.answer.answer.size(), 100u);
  EXPECT_EQ(upstream.tcpQueries(), 1);
}

TEST_F(DnsServerTest, ServfailWhenNoUpstreamAnswers) {
  startServer(true);  // nothing listens on 127.0.0.2
  EXPECT_EQ(udpResponse(plainQuery(1, "example.org", kTypeA)).answer.rcode, kServFail);
  // TCP clients get theirs too.
  UniqueFd fd = ns_->run([] { return UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)); });
  sockaddr_in sa = inetAddress(kServerIp, 53);
  ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  std::string q = plainQuery(2, "example.net", kTypeA);
  std::string out = {char(q.size() >> 8), char(q.size() & 0xff)};
  out += q;
  ASSERT_EQ(::send(fd.get(), out.data(), out.size(), MSG_NOSIGNAL), ssize_t(out.size()));
  timeval tv{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  unsigned char len[2];
  ASSERT_EQ(::recv(fd.get(), len, 2, MSG_WAITALL), 2);
  std::string msg(size_t(len[0]) << 8 | len[1], '\0');
  ASSERT_EQ(::recv(fd.get(), msg.data(), msg.size(), MSG_WAITALL), ssize_t(msg.size()));
  auto resp = parseResponse(msg);
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->answer.rcode, kServFail);
}

}  // namespace
}  // namespace nave::dns
