#include "runtime/container/shim_socket.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

namespace nave::runtime {

namespace {

// Fills `addr` with `path`, or with /proc/self/fd/N/NAME where N (kept open in `dirFd`) is
// the socket's directory when the path is too long for sun_path.
Result<socklen_t> socketAddress(const std::string& path, sockaddr_un& addr, UniqueFd& dirFd) {
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  std::string target = path;
  if (path.size() >= sizeof addr.sun_path) {
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    dirFd.reset(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dirFd) return Error::fromErrno("open " + dir, errno);
    target = "/proc/self/fd/" + std::to_string(dirFd.get()) + "/" + path.substr(slash + 1);
    if (target.size() >= sizeof addr.sun_path)
      return Error(ErrorCode::kInvalid, "socket name too long: " + path);
  }
  std::memcpy(addr.sun_path, target.data(), target.size());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + target.size() + 1);
}

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<UniqueFd> listenUnixSocket(const std::string& path) {
  sockaddr_un addr;
  UniqueFd dirFd;
  socklen_t len = TRY(socketAddress(path, addr, dirFd));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return Error::fromErrno("socket", errno);
  ::unlink(addr.sun_path);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0)
    return Error::fromErrno("bind " + path, errno);
  if (::listen(fd.get(), 64) != 0) return Error::fromErrno("listen " + path, errno);
  return fd;
}

Result<UniqueFd> connectUnixSocket(const std::string& path) {
  sockaddr_un addr;
  UniqueFd dirFd;
  socklen_t len = TRY(socketAddress(path, addr, dirFd));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Error::fromErrno("socket", errno);
  while (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    if (errno == EINTR) continue;
    if (errno == ENOENT || errno == ECONNREFUSED)
      return Error(ErrorCode::kUnavailable, "shim is not running (" + path + ")");
    return Error::fromErrno("connect " + path, errno);
  }
  return fd;
}

Result<std::string> shimRoundTrip(int fd, std::string_view line, int timeoutMs) {
  std::string request(line);
  request += '\n';
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error(ErrorCode::kUnavailable, std::string("shim connection: ") + std::strerror(errno));
    sent += static_cast<size_t>(n);
  }
  std::string reply;
  int64_t deadline = timeoutMs < 0 ? 0 : nowMs() + timeoutMs;
  for (;;) {
    int wait = -1;
    if (timeoutMs >= 0) {
      int64_t left = deadline - nowMs();
      if (left < 0) left = 0;
      wait = static_cast<int>(left);
    }
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, wait);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Error::fromErrno("poll", errno);
    if (r == 0) return Error(ErrorCode::kTimeout, "timed out waiting for the shim");
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error(ErrorCode::kUnavailable, "shim closed the connection");
    reply.append(buf, static_cast<size_t>(n));
    size_t nl = reply.find('\n');
    if (nl != std::string::npos) {
      reply.resize(nl);
      return reply;
    }
  }
}

Result<std::string> shimRequest(const std::string& socketPath, std::string_view line,
                                int timeoutMs) {
  UniqueFd fd = TRY(connectUnixSocket(socketPath));
  return decodeShimReply(TRY(shimRoundTrip(fd.get(), line, timeoutMs)));
}

Result<std::string> decodeShimReply(const std::string& reply) {
  if (reply == "ok") return std::string();
  if (reply.rfind("ok ", 0) == 0) return reply.substr(3);
  if (reply.rfind("error ", 0) == 0) {
    char* end = nullptr;
    long code = std::strtol(reply.c_str() + 6, &end, 10);
    std::string message = *end == ' ' ? std::string(end + 1) : std::string(end);
    if (code < 0 || code > static_cast<long>(ErrorCode::kTimeout)) code = static_cast<long>(ErrorCode::kInternal);
    return Error(static_cast<ErrorCode>(code), message);
  }
  return reply;
}

std::string encodeShimError(const Error& error) {
  std::string message = error.message();
  for (char& c : message)
    if (c == '\n') c = ' ';
  return "error " + std::to_string(static_cast<int>(error.code())) + " " + message;
}

std::string encodeAttachFrame(uint8_t type, std::string_view data) {
  std::string out;
  out.reserve(5 + data.size());
  out.push_back(static_cast<char>(type));
  uint32_t n = static_cast<uint32_t>(data.size());
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xff));
  out.append(data);
  return out;
}

std::optional<AttachFrame> decodeAttachFrame(std::string& buffer) {
  if (buffer.size() < 5) return std::nullopt;
  uint32_t n = 0;
  for (int i = 1; i <= 4; ++i) n = (n << 8) | static_cast<uint8_t>(buffer[static_cast<size_t>(i)]);
  if (n > kMaxAttachFrame) {
    buffer.clear();
    return std::nullopt;
  }
  if (buffer.size() < 5 + static_cast<size_t>(n)) return std::nullopt;
  AttachFrame f;
  f.type = static_cast<uint8_t>(buffer[0]);
  f.data = buffer.substr(5, n);
  buffer.erase(0, 5 + static_cast<size_t>(n));
  return f;
}

}  // namespace nave::runtime
