// Joining agents, as k3s' supervisor endpoints do: an agent that knows the cluster token
// fetches the cluster CA, checks it against the token, and obtains its node credentials.
//
//   GET /cacerts                       the cluster CA (PEM), unauthenticated: the agent pins it
//                                      with the hash in a K10 token before trusting anything
//   GET /v1-nave/client-kubelet.crt    a client certificate and key for system:node:NAME
//   GET /v1-nave/serving-kubelet.crt   a node API serving certificate and key for NAME, IPs
//   GET /v1-nave/config                the cluster settings an agent needs (JSON)
//
// The /v1-nave requests authenticate with HTTP Basic "node:PASSWORD" (PASSWORD: the token's
// secret) and name the node in the Nave-Node-Name and Nave-Node-IP headers. A wrong token gets
// 401 and nothing is issued.
//
// Tokens: the server's token file (DATA/server/token) holds the secure form
// `K10<sha256 of the CA PEM>::server:<secret>`; `--token` may be the bare secret or that form.
#pragma once

#include <string>
#include <string_view>

#include "common/json.h"
#include "common/result.h"
#include "server/http/http_server.h"
#include "server/pki/pki.h"

namespace nave {

struct ClusterToken {
  std::string caHash;  // hex sha256 of the CA PEM; empty for a bare token
  std::string secret;
};

// Parses "K10<hash>::<user>:<secret>" or a bare secret. kInvalid for an empty or malformed one.
Result<ClusterToken> parseClusterToken(std::string_view token);
// The secure form of `secret` for a cluster whose CA certificate is `caPem`.
std::string secureToken(const std::string& caPem, const std::string& secret);
// Hex sha256 of `data` (how tokens pin the CA).
std::string sha256Hex(std::string_view data);

class JoinService {
 public:
  // `settings`: what GET /v1-nave/config returns.
  JoinService(pki::KeyPair ca, std::string secret, Json settings)
      : ca_(std::move(ca)), secret_(std::move(secret)), settings_(std::move(settings)) {}

  // Answers the request when it is one of the join endpoints; false otherwise.
  bool handle(http::Request& request, http::ResponseWriter& response);

 private:
  bool authorized(const http::Request& request) const;

  pki::KeyPair ca_;
  std::string secret_;
  Json settings_;
};

// Reads or creates the server's token file in `dir` and returns the secret: `given` (bare or
// secure form) when set, else the file's, else a new random one. The file always ends up
// holding the secure form for this CA.
Result<std::string> ensureClusterToken(const std::string& dir, const std::string& given,
                                       const std::string& caPem);

}  // namespace nave
