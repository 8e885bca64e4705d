#include "network/ingress/routes.h"

#include <arpa/inet.h>

#include <algorithm>
#include <set>

#include "common/strings.h"

namespace nave::ingress {
namespace {

std::string_view withoutTrailingSlash(std::string_view path, PathType type) {
  if (type == PathType::kPrefix) {
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  }
  return path;
}

bool prefixMatches(std::string_view rule, std::string_view path) {
  if (rule.empty()) return true;  // "/"
  if (!path.starts_with(rule)) return false;
  return path.size() == rule.size() || path[rule.size()] == '/';
}

bool isOwnDefault(const Json& cls) {
  return getString(objectMember(objectMember(cls, "metadata"), "annotations"),
                   kDefaultClassAnnotation) == "true";
}

// The port of a Service that an IngressServiceBackend names, by number or name.
const Json* findServicePort(const Json& service, const Json& port) {
  const Json* ports = findMember(objectMember(service, "spec"), "ports");
  if (ports == nullptr || !ports->is_array()) return nullptr;
  std::string name = getString(port, "name");
  int64_t number = getInt(port, "number");
  for (const Json& p : *ports) {
    if (!p.is_object()) continue;
    if (!name.empty() ? getString(p, "name") == name : getInt(p, "port") == number) return &p;
  }
  return nullptr;
}

// Resolves an IngressBackend of an Ingress in `ns` to its ready endpoints.
std::shared_ptr<Upstream> resolve(const ClusterState& state, const std::string& ns,
                                  const Json& backend) {
  auto up = std::make_shared<Upstream>();
  const Json& svcRef = objectMember(backend, "service");
  std::string svcName = getString(svcRef, "name");
  const Json& portRef = objectMember(svcRef, "port");
  std::string portText = portRef.contains("name") ? getString(portRef, "name")
                                                  : std::to_string(getInt(portRef, "number"));
  up->name = ns + "/" + svcName + ":" + portText;
  if (svcName.empty() || !state.service) return up;
  std::optional<Json> svc = state.service(ns, svcName);
  if (!svc) return up;
  const Json* port = findServicePort(*svc, portRef);
  if (port == nullptr) return up;
  // EndpointSlice ports carry the Service port's name; their numbers are the target ports.
  std::string portName = getString(*port, "name");
  std::set<std::pair<uint32_t, uint16_t>> seen;  // endpoints may repeat across slices
  for (const Json& slice : state.slices ? state.slices(ns, svcName) : std::vector<Json>{}) {
    if (getString(slice, "addressType", "IPv4") != "IPv4") continue;
    int64_t target = -1;
    if (const Json* ports = findMember(slice, "ports"); ports && ports->is_array()) {
      for (const Json& p : *ports) {
        if (p.is_object() && getString(p, "name") == portName &&
            getString(p, "protocol", "TCP") == "TCP")
          target = getInt(p, "port", -1);
      }
    }
    if (target <= 0 || target > 65535) continue;
    const Json* eps = findMember(slice, "endpoints");
    if (eps == nullptr || !eps->is_array()) continue;
    for (const Json& ep : *eps) {
      if (!ep.is_object()) continue;
      // A missing ready condition means ready (the EndpointSlice API's rule).
      if (!getBool(objectMember(ep, "conditions"), "ready", true)) continue;
      const Json* addrs = findMember(ep, "addresses");
      if (addrs == nullptr || !addrs->is_array() || addrs->empty() || !(*addrs)[0].is_string())
        continue;
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(static_cast<uint16_t>(target));
      if (::inet_pton(AF_INET, (*addrs)[0].get<std::string>().c_str(), &sa.sin_addr) != 1)
        continue;
      if (!seen.insert({sa.sin_addr.s_addr, sa.sin_port}).second) continue;
      up->endpoints.push_back(sa);
    }
  }
  return up;
}

std::string decodeSecretField(const Json& secret, std::string_view key) {
  std::string out;
  if (!base64Decode(getString(objectMember(secret, "data"), key), out)) return {};
  return out;
}

}  // namespace

std::string normalizeHost(std::string_view host) {
  if (!host.empty() && host.front() == '[') {  // an IPv6 literal keeps its colons
    size_t close = host.find(']');
    host = host.substr(0, close == std::string_view::npos ? host.size() : close + 1);
  } else if (size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return toLower(host);
}

bool RouteTable::add(Paths& paths, std::string_view path, PathType type,
                     std::shared_ptr<const Upstream> upstream) {
  std::string_view key = withoutTrailingSlash(path, type);
  for (const PathRoute& r : paths) {
    if (r.type == type && r.path == key) return false;
  }
  paths.push_back({std::string(key), type, std::move(upstream)});
  return true;
}

bool RouteTable::addPath(std::string_view host, std::string_view path, PathType type,
                         std::shared_ptr<const Upstream> upstream) {
  std::string h = toLower(host);
  if (h.empty()) return add(anyHost_, path, type, std::move(upstream));
  if (h.starts_with("*.")) return add(wildcard_[h.substr(1)], path, type, std::move(upstream));
  return add(exact_[h], path, type, std::move(upstream));
}

void RouteTable::setDefaultBackend(std::shared_ptr<const Upstream> upstream) {
  if (!default_) default_ = std::move(upstream);
}

void RouteTable::finish() {
  auto order = [](Paths& paths) {
    std::stable_sort(paths.begin(), paths.end(), [](const PathRoute& a, const PathRoute& b) {
      if (a.path.size() != b.path.size()) return a.path.size() > b.path.size();
      return a.type == PathType::kExact && b.type != PathType::kExact;
    });
  };
  for (auto& [host, paths] : exact_) order(paths);
  for (auto& [host, paths] : wildcard_) order(paths);
  order(anyHost_);
}

const Upstream* RouteTable::matchPaths(const Paths& paths, std::string_view path) {
  for (const PathRoute& r : paths) {
    if (r.type == PathType::kExact ? path == r.path : prefixMatches(r.path, path))
      return r.upstream.get();
  }
  return nullptr;
}

const Upstream* RouteTable::match(std::string_view hostHeader, std::string_view path) const {
  std::string host = normalizeHost(hostHeader);
  if (!host.empty()) {
    if (auto it = exact_.find(host); it != exact_.end()) {
      if (const Upstream* u = matchPaths(it->second, path)) return u;
    }
    size_t dot = host.find('.');
    if (dot != std::string::npos && dot > 0 && !wildcard_.empty()) {
      if (auto it = wildcard_.find(host.substr(dot)); it != wildcard_.end()) {
        if (const Upstream* u = matchPaths(it->second, path)) return u;
      }
    }
  }
  if (const Upstream* u = matchPaths(anyHost_, path)) return u;
  return default_.get();
}

size_t RouteTable::pathCount() const {
  size_t n = anyHost_.size();
  for (const auto& [h, p] : exact_) n += p.size();
  for (const auto& [h, p] : wildcard_) n += p.size();
  return n;
}

IngressRoutes buildRoutes(const ClusterState& state) {
  std::vector<const Json*> ordered;
  for (const Json& ing : state.ingresses) ordered.push_back(&ing);
  auto sortKey = [](const Json* ing) {
    const Json& md = objectMember(*ing, "metadata");
    // RFC 3339 timestamps of one format sort as strings.
    return std::make_tuple(getString(md, "creationTimestamp"), getString(md, "namespace"),
                           getString(md, "name"));
  };
  std::stable_sort(ordered.begin(), ordered.end(),
                   [&](const Json* a, const Json* b) { return sortKey(a) < sortKey(b); });

  IngressRoutes out;
  out.table = std::make_shared<RouteTable>();
  // One upstream per Service port, shared by every route to it (one round robin).
  std::map<std::string, std::shared_ptr<Upstream>> upstreams;
  auto upstreamFor = [&](const std::string& ns, const Json& backend) {
    std::shared_ptr<Upstream> up = resolve(state, ns, backend);
    auto [it, added] = upstreams.emplace(up->name, up);
    return std::shared_ptr<const Upstream>(it->second);
  };
  for (const Json* ing : ordered) {
    const Json& md = objectMember(*ing, "metadata");
    const Json& spec = objectMember(*ing, "spec");
    std::string ns = getString(md, "namespace");
    if (const Json* def = findMember(spec, "defaultBackend"); def && def->is_object())
      out.table->setDefaultBackend(upstreamFor(ns, *def));
    std::vector<std::string> ruleHosts;
    if (const Json* rules = findMember(spec, "rules"); rules && rules->is_array()) {
      for (const Json& rule : *rules) {
        if (!rule.is_object()) continue;
        std::string host = getString(rule, "host");
        ruleHosts.push_back(host);
        const Json* paths = findMember(objectMember(rule, "http"), "paths");
        if (paths == nullptr || !paths->is_array()) continue;
        for (const Json& p : *paths) {
          if (!p.is_object()) continue;
          std::string path = getString(p, "path", "/");
          if (path.empty() || path.front() != '/') continue;  // validation refuses these
          PathType type =
              getString(p, "pathType") == "Exact" ? PathType::kExact : PathType::kPrefix;
          out.table->addPath(host, path, type, upstreamFor(ns, objectMember(p, "backend")));
        }
      }
    }
    if (const Json* tls = findMember(spec, "tls"); tls && tls->is_array() && state.secret) {
      for (const Json& t : *tls) {
        std::string name = getString(t, "secretName");
        if (name.empty()) continue;
        std::optional<Json> secret = state.secret(ns, name);
        if (!secret || getString(*secret, "type") != "kubernetes.io/tls") continue;
        TlsCertificate cert;
        cert.secret = ns + "/" + name;
        cert.certPem = decodeSecretField(*secret, "tls.crt");
        cert.keyPem = decodeSecretField(*secret, "tls.key");
        if (cert.certPem.empty() || cert.keyPem.empty()) continue;
        if (const Json* hosts = findMember(t, "hosts"); hosts && hosts->is_array()) {
          for (const Json& h : *hosts) {
            if (h.is_string()) cert.hosts.push_back(h.get<std::string>());
          }
        }
        if (cert.hosts.empty()) {
          for (const std::string& h : ruleHosts) {
            if (!h.empty()) cert.hosts.push_back(h);
          }
        }
        out.certificates.push_back(std::move(cert));
      }
    }
  }
  out.table->finish();
  return out;
}

bool servedBy(const Json& ingress, const std::vector<Json>& ownClasses) {
  auto own = [&](const std::string& name) {
    for (const Json& c : ownClasses) {
      if (getString(objectMember(c, "metadata"), "name") == name) return true;
    }
    return false;
  };
  const Json& spec = objectMember(ingress, "spec");
  if (const Json* cls = findMember(spec, "ingressClassName"); cls && cls->is_string())
    return own(cls->get<std::string>());
  const Json& annotations = objectMember(objectMember(ingress, "metadata"), "annotations");
  if (const Json* legacy = findMember(annotations, kLegacyClassAnnotation);
      legacy && legacy->is_string())
    return own(legacy->get<std::string>());
  for (const Json& c : ownClasses) {
    if (isOwnDefault(c)) return true;
  }
  return false;
}

}  // namespace nave::ingress
