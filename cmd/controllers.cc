// The controllers and the scheduler `nave server` runs (each group under its Lease). One line
// per controller, in the order they are constructed and started.
#include "cmd/commands.h"
#include "server/controllers/batch/job_controller.h"

namespace nave::cmd {

void addControllers(ServerConfig& config) {
  using controllers::ControllerContext;
  auto& c = config.controllers;
  auto& s = config.schedulers;
  c.push_back({"job", [](ControllerContext& ctx) { return std::make_unique<controllers::batch::JobController>(ctx); }});
  (void)s;
}

}  // namespace nave::cmd
