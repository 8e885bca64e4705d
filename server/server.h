// Server: everything `nave server` runs in one process, started in dependency order (the
// store, then the API server and its watch cache, then the components that are API clients)
// and stopped in reverse.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "server/client/client.h"
#include "server/config.h"
#include "server/pki/pki.h"

namespace nave {

class Server {
 public:
  static Result<std::unique_ptr<Server>> start(const ServerConfig& config);
  virtual ~Server() = default;
  // Stops every component; returns when they have finished.
  virtual void stop() = 0;

  // The configuration with its defaults resolved (node name, advertise address).
  virtual const ServerConfig& config() const = 0;
  // A client calling the API in process as `user` in `groups` (the local agent's).
  // The cluster CA (PEM), and a node API serving certificate for a local node, kept in `dir`.
  virtual std::string clusterCaPem() const = 0;
  virtual Result<pki::KeyPair> kubeletServingCertificate(const std::string& dir,
                                                         const std::string& nodeName,
                                                         const std::vector<std::string>& addresses) = 0;
  virtual std::unique_ptr<client::Client> newClient(const std::string& user,
                                                    const std::vector<std::string>& groups,
                                                    const std::string& userAgent) = 0;
};

}  // namespace nave
