// The Node object and its Lease: registration, status (capacity, allocatable, conditions,
// addresses, nodeInfo, images) and heartbeats, as the kubelet keeps them
// (pkg/kubelet/kubelet_node_status.go, nodestatus/setters.go, nodelease).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/json.h"
#include "common/result.h"
#include "server/client/client.h"

namespace nave::agent {

struct NodeIdentity {
  std::string name;
  std::string ip;
  std::string podCidr;  // set in spec.podCIDR of a Node that has none; empty: the node IPAM's
  std::string dataDir;  // for ephemeral-storage and DiskPressure
  int maxPods = 110;
  int kubeletPort = 10250;
  bool controlPlane = false;
  std::vector<std::string> labels;  // "key=value"
};

// What the machine has, read from /proc, /sys and statvfs.
struct NodeResources {
  int64_t milliCpu = 0;
  int64_t memoryBytes = 0;
  int64_t ephemeralBytes = 0;
  int64_t memoryAvailableBytes = 0;
  int64_t ephemeralAvailableBytes = 0;
  int64_t pidMax = 0;
  int64_t processes = 0;
};
NodeResources readNodeResources(const std::string& dataDir);

// The kubelet's default hard eviction thresholds, which allocatable subtracts.
constexpr int64_t kEvictionMemoryBytes = 100 * 1024 * 1024;  // memory.available<100Mi
constexpr int kEvictionNodefsPercent = 10;                   // nodefs.available<10%

class NodeStatusReporter {
 public:
  using ImagesFn = std::function<Json()>;  // status.images

  NodeStatusReporter(client::Client& client, NodeIdentity identity, ImagesFn images);
  ~NodeStatusReporter();

  // Creates the Node (or adopts an existing one with the same name), posts its status and
  // the Lease; then keeps both current from a thread: the Lease renewed every 10 s, the
  // status re-evaluated every 10 s and posted when it changed or every 5 minutes.
  Result<void> start();
  void stop();
  // Posts the status soon (images or readiness changed).
  void poke();
  // The Node's spec.podCIDR, once it has one (the node IPAM controller assigns it after
  // registration; a restarted agent finds it at once). Watches the Node, logging every 10 s;
  // kUnavailable after `timeout`. Call after start().
  Result<std::string> waitForPodCidr(std::chrono::seconds timeout);

  const NodeResources& resources() const { return resources_; }
  // The node's allocatable, for admission: milli-CPU, memory and pods.
  int64_t allocatableMilliCpu() const { return resources_.milliCpu; }
  int64_t allocatableMemory() const { return resources_.memoryBytes - kEvictionMemoryBytes; }
  int64_t allocatableEphemeral() const;
  int maxPods() const { return identity_.maxPods; }

 private:
  Result<void> registerNode();
  Json statusObject(bool heartbeat);
  Result<void> postStatus();
  Result<void> renewLease();
  void run();

  client::Client& client_;
  const NodeIdentity identity_;
  ImagesFn images_;
  NodeResources resources_;
  std::string nodeUid_;
  Json registered_;                  // the Node as registration left it
  Json conditions_ = Json::array();  // the last posted conditions (transition times kept)
  std::string lastPosted_;           // the last posted status without heartbeat times
  std::chrono::steady_clock::time_point lastPostTime_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  bool poked_ = false;     // guarded by mu_
  std::thread thread_;
};

}  // namespace nave::agent
