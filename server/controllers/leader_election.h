// LeaderElector: leadership through a coordination.k8s.io Lease, as client-go's leaderelection
// with Kubernetes' defaults (lease 15 s, renewed every 2 s, given up after 10 s without a
// successful renewal). Several `nave server`s sharing a datastore run their controllers and
// scheduler with one elector each, so that exactly one copy of each is active.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "server/client/client.h"

namespace nave::controllers {

struct LeaderElectionConfig {
  std::string leaseNamespace = "kube-system";
  std::string leaseName;   // e.g. "kube-controller-manager", "kube-scheduler"
  std::string identity;    // this process, e.g. "HOSTNAME_UUID"
  std::chrono::milliseconds leaseDuration{15000};
  std::chrono::milliseconds renewDeadline{10000};
  std::chrono::milliseconds retryPeriod{2000};
};

class LeaderElector {
 public:
  // onStarted runs (on the elector's thread) when leadership is acquired, onStopped when it is
  // lost or given up; onStarted must return (start threads, not run in it).
  LeaderElector(client::Client& client, LeaderElectionConfig config, std::function<void()> onStarted,
                std::function<void()> onStopped);
  ~LeaderElector();
  void start();
  // Stops, releasing the lease when held (so that another server takes over at once).
  void stop();
  bool leading() const { return leading_; }

 private:
  void run();
  // One attempt to acquire or renew; true when this process holds the lease afterwards.
  bool tryAcquireOrRenew();
  void release();
  bool sleepFor(std::chrono::milliseconds d);  // false when stopping

  client::Client& client_;
  LeaderElectionConfig config_;
  std::function<void()> onStarted_, onStopped_;
  std::atomic<bool> leading_{false};
  std::string observedRecord_;  // holder and renewTime last seen (elector thread only)
  std::chrono::steady_clock::time_point observedAt_{};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace nave::controllers
