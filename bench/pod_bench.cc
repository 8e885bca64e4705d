// pod_bench: `nave server` with its agent, as a single-node cluster: start to a Ready node,
// idle RSS with no pods, then 100 pods created at once (a local busybox image, imported from
// DATA/agent/images at start) and the latency from each pod's creation to its Ready condition
// seen through a watch, and the RSS with those pods running.
//
// With --deployment N instead: a Deployment of 1 pod, then what `kubectl scale deployment
// --replicas=N` sends (a merge patch of its scale subresource) and the time until N pods are
// Ready (seen in a pod watch) and until the Deployment's status says so (what `kubectl rollout
// status` waits for); then the time to scale back to 0.
//
//   pod_bench --nave build/nave --image busybox-docker.tar [--dir DIR] [--pods N] [--port P]
//             [--deployment N] [-v LEVEL] [--keep-log FILE]
//
// Needs root; run it inside a throw-away network namespace (bench/run.sh does), since the agent
// sets up a bridge and nftables rules. The creation time is the client's clock when it sent the
// create (creationTimestamp has only second precision); Ready is the first watch event with
// condition Ready=True.
#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_client.h"
#include "bench/stats.h"
#include "common/json.h"
#include "common/strings.h"
#include "common/yaml.h"

namespace {

using namespace nave::bench;
using Clock = std::chrono::steady_clock;

bool podReady(const nave::Json& pod) {
  if (!pod.is_object() || !pod.value("status", nave::Json::object()).is_object()) return false;
  for (const nave::Json& c : pod.value("status", nave::Json::object()).value("conditions", nave::Json::array())) {
    if (c.value("type", "") == "Ready" && c.value("status", "") == "True") return true;
  }
  return false;
}

// Watches the namespace's pods and records when each first shows Ready=True.
struct ReadyWatch {
  std::mutex mu;
  std::map<std::string, Clock::time_point> readyAt;  // by name
  std::string buffer;
  std::atomic<bool> stop{false};

  static size_t onData(char* d, size_t s, size_t n, void* self) {
    auto* w = static_cast<ReadyWatch*>(self);
    w->buffer.append(d, s * n);
    size_t nl;
    while ((nl = w->buffer.find('\n')) != std::string::npos) {
      auto ev = nave::parseJson(w->buffer.substr(0, nl));
      w->buffer.erase(0, nl + 1);
      if (!ev.ok()) continue;
      const nave::Json pod = ev->value.value("object", nave::Json::object());
      if (podReady(pod)) {
        std::string name = pod["metadata"].value("name", "");
        std::lock_guard lock(w->mu);
        w->readyAt.emplace(name, Clock::now());
      }
    }
    return w->stop ? 0 : s * n;
  }
  static int onProgress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<ReadyWatch*>(self)->stop ? 1 : 0;
  }
};

double percentile(std::vector<double> v, double p) { return nave::bench::quantileNearest(std::move(v), p); }

}  // namespace

// JSON bodies for every request of this benchmark.
curl_slist* jsonHeaders() {
  static curl_slist* json = curl_slist_append(nullptr, "Content-Type: application/json");
  return json;
}

curl_slist* mergePatchHeaders() {
  static curl_slist* h = curl_slist_append(nullptr, "Content-Type: application/merge-patch+json");
  return h;
}

namespace {

double msSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Polls `what` every 10 ms until it returns true or `limit` passes.
template <typename F>
bool pollUntil(F what, std::chrono::seconds limit) {
  auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (what()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return what();
}

// The Deployment benchmark (--deployment N); the number of failures.
int deploymentBench(const Tls& tls, CURL* c, int replicas) {
  const std::string deployments = tls.url + "/apis/apps/v1/namespaces/default/deployments";
  const std::string pods = tls.url + "/api/v1/namespaces/default/pods";
  nave::Json labels = {{"app", "bench"}};
  // No nodeName: the scheduler places the pods (on the one node).
  nave::Json d = {
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata", {{"name", "bench"}}},
      {"spec",
       {{"replicas", 1},
        {"selector", {{"matchLabels", labels}}},
        {"template",
         {{"metadata", {{"labels", labels}}},
          {"spec",
           {{"terminationGracePeriodSeconds", 1},
            {"containers",
             {{{"name", "c"},
               {"image", "busybox"},
               {"imagePullPolicy", "IfNotPresent"},
               {"command", {"sleep", "3600"}}}}}}}}}}}};
  std::string out;
  if (request(c, deployments, "POST", nave::dumpJson(d), &out, jsonHeaders()) != 201) {
    std::fprintf(stderr, "creating the deployment failed: %s\n", out.c_str());
    return 1;
  }
  auto status = [&](const char* field) -> int64_t {
    std::string body;
    if (request(c, deployments + "/bench", "GET", "", &body, jsonHeaders()) != 200) return -1;
    auto parsed = nave::parseJson(body);
    if (!parsed.ok()) return -1;
    return nave::getInt(parsed->value.value("status", nave::Json::object()), field);
  };
  if (!pollUntil([&] { return status("availableReplicas") == 1; }, std::chrono::seconds(60))) {
    std::fprintf(stderr, "the deployment of 1 did not become available\n");
    return 1;
  }

  ReadyWatch watch;
  std::thread watcher([&] {
    CURL* w = newHandle(tls);
    curl_easy_setopt(w, CURLOPT_URL, (pods + "?watch=1").c_str());
    curl_easy_setopt(w, CURLOPT_WRITEFUNCTION, &ReadyWatch::onData);
    curl_easy_setopt(w, CURLOPT_WRITEDATA, &watch);
    curl_easy_setopt(w, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(w, CURLOPT_XFERINFOFUNCTION, &ReadyWatch::onProgress);
    curl_easy_setopt(w, CURLOPT_XFERINFODATA, &watch);
    curl_easy_perform(w);
    curl_easy_cleanup(w);
  });
  // The watch's initial events name the pod that is already Ready.
  pollUntil([&] { std::lock_guard lock(watch.mu); return watch.readyAt.size() == 1; },
            std::chrono::seconds(10));

  int failures = 0;
  auto t0 = Clock::now();
  std::string patch = "{\"spec\":{\"replicas\":" + std::to_string(replicas) + "}}";
  out.clear();
  if (request(c, deployments + "/bench/scale", "PATCH", patch, &out, mergePatchHeaders()) != 200) {
    std::fprintf(stderr, "scaling failed: %s\n", out.c_str());
    failures++;
  }
  double podsReadyMs = -1, statusMs = -1;
  bool done = pollUntil([&] {
    if (podsReadyMs < 0) {
      std::lock_guard lock(watch.mu);
      if (static_cast<int>(watch.readyAt.size()) >= replicas) podsReadyMs = msSince(t0);
    }
    if (podsReadyMs >= 0 && status("readyReplicas") == replicas &&
        status("availableReplicas") == replicas) {
      statusMs = msSince(t0);
      return true;
    }
    return false;
  }, std::chrono::seconds(180));
  if (!done) {
    std::lock_guard lock(watch.mu);
    std::fprintf(stderr, "%zu of %d pods became Ready\n", watch.readyAt.size(), replicas);
    failures++;
  }
  std::printf("kubectl scale deployment 1 -> %d on one node: %d pods Ready (pod watch) in %.0f ms, "
              "Deployment status readyReplicas=availableReplicas=%d in %.0f ms (target < 5000 ms)\n",
              replicas, replicas, podsReadyMs, replicas, statusMs);
  watch.stop = true;
  watcher.join();

  // Back to 0: the time until no pod is left.
  auto t1 = Clock::now();
  out.clear();
  request(c, deployments + "/bench/scale", "PATCH", "{\"spec\":{\"replicas\":0}}", &out,
          mergePatchHeaders());
  bool gone = pollUntil([&] {
    std::string body;
    if (request(c, pods, "GET", "", &body, jsonHeaders()) != 200) return false;
    auto list = nave::parseJson(body);
    return list.ok() && list->value.value("items", nave::Json::array()).empty();
  }, std::chrono::seconds(180));
  std::printf("kubectl scale deployment %d -> 0: every pod gone in %.0f ms%s\n", replicas,
              msSince(t1), gone ? "" : " (timed out)");
  if (!gone) failures++;
  // No garbage collector in this build: the ReplicaSets go explicitly.
  out.clear();
  request(c, deployments + "/bench", "DELETE", "", &out, jsonHeaders());
  out.clear();
  request(c, tls.url + "/apis/apps/v1/namespaces/default/replicasets", "DELETE", "", &out,
          jsonHeaders());
  return failures;
}

}  // namespace

int main(int argc, char** argv) {
  std::string nave = "build/nave", dir = "/var/tmp", image;
  int pods = 100, port = 16443, deployment = 0;
  std::string verbosity = "0", keepLog;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--nave") nave = v;
    else if (k == "--dir") dir = v;
    else if (k == "--pods") pods = std::atoi(v.c_str());
    else if (k == "--port") port = std::atoi(v.c_str());
    else if (k == "--image") image = v;
    else if (k == "--deployment") deployment = std::atoi(v.c_str());
    else if (k == "-v") verbosity = v;          // the server's log verbosity
    else if (k == "--keep-log") keepLog = v;    // copy the server's log here at the end
  }
  if (image.empty()) {
    std::fprintf(stderr, "usage: pod_bench --nave NAVE --image BUSYBOX-ARCHIVE [--dir D] [--pods N] [--deployment N] [-v LEVEL] [--keep-log FILE]\n");
    return 2;
  }
  // The agent sets up a bridge, routes and nftables rules: never in the machine's own namespace
  // (the initial network namespace has the kernel's fixed inode number, PROC_NET_INIT_INO).
  struct stat self{};
  if (::stat("/proc/self/ns/net", &self) != 0 || self.st_ino == 0xEFFFFFF9u) {
    std::fprintf(stderr, "pod_bench: run me inside a throw-away network namespace (bench/run.sh does)\n");
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  std::string work = dir + "/nave-pod-bench-" + std::to_string(::getpid());
  std::string data = work + "/data", kubeconfig = work + "/kubeconfig.yaml";
  std::system(("mkdir -p '" + data + "/agent/images' && cp '" + image + "' '" + data +
               "/agent/images/'").c_str());

  auto t0 = Clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    int null = open((work + "/server.log").c_str(), O_WRONLY | O_CREAT, 0600);
    dup2(null, 1);
    dup2(null, 2);
    std::string p = std::to_string(port);
    execl(nave.c_str(), nave.c_str(), "server", "--data-dir", data.c_str(), "--node-name", "bench",
          "--write-kubeconfig", kubeconfig.c_str(), "--https-listen-port", p.c_str(),
          "-v", verbosity.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  Tls tls;
  double readyMs = -1;
  CURL* c = nullptr;
  while (Clock::now() - t0 < std::chrono::seconds(60)) {
    struct stat st{};
    if (!c && ::stat(kubeconfig.c_str(), &st) == 0) {
      tls = readKubeconfig(kubeconfig);
      if (!tls.url.empty()) c = newHandle(tls);
    }
    if (c) {
      std::string out;
      if (request(c, tls.url + "/api/v1/nodes/bench", "GET", "", &out, jsonHeaders()) == 200) {
        auto node = nave::parseJson(out);
        bool ready = false;
        if (node.ok() && node->value.value("status", nave::Json::object()).is_object()) {
          for (const auto& cond : node->value.value("status", nave::Json::object())
                                      .value("conditions", nave::Json::array())) {
            if (cond.value("type", "") == "Ready" && cond.value("status", "") == "True") ready = true;
          }
        }
        if (ready) {
          readyMs = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
          break;
        }
      }
    }
    usleep(2000);
  }
  int failures = 0;
  if (readyMs < 0) {
    std::fprintf(stderr, "the node did not become Ready (see %s/server.log)\n", work.c_str());
    failures++;
  } else {
    std::printf("nave server start to a Ready node: %.0f ms (target < 1000 ms)\n", readyMs);
    std::this_thread::sleep_for(std::chrono::seconds(3));
    std::printf("idle RSS, server + agent, no pods: %.1f MB (target < 40 MB)\n", rssKb(pid) / 1024.0);
  }
  if (readyMs >= 0 && deployment > 0) {
    failures += deploymentBench(tls, c, deployment);
  } else if (readyMs >= 0) {

    // The watch first, so that no Ready transition is missed.
    ReadyWatch watch;
    std::thread watcher([&] {
      CURL* w = newHandle(tls);
      curl_easy_setopt(w, CURLOPT_URL, (tls.url + "/api/v1/namespaces/default/pods?watch=1").c_str());
      curl_easy_setopt(w, CURLOPT_WRITEFUNCTION, &ReadyWatch::onData);
      curl_easy_setopt(w, CURLOPT_WRITEDATA, &watch);
      curl_easy_setopt(w, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(w, CURLOPT_XFERINFOFUNCTION, &ReadyWatch::onProgress);
      curl_easy_setopt(w, CURLOPT_XFERINFODATA, &watch);
      curl_easy_perform(w);
      curl_easy_cleanup(w);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));

    std::vector<Clock::time_point> createdAt(static_cast<size_t>(pods));
    std::atomic<int> next{0}, createFailures{0};
    std::vector<std::thread> clients;
    for (int t = 0; t < 16; ++t) {
      clients.emplace_back([&] {
        CURL* h = newHandle(tls);
        for (int i; (i = next++) < pods;) {
          nave::Json pod = {
              {"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", "p" + std::to_string(i)}}},
              {"spec",
               {{"nodeName", "bench"},
                {"terminationGracePeriodSeconds", 1},
                {"containers",
                 {{{"name", "c"},
                   {"image", "busybox"},
                   {"imagePullPolicy", "IfNotPresent"},
                   {"command", {"sleep", "3600"}}}}}}}};
          createdAt[static_cast<size_t>(i)] = Clock::now();
          std::string out;
          if (request(h, tls.url + "/api/v1/namespaces/default/pods", "POST", nave::dumpJson(pod), &out, jsonHeaders()) != 201) {
            createFailures++;
          }
        }
        curl_easy_cleanup(h);
      });
    }
    for (auto& t : clients) t.join();
    auto deadline = Clock::now() + std::chrono::seconds(120);
    for (;;) {
      {
        std::lock_guard lock(watch.mu);
        if (static_cast<int>(watch.readyAt.size()) >= pods) break;
      }
      if (Clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::vector<double> latencies;
    {
      std::lock_guard lock(watch.mu);
      for (int i = 0; i < pods; ++i) {
        auto it = watch.readyAt.find("p" + std::to_string(i));
        if (it != watch.readyAt.end()) {
          latencies.push_back(std::chrono::duration<double, std::milli>(it->second - createdAt[static_cast<size_t>(i)]).count());
        }
      }
    }
    if (static_cast<int>(latencies.size()) < pods || createFailures > 0) {
      std::fprintf(stderr, "%zu of %d pods became Ready (%d creates failed)\n", latencies.size(), pods,
                   createFailures.load());
      failures++;
    }
    std::printf("pod startup, %d pods created at once (create sent -> Ready seen in a watch): "
                "p50 %.0f ms, p99 %.0f ms, max %.0f ms (target p99 < 1000 ms)\n",
                pods, percentile(latencies, 0.5), percentile(latencies, 0.99),
                latencies.empty() ? 0.0 : *std::max_element(latencies.begin(), latencies.end()));
    std::this_thread::sleep_for(std::chrono::seconds(3));
    std::printf("RSS, server + agent, %d pods running: %.1f MB\n", pods, rssKb(pid) / 1024.0);
    // Idle means idle: what the server (API, controllers, scheduler, agent) spends with the
    // pods running and nothing changing.
    double cpu0 = cpuSeconds(pid);
    std::this_thread::sleep_for(std::chrono::seconds(30));
    double cpu1 = cpuSeconds(pid);
    std::printf("idle CPU, server + agent, %d pods running: %.2f%% of a core over 30 s (target < 1%%)\n",
                pods, (cpu1 - cpu0) / 30.0 * 100.0);
    watch.stop = true;
    watcher.join();

    // Clean up: delete the pods and wait until they are gone.
    std::string out;
    request(c, tls.url + "/api/v1/namespaces/default/pods", "DELETE", "", &out, jsonHeaders());
    auto gone = Clock::now() + std::chrono::seconds(120);
    while (Clock::now() < gone) {
      out.clear();
      if (request(c, tls.url + "/api/v1/namespaces/default/pods", "GET", "", &out, jsonHeaders()) == 200) {
        auto list = nave::parseJson(out);
        if (list.ok() && list->value.value("items", nave::Json::array()).empty()) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  if (c) curl_easy_cleanup(c);
  ::kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  // Anything the agent left (its containers outlive it by design).
  std::system(("for id in $(" + nave + " ps -a -q --data-dir '" + data + "' 2>/dev/null); do " + nave +
               " rm -f --data-dir '" + data + "' $id >/dev/null 2>&1; done").c_str());
  if (!keepLog.empty()) std::system(("cp '" + work + "/server.log' '" + keepLog + "'").c_str());
  std::system(("grep -o '" + data + "[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null; rm -rf '" +
               work + "'").c_str());
  return failures ? 1 : 0;
}
