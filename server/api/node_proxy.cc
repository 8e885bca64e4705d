#include "server/api/node_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "common/json.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/time.h"
#include "server/api/status.h"
#include "server/http/request_parser.h"
#include "server/http/socket.h"
#include "server/http/tls.h"
#include "server/pki/x509.h"
#include "server/validation/field_errors.h"

namespace nave::api {
namespace {

using Clock = std::chrono::steady_clock;
using Query = std::multimap<std::string, std::string, std::less<>>;

constexpr size_t kMaxResponseHead = 64 * 1024;
constexpr size_t kMaxErrorBody = 1 << 20;
constexpr int kDefaultKubeletPort = 10250;

Query parseQuery(std::string_view raw) {
  Query q;
  for (const std::string& pair : split(raw, '&')) {
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    q.emplace(urlDecode(pair.substr(0, eq), true),
              eq == std::string::npos ? "" : urlDecode(pair.substr(eq + 1), true));
  }
  return q;
}

const std::string* first(const Query& q, std::string_view key) {
  auto it = q.find(key);
  return it == q.end() ? nullptr : &it->second;
}

std::vector<std::string> all(const Query& q, std::string_view key) {
  std::vector<std::string> out;
  auto [b, e] = q.equal_range(key);
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

// runtime.Convert_Slice_string_To_bool: only "false" and "0" are false.
bool queryFlag(const Query& q, std::string_view key) {
  const std::string* v = first(q, key);
  if (v == nullptr) return false;
  std::string lower = toLower(*v);
  return lower != "false" && lower != "0";
}

// strconv.ParseInt(s, 10, 64), with Go's error text.
Result<int64_t> parseInt(const std::string& s) {
  auto bad = [&](const char* why) {
    return badRequest("strconv.ParseInt: parsing " + goQuote(s) + ": " + why);
  };
  if (s.empty()) return bad("invalid syntax");
  size_t i = s[0] == '-' || s[0] == '+' ? 1 : 0;
  if (i == s.size()) return bad("invalid syntax");
  uint64_t n = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return bad("invalid syntax");
    if (n > (uint64_t(1) << 63) / 10) return bad("value out of range");
    n = n * 10 + uint64_t(s[i] - '0');
  }
  if (s[0] == '-') {
    if (n > (uint64_t(1) << 63)) return bad("value out of range");
    return n == (uint64_t(1) << 63) ? INT64_MIN : -int64_t(n);
  }
  if (n > uint64_t(INT64_MAX)) return bad("value out of range");
  return int64_t(n);
}

Result<std::optional<int64_t>> optionalInt(const Query& q, std::string_view key) {
  const std::string* v = first(q, key);
  if (v == nullptr) return std::optional<int64_t>();
  return std::optional<int64_t>(TRY(parseInt(*v)));
}

// A Status with no reason, as Kubernetes reports errors that are not API errors.
void sendUnknownError(http::ResponseWriter& resp, int code, const std::string& message) {
  Json s = {{"kind", "Status"},     {"apiVersion", "v1"}, {"metadata", Json::object()},
            {"status", "Failure"},  {"message", message}, {"code", code}};
  resp.send(code, {{"Content-Type", "application/json"}, {"Cache-Control", "no-cache, private"}},
            dumpJson(s));
}

void sendError(http::ResponseWriter& resp, const Error& e) {
  resp.send(httpStatusFor(e.code()),
            {{"Content-Type", "application/json"}, {"Cache-Control", "no-cache, private"}},
            dumpJson(statusFromError(e)));
}

std::vector<std::string> containerNames(const Json& pod) {
  std::vector<std::string> names;
  const Json* spec = findMember(pod, "spec");
  if (spec == nullptr) return names;
  for (const char* field : {"initContainers", "containers", "ephemeralContainers"}) {
    const Json* list = findMember(*spec, field);
    if (list == nullptr || !list->is_array()) continue;
    for (const Json& c : *list) names.push_back(getString(c, "name"));
  }
  return names;
}

// The container a request is for: the named one, which must exist, or the only one
// (streamLocation and validateContainer).
Result<std::string> resolveContainer(const Json& pod, const std::string& name, const std::string& requested) {
  if (requested.empty()) {
    const Json* spec = findMember(pod, "spec");
    const Json* containers = spec != nullptr ? findMember(*spec, "containers") : nullptr;
    size_t count = containers != nullptr && containers->is_array() ? containers->size() : 0;
    if (count == 1) return getString((*containers)[0], "name");
    if (count == 0) return badRequest("a container name must be specified for pod " + name);
    return badRequest("a container name must be specified for pod " + name + ", choose one of: [" +
                      join(containerNames(pod), " ") + "]");
  }
  std::vector<std::string> names = containerNames(pod);
  if (std::find(names.begin(), names.end(), requested) == names.end())
    return badRequest("container " + requested + " is not valid for pod " + name);
  return requested;
}

struct Backend {
  std::string host;  // the node address
  int port = kDefaultKubeletPort;
};

// GetPreferredNodeAddress with k3s' preference, and the kubelet's port.
Result<Backend> kubeletOf(const Json& node, std::string& noAddressMessage) {
  Backend b;
  const Json* status = findMember(node, "status");
  const Json* addresses = status != nullptr ? findMember(*status, "addresses") : nullptr;
  std::string known;
  for (const char* type : {"InternalIP", "ExternalIP", "Hostname"}) {
    if (addresses == nullptr || !addresses->is_array()) break;
    for (const Json& a : *addresses) {
      if (getString(a, "type") == type && !getString(a, "address").empty()) {
        b.host = getString(a, "address");
        break;
      }
    }
    if (!b.host.empty()) break;
  }
  if (b.host.empty()) {
    if (addresses != nullptr && addresses->is_array()) {
      for (const Json& a : *addresses) {
        if (!known.empty()) known += " ";
        known += "{" + getString(a, "type") + " " + getString(a, "address") + "}";
      }
    }
    noAddressMessage = "no preferred addresses found; known addresses: [" + known + "]";
    return Error(ErrorCode::kInternal, noAddressMessage);
  }
  if (const Json* endpoints = status != nullptr ? findMember(*status, "daemonEndpoints") : nullptr) {
    if (const Json* kubelet = findMember(*endpoints, "kubeletEndpoint")) {
      int64_t port = getInt(*kubelet, "Port", 0);
      if (port > 0 && port < 65536) b.port = int(port);
    }
  }
  return b;
}

std::string hostPort(const Backend& b) {
  return (b.host.find(':') != std::string::npos ? "[" + b.host + "]" : b.host) + ":" + std::to_string(b.port);
}

// Go's spelling of a few errno values in dial errors.
std::string goErrno(int err) {
  switch (err) {
    case ECONNREFUSED: return "connection refused";
    case EHOSTUNREACH: return "no route to host";
    case ENETUNREACH: return "network is unreachable";
    case ETIMEDOUT: return "connection timed out";
    default: return toLower(std::strerror(err));
  }
}

struct SslCtxHolder {
  http::SslCtxPtr ctx;
};

// The response head of the kubelet.
struct ResponseHead {
  int status = 0;
  std::vector<http::Header> headers;
  std::string header(std::string_view name) const {
    for (const auto& h : headers)
      if (toLower(h.name) == toLower(name)) return h.value;
    return "";
  }
};

Result<ResponseHead> parseResponseHead(std::string_view head) {
  ResponseHead r;
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < head.size()) {
    size_t end = head.find('\n', start);
    if (end == std::string_view::npos) end = head.size();
    std::string_view line = head.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.emplace_back(line);
    start = end + 1;
  }
  if (lines.empty() || !lines[0].starts_with("HTTP/1.") || lines[0].size() < 12)
    return Error(ErrorCode::kInternal, "malformed HTTP response from the kubelet");
  std::string code = lines[0].substr(9, 3);
  if (!std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return Error(ErrorCode::kInternal, "malformed HTTP status line from the kubelet");
  r.status = std::stoi(code);
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    size_t colon = lines[i].find(':');
    if (colon == std::string::npos) return Error(ErrorCode::kInternal, "malformed HTTP header from the kubelet");
    r.headers.push_back({lines[i].substr(0, colon), std::string(trim(lines[i].substr(colon + 1)))});
  }
  return r;
}

class NodeProxyImpl final : public NodeProxy {
 public:
  NodeProxyImpl(ResourceApi& api, const Options& options, http::SslCtxPtr ctx,
                std::shared_ptr<http::SocketSet> sockets)
      : api_(api), options_(options), ctx_(std::move(ctx)), sockets_(std::move(sockets)) {}
  ~NodeProxyImpl() override { stop(); }

  void stop() override { sockets_->stopAll(); }

  void serve(http::Request& req, http::ResponseWriter& resp, RequestContext& ctx,
             const std::string& ns, const std::string& name, const std::string& subresource) override {
    bool log = subresource == "log";
    if (log ? req.method != "GET" : (req.method != "GET" && req.method != "POST")) {
      return sendError(resp, Error(ErrorCode::kMethodNotAllowed,
                                   "the server does not allow this method on the requested resource"));
    }
    Query q = parseQuery(req.rawQuery);
    if (log) return serveLog(req, resp, ctx, ns, name, q);

    // Connect options (PodExecOptions, PodAttachOptions, PodPortForwardOptions).
    std::string kubeletQuery;
    auto add = [&](std::string_view key, std::string_view value) {
      if (!kubeletQuery.empty()) kubeletQuery += '&';
      kubeletQuery += urlEncode(key) + "=" + urlEncode(value);
    };
    std::vector<int64_t> ports;
    if (subresource == "portforward") {
      for (const std::string& p : all(q, "ports")) {
        auto port = parseInt(p);
        if (!port.ok()) return sendError(resp, port.error());
        ports.push_back(*port);
      }
    }
    auto pod = getObject(ctx, "pods", ns, name);
    if (!pod.ok()) return sendError(resp, pod.error());
    std::string path;
    if (subresource == "portforward") {
      for (int64_t p : ports) add("port", std::to_string(p));
      path = "/portForward/" + ns + "/" + name;
    } else {
      const std::string* container = first(q, "container");
      auto resolved = resolveContainer(*pod, name, container ? *container : "");
      if (!resolved.ok()) return sendError(resp, resolved.error());
      // The kubelet takes "1" for the flags (streamParams); the command may be any values.
      if (queryFlag(q, "stdin")) add("input", "1");
      if (queryFlag(q, "stdout")) add("output", "1");
      if (queryFlag(q, "stderr")) add("error", "1");
      if (queryFlag(q, "tty")) add("tty", "1");
      if (subresource == "exec")
        for (const std::string& c : all(q, "command")) add("command", c);
      path = "/" + subresource + "/" + ns + "/" + name + "/" + *resolved;
    }
    std::string nodeName = getString(getMember(*pod, "spec"), "nodeName");
    if (nodeName.empty()) return sendError(resp, badRequest("pod " + name + " does not have a host assigned"));
    std::string noAddress;
    auto backend = backendFor(ctx, nodeName, noAddress);
    if (!backend.ok()) {
      if (!noAddress.empty()) return sendUnknownError(resp, 500, noAddress);
      return sendError(resp, backend.error());
    }
    if (!isUpgrade(req)) return sendError(resp, badRequest("Upgrade request required"));
    serveUpgrade(req, resp, *backend, path + (kubeletQuery.empty() ? "" : "?" + kubeletQuery));
  }

 private:
  static const Json& getMember(const Json& obj, std::string_view key) {
    static const Json empty = Json::object();
    const Json* m = findMember(obj, key);
    return m != nullptr ? *m : empty;
  }

  static bool isUpgrade(const http::Request& req) {
    for (const std::string& t : split(req.header("Connection"), ','))
      if (toLower(trim(t)) == "upgrade") return !trim(req.header("Upgrade")).empty();
    return false;
  }

  Result<Json> getObject(RequestContext& ctx, std::string_view resource, std::string_view ns,
                         std::string_view name) {
    auto type = api_.types().find("", "v1", resource);
    if (!type) return Error(ErrorCode::kInternal, "no " + std::string(resource) + " resource");
    return api_.get(ctx, *type, ns, name, GetOptions{}, "");
  }

  Result<Backend> backendFor(RequestContext& ctx, const std::string& nodeName, std::string& noAddress) {
    Json node = TRY(getObject(ctx, "nodes", "", nodeName));
    return kubeletOf(node, noAddress);
  }

  // A TLS connection to the kubelet, or the error text ("dial tcp ...: connect: ...").
  Result<std::unique_ptr<http::Socket>> dial(const Backend& b) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    std::string target = hostPort(b);
    if (int r = ::getaddrinfo(b.host.c_str(), std::to_string(b.port).c_str(), &hints, &found); r != 0) {
      return Error(ErrorCode::kInternal, "dial tcp: lookup " + b.host + ": " + gai_strerror(r));
    }
    std::unique_ptr<addrinfo, void (*)(addrinfo*)> list(found, ::freeaddrinfo);
    UniqueFd fd(::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return Error::fromErrno("socket", errno);
    Clock::time_point deadline = Clock::now() + options_.dialTimeout;
    auto timeoutMs = [&] {
      return int(std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(
                                          deadline - Clock::now()).count()));
    };
    if (::connect(fd.get(), found->ai_addr, found->ai_addrlen) != 0) {
      if (errno != EINPROGRESS)
        return Error(ErrorCode::kInternal, "dial tcp " + target + ": connect: " + goErrno(errno));
      pollfd p[2] = {{fd.get(), POLLOUT, 0}, {sockets_->stopFd(), POLLIN, 0}};
      int r = ::poll(p, 2, timeoutMs());
      if (r <= 0 || p[1].revents != 0) return Error(ErrorCode::kInternal, "dial tcp " + target + ": i/o timeout");
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return Error(ErrorCode::kInternal, "dial tcp " + target + ": connect: " + goErrno(err));
    }
    http::SslPtr ssl(SSL_new(ctx_.get()));
    if (!ssl) return Error(ErrorCode::kInternal, "tls: " + http::takeOpensslErrors());
    SSL_set_fd(ssl.get(), fd.get());
    SSL_set_connect_state(ssl.get());
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
    in6_addr probe{};
    bool isIp = ::inet_pton(AF_INET, b.host.c_str(), &probe) == 1 || ::inet_pton(AF_INET6, b.host.c_str(), &probe) == 1;
    if (isIp) {
      X509_VERIFY_PARAM_set1_ip_asc(param, b.host.c_str());
    } else {
      X509_VERIFY_PARAM_set1_host(param, b.host.c_str(), 0);
      SSL_set_tlsext_host_name(ssl.get(), b.host.c_str());
    }
    for (;;) {
      ERR_clear_error();
      int r = SSL_connect(ssl.get());
      if (r == 1) break;
      int err = SSL_get_error(ssl.get(), r);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        pollfd p[2] = {{fd.get(), short(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0},
                       {sockets_->stopFd(), POLLIN, 0}};
        int pr = ::poll(p, 2, timeoutMs());
        if (pr <= 0 || p[1].revents != 0) return Error(ErrorCode::kInternal, "net/http: TLS handshake timeout");
        continue;
      }
      long verify = SSL_get_verify_result(ssl.get());
      if (verify != X509_V_OK) {
        return Error(ErrorCode::kInternal, std::string("tls: failed to verify certificate: x509: ") +
                                               X509_verify_cert_error_string(verify));
      }
      std::string detail = http::takeOpensslErrors();
      return Error(ErrorCode::kInternal, "remote error: tls: " + (detail.empty() ? "handshake failed" : detail));
    }
    return std::make_unique<http::Socket>(std::move(fd), std::move(ssl), sockets_);
  }

  // Waits until the kubelet socket has data, or the client went away (false).
  static bool waitKubelet(http::Socket& sock, http::ResponseWriter& resp, bool responded) {
    if (sock.hasBufferedInput()) return true;
    if (!responded) return sock.waitReady(POLLIN, http::kNoDeadline);
    return resp.wait(sock.fd(), -1) != http::ResponseWriter::Wake::kClientGone;
  }

  // Reads some bytes: >0, 0 at end, -1 on error or when the client went away.
  static long readKubelet(http::Socket& sock, http::ResponseWriter& resp, bool responded, char* buf, size_t size) {
    for (;;) {
      size_t got = 0;
      switch (sock.readSome(buf, size, got)) {
        case http::Socket::Io::kData: return long(got);
        case http::Socket::Io::kEof: return 0;
        case http::Socket::Io::kError: return -1;
        case http::Socket::Io::kWantWrite:
          if (!sock.waitReady(POLLOUT, http::kNoDeadline)) return -1;
          break;
        case http::Socket::Io::kWantRead:
          if (!waitKubelet(sock, resp, responded)) return -1;
          break;
      }
    }
  }

  // Sends the request and reads the response head; `rest` gets the bytes after it.
  Result<ResponseHead> roundTrip(http::Socket& sock, http::ResponseWriter& resp, const std::string& request,
                                 std::string& rest) {
    if (!sock.writeAll(request, std::chrono::seconds(30)))
      return Error(ErrorCode::kInternal, "write to the kubelet failed");
    std::string buffer;
    char chunk[16 * 1024];
    for (;;) {
      size_t end = buffer.find("\r\n\r\n");
      if (end != std::string::npos) {
        ResponseHead head = TRY(parseResponseHead(std::string_view(buffer).substr(0, end + 2)));
        rest = buffer.substr(end + 4);
        return head;
      }
      if (buffer.size() > kMaxResponseHead) return Error(ErrorCode::kInternal, "the kubelet's response head is too large");
      long n = readKubelet(sock, resp, false, chunk, sizeof chunk);
      if (n <= 0) return Error(ErrorCode::kInternal, "the kubelet closed the connection without a response (EOF)");
      buffer.append(chunk, size_t(n));
    }
  }

  // The body of a non-101, non-streamed response (bounded).
  std::string readBody(http::Socket& sock, http::ResponseWriter& resp, const ResponseHead& head, std::string rest) {
    std::string body;
    char chunk[16 * 1024];
    bool chunked = toLower(head.header("Transfer-Encoding")).find("chunked") != std::string::npos;
    std::string lengthText = head.header("Content-Length");
    size_t length = lengthText.empty() ? SIZE_MAX : size_t(std::strtoull(lengthText.c_str(), nullptr, 10));
    http::ChunkedDecoder decoder(kMaxErrorBody, 64 * 1024);
    auto consume = [&](std::string_view data) {
      if (chunked) {
        decoder.feed(data, body);
        return !decoder.done() && !decoder.malformed() && !decoder.tooLarge();
      }
      body.append(data.substr(0, std::min(data.size(), length - std::min(length, body.size()))));
      return body.size() < length && body.size() < kMaxErrorBody;
    };
    bool more = consume(rest);
    while (more) {
      long n = readKubelet(sock, resp, false, chunk, sizeof chunk);
      if (n <= 0) break;
      more = consume(std::string_view(chunk, size_t(n)));
    }
    return body;
  }

  std::string requestHead(const http::Request& req, const Backend& b, const std::string& pathAndQuery,
                          const std::string& method, bool forwardHeaders) {
    std::string out = method + " " + pathAndQuery + " HTTP/1.1\r\nHost: " + hostPort(b) + "\r\n";
    if (forwardHeaders) {
      static const char* const kDropped[] = {"host", "authorization", "content-length", "transfer-encoding",
                                             "keep-alive", "proxy-connection", "proxy-authorization",
                                             "te", "trailer", "expect", "cookie"};
      for (const http::Header& h : req.headers) {
        std::string lower = toLower(h.name);
        if (std::find(std::begin(kDropped), std::end(kDropped), lower) != std::end(kDropped)) continue;
        out += h.name + ": " + h.value + "\r\n";
      }
      out += "X-Forwarded-For: " + req.remoteAddress.substr(0, req.remoteAddress.rfind(':')) + "\r\n";
    } else {
      out += "User-Agent: nave-apiserver\r\nAccept: */*\r\n";
    }
    return out + "\r\n";
  }

  void serveUpgrade(http::Request& req, http::ResponseWriter& resp, const Backend& b, const std::string& pathAndQuery) {
    auto sock = dial(b);
    if (!sock.ok()) return sendUnknownError(resp, 500, "error dialing backend: " + sock.error().message());
    std::string rest;
    auto head = roundTrip(**sock, resp, requestHead(req, b, pathAndQuery, req.method, true), rest);
    if (!head.ok()) return sendUnknownError(resp, 500, "error dialing backend: " + head.error().message());
    if (head->status != 101) {
      // The kubelet refused the upgrade: its answer goes to the client as it is.
      std::string body = readBody(**sock, resp, *head, std::move(rest));
      std::vector<http::Header> headers;
      for (const http::Header& h : head->headers) {
        std::string lower = toLower(h.name);
        if (lower == "content-type" || lower.starts_with("x-")) headers.push_back(h);
      }
      return resp.send(head->status, headers, body);
    }
    std::vector<http::Header> headers;
    for (const http::Header& h : head->headers)
      if (toLower(h.name) != "content-length" && toLower(h.name) != "date") headers.push_back(h);
    std::unique_ptr<http::Stream> client = resp.upgrade(101, headers);
    if (!client) return;
    splice(*client, **sock, rest);
  }

  // Copies bytes both ways until both directions ended; a direction that ends is half-closed
  // on the other side, and the other gets lingerTimeout to finish.
  void splice(http::Stream& client, http::Socket& kubelet, const std::string& early) {
    std::mutex mu;
    std::condition_variable cv;
    bool upDone = false;
    std::thread up([&] {
      char buffer[32 * 1024];
      for (;;) {
        long n = client.read(buffer, sizeof buffer);
        if (n <= 0) break;
        if (!kubelet.writeAll(std::string_view(buffer, size_t(n)), std::chrono::milliseconds(0))) break;
      }
      kubelet.shutdownWrite();
      std::lock_guard lock(mu);
      upDone = true;
      cv.notify_all();
    });
    bool ok = early.empty() || client.write(early);
    char buffer[32 * 1024];
    while (ok) {
      long n = kubelet.read(buffer, sizeof buffer, http::kNoDeadline);
      if (n <= 0) break;
      if (!client.write(std::string_view(buffer, size_t(n)))) break;
    }
    client.closeWrite();
    {
      std::unique_lock lock(mu);
      if (!cv.wait_for(lock, options_.lingerTimeout, [&] { return upDone; })) {
        lock.unlock();
        client.close();
        kubelet.shutdownBoth();
      }
    }
    up.join();
  }

  void serveLog(http::Request& req, http::ResponseWriter& resp, RequestContext& ctx, const std::string& ns,
                const std::string& name, const Query& q) {
    // PodLogOptions from the query, then ValidatePodLogOptions.
    auto decode = [&]() -> Result<std::string> {
      std::optional<int64_t> sinceSeconds = TRY(optionalInt(q, "sinceSeconds"));
      std::optional<int64_t> tailLines = TRY(optionalInt(q, "tailLines"));
      std::optional<int64_t> limitBytes = TRY(optionalInt(q, "limitBytes"));
      std::optional<WallTime> sinceTime;
      if (const std::string* t = first(q, "sinceTime"); t != nullptr && !t->empty() && *t != "null") {
        sinceTime = parseRfc3339(*t);
        if (!sinceTime)
          return badRequest("parsing time " + goQuote(*t) + " as \"2006-01-02T15:04:05Z07:00\": cannot parse " +
                            goQuote(*t) + " as \"2006\"");
      }
      validation::FieldErrors errs;
      if (tailLines && *tailLines < 0) errs.invalid("tailLines", *tailLines, "must be greater than or equal to 0");
      if (limitBytes && *limitBytes < 1) errs.invalid("limitBytes", *limitBytes, "must be greater than 0");
      if (sinceSeconds && sinceTime) {
        errs.forbidden("", "at most one of `sinceTime` or `sinceSeconds` may be specified");
      } else if (sinceSeconds && *sinceSeconds < 1) {
        errs.invalid("sinceSeconds", *sinceSeconds, "must be greater than 0");
      }
      if (!errs.empty()) return validation::invalidError("", "PodLogOptions", name, errs);
      std::string out;
      auto add = [&](std::string_view k, std::string_view v) {
        if (!out.empty()) out += '&';
        out += urlEncode(k) + "=" + urlEncode(v);
      };
      if (queryFlag(q, "follow")) add("follow", "true");
      if (queryFlag(q, "previous")) add("previous", "true");
      if (queryFlag(q, "timestamps")) add("timestamps", "true");
      if (sinceSeconds) add("sinceSeconds", std::to_string(*sinceSeconds));
      if (sinceTime) add("sinceTime", formatRfc3339(*sinceTime));
      if (tailLines) add("tailLines", std::to_string(*tailLines));
      if (limitBytes) add("limitBytes", std::to_string(*limitBytes));
      return out;
    };
    auto kubeletQuery = decode();
    if (!kubeletQuery.ok()) return sendError(resp, kubeletQuery.error());
    auto pod = getObject(ctx, "pods", ns, name);
    if (!pod.ok()) return sendError(resp, pod.error());
    const std::string* container = first(q, "container");
    auto resolved = resolveContainer(*pod, name, container ? *container : "");
    if (!resolved.ok()) return sendError(resp, resolved.error());
    std::string nodeName = getString(getMember(*pod, "spec"), "nodeName");
    if (nodeName.empty()) {
      // An unscheduled pod has no log yet: an empty stream.
      return resp.send(200, {{"Content-Type", "text/plain"}}, "");
    }
    std::string noAddress;
    auto backend = backendFor(ctx, nodeName, noAddress);
    if (!backend.ok()) {
      if (!noAddress.empty()) return sendUnknownError(resp, 500, noAddress);
      return sendError(resp, backend.error());
    }
    std::string pathAndQuery = "/containerLogs/" + ns + "/" + name + "/" + *resolved +
                               (kubeletQuery->empty() ? "" : "?" + *kubeletQuery);
    std::string url = "https://" + hostPort(*backend) + pathAndQuery;
    auto sock = dial(*backend);
    if (!sock.ok()) return sendUnknownError(resp, 500, "Get " + goQuote(url) + ": " + sock.error().message());
    std::string rest;
    auto head = roundTrip(**sock, resp, requestHead(req, *backend, pathAndQuery, "GET", false), rest);
    if (!head.ok()) return sendUnknownError(resp, 500, "Get " + goQuote(url) + ": " + head.error().message());
    if (head->status < 200 || head->status > 206) {
      std::string body = readBody(**sock, resp, *head, std::move(rest));
      return sendLogError(resp, head->status, name, body);
    }
    if (!resp.startStream(200, {{"Content-Type", "text/plain"}, {"Cache-Control", "no-cache, private"}})) return;
    bool chunked = toLower(head->header("Transfer-Encoding")).find("chunked") != std::string::npos;
    std::string lengthText = head->header("Content-Length");
    uint64_t left = lengthText.empty() ? UINT64_MAX : std::strtoull(lengthText.c_str(), nullptr, 10);
    http::ChunkedDecoder decoder(SIZE_MAX, 64 * 1024);
    std::string out;
    auto forward = [&](std::string_view data) -> bool {
      out.clear();
      if (chunked) {
        decoder.feed(data, out);
      } else {
        size_t n = size_t(std::min<uint64_t>(left, data.size()));
        out.assign(data.substr(0, n));
        left -= n;
      }
      if (!out.empty() && !resp.write(out)) return false;
      if (chunked) return !decoder.done() && !decoder.malformed();
      return left > 0;
    };
    bool more = forward(rest);
    char buffer[32 * 1024];
    while (more) {
      long n = readKubelet(**sock, resp, true, buffer, sizeof buffer);
      if (n <= 0) break;
      more = forward(std::string_view(buffer, size_t(n)));
    }
    resp.end();
  }

  // GenericHttpResponseChecker: the kubelet's error for pods/log.
  void sendLogError(http::ResponseWriter& resp, int code, const std::string& name, std::string body) {
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
    if (code == 500) return sendError(resp, internalError(body));
    if (code == 400) return sendError(resp, badRequest(body));
    std::string reason, message;
    switch (code) {
      case 404: reason = "NotFound"; message = "the server could not find the requested resource"; break;
      case 401: reason = "Unauthorized"; message = "the server has asked for the client to provide credentials"; break;
      case 403: reason = "Forbidden"; message = body; break;
      case 405: reason = "MethodNotAllowed"; message = "the server does not allow this method on the requested resource"; break;
      case 422: reason = "Invalid"; message = "the server rejected our request due to an error in our request"; break;
      case 503: reason = "ServiceUnavailable"; message = "the server is currently unable to handle the request"; break;
      default:
        message = "the server responded with the status code " + std::to_string(code) +
                  " but did not return more information";
        if (code >= 500) {
          reason = "InternalError";
          message = "an error on the server (" + goQuote(body) + ") has prevented the request from succeeding";
        }
    }
    message += " ( pods/log " + name + ")";
    Json s = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", Json::object()}, {"status", "Failure"},
              {"message", message}, {"details", {{"name", name}, {"kind", "pods/log"}}}, {"code", code}};
    if (!reason.empty()) s["reason"] = reason;
    resp.send(code, {{"Content-Type", "application/json"}, {"Cache-Control", "no-cache, private"}}, dumpJson(s));
  }

  ResourceApi& api_;
  Options options_;
  http::SslCtxPtr ctx_;
  std::shared_ptr<http::SocketSet> sockets_;
};

}  // namespace

bool NodeProxy::handles(std::string_view subresource) {
  return subresource == "exec" || subresource == "attach" || subresource == "portforward" ||
         subresource == "log";
}

Result<std::unique_ptr<NodeProxy>> NodeProxy::create(ResourceApi& api, const Options& options) {
  http::SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return Error(ErrorCode::kInternal, "SSL_CTX_new: " + http::takeOpensslErrors());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx.get());
  auto ca = pki::parseCertificatePem(options.caPem);
  if (!ca.ok()) return std::move(ca).error().context("kubelet CA");
  if (X509_STORE_add_cert(store, ca->get()) != 1)
    return Error(ErrorCode::kInvalid, "kubelet CA: " + http::takeOpensslErrors());
  auto cert = pki::parseCertificatePem(options.clientCertificate.certPem);
  if (!cert.ok()) return std::move(cert).error().context("kubelet client certificate");
  auto key = pki::parsePrivateKeyPem(options.clientCertificate.keyPem);
  if (!key.ok()) return std::move(key).error().context("kubelet client key");
  if (SSL_CTX_use_certificate(ctx.get(), cert->get()) != 1 || SSL_CTX_use_PrivateKey(ctx.get(), key->get()) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    return Error(ErrorCode::kInvalid, "kubelet client certificate: " + http::takeOpensslErrors());
  }
  auto sockets = TRY(http::SocketSet::create());
  return std::unique_ptr<NodeProxy>(new NodeProxyImpl(api, options, std::move(ctx), std::move(sockets)));
}

}  // namespace nave::api
