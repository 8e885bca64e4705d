// The controllers and the scheduler `nave server` runs (each group under its Lease). One line
// per controller, in the order they are constructed and started.
#include "cmd/commands.h"
#include "server/controllers/batch/cronjob_controller.h"
#include "server/controllers/batch/job_controller.h"
#include "server/controllers/batch/ttl_after_finished_controller.h"

namespace nave::cmd {

void addControllers(ServerConfig& config) {
  using controllers::ControllerContext;
  namespace batch = controllers::batch;
  auto& c = config.controllers;
  auto& s = config.schedulers;
  c.push_back({"job", [](ControllerContext& ctx) { return std::make_unique<batch::JobController>(ctx); }});
  c.push_back({"cronjob", [](ControllerContext& ctx) { return std::make_unique<batch::CronJobController>(ctx); }});
  c.push_back({"ttl-after-finished",
               [](ControllerContext& ctx) { return std::make_unique<batch::TtlAfterFinishedController>(ctx); }});
  (void)s;
}

}  // namespace nave::cmd
