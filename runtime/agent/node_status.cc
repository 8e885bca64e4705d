#include "runtime/agent/node_status.h"

#include <poll.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/time.h"
#include "server/version.h"

namespace nave::agent {
namespace {

const client::Resource kNodes{"", "v1", "nodes"};
const client::Resource kLeases{"coordination.k8s.io", "v1", "leases"};
constexpr auto kHeartbeat = std::chrono::seconds(10);
constexpr auto kReportEvery = std::chrono::minutes(5);
constexpr int kLeaseDurationSeconds = 40;

std::string firstLine(const std::string& path) {
  auto text = readFile(path);
  if (!text.ok()) return "";
  return std::string(trim(text->substr(0, text->find('\n'))));
}

int64_t meminfoKb(const std::string& text, std::string_view key) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(std::string(key) + ":", 0) == 0) {
      return std::atoll(line.c_str() + key.size() + 1);
    }
  }
  return 0;
}

std::string osImage() {
  auto text = readFile("/etc/os-release");
  if (!text.ok()) return "Linux";
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("PRETTY_NAME=", 0) == 0) {
      std::string v = line.substr(12);
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      return v;
    }
  }
  return "Linux";
}

std::string goArch() {
  utsname u{};
  ::uname(&u);
  std::string m = u.machine;
  if (m == "x86_64") return "amd64";
  if (m == "aarch64") return "arm64";
  if (m.rfind("armv", 0) == 0) return "arm";
  if (m == "i686" || m == "i386") return "386";
  return m;
}

std::string kibibytes(int64_t bytes) { return std::to_string(bytes / 1024) + "Ki"; }

Json condition(const std::string& type, bool status, const std::string& reason,
               const std::string& message) {
  return Json{{"type", type},
              {"status", status ? "True" : "False"},
              {"reason", reason},
              {"message", message}};
}

}  // namespace

NodeResources readNodeResources(const std::string& dataDir) {
  NodeResources r;
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  r.milliCpu = (cpus > 0 ? cpus : 1) * 1000;
  if (auto meminfo = readFile("/proc/meminfo"); meminfo.ok()) {
    r.memoryBytes = meminfoKb(*meminfo, "MemTotal") * 1024;
    r.memoryAvailableBytes = meminfoKb(*meminfo, "MemAvailable") * 1024;
  }
  struct statvfs fs {};
  if (::statvfs(dataDir.c_str(), &fs) == 0) {
    r.ephemeralBytes = static_cast<int64_t>(fs.f_blocks) * static_cast<int64_t>(fs.f_frsize);
    r.ephemeralAvailableBytes = static_cast<int64_t>(fs.f_bavail) * static_cast<int64_t>(fs.f_frsize);
  }
  r.pidMax = std::atoll(firstLine("/proc/sys/kernel/pid_max").c_str());
  // /proc/loadavg: "0.00 0.01 0.05 1/123 4567": the fourth field's total is the task count.
  std::string load = firstLine("/proc/loadavg");
  auto fields = split(load, ' ');
  if (fields.size() >= 4) {
    auto slash = fields[3].find('/');
    if (slash != std::string::npos) r.processes = std::atoll(fields[3].c_str() + slash + 1);
  }
  return r;
}

NodeStatusReporter::NodeStatusReporter(client::Client& client, NodeIdentity identity,
                                       ImagesFn images)
    : client_(client), identity_(std::move(identity)), images_(std::move(images)) {
  resources_ = readNodeResources(identity_.dataDir);
}

NodeStatusReporter::~NodeStatusReporter() { stop(); }

int64_t NodeStatusReporter::allocatableEphemeral() const {
  return resources_.ephemeralBytes - resources_.ephemeralBytes * kEvictionNodefsPercent / 100;
}

Result<void> NodeStatusReporter::start() {
  TRY(registerNode());
  TRY(postStatus());
  if (auto r = renewLease(); !r.ok()) {
    log::warning("renewing the node lease failed", {{"error", r.error().message()}});
  }
  thread_ = std::thread([this] { run(); });
  return {};
}

void NodeStatusReporter::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void NodeStatusReporter::poke() {
  {
    std::lock_guard lock(mu_);
    poked_ = true;
  }
  cv_.notify_all();
}

Result<void> NodeStatusReporter::registerNode() {
  Json labels = {{"kubernetes.io/hostname", identity_.name},
                 {"kubernetes.io/os", "linux"},
                 {"kubernetes.io/arch", goArch()},
                 {"beta.kubernetes.io/os", "linux"},
                 {"beta.kubernetes.io/arch", goArch()},
                 {"node.kubernetes.io/instance-type", "nave"}};
  if (identity_.controlPlane) {
    labels["node-role.kubernetes.io/control-plane"] = "true";
    labels["node-role.kubernetes.io/master"] = "true";
  }
  for (const std::string& kv : identity_.labels) {
    auto eq = kv.find('=');
    labels[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
  }
  Json node = {{"apiVersion", "v1"},
               {"kind", "Node"},
               {"metadata",
                {{"name", identity_.name},
                 {"labels", labels},
                 {"annotations",
                  {{"node.alpha.kubernetes.io/ttl", "0"},
                   {"volumes.kubernetes.io/controller-managed-attach-detach", "true"}}}}},
               {"spec", {{"providerID", "nave://" + identity_.name}}}};
  if (!identity_.podCidr.empty()) {
    node["spec"]["podCIDR"] = identity_.podCidr;
    node["spec"]["podCIDRs"] = Json::array({identity_.podCidr});
  }
  auto created = client_.create(kNodes, "", node);
  if (created.ok()) {
    nodeUid_ = getString((*created)["metadata"], "uid");
    registered_ = std::move(*created);
    log::info("Registered the node", {{"node", identity_.name}});
    return {};
  }
  if (!created.error().is(ErrorCode::kAlreadyExists)) {
    return std::move(created).error().context("register node " + identity_.name);
  }
  // Re-registration after a restart: keep the object, refresh what the agent owns.
  Json patch = {{"metadata", {{"labels", labels}}}};
  auto patched = client_.patch(kNodes, "", identity_.name, api::PatchType::kMerge, dumpJson(patch));
  if (!patched.ok()) return std::move(patched).error().context("update node " + identity_.name);
  nodeUid_ = getString((*patched)["metadata"], "uid");
  registered_ = std::move(*patched);
  // A pod CIDR given to the agent fills a Node that has none (it cannot change once set).
  if (!identity_.podCidr.empty() &&
      getString(objectMember(registered_, "spec"), "podCIDR").empty()) {
    Json spec = {
        {"spec", {{"podCIDR", identity_.podCidr}, {"podCIDRs", Json::array({identity_.podCidr})}}}};
    auto r = client_.patch(kNodes, "", identity_.name, api::PatchType::kMerge, dumpJson(spec));
    if (r.ok()) registered_ = std::move(*r);  // else someone set another: waitForPodCidr sees it
  }
  log::info("The node was registered before", {{"node", identity_.name}});
  return {};
}

Result<std::string> NodeStatusReporter::waitForPodCidr(std::chrono::seconds timeout) {
  auto cidrOf = [](const Json& node) { return getString(objectMember(node, "spec"), "podCIDR"); };
  std::string cidr = cidrOf(registered_);
  if (!cidr.empty()) return cidr;
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + timeout;
  auto nextLog = start + std::chrono::seconds(10);
  std::string version = getString(objectMember(registered_, "metadata"), "resourceVersion");
  std::unique_ptr<client::Watch> watch;
  log::info("Waiting for the node's pod CIDR", {{"node", identity_.name}});
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline)
      return Error(ErrorCode::kUnavailable,
                   "node " + identity_.name + " got no spec.podCIDR within " +
                       std::to_string(timeout.count()) +
                       " s: the node IPAM controller of the controller manager assigns it (is "
                       "one running, with room left in --cluster-cidr?)");
    if (now >= nextLog) {
      log::info("Still waiting for the node's pod CIDR",
                {{"node", identity_.name},
                 {"seconds",
                  static_cast<int64_t>(
                      std::chrono::duration_cast<std::chrono::seconds>(now - start).count())}});
      nextLog = now + std::chrono::seconds(10);
    }
    if (!watch) {
      // (Re)start from the latest Node: it may have its CIDR already.
      if (version.empty()) {
        auto node = client_.get(kNodes, "", identity_.name);
        if (node.ok()) {
          if (!(cidr = cidrOf(*node)).empty()) return cidr;
          version = getString(objectMember(*node, "metadata"), "resourceVersion");
        }
      }
      api::ListOptions o;
      o.fieldSelector = "metadata.name=" + identity_.name;
      o.resourceVersion = version;
      auto w = client_.watch(kNodes, "", o);
      if (!w.ok()) {
        log::warning("watching the node failed", {{"error", w.error().message()}});
        version.clear();
        std::this_thread::sleep_for(std::chrono::seconds(1));
        continue;
      }
      watch = std::move(*w);
    }
    auto wait = std::min<std::chrono::steady_clock::duration>(deadline - now, nextLog - now);
    pollfd p{watch->fd(), POLLIN, 0};
    ::poll(
        &p, 1,
        static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(wait).count() + 1));
    std::vector<client::WatchEvent> events;
    bool open = watch->next(events);
    for (const client::WatchEvent& e : events) {
      if (e.type == "ADDED" || e.type == "MODIFIED") {
        if (!(cidr = cidrOf(e.object)).empty()) return cidr;
        version = getString(objectMember(e.object, "metadata"), "resourceVersion");
      }
      if (e.type == "ERROR") open = false;  // e.g. 410 Gone: start over
    }
    if (!open) {
      watch.reset();
      version.clear();  // re-read: the version may have expired
    }
  }
}

Json NodeStatusReporter::statusObject(bool heartbeat) {
  resources_ = readNodeResources(identity_.dataDir);
  const NodeResources& r = resources_;
  std::string cpu = std::to_string(r.milliCpu / 1000);
  Json capacity = {{"cpu", cpu},
                   {"memory", kibibytes(r.memoryBytes)},
                   {"ephemeral-storage", kibibytes(r.ephemeralBytes)},
                   {"pods", std::to_string(identity_.maxPods)},
                   {"hugepages-1Gi", "0"},
                   {"hugepages-2Mi", "0"}};
  Json allocatable = capacity;
  allocatable["memory"] = kibibytes(allocatableMemory());
  allocatable["ephemeral-storage"] = std::to_string(allocatableEphemeral());

  bool memoryPressure = r.memoryAvailableBytes > 0 && r.memoryAvailableBytes < kEvictionMemoryBytes;
  bool diskPressure = r.ephemeralBytes > 0 &&
                      r.ephemeralAvailableBytes * 100 < r.ephemeralBytes * kEvictionNodefsPercent;
  bool pidPressure = r.pidMax > 0 && r.processes * 100 > r.pidMax * 95;
  Json fresh = Json::array({
      memoryPressure
          ? condition("MemoryPressure", true, "KubeletHasInsufficientMemory",
                      "kubelet has insufficient memory available")
          : condition("MemoryPressure", false, "KubeletHasSufficientMemory",
                      "kubelet has sufficient memory available"),
      diskPressure ? condition("DiskPressure", true, "KubeletHasDiskPressure",
                               "kubelet has disk pressure")
                   : condition("DiskPressure", false, "KubeletHasNoDiskPressure",
                               "kubelet has no disk pressure"),
      pidPressure ? condition("PIDPressure", true, "KubeletHasInsufficientPID",
                              "kubelet has insufficient PID available")
                  : condition("PIDPressure", false, "KubeletHasSufficientPID",
                              "kubelet has sufficient PID available"),
      condition("Ready", true, "KubeletReady", "kubelet is posting ready status"),
  });
  std::string now = formatRfc3339(std::chrono::system_clock::now());
  for (Json& c : fresh) {
    std::string transition = now;
    for (const Json& old : conditions_) {
      if (getString(old, "type") == getString(c, "type") &&
          getString(old, "status") == getString(c, "status")) {
        transition = getString(old, "lastTransitionTime", now);
      }
    }
    c["lastTransitionTime"] = transition;
    c["lastHeartbeatTime"] = heartbeat ? now : transition;
  }

  utsname u{};
  ::uname(&u);
  Json nodeInfo = {{"machineID", firstLine("/etc/machine-id")},
                   {"systemUUID", toLower(firstLine("/sys/class/dmi/id/product_uuid"))},
                   {"bootID", firstLine("/proc/sys/kernel/random/boot_id")},
                   {"kernelVersion", u.release},
                   {"osImage", osImage()},
                   {"containerRuntimeVersion", std::string("nave://") + kNaveVersion},
                   {"kubeletVersion", kKubernetesGitVersion},
                   {"kubeProxyVersion", kKubernetesGitVersion},
                   {"operatingSystem", "linux"},
                   {"architecture", goArch()}};
  return Json{{"capacity", capacity},
              {"allocatable", allocatable},
              {"conditions", fresh},
              {"addresses", Json::array({{{"type", "InternalIP"}, {"address", identity_.ip}},
                                         {{"type", "Hostname"}, {"address", identity_.name}}})},
              {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", identity_.kubeletPort}}}}},
              {"nodeInfo", nodeInfo},
              {"images", images_ ? images_() : Json::array()}};
}

Result<void> NodeStatusReporter::postStatus() {
  Json status = statusObject(true);
  // Unchanged apart from heartbeat times: posted only every five minutes (the Lease is the
  // heartbeat), as the kubelet's nodeStatusReportFrequency.
  Json comparable = status;
  for (Json& c : comparable["conditions"]) c.erase("lastHeartbeatTime");
  std::string text = dumpJson(comparable);
  auto now = std::chrono::steady_clock::now();
  if (text == lastPosted_ && now - lastPostTime_ < kReportEvery) return {};
  Json patch = {{"status", status}};
  auto r = client_.patch(kNodes, "", identity_.name, api::PatchType::kMerge, dumpJson(patch), {},
                         "status");
  if (!r.ok()) return std::move(r).error().context("update node status");
  conditions_ = status["conditions"];
  lastPosted_ = std::move(text);
  lastPostTime_ = now;
  return {};
}

Result<void> NodeStatusReporter::renewLease() {
  std::string now = formatRfc3339Micro(std::chrono::system_clock::now());
  Json lease = {
      {"apiVersion", "coordination.k8s.io/v1"},
      {"kind", "Lease"},
      {"metadata",
       {{"name", identity_.name},
        {"namespace", "kube-node-lease"},
        {"ownerReferences", Json::array({{{"apiVersion", "v1"},
                                          {"kind", "Node"},
                                          {"name", identity_.name},
                                          {"uid", nodeUid_}}})}}},
      {"spec",
       {{"holderIdentity", identity_.name},
        {"leaseDurationSeconds", kLeaseDurationSeconds},
        {"renewTime", now}}}};
  Json patch = {{"spec", {{"holderIdentity", identity_.name},
                          {"leaseDurationSeconds", kLeaseDurationSeconds},
                          {"renewTime", now}}}};
  auto r = client_.patch(kLeases, "kube-node-lease", identity_.name, api::PatchType::kMerge,
                         dumpJson(patch));
  if (r.ok()) return {};
  if (!r.error().is(ErrorCode::kNotFound)) return std::move(r).error();
  auto created = client_.create(kLeases, "kube-node-lease", lease);
  if (!created.ok() && !created.error().is(ErrorCode::kAlreadyExists)) {
    return std::move(created).error();
  }
  return {};
}

void NodeStatusReporter::run() {
  auto nextBeat = std::chrono::steady_clock::now() + kHeartbeat;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, nextBeat, [&] { return stopping_ || poked_; });
      if (stopping_) return;
      poked_ = false;
    }
    if (std::chrono::steady_clock::now() >= nextBeat) {
      nextBeat = std::chrono::steady_clock::now() + kHeartbeat;
      if (auto r = renewLease(); !r.ok()) {
        log::warning("renewing the node lease failed", {{"error", r.error().message()}});
      }
    }
    if (auto r = postStatus(); !r.ok()) {
      log::warning("posting the node status failed", {{"error", r.error().message()}});
    }
  }
}

}  // namespace nave::agent
