// ControllerManager: runs a set of controllers (kube-controller-manager's, or the scheduler)
// in this process while it holds their Lease. On gaining leadership it builds the shared
// informers, constructs the controllers, waits for the informers' first lists and starts the
// controllers; on losing it (or stop()) it stops them all.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "server/controllers/controller.h"
#include "server/controllers/leader_election.h"

namespace nave::controllers {

struct ControllerManagerOptions {
  std::string leaseName;  // "kube-controller-manager", "kube-scheduler"
  std::string identity;   // this server
  std::string dataDir;
  std::vector<NamedControllerFactory> controllers;
};

class ControllerManager {
 public:
  ControllerManager(client::Client& client, registry::TypeRegistry& types, ControllerManagerOptions options);
  ~ControllerManager();
  void start();
  void stop();
  bool leading() const { return elector_ && elector_->leading(); }

 private:
  void startControllers();
  void stopControllers();

  client::Client& client_;
  registry::TypeRegistry& types_;
  ControllerManagerOptions options_;
  std::unique_ptr<LeaderElector> elector_;
  std::mutex mu_;
  // While leading (guarded by mu_): in construction order; stopped in reverse.
  std::unique_ptr<InformerFactory> informers_;
  std::unique_ptr<client::EventRecorder> events_;
  std::unique_ptr<ControllerContext> context_;
  std::vector<std::unique_ptr<Controller>> running_;
};

}  // namespace nave::controllers
