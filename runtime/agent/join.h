// Joining a cluster (`nave agent --server URL --token TOKEN`), the agent's side of
// server/join_service.h: fetch the cluster CA, check it against the token's hash (a K10
// token pins it; a bare token trusts the CA served on first contact, as k3s does), then obtain
// the node's client certificate (system:node:NAME), its node API serving certificate and the
// cluster settings with the token as HTTP Basic credentials. The credentials are kept in
// DATA/agent (server-ca.crt, client-kubelet.*, serving-kubelet.*, cluster.json) so that an
// agent restarted while the server is down can still start and wait for it.
#pragma once

#include <string>
#include <vector>

#include "common/json.h"
#include "common/result.h"
#include "server/pki/pki.h"

namespace nave::agent {

struct JoinRequest {
  std::string serverUrl;  // https://HOST:6443
  std::string token;      // bare secret or K10<hash>::<user>:<secret>
  std::string nodeName;
  std::vector<std::string> nodeIps;
  std::string agentDir;  // DATA/agent: where the credentials are kept
};

struct NodeCredentials {
  std::string caPem;
  pki::KeyPair client;   // CN=system:node:NAME, O=system:nodes
  pki::KeyPair serving;  // the node API's certificate
  Json settings;         // clusterCidr, serviceCidr, clusterDns, clusterDomain, flannelBackend ...
};

// One attempt to join. Errors: kInvalid (a malformed token or URL), kUnauthorized (the server
// refused the token), kConflict (the server's CA does not match the token's hash),
// kUnavailable (the server could not be reached; retry).
Result<NodeCredentials> joinCluster(const JoinRequest& request);

// The credentials an earlier join saved in `agentDir`, if they belong to a cluster whose CA
// matches `token` (any CA for a bare token) and name `nodeName`. kNotFound otherwise.
Result<NodeCredentials> savedCredentials(const std::string& agentDir, const std::string& token,
                                         const std::string& nodeName);

}  // namespace nave::agent
