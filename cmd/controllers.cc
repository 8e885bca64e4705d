// The controllers and the scheduler `nave server` runs (each group under its Lease). One line
// per controller, in the order they are constructed and started.
#include "cmd/commands.h"
#include "server/controllers/workloads/deployment_controller.h"
#include "server/controllers/workloads/replicaset_controller.h"

namespace nave::cmd {

void addControllers(ServerConfig& config) {
  using controllers::ControllerContext;
  auto& c = config.controllers;
  auto& s = config.schedulers;
  c.push_back({"replicaset", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::workloads::ReplicaSetController>(ctx);
               }});
  c.push_back({"deployment", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::workloads::DeploymentController>(ctx);
               }});
  (void)s;
}

}  // namespace nave::cmd
