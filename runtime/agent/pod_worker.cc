#include "runtime/agent/pod_worker.h"

#include <sys/stat.h>

#include <algorithm>
#include <deque>
#include <csignal>

#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/time.h"
#include "runtime/agent/pod_manager.h"
#include "runtime/agent/probes.h"
#include "runtime/log_reader.h"

namespace nave::agent {
namespace {

const client::Resource kPods{"", "v1", "pods"};
constexpr auto kMaxBackoff = std::chrono::seconds(300);  // CrashLoopBackOff and image pulls
constexpr auto kInitialBackoff = std::chrono::seconds(10);
constexpr auto kBackoffReset = std::chrono::minutes(10);  // running this long resets it
// A container that could not be created or started is tried again after this long (the
// kubelet's pod worker re-syncs a failed pod after 10 s); without it, a failure whose message
// differs each time would change the status, whose update would wake the worker at once.
constexpr auto kCreateRetry = std::chrono::seconds(10);
constexpr auto kVolumeRetry = std::chrono::seconds(2);
constexpr auto kVolumeRefresh = std::chrono::seconds(60);  // configMap/secret volume resync
constexpr size_t kTerminationMessageMax = 4096;


std::string rfc3339(std::chrono::system_clock::time_point t) {
  return t.time_since_epoch().count() == 0 ? "" : formatRfc3339(t);
}

std::vector<std::string> stringList(const Json& v) {
  std::vector<std::string> out;
  if (!v.is_array()) return out;
  for (const Json& s : v) {
    if (s.is_string()) out.push_back(s.get<std::string>());
  }
  return out;
}

// "docker.io/library/busybox:latest" from "busybox", as the kubelet reports `image`.
std::string normalisedImage(runtime::ImageStore& images, const std::string& ref) {
  auto img = images.find(ref);
  if (!img.ok()) return ref;
  for (const std::string& t : img->repoTags) {
    if (t.find(ref) != std::string::npos || ref.find('/') == std::string::npos) return t;
  }
  return img->repoTags.empty() ? ref : img->repoTags.front();
}

std::string imageId(runtime::ImageStore& images, const std::string& ref) {
  auto img = images.find(ref);
  if (!img.ok()) return "";
  if (!img->repoDigests.empty()) return img->repoDigests.front();
  return img->id;
}

std::string pullPolicy(const Json& container) {
  std::string policy = getString(container, "imagePullPolicy");
  if (!policy.empty()) return policy;
  std::string image = getString(container, "image");
  auto slash = image.find_last_of('/');
  std::string last = slash == std::string::npos ? image : image.substr(slash + 1);
  bool tagged = last.find(':') != std::string::npos || image.find('@') != std::string::npos;
  bool latest = !tagged || (last.size() > 7 && last.ends_with(":latest"));
  return latest ? "Always" : "IfNotPresent";
}

int64_t seconds(const Json& probe, const char* field, int64_t fallback) {
  return getInt(probe, field, fallback);
}

// Logs how long a step took at -v=2, for finding where a pod's start goes.
class StepTimer {
 public:
  StepTimer(const std::string& uid, const char* step) : uid_(uid), step_(step) {}
  ~StepTimer() {
    if (!log::enabled(2)) return;
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0_).count();
    log::v(2, "pod step", {{"pod", uid_}, {"step", step_}, {"ms", static_cast<double>(us) / 1000.0}});
  }

 private:
  const std::string& uid_;
  const char* step_;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

}  // namespace

PodWorker::PodWorker(AgentContext& ctx, Json pod)
    : ctx_(ctx),
      uid_(getString(pod["metadata"], "uid")),
      demand_(demandOf(objectMember(pod, "spec"), false)),
      pod_(std::move(pod)) {}

PodWorker::~PodWorker() { stop(); }

void PodWorker::start() {
  thread_ = std::thread([this] { run(); });
}

void PodWorker::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PodWorker::update(Json pod) {
  {
    std::lock_guard lock(mu_);
    pod_ = std::move(pod);
    woken_ = true;
  }
  cv_.notify_all();
}

void PodWorker::removed() {
  {
    std::lock_guard lock(mu_);
    podGone_ = true;
    woken_ = true;
  }
  cv_.notify_all();
}

void PodWorker::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

bool PodWorker::finished() const {
  std::lock_guard lock(mu_);
  return finished_;
}

Json PodWorker::pod() const {
  std::lock_guard lock(mu_);
  return pod_;
}

bool PodWorker::admitted() const {
  std::lock_guard lock(mu_);
  return admitted_;
}

bool PodWorker::terminal() const {
  std::lock_guard lock(mu_);
  const Json* status = findMember(pod_, "status");
  std::string phase = status ? getString(*status, "phase") : "";
  return phase == "Succeeded" || phase == "Failed";
}

std::optional<PodWorker::ContainerInstance> PodWorker::container(const std::string& name,
                                                                 bool previous) const {
  std::lock_guard lock(mu_);
  auto it = published_.find(name);
  if (it == published_.end()) return std::nullopt;
  return previous ? it->second.previous : it->second.current;
}

std::string PodWorker::netnsPath() const {
  std::lock_guard lock(mu_);
  return netnsPath_;
}

void PodWorker::adoptSandbox(const runtime::SandboxStatus& sandbox) {
  std::lock_guard lock(mu_);
  sandboxId_ = sandbox.id;
  netnsPath_ = sandbox.netnsPath;
}

void PodWorker::adoptContainer(const runtime::ContainerStatus& status) {
  auto get = [&](const char* key) {
    auto it = status.labels.find(key);
    return it == status.labels.end() ? std::string() : it->second;
  };
  std::string name = get(kLabelContainerName);
  Container& c = containers_[name];
  c.name = name;
  Instance i{status.id, std::atoi(get(kLabelContainerAttempt).c_str()), status.logPath};
  auto pos = std::find_if(c.instances.begin(), c.instances.end(),
                          [&](const Instance& x) { return x.attempt > i.attempt; });
  c.instances.insert(pos, i);
  // A running container adopted after a restart counts as started; probes decide readiness.
  if (status.state == runtime::ContainerState::kRunning) c.started = true;
}

// ---- the loop -------------------------------------------------------------------------

PodWorker::Clock::time_point PodWorker::nextDeadline() const {
  auto next = Clock::now() + std::chrono::hours(1);
  auto consider = [&](Clock::time_point t) {
    if (t != Clock::time_point{} && t < next) next = t;
  };
  for (const auto& [name, c] : containers_) {
    consider(c.backoffUntil);
    consider(c.imageBackoffUntil);
    consider(c.retryAt);
    if (c.haveCurrent && c.current.state == runtime::ContainerState::kRunning) {
      if (findMember(c.spec, "livenessProbe") && c.started) consider(c.nextLiveness);
      if (findMember(c.spec, "readinessProbe") && c.started) consider(c.nextReadiness);
      if (findMember(c.spec, "startupProbe") && !c.started) consider(c.nextStartup);
    }
  }
  if (!volumesReady_) consider(volumesRetry_);
  if (volumesReady_) consider(nextVolumeRefresh_);
  return next;
}

void PodWorker::run() {
  for (;;) {
    auto deadline = nextDeadline();
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, deadline, [&] { return stopping_ || woken_; });
      if (stopping_) return;
      woken_ = false;
    }
    sync();
    if (finished()) return;
  }
}

void PodWorker::sync() {
  bool gone;
  {
    std::lock_guard lock(mu_);
    current_ = pod_;
    gone = podGone_;
  }
  const Json& pod = current_;
  spec_ = objectMember(pod, "spec");
  hostNetwork_ = getBool(spec_, "hostNetwork");
  order_.clear();
  for (const Json& c : arrayMember(spec_, "initContainers")) {
    std::string name = getString(c, "name");
    Container& rec = containers_[name];
    rec.name = name;
    rec.spec = c;
    rec.kind = getString(c, "restartPolicy") == "Always" ? Kind::kSidecar : Kind::kInit;
    order_.push_back(name);
  }
  for (const Json& c : arrayMember(spec_, "containers")) {
    std::string name = getString(c, "name");
    Container& rec = containers_[name];
    rec.name = name;
    rec.spec = c;
    rec.kind = Kind::kApp;
    order_.push_back(name);
  }
  if (startTime_.empty()) {
    startTime_ = getString(objectMember(pod, "status"), "startTime");
    if (startTime_.empty()) startTime_ = formatRfc3339(std::chrono::system_clock::now());
  }

  const Json& md = objectMember(pod, "metadata");
  if (gone || findMember(md, "deletionTimestamp")) {
    terminate(gone);
    return;
  }
  if (rejected_) return;  // a rejected pod stays Failed
  if (!admitted()) {
    if (auto r = admit(); !r.ok()) {
      rejected_ = true;
      postStatus();
      return;
    }
    std::lock_guard lock(mu_);
    admitted_ = true;
  }
  refreshStatuses();
  // A pod being set up for the first time takes one of the node's setup slots for this pass
  // (sandbox, network, volumes, containers), given up before an image pull or a postStart
  // hook, which take their time doing other things.
  bool fresh;
  {
    std::lock_guard lock(mu_);
    fresh = sandboxId_.empty();
  }
  if (fresh) setupSlot_.emplace(ctx_.pods->setupSlots());
  if (ensureSandbox() && ensureVolumes()) {
    bool initialized = false;
    syncInitContainers(initialized);
    if (initialized) syncAppContainers();
    setupSlot_.reset();
    runProbes();
    refreshStatuses();
  }
  setupSlot_.reset();
  publish();
  postStatus();
}

// ---- admission ------------------------------------------------------------------------

PodWorker::Demand PodWorker::demandOf(const Json& spec, bool initContainers) {
  Demand d;
  auto add = [&](const Json& c) {
    const Json& req = objectMember(objectMember(c, "resources"), "requests");
    if (auto v = parseQuantityMilli(getString(req, "cpu", "0")); v.ok()) d.milliCpu += *v;
    if (auto v = parseQuantity(getString(req, "memory", "0")); v.ok()) d.memoryBytes += *v;
    for (const Json& p : arrayMember(c, "ports")) {
      int64_t hostPort = getInt(p, "hostPort");
      if (hostPort <= 0) continue;
      d.hostPorts.insert(getString(p, "protocol", "TCP") + "/" + getString(p, "hostIP", "0.0.0.0") +
                         ":" + std::to_string(hostPort));
    }
  };
  for (const Json& c : arrayMember(spec, "containers")) add(c);
  // Init containers run one at a time: the largest counts (sidecars add up; kept simple).
  if (initContainers) {
    for (const Json& c : arrayMember(spec, "initContainers")) add(c);
  }
  return d;
}

Result<void> PodWorker::admit() {
  const Demand mine = demandOf(spec_, true);
  const int64_t cpu = mine.milliCpu, memory = mine.memoryBytes;
  const std::set<std::string>& ports = mine.hostPorts;
  PodManager::Usage used = ctx_.pods->usage(uid_);
  NodeStatusReporter& node = *ctx_.node;
  auto reject = [&](const std::string& reason, const std::string& message) -> Result<void> {
    rejectReason_ = reason;
    rejectMessage_ = message;
    event(nullptr, "Warning", reason, message);
    return Error(ErrorCode::kForbidden, message);
  };
  if (used.pods + 1 > node.maxPods()) {
    return reject("OutOfpods", "Node didn't have enough resource: pods, requested: 1, used: " +
                                   std::to_string(used.pods) + ", capacity: " +
                                   std::to_string(node.maxPods()));
  }
  if (cpu > 0 && used.milliCpu + cpu > node.allocatableMilliCpu()) {
    return reject("OutOfcpu", "Pod was rejected: Node didn't have enough resource: cpu, requested: " +
                                  std::to_string(cpu) + ", used: " + std::to_string(used.milliCpu) +
                                  ", capacity: " + std::to_string(node.allocatableMilliCpu()));
  }
  if (memory > 0 && used.memoryBytes + memory > node.allocatableMemory()) {
    return reject("OutOfmemory",
                  "Pod was rejected: Node didn't have enough resource: memory, requested: " +
                      std::to_string(memory) + ", used: " + std::to_string(used.memoryBytes) +
                      ", capacity: " + std::to_string(node.allocatableMemory()));
  }
  for (const std::string& p : ports) {
    auto slash = p.find('/');
    auto colon = p.rfind(':');
    std::string proto = p.substr(0, slash), port = p.substr(colon + 1);
    for (const std::string& u : used.hostPorts) {
      auto uslash = u.find('/');
      auto ucolon = u.rfind(':');
      std::string uip = u.substr(uslash + 1, ucolon - uslash - 1);
      std::string ip = p.substr(slash + 1, colon - slash - 1);
      bool ipClash = uip == ip || uip == "0.0.0.0" || ip == "0.0.0.0";
      if (u.substr(0, uslash) == proto && u.substr(ucolon + 1) == port && ipClash) {
        return reject("NodePorts", "Pod was rejected: node(s) didn't have free ports for the "
                                   "requested pod ports");
      }
    }
  }
  return {};
}

// ---- sandbox and volumes --------------------------------------------------------------

bool PodWorker::ensureSandbox() {
  std::string sandboxId;
  {
    std::lock_guard lock(mu_);
    sandboxId = sandboxId_;
  }
  const Json& md = current_.value("metadata", Json::object());
  if (sandboxId.empty()) {
    runtime::SandboxSpec s;
    s.id = randomHex(32);
    DnsSettings dns;
    dns.clusterDomain = ctx_.options.clusterDomain;
    auto hostname = podHostname(current_, dns);
    if (!hostname.ok()) {
      event(nullptr, "Warning", "FailedCreatePodSandBox", hostname.error().message());
      return false;
    }
    s.hostname = *hostname;
    s.hostNetwork = hostNetwork_;
    s.hostIpc = getBool(spec_, "hostIPC");
    s.labels = {{kLabelPodUid, uid_},
                {kLabelPodName, getString(md, "name")},
                {kLabelPodNamespace, getString(md, "namespace")}};
    StepTimer timer(uid_, "createSandbox");
    auto created = ctx_.runtime->containers().createSandbox(s);
    if (!created.ok()) {
      event(nullptr, "Warning", "FailedCreatePodSandBox",
            "Failed to create pod sandbox: " + created.error().message());
      return false;
    }
    std::lock_guard lock(mu_);
    sandboxId_ = created->id;
    netnsPath_ = created->netnsPath;
    sandboxId = created->id;
  }
  if (podIp_.empty()) {
    if (hostNetwork_) {
      podIp_ = ctx_.options.nodeIp;
    } else {
      std::vector<network::HostPort> hostPorts;
      for (const Json& c : spec_.value("containers", Json::array())) {
        for (const Json& p : c.value("ports", Json::array())) {
          if (getInt(p, "hostPort") <= 0) continue;
          network::HostPort hp;
          hp.protocol = getString(p, "protocol", "TCP");
          hp.hostPort = static_cast<uint16_t>(getInt(p, "hostPort"));
          hp.containerPort = static_cast<uint16_t>(getInt(p, "containerPort"));
          hp.hostIp = getString(p, "hostIP");
          hostPorts.push_back(hp);
        }
      }
      StepTimer timer(uid_, "attachNetwork");
      auto attached = ctx_.network->attach(sandboxId, netnsPath(), hostPorts);
      if (!attached.ok()) {
        event(nullptr, "Warning", "FailedCreatePodSandBox",
              "Failed to create pod sandbox: failed to set up the pod network: " +
                  attached.error().message());
        return false;
      }
      podIp_ = attached->ip;
    }
  }
  if (podFiles_.hosts.empty()) {
    PodFacts facts;
    facts.nodeName = ctx_.options.nodeName;
    facts.hostIp = ctx_.options.nodeIp;
    facts.podIps = {podIp_};
    DnsSettings dns;
    dns.clusterDns = ctx_.options.clusterDns;
    dns.clusterDomain = ctx_.options.clusterDomain;
    dns.hostResolvConf = ctx_.options.resolvConf;
    StepTimer timer(uid_, "writePodFiles");
    auto files = writePodFiles(ctx_.podsDir, current_, facts, dns);
    if (!files.ok()) {
      event(nullptr, "Warning", "FailedCreatePodSandBox", files.error().message());
      return false;
    }
    podFiles_ = *files;
  }
  return true;
}

bool PodWorker::ensureVolumes() {
  PodFacts facts;
  facts.nodeName = ctx_.options.nodeName;
  facts.hostIp = ctx_.options.nodeIp;
  facts.podIps = {podIp_};
  facts.nodeAllocatableMilliCpu = ctx_.node->allocatableMilliCpu();
  facts.nodeAllocatableMemoryBytes = ctx_.node->allocatableMemory();
  facts.nodeAllocatableEphemeralBytes = ctx_.node->allocatableEphemeral();
  if (volumesReady_) {
    if (Clock::now() >= nextVolumeRefresh_) {
      nextVolumeRefresh_ = Clock::now() + kVolumeRefresh;
      if (auto r = ctx_.volumes->refresh(current_, facts); !r.ok()) {
        log::v(1, "refreshing volumes failed", {{"pod", uid_}, {"error", r.error().message()}});
      }
    }
    return true;
  }
  if (Clock::now() < volumesRetry_) return false;
  StepTimer timer(uid_, "setUpVolumes");
  auto r = ctx_.volumes->setUp(current_, facts);
  if (!r.ok()) {
    volumesRetry_ = Clock::now() + kVolumeRetry;
    event(nullptr, "Warning", "FailedMount", r.error().message());
    return false;
  }
  volumes_ = *r;
  volumesReady_ = true;
  nextVolumeRefresh_ = Clock::now() + kVolumeRefresh;
  return true;
}

// ---- containers -----------------------------------------------------------------------

void PodWorker::refreshStatuses() {
  for (auto& [name, c] : containers_) {
    c.haveCurrent = c.havePrevious = false;
    if (c.instances.empty()) continue;
    auto cur = ctx_.runtime->containers().status(c.instances.back().id);
    if (cur.ok()) {
      c.current = *cur;
      c.haveCurrent = true;
      if (cur->state == runtime::ContainerState::kRunning && !c.watched) watchExit(c);
    } else {
      // Gone from the runtime (removed by hand): forget it.
      c.instances.pop_back();
    }
    if (c.instances.size() >= 2) {
      auto prev = ctx_.runtime->containers().status(c.instances[c.instances.size() - 2].id);
      if (prev.ok()) {
        c.previous = *prev;
        c.havePrevious = true;
      }
    }
  }
}

void PodWorker::watchExit(Container& c) {
  auto fd = ctx_.runtime->containers().exitNotifier(c.instances.back().id);
  if (!fd.ok()) return;
  c.watched = true;
  ctx_.exits->watch(c.instances.back().id, std::move(*fd), [this] { wake(); });
}

bool PodWorker::needsRestart(const Container& c) const {
  if (c.kind == Kind::kSidecar) return true;
  std::string policy = getString(spec_, "restartPolicy", "Always");
  if (c.kind == Kind::kInit) return c.current.exitCode != 0 && policy != "Never";
  if (policy == "Always") return true;
  if (policy == "OnFailure") return c.current.exitCode != 0;
  return false;
}

void PodWorker::syncInitContainers(bool& initialized) {
  initialized = true;
  for (const std::string& name : order_) {
    Container& c = containers_[name];
    if (c.kind == Kind::kApp) break;
    bool running = c.haveCurrent && c.current.state == runtime::ContainerState::kRunning;
    bool exited = c.haveCurrent && c.current.state == runtime::ContainerState::kExited;
    if (c.kind == Kind::kSidecar) {
      if (!c.haveCurrent || (exited && needsRestart(c))) {
        startContainer(c);
        initialized = false;
        return;
      }
      // The next init container waits until the sidecar has started (startupProbe passed).
      if (!c.started) {
        initialized = false;
        return;
      }
      continue;
    }
    if (exited && c.current.exitCode == 0) continue;  // done
    initialized = false;
    if (running) return;
    if (!c.haveCurrent || needsRestart(c)) startContainer(c);
    return;
  }
}

void PodWorker::syncAppContainers() {
  for (const std::string& name : order_) {
    Container& c = containers_[name];
    if (c.kind != Kind::kApp) continue;
    if (!c.haveCurrent) {
      startContainer(c);
      continue;
    }
    if (c.current.state == runtime::ContainerState::kExited && needsRestart(c)) startContainer(c);
  }
  // Restartable sidecars are restarted whenever they exit, also after initialization.
  for (const std::string& name : order_) {
    Container& c = containers_[name];
    if (c.kind == Kind::kSidecar && c.haveCurrent &&
        c.current.state == runtime::ContainerState::kExited) {
      startContainer(c);
    }
  }
}

bool PodWorker::pullImage(Container& c) {
  std::string image = getString(c.spec, "image");
  std::string policy = pullPolicy(c.spec);
  runtime::ImageStore& images = ctx_.runtime->images();
  bool present = images.find(image).ok();
  if (policy == "Never") {
    if (present) return true;
    c.waitingReason = "ErrImageNeverPull";
    c.waitingMessage = "Container image \"" + image +
                       "\" is not present with pull policy of Never";
    event(&c, "Warning", "ErrImageNeverPull", c.waitingMessage);
    return false;
  }
  if (policy == "IfNotPresent" && present) {
    event(&c, "Normal", "Pulled",
          "Container image \"" + image + "\" already present on machine");
    return true;
  }
  if (Clock::now() < c.imageBackoffUntil) {
    c.waitingReason = "ImagePullBackOff";
    c.waitingMessage = "Back-off pulling image \"" + image + "\"";
    event(&c, "Normal", "BackOff", c.waitingMessage);
    return false;
  }
  event(&c, "Normal", "Pulling", "Pulling image \"" + image + "\"");
  setupSlot_.reset();  // a pull takes long and uses the network, not what the slots share
  runtime::PullOptions options;
  for (const Json& ref : spec_.value("imagePullSecrets", Json::array())) {
    const Json& md = current_.value("metadata", Json::object());
    auto secret = ctx_.objects->secret(getString(md, "namespace"), getString(ref, "name"));
    if (!secret.ok()) continue;
    std::string encoded = getString(secret->value("data", Json::object()), ".dockerconfigjson");
    std::string decoded;
    if (encoded.empty() || !base64Decode(encoded, decoded)) continue;
    auto parsed = parseJson(decoded);
    if (!parsed.ok()) continue;
    for (const auto& [host, entry] : objectMember(parsed->value, "auths").items()) {
      runtime::RegistryAuth auth;
      auth.username = getString(entry, "username");
      auth.password = getString(entry, "password");
      std::string basic;
      if (auth.username.empty() && base64Decode(getString(entry, "auth"), basic)) {
        auto colon = basic.find(':');
        auth.username = basic.substr(0, colon);
        if (colon != std::string::npos) auth.password = basic.substr(colon + 1);
      }
      options.auth[host] = auth;
    }
  }
  auto t0 = Clock::now();
  auto pulled = images.pull(image, options);
  if (!pulled.ok()) {
    c.imageBackoff = c.imageBackoff.count() == 0 ? kInitialBackoff
                                                 : std::min(c.imageBackoff * 2, kMaxBackoff);
    c.imageBackoffUntil = Clock::now() + c.imageBackoff;
    c.waitingReason = "ErrImagePull";
    c.waitingMessage = pulled.error().message();
    event(&c, "Warning", "Failed",
          "Failed to pull image \"" + image + "\": " + pulled.error().message());
    event(&c, "Warning", "Failed", "Error: ErrImagePull");
    return false;
  }
  c.imageBackoff = std::chrono::seconds(0);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  event(&c, "Normal", "Pulled",
        "Successfully pulled image \"" + image + "\" in " + std::to_string(ms) + "ms");
  ctx_.node->poke();  // status.images changed
  return true;
}

void PodWorker::startContainer(Container& c) {
  const Json& md = current_.value("metadata", Json::object());
  std::string ns = getString(md, "namespace"), podName = getString(md, "name");
  // CrashLoopBackOff, as the kubelet's backoff: the first restart is immediate, each further
  // one waits 10 s, 20 s, 40 s ... up to 5 minutes after the container finished; a container
  // that ran for 10 minutes starts over.
  if (c.haveCurrent && c.current.state == runtime::ContainerState::kExited) {
    if (c.current.finishedAt - c.current.startedAt >= kBackoffReset) c.backoff = std::chrono::seconds(0);
    if (c.backoff.count() > 0) {
      auto until = c.current.finishedAt + c.backoff;
      auto now = std::chrono::system_clock::now();
      if (now < until) {
        c.backoffUntil = Clock::now() + std::chrono::duration_cast<Clock::duration>(until - now);
        c.waitingReason = "CrashLoopBackOff";
        c.waitingMessage = "back-off " + std::to_string(c.backoff.count()) +
                           "s restarting failed container=" + c.name + " pod=" + podName + "_" +
                           ns + "(" + uid_ + ")";
        event(&c, "Warning", "BackOff", "Back-off restarting failed container " + c.name +
                                            " in pod " + podName + "_" + ns + "(" + uid_ + ")");
        return;
      }
    }
    c.backoff = c.backoff.count() == 0 ? kInitialBackoff : std::min(c.backoff * 2, kMaxBackoff);
    c.backoffUntil = Clock::time_point{};
  }
  if (Clock::now() < c.retryAt) return;  // the waiting reason and message stay
  c.retryAt = Clock::time_point{};
  {
    StepTimer timer(uid_, "image");
    if (!pullImage(c)) return;
  }
  StepTimer prepareTimer(uid_, "prepareContainer");

  PodFacts facts;
  facts.nodeName = ctx_.options.nodeName;
  facts.hostIp = ctx_.options.nodeIp;
  facts.podIps = {podIp_};
  facts.serviceAccountName = getString(spec_, "serviceAccountName", "default");
  facts.nodeAllocatableMilliCpu = ctx_.node->allocatableMilliCpu();
  facts.nodeAllocatableMemoryBytes = ctx_.node->allocatableMemory();
  facts.nodeAllocatableEphemeralBytes = ctx_.node->allocatableEphemeral();
  auto configError = [&](const std::string& message) {
    c.retryAt = Clock::now() + kCreateRetry;
    c.waitingReason = "CreateContainerConfigError";
    c.waitingMessage = message;
    event(&c, "Warning", "Failed", "Error: " + message);
  };
  auto env = containerEnv(current_, c.spec, *ctx_.objects, facts);
  if (!env.ok()) return configError(env.error().message());
  auto resources = containerResources(c.spec);
  if (!resources.ok()) return configError(resources.error().message());

  int attempt = c.instances.empty() ? 0 : c.instances.back().attempt + 1;
  std::string id = randomHex(32);
  std::string logDir = ctx_.logsDir + "/" + ns + "_" + podName + "_" + uid_ + "/" + c.name;
  std::string runDir = ctx_.podsDir + "/" + uid_ + "/containers/" + c.name;
  for (const std::string& d : {logDir, runDir}) {
    std::error_code ec;
    std::filesystem::create_directories(d, ec);
  }
  std::string terminationLog = runDir + "/" + id.substr(0, 12);
  if (auto r = writeFileAtomic(terminationLog, "", 0666); !r.ok()) {
    return configError(r.error().message());
  }
  auto mounts = containerMounts(current_, c.spec, volumes_, *env, podFiles_, terminationLog);
  if (!mounts.ok()) return configError(mounts.error().message());

  runtime::ContainerRequest req;
  req.id = id;
  req.image = getString(c.spec, "image");
  if (const Json* cmd = findMember(c.spec, "command")) req.command = expandReferences(stringList(*cmd), *env);
  if (const Json* args = findMember(c.spec, "args")) req.args = expandReferences(stringList(*args), *env);
  req.env = *env;
  req.workingDir = getString(c.spec, "workingDir");
  const Json& psc = spec_.value("securityContext", Json::object());
  const Json& sc = c.spec.value("securityContext", Json::object());
  auto pick = [&](const char* field) -> const Json* {
    if (const Json* v = findMember(sc, field)) return v;
    return findMember(psc, field);
  };
  if (const Json* u = pick("runAsUser")) {
    req.user = std::to_string(u->get<int64_t>());
    if (const Json* g = pick("runAsGroup")) req.user += ":" + std::to_string(g->get<int64_t>());
  }
  runtime::ContainerSpec& spec = req.spec;
  spec.sandboxId = sandboxId_;
  spec.mounts = std::move(*mounts);
  spec.resources = *resources;
  spec.logPath = logDir + "/" + std::to_string(attempt) + ".log";
  spec.process.tty = getBool(c.spec, "tty");
  spec.process.stdin = getBool(c.spec, "stdin");
  spec.process.stdinOnce = getBool(c.spec, "stdinOnce");
  for (const Json& g : psc.value("supplementalGroups", Json::array())) {
    if (g.is_number_integer()) spec.process.extraGroups.push_back(g.get<uint32_t>());
  }
  if (const Json* fsGroup = findMember(psc, "fsGroup"); fsGroup && fsGroup->is_number_integer()) {
    spec.process.extraGroups.push_back(fsGroup->get<uint32_t>());
  }
  runtime::SecurityOptions& sec = spec.security;
  sec.privileged = getBool(sc, "privileged");
  sec.readonlyRootfs = getBool(sc, "readOnlyRootFilesystem");
  if (const Json* ape = findMember(sc, "allowPrivilegeEscalation")) {
    sec.noNewPrivileges = !ape->get<bool>();
  }
  const Json& caps = sc.value("capabilities", Json::object());
  sec.capAdd = stringList(caps.value("add", Json::array()));
  sec.capDrop = stringList(caps.value("drop", Json::array()));
  const Json* seccomp = pick("seccompProfile");
  std::string seccompType = seccomp ? getString(*seccomp, "type") : "RuntimeDefault";
  if (seccompType == "Unconfined") {
    sec.seccomp = runtime::SeccompMode::kUnconfined;
  } else if (seccompType == "Localhost") {
    sec.seccomp = runtime::SeccompMode::kLocalhost;
    sec.seccompProfilePath = ctx_.options.dataDir + "/agent/seccomp/" +
                             getString(*seccomp, "localhostProfile");
  }
  if (const Json* nonRoot = pick("runAsNonRoot"); nonRoot && nonRoot->get<bool>()) {
    // Verified on the user the container will run as: the spec's, else the image's, which
    // must then be numeric (a name cannot be checked without the image's /etc/passwd).
    std::string user = req.user;
    if (user.empty()) {
      auto img = ctx_.runtime->images().find(req.image);
      user = img.ok() ? img->config.user : "";
    }
    std::string uid = user.substr(0, user.find(':'));
    std::string where = " (pod: \"" + podName + "_" + ns + "(" + uid_ + ")\", container: " + c.name + ")";
    if (!uid.empty() && !std::all_of(uid.begin(), uid.end(), ::isdigit)) {
      return configError("container has runAsNonRoot and image has non-numeric user (" + uid +
                         "), cannot verify user is non-root" + where);
    }
    if (uid.empty() || uid == "0") {
      return configError("container has runAsNonRoot and image will run as root" + where);
    }
  }
  spec.labels = {{kLabelPodUid, uid_},
                 {kLabelPodName, podName},
                 {kLabelPodNamespace, ns},
                 {kLabelContainerName, c.name},
                 {kLabelContainerAttempt, std::to_string(attempt)},
                 {kLabelContainerType, c.kind == Kind::kApp      ? "app"
                                       : c.kind == Kind::kInit   ? "init"
                                                                 : "sidecar"},
                 {kLabelSandboxId, sandboxId_}};

  std::optional<StepTimer> createTimer(std::in_place, uid_, "createContainer");
  auto created = ctx_.runtime->createContainer(req);
  createTimer.reset();
  if (!created.ok()) {
    c.retryAt = Clock::now() + kCreateRetry;
    c.waitingReason = "CreateContainerError";
    c.waitingMessage = created.error().message();
    event(&c, "Warning", "Failed", "Error: " + created.error().message());
    return;
  }
  event(&c, "Normal", "Created", "Created container " + c.name);
  // Keep the current and the previous instance (for `logs --previous`); older ones go.
  while (c.instances.size() >= 2) {
    removeInstance(c.instances.front());
    c.instances.erase(c.instances.begin());
  }
  c.instances.push_back(Instance{id, attempt, spec.logPath});
  c.watched = false;
  c.started = !findMember(c.spec, "startupProbe");
  c.ready = false;
  c.livenessFailures = c.readinessFailures = c.startupFailures = c.readinessSuccesses = 0;
  auto now = Clock::now();
  auto delay = [&](const char* probe) {
    const Json& p = c.spec.value(probe, Json::object());
    return now + std::chrono::seconds(seconds(p, "initialDelaySeconds", 0));
  };
  c.nextLiveness = delay("livenessProbe");
  c.nextReadiness = delay("readinessProbe");
  c.nextStartup = delay("startupProbe");
  std::optional<StepTimer> startTimer(std::in_place, uid_, "startContainer");
  auto startedOk = ctx_.runtime->containers().start(id);
  startTimer.reset();
  if (auto& started = startedOk; !started.ok()) {
    c.retryAt = Clock::now() + kCreateRetry;
    c.waitingReason = "RunContainerError";
    c.waitingMessage = started.error().message();
    event(&c, "Warning", "Failed", "Error: " + started.error().message());
    return;
  }
  c.waitingReason.clear();
  c.waitingMessage.clear();
  event(&c, "Normal", "Started", "Started container " + c.name);
  if (auto st = ctx_.runtime->containers().status(id); st.ok()) {
    c.current = *st;
    c.haveCurrent = true;
    watchExit(c);
  }
  setupSlot_.reset();  // a hook may take its time
  // postStart runs right after the start; when it fails the container is killed.
  // (value() returns a copy: kept in a variable, or the pointer would dangle.)
  const Json lifecycle = c.spec.value("lifecycle", Json::object());
  if (const Json* post = findMember(lifecycle, "postStart")) {
    auto outcome = runHandler(ctx_.runtime->containers(), id, *post, c.spec, podIp_,
                              std::chrono::seconds(30));
    if (outcome.result != ProbeResult::kSuccess) {
      event(&c, "Warning", "FailedPostStartHook", outcome.message);
      killContainer(c, std::chrono::seconds(0), "FailedPostStartHook");
    }
  }
}

void PodWorker::killContainer(Container& c, std::chrono::seconds grace, const std::string& reason) {
  if (c.instances.empty()) return;
  const std::string& id = c.instances.back().id;
  auto st = ctx_.runtime->containers().status(id);
  if (!st.ok() || st->state != runtime::ContainerState::kRunning) return;
  (void)reason;
  event(&c, "Normal", "Killing", "Stopping container " + c.name);
  auto t0 = Clock::now();
  const Json lifecycle = c.spec.value("lifecycle", Json::object());
  if (const Json* pre = findMember(lifecycle, "preStop")) {
    auto timeout = std::max<std::chrono::milliseconds>(grace, std::chrono::milliseconds(1));
    auto outcome = runHandler(ctx_.runtime->containers(), id, *pre, c.spec, podIp_, timeout);
    if (outcome.result != ProbeResult::kSuccess) {
      event(&c, "Warning", "FailedPreStopHook", outcome.message);
    }
  }
  auto spent = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - t0);
  auto left = grace > spent ? grace - spent : std::chrono::seconds(0);
  if (auto r = ctx_.runtime->containers().stop(id, left); !r.ok()) {
    log::warning("stopping a container failed", {{"container", c.name}, {"error", r.error().message()}});
  }
}

void PodWorker::removeInstance(const Instance& i) {
  ctx_.exits->forget(i.id);
  if (auto r = ctx_.runtime->removeContainer(i.id, true); !r.ok() && !r.error().is(ErrorCode::kNotFound)) {
    log::warning("removing a container failed", {{"id", i.id}, {"error", r.error().message()}});
  }
  ::unlink(i.logPath.c_str());
}

// ---- probes ---------------------------------------------------------------------------

void PodWorker::runProbes() {
  auto now = Clock::now();
  for (const std::string& name : order_) {
    Container& c = containers_[name];
    if (!c.haveCurrent || c.current.state != runtime::ContainerState::kRunning) {
      c.ready = false;
      continue;
    }
    const std::string& id = c.instances.back().id;
    auto probe = [&](const char* kind, Clock::time_point& next, int& failures, auto onResult) {
      const Json* p = findMember(c.spec, kind);
      if (!p || now < next) return;
      int64_t period = std::max<int64_t>(1, seconds(*p, "periodSeconds", 10));
      int64_t timeout = std::max<int64_t>(1, seconds(*p, "timeoutSeconds", 1));
      next = Clock::now() + std::chrono::seconds(period);
      auto outcome = runHandler(ctx_.runtime->containers(), id, *p, c.spec, podIp_,
                                std::chrono::seconds(timeout));
      onResult(*p, outcome, failures);
    };
    if (!c.started) {
      probe("startupProbe", c.nextStartup, c.startupFailures,
            [&](const Json& p, const ProbeOutcome& o, int& failures) {
              if (o.result == ProbeResult::kSuccess) {
                c.started = true;
                failures = 0;
                wake();
                return;
              }
              event(&c, "Warning", "Unhealthy", "Startup probe failed: " + o.message);
              if (++failures >= std::max<int64_t>(1, seconds(p, "failureThreshold", 3))) {
                event(&c, "Normal", "Killing",
                      "Container " + c.name + " failed startup probe, will be restarted");
                killContainer(c, std::chrono::seconds(getInt(spec_, "terminationGracePeriodSeconds", 30)), "startup");
              }
            });
      c.ready = false;
      continue;
    }
    probe("livenessProbe", c.nextLiveness, c.livenessFailures,
          [&](const Json& p, const ProbeOutcome& o, int& failures) {
            if (o.result == ProbeResult::kSuccess) {
              failures = 0;
              return;
            }
            event(&c, "Warning", "Unhealthy", "Liveness probe failed: " + o.message);
            if (++failures >= std::max<int64_t>(1, seconds(p, "failureThreshold", 3))) {
              failures = 0;
              event(&c, "Normal", "Killing",
                    "Container " + c.name + " failed liveness probe, will be restarted");
              int64_t grace = getInt(p, "terminationGracePeriodSeconds",
                                     getInt(spec_, "terminationGracePeriodSeconds", 30));
              killContainer(c, std::chrono::seconds(grace), "liveness");
            }
          });
    if (!findMember(c.spec, "readinessProbe")) {
      c.ready = c.started;
      continue;
    }
    probe("readinessProbe", c.nextReadiness, c.readinessFailures,
          [&](const Json& p, const ProbeOutcome& o, int& failures) {
            if (o.result == ProbeResult::kSuccess) {
              failures = 0;
              if (++c.readinessSuccesses >= std::max<int64_t>(1, seconds(p, "successThreshold", 1))) {
                c.ready = true;
              }
              return;
            }
            c.readinessSuccesses = 0;
            event(&c, "Warning", "Unhealthy", "Readiness probe failed: " + o.message);
            if (++failures >= std::max<int64_t>(1, seconds(p, "failureThreshold", 3))) c.ready = false;
          });
  }
}

// ---- termination ----------------------------------------------------------------------

void PodWorker::terminate(bool podGone) {
  const Json& pod = current_;
  const Json& md = pod.value("metadata", Json::object());
  int64_t grace = podGone ? 2 : getInt(md, "deletionGracePeriodSeconds",
                                       getInt(spec_, "terminationGracePeriodSeconds", 30));
  refreshStatuses();
  // App containers first, then sidecars in reverse order (as Kubernetes stops them).
  std::vector<std::string> reverse(order_.rbegin(), order_.rend());
  for (const std::string& name : reverse) {
    Container& c = containers_[name];
    if (c.kind == Kind::kApp) killContainer(c, std::chrono::seconds(grace), "delete");
  }
  for (const std::string& name : reverse) {
    Container& c = containers_[name];
    if (c.kind != Kind::kApp) killContainer(c, std::chrono::seconds(grace), "delete");
  }
  refreshStatuses();
  if (!podGone) {
    publish();
    postStatus();
  }
  cleanUp();
  if (!podGone) {
    api::DeleteOptions options;
    options.gracePeriodSeconds = 0;
    options.preconditionUid = uid_;
    auto r = ctx_.client->remove(kPods, getString(md, "namespace"), getString(md, "name"), options);
    if (!r.ok() && !r.error().is(ErrorCode::kNotFound) && !r.error().is(ErrorCode::kConflict)) {
      log::warning("deleting the pod failed", {{"pod", getString(md, "name")}, {"error", r.error().message()}});
      return;  // retried on the next wake
    }
  }
  std::lock_guard lock(mu_);
  finished_ = true;
}

void PodWorker::cleanUp() {
  for (auto& [name, c] : containers_) {
    for (const Instance& i : c.instances) removeInstance(i);
    c.instances.clear();
    c.haveCurrent = c.havePrevious = false;
  }
  std::string sandboxId, netns;
  {
    std::lock_guard lock(mu_);
    sandboxId = sandboxId_;
    netns = netnsPath_;
  }
  // Sandboxes and addresses also of pods this agent only found on disk.
  for (const runtime::SandboxStatus& s : ctx_.runtime->containers().listSandboxes()) {
    auto it = s.labels.find(kLabelPodUid);
    if (it == s.labels.end() || it->second != uid_) continue;
    if (ctx_.network && !s.hostNetwork) (void)ctx_.network->detach(s.id, s.netnsPath);
    if (auto r = ctx_.runtime->containers().removeSandbox(s.id); !r.ok()) {
      log::warning("removing a sandbox failed", {{"id", s.id}, {"error", r.error().message()}});
    }
  }
  if (!sandboxId.empty() && ctx_.network && !hostNetwork_) (void)ctx_.network->detach(sandboxId, netns);
  if (auto r = ctx_.volumes->tearDown(uid_); !r.ok()) {
    log::warning("removing the pod's volumes failed", {{"pod", uid_}, {"error", r.error().message()}});
  }
  const Json& md = current_.value("metadata", Json::object());
  (void)removeTree(ctx_.logsDir + "/" + getString(md, "namespace") + "_" + getString(md, "name") +
                   "_" + uid_);
  (void)removeTree(ctx_.podsDir + "/" + uid_);
  std::lock_guard lock(mu_);
  sandboxId_.clear();
  netnsPath_.clear();
  published_.clear();
}

// ---- status ---------------------------------------------------------------------------

std::string PodWorker::fieldPath(const Container& c) const {
  return std::string(c.kind == Kind::kApp ? "spec.containers{" : "spec.initContainers{") + c.name + "}";
}

void PodWorker::event(const Container* c, const std::string& type, const std::string& reason,
                      const std::string& message) {
  ctx_.events->pod(current_, c ? fieldPath(*c) : "", type, reason, message);
}

void PodWorker::publish() {
  std::lock_guard lock(mu_);
  for (const auto& [name, c] : containers_) {
    Published p;
    if (!c.instances.empty()) {
      const Instance& cur = c.instances.back();
      p.current = ContainerInstance{cur.id, cur.logPath,
                                    c.haveCurrent && c.current.state == runtime::ContainerState::kRunning};
      if (c.instances.size() >= 2) {
        const Instance& prev = c.instances[c.instances.size() - 2];
        p.previous = ContainerInstance{prev.id, prev.logPath, false};
      }
    }
    published_[name] = p;
  }
}

Json PodWorker::containerStatusJson(const Container& c) const {
  std::string image = getString(c.spec, "image");
  runtime::ImageStore& images = ctx_.runtime->images();
  Json s = {{"name", c.name},
            {"image", normalisedImage(images, image)},
            {"imageID", imageId(images, image)},
            {"ready", false},
            {"restartCount", c.instances.empty() ? 0 : c.instances.back().attempt},
            {"started", false},
            {"lastState", Json::object()}};
  auto terminated = [&](const runtime::ContainerStatus& st, const std::string& id) {
    Json t = {{"exitCode", st.exitCode},
              {"reason", st.reason.empty() ? (st.exitCode == 0 ? "Completed" : "Error") : st.reason},
              {"startedAt", rfc3339(st.startedAt)},
              {"finishedAt", rfc3339(st.finishedAt)},
              {"containerID", "nave://" + id}};
    if (st.exitCode > 128 && st.reason != "OOMKilled") t["signal"] = st.exitCode - 128;
    // The termination message: the file at terminationMessagePath, else (with
    // FallbackToLogsOnError and a failure) the end of the log.
    std::string runDir = ctx_.podsDir + "/" + uid_ + "/containers/" + c.name + "/" + id.substr(0, 12);
    std::string message;
    if (auto text = readFile(runDir); text.ok()) message = text->substr(0, kTerminationMessageMax);
    if (message.empty() && st.exitCode != 0 &&
        getString(c.spec, "terminationMessagePolicy") == "FallbackToLogsOnError") {
      // The end of the log: the last 80 lines, at most 2048 bytes (the kubelet's limits).
      std::deque<std::string> lines;
      (void)runtime::readContainerLog(st.logPath, false, false, [&](const runtime::LogLine& l) {
        lines.push_back(l.text);
        if (lines.size() > 80) lines.pop_front();
      });
      for (const std::string& l : lines) message += l + "\n";
      if (message.size() > 2048) message = message.substr(message.size() - 2048);
    }
    if (message.empty()) message = st.message;  // why the process did not start
    if (!message.empty()) t["message"] = message;
    return Json{{"terminated", t}};
  };
  if (c.havePrevious && c.instances.size() >= 2) {
    s["lastState"] = terminated(c.previous, c.instances[c.instances.size() - 2].id);
  }
  if (!c.haveCurrent) {
    Json waiting = {{"reason", c.waitingReason.empty() ? "ContainerCreating" : c.waitingReason}};
    if (!c.waitingMessage.empty()) waiting["message"] = c.waitingMessage;
    s["state"] = {{"waiting", waiting}};
    return s;
  }
  const std::string& id = c.instances.back().id;
  s["containerID"] = "nave://" + id;
  switch (c.current.state) {
    case runtime::ContainerState::kRunning:
      s["state"] = {{"running", {{"startedAt", rfc3339(c.current.startedAt)}}}};
      s["started"] = c.started;
      s["ready"] = c.ready;
      break;
    case runtime::ContainerState::kCreated:
      s["state"] = {{"waiting", {{"reason", "ContainerCreating"}}}};
      break;
    default: {
      // Exited: waiting to restart (CrashLoopBackOff...) with the exit as lastState, or
      // terminated for good.
      bool restarting = !c.waitingReason.empty() &&
                        (c.kind == Kind::kSidecar || needsRestart(c));
      if (restarting) {
        Json waiting = {{"reason", c.waitingReason}};
        if (!c.waitingMessage.empty()) waiting["message"] = c.waitingMessage;
        s["state"] = {{"waiting", waiting}};
        s["lastState"] = terminated(c.current, id);
      } else {
        s["state"] = terminated(c.current, id);
      }
      break;
    }
  }
  return s;
}

void PodWorker::postStatus() {
  const Json& pod = current_;
  const Json& old = pod.value("status", Json::object());
  std::string now = formatRfc3339(std::chrono::system_clock::now());
  Json status = Json::object();
  status["hostIP"] = ctx_.options.nodeIp;
  status["hostIPs"] = Json::array({{{"ip", ctx_.options.nodeIp}}});
  status["startTime"] = startTime_;
  status["qosClass"] = qosClass(pod);
  if (!podIp_.empty()) {
    status["podIP"] = podIp_;
    status["podIPs"] = Json::array({{{"ip", podIp_}}});
  }
  if (rejected_) {
    status["phase"] = "Failed";
    status["reason"] = rejectReason_;
    status["message"] = rejectMessage_;
    status.erase("podIP");
    status.erase("podIPs");
  }

  Json initStatuses = Json::array(), appStatuses = Json::array();
  std::vector<std::string> notReady, notInitialized;
  bool anyRunning = false, allTerminated = true, anyFailed = false, allInitDone = true;
  for (const std::string& name : order_) {
    const Container& c = containers_.at(name);
    Json s = containerStatusJson(c);
    bool running = c.haveCurrent && c.current.state == runtime::ContainerState::kRunning;
    bool exited = c.haveCurrent && c.current.state == runtime::ContainerState::kExited;
    if (c.kind == Kind::kApp) {
      if (!getBool(s, "ready")) notReady.push_back(name);
      if (running) anyRunning = true;
      bool restarting = exited && needsRestart(c);
      if (!exited || restarting) allTerminated = false;
      if (exited && !restarting && c.current.exitCode != 0) anyFailed = true;
      appStatuses.push_back(s);
    } else {
      bool done = c.kind == Kind::kSidecar ? c.started && running
                                           : exited && c.current.exitCode == 0;
      if (!done) {
        allInitDone = false;
        notInitialized.push_back(name);
      }
      if (c.kind == Kind::kSidecar && !getBool(s, "ready")) notReady.push_back(name);
      // An init container that failed for good fails the pod.
      if (c.kind == Kind::kInit && exited && c.current.exitCode != 0 && !needsRestart(c)) {
        anyFailed = true;
        allTerminated = true;
      }
      initStatuses.push_back(s);
    }
  }
  // App containers wait for the init containers.
  if (!allInitDone) {
    for (Json& s : appStatuses) {
      if (s["state"].contains("waiting")) s["state"] = {{"waiting", {{"reason", "PodInitializing"}}}};
    }
  }
  if (!rejected_) {
    bool initFailed = anyFailed && !allInitDone;
    if (initFailed || (allTerminated && !appStatuses.empty() && allInitDone && !anyRunning)) {
      status["phase"] = anyFailed ? "Failed" : "Succeeded";
    } else if (anyRunning || (allInitDone && !appStatuses.empty() && !allTerminated &&
                              std::any_of(order_.begin(), order_.end(), [&](const std::string& n) {
                                const Container& c = containers_.at(n);
                                return c.kind == Kind::kApp && c.haveCurrent;
                              }))) {
      status["phase"] = "Running";
    } else {
      status["phase"] = "Pending";
    }
  }
  std::string phase = getString(status, "phase");
  bool terminal = phase == "Succeeded" || phase == "Failed";

  auto cond = [&](const std::string& type, bool ok, const std::string& reason,
                  const std::string& message) {
    Json c = {{"type", type}, {"status", ok ? "True" : "False"}, {"lastProbeTime", nullptr}};
    std::string transition = now;
    for (const Json& o : old.value("conditions", Json::array())) {
      if (getString(o, "type") == type && getString(o, "status") == (ok ? "True" : "False")) {
        transition = getString(o, "lastTransitionTime", now);
      }
    }
    c["lastTransitionTime"] = transition;
    if (!reason.empty()) c["reason"] = reason;
    if (!message.empty()) c["message"] = message;
    return c;
  };
  auto names = [](const std::vector<std::string>& v) { return "[" + join(v, " ") + "]"; };
  bool sandboxReady = !sandboxId_.empty() && !podIp_.empty() && !terminal;
  bool containersReady = notReady.empty() && !terminal && anyRunning;
  std::string notReadyReason = terminal ? "PodCompleted" : "ContainersNotReady";
  std::string notReadyMessage = terminal ? "" : "containers with unready status: " + names(notReady);
  Json conditions = Json::array();
  if (!rejected_) {
    conditions.push_back(cond("PodReadyToStartContainers", sandboxReady, "", ""));
    conditions.push_back(cond("Initialized", allInitDone || terminal,
                              allInitDone || terminal ? "" : "ContainersNotInitialized",
                              allInitDone || terminal ? ""
                                                      : "containers with incomplete status: " +
                                                            names(notInitialized)));
    conditions.push_back(cond("Ready", containersReady, containersReady ? "" : notReadyReason,
                              containersReady ? "" : notReadyMessage));
    conditions.push_back(cond("ContainersReady", containersReady,
                              containersReady ? "" : notReadyReason,
                              containersReady ? "" : notReadyMessage));
  }
  conditions.push_back(cond("PodScheduled", true, "", ""));
  status["conditions"] = conditions;
  if (!initStatuses.empty()) status["initContainerStatuses"] = initStatuses;
  if (!appStatuses.empty()) status["containerStatuses"] = appStatuses;

  std::string text = dumpJson(status);
  if (text == lastStatus_) return;
  StepTimer timer(uid_, "postStatus");
  Json patch = {{"status", status}};
  // Fields this status does not set are cleared (a merge patch keeps what it does not name).
  for (const char* field : {"reason", "message", "podIP", "podIPs", "initContainerStatuses",
                            "nominatedNodeName"}) {
    if (!status.contains(field) && old.contains(field)) patch["status"][field] = nullptr;
  }
  const Json& md = pod.value("metadata", Json::object());
  auto r = ctx_.client->patch(kPods, getString(md, "namespace"), getString(md, "name"),
                              api::PatchType::kMerge, dumpJson(patch), {}, "status");
  if (!r.ok()) {
    if (!r.error().is(ErrorCode::kNotFound)) {
      log::warning("updating the pod status failed", {{"pod", getString(md, "name")}, {"error", r.error().message()}});
    }
    return;
  }
  lastStatus_ = std::move(text);
}

}  // namespace nave::agent
