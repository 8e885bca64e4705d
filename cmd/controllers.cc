// The controllers and the scheduler `nave server` runs (each group under its Lease). One line
// per controller, in the order they are constructed and started.
#include "cmd/commands.h"
#include "server/controllers/batch/cronjob_controller.h"
#include "server/controllers/batch/job_controller.h"
#include "server/controllers/batch/ttl_after_finished_controller.h"
#include "server/controllers/core/disruption_controller.h"
#include "server/controllers/core/garbage_collector.h"
#include "server/controllers/core/node_lifecycle_controller.h"
#include "server/controllers/core/pod_gc_controller.h"
#include "server/controllers/core/service_account_controller.h"

namespace nave::cmd {

void addControllers(ServerConfig& config) {
  auto& c = config.controllers;
  auto& s = config.schedulers;
  using controllers::ControllerContext;
  namespace batch = controllers::batch;
  c.push_back({"garbage-collector", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::GarbageCollector>(ctx);
               }});
  c.push_back({"serviceaccount", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::ServiceAccountController>(ctx);
               }});
  c.push_back({"node-lifecycle", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::NodeLifecycleController>(ctx);
               }});
  c.push_back({"disruption", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::DisruptionController>(ctx);
               }});
  c.push_back({"podgc", [](ControllerContext& ctx) {
                 return std::make_unique<controllers::PodGcController>(ctx);
               }});
  c.push_back({"job", [](ControllerContext& ctx) { return std::make_unique<batch::JobController>(ctx); }});
  c.push_back({"cronjob", [](ControllerContext& ctx) { return std::make_unique<batch::CronJobController>(ctx); }});
  c.push_back({"ttl-after-finished", [](ControllerContext& ctx) {
                 return std::make_unique<batch::TtlAfterFinishedController>(ctx);
               }});
  (void)s;
}

}  // namespace nave::cmd
