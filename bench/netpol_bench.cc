// netpol_bench: programming NetworkPolicies into nftables, 100 policies over 1,000 pods.
//
//   netpol_bench [--pods N] [--policies N] [--runs N] [--local N]
//
// Runs in a network namespace of its own (unshare at start: root, and the nft program for the
// baseline). Every pod is on the benchmark's node, the worst case for one node, unless --local
// spreads N of them there (a node's usual ~100). Figures are medians over --runs:
//  (a) compute: computeRuleset over the whole cluster, what every batch of changes costs
//      before nftables;
//  (b) full sync: NetpolTable::apply of that ruleset, one libnftnl transaction replacing the
//      table (what the agent does at start);
//  (c) one pod change: a pod's label moves it from one app's policies to another's; compute
//      and apply the difference (what the agent does per change batch).
// Baseline, in the same run: `nft -f` of the same ruleset as an nft script (renderTable), as an
// implementation that writes the ruleset as text would load it, for (b) and, reloading all of
// it, for (c).
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "network/netpol/netpol_table.h"

namespace {

using namespace nave;
using namespace nave::network::netpol;
using Clock = std::chrono::steady_clock;

constexpr char kNode[] = "node";

// "median (min)": the minimum shows the cost without the other processes of a busy machine.
std::string stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  char buf[64];
  std::snprintf(buf, sizeof buf, "%8.2f ms (min %.2f)", v.empty() ? 0 : v[v.size() / 2],
                v.empty() ? 0 : v[0]);
  return buf;
}

double timeMs(const std::function<void()>& fn) {
  auto start = Clock::now();
  fn();
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

Json parse(const std::string& yaml) {
  auto j = Json::parse(yaml, nullptr, false);
  if (j.is_discarded()) {
    std::fprintf(stderr, "bad generated JSON: %s\n", yaml.c_str());
    std::exit(1);
  }
  return j;
}

std::string podKey(int i) {
  return "ns" + std::to_string(i % 10) + "/pod" + std::to_string(i);
}

// Pods on the benchmark's node: one in `localEvery` (1: all of them), spread over the
// namespaces and apps.
int localEvery = 1;

bool isLocal(int i) {
  return i % localEvery == (i / localEvery) % localEvery;
}

Json podJson(int i, int app) {
  std::string node = isLocal(i) ? "node" : "elsewhere";
  std::string ip = "10.42." + std::to_string(i / 200) + "." + std::to_string(i % 200 + 10);
  int http = i % 3 == 0 ? 8081 : 8080;  // named ports that resolve differently across pods
  return parse(R"({"metadata": {"namespace": "ns)" + std::to_string(i % 10) + R"(", "name": "pod)" +
               std::to_string(i) + R"(", "labels": {"app": "a)" + std::to_string(app) +
               R"(", "tier": "t)" + std::to_string(i % 4) + R"("}},
    "spec": {"nodeName": ")" +
               node + R"(", "containers": [{"name": "c", "ports": [
      {"name": "http", "containerPort": )" +
               std::to_string(http) + R"(}, {"name": "metrics", "containerPort": 9100}]}]},
    "status": {"podIP": ")" +
               ip + R"("}})");
}

// Four kinds of policy, each selecting one app's pods (20 of 1,000) in its namespace.
Json policyJson(int j) {
  std::string ns = std::to_string(j % 10), app = std::to_string(j % 50), n = std::to_string(j);
  std::string spec;
  switch (j % 4) {
    case 0:  // ingress from a tier of the namespace on a port, and from a team's namespaces
      spec = R"("ingress": [{"from": [{"podSelector": {"matchLabels": {"tier": "t)" +
             std::to_string(j % 4) + R"("}}}], "ports": [{"port": 8080}]},
        {"from": [{"namespaceSelector": {"matchLabels": {"team": "t)" +
             std::to_string(j % 3) + R"("}}}]}])";
      break;
    case 1:  // ingress from outside blocks, to a named port
      spec = R"("ingress": [{"from": [{"ipBlock": {"cidr": "192.168.)" + n +
             R"(.0/24", "except": ["192.168.)" + n + R"(.0/28"]}}], "ports": [{"port": "http"}]}])";
      break;
    case 2:  // egress to the next app's named port anywhere, and to the internet on 443
      spec = R"("policyTypes": ["Ingress", "Egress"], "ingress": [{"from": [{"podSelector": {}}]}],
        "egress": [{"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "a)" +
             std::to_string((j + 1) % 50) + R"("}}}], "ports": [{"port": "http"}]},
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}], "ports": [{"port": 443}]}])";
      break;
    default:  // ingress to a port range from the namespace's pods
      spec =
          R"("ingress": [{"from": [{"podSelector": {}}], "ports": [{"protocol": "UDP", "port": 30000, "endPort": 30100}]}])";
  }
  return parse(R"({"metadata": {"namespace": "ns)" + ns + R"(", "name": "policy)" + n +
               R"("}, "spec": {"podSelector": {"matchLabels": {"app": "a)" + app + R"("}}, )" +
               spec + "}}");
}

ClusterState makeCluster(int pods, int policies) {
  ClusterState s;
  for (int n = 0; n < 10; ++n) {
    s.namespaces["ns" + std::to_string(n)] =
        parseNamespace(parse(R"({"metadata": {"name": "ns)" + std::to_string(n) +
                             R"(", "labels": {"team": "t)" + std::to_string(n % 3) + R"("}}})"));
  }
  for (int i = 0; i < pods; ++i) s.pods[podKey(i)] = parsePod(podJson(i, i % 50));
  for (int j = 0; j < policies; ++j) {
    auto p = parsePolicy(policyJson(j));
    if (!p.ok()) {
      std::fprintf(stderr, "policy %d: %s\n", j, p.error().message().c_str());
      std::exit(1);
    }
    s.policies.insert_or_assign("ns" + std::to_string(j % 10) + "/policy" + std::to_string(j),
                                std::move(*p));
  }
  return s;
}

void check(const Result<void>& r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, r.error().message().c_str());
    std::exit(1);
  }
}

network::nft::NftSocket openNft() {
  auto nft = network::nft::NftSocket::open();
  if (!nft.ok()) {
    std::fprintf(stderr, "open nftables: %s\n", nft.error().message().c_str());
    std::exit(1);
  }
  return std::move(nft).value();
}

// `nft -f` of the ruleset's script, replacing the table as apply() does; returns milliseconds.
double nftLoad(const Ruleset& rules) {
  std::string path = "/tmp/netpol-bench-" + std::to_string(::getpid()) + ".nft";
  {
    std::ofstream f(path);
    f << "table inet " << NetpolTable::kName << "\ndelete table inet " << NetpolTable::kName << "\n"
      << renderTable(rules);
  }
  std::string cmd = "nft -f " + path;
  int rc = 0;
  double ms = timeMs([&] { rc = std::system(cmd.c_str()); });
  std::remove(path.c_str());
  if (rc != 0) {
    std::fprintf(stderr, "%s failed\n", cmd.c_str());
    std::exit(1);
  }
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  int pods = 1000, policies = 100, runs = 9, local = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--pods"))
      pods = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--policies"))
      policies = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--runs"))
      runs = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--local"))
      local = std::atoi(argv[i + 1]);
  }
  if (::unshare(CLONE_NEWNET) != 0) {
    std::perror("unshare(CLONE_NEWNET) (run as root)");
    return 1;
  }

  if (local > 0) localEvery = std::max(1, pods / local);
  ClusterState state = makeCluster(pods, policies);
  std::vector<int> localPods;
  for (int i = 0; i < pods; ++i)
    if (isLocal(i)) localPods.push_back(i);
  std::vector<double> compute;
  Ruleset rules;
  for (int r = 0; r < runs; ++r) {
    Ruleset computed;  // freed outside the measurement
    compute.push_back(timeMs([&] { computed = computeRuleset(state, kNode); }));
    rules = std::move(computed);
  }
  size_t ruleCount = 0, peerElements = 0, portElements = 0;
  for (const auto& [name, chain] : rules.chains) ruleCount += chain.rules.size() + 1;
  for (const auto& [name, ranges] : rules.peerSets) peerElements += ranges.size();
  for (const auto& [name, set] : rules.portSets) portElements += set.size();
  std::printf(
      "%d pods (%zu on this node), %d policies: %zu ingress- and %zu egress-isolated pods, "
      "%zu pod chains with %zu rules, %zu peer sets (%zu ranges), %zu port sets (%zu "
      "elements)\n",
      pods, localPods.size(), policies, rules.ingressPods.size(), rules.egressPods.size(),
      rules.chains.size(), ruleCount, rules.peerSets.size(), peerElements, rules.portSets.size(),
      portElements);
  std::printf("script: %zu bytes\n", renderTable(rules).size());
  std::printf("(a) compute the ruleset:                 %s\n", stats(compute).c_str());

  std::vector<double> full, fullNft;
  size_t fullOps = 0;
  for (int r = 0; r < runs; ++r) {
    NetpolTable table(openNft());
    full.push_back(timeMs([&] { check(table.apply(rules), "full sync"); }));
    fullOps = table.lastOperations();
    fullNft.push_back(nftLoad(rules));
  }
  std::printf("(b) full sync, libnftnl transaction:     %s, %zu operations\n", stats(full).c_str(),
              fullOps);
  std::printf("    baseline, nft -f of the script:      %s\n", stats(fullNft).c_str());

  NetpolTable table(openNft());
  check(table.apply(rules), "full sync");
  std::vector<double> change, changeCompute, changeNft;
  std::vector<size_t> ops;
  for (int r = 0; r < runs; ++r) {
    // Pod i (on this node) moves from app i%50's policies to the next app's.
    int i = localPods[(r * 37) % localPods.size()];
    state.pods[podKey(i)] = parsePod(podJson(i, (i + 1) % 50));
    Ruleset next;
    change.push_back(timeMs([&] {
      changeCompute.push_back(timeMs([&] { next = computeRuleset(state, kNode); }));
      check(table.apply(next), "incremental apply");
    }));
    ops.push_back(table.lastOperations());
    changeNft.push_back(nftLoad(next));  // the same table again, as a whole
    state.pods[podKey(i)] = parsePod(podJson(i, i % 50));
    check(table.apply(computeRuleset(state, kNode)), "restore");
  }
  std::sort(ops.begin(), ops.end());
  std::printf("(c) one pod's labels change, total:      %s, %zu operations (median)\n",
              stats(change).c_str(), ops[ops.size() / 2]);
  std::printf("    of which computing the ruleset:      %s\n", stats(changeCompute).c_str());
  std::printf("    baseline, nft -f of the whole script: %s\n", stats(changeNft).c_str());
  return 0;
}
