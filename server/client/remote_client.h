// The remote Client: the same operations over HTTPS to an API server (libcurl, OpenSSL),
// authenticated with a client certificate or a bearer token. Used by agents on other machines;
// the tests run it against the in-process client to prove both behave the same.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "server/client/client.h"

namespace nave::client {

struct RemoteOptions {
  std::string serverUrl;  // "https://10.0.0.1:6443"
  std::string caPem;      // the cluster CA: the server certificate must verify against it
  std::string certPem;    // client certificate (optional)
  std::string keyPem;
  std::string bearerToken;  // alternative to the client certificate
  std::string userAgent = "nave";
  long timeoutSeconds = 60;  // for non-watch requests
};

Result<std::unique_ptr<Client>> newRemoteClient(const RemoteOptions& options);

// Builds a RemoteOptions from a kubeconfig file's current context (embedded data only).
Result<RemoteOptions> remoteOptionsFromKubeconfig(const std::string& path);

}  // namespace nave::client
