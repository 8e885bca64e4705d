// The controllers and the scheduler `nave server` runs (each group under its Lease). One line
// per controller, in the order they are constructed and started.
#include "cmd/commands.h"
#include "server/scheduler/scheduler.h"

namespace nave::cmd {

void addControllers(ServerConfig& config) {
  auto& c = config.controllers;
  auto& s = config.schedulers;
  (void)c;
  s.push_back({"scheduler", [](controllers::ControllerContext& ctx) {
                 return std::make_unique<scheduler::Scheduler>(ctx);
               }});
}

}  // namespace nave::cmd
