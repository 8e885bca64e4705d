#include "runtime/agent/probes.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <thread>

#include "common/fd.h"
#include "common/strings.h"

namespace nave::agent {
namespace {

using Clock = std::chrono::steady_clock;

ProbeOutcome fail(std::string message) { return {ProbeResult::kFailure, std::move(message)}; }

// A port given as a number or as the name of a container port.
std::optional<int> resolvePort(const Json& port, const Json& containerSpec) {
  if (port.is_number_integer()) return port.get<int>();
  if (!port.is_string()) return std::nullopt;
  std::string name = port.get<std::string>();
  if (!name.empty() && std::all_of(name.begin(), name.end(), ::isdigit)) return std::stoi(name);
  for (const Json& p : containerSpec.value("ports", Json::array())) {
    if (getString(p, "name") == name) return static_cast<int>(getInt(p, "containerPort"));
  }
  return std::nullopt;
}

int remainingMs(Clock::time_point deadline) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return ms < 0 ? 0 : static_cast<int>(ms);
}

// Connects to host:port before the deadline. The error text is Go's net error, as the
// kubelet's messages show it ("dial tcp 10.42.0.5:8080: connect: connection refused").
Result<UniqueFd> dial(const std::string& host, int port, Clock::time_point deadline) {
  std::string where = host + ":" + std::to_string(port);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    addrinfo hints{}, *res = nullptr;
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) {
      return Error(ErrorCode::kUnavailable, "dial tcp: lookup " + host + ": no such host");
    }
    addr.sin_addr = reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr;
    ::freeaddrinfo(res);
  }
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return Error::fromErrno("socket", errno);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) {
      return Error(ErrorCode::kUnavailable, "dial tcp " + where + ": connect: " + std::strerror(errno));
    }
    pollfd p{fd.get(), POLLOUT, 0};
    int r = ::poll(&p, 1, remainingMs(deadline));
    if (r <= 0) return Error(ErrorCode::kTimeout, "dial tcp " + where + ": i/o timeout");
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      return Error(ErrorCode::kUnavailable, "dial tcp " + where + ": connect: " + std::strerror(err));
    }
  }
  return fd;
}

ProbeOutcome httpGet(const Json& h, const Json& containerSpec, const std::string& podIp,
                     Clock::time_point deadline) {
  auto port = resolvePort(h.value("port", Json()), containerSpec);
  if (!port) return fail("invalid port " + h.value("port", Json()).dump());
  std::string host = getString(h, "host", podIp);
  std::string scheme = toLower(getString(h, "scheme", "HTTP"));
  std::string path = getString(h, "path", "/");
  if (path.empty() || path[0] != '/') path = "/" + path;
  std::string url = scheme + "://" + host + ":" + std::to_string(*port) + path;
  if (scheme == "https") {
    // The kubelet skips verification for HTTPS probes; a TLS client is not wired here yet:
    // a successful TCP connection counts, as a reachable server.
    auto fd = dial(host, *port, deadline);
    if (!fd.ok()) return fail("Get \"" + url + "\": " + fd.error().message());
    return {ProbeResult::kSuccess, ""};
  }
  auto fd = dial(host, *port, deadline);
  if (!fd.ok()) return fail("Get \"" + url + "\": " + fd.error().message());
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + host + ":" +
                        std::to_string(*port) + "\r\nUser-Agent: kube-probe/1.32\r\nAccept: */*\r\n";
  for (const Json& hd : h.value("httpHeaders", Json::array())) {
    request += getString(hd, "name") + ": " + getString(hd, "value") + "\r\n";
  }
  request += "Connection: close\r\n\r\n";
  size_t sent = 0;
  while (sent < request.size()) {
    pollfd p{fd->get(), POLLOUT, 0};
    if (::poll(&p, 1, remainingMs(deadline)) <= 0) {
      return fail("Get \"" + url + "\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)");
    }
    ssize_t n = ::send(fd->get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return fail("Get \"" + url + "\": write: " + std::strerror(errno));
    }
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string response;
  while (response.find("\r\n") == std::string::npos && response.size() < 4096) {
    pollfd p{fd->get(), POLLIN, 0};
    if (::poll(&p, 1, remainingMs(deadline)) <= 0) {
      return fail("Get \"" + url + "\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)");
    }
    char buf[1024];
    ssize_t n = ::recv(fd->get(), buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return fail("Get \"" + url + "\": read: " + std::strerror(errno));
    }
    response.append(buf, static_cast<size_t>(n));
  }
  // "HTTP/1.1 200 OK"
  auto parts = split(response.substr(0, response.find("\r\n")), ' ');
  if (parts.size() < 2 || parts[0].rfind("HTTP/", 0) != 0) {
    return fail("Get \"" + url + "\": malformed HTTP response");
  }
  int code = std::atoi(parts[1].c_str());
  if (code >= 200 && code < 400) return {ProbeResult::kSuccess, ""};
  return fail("HTTP probe failed with statuscode: " + std::to_string(code));
}

ProbeOutcome execHandler(runtime::ContainerRuntime& rt, const std::string& containerId,
                         const Json& e, Clock::time_point deadline) {
  std::vector<std::string> command;
  for (const Json& a : e.value("command", Json::array())) {
    if (a.is_string()) command.push_back(a.get<std::string>());
  }
  if (command.empty()) return fail("exec probe has no command");
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return fail(std::string("pipe: ") + std::strerror(errno));
  UniqueFd outRead(out[0]), outWrite(out[1]);
  runtime::ProcessSpec process;
  process.args = command;
  runtime::ExecIo io;
  io.stdoutFd = outWrite.get();
  io.stderrFd = outWrite.get();
  auto proc = rt.exec(containerId, process, io);
  outWrite.reset();
  if (!proc.ok()) return fail(proc.error().message());
  // Collect output (bounded) until the process ends or the timeout passes.
  std::string output;
  for (;;) {
    pollfd p{outRead.get(), POLLIN, 0};
    int r = ::poll(&p, 1, remainingMs(deadline));
    if (r == 0) {
      (void)(*proc)->kill(SIGKILL);
      (void)(*proc)->wait();
      return fail("command timed out");
    }
    if (r < 0 && errno == EINTR) continue;
    char buf[4096];
    ssize_t n = ::read(outRead.get(), buf, sizeof buf);
    if (n <= 0) break;
    if (output.size() < 10240) output.append(buf, static_cast<size_t>(n));
  }
  auto code = (*proc)->wait();
  if (!code.ok()) return fail(code.error().message());
  if (*code == 0) return {ProbeResult::kSuccess, std::string(trim(output))};
  std::string text(trim(output));
  return fail(text.empty() ? "command terminated with non-zero exit code: " + std::to_string(*code)
                           : text);
}

}  // namespace

ProbeOutcome runHandler(runtime::ContainerRuntime& runtime, const std::string& containerId,
                        const Json& handler, const Json& containerSpec, const std::string& podIp,
                        std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  if (const Json* e = findMember(handler, "exec")) {
    return execHandler(runtime, containerId, *e, deadline);
  }
  if (const Json* h = findMember(handler, "httpGet")) {
    return httpGet(*h, containerSpec, podIp, deadline);
  }
  if (const Json* t = findMember(handler, "tcpSocket")) {
    auto port = resolvePort(t->value("port", Json()), containerSpec);
    if (!port) return fail("invalid port " + t->value("port", Json()).dump());
    std::string host = getString(*t, "host", podIp);
    auto fd = dial(host, *port, deadline);
    if (!fd.ok()) return fail(fd.error().message());
    return {ProbeResult::kSuccess, ""};
  }
  if (const Json* s = findMember(handler, "sleep")) {
    std::this_thread::sleep_for(std::chrono::seconds(getInt(*s, "seconds", 0)));
    return {ProbeResult::kSuccess, ""};
  }
  return fail("missing probe handler");
}

}  // namespace nave::agent
