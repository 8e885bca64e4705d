// The controllers and the scheduler `nave server` runs (each group under its Lease). One line
// per controller, in the order they are constructed and started.
#include "cmd/commands.h"
#include "server/controllers/core/garbage_collector.h"
#include "server/controllers/core/node_lifecycle_controller.h"
#include "server/controllers/core/service_account_controller.h"
#include "server/controllers/sets/daemonset_controller.h"
#include "server/controllers/sets/statefulset_controller.h"

namespace nave::cmd {

void addControllers(ServerConfig& config) {
  auto& c = config.controllers;
  auto& s = config.schedulers;
  using controllers::ControllerContext;
  c.push_back({"garbage-collector", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::GarbageCollector>(ctx);
               }});
  c.push_back({"serviceaccount", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::ServiceAccountController>(ctx);
               }});
  c.push_back({"node-lifecycle", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::NodeLifecycleController>(ctx);
               }});
  c.push_back({"statefulset", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::StatefulSetController>(ctx);
               }});
  c.push_back({"daemonset", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::DaemonSetController>(ctx);
               }});
  (void)s;
}

}  // namespace nave::cmd
