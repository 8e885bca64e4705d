// ServiceProxy: the node's kube-proxy. It watches Services and EndpointSlices through the
// agent's shared informers and keeps the `ip nave` table (Proxier) in step: a full sync at
// start and after a failure, then one transaction per batch of changes (changes arriving
// within `coalesce` of each other are applied together), holding only the changed services.
//
// Stopping leaves the rules in place, so that traffic keeps flowing while the agent restarts
// (as kube-proxy); uninstall() removes them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "common/result.h"
#include "network/proxy/proxier.h"
#include "server/controllers/informer_factory.h"

namespace nave::network::proxy {

struct ServiceProxyOptions {
  std::string nodeName;
  std::string clusterCidr = "10.42.0.0/16";
  std::string serviceCidr;  // "": traffic to unused service addresses is left alone
  std::chrono::milliseconds coalesce{5};
};

class ServiceProxy {
 public:
  // Asks `informers` for Services and EndpointSlices (call before they start) and opens the
  // nftables socket in the calling thread's network namespace, where the rules will be.
  static Result<std::unique_ptr<ServiceProxy>> create(controllers::InformerFactory& informers,
                                                      ServiceProxyOptions options);
  ~ServiceProxy() { stop(); }

  // Once the informers have listed: lets bridged pod traffic through conntrack
  // (net.bridge.bridge-nf-call-iptables=1 in this namespace), syncs everything, and starts the
  // sync thread. Fails when the first sync does.
  Result<void> start();
  // Ends the sync thread; the rules stay.
  void stop();
  // Stops and deletes the table.
  Result<void> uninstall();

 private:
  ServiceProxy(controllers::InformerFactory& informers, nft::NftSocket nft, NetlinkSocket conntrack,
               ServiceProxyOptions o, ProxierOptions proxier);
  void enqueue(const std::string& serviceKey);
  void run();
  std::optional<Service> current(const std::string& key) const;
  Result<void> syncAll();

  ServiceProxyOptions options_;
  controllers::Informer& services_;
  controllers::Informer& slices_;
  Proxier proxier_;  // used by start() and then the sync thread only

  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> pending_;  // service keys; guarded by mu_
  bool needFullSync_ = false;      // guarded by mu_
  bool stopping_ = false;          // guarded by mu_
  std::thread thread_;
};

}  // namespace nave::network::proxy
