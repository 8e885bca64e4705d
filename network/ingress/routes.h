// The ingress routing table: which backend serves a request, by host and path, following the
// networking.k8s.io/v1 Ingress rules.
//
// - Hosts: a rule host matches the request's Host (port removed, case-insensitive) exactly,
//   or as a wildcard "*.example.com", which matches exactly one more label ("a.example.com",
//   not "example.com" nor "a.b.example.com"). A rule without a host matches every host.
//   The most specific host entry with a matching path wins (exact, then wildcard, then
//   host-less rules); when none has one, the default backend serves, else 404.
// - Paths: Exact compares the whole path; Prefix compares '/'-separated elements ("/foo"
//   matches "/foo", "/foo/" and "/foo/bar", not "/foobar"; a trailing '/' in the rule is
//   ignored; "/" matches everything); ImplementationSpecific is treated as Prefix. The
//   longest rule path wins, Exact before Prefix at equal length.
// - Several Ingresses merge: for the same host, path and type, and for the default backend,
//   the oldest Ingress (creationTimestamp, then namespace/name) wins.
//
// Tables are built once per change of the cluster state and then only read (thread-safe),
// except for the round-robin counters, which are atomic.
#pragma once

#include <netinet/in.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/json.h"

namespace nave::ingress {

// The IngressClass the server creates, and the controller name in its spec.controller.
inline constexpr char kIngressClassName[] = "nave";
inline constexpr char kControllerName[] = "nave.io/ingress-controller";
inline constexpr char kDefaultClassAnnotation[] = "ingressclass.kubernetes.io/is-default-class";
inline constexpr char kLegacyClassAnnotation[] = "kubernetes.io/ingress.class";

// A Service port's ready endpoints, shared by every route to it.
struct Upstream {
  std::string name;                  // "namespace/service:port", for logs
  std::vector<sockaddr_in> endpoints;  // ready endpoints; empty answers 503
  mutable std::atomic<uint32_t> next{0};

  // The next endpoint in round-robin order, or nullptr when there is none.
  const sockaddr_in* pick() const {
    if (endpoints.empty()) return nullptr;
    return &endpoints[next.fetch_add(1, std::memory_order_relaxed) % endpoints.size()];
  }
};

enum class PathType { kExact, kPrefix };

class RouteTable {
 public:
  // Adds a path of a host ("" for every host, "*.example.com" for a wildcard). Returns false
  // when the same host, path and type are already routed (the earlier one stays).
  bool addPath(std::string_view host, std::string_view path, PathType type,
               std::shared_ptr<const Upstream> upstream);
  // Sets the default backend unless one is set already (the earlier one stays).
  void setDefaultBackend(std::shared_ptr<const Upstream> upstream);
  // Orders each host's paths for matching; call once after the last add.
  void finish();

  // The upstream serving `host` (a Host header, port allowed) and `path` (decoded), or
  // nullptr when nothing matches (404).
  const Upstream* match(std::string_view host, std::string_view path) const;

  size_t pathCount() const;

 private:
  struct PathRoute {
    std::string path;  // Prefix paths without their trailing '/' ("/" becomes "")
    PathType type;
    std::shared_ptr<const Upstream> upstream;
  };
  using Paths = std::vector<PathRoute>;
  static bool add(Paths& paths, std::string_view path, PathType type,
                  std::shared_ptr<const Upstream> upstream);
  static const Upstream* matchPaths(const Paths& paths, std::string_view path);

  std::unordered_map<std::string, Paths> exact_;
  std::unordered_map<std::string, Paths> wildcard_;  // keyed by the suffix, ".example.com"
  Paths anyHost_;
  std::shared_ptr<const Upstream> default_;
};

// A TLS certificate an Ingress names, for the hosts listed with it.
struct TlsCertificate {
  std::vector<std::string> hosts;  // exact or "*.example.com"; empty: the ingress's rule hosts
  std::string secret;              // "namespace/name"
  std::string certPem, keyPem;
};

// What the controller reads from the cluster to build a table (the informers' state).
struct ClusterState {
  std::vector<Json> ingresses;  // already filtered to the ones this controller serves
  std::function<std::optional<Json>(const std::string& ns, const std::string& name)> service;
  // The EndpointSlices of a Service (label kubernetes.io/service-name).
  std::function<std::vector<Json>(const std::string& ns, const std::string& service)> slices;
  std::function<std::optional<Json>(const std::string& ns, const std::string& name)> secret;
};

struct IngressRoutes {
  std::shared_ptr<RouteTable> table;
  std::vector<TlsCertificate> certificates;  // oldest Ingress first
};

// Builds the table and the certificate list from the served Ingresses. Backends that cannot
// be resolved (no Service, no such port, no ready endpoint) get an upstream without
// endpoints (503); Secrets that are missing or not kubernetes.io/tls are skipped.
IngressRoutes buildRoutes(const ClusterState& state);

// Whether an Ingress is this controller's: spec.ingressClassName names one of `ownClasses`
// (IngressClasses whose spec.controller is kControllerName); without one, the legacy
// annotation does; without either, when one of ownClasses is the default class.
bool servedBy(const Json& ingress, const std::vector<Json>& ownClasses);

// The Host header's host: without port, lowercase, without a trailing dot.
std::string normalizeHost(std::string_view host);

}  // namespace nave::ingress
