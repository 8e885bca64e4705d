// What NetworkPolicies mean for a node's pods, checked on the computed Ruleset: a small
// evaluator below walks it as the kernel walks the table (egress-pods, then ingress-pods, each
// pod chain's rules, the sets), so each case states which new connections pass, not how the
// rules look. The cluster and the policies are written as the API's YAML.
#include "network/netpol/ruleset.h"

#include <gtest/gtest.h>

#include "tests/network/netpol/cluster_yaml.h"

namespace nave::network::netpol {
namespace {

using testing::stateOf;

constexpr char kNode[] = "n1";

// Three namespaces and pods on this node (n1) and another (n2).
constexpr char kCluster[] = R"(
kind: Namespace
metadata: {name: default, labels: {team: a}}
---
kind: Namespace
metadata: {name: other, labels: {team: b}}
---
kind: Namespace
metadata: {name: third}
---
kind: Pod
metadata: {namespace: default, name: server, labels: {app: server}}
spec:
  nodeName: n1
  containers:
  - name: main
    ports: [{name: http, containerPort: 8080}, {name: dns, containerPort: 53, protocol: UDP}]
status: {podIP: 10.42.0.10}
---
kind: Pod
metadata: {namespace: default, name: client-a, labels: {app: client, role: a}}
spec: {nodeName: n1}
status: {podIP: 10.42.0.11}
---
kind: Pod
metadata: {namespace: default, name: client-b, labels: {app: client, role: b}}
spec: {nodeName: n1}
status: {podIP: 10.42.0.12}
---
kind: Pod
metadata: {namespace: other, name: client-c, labels: {app: client}}
spec: {nodeName: n1}
status: {podIP: 10.42.0.13}
---
kind: Pod
metadata: {namespace: default, name: finished, labels: {app: client, role: a}}
spec: {nodeName: n1}
status: {podIP: 10.42.0.14, phase: Succeeded}
---
kind: Pod
metadata: {namespace: default, name: host, labels: {app: client, role: a}}
spec: {nodeName: n1, hostNetwork: true}
status: {podIP: 10.0.0.1}
---
kind: Pod
metadata: {namespace: other, name: server2, labels: {app: server}}
spec:
  nodeName: n2
  containers:
  - name: main
    ports: [{name: http, containerPort: 9090}]
status: {podIP: 10.42.1.20}
---
kind: Pod
metadata: {namespace: third, name: client-d, labels: {app: client}}
spec: {nodeName: n2}
status: {podIP: 10.42.1.21}
)";

struct Connection {
  std::string src, dst;
  uint16_t port = 80;
  uint8_t protocol = IPPROTO_TCP;
};

bool inRanges(const std::vector<AddressRange>& ranges, Ipv4Address a) {
  for (const AddressRange& r : ranges)
    if (r.first <= a && a <= r.last) return true;
  return false;
}

bool chainAccepts(const Ruleset& r, const std::string& name, Ipv4Address src, Ipv4Address dst,
                  const Connection& c) {
  const PodChain& chain = r.chains.at(name);
  for (const AllowRule& a : chain.rules) {
    if (!a.peerSet.empty() && !inRanges(r.peerSets.at(a.peerSet), chain.ingress ? src : dst))
      continue;
    if (a.protocol != 0 && a.protocol != c.protocol) continue;
    if (!a.peerPortSet.empty() && !r.portSets.at(a.peerPortSet).contains({dst, c.port})) continue;
    if (a.firstPort != 0 && (c.port < a.firstPort || c.port > a.lastPort)) continue;
    return true;
  }
  return false;  // reject
}

// Whether a new connection passes this node's forward hook.
bool allowed(const Ruleset& r, const Connection& c) {
  Ipv4Address src = *Ipv4Address::parse(c.src), dst = *Ipv4Address::parse(c.dst);
  if (src == dst && (r.ingressPods.contains(src) || r.egressPods.contains(src))) return true;
  if (auto e = r.egressPods.find(src);
      e != r.egressPods.end() && !chainAccepts(r, e->second, src, dst, c))
    return false;
  if (auto i = r.ingressPods.find(dst);
      i != r.ingressPods.end() && !chainAccepts(r, i->second, src, dst, c))
    return false;
  return true;
}

constexpr char kServer[] = "10.42.0.10", kA[] = "10.42.0.11", kB[] = "10.42.0.12",
               kC[] = "10.42.0.13", kFinished[] = "10.42.0.14", kHost[] = "10.0.0.1",
               kServer2[] = "10.42.1.20", kD[] = "10.42.1.21", kOutside[] = "192.168.1.5",
               kExcepted[] = "192.168.2.5";

struct Expect {
  Connection connection;
  bool allowed;
};

struct Case {
  const char* name;
  const char* policies;
  std::vector<Expect> expect;
};

const Case kCases[] = {
    {"no policy allows everything",
     "",
     {{{kA, kServer}, true}, {{kOutside, kServer}, true}, {{kServer, kOutside}, true}}},
    {"default deny ingress",
     R"(
kind: NetworkPolicy
metadata: {namespace: default, name: deny}
spec: {podSelector: {}, policyTypes: [Ingress]}
)",
     {{{kA, kServer}, false},
      {{kC, kServer}, false},
      {{kOutside, kA}, false},
      {{kServer, kC}, true},  // client-c's namespace has no policy
      {{kServer, kOutside}, true},
      {{kServer, kServer}, true}}},  // a pod reaching itself
    {"podSelector peer",
     R"(
kind: NetworkPolicy
metadata: {namespace: default, name: allow-a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress: [{from: [{podSelector: {matchLabels: {role: a}}}]}]
)",
     {{{kA, kServer}, true},
      {{kB, kServer}, false},
      {{kC, kServer}, false},  // another namespace
      {{kFinished, kServer}, false},
      {{kHost, kServer}, false},  // hostNetwork pods are not peers
      {{kB, kA}, true}}},         // client-a is not selected
    {"namespaceSelector peer",
     R"(
kind: NetworkPolicy
metadata: {namespace: default, name: from-b}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: b}}}]}]
)",
     {{{kC, kServer}, true},
      {{kServer2, kServer}, true},
      {{kA, kServer}, false},
      {{kD, kServer}, false}}},
    {"namespaceSelector by the name label",
     R"(
kind: NetworkPolicy
metadata: {namespace: default, name: from-third}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: third}}}]}]
)",
     {{{kD, kServer}, true}, {{kC, kServer}, false}}},
    {"podSelector and namespaceSelector together",
     R"(
kind: NetworkPolicy
metadata: {namespace: default, name: clients-of-b}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - from:
    - namespaceSelector: {matchExpressions: [{key: team, operator: In, values: [b]}]}
      podSelector: {matchLabels: {app: client}}
)",
     {{{kC, kServer}, true}, {{kServer2, kServer}, false}, {{kA, kServer}, false}}},
    {"ipBlock with except, matching pod addresses too",
     R"(
kind: NetworkPolicy
metadata: {namespace: default, name: block}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - from:
    - ipBlock: {cidr: 192.168.0.0/16, except: [192.168.2.0/24]}
    - ipBlock: {cidr: 10.42.0.11/32}
)",
     {{{kOutside, kServer}, true},
      {{kExcepted, kServer}, false},
      {{kA, kServer}, true},
      {{kB, kServer}, false}}},
    {"numeric port, protocol and range",
     R"(
kind: NetworkPolicy
metadata: {namespace: default, name: ports}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - ports: [{port: 8080}, {protocol: UDP, port: 5000, endPort: 5010}, {protocol: SCTP}]
)",
     {{{kA, kServer, 8080}, true},
      {{kOutside, kServer, 8080}, true},  // no from: every source
      {{kA, kServer, 8081}, false},
      {{kA, kServer, 8080, IPPROTO_UDP}, false},
      {{kA, kServer, 5000, IPPROTO_UDP}, true},
      {{kA, kServer, 5010, IPPROTO_UDP}, true},
      {{kA, kServer, 5011, IPPROTO_UDP}, false},
      {{kA, kServer, 4999, IPPROTO_UDP}, false},
      {{kA, kServer, 1234, IPPROTO_SCTP}, true}}},
    {"named ports resolve against the selected pod",
     R"(
kind: NetworkPolicy
metadata: {namespace: default, name: named}
spec:
  podSelector: {}
  ingress:
  - from: [{podSelector: {}}]
    ports: [{port: http}, {port: dns, protocol: UDP}, {port: nope}]
)",
     {{{kA, kServer, 8080}, true},
      {{kA, kServer, 9090}, false},
      {{kA, kServer, 53, IPPROTO_UDP}, true},
      {{kA, kServer, 53, IPPROTO_TCP}, false},
      {{kServer, kA, 8080}, false}}},  // client-a has no port named http
    {"default deny egress",
     R"(
kind: NetworkPolicy
metadata: {namespace: default, name: no-egress}
spec: {podSelector: {matchLabels: {app: client}}, policyTypes: [Egress]}
)",
     {{{kA, kServer}, false},
      {{kA, kOutside}, false},
      {{kServer, kA}, true},  // ingress to client-a is not isolated
      {{kC, kServer}, true}}},
    {"egress to named ports of the peer pods",
     R"(
kind: NetworkPolicy
metadata: {namespace: default, name: to-http}
spec:
  podSelector: {matchLabels: {role: a}}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {}, podSelector: {matchLabels: {app: server}}}]
    ports: [{port: http}]
  - to: [{ipBlock: {cidr: 192.168.1.0/24}}]
    ports: [{port: 443}]
)",
     {{{kA, kServer, 8080}, true},
      {{kA, kServer2, 9090}, true},  // its own port of that name
      {{kA, kServer2, 8080}, false},
      {{kA, kServer, 9090}, false},
      {{kA, kOutside, 443}, true},
      {{kA, kOutside, 8080}, false},
      {{kB, kServer, 9999}, true}}},
    {"egress to a named port of any pod when there is no peer",
     R"(
kind: NetworkPolicy
metadata: {namespace: default, name: any-http}
spec:
  podSelector: {matchLabels: {role: a}}
  policyTypes: [Egress]
  egress: [{ports: [{port: http}]}]
)",
     {{{kA, kServer, 8080}, true}, {{kA, kServer2, 9090}, true}, {{kA, kOutside, 8080}, false}}},
    {"default deny both directions",
     R"(
kind: NetworkPolicy
metadata: {namespace: default, name: deny-all}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
)",
     {{{kA, kServer}, false},
      {{kServer, kA}, false},
      {{kA, kOutside}, false},
      {{kC, kServer}, false},
      {{kServer, kServer}, true}}},
    {"policies add up",
     R"(
kind: NetworkPolicy
metadata: {namespace: default, name: deny}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
kind: NetworkPolicy
metadata: {namespace: default, name: allow-a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress: [{from: [{podSelector: {matchLabels: {role: a}}}], ports: [{port: 8080}]}]
---
kind: NetworkPolicy
metadata: {namespace: default, name: allow-c}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: b}}}]}]
)",
     {{{kA, kServer, 8080}, true},
      {{kA, kServer, 80}, false},
      {{kB, kServer, 8080}, false},
      {{kC, kServer, 80}, true},
      {{kA, kB}, false}}},
    {"policyTypes default to Ingress, and Egress with egress rules",
     R"(
kind: NetworkPolicy
metadata: {namespace: default, name: implicit}
spec:
  podSelector: {matchLabels: {role: a}}
  egress: [{to: [{podSelector: {matchLabels: {app: server}}}]}]
)",
     {{{kA, kServer}, true}, {{kA, kOutside}, false}, {{kServer, kA}, false}}},
    {"a policy applies in its own namespace only",
     R"(
kind: NetworkPolicy
metadata: {namespace: other, name: deny}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
)",
     {{{kA, kServer}, true}, {{kA, kC}, false}, {{kC, kA}, false}}},
};

TEST(RulesetTest, PolicySemantics) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    Ruleset rules = computeRuleset(stateOf(std::string(kCluster) + "\n---\n" + c.policies), kNode);
    for (const Expect& e : c.expect) {
      EXPECT_EQ(allowed(rules, e.connection), e.allowed)
          << e.connection.src << " -> " << e.connection.dst << ":" << e.connection.port << "/"
          << int(e.connection.protocol);
    }
  }
}

TEST(RulesetTest, LayoutSharesChainsAndNamesSetsAfterPolicies) {
  Ruleset r = computeRuleset(stateOf(std::string(kCluster) + R"(
---
kind: NetworkPolicy
metadata: {namespace: default, name: allow-clients}
spec:
  podSelector: {}
  ingress: [{from: [{podSelector: {matchLabels: {app: client}}}], ports: [{port: 80}]}]
)"),
                             kNode);
  // Only this node's actionable pods: server, client-a, client-b (not the finished, hostNetwork
  // or other namespace's pods).
  ASSERT_EQ(r.ingressPods.size(), 3u);
  EXPECT_TRUE(r.egressPods.empty());
  // client-a and client-b have the same rules: one chain; the server's also (no named port).
  EXPECT_EQ(r.chains.size(), 1u);
  const std::string& chain = r.ingressPods.begin()->second;
  EXPECT_EQ(chain.rfind("in-", 0), 0u) << chain;
  ASSERT_EQ(r.chains[chain].rules.size(), 1u);
  EXPECT_EQ(renderRule(r.chains[chain].rules[0], true),
            "ip saddr @in_default/allow-clients_0 meta l4proto tcp th dport 80 accept");
  // Adjacent pod addresses merge into one range.
  ASSERT_EQ(r.peerSets.size(), 1u);
  EXPECT_EQ(r.peerSets["in_default/allow-clients_0"],
            (std::vector<AddressRange>{{*Ipv4Address::parse(kA), *Ipv4Address::parse(kB)}}));

  // The same cluster computes the same ruleset, names and all.
  EXPECT_EQ(r, computeRuleset(stateOf(std::string(kCluster) + R"(
---
kind: NetworkPolicy
metadata: {namespace: default, name: allow-clients}
spec:
  podSelector: {}
  ingress: [{from: [{podSelector: {matchLabels: {app: client}}}], ports: [{port: 80}]}]
)"),
                              kNode));
}

TEST(RulesetTest, LongNamesAreShortened) {
  std::string name(240, 'p');
  Ruleset r = computeRuleset(stateOf(std::string(kCluster) + R"(
---
kind: NetworkPolicy
metadata: {namespace: default, name: )" +
                                     name + R"(}
spec: {podSelector: {}, ingress: [{from: [{podSelector: {}}]}]}
)"),
                             kNode);
  ASSERT_EQ(r.peerSets.size(), 1u);
  EXPECT_LE(r.peerSets.begin()->first.size(), 200u);
  EXPECT_EQ(r.peerSets.begin()->first.rfind("in_default/ppp", 0), 0u);
}

TEST(RulesetTest, IpBlockRanges) {
  auto a = [](const char* s) { return *Ipv4Address::parse(s); };
  auto r = blockRanges("10.0.0.0/8", {"10.1.0.0/16", "10.255.255.0/24", "fd00::/8"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (std::vector<AddressRange>{{a("10.0.0.0"), a("10.0.255.255")},
                                           {a("10.2.0.0"), a("10.255.254.255")}}));
  EXPECT_EQ(*blockRanges("0.0.0.0/0", {}),
            (std::vector<AddressRange>{{a("0.0.0.0"), a("255.255.255.255")}}));
  EXPECT_TRUE(blockRanges("2001:db8::/64", {})->empty());
  EXPECT_TRUE(blockRanges("10.0.0.0/33", {}).error().is(ErrorCode::kInvalid));
}

TEST(RulesetTest, MalformedPoliciesAreRefused) {
  for (const char* spec : {
           "{podSelector: {}, ingress: [{ports: [{protocol: ICMP}]}]}",
           "{podSelector: {}, ingress: [{ports: [{port: 0}]}]}",
           "{podSelector: {}, ingress: [{ports: [{port: 90, endPort: 80}]}]}",
           "{podSelector: {matchExpressions: [{key: a, operator: Near}]}}",
           "{podSelector: {}, egress: [{to: [{ipBlock: {cidr: nonsense}}]}]}",
       }) {
    auto doc = parseYaml(std::string("metadata: {namespace: default, name: bad}\nspec: ") + spec);
    ASSERT_TRUE(doc.ok()) << spec;
    EXPECT_TRUE(parsePolicy(*doc).error().is(ErrorCode::kInvalid)) << spec;
  }
}

}  // namespace
}  // namespace nave::network::netpol
