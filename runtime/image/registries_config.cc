// GCC 12 reports a false -Wmaybe-uninitialized inside libstdc++'s <regex> compiler when built
// with -fsanitize=address (NAVE_SANITIZE); it must be off before <functional> is first seen.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "runtime/image/registries_config.h"

#include <sys/stat.h>

#include <cerrno>

#include "common/json.h"
#include "common/strings.h"
#include "common/yaml.h"
#include "runtime/image/content_store.h"

namespace nave::runtime {
namespace {

Error bad(std::string msg) { return Error(ErrorCode::kBadRequest, "registries.yaml: " + msg); }

struct ParsedUrl {
  std::string scheme, host, path;
};

Result<ParsedUrl> parseEndpointUrl(std::string_view text) {
  std::string s(trim(text));
  if (s.find("://") == std::string::npos) s = "https://" + s;
  ParsedUrl u;
  size_t sep = s.find("://");
  u.scheme = toLower(s.substr(0, sep));
  if (u.scheme != "http" && u.scheme != "https") {
    return bad("endpoint \"" + std::string(text) + "\": scheme must be http or https");
  }
  std::string rest = s.substr(sep + 3);
  size_t slash = rest.find('/');
  u.host = rest.substr(0, slash);
  if (slash != std::string::npos) u.path = rest.substr(slash);
  if (u.host.empty() || u.host.find_first_of("@?# ") != std::string::npos) {
    return bad("endpoint \"" + std::string(text) + "\": invalid host");
  }
  while (!u.path.empty() && u.path.back() == '/') u.path.pop_back();
  if (u.path.ends_with("/v2")) u.path.resize(u.path.size() - 3);
  return u;
}

Result<RegistryAuth> parseAuth(const Json& j, const std::string& host) {
  if (!j.is_object()) return bad("configs." + host + ".auth must be a map");
  RegistryAuth a;
  a.username = getString(j, "username");
  a.password = getString(j, "password");
  a.identityToken = getString(j, "identitytoken");
  std::string encoded = getString(j, "auth");
  if (!encoded.empty()) {
    auto decoded = decodeAuthField(encoded);
    if (!decoded) return bad("configs." + host + ".auth.auth: " + decoded.error().message());
    a.username = decoded->username;
    a.password = decoded->password;
  }
  return a;
}

Result<RegistryTls> parseTls(const Json& j, const std::string& host) {
  if (!j.is_object()) return bad("configs." + host + ".tls must be a map");
  RegistryTls t;
  t.caFile = getString(j, "ca_file");
  t.certFile = getString(j, "cert_file");
  t.keyFile = getString(j, "key_file");
  t.insecureSkipVerify = getBool(j, "insecure_skip_verify");
  if (t.certFile.empty() != t.keyFile.empty()) {
    return bad("configs." + host + ".tls: cert_file and key_file go together");
  }
  return t;
}

std::string hostOnly(std::string_view hostPort) {
  if (!hostPort.empty() && hostPort.front() == '[') {
    size_t close = hostPort.find(']');
    return std::string(hostPort.substr(1, close == std::string_view::npos ? close : close - 1));
  }
  size_t colon = hostPort.rfind(':');
  return std::string(colon == std::string_view::npos ? hostPort : hostPort.substr(0, colon));
}

}  // namespace

Result<RegistryAuth> decodeAuthField(std::string_view base64) {
  std::string decoded;
  if (!base64Decode(trim(base64), decoded)) {
    return Error(ErrorCode::kBadRequest, "invalid base64 in auth");
  }
  size_t colon = decoded.find(':');
  if (colon == std::string::npos) {
    return Error(ErrorCode::kBadRequest, "auth is not base64 of username:password");
  }
  RegistryAuth a;
  a.username = decoded.substr(0, colon);
  a.password = decoded.substr(colon + 1);
  return a;
}

std::string normalizeRegistryHost(std::string_view key) {
  std::string s(trim(key));
  if (size_t sep = s.find("://"); sep != std::string::npos) s = s.substr(sep + 3);
  if (size_t slash = s.find('/'); slash != std::string::npos) s.resize(slash);
  s = toLower(s);
  if (s == "index.docker.io" || s == "registry-1.docker.io" || s == "registry.hub.docker.com") {
    return "docker.io";
  }
  return s;
}

// Whether an ECMAScript pattern has a back-reference (\1..\9, \k<name>) outside a bracket
// expression: the polynomial matcher cannot evaluate them (and only reports it when a match
// reaches one).
static bool hasBackReference(std::string_view pattern) {
  bool inClass = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      char n = pattern[++i];
      if (!inClass && ((n >= '1' && n <= '9') || n == 'k')) return true;
      continue;
    }
    if (c == '[') inClass = true;
    else if (c == ']') inClass = false;
  }
  return false;
}

bool isLoopbackHost(std::string_view hostPort) {
  std::string h = hostOnly(hostPort);
  return h == "localhost" || h == "::1" || h.starts_with("127.");
}

std::string RegistryEndpoint::apiBase() const {
  return scheme + "://" + host + pathPrefix + "/v2/";
}

std::string RegistryEndpoint::repositoryFor(const std::string& repository) const {
  if (!isMirror) return repository;
  try {
    for (const RewriteRule& r : rewrites) {
      if (std::regex_search(repository, *r.regex)) {
        std::string rewritten = std::regex_replace(repository, *r.regex, r.replacement);
        // Only to another valid repository name (it becomes part of request paths).
        if (ImageReference::parse("registry.invalid/" + rewritten).ok()) return rewritten;
        return repository;
      }
    }
  } catch (const std::regex_error&) {
    // Too complex to evaluate (error_complexity/error_stack): leave the name as it is.
  }
  return repository;
}

Result<RegistriesConfig> RegistriesConfig::parse(std::string_view yaml) {
  auto doc = parseYaml(yaml);
  if (!doc) return bad(doc.error().message());
  RegistriesConfig config;
  const Json& root = *doc;
  if (root.is_null()) return config;
  if (!root.is_object()) return bad("not a map");
  if (const Json* mirrors = findMember(root, "mirrors"); mirrors != nullptr && !mirrors->is_null()) {
    if (!mirrors->is_object()) return bad("mirrors must be a map");
    for (const auto& [host, m] : mirrors->items()) {
      MirrorConfig mc;
      if (!m.is_null() && !m.is_object()) return bad("mirrors." + host + " must be a map");
      if (const Json* eps = findMember(m, "endpoint"); eps != nullptr && !eps->is_null()) {
        if (eps->is_string()) {
          mc.endpoints.push_back(eps->get<std::string>());
        } else if (eps->is_array()) {
          for (const Json& e : *eps) {
            if (!e.is_string()) return bad("mirrors." + host + ".endpoint entries must be strings");
            mc.endpoints.push_back(e.get<std::string>());
          }
        } else {
          return bad("mirrors." + host + ".endpoint must be a list");
        }
        for (const std::string& e : mc.endpoints) TRY(parseEndpointUrl(e));
      }
      if (const Json* rw = findMember(m, "rewrite"); rw != nullptr && !rw->is_null()) {
        if (!rw->is_object()) return bad("mirrors." + host + ".rewrite must be a map");
        for (const auto& [pattern, repl] : rw->items()) {
          if (!repl.is_string()) return bad("mirrors." + host + ".rewrite values must be strings");
          // libstdc++ compiles regexes recursively: a huge pattern would exhaust the stack.
          if (pattern.size() > 1024) {
            return bad("mirrors." + host + ".rewrite: regular expression longer than 1024 characters");
          }
          if (hasBackReference(pattern))
            return bad("mirrors." + host + ".rewrite: invalid regular expression \"" + pattern +
                       "\": back-references are not supported");
          RewriteRule rule{pattern, repl.get<std::string>(), nullptr};
          try {
            // __polynomial (a libstdc++ extension): matched by its breadth-first executor, in
            // time polynomial in the name's length, never the backtracking one, which takes
            // exponential time on patterns like "^l**********x" (found by fuzz_image_manifest).
            // Back-references, which it cannot match, are refused (RE2, which k3s' Go uses,
            // has none either).
            rule.regex = std::make_shared<const std::regex>(
                pattern, std::regex::ECMAScript | std::regex_constants::__polynomial);

          } catch (const std::regex_error& e) {
            return bad("mirrors." + host + ".rewrite: invalid regular expression \"" + pattern +
                       "\": " + e.what());
          }
          mc.rewrites.push_back(std::move(rule));
        }
      }
      config.mirrors[toLower(host)] = std::move(mc);
    }
  }
  if (const Json* configs = findMember(root, "configs"); configs != nullptr && !configs->is_null()) {
    if (!configs->is_object()) return bad("configs must be a map");
    for (const auto& [host, c] : configs->items()) {
      RegistryHostConfig hc;
      if (!c.is_null() && !c.is_object()) return bad("configs." + host + " must be a map");
      if (const Json* a = findMember(c, "auth"); a != nullptr && !a->is_null()) {
        hc.auth = TRY(parseAuth(*a, host));
      }
      if (const Json* t = findMember(c, "tls"); t != nullptr && !t->is_null()) {
        hc.tls = TRY(parseTls(*t, host));
      }
      std::string key = host == "*" ? host : normalizeRegistryHost(host);
      config.configs[key] = std::move(hc);
    }
  }
  return config;
}

Result<RegistriesConfig> RegistriesConfig::load(const std::string& path) {
  if (path.empty()) return RegistriesConfig{};
  auto text = readFileLimited(path, 1 << 20);
  if (!text) {
    if (text.error().is(ErrorCode::kNotFound)) return RegistriesConfig{};
    return std::move(text).error();
  }
  auto config = parse(*text);
  if (!config) return Error(config.error().code(), path + ": " + config.error().message());
  return config;
}

std::vector<RegistryEndpoint> RegistriesConfig::endpointsFor(const std::string& registry) const {
  std::vector<RegistryEndpoint> out;
  auto hostConfig = [&](const std::string& endpointHost, bool isDefault) {
    const RegistryHostConfig* hc = nullptr;
    if (auto it = configs.find(normalizeRegistryHost(endpointHost)); it != configs.end()) {
      hc = &it->second;
    } else if (isDefault && configs.count(registry) != 0) {
      hc = &configs.at(registry);
    } else if (auto star = configs.find("*"); star != configs.end()) {
      hc = &star->second;
    }
    return hc;
  };
  auto apply = [&](RegistryEndpoint& ep, bool isDefault) {
    if (const RegistryHostConfig* hc = hostConfig(ep.host, isDefault)) {
      if (hc->tls) ep.tls = *hc->tls;
      ep.auth = hc->auth;
    }
  };
  const MirrorConfig* mirror = nullptr;
  if (auto it = mirrors.find(registry); it != mirrors.end()) {
    mirror = &it->second;
  } else if (auto star = mirrors.find("*"); star != mirrors.end()) {
    mirror = &star->second;
  }
  std::string defaultHost = registry == "docker.io" ? "registry-1.docker.io" : registry;
  if (mirror != nullptr) {
    for (const std::string& e : mirror->endpoints) {
      auto url = parseEndpointUrl(e);
      if (!url) continue;  // validated by parse()
      RegistryEndpoint ep;
      ep.scheme = url->scheme;
      ep.host = url->host;
      ep.pathPrefix = url->path;
      // An endpoint that is the registry itself is its default endpoint (no rewrites).
      ep.isMirror = !(normalizeRegistryHost(ep.host) == registry && ep.pathPrefix.empty());
      if (ep.isMirror) ep.rewrites = mirror->rewrites;
      apply(ep, !ep.isMirror);
      out.push_back(std::move(ep));
    }
  }
  bool haveDefault = false;
  for (const RegistryEndpoint& ep : out) {
    if (!ep.isMirror) haveDefault = true;
  }
  if (!haveDefault) {
    RegistryEndpoint ep;
    ep.scheme = "https";
    ep.host = defaultHost;
    if (isLoopbackHost(registry)) {
      ep.httpFallback = true;
      ep.tls.insecureSkipVerify = true;
    }
    apply(ep, true);
    out.push_back(std::move(ep));
  }
  return out;
}

}  // namespace nave::runtime
