// The controllers and the scheduler `nave server` runs (each group under its Lease). One line
// per controller, in the order they are constructed and started.
#include "cmd/commands.h"

namespace nave::cmd {

void addControllers(ServerConfig& config) {
  auto& c = config.controllers;
  auto& s = config.schedulers;
  (void)c;
  (void)s;
}

}  // namespace nave::cmd
