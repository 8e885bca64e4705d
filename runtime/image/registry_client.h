// RegistryClient: the OCI distribution API against one endpoint for one repository, with the
// registry's authentication: a 401 with `WWW-Authenticate: Bearer realm=...,service=...,
// scope=...` gets a token from the realm (anonymously, with basic credentials, or with an
// identity token through the OAuth2 refresh-token grant) and the request is retried with it;
// a Basic challenge is answered with the credentials. Transient failures (5xx, 429, broken
// transfers) are retried a few times from the start.
//
// Thread-safety: all methods may be called concurrently (mu_ guards the authorization).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "common/result.h"
#include "runtime/image/content_store.h"
#include "runtime/image/http_client.h"
#include "runtime/image/manifest.h"
#include "runtime/image/registries_config.h"

namespace nave::runtime {

struct FetchedManifest {
  std::string bytes;
  std::string mediaType;  // Content-Type
  std::string digest;     // sha256 of bytes
};

class RegistryClient {
 public:
  RegistryClient(RegistryEndpoint endpoint, std::string repository,
                 std::optional<RegistryAuth> credentials);

  const RegistryEndpoint& endpoint() const { return endpoint_; }
  const std::string& repository() const { return repository_; }
  // "http://127.0.0.1:5000/v2/library/busybox" (for messages).
  std::string describe() const;

  // GET /v2/NAME/manifests/REFERENCE (a tag or a digest; a digest is verified). kNotFound for
  // unknown manifests, kUnauthorized/kForbidden when access is refused, kUnavailable when the
  // endpoint cannot be reached, kBadRequest for invalid answers.
  Result<FetchedManifest> fetchManifest(const std::string& reference);
  // GET /v2/NAME/blobs/DIGEST into `writer` (emptied first), reporting bytes received so far.
  // The caller commits the writer, which verifies the digest.
  Result<void> fetchBlob(const Descriptor& blob, BlobWriter& writer,
                         const std::function<void(int64_t)>& onBytes = {});

 private:
  // One request with authentication (and the plain HTTP fallback of loopback endpoints).
  Result<HttpResponse> send(HttpRequest request);
  // Answers a 401's challenge: sets authorization_ or fails.
  Result<void> authorize(const HttpResponse& challenge);
  Result<std::string> fetchToken(const std::string& realm, const std::string& service,
                                 const std::string& scope);
  Error statusError(const HttpResponse& r, std::string_view what) const;
  HttpRequest newRequest(const std::string& path) const;

  RegistryEndpoint endpoint_;
  std::string repository_;
  std::optional<RegistryAuth> credentials_;
  mutable std::mutex mu_;
  std::string authorization_;  // guarded by mu_: "Bearer ..." / "Basic ..."
  bool plainHttp_ = false;     // guarded by mu_: the TLS attempt on a loopback endpoint failed
};

// The parameters of an RFC 7235 challenge: `Bearer realm="x",service="y"` -> scheme "bearer"
// and {realm: x, service: y}.
struct AuthChallenge {
  std::string scheme;  // lower case
  std::map<std::string, std::string> params;
};
std::vector<AuthChallenge> parseAuthChallenges(std::string_view header);

}  // namespace nave::runtime
