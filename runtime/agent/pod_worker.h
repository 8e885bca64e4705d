// PodWorker: runs one pod. Its thread reconciles the pod's spec with what runs (the kubelet's
// syncPod): admission, the sandbox and its network, volumes and pod files, images, init
// containers in order, restartable sidecars, app containers, restarts with CrashLoopBackOff,
// probes and lifecycle hooks, graceful termination; and it reports the pod's status. It is
// woken by a new pod object, a container exit, or its own next deadline (a probe, a backoff).
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/json.h"
#include "runtime/agent/agent_context.h"
#include "runtime/agent/pod_manager.h"

namespace nave::agent {

class PodWorker {
 public:
  using Clock = std::chrono::steady_clock;

  PodWorker(AgentContext& ctx, Json pod);
  ~PodWorker();

  // Adopts a sandbox and containers an earlier agent left (before start()).
  void adoptSandbox(const runtime::SandboxStatus& sandbox);
  void adoptContainer(const runtime::ContainerStatus& container);

  void start();
  // Ends the worker's thread; the pod's containers keep running (agent shutdown).
  void stop();
  // The latest object from the API.
  void update(Json pod);
  // The API object is gone: terminate and clean up.
  void removed();
  void wake();
  bool finished() const;

  std::string uid() const { return uid_; }
  Json pod() const;
  bool admitted() const;
  // The API object's phase is Succeeded or Failed.
  bool terminal() const;

  // What a pod asks of the node: its containers' requests summed, and its host ports
  // ("TCP/0.0.0.0:8080"); with `initContainers`, theirs added.
  struct Demand {
    int64_t milliCpu = 0;
    int64_t memoryBytes = 0;
    std::set<std::string> hostPorts;
  };
  static Demand demandOf(const Json& spec, bool initContainers);
  // This pod's (app containers), for the admission of others; fixed when the worker is made,
  // as the requests of a pod are.
  const Demand& demand() const { return demand_; }

  // For the node API: the running (or, with `previous`, the last exited) instance of a
  // container, the pod's network namespace and IP.
  struct ContainerInstance {
    std::string id;
    std::string logPath;
    bool running = false;
  };
  std::optional<ContainerInstance> container(const std::string& name, bool previous) const;
  std::string netnsPath() const;

 private:
  enum class Kind { kInit, kSidecar, kApp };
  struct Instance {
    std::string id;
    int attempt = 0;
    std::string logPath;
  };
  struct Container {
    std::string name;
    Kind kind = Kind::kApp;
    Json spec;
    std::vector<Instance> instances;  // oldest first; at most two kept (current, previous)
    runtime::ContainerStatus current;  // of instances.back(), refreshed each sync
    bool haveCurrent = false;
    runtime::ContainerStatus previous;
    bool havePrevious = false;
    // Not running: why (ContainerCreating, PodInitializing, ErrImagePull, ImagePullBackOff,
    // CrashLoopBackOff, CreateContainerConfigError) and the message.
    std::string waitingReason = "ContainerCreating", waitingMessage;
    Clock::time_point backoffUntil{};
    std::chrono::seconds backoff{0};
    Clock::time_point imageBackoffUntil{};
    std::chrono::seconds imageBackoff{0};
    // After a failure to create or start it (CreateContainerConfigError, CreateContainerError,
    // RunContainerError): not tried again before this, whatever wakes the worker.
    Clock::time_point retryAt{};
    // Probes (results of the current instance).
    bool started = false;  // startupProbe passed (or none)
    bool ready = false;
    int livenessFailures = 0, readinessFailures = 0, startupFailures = 0;
    int readinessSuccesses = 0;
    Clock::time_point nextLiveness{}, nextReadiness{}, nextStartup{};
    bool watched = false;  // its exit is being watched
    std::string lastTerminationMessage;
  };

  void run();
  void sync();
  // Returns false while the pod cannot run yet (retry later).
  bool ensureSandbox();
  bool ensureVolumes();
  Result<void> admit();
  void syncInitContainers(bool& initialized);
  void syncAppContainers();
  // Starts a new instance of `c` unless backing off or its image is missing.
  void startContainer(Container& c);
  bool pullImage(Container& c);
  void refreshStatuses();
  void runProbes();
  bool needsRestart(const Container& c) const;
  void terminate(bool podGone);
  void killContainer(Container& c, std::chrono::seconds grace, const std::string& reason);
  void removeInstance(const Instance& i);
  void cleanUp();
  void postStatus();
  void publish();
  Json containerStatusJson(const Container& c) const;
  void watchExit(Container& c);
  Clock::time_point nextDeadline() const;
  std::string fieldPath(const Container& c) const;
  void event(const Container* c, const std::string& type, const std::string& reason,
             const std::string& message);

  AgentContext& ctx_;
  const std::string uid_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  const Demand demand_;
  std::optional<SetupSlots::Hold> setupSlot_;  // held by sync() while it sets a new pod up
  Json pod_;                   // guarded by mu_
  bool podGone_ = false;       // guarded by mu_
  bool woken_ = true;          // guarded by mu_ (the first sync runs at once)
  bool stopping_ = false;      // guarded by mu_
  bool finished_ = false;      // guarded by mu_
  bool admitted_ = false;      // guarded by mu_
  std::string sandboxId_;      // guarded by mu_
  std::string netnsPath_;      // guarded by mu_
  struct Published {
    std::optional<ContainerInstance> current, previous;
  };
  std::map<std::string, Published> published_;  // by container name; guarded by mu_

  // Worker-thread state.
  std::map<std::string, Container> containers_;  // by name
  Json current_;  // the pod object this sync works on (a copy of pod_)
  Json spec_;
  std::vector<std::string> order_;  // init containers, then app containers
  std::string podIp_;
  bool hostNetwork_ = false;
  std::map<std::string, std::string> volumes_;
  PodFilePaths podFiles_;
  bool volumesReady_ = false;
  Clock::time_point volumesRetry_{};
  std::string startTime_;
  std::string lastStatus_;
  bool rejected_ = false;
  std::string rejectReason_, rejectMessage_;
  Clock::time_point nextVolumeRefresh_{};
  std::thread thread_;
};

}  // namespace nave::agent
