// dns_bench: queries per second and latency of the cluster DNS server, measured with dnsperf
// (Debian's, on PATH) over loopback in the network namespace it runs in (bench/run.sh's).
//
//   dns_bench [--seconds N] [--clients N]
//
// (a) baseline: a trivial UDP responder with the server's socket design (one SO_REUSEPORT
//     socket and thread per core, recvmmsg/sendmmsg) sending one fixed answer with the query's
//     ID: the most this machine's UDP path gives;
// (b) the DNS server answering cluster names from its zone (A for a ClusterIP Service and a
//     headless one, SRV, NXDOMAIN);
// (c) the DNS server answering names outside the zone from its cache (filled before the run).
// (d) a micro-run without sockets: parse, answer and encode on one thread, the CPU cost of a
//     query in the server (zone and cache paths).
// Query files and the dnsperf output live in a temporary directory, removed afterwards.
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "network/dns/dns_server.h"

namespace {

using namespace nave;
using namespace nave::dns;

constexpr uint16_t kServerPort = 5300, kBaselinePort = 5301;

// The baseline: the fixed answer "a.example. A 192.0.2.1" to whatever is asked, with its ID.
class FixedResponder {
 public:
  explicit FixedResponder(int threads) {
    Query q;
    q.question = Question{"a.example", "a.example", kTypeA, kClassIn};
    Answer a;
    a.answer.push_back({"a.example", kTypeA, kClassIn, 5, rdataA(0xc0000201)});
    answer_ = encodeResponse(q, a, 512);
    stop_.reset(::eventfd(0, EFD_CLOEXEC));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(kBaselinePort);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < threads; i++) {
      UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
      int on = 1;
      ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
      if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
        std::perror("bind baseline");
      threads_.emplace_back([this, fd = fd.get()] { loop(fd); });
      fds_.push_back(std::move(fd));
    }
  }
  ~FixedResponder() {
    uint64_t one = 1;
    (void)!::write(stop_.get(), &one, sizeof one);
    for (std::thread& t : threads_) t.join();
  }

 private:
  void loop(int fd) {
    constexpr int kBatch = 32;
    static thread_local char bufs[kBatch][512];
    mmsghdr in[kBatch], out[kBatch];
    iovec inIov[kBatch], outIov[kBatch];
    sockaddr_in peers[kBatch];
    std::string replies[kBatch];
    for (;;) {
      pollfd fds[2] = {{fd, POLLIN, 0}, {stop_.get(), POLLIN, 0}};
      ::poll(fds, 2, -1);
      if (fds[1].revents) return;
      for (int i = 0; i < kBatch; i++) {
        inIov[i] = {bufs[i], sizeof bufs[i]};
        in[i].msg_hdr = {};
        in[i].msg_hdr.msg_name = &peers[i];
        in[i].msg_hdr.msg_namelen = sizeof peers[i];
        in[i].msg_hdr.msg_iov = &inIov[i];
        in[i].msg_hdr.msg_iovlen = 1;
      }
      int n = ::recvmmsg(fd, in, kBatch, MSG_DONTWAIT, nullptr);
      for (int i = 0; i < n; i++) {
        replies[i] = answer_;
        std::memcpy(replies[i].data(), bufs[i], 2);
        outIov[i] = {replies[i].data(), replies[i].size()};
        out[i].msg_hdr = {};
        out[i].msg_hdr.msg_name = &peers[i];
        out[i].msg_hdr.msg_namelen = sizeof peers[i];
        out[i].msg_hdr.msg_iov = &outIov[i];
        out[i].msg_hdr.msg_iovlen = 1;
      }
      if (n > 0) ::sendmmsg(fd, out, unsigned(n), 0);
    }
  }
  std::string answer_;
  UniqueFd stop_;
  std::vector<UniqueFd> fds_;
  std::vector<std::thread> threads_;
};

struct Figures {
  double qps = 0, avgMs = 0, maxMs = 0;
  std::string lost;
};

Figures runDnsperf(const std::string& dir, const std::string& name,
                   const std::vector<std::string>& queries, uint16_t port, int seconds,
                   int clients) {
  std::string data = dir + "/" + name + ".queries", out = dir + "/" + name + ".out";
  {
    std::ofstream f(data);
    for (const std::string& q : queries) f << q << "\n";
  }
  std::string cmd = "dnsperf -s 127.0.0.1 -p " + std::to_string(port) + " -d " + data + " -l " +
                    std::to_string(seconds) + " -c " + std::to_string(clients) + " -T 1 -q 200 > " +
                    out + " 2>&1";
  if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "dnsperf failed: see %s\n", out.c_str());
  Figures f;
  std::ifstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    auto after = [&](const char* key) {
      return std::strtod(line.c_str() + line.find(key) + std::strlen(key), nullptr);
    };
    if (line.find("Queries per second:") != std::string::npos) f.qps = after("Queries per second:");
    if (line.find("Average Latency (s):") != std::string::npos) {
      f.avgMs = after("Average Latency (s):") * 1000;
      f.maxMs = after("max ") * 1000;
    }
    if (line.find("Queries lost:") != std::string::npos) f.lost = line.substr(line.find(':') + 1);
  }
  return f;
}

// Nanoseconds per query for parse + answer + encode of `wires`, round robin, on this thread.
template <typename Answerer>
double microRun(const std::vector<std::string>& wires, Answerer&& answer) {
  constexpr int kRounds = 200000;
  size_t bytes = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; i++) {
    auto q = parseQuery(wires[size_t(i) % wires.size()]);
    if (!q.ok()) std::abort();
    bytes += answer(*q).size();
  }
  double ns = double(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
          .count());
  if (bytes == 0) std::abort();
  return ns / kRounds;
}

std::vector<std::string> wiresOf(const std::vector<std::string>& lines) {
  std::vector<std::string> out;
  for (const std::string& l : lines) {
    std::string name = l.substr(0, l.find(' '));
    uint16_t type = l.ends_with(" SRV") ? kTypeSrv : kTypeA;
    Query q;
    q.question = Question{name, name, type, kClassIn};
    std::string w = encodeQuery(1, q.question, 1232);
    out.push_back(w);
  }
  return out;
}

void print(const char* what, const Figures& f) {
  std::printf("  %-52s %9.0f queries/s  latency avg %.3f ms, max %.1f ms  lost:%s\n", what, f.qps,
              f.avgMs, f.maxMs, f.lost.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = 10, clients = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--clients") == 0) clients = std::atoi(argv[i + 1]);
  }
  char tmpl[] = "/tmp/nave-dns-bench-XXXXXX";
  if (!::mkdtemp(tmpl)) return 1;
  std::string dir = tmpl;
  int threads = std::clamp(int(std::thread::hardware_concurrency()), 1, 4);

  ClusterZone zone("cluster.local", "10.43.0.10");
  for (int i = 0; i < 100; i++) {
    std::string name = "svc" + std::to_string(i);
    Json svc = {{"metadata", {{"namespace", "default"}, {"name", name}}},
                {"spec",
                 {{"clusterIP", "10.43.1." + std::to_string(i)},
                  {"ports", {{{"name", "http"}, {"port", 80}, {"protocol", "TCP"}}}}}}};
    zone.setService("default/" + name, &svc);
  }
  Json headless = {{"metadata", {{"namespace", "default"}, {"name", "db"}}},
                   {"spec", {{"clusterIP", "None"}}}};
  zone.setService("default/db", &headless);
  Json endpoints = Json::array();
  for (int i = 1; i <= 3; i++)
    endpoints.push_back(
        {{"addresses", {"10.42.0." + std::to_string(i)}}, {"hostname", "db-" + std::to_string(i)}});
  Json slice = {{"metadata",
                 {{"namespace", "default"},
                  {"name", "db-x"},
                  {"labels", {{"kubernetes.io/service-name", "db"}}}}},
                {"addressType", "IPv4"},
                {"endpoints", endpoints}};
  zone.setEndpointSlice("default/db-x", &slice);

  ResponseCache cache;
  std::vector<std::string> external;
  for (int i = 0; i < 100; i++) {
    std::string name = "host" + std::to_string(i) + ".example.com";
    Answer a;
    a.answer.push_back({name, kTypeA, kClassIn, 3600, rdataA(0xc0000200 + uint32_t(i))});
    cache.store(Question{name, name, kTypeA, kClassIn}, a);
    external.push_back(name + " A");
  }
  // The cache keeps answers for at most 30 s: a run longer than that would measure misses.
  seconds = std::min(seconds, 25);

  DnsServerOptions o;
  o.address = "127.0.0.1";
  o.port = kServerPort;
  auto server = DnsServer::start(o, zone, cache, nullptr);
  if (!server.ok()) {
    std::fprintf(stderr, "dns_bench: %s\n", server.error().message().c_str());
    return 1;
  }
  std::vector<std::string> cluster;
  for (int i = 0; i < 100; i++)
    cluster.push_back("svc" + std::to_string(i) + ".default.svc.cluster.local A");
  cluster.push_back("db.default.svc.cluster.local A");
  cluster.push_back("db-1.db.default.svc.cluster.local A");
  cluster.push_back("_http._tcp.svc1.default.svc.cluster.local SRV");
  cluster.push_back("missing.default.svc.cluster.local A");

  std::printf("dnsperf, %d s per run, %d clients, %d server threads, UDP over loopback\n", seconds,
              clients, threads);
  {
    FixedResponder baseline(threads);
    print("(a) baseline: fixed answer, same socket design",
          runDnsperf(dir, "baseline", {"a.example A"}, kBaselinePort, seconds, clients));
  }
  print("(b) nave DNS, cluster zone (A, headless, SRV, NXDOMAIN)",
        runDnsperf(dir, "zone", cluster, kServerPort, seconds, clients));
  print("(c) nave DNS, external names from the cache",
        runDnsperf(dir, "cache", external, kServerPort, seconds, clients));
  (*server)->stop();
  double zoneNs = microRun(wiresOf(cluster), [&](const Query& q) {
    return encodeResponse(q, zone.lookup(q.question).value_or(Answer{}), q.udpSize);
  });
  double cacheNs = microRun(wiresOf(external), [&](const Query& q) {
    std::string out;
    cache.visit(q.question,
                [&](const Answer& a, uint32_t age) { out = encodeResponse(q, a, q.udpSize, age); });
    return out;
  });
  std::printf(
      "  (d) one thread, no sockets: zone %.0f ns/query (%.0f k/s), cache %.0f ns/query (%.0f "
      "k/s)\n",
      zoneNs, 1e6 / zoneNs, cacheNs, 1e6 / cacheNs);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
