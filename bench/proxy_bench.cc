// proxy_bench: the nftables service proxy (network/proxy) in throw-away network namespaces.
//
//   proxy_bench [--connects N] [--changes N]
//
// A "node" namespace holds the table `ip nave`; a "pod" namespace, joined by a veth pair,
// runs a TCP server on 10.42.0.5:8080 that every service's single endpoint points at.
// Measured, for 1,000 and 5,000 services (one TCP port and a NodePort each), and again for
// 5,000 services with externalTrafficPolicy Local (which take chains of their own):
// - the full sync (one transaction: table, base chains, maps, every service);
// - one incremental change (one service's endpoint moves), one service added, one deleted:
//   the median and p99 of --changes changes each; and the kernel's floor, a transaction of
//   one rule with and without a jump;
// - TCP connect latency from the node to a ClusterIP (DNAT through the maps) with 10 and with
//   5,000 services programmed, against the baseline measured in the same run: connect latency
//   straight to the endpoint's address (first before any table exists, then with it).
// Needs root and `ip`. Nothing outside the namespaces it creates is touched; they are deleted
// at exit.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench/stats.h"
#include "common/fd.h"
#include "network/netlink/netns.h"
#include "network/nftables/rule.h"
#include "network/proxy/proxier.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace nave;
using namespace nave::network;
using namespace nave::network::proxy;

double ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}
double us(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

double percentile(std::vector<double> v, double p) { return nave::bench::quantileFloor(std::move(v), p); }

int sh(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str());
}

const std::string kNodeNs = "nave-bench-proxy-" + std::to_string(::getpid()) + "-node";
const std::string kPodNs = "nave-bench-proxy-" + std::to_string(::getpid()) + "-pod";

void deleteNamespaces() {
  sh("ip netns del " + kNodeNs);
  sh("ip netns del " + kPodNs);
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "proxy_bench: %s\n", what.c_str());
  deleteNamespaces();  // exit() runs no destructors
  std::exit(1);
}

struct Namespaces {
  std::string node = kNodeNs;
  std::string pod = kPodNs;
  Namespaces() {
    for (const std::string& cmd : {
             "ip netns add " + node,
             "ip netns add " + pod,
             "ip -n " + node + " link set lo up",
             "ip -n " + pod + " link set lo up",
             "ip -n " + node + " link add vpod type veth peer name eth0 netns " + pod,
             "ip -n " + node + " addr add 10.42.0.1/24 dev vpod",
             "ip -n " + pod + " addr add 10.42.0.5/24 dev eth0",
             "ip -n " + node + " link set vpod up",
             "ip -n " + pod + " link set eth0 up",
             "ip -n " + pod + " route add default via 10.42.0.1",
             // The node routes the service range towards the pods (any route will do: the
             // DNAT picks the real destination).
             "ip -n " + node + " route add 10.43.0.0/16 dev vpod",
         }) {
      if (sh(cmd) != 0) die("failed: " + cmd);
    }
  }
  ~Namespaces() { deleteNamespaces(); }
  NetnsHandle handle(const std::string& name) const {
    auto h = NetnsHandle::open("/run/netns/" + name);
    if (!h.ok()) die(h.error().message());
    return std::move(*h);
  }
};

UniqueFd socketIn(const NetnsHandle& ns, int type) {
  UniqueFd fd;
  auto r = runInNetnsThread(ns, [&] { fd.reset(::socket(AF_INET, type | SOCK_CLOEXEC, 0)); });
  if (!r.ok() || !fd) die("socket in a namespace");
  return fd;
}

sockaddr_in address(const std::string& ip, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &sa.sin_addr);
  return sa;
}

// Accepts and closes connections until stopped.
class Server {
 public:
  explicit Server(const NetnsHandle& ns) : fd_(socketIn(ns, SOCK_STREAM)) {
    int on = 1;
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_in sa = address("0.0.0.0", 8080);
    if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
        ::listen(fd_.get(), 1024) != 0)
      die("listen");
    thread_ = std::thread([this] {
      while (!stop_) {
        int c = ::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) ::close(c);
      }
    });
  }
  ~Server() {
    stop_ = true;
    ::shutdown(fd_.get(), SHUT_RDWR);
    thread_.join();
  }

 private:
  UniqueFd fd_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Connect latencies (microseconds) from the node to ip:port; each connection is reset at once
// (SO_LINGER 0) so that no TIME_WAIT state piles up.
std::vector<double> connects(const NetnsHandle& node, const std::string& ip, uint16_t port, int n) {
  std::vector<double> out;
  sockaddr_in sa = address(ip, port);
  for (int i = 0; i < n; ++i) {
    UniqueFd fd = socketIn(node, SOCK_STREAM);
    linger l{1, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
    auto t0 = Clock::now();
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
      die("connect to " + ip + ": " + std::strerror(errno));
    out.push_back(us(Clock::now() - t0));
  }
  return out;
}

std::string clusterIp(int i) {  // 10.43.0.10 upwards
  int n = i + 10;
  return "10.43." + std::to_string(n / 256) + "." + std::to_string(n % 256);
}

// `chains`: with externalTrafficPolicy Local, which the proxier programs as chains rather
// than map elements (so does session affinity).
std::vector<Service> services(int count, bool chains = false) {
  std::vector<Service> out;
  for (int i = 0; i < count; ++i) {
    Service s;
    s.externalLocal = chains;
    s.ns = "bench";
    s.name = "svc-" + std::to_string(i);
    s.hasClusterIp = true;
    s.clusterIp = *Ipv4Address::parse(clusterIp(i));
    ServicePort p;
    p.name = "http";
    p.protocol = IPPROTO_TCP;
    p.port = 80;
    if (i < 2768) p.nodePort = static_cast<uint16_t>(30000 + i);  // the NodePort range's size
    Endpoint e;
    e.ip = *Ipv4Address::parse("10.42.0.5");
    e.port = 8080;
    p.endpoints = {e};
    s.ports.push_back(std::move(p));
    out.push_back(std::move(s));
  }
  return out;
}

void report(const char* what, const std::vector<double>& v, const char* unit) {
  std::printf("  %-58s median %8.2f %s   p99 %8.2f %s   (n=%zu)\n", what, percentile(v, 0.5), unit,
              percentile(v, 0.99), unit, v.size());
}

}  // namespace

int main(int argc, char** argv) {
  int connectCount = 2000, changes = 50;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--connects")
      connectCount = std::atoi(argv[i + 1]);
    else if (a == "--changes")
      changes = std::atoi(argv[i + 1]);
    else
      die("unknown option " + a);
  }
  Namespaces nss;
  NetnsHandle node = nss.handle(nss.node), pod = nss.handle(nss.pod);
  Server server(pod);
  auto nft = runInNetns(node, [] { return nft::NftSocket::open(); });
  if (!nft.ok()) die(nft.error().message());
  Proxier proxier(std::move(*nft), {"bench-node", *Ipv4Prefix::parse("10.42.0.0/16")});

  std::printf("proxy_bench: one TCP port per service, one endpoint each\n");
  // Warm up (and the baseline's first connects).
  connects(node, "10.42.0.5", 8080, 100);
  std::vector<double> base = connects(node, "10.42.0.5", 8080, connectCount);

  for (int round : {10, 1000, 5000, -5000}) {
    const int count = std::abs(round);
    const bool chains = round < 0;
    std::vector<Service> all = services(count, chains);
    auto t0 = Clock::now();
    if (auto r = proxier.syncAll(all); !r.ok()) die(r.error().message());
    double full = ms(Clock::now() - t0);
    std::printf("%d services%s\n", count,
                chains ? ", externalTrafficPolicy Local (programmed as chains)" : "");
    std::printf("  %-58s %8.2f ms\n", "full sync (one transaction)", full);
    if (count >= 1000) {
      std::vector<double> one;
      for (int i = 0; i < changes; ++i) {
        Service& s = all[static_cast<size_t>(i * 7919 % count)];
        s.ports[0].endpoints[0].port = s.ports[0].endpoints[0].port == 8080 ? 8081 : 8080;
        auto c0 = Clock::now();
        if (auto r = proxier.syncChanged({{s.key(), s}}); !r.ok()) die(r.error().message());
        one.push_back(ms(Clock::now() - c0));
        s.ports[0].endpoints[0].port = 8080;  // back, for the connects below
        if (auto r = proxier.syncChanged({{s.key(), s}}); !r.ok()) die(r.error().message());
      }
      report("one changed service (endpoint moved)", one, "ms");
      // A new service and its deletion (the new one's map elements jump to its chains).
      std::vector<double> added, removed;
      const Service extra = services(count + 1, chains).back();
      for (int i = 0; i < changes; ++i) {
        auto c0 = Clock::now();
        if (auto r = proxier.syncChanged({{extra.key(), extra}}); !r.ok()) die(r.error().message());
        added.push_back(ms(Clock::now() - c0));
        c0 = Clock::now();
        if (auto r = proxier.syncChanged({{extra.key(), std::nullopt}}); !r.ok())
          die(r.error().message());
        removed.push_back(ms(Clock::now() - c0));
      }
      report("one new service", added, "ms");
      report("one deleted service", removed, "ms");
      // The kernel's floor: one transaction adding one rule to an unused chain, without and
      // with a jump (after which the kernel validates every chain of the table).
      {
        auto sock = runInNetns(node, [] { return nft::NftSocket::open(); });
        for (int jump = 0; jump < 2; ++jump) {
          std::vector<double> t;
          for (int i = 0; i < 20; ++i) {
            nft::Transaction tx;
            tx.addChain({nft::Family::kIp, "nave", "probe", std::nullopt});
            tx.flushChain(nft::Family::kIp, "nave", "probe");
            nft::Rule r(nft::Family::kIp, "nave", "probe");
            if (jump)
              r.verdict(nft::Verdict::jump("masquerading"));
            else
              r.counter();
            tx.addRule(r);
            auto c0 = Clock::now();
            if (auto x = sock->commit(tx); !x.ok()) die(x.error().message());
            t.push_back(ms(Clock::now() - c0));
          }
          report(jump ? "kernel floor: one rule with a jump" : "kernel floor: one rule, no jump", t,
                 "ms");
        }
      }
    }
    if (round == 10 || round == 5000) {
      std::string target = clusterIp(count - 1);
      connects(node, target, 80, 100);
      std::vector<double> viaService = connects(node, target, 80, connectCount);
      report(("connect to a ClusterIP (" + std::to_string(count) + " services)").c_str(),
             viaService, "us");
      report("baseline: connect to the endpoint's address, no service", base, "us");
      base = connects(node, "10.42.0.5", 8080, connectCount);  // again, for the next round
    }
  }
  if (auto r = proxier.uninstall(); !r.ok()) die(r.error().message());
  return 0;
}
