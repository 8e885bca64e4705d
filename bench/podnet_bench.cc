// podnet_bench: the part of a pod's start that the kernel serialises. Every sandbox needs a
// network namespace (its loopback registered and brought up) and a veth pair on the node's
// bridge, and all of that takes the kernel's one RTNL mutex: 100 pods created at once wait on
// each other there, whatever the number of cores. This measures, for N sandboxes made as the
// agent makes them (createNamespaceFiles: net + ipc + uts; PodNetwork::attach: address, veth,
// eth0, route), the time per sandbox one after another and the wall time for all of them made
// by T threads at once; then their removal.
//
//   podnet_bench [--sandboxes N] [--threads T] [--runs R]
//
// Needs root. The program first moves into a network namespace of its own (unshare) and makes
// its namespace files in a private temporary directory; nothing is left behind.
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bench/stats.h"
#include "network/podnet/pod_network.h"
#include "runtime/container/sys/launcher.h"

using namespace nave;
using Clock = std::chrono::steady_clock;

namespace {

template <typename T>
T orDie(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "podnet_bench: %s: %s\n", what, r.error().message().c_str());
    std::exit(1);
  }
  if constexpr (!std::is_void_v<T>) return std::move(r).value();
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double percentile(std::vector<double> v, double p) { return nave::bench::quantileFloor(std::move(v), p); }

struct Sandbox {
  std::string id, net, ipc, uts;
  double nsMs = 0, attachMs = 0;
};

struct Round {
  double wallMs = 0, removeMs = 0;
  std::vector<double> ns, attach;
};

Round round(network::PodNetwork& net, const std::string& dir, int count, int threads, int r) {
  std::vector<Sandbox> boxes(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    char id[65];
    std::snprintf(id, sizeof id, "%08x%056d", 0xbe000000u + static_cast<unsigned>(r * 1000 + i), 0);
    Sandbox& b = boxes[static_cast<size_t>(i)];
    b.id = id;
    std::string base = dir + "/" + b.id.substr(0, 12);
    b.net = base + "-net";
    b.ipc = base + "-ipc";
    b.uts = base + "-uts";
  }
  std::atomic<int> next{0};
  auto work = [&] {
    for (int i; (i = next.fetch_add(1)) < count;) {
      Sandbox& b = boxes[static_cast<size_t>(i)];
      auto t0 = Clock::now();
      orDie(runtime::sys::createNamespaceFiles(b.net, b.ipc, b.uts, "pod"), "namespaces");
      auto t1 = Clock::now();
      orDie(net.attach(b.id, b.net, {}), "attach");
      auto t2 = Clock::now();
      b.nsMs = ms(t1 - t0);
      b.attachMs = ms(t2 - t1);
    }
  };
  auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(work);
  for (auto& t : pool) t.join();
  Round out;
  out.wallMs = ms(Clock::now() - t0);
  auto t1 = Clock::now();
  for (const Sandbox& b : boxes) {
    orDie(net.detach(b.id, b.net), "detach");
    orDie(runtime::sys::removeNamespaceFiles({b.net, b.ipc, b.uts}), "remove namespaces");
  }
  out.removeMs = ms(Clock::now() - t1);
  for (const Sandbox& b : boxes) {
    out.ns.push_back(b.nsMs);
    out.attach.push_back(b.attachMs);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int count = 100, threads = 1, runs = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--sandboxes")) count = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
  }
  if (count < 1 || count > 500 || threads < 1 || threads > 200 || runs < 1) {
    std::fprintf(stderr, "usage: podnet_bench [--sandboxes N (1-500)] [--threads T] [--runs R]\n");
    return 2;
  }
  // Before any thread exists: the whole process is then in the new namespace.
  if (::unshare(CLONE_NEWNET) != 0) {
    std::perror("podnet_bench: unshare(CLONE_NEWNET) (needs root)");
    return 1;
  }
  char tmpl[] = "/tmp/nave-podnet-bench.XXXXXX";
  if (!::mkdtemp(tmpl)) {
    std::perror("podnet_bench: mkdtemp");
    return 1;
  }
  std::string dir = tmpl;
  int status = 0;
  {
    network::PodNetworkOptions o;
    o.podCidr = "10.42.0.0/22";
    o.stateDir = dir + "/podnet";
    auto net = orDie(network::PodNetwork::open(o), "open the pod network");
    std::string nsDir = dir + "/ns";
    std::filesystem::create_directories(nsDir);
    std::printf("%d sandboxes (net + ipc + uts namespaces, veth on the bridge), %d thread(s), %d runs\n",
                count, threads, runs);
    std::printf("run  all (ms)  per sandbox (ms)  namespaces p50/p99 (ms)  attach p50/p99 (ms)  removal (ms)\n");
    for (int r = 0; r < runs; ++r) {
      Round x = round(*net, nsDir, count, threads, r);
      std::printf("%3d  %8.1f  %16.2f  %10.2f / %-10.2f  %8.2f / %-8.2f  %12.1f\n", r + 1, x.wallMs,
                  x.wallMs / count, percentile(x.ns, 0.5), percentile(x.ns, 0.99),
                  percentile(x.attach, 0.5), percentile(x.attach, 0.99), x.removeMs);
    }
    if (auto d = net->destroy(); !d.ok()) {
      std::fprintf(stderr, "podnet_bench: destroy: %s\n", d.error().message().c_str());
      status = 1;
    }
    (void)::umount2(nsDir.c_str(), MNT_DETACH);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return status;
}
