#include "runtime/image/registry_client.h"

#include <chrono>
#include <thread>

#include "common/json.h"
#include "common/log.h"
#include "common/strings.h"
#include "runtime/image/digest.h"

namespace nave::runtime {
namespace {

constexpr int kAttempts = 3;

std::string statusText(long status) {
  switch (status) {
    case 400: return "400 Bad Request";
    case 401: return "401 Unauthorized";
    case 403: return "403 Forbidden";
    case 404: return "404 Not Found";
    case 405: return "405 Method Not Allowed";
    case 429: return "429 Too Many Requests";
    case 500: return "500 Internal Server Error";
    case 502: return "502 Bad Gateway";
    case 503: return "503 Service Unavailable";
    case 504: return "504 Gateway Timeout";
    default: return std::to_string(status);
  }
}

// The messages of a distribution-spec error body: {"errors":[{"code","message","detail"}]}.
std::string registryMessage(const std::string& body) {
  auto parsed = parseJson(body);
  if (!parsed) return "";
  const Json* errors = findMember(parsed->value, "errors");
  if (errors == nullptr || !errors->is_array()) return "";
  std::vector<std::string> parts;
  for (const Json& e : *errors) {
    std::string msg = getString(e, "message");
    if (msg.empty()) msg = toLower(getString(e, "code"));
    if (!msg.empty()) parts.push_back(msg);
  }
  return join(parts, "; ");
}

bool transient(const HttpResponse& r) {
  if (r.status == 0) return !r.connectFailed && !r.tlsFailed && !r.aborted;
  return r.status == 429 || r.status >= 500;
}

void backoff(int attempt) {
  std::this_thread::sleep_for(std::chrono::milliseconds(250 << attempt));
}

Error transportError(const HttpResponse& r, const std::string& url) {
  return Error(ErrorCode::kUnavailable, "GET " + url + ": " + r.error);
}

}  // namespace

std::vector<AuthChallenge> parseAuthChallenges(std::string_view h) {
  std::vector<AuthChallenge> out;
  size_t i = 0;
  auto skipSpace = [&] {
    while (i < h.size() && (h[i] == ' ' || h[i] == '\t' || h[i] == ',')) ++i;
  };
  auto token = [&] {
    size_t start = i;
    while (i < h.size() && h[i] != ' ' && h[i] != '\t' && h[i] != ',' && h[i] != '=') ++i;
    return std::string(h.substr(start, i - start));
  };
  while (true) {
    skipSpace();
    if (i >= h.size()) break;
    std::string word = token();
    size_t save = i;
    while (i < h.size() && (h[i] == ' ' || h[i] == '\t')) ++i;
    if (i < h.size() && h[i] == '=' && !out.empty()) {
      ++i;
      while (i < h.size() && (h[i] == ' ' || h[i] == '\t')) ++i;
      std::string value;
      if (i < h.size() && h[i] == '"') {
        ++i;
        while (i < h.size() && h[i] != '"') {
          if (h[i] == '\\' && i + 1 < h.size()) ++i;
          value += h[i++];
        }
        if (i < h.size()) ++i;
      } else {
        value = token();
      }
      out.back().params[toLower(word)] = value;
    } else {
      i = save;
      if (word.empty()) {
        ++i;
        continue;
      }
      out.push_back(AuthChallenge{toLower(word), {}});
    }
  }
  return out;
}

RegistryClient::RegistryClient(RegistryEndpoint endpoint, std::string repository,
                               std::optional<RegistryAuth> credentials)
    : endpoint_(std::move(endpoint)),
      repository_(std::move(repository)),
      credentials_(std::move(credentials)) {}

std::string RegistryClient::describe() const {
  std::lock_guard lock(mu_);
  std::string base = endpoint_.apiBase();
  if (plainHttp_ && base.starts_with("https://")) base = "http://" + base.substr(8);
  return base + repository_;
}

HttpRequest RegistryClient::newRequest(const std::string& path) const {
  HttpRequest req;
  std::lock_guard lock(mu_);
  std::string base = endpoint_.apiBase();
  if (plainHttp_ && base.starts_with("https://")) base = "http://" + base.substr(8);
  req.url = base + repository_ + path;
  req.tls = endpoint_.tls;
  return req;
}

Error RegistryClient::statusError(const HttpResponse& r, std::string_view what) const {
  std::string msg = registryMessage(r.body);
  switch (r.status) {
    case 401:
      return Error(ErrorCode::kUnauthorized,
                   "failed to authorize: 401 Unauthorized" + (msg.empty() ? "" : ": " + msg));
    case 403:
      return Error(ErrorCode::kForbidden,
                   std::string(what) + ": access denied: 403 Forbidden" + (msg.empty() ? "" : ": " + msg));
    case 404:
      return Error(ErrorCode::kNotFound, msg.empty() ? std::string(what) + ": not found" : msg);
    case 429:
      return Error(ErrorCode::kTooManyRequests, std::string(what) + ": 429 Too Many Requests");
    default:
      break;
  }
  ErrorCode code = r.status >= 500 ? ErrorCode::kUnavailable : ErrorCode::kBadRequest;
  return Error(code, std::string(what) + ": unexpected status " + statusText(r.status) +
                         (msg.empty() ? "" : ": " + msg));
}

Result<std::string> RegistryClient::fetchToken(const std::string& realm, const std::string& service,
                                               const std::string& scope) {
  if (!realm.starts_with("https://") && !realm.starts_with("http://")) {
    return Error(ErrorCode::kBadRequest, "failed to authorize: invalid token realm \"" + realm + "\"");
  }
  HttpRequest req;
  req.tls = endpoint_.tls;
  req.maxBody = 1 << 20;
  if (credentials_ && !credentials_->identityToken.empty()) {
    // OAuth2 refresh-token grant, as Docker clients use identity tokens.
    req.method = "POST";
    req.url = realm;
    req.headers.push_back("Content-Type: application/x-www-form-urlencoded");
    req.body = "grant_type=refresh_token&client_id=nave&refresh_token=" +
               urlEncode(credentials_->identityToken) + "&service=" + urlEncode(service) +
               "&scope=" + urlEncode(scope);
  } else {
    std::string query;
    if (!service.empty()) query += "service=" + urlEncode(service);
    if (!scope.empty()) query += std::string(query.empty() ? "" : "&") + "scope=" + urlEncode(scope);
    req.url = realm + (query.empty() ? "" : std::string(realm.find('?') == std::string::npos ? "?" : "&") + query);
    if (credentials_ && !credentials_->username.empty()) {
      req.headers.push_back("Authorization: Basic " +
                            base64Encode(credentials_->username + ":" + credentials_->password));
    }
  }
  HttpResponse r;
  for (int attempt = 0;; ++attempt) {
    r = httpRequest(req);
    if (!transient(r) || attempt + 1 == kAttempts) break;
    backoff(attempt);
  }
  if (r.status == 0) {
    return Error(ErrorCode::kUnavailable, "failed to authorize: fetch token from " + realm + ": " + r.error);
  }
  if (r.status != 200) {
    ErrorCode code = r.status == 401 ? ErrorCode::kUnauthorized
                     : r.status == 403 ? ErrorCode::kForbidden
                     : r.status >= 500 ? ErrorCode::kUnavailable
                                       : ErrorCode::kBadRequest;
    return Error(code, "failed to authorize: fetch token from " + realm + ": " + statusText(r.status));
  }
  auto parsed = parseJson(r.body);
  if (!parsed) return Error(ErrorCode::kBadRequest, "failed to authorize: invalid token response");
  std::string token = getString(parsed->value, "token");
  if (token.empty()) token = getString(parsed->value, "access_token");
  if (token.empty()) return Error(ErrorCode::kBadRequest, "failed to authorize: no token in response");
  return token;
}

Result<void> RegistryClient::authorize(const HttpResponse& challenge) {
  std::vector<AuthChallenge> challenges;
  for (const std::string& h : challenge.headerAll("www-authenticate")) {
    for (AuthChallenge& c : parseAuthChallenges(h)) challenges.push_back(std::move(c));
  }
  for (const AuthChallenge& c : challenges) {
    if (c.scheme != "bearer") continue;
    auto realm = c.params.find("realm");
    if (realm == c.params.end()) continue;
    std::string service = c.params.count("service") ? c.params.at("service") : "";
    std::string scope = c.params.count("scope") ? c.params.at("scope")
                                                : "repository:" + repository_ + ":pull";
    std::string token = TRY(fetchToken(realm->second, service, scope));
    std::lock_guard lock(mu_);
    authorization_ = "Bearer " + token;
    return {};
  }
  for (const AuthChallenge& c : challenges) {
    if (c.scheme != "basic") continue;
    if (!credentials_ || credentials_->username.empty()) {
      return Error(ErrorCode::kUnauthorized,
                   "failed to authorize: 401 Unauthorized (no credentials for " + endpoint_.host + ")");
    }
    std::lock_guard lock(mu_);
    authorization_ = "Basic " + base64Encode(credentials_->username + ":" + credentials_->password);
    return {};
  }
  return statusError(challenge, "");
}

Result<HttpResponse> RegistryClient::send(HttpRequest request) {
  const std::vector<std::string> baseHeaders = request.headers;
  bool authorized = false;
  for (int round = 0; round < 3; ++round) {
    std::string authorization;
    {
      std::lock_guard lock(mu_);
      authorization = authorization_;
    }
    request.headers = baseHeaders;
    if (!authorization.empty()) request.headers.push_back("Authorization: " + authorization);
    HttpResponse r = httpRequest(request);
    if (r.status == 0 && r.tlsFailed && endpoint_.httpFallback && request.url.starts_with("https://")) {
      // A loopback registry without TLS (containerd allows plain HTTP for localhost).
      log::v(2, "TLS failed, falling back to plain HTTP", {{"url", request.url}, {"error", r.error}});
      {
        std::lock_guard lock(mu_);
        plainHttp_ = true;
      }
      request.url = "http://" + request.url.substr(8);
      continue;
    }
    if (r.status != 401 || authorized) return r;
    // Unauthorized without (or with an expired) authorization: answer the challenge once.
    TRY(authorize(r));
    authorized = true;
  }
  return Error(ErrorCode::kInternal, "request to " + request.url + " did not settle");
}

Result<FetchedManifest> RegistryClient::fetchManifest(const std::string& reference) {
  bool byDigest = reference.starts_with("sha256:");
  HttpResponse r;
  for (int attempt = 0;; ++attempt) {
    HttpRequest req = newRequest("/manifests/" + reference);
    req.headers.push_back("Accept: " + media::acceptHeader());
    req.maxBody = static_cast<size_t>(kMaxManifestSize);
    r = TRY(send(std::move(req)));
    if (!transient(r) || attempt + 1 == kAttempts) break;
    log::v(2, "retrying manifest request", {{"repository", repository_}, {"status", r.status}});
    backoff(attempt);
  }
  if (r.status == 0) {
    if (r.bodyTooLarge) return Error(ErrorCode::kTooLarge, "manifest " + reference + " is too large");
    return transportError(r, newRequest("/manifests/" + reference).url);
  }
  if (r.status != 200) return statusError(r, "manifest " + reference);
  if (r.bodyTooLarge) return Error(ErrorCode::kTooLarge, "manifest " + reference + " is too large");
  FetchedManifest m;
  m.bytes = std::move(r.body);
  m.mediaType = r.header("content-type");
  if (size_t semi = m.mediaType.find(';'); semi != std::string::npos) {
    m.mediaType = std::string(trim(std::string_view(m.mediaType).substr(0, semi)));
  }
  m.digest = sha256Digest(m.bytes);
  if (byDigest && m.digest != reference) {
    return Error(ErrorCode::kBadRequest, "manifest digest mismatch: expected " + reference +
                                             ", got " + m.digest);
  }
  return m;
}

Result<void> RegistryClient::fetchBlob(const Descriptor& blob, BlobWriter& writer,
                                       const std::function<void(int64_t)>& onBytes) {
  for (int attempt = 0;; ++attempt) {
    TRY(writer.truncate());
    bool oversize = false;
    std::string writeError;
    HttpRequest req = newRequest("/blobs/" + blob.digest);
    req.maxBody = 64 << 10;
    req.sink = [&](const char* data, size_t size) {
      if (blob.size >= 0 && writer.size() + static_cast<int64_t>(size) > blob.size) {
        oversize = true;
        return false;
      }
      if (auto ok = writer.write(data, size); !ok) {
        writeError = ok.error().message();
        return false;
      }
      if (onBytes) onBytes(writer.size());
      return true;
    };
    HttpResponse r = TRY(send(std::move(req)));
    if (oversize) {
      return Error(ErrorCode::kBadRequest, "blob " + blob.digest + " is larger than its " +
                                               std::to_string(blob.size) + " bytes");
    }
    if (!writeError.empty()) return Error(ErrorCode::kInternal, "blob " + blob.digest + ": " + writeError);
    if (r.status == 200 && r.error.empty()) return {};
    if (!transient(r) || attempt + 1 == kAttempts) {
      if (r.status == 0) return transportError(r, newRequest("/blobs/" + blob.digest).url);
      return statusError(r, "blob " + blob.digest);
    }
    log::v(2, "retrying blob download",
           {{"digest", blob.digest}, {"status", r.status}, {"error", r.error}});
    backoff(attempt);
  }
}

}  // namespace nave::runtime
