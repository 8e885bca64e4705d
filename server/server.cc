#include "server/server.h"

namespace nave {

Result<std::unique_ptr<Server>> Server::start(const ServerConfig& config) {
  return Error(ErrorCode::kUnavailable, "the API server is being assembled");
}

}  // namespace nave
