// k3s' registries.yaml and the endpoints a registry host resolves to.
//
//   mirrors:
//     docker.io:                      # or "*" for every registry without its own entry
//       endpoint: ["http://127.0.0.1:5000", "https://mirror.example.com/prefix"]
//       rewrite: {"^rancher/(.*)": "mirror/rancher-images/$1"}
//   configs:
//     "mirror.example.com":           # an endpoint's host[:port], a registry name, or "*"
//       auth: {username: u, password: p}   # or auth: base64(u:p), or identitytoken
//       tls: {ca_file: ..., cert_file: ..., key_file: ..., insecure_skip_verify: false}
//
// A registry's endpoints are its mirror endpoints in order, then its default endpoint
// (https://HOST, https://registry-1.docker.io for docker.io), which is always tried last.
// Rewrites apply to mirror endpoints only, as in k3s: the first rule (in key order) whose
// regular expression matches the repository replaces it ($1... are its groups).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "runtime/image/image_store.h"

namespace nave::runtime {

struct RegistryTls {
  std::string caFile, certFile, keyFile;
  bool insecureSkipVerify = false;
};

struct RegistryHostConfig {
  std::optional<RegistryAuth> auth;
  std::optional<RegistryTls> tls;
};

struct RewriteRule {
  std::string pattern;
  std::string replacement;
  std::shared_ptr<const std::regex> regex;
};

struct MirrorConfig {
  std::vector<std::string> endpoints;
  std::vector<RewriteRule> rewrites;
};

// One place to pull a registry's images from.
struct RegistryEndpoint {
  std::string scheme;      // "https" or "http"
  std::string host;        // host[:port] as in the URL
  std::string pathPrefix;  // before /v2 (usually empty)
  bool isMirror = false;   // false for the default endpoint
  // Loopback default endpoints: try TLS (unverified), fall back to plain HTTP.
  bool httpFallback = false;
  std::vector<RewriteRule> rewrites;
  RegistryTls tls;
  std::optional<RegistryAuth> auth;

  // "https://host/prefix/v2/"
  std::string apiBase() const;
  // The repository to ask this endpoint for (rewritten on mirrors).
  std::string repositoryFor(const std::string& repository) const;
};

struct RegistriesConfig {
  std::map<std::string, MirrorConfig> mirrors;
  std::map<std::string, RegistryHostConfig> configs;

  // kBadRequest for documents that are not registries.yaml (wrong types, bad regexes, bad
  // endpoint URLs or base64).
  static Result<RegistriesConfig> parse(std::string_view yaml);
  // An empty path or a missing file: no configuration.
  static Result<RegistriesConfig> load(const std::string& path);

  // The endpoints for images of `registry` ("docker.io", "127.0.0.1:5000"), in order.
  std::vector<RegistryEndpoint> endpointsFor(const std::string& registry) const;
};

// Credentials from a base64 "user:password" (the `auth` field of registries.yaml and
// dockerconfigjson).
Result<RegistryAuth> decodeAuthField(std::string_view base64);
// "index.docker.io", "https://index.docker.io/v1/" and "registry-1.docker.io" are docker.io;
// other keys lose their scheme and path.
std::string normalizeRegistryHost(std::string_view key);
bool isLoopbackHost(std::string_view hostPort);

}  // namespace nave::runtime
