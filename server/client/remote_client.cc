#include "server/client/remote_client.h"

#include <curl/curl.h>
#include <poll.h>
#include <sys/eventfd.h>

#include <atomic>
#include <deque>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/fd.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/yaml.h"

namespace nave::client {
namespace {

ErrorCode codeForStatus(long http) {
  switch (http) {
    case 400: return ErrorCode::kBadRequest;
    case 401: return ErrorCode::kUnauthorized;
    case 403: return ErrorCode::kForbidden;
    case 404: return ErrorCode::kNotFound;
    case 405: return ErrorCode::kMethodNotAllowed;
    case 406: return ErrorCode::kNotAcceptable;
    case 410: return ErrorCode::kExpired;
    case 413: return ErrorCode::kTooLarge;
    case 415: return ErrorCode::kUnsupportedMediaType;
    case 422: return ErrorCode::kInvalid;
    case 429: return ErrorCode::kTooManyRequests;
    case 503: return ErrorCode::kUnavailable;
    case 504: return ErrorCode::kTimeout;
    default: return ErrorCode::kInternal;
  }
}

// A Status body (or anything else) as an Error carrying the same code, message and details.
Error errorFromResponse(long http, const std::string& body) {
  ErrorCode code = codeForStatus(http);
  auto parsed = parseJson(body);
  if (!parsed.ok() || !parsed->value.is_object() || getString(parsed->value, "kind") != "Status")
    return Error(code, body.empty() ? "the server responded with HTTP " + std::to_string(http) : body);
  const Json& s = parsed->value;
  std::string reason = getString(s, "reason");
  if (http == 409) code = reason == "AlreadyExists" ? ErrorCode::kAlreadyExists : ErrorCode::kConflict;
  Error e(code, getString(s, "message"));
  if (const Json* d = findMember(s, "details"); d && d->is_object()) {
    e.detailName = getString(*d, "name");
    e.detailGroup = getString(*d, "group");
    e.detailKind = getString(*d, "kind");
    e.retryAfterSeconds = static_cast<int>(getInt(*d, "retryAfterSeconds", 0));
    if (const Json* causes = findMember(*d, "causes"); causes && causes->is_array())
      for (const Json& c : *causes)
        e.causes.push_back({getString(c, "reason"), getString(c, "message"), getString(c, "field")});
  }
  return e;
}

size_t appendBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

void setBlob(CURL* c, CURLoption opt, const std::string& data) {
  curl_blob blob{const_cast<char*>(data.data()), data.size(), CURL_BLOB_COPY};
  curl_easy_setopt(c, opt, &blob);
}

std::string resourcePath(const Resource& r, std::string_view ns, std::string_view name,
                         std::string_view subresource) {
  std::string p = r.group.empty() ? "/api/" + r.version : "/apis/" + r.group + "/" + r.version;
  if (!ns.empty()) p += "/namespaces/" + urlEncode(ns);
  p += "/" + r.resource;
  if (!name.empty()) p += "/" + urlEncode(name);
  if (!subresource.empty()) p += "/" + std::string(subresource);
  return p;
}

void addParam(std::string& q, std::string_view key, std::string_view value) {
  q += q.empty() ? '?' : '&';
  q += key;
  q += '=';
  q += urlEncode(value);
}

std::string writeQuery(const api::WriteOptions& o) {
  std::string q;
  if (o.dryRun) addParam(q, "dryRun", "All");
  if (!o.fieldManager.empty()) addParam(q, "fieldManager", o.fieldManager);
  addParam(q, "fieldValidation", o.fieldValidation == api::FieldValidation::kStrict ? "Strict"
                                  : o.fieldValidation == api::FieldValidation::kIgnore ? "Ignore"
                                                                                         : "Warn");
  if (o.force) addParam(q, "force", "true");
  return q;
}

std::string listQuery(const api::ListOptions& o, bool watch) {
  std::string q;
  if (watch) addParam(q, "watch", "true");
  if (!o.labelSelector.empty()) addParam(q, "labelSelector", o.labelSelector);
  if (!o.fieldSelector.empty()) addParam(q, "fieldSelector", o.fieldSelector);
  if (o.limit > 0) addParam(q, "limit", std::to_string(o.limit));
  if (!o.continueToken.empty()) addParam(q, "continue", o.continueToken);
  if (!o.resourceVersion.empty()) addParam(q, "resourceVersion", o.resourceVersion);
  if (!o.resourceVersionMatch.empty()) addParam(q, "resourceVersionMatch", o.resourceVersionMatch);
  if (watch && o.allowWatchBookmarks) addParam(q, "allowWatchBookmarks", "true");
  if (o.sendInitialEvents) addParam(q, "sendInitialEvents", *o.sendInitialEvents ? "true" : "false");
  if (o.timeoutSeconds > 0) addParam(q, "timeoutSeconds", std::to_string(o.timeoutSeconds));
  return q;
}

class RemoteClient;

// A watch runs one streaming request on its own thread; events are queued for next().
class RemoteWatch : public Watch {
 public:
  RemoteWatch() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~RemoteWatch() override {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int fd() const override { return fd_.get(); }
  bool next(std::vector<WatchEvent>& out) override {
    uint64_t v;
    ssize_t n = ::read(fd_.get(), &v, sizeof v);
    (void)n;
    std::lock_guard lock(mu_);
    for (auto& e : queue_) out.push_back(std::move(e));
    queue_.clear();
    return !ended_ || !out.empty();
  }

  void start(CurlHandle handle, Slist headers) {
    handle_ = std::move(handle);
    headers_ = std::move(headers);
    thread_ = std::thread([this] { run(); });
  }

 private:
  static size_t onData(char* data, size_t size, size_t n, void* self) {
    auto* w = static_cast<RemoteWatch*>(self);
    w->buffer_.append(data, size * n);
    size_t nl;
    bool any = false;
    while ((nl = w->buffer_.find('\n')) != std::string::npos) {
      std::string line = w->buffer_.substr(0, nl);
      w->buffer_.erase(0, nl + 1);
      if (trim(line).empty()) continue;
      auto parsed = parseJson(line);
      if (!parsed.ok() || !parsed->value.is_object()) continue;
      std::lock_guard lock(w->mu_);
      w->queue_.push_back({getString(parsed->value, "type"), parsed->value.value("object", Json())});
      any = true;
    }
    if (any) w->signal();
    return size * n;
  }
  static int onProgress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<RemoteWatch*>(self)->stop_ ? 1 : 0;
  }
  void signal() {
    uint64_t one = 1;
    ssize_t n = ::write(fd_.get(), &one, sizeof one);
    (void)n;
  }
  void run() {
    CURL* c = handle_.get();
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &RemoteWatch::onData);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &RemoteWatch::onProgress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, this);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 0L);
    CURLcode rc = curl_easy_perform(c);
    long http = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
    if (rc == CURLE_OK && http >= 400) {
      std::lock_guard lock(mu_);
      Json status = {{"kind", "Status"}, {"code", http}};
      if (auto p = parseJson(buffer_); p.ok()) status = p->value;
      queue_.push_back({"ERROR", status});
    }
    {
      std::lock_guard lock(mu_);
      ended_ = true;
    }
    signal();
  }

  UniqueFd fd_;
  CurlHandle handle_;
  Slist headers_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::string buffer_;  // only the curl thread touches it
  std::mutex mu_;
  std::deque<WatchEvent> queue_;  // guarded by mu_
  bool ended_ = false;            // guarded by mu_
};

class RemoteClient : public Client {
 public:
  explicit RemoteClient(RemoteOptions o) : o_(std::move(o)) {}

  Result<Json> get(const Resource& r, std::string_view ns, std::string_view name,
                   std::string_view subresource) override {
    return request("GET", resourcePath(r, ns, name, subresource), "", "");
  }
  Result<Json> list(const Resource& r, std::string_view ns, const api::ListOptions& options) override {
    return request("GET", resourcePath(r, ns, "", "") + listQuery(options, false), "", "");
  }
  Result<std::unique_ptr<Watch>> watch(const Resource& r, std::string_view ns,
                                       const api::ListOptions& options) override {
    auto w = std::make_unique<RemoteWatch>();
    Slist headers;
    CurlHandle c = handle(o_.serverUrl + resourcePath(r, ns, "", "") + listQuery(options, true),
                          "GET", "", "", headers);
    if (!c) return Error(ErrorCode::kInternal, "curl initialisation failed");
    w->start(std::move(c), std::move(headers));
    return std::unique_ptr<Watch>(std::move(w));
  }
  Result<Json> create(const Resource& r, std::string_view ns, const Json& object,
                      const api::WriteOptions& options, std::string_view subresource) override {
    std::string name = subresource.empty() ? "" : getString(object.value("metadata", Json::object()), "name");
    return request("POST", resourcePath(r, ns, name, subresource) + writeQuery(options),
                   dumpJson(object), "application/json");
  }
  Result<Json> update(const Resource& r, std::string_view ns, const Json& object,
                      const api::WriteOptions& options, std::string_view subresource) override {
    std::string name = getString(object.value("metadata", Json::object()), "name");
    return request("PUT", resourcePath(r, ns, name, subresource) + writeQuery(options),
                   dumpJson(object), "application/json");
  }
  Result<Json> patch(const Resource& r, std::string_view ns, std::string_view name,
                     api::PatchType type, std::string_view patch, const api::WriteOptions& options,
                     std::string_view subresource) override {
    const char* ct = type == api::PatchType::kJson        ? "application/json-patch+json"
                     : type == api::PatchType::kMerge     ? "application/merge-patch+json"
                     : type == api::PatchType::kStrategic ? "application/strategic-merge-patch+json"
                                                          : "application/apply-patch+yaml";
    return request("PATCH", resourcePath(r, ns, name, subresource) + writeQuery(options),
                   std::string(patch), ct);
  }
  Result<Json> remove(const Resource& r, std::string_view ns, std::string_view name,
                      const api::DeleteOptions& options) override {
    Json body = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
    if (options.gracePeriodSeconds) body["gracePeriodSeconds"] = *options.gracePeriodSeconds;
    if (!options.propagationPolicy.empty()) body["propagationPolicy"] = options.propagationPolicy;
    if (options.orphanDependents) body["orphanDependents"] = *options.orphanDependents;
    if (options.preconditionUid) body["preconditions"]["uid"] = *options.preconditionUid;
    if (options.preconditionResourceVersion)
      body["preconditions"]["resourceVersion"] = *options.preconditionResourceVersion;
    if (options.dryRun) body["dryRun"] = Json::array({"All"});
    return request("DELETE", resourcePath(r, ns, name, ""), dumpJson(body), "application/json");
  }

 private:
  CurlHandle handle(const std::string& url, const char* method, const std::string& body,
                    const char* contentType, Slist& headers) {
    CurlHandle c(curl_easy_init());
    if (!c) return c;
    CURL* h = c.get();
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_USERAGENT, o_.userAgent.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    if (!o_.caPem.empty()) setBlob(h, CURLOPT_CAINFO_BLOB, o_.caPem);
    if (!o_.certPem.empty()) {
      setBlob(h, CURLOPT_SSLCERT_BLOB, o_.certPem);
      curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
      setBlob(h, CURLOPT_SSLKEY_BLOB, o_.keyPem);
      curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    }
    curl_slist* l = curl_slist_append(nullptr, "Accept: application/json");
    if (contentType != nullptr && *contentType)
      l = curl_slist_append(l, ("Content-Type: " + std::string(contentType)).c_str());
    if (!o_.bearerToken.empty())
      l = curl_slist_append(l, ("Authorization: Bearer " + o_.bearerToken).c_str());
    headers.reset(l);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
    if (!body.empty() || std::string_view(method) == "POST" || std::string_view(method) == "PUT" ||
        std::string_view(method) == "PATCH") {
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
      curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, body.c_str());
    }
    return c;
  }

  Result<Json> request(const char* method, const std::string& path, const std::string& body,
                       const char* contentType) {
    Slist headers;
    CurlHandle c = handle(o_.serverUrl + path, method, body, contentType, headers);
    if (!c) return Error(ErrorCode::kInternal, "curl initialisation failed");
    std::string response;
    curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, &appendBody);
    curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &response);
    curl_easy_setopt(c.get(), CURLOPT_TIMEOUT, o_.timeoutSeconds);
    CURLcode rc = curl_easy_perform(c.get());
    if (rc != CURLE_OK)
      return Error(ErrorCode::kUnavailable, std::string(method) + " " + path + ": " + curl_easy_strerror(rc));
    long http = 0;
    curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &http);
    if (http >= 400) return errorFromResponse(http, response);
    auto parsed = parseJson(response);
    if (!parsed.ok()) return Error(ErrorCode::kInternal, "undecodable response: " + parsed.error().message());
    return std::move(parsed->value);
  }

  RemoteOptions o_;
};

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Result<std::unique_ptr<Client>> newRemoteClient(const RemoteOptions& options) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (options.serverUrl.empty()) return Error(ErrorCode::kInvalid, "no server URL");
  return std::unique_ptr<Client>(new RemoteClient(options));
}

Result<RemoteOptions> remoteOptionsFromKubeconfig(const std::string& path) {
  std::string text = readFile(path);
  if (text.empty()) return Error(ErrorCode::kNotFound, "cannot read kubeconfig " + path);
  Json kc = TRY(parseYaml(text));
  std::string current = getString(kc, "current-context");
  auto named = [&](const char* list, const std::string& name) -> Json {
    if (const Json* l = findMember(kc, list); l && l->is_array())
      for (const Json& e : *l)
        if (getString(e, "name") == name) return e;
    return Json::object();
  };
  Json ctx = named("contexts", current).value("context", Json::object());
  Json cluster = named("clusters", getString(ctx, "cluster")).value("cluster", Json::object());
  Json user = named("users", getString(ctx, "user")).value("user", Json::object());
  RemoteOptions o;
  o.serverUrl = getString(cluster, "server");
  auto b64 = [](const std::string& s) {
    std::string out;
    base64Decode(s, out);
    return out;
  };
  o.caPem = b64(getString(cluster, "certificate-authority-data"));
  o.certPem = b64(getString(user, "client-certificate-data"));
  o.keyPem = b64(getString(user, "client-key-data"));
  o.bearerToken = getString(user, "token");
  if (o.serverUrl.empty()) return Error(ErrorCode::kInvalid, "kubeconfig has no server for context " + current);
  return o;
}

}  // namespace nave::client
