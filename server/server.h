// Server: everything `nave server` runs in one process, started in dependency order (the
// store, then the API server and its watch cache, then the components that are API clients)
// and stopped in reverse.
#pragma once

#include <memory>

#include "common/result.h"
#include "server/config.h"

namespace nave {

class Server {
 public:
  static Result<std::unique_ptr<Server>> start(const ServerConfig& config);
  virtual ~Server() = default;
  // Stops every component; returns when they have finished.
  virtual void stop() = 0;
};

}  // namespace nave
