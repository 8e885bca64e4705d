#include "runtime/agent/streaming/streaming_server.h"

#include <algorithm>
#include <chrono>

#include "common/log.h"
#include "common/strings.h"
#include "common/time.h"
#include "runtime/agent/streaming/port_forward.h"
#include "runtime/agent/streaming/remote_command.h"
#include "runtime/agent/streaming/session_util.h"
#include "server/http/http_server.h"

namespace nave::agent {
namespace {

// A query integer as strconv.ParseInt reads it.
std::optional<int64_t> parseInt64(std::string_view v) {
  if (v.empty() || v.size() > 20) return std::nullopt;
  size_t i = v[0] == '-' || v[0] == '+' ? 1 : 0;
  if (i == v.size()) return std::nullopt;
  uint64_t n = 0;
  for (; i < v.size(); ++i) {
    if (v[i] < '0' || v[i] > '9') return std::nullopt;
    n = n * 10 + uint64_t(v[i] - '0');
    if (n > uint64_t(INT64_MAX) + 1) return std::nullopt;
  }
  if (v[0] == '-') return n == uint64_t(INT64_MAX) + 1 ? INT64_MIN : -int64_t(n);
  if (n > uint64_t(INT64_MAX)) return std::nullopt;
  return int64_t(n);
}

// Query decoding as Kubernetes' parameter codec does it: a bool is false only for "false"
// and "0"; integers must parse; sinceTime is RFC 3339. Then ValidatePodLogOptions.
Result<LogOptions> decodeLogOptions(QueryValues query) {
  // The kubelet still takes "tail" (with "all" for everything) for tailLines.
  if (std::string tail = firstValue(query, "tail"); !tail.empty()) {
    query.erase("tailLines");
    if (tail != "all") query.emplace("tailLines", tail);
  }
  LogOptions o;
  auto flag = [&](std::string_view key) {
    if (!hasKey(query, key)) return false;
    std::string v = toLower(firstValue(query, key));
    return v != "false" && v != "0";
  };
  bool ok = true;
  auto integer = [&](std::string_view key, std::optional<int64_t>& out) {
    if (!hasKey(query, key)) return;
    out = parseInt64(firstValue(query, key));
    if (!out) ok = false;
  };
  o.follow = flag("follow");
  o.previous = flag("previous");
  o.timestamps = flag("timestamps");
  std::optional<int64_t> sinceSeconds;
  integer("tailLines", o.tailLines);
  integer("limitBytes", o.limitBytes);
  integer("sinceSeconds", sinceSeconds);
  std::optional<WallTime> sinceTime;
  if (std::string t = firstValue(query, "sinceTime"); !t.empty() && t != "null") {
    sinceTime = parseRfc3339(t);
    if (!sinceTime) ok = false;
  }
  if (!ok) return Error(ErrorCode::kBadRequest, R"({"message": "Unable to decode query."})");
  if ((o.tailLines && *o.tailLines < 0) || (o.limitBytes && *o.limitBytes < 1) ||
      (sinceSeconds && sinceTime) || (sinceSeconds && *sinceSeconds < 1)) {
    return Error(ErrorCode::kInvalid, R"({"message": "Invalid request."})");
  }
  if (sinceTime) o.since = *sinceTime;
  if (sinceSeconds) o.since = std::chrono::system_clock::now() - std::chrono::seconds(*sinceSeconds);
  return o;
}

class StreamingServerImpl final : public StreamingServer {
 public:
  StreamingServerImpl(const StreamingServerOptions& options, StreamingBackend& backend)
      : options_(options), backend_(backend) {
    config_.streamCreationTimeout = options.streamCreationTimeout;
    config_.closeTimeout = options.closeTimeout;
  }
  ~StreamingServerImpl() override { stop(); }

  Result<void> listen() {
    http::ServerOptions ho;
    ho.bindAddress = options_.bindAddress;
    ho.port = options_.port;
    ho.certPem = options_.servingCertPem;
    ho.keyPem = options_.servingKeyPem;
    ho.clientCaPem = options_.clientCaPem;
    http_ = TRY(http::HttpServer::start(ho, [this](http::Request& req, http::ResponseWriter& resp) {
      handle(req, resp);
    }));
    return {};
  }

  int port() const override { return http_ ? http_->port() : 0; }
  void stop() override {
    if (http_) http_->stop();
  }

 private:
  void handle(http::Request& req, http::ResponseWriter& resp) {
    std::vector<std::string> parts;
    for (std::string& p : split(req.path, '/'))
      if (!p.empty()) parts.push_back(std::move(p));
    std::string subresource = parts.empty() ? "" : parts[0];
    if (!authorized(req, resp, subresource)) return;
    log::v(3, "node API request", {{"method", req.method}, {"path", req.path}, {"user", req.peer.commonName}});
    auto notFound = [&] {
      resp.send(404, {{"Content-Type", "text/plain; charset=utf-8"}}, "404 page not found\n");
    };
    auto methodNotAllowed = [&] {
      resp.send(405, {{"Content-Type", "text/plain; charset=utf-8"}}, "405: Method Not Allowed");
    };
    bool getOrPost = req.method == "GET" || req.method == "POST";
    if (subresource == "healthz" && parts.size() == 1) {
      if (req.method != "GET" && req.method != "HEAD") return methodNotAllowed();
      return resp.send(200, {{"Content-Type", "text/plain; charset=utf-8"}}, "ok");
    }
    if (subresource == "exec" || subresource == "attach") {
      if (parts.size() != 4 && parts.size() != 5) return notFound();
      if (!getOrPost) return methodNotAllowed();
      ContainerRef c{{parts[1], parts[2], parts.size() == 5 ? parts[3] : ""}, parts.back()};
      std::vector<std::string> command = allValues(parseQuery(req.rawQuery), "command");
      return serveRemoteCommand(req, resp, backend_, c, command, subresource == "attach", config_);
    }
    if (subresource == "portForward") {
      if (parts.size() != 3 && parts.size() != 4) return notFound();
      if (!getOrPost) return methodNotAllowed();
      PodRef pod{parts[1], parts[2], parts.size() == 4 ? parts[3] : ""};
      return servePortForward(req, resp, backend_, pod, config_);
    }
    if (subresource == "containerLogs") {
      if (parts.size() != 4) return notFound();
      if (req.method != "GET") return methodNotAllowed();
      return serveLogs(req, resp, ContainerRef{{parts[1], parts[2], ""}, parts[3]});
    }
    notFound();
  }

  bool authorized(const http::Request& req, http::ResponseWriter& resp, const std::string& subresource) {
    if (!req.peer.present) {
      resp.send(401, {{"Content-Type", "text/plain; charset=utf-8"}}, "Unauthorized");
      return false;
    }
    const auto& orgs = req.peer.organizations;
    bool allowed = req.peer.commonName == options_.allowedCommonName &&
                   (options_.allowedOrganization.empty() ||
                    std::find(orgs.begin(), orgs.end(), options_.allowedOrganization) != orgs.end());
    if (!allowed) {
      std::string sub = subresource == "containerLogs" ? "log" : subresource == "healthz" ? "healthz" : "proxy";
      std::string verb = req.method == "POST" ? "create" : "get";
      resp.send(403, {{"Content-Type", "text/plain; charset=utf-8"}},
                "Forbidden (user=" + req.peer.commonName + ", verb=" + verb +
                    ", resource=nodes, subresource(s)=[" + sub + "])");
      return false;
    }
    return true;
  }

  void serveLogs(http::Request& req, http::ResponseWriter& resp, const ContainerRef& container) {
    auto options = decodeLogOptions(parseQuery(req.rawQuery));
    if (!options.ok()) {
      return resp.send(httpStatusOf(options.error()), {{"Content-Type", "text/plain; charset=utf-8"}},
                       options.error().message());
    }
    bool started = false;
    bool clientGone = false;
    int64_t left = options->limitBytes.value_or(INT64_MAX);
    auto write = [&](std::string_view data) -> bool {
      if (clientGone) return false;
      if (data.empty()) {
        if (resp.wait(-1, 0) == http::ResponseWriter::Wake::kClientGone) clientGone = true;
        return !clientGone;
      }
      if (left <= 0) return false;
      if (int64_t(data.size()) > left) data = data.substr(0, size_t(left));
      if (!started) {
        started = true;
        if (!resp.startStream(200, {{"Content-Type", "text/plain; charset=utf-8"}})) {
          clientGone = true;
          return false;
        }
      }
      if (!resp.write(data)) {
        clientGone = true;
        return false;
      }
      left -= int64_t(data.size());
      return left > 0;
    };
    Result<void> result = backend_.logs(container, *options, write);
    if (!result.ok() && !started) {
      return resp.send(httpStatusOf(result.error()), {{"Content-Type", "text/plain; charset=utf-8"}},
                       result.error().message());
    }
    if (!result.ok()) log::v(2, "log stream ended early", {{"error", result.error().message()}});
    if (!started) {
      resp.send(200, {{"Content-Type", "text/plain; charset=utf-8"}}, "");
      return;
    }
    if (!clientGone) resp.end();
  }

  StreamingServerOptions options_;
  StreamingBackend& backend_;
  SessionConfig config_;
  std::unique_ptr<http::HttpServer> http_;
};

}  // namespace

Result<std::unique_ptr<StreamingServer>> StreamingServer::start(const StreamingServerOptions& options,
                                                               StreamingBackend& backend) {
  if (options.clientCaPem.empty())
    return Error(ErrorCode::kInvalid, "node API: a client CA is required (only the API server may connect)");
  if (options.allowedCommonName.empty())
    return Error(ErrorCode::kInvalid, "node API: the API server's client identity is required");
  auto server = std::make_unique<StreamingServerImpl>(options, backend);
  TRY(server->listen());
  log::info("Node API listening", {{"address", options.bindAddress + ":" + std::to_string(server->port())}});
  return std::unique_ptr<StreamingServer>(std::move(server));
}

}  // namespace nave::agent
