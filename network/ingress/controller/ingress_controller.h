// IngressController: the node's ingress controller (what k3s runs as Traefik behind
// ServiceLB). It watches Ingresses of the `nave` IngressClass (or of none while nave is the
// default class), IngressClasses, Services, EndpointSlices and Secrets through the agent's
// shared informers, builds a RouteTable and the TLS certificates from them on every change,
// and hands both to the IngressProxy listening on the node's ports 80 and 443.
//
// Status (status.loadBalancer) is not written here but by the server's IngressStatusController,
// once for the cluster.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "common/result.h"
#include "network/ingress/proxy.h"
#include "server/controllers/informer_factory.h"

namespace nave::ingress {

class IngressController {
 public:
  // Binds the proxy's ports and asks `informers` for the informers it needs: call before the
  // factory is started. Errors: a port is in use, the default certificate cannot be made.
  static Result<std::unique_ptr<IngressController>> create(controllers::InformerFactory& informers,
                                                           const ProxyOptions& options);
  ~IngressController();

  // Starts rebuilding the routes on changes; call once the informers have synced.
  void start();
  void stop();

  IngressProxy& proxy() { return *proxy_; }

 private:
  explicit IngressController(controllers::InformerFactory& informers);
  void run();
  void rebuild();
  void changed();

  controllers::Informer& ingresses_;
  controllers::Informer& classes_;
  controllers::Informer& services_;
  controllers::Informer& slices_;
  controllers::Informer& secrets_;
  pki::KeyPair defaultCertificate_;
  std::unique_ptr<IngressProxy> proxy_;
  std::shared_ptr<const CertificateStore> certificates_;  // touched by the rebuild thread only

  std::mutex mu_;
  std::condition_variable cv_;
  bool dirty_ = true;     // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace nave::ingress
