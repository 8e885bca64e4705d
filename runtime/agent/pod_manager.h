// PodManager: the pods bound to this node and one PodWorker per pod. It watches the node's
// pods through an informer, hands each worker the pod's latest object, watches every running
// container's exit from one thread, and on start adopts the sandboxes and containers that an
// earlier agent left running (labels tie them to their pods).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "runtime/agent/agent_context.h"
#include "server/controllers/informer.h"

namespace nave::agent {

class PodWorker;

// Watches container exits for the workers: one poll loop over the runtime's exit notifiers.
class ExitWatcher {
 public:
  ExitWatcher();
  ~ExitWatcher();
  // Calls `onExit` (from the watcher's thread) once the container has exited.
  void watch(const std::string& containerId, UniqueFd notifier, std::function<void()> onExit);
  void forget(const std::string& containerId);
  void stop();

 private:
  void run();
  struct Entry {
    UniqueFd fd;
    std::function<void()> onExit;
  };
  std::mutex mu_;
  std::map<std::string, Entry> entries_;  // guarded by mu_
  UniqueFd wake_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// How many pods may be set up at once (sandbox, pod network, containers created and
// started). The kernel runs most of that work one at a time (the RTNL mutex for network
// namespaces and veths, the namespace semaphore for mounts, cgroup_mutex), so a burst of pods
// all set up together only adds contention and preempted lock holders, and every pod then
// finishes late: with a few per core at once they start in the order they came, sooner.
// Slots go to waiters first come, first served.
class SetupSlots {
 public:
  explicit SetupSlots(int slots) : free_(slots) {}
  size_t waiting() const {
    std::lock_guard lock(mu_);
    return waiters_.size();
  }

  class [[nodiscard]] Hold {
   public:
    explicit Hold(SetupSlots& slots) : slots_(&slots) { slots_->acquire(); }
    ~Hold() { slots_->release(); }
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;

   private:
    SetupSlots* slots_;
  };

 private:
  struct Waiter {
    std::condition_variable cv;
    bool granted = false;
  };
  void acquire();
  void release();

  mutable std::mutex mu_;
  int free_;                     // guarded by mu_
  std::deque<Waiter*> waiters_;  // guarded by mu_; oldest first
};

class PodManager {
 public:
  explicit PodManager(AgentContext& context);
  ~PodManager();

  // Adopts what earlier agents left, starts the informer and the workers.
  Result<void> start();
  void stop();

  // The running pods' admitted requests (for admission of new pods), excluding `uid`.
  struct Usage {
    int64_t milliCpu = 0;
    int64_t memoryBytes = 0;
    int pods = 0;
    std::set<std::string> hostPorts;  // "TCP/0.0.0.0:8080"
  };
  Usage usage(const std::string& excludeUid);

  // Four per CPU: enough to keep the CPUs busy while some wait on the kernel's locks.
  SetupSlots& setupSlots() { return setupSlots_; }

  // The worker of a pod (streaming and probes look pods up), or null.
  std::shared_ptr<PodWorker> worker(const std::string& ns, const std::string& name);

 private:
  void onPodChanged(const std::string& key);
  // Takes the workers that are done out of workers_ (needs mu_); the caller stops them.
  std::vector<std::shared_ptr<PodWorker>> reapFinished();

  AgentContext& ctx_;
  SetupSlots setupSlots_;
  controllers::Informer informer_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<PodWorker>> workers_;  // by uid; guarded by mu_
  std::map<std::string, std::string> uidByKey_;                // ns/name -> uid; guarded by mu_
};

}  // namespace nave::agent
