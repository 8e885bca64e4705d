// Scheduler benchmark: starts the real `nave server --disable-agent`, creates 100 Nodes
// (allocatable 32 cpu, 64Gi, 110 pods) through the API, then 1000 pending pods (100m cpu,
// 128Mi each) with 16 concurrent clients, and measures the time from the first pod create
// until a watch has seen every pod bound to a node: pods scheduled per second, end to end
// through the API (creates, the scheduler's informer, filtering and scoring 100 nodes, the
// binding writes and their Scheduled events).
//
// Run it inside a network namespace (bench/run.sh does): the server listens on 127.0.0.1.
//   scheduler_bench --nave build/nave --dir /var/tmp/nave-bench [--nodes 100] [--pods 1000]
#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_client.h"
#include "common/json.h"

namespace {

using namespace nave::bench;
using Clock = std::chrono::steady_clock;

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

struct Args {
  std::string nave = "build/nave";
  std::string dir = "/var/tmp/nave-bench";
  int nodes = 100;
  int pods = 1000;
  int clients = 16;
  int port = 6443;
};

// Counts the pods a watch has seen bound; stops the transfer once all are.
struct BindWatch {
  int want = 0;
  std::string buffer;
  std::set<std::string> bound;
  Clock::time_point allBound;
  std::map<std::string, int> perNode;
};

size_t onWatchData(char* d, size_t s, size_t n, void* p) {
  auto* w = static_cast<BindWatch*>(p);
  w->buffer.append(d, s * n);
  size_t nl;
  while ((nl = w->buffer.find('\n')) != std::string::npos) {
    std::string line = w->buffer.substr(0, nl);
    w->buffer.erase(0, nl + 1);
    auto ev = nave::parseJson(line);
    if (!ev.ok()) continue;
    const nave::Json& obj = ev->value["object"];
    std::string node = nave::getString(obj.value("spec", nave::Json::object()), "nodeName");
    std::string name = nave::getString(obj.value("metadata", nave::Json::object()), "name");
    if (!node.empty() && w->bound.insert(name).second) ++w->perNode[node];
  }
  if (static_cast<int>(w->bound.size()) >= w->want) {
    w->allBound = Clock::now();
    return 0;  // done: abort the transfer
  }
  return s * n;
}

// POSTs `count` objects built by `body(i)` to `path` with `clients` concurrent clients.
int createAll(const Tls& tls, const std::string& path, int count, int clients,
              const std::function<std::string(int)>& body) {
  std::atomic<int> next{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t)
    threads.emplace_back([&] {
      CURL* c = newHandle(tls);
      curl_slist* h = curl_slist_append(nullptr, "Content-Type: application/json");
      h = curl_slist_append(h, "Accept: application/json");
      for (;;) {
        int i = next++;
        if (i >= count) break;
        if (request(c, tls.url + path, "POST", body(i), nullptr, h) != 201) ++failures;
      }
      curl_slist_free_all(h);
      curl_easy_cleanup(c);
    });
  for (auto& t : threads) t.join();
  return failures;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--nave")
      a.nave = v;
    else if (k == "--dir")
      a.dir = v;
    else if (k == "--nodes")
      a.nodes = std::atoi(v.c_str());
    else if (k == "--pods")
      a.pods = std::atoi(v.c_str());
    else if (k == "--clients")
      a.clients = std::atoi(v.c_str());
    else if (k == "--port")
      a.port = std::atoi(v.c_str());
  }
  ::mkdir(a.dir.c_str(), 0700);
  curl_global_init(CURL_GLOBAL_DEFAULT);

  std::string data = a.dir + "/sched-data", kubeconfig = a.dir + "/sched-kubeconfig.yaml";
  std::system(("rm -rf '" + data + "' '" + kubeconfig + "'").c_str());
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    std::string port = std::to_string(a.port);
    execl(a.nave.c_str(), a.nave.c_str(), "server", "--disable-agent", "--data-dir", data.c_str(),
          "--write-kubeconfig", kubeconfig.c_str(), "--https-listen-port", port.c_str(),
          "--bind-address", "127.0.0.1", static_cast<char*>(nullptr));
    _exit(127);
  }
  Tls tls;
  bool ready = false;
  for (int i = 0; i < 4000 && !ready; ++i) {
    struct stat st {};
    if (::stat(kubeconfig.c_str(), &st) == 0) {
      if (tls.url.empty()) tls = readKubeconfig(kubeconfig);
      CURL* c = newHandle(tls);
      std::string out;
      ready = request(c, tls.url + "/readyz", "GET", "", &out, nullptr) == 200;
      curl_easy_cleanup(c);
    }
    if (!ready) usleep(2000);
  }
  if (!ready) {
    std::fprintf(stderr, "server did not become ready\n");
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return 1;
  }

  // The nodes, with their status (allocatable, Ready) set through the status subresource.
  const std::string status =
      R"({"status":{"capacity":{"cpu":"32","memory":"64Gi","pods":"110"},)"
      R"("allocatable":{"cpu":"32","memory":"64Gi","pods":"110"},)"
      R"("conditions":[{"type":"Ready","status":"True","reason":"KubeletReady"}]}})";
  int failed = createAll(tls, "/api/v1/nodes", a.nodes, 8, [](int i) {
    std::string name = "node-" + std::to_string(i);
    return R"({"apiVersion":"v1","kind":"Node","metadata":{"name":")" + name +
           R"(","labels":{"kubernetes.io/hostname":")" + name + R"("}}})";
  });
  {
    CURL* c = newHandle(tls);
    curl_slist* h = curl_slist_append(nullptr, "Content-Type: application/merge-patch+json");
    for (int i = 0; i < a.nodes; ++i)
      if (request(c, tls.url + "/api/v1/nodes/node-" + std::to_string(i) + "/status", "PATCH",
                  status, nullptr, h) != 200)
        ++failed;
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
  }
  if (failed) std::fprintf(stderr, "%d node creates or status updates failed\n", failed);
  std::this_thread::sleep_for(std::chrono::seconds(1));  // the scheduler's informer has the nodes

  // Watch the pods from now on.
  std::string rv;
  {
    CURL* c = newHandle(tls);
    std::string out;
    request(c, tls.url + "/api/v1/namespaces/default/pods", "GET", "", &out, nullptr);
    curl_easy_cleanup(c);
    auto list = nave::parseJson(out);
    if (list.ok())
      rv = nave::getString(list->value.value("metadata", nave::Json::object()), "resourceVersion");
  }
  BindWatch watch;
  watch.want = a.pods;
  std::thread watcher([&] {
    CURL* c = newHandle(tls);
    curl_easy_setopt(
        c, CURLOPT_URL,
        (tls.url + "/api/v1/namespaces/default/pods?watch=1&resourceVersion=" + rv).c_str());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &onWatchData);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &watch);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L);
    curl_easy_perform(c);
    curl_easy_cleanup(c);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  auto start = Clock::now();
  int podFailures = createAll(tls, "/api/v1/namespaces/default/pods", a.pods, a.clients, [](int i) {
    return R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p-)" + std::to_string(i) +
           R"("},"spec":{"containers":[{"name":"c","image":"busybox",)"
           R"("resources":{"requests":{"cpu":"100m","memory":"128Mi"}}}]}})";
  });
  double created = seconds(Clock::now() - start);
  watcher.join();
  long rss = rssKb(pid);
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);

  if (static_cast<int>(watch.bound.size()) < a.pods) {
    std::printf("only %zu of %d pods were bound\n", watch.bound.size(), a.pods);
    return 1;
  }
  double total = seconds(watch.allBound - start);
  int minPerNode = a.pods, maxPerNode = 0;
  for (int i = 0; i < a.nodes; ++i) {
    int n = watch.perNode["node-" + std::to_string(i)];
    minPerNode = std::min(minPerNode, n);
    maxPerNode = std::max(maxPerNode, n);
  }
  std::printf("%d nodes, %d pods (%d clients creating%s)\n", a.nodes, a.pods, a.clients,
              podFailures ? ", some creates failed!" : "");
  std::printf("creates done after: %.0f ms (%.0f creates/s)\n", created * 1000, a.pods / created);
  std::printf("first create to all bound: %.0f ms\n", total * 1000);
  std::printf("scheduled: %.0f pods/s\n", a.pods / total);
  std::printf("pods per node: %d..%d\n", minPerNode, maxPerNode);
  std::printf("server RSS: %.1f MB\n", rss / 1024.0);
  std::printf("\nRESULT {\"nodes\":%d,\"pods\":%d,\"all_bound_ms\":%.0f,\"pods_per_s\":%.0f}\n",
              a.nodes, a.pods, total * 1000, a.pods / total);
  return 0;
}
