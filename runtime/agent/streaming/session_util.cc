#include "runtime/agent/streaming/session_util.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "common/strings.h"

namespace nave::agent {

QueryValues parseQuery(std::string_view rawQuery) {
  QueryValues q;
  for (const std::string& pair : split(rawQuery, '&')) {
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key = urlDecode(pair.substr(0, eq), true);
    std::string value = eq == std::string::npos ? "" : urlDecode(pair.substr(eq + 1), true);
    q.emplace(std::move(key), std::move(value));
  }
  return q;
}

std::string firstValue(const QueryValues& query, std::string_view key) {
  auto it = query.find(key);
  return it == query.end() ? std::string() : it->second;
}

std::vector<std::string> allValues(const QueryValues& query, std::string_view key) {
  std::vector<std::string> out;
  auto [begin, end] = query.equal_range(key);
  for (auto it = begin; it != end; ++it) out.push_back(it->second);
  return out;
}

bool hasKey(const QueryValues& query, std::string_view key) { return query.find(key) != query.end(); }

void sendHttpError(http::ResponseWriter& response, const HttpError& error) {
  std::vector<http::Header> headers = error.headers;
  headers.push_back({"Content-Type", "text/plain; charset=utf-8"});
  headers.push_back({"X-Content-Type-Options", "nosniff"});
  response.send(error.status, headers, error.message + "\n");
}

int httpStatusOf(const Error& error) {
  switch (error.code()) {
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kBadRequest: return 400;
    case ErrorCode::kInvalid: return 422;
    case ErrorCode::kForbidden: return 403;
    case ErrorCode::kUnauthorized: return 401;
    case ErrorCode::kMethodNotAllowed: return 405;
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kUnavailable: return 503;
    case ErrorCode::kTimeout: return 504;
    default: return 500;
  }
}

namespace {
std::string goList(const std::vector<std::string>& items) { return "[" + join(items, " ") + "]"; }
}  // namespace

Result<std::string> negotiateSpdy(const http::Request& request,
                                  const std::vector<std::string>& serverProtocols, HttpError& error) {
  std::vector<std::string> clientProtocols;
  for (const http::Header& h : request.headers) {
    if (toLower(h.name) != "x-stream-protocol-version") continue;
    for (const std::string& p : split(h.value, ','))
      if (!trim(p).empty()) clientProtocols.emplace_back(trim(p));
  }
  if (clientProtocols.empty()) {
    error = {400, "unable to upgrade: X-Stream-Protocol-Version is required", {}};
    return Error(ErrorCode::kBadRequest, error.message);
  }
  std::string chosen;
  for (const std::string& c : clientProtocols) {
    for (const std::string& s : serverProtocols) {
      if (c == s) {
        chosen = c;
        break;
      }
    }
    if (!chosen.empty()) break;
  }
  if (chosen.empty()) {
    error = {403,
             "unable to upgrade: unable to negotiate protocol: client supports " +
                 goList(clientProtocols) + ", server accepts " + goList(serverProtocols),
             {}};
    for (const std::string& s : serverProtocols)
      error.headers.push_back({"X-Accepted-Stream-Protocol-Versions", s});
    return Error(ErrorCode::kForbidden, error.message);
  }
  std::string connection = toLower(request.header("Connection"));
  std::string upgrade = toLower(request.header("Upgrade"));
  if (connection.find("upgrade") == std::string::npos || upgrade.find("spdy/3.1") == std::string::npos) {
    std::string seen;
    for (const http::Header& h : request.headers) {
      if (!seen.empty()) seen += ", ";
      seen += h.name + ": " + h.value;
    }
    error = {400, "unable to upgrade: missing upgrade headers in request: {" + seen + "}", {}};
    return Error(ErrorCode::kBadRequest, error.message);
  }
  return chosen;
}

Wakeup::Wakeup() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

void Wakeup::fire() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(fd_.get(), &one, sizeof one);
}

bool Wakeup::fired() const {
  pollfd p{fd_.get(), POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

void setNonBlocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

bool writeFd(int fd, std::string_view data, const Wakeup& stop) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(size_t(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return false;
    pollfd p[2] = {{fd, POLLOUT, 0}, {stop.fd(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0 && errno != EINTR) return false;
    if (p[1].revents != 0) return false;
  }
  return true;
}

long readFd(int fd, char* buffer, size_t size, const Wakeup& stop,
            std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    ssize_t n = ::read(fd, buffer, size);
    if (n >= 0) return long(n);
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return -1;
    int timeout = -1;
    if (deadline != std::chrono::steady_clock::time_point::max()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0) return -1;
      timeout = int(std::min<int64_t>(left, 1 << 30));
    }
    pollfd p[2] = {{fd, POLLIN, 0}, {stop.fd(), POLLIN, 0}};
    int r = ::poll(p, 2, timeout);
    if (r < 0 && errno != EINTR) return -1;
    if (r == 0) return -1;
    if (p[1].revents != 0 && (p[0].revents & (POLLIN | POLLHUP)) == 0) return -1;
  }
}

Result<std::pair<UniqueFd, UniqueFd>> makePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Error::fromErrno("pipe2", errno);
  return std::make_pair(UniqueFd(fds[0]), UniqueFd(fds[1]));
}

}  // namespace nave::agent
