// The netpol table against the real kernel, with real traffic. The world:
//
//   outside (10.88.0.2) ==routed== node (up0 10.88.0.1; bridge br0 10.77.0.1/24) ==veths== pods
//     server 10.77.0.10 (listening on 8080 and 9090), client-a 10.77.0.11, client-b 10.77.0.12
//
// Traffic between pods is bridged (it crosses the forward hook through br_netfilter, as on a
// node); traffic from outside is routed, as from another node. The table is programmed inside
// "node" from rulesets computed from YAML, and TCP connections show what passes.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <regex>
#include <sstream>

#include "network/netpol/netpol_table.h"
#include "tests/network/netns_fixture.h"
#include "tests/network/netpol/cluster_yaml.h"

namespace nave::network::netpol {
namespace {

using network::testing::listenIn;
using network::testing::probe;
using network::testing::TestNetns;
using testing::stateOf;

constexpr char kServer[] = "10.77.0.10", kA[] = "10.77.0.11", kB[] = "10.77.0.12";

std::string pods(const char* bRole = "b") {
  return std::string(R"(
kind: Namespace
metadata: {name: default}
---
kind: Pod
metadata: {namespace: default, name: server, labels: {app: server}}
spec: {nodeName: node, containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
status: {podIP: 10.77.0.10}
---
kind: Pod
metadata: {namespace: default, name: client-a, labels: {app: client, role: a}}
spec: {nodeName: node}
status: {podIP: 10.77.0.11}
---
kind: Pod
metadata: {namespace: default, name: client-b, labels: {app: client, role: )") +
         bRole + R"(}}
spec: {nodeName: node}
status: {podIP: 10.77.0.12}
)";
}

constexpr char kDenyIngress[] = R"(
---
kind: NetworkPolicy
metadata: {namespace: default, name: deny}
spec: {podSelector: {matchLabels: {app: server}}, policyTypes: [Ingress]}
)";

constexpr char kAllowA[] = R"(
---
kind: NetworkPolicy
metadata: {namespace: default, name: allow-a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - from: [{podSelector: {matchLabels: {role: a}}}]
    ports: [{port: http}]
  - from: [{ipBlock: {cidr: 10.88.0.0/16, except: [10.88.1.0/24]}}]
)";

constexpr char kNoEgressA[] = R"(
---
kind: NetworkPolicy
metadata: {namespace: default, name: no-egress}
spec: {podSelector: {matchLabels: {role: a}}, policyTypes: [Egress]}
)";

constexpr char kBToHttp[] = R"(
---
kind: NetworkPolicy
metadata: {namespace: default, name: b-to-http}
spec:
  podSelector: {matchLabels: {role: b}}
  policyTypes: [Egress]
  egress: [{to: [{podSelector: {matchLabels: {app: server}}}], ports: [{port: http}]}]
)";

class NetpolTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NAVE_REQUIRE_NETNS();
    node_ = TestNetns::create("node");
    outside_ = TestNetns::create("out");
    server_ = TestNetns::create("srv");
    a_ = TestNetns::create("a");
    b_ = TestNetns::create("b");
    ASSERT_TRUE(node_ && outside_ && server_ && a_ && b_);
    run(*node_, "ip link add br0 type bridge");
    run(*node_, "ip addr add 10.77.0.1/24 dev br0");
    run(*node_, "ip link set br0 up");
    for (const char* sysctl : {"net/ipv4/ip_forward", "net/bridge/bridge-nf-call-iptables"}) {
      auto r = node_->run([&] { return writeSysctl(sysctl, "1"); });
      ASSERT_TRUE(r.ok()) << r.error().message();
    }
    int i = 0;
    for (auto [pod, ip] : {std::pair{server_.get(), kServer}, {a_.get(), kA}, {b_.get(), kB}}) {
      std::string veth = "veth" + std::to_string(i++);
      run(*node_, "ip link add " + veth + " type veth peer name eth0 netns " + pod->name());
      run(*node_, "ip link set " + veth + " master br0 up");
      run(*pod, "ip addr add " + std::string(ip) + "/24 dev eth0");
      run(*pod, "ip link set eth0 up");
      run(*pod, "ip route add default via 10.77.0.1");
    }
    network::testing::connectNamespaces(*node_, "up0", "10.88.0.1/24", *outside_, "eth0",
                                        "10.88.0.2/24");
    run(*outside_, "ip route add 10.77.0.0/24 via 10.88.0.1");
    http_ = listenIn(*server_, kServer, 8080);
    other_ = listenIn(*server_, kServer, 9090);
    outsideListener_ = listenIn(*outside_, "10.88.0.2", 7000);
    ASSERT_TRUE(http_ && other_ && outsideListener_);
    auto nft = nft::NftSocket::openIn(node_->handle());
    ASSERT_TRUE(nft.ok()) << nft.error().message();
    table_.emplace(std::move(nft).value());
  }

  void run(TestNetns& ns, const std::string& cmd) {
    auto [rc, out] = ns.exec(cmd);
    ASSERT_EQ(rc, 0) << cmd << ": " << out;
  }

  void apply(const std::string& yaml) {
    Ruleset rules = computeRuleset(stateOf(yaml), "node");
    auto r = table_->apply(rules);
    ASSERT_TRUE(r.ok()) << r.error().message();
  }

  // Whether a new connection from `from` to the server's `port` is made; a refused one must be
  // refused by the table's reject (an ICMP error), not lost.
  bool connects(TestNetns& from, uint16_t port = 8080) {
    auto r = probe(from, kServer, port, port == 8080 ? http_.get() : other_.get());
    if (!r.ok()) {
      EXPECT_NE(r.error().message().find("refused"), std::string::npos) << r.error().message();
    }
    return r.ok();
  }

  std::string list() {
    auto [rc, out] = node_->exec("nft list table inet nave-netpol");
    EXPECT_EQ(rc, 0) << out;
    return out;
  }

  std::unique_ptr<TestNetns> node_, outside_, server_, a_, b_;
  // Whether client-a reaches the outside's listener.
  bool aReachesOutside() {
    auto r = probe(*a_, "10.88.0.2", 7000, outsideListener_.get());
    if (!r.ok()) {
      EXPECT_NE(r.error().message().find("refused"), std::string::npos) << r.error().message();
    }
    return r.ok();
  }

  UniqueFd http_, other_, outsideListener_;
  std::optional<NetpolTable> table_;
};

TEST_F(NetpolTableTest, PoliciesFilterBridgedAndRoutedTraffic) {
  apply(pods());
  EXPECT_TRUE(connects(*a_));
  EXPECT_TRUE(connects(*b_));
  EXPECT_TRUE(connects(*outside_));
  EXPECT_TRUE(aReachesOutside());

  // Default deny for the server: nothing reaches it but the node itself.
  apply(pods() + kDenyIngress);
  EXPECT_FALSE(connects(*a_));
  EXPECT_FALSE(connects(*b_));
  EXPECT_FALSE(connects(*outside_));
  EXPECT_TRUE(connects(*node_));

  // client-a on the named port (8080) only, and the outside's block on any port.
  apply(pods() + kDenyIngress + kAllowA);
  EXPECT_TRUE(connects(*a_));
  EXPECT_FALSE(connects(*a_, 9090));
  EXPECT_FALSE(connects(*b_));
  EXPECT_TRUE(connects(*outside_));
  EXPECT_TRUE(connects(*outside_, 9090));

  // client-b gets role a: one peer set changes, nothing else.
  apply(pods("a") + kDenyIngress + kAllowA);
  EXPECT_TRUE(connects(*b_));
  EXPECT_LE(table_->lastOperations(), 3u);

  // Egress: client-a may send nothing; client-b still may.
  apply(pods() + kDenyIngress + kAllowA + kNoEgressA);
  EXPECT_FALSE(aReachesOutside());
  EXPECT_FALSE(connects(*a_));
  EXPECT_TRUE(connects(*outside_));
  std::string out = list();
  EXPECT_NE(out.find("ip saddr vmap @egress-pods"), std::string::npos) << out;
  EXPECT_NE(out.find("ip daddr vmap @ingress-pods"), std::string::npos) << out;
  EXPECT_NE(out.find("ip saddr @in_default/allow-a_0 tcp dport 8080 accept"), std::string::npos)
      << out;
  EXPECT_NE(out.find("elements = { 10.88.0.0/24, 10.88.2.0-10.88.255.255 }"), std::string::npos)
      << out;

  // Egress to a named port of the peers: the server's http (8080), not 9090.
  apply(pods() + kBToHttp);
  EXPECT_TRUE(connects(*b_));
  EXPECT_FALSE(connects(*b_, 9090));
  EXPECT_TRUE(connects(*a_, 9090));
  out = list();
  EXPECT_NE(out.find("ip daddr . tcp dport @out_default/b-to-http_0_0 accept"), std::string::npos)
      << out;
  EXPECT_NE(out.find("elements = { 10.77.0.10 . 8080 }"), std::string::npos) << out;

  // Without policies everything passes again, and nothing of them is left.
  apply(pods());
  EXPECT_TRUE(connects(*a_));
  EXPECT_TRUE(connects(*b_, 9090));
  EXPECT_TRUE(connects(*outside_));
  EXPECT_TRUE(aReachesOutside());
  out = list();
  EXPECT_EQ(out.find("chain in-"), std::string::npos) << out;
  EXPECT_EQ(out.find("chain out-"), std::string::npos) << out;
  EXPECT_EQ(out.find("set in_"), std::string::npos) << out;
  EXPECT_EQ(out.find("set out_"), std::string::npos) << out;

  ASSERT_TRUE(table_->remove().ok());
  EXPECT_NE(node_->exec("nft list table inet nave-netpol").first, 0);
  ASSERT_TRUE(table_->remove().ok());  // missing is fine
}

TEST_F(NetpolTableTest, EstablishedConnectionsSurviveANewDeny) {
  apply(pods());
  // A connection from client-a, kept open.
  UniqueFd client = a_->run([] {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in sa = network::testing::inetAddress(kServer, 8080);
    EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    return fd;
  });
  ASSERT_TRUE(network::testing::waitFor(http_.get(), POLLIN));
  UniqueFd accepted(::accept4(http_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted);

  apply(pods() + kDenyIngress);
  EXPECT_FALSE(connects(*a_));  // new connections are refused
  char buf[4];
  ASSERT_EQ(::send(client.get(), "ping", 4, MSG_NOSIGNAL), 4);
  ASSERT_TRUE(network::testing::waitFor(accepted.get(), POLLIN));
  ASSERT_EQ(::recv(accepted.get(), buf, 4, 0), 4);
  ASSERT_EQ(::send(accepted.get(), "pong", 4, MSG_NOSIGNAL), 4);
  ASSERT_TRUE(network::testing::waitFor(client.get(), POLLIN));
  ASSERT_EQ(::recv(client.get(), buf, 4, 0), 4);
  EXPECT_EQ(std::string(buf, 4), "pong");
}

TEST_F(NetpolTableTest, StartsOverFromWhateverTheTableHeldAndMatchesItsNftScript) {
  // An earlier agent's leftovers: a chain of the same name with other rules, a stray set.
  run(*node_,
      "nft 'add table inet nave-netpol; add chain inet nave-netpol ingress { type filter hook "
      "forward priority 1; policy drop; }; add set inet nave-netpol stray { type ipv4_addr; }'");
  std::string yaml = pods() + kDenyIngress + kAllowA + kBToHttp;
  Ruleset rules = computeRuleset(stateOf(yaml), "node");
  auto r = table_->apply(rules);
  ASSERT_TRUE(r.ok()) << r.error().message();
  std::string applied = list();
  EXPECT_EQ(applied.find("stray"), std::string::npos) << applied;
  EXPECT_TRUE(connects(*a_));

  // nft -f of renderTable builds the same table (as nft lists it, line order aside).
  auto mirror = TestNetns::create("mirror");
  ASSERT_TRUE(mirror);
  char path[] = "/tmp/nave-netpol-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string script = renderTable(rules);
  ASSERT_EQ(::write(fd, script.data(), script.size()), static_cast<ssize_t>(script.size()));
  ::close(fd);
  auto [rc, err] = mirror->exec(std::string("nft -f ") + path);
  ::unlink(path);
  ASSERT_EQ(rc, 0) << err << "\n" << script;
  auto [rc2, listed] = mirror->exec("nft list table inet nave-netpol");
  ASSERT_EQ(rc2, 0);
  auto lines = [](const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    const std::regex counter("counter packets [0-9]+ bytes [0-9]+");
    for (std::string line; std::getline(in, line);)
      out.push_back(std::regex_replace(line, counter, "counter"));
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_EQ(lines(applied), lines(listed)) << applied << "\n----\n" << listed;
}

// Random changes of pods, namespaces and policies, applied one after the other as
// differences, leave the table as a full sync of the last state builds it.
TEST(NetpolTableChanges, IncrementalChangesEndWhereAFullSyncWould) {
  NAVE_REQUIRE_NETNS();
  auto incremental = TestNetns::create("inc"), full = TestNetns::create("full");
  ASSERT_TRUE(incremental && full);
  auto nft = nft::NftSocket::openIn(incremental->handle());
  ASSERT_TRUE(nft.ok()) << nft.error().message();
  NetpolTable table(std::move(nft).value());
  auto listing = [](TestNetns& ns) {
    auto [rc, out] = ns.exec("nft list table inet nave-netpol");
    EXPECT_EQ(rc, 0) << out;
    std::vector<std::string> lines;
    std::istringstream in(out);
    const std::regex counter("counter packets [0-9]+ bytes [0-9]+");
    for (std::string line; std::getline(in, line);)
      lines.push_back(std::regex_replace(line, counter, "counter"));
    std::sort(lines.begin(), lines.end());
    return lines;
  };

  std::mt19937 random(7);
  auto pick = [&](int n) { return static_cast<int>(random() % static_cast<unsigned>(n)); };
  std::map<std::string, std::string> objects;  // key -> YAML document
  auto pod = [&](int i) {
    objects["pod/" + std::to_string(i)] =
        "kind: Pod\nmetadata: {namespace: ns" + std::to_string(i % 3) + ", name: p" +
        std::to_string(i) + ", labels: {app: a" + std::to_string(pick(4)) + ", tier: t" +
        std::to_string(pick(2)) + "}}\nspec: {nodeName: " + (pick(4) ? "node" : "other") +
        ", containers: [{name: c, ports: [{name: http, containerPort: " +
        std::to_string(8080 + pick(2)) + "}]}]}\nstatus: {podIP: 10.77." + std::to_string(i / 100) +
        "." + std::to_string(i % 100 + 2) + "}\n";
  };
  auto ns = [&](int n) {
    objects["ns/" + std::to_string(n)] = "kind: Namespace\nmetadata: {name: ns" +
                                         std::to_string(n) + ", labels: {team: t" +
                                         std::to_string(pick(2)) + "}}\n";
  };
  const char* kRules[] = {
      "ingress: [{from: [{podSelector: {matchLabels: {tier: t1}}}], ports: [{port: http}]}]",
      "ingress: [{from: [{namespaceSelector: {matchLabels: {team: t0}}}]}]",
      "ingress: [{from: [{ipBlock: {cidr: 10.77.0.0/24, except: [10.77.0.16/28]}}]}]",
      "policyTypes: [Egress], egress: [{to: [{namespaceSelector: {}, podSelector: "
      "{matchLabels: {app: a1}}}], ports: [{port: http}]}]",
      "policyTypes: [Ingress, Egress]",
      "ingress: [{ports: [{protocol: UDP, port: 5000, endPort: 5100}]}]",
  };
  auto policy = [&](int n) {
    objects["policy/" + std::to_string(n)] =
        "kind: NetworkPolicy\nmetadata: {namespace: ns" + std::to_string(n % 3) + ", name: np" +
        std::to_string(n) + "}\nspec: {podSelector: {matchLabels: {app: a" +
        std::to_string(pick(4)) + "}}, " + kRules[pick(6)] + "}\n";
  };
  for (int n = 0; n < 3; ++n) ns(n);
  for (int i = 0; i < 40; ++i) pod(i);
  for (int n = 0; n < 6; ++n) policy(n);

  for (int step = 0; step < 25; ++step) {
    for (int change = 0, changes = 1 + pick(4); change < changes; ++change) {
      switch (pick(5)) {
        case 0:
          objects.erase("pod/" + std::to_string(pick(40)));
          break;
        case 1:
          ns(pick(3));
          break;
        case 2:
          if (pick(2))
            objects.erase("policy/" + std::to_string(pick(8)));
          else
            policy(pick(8));
          break;
        default:
          pod(pick(40));
      }
    }
    std::string yaml;
    for (const auto& [key, doc] : objects) yaml += "---\n" + doc;
    Ruleset rules = computeRuleset(stateOf(yaml), "node");
    auto r = table.apply(rules);
    ASSERT_TRUE(r.ok()) << "step " << step << ": " << r.error().message();
    auto fullNft = nft::NftSocket::openIn(full->handle());
    ASSERT_TRUE(fullNft.ok());
    NetpolTable fresh(std::move(fullNft).value());  // its first apply replaces everything
    ASSERT_TRUE(fresh.apply(rules).ok());
    ASSERT_EQ(listing(*incremental), listing(*full)) << "step " << step;
  }
}

}  // namespace
}  // namespace nave::network::netpol
