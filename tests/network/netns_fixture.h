// Test helpers for the network tests: throwaway network namespaces and TCP probes across them.
//
// Every test builds its own little world of namespaces ("host", "pods", "outside") and
// nothing touches the machine's own network namespace: code under test runs on threads that
// joined a test namespace, sockets are created inside them, and `ip`/`nft` run with
// `ip netns exec`. Namespaces are deleted when their TestNetns goes, also when a test fails.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "common/fd.h"
#include "common/result.h"
#include "network/netlink/netns.h"

namespace nave::network::testing {

// Runs a shell command; returns its exit status and stdout+stderr.
inline std::pair<int, std::string> shell(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return {-1, "popen failed"};
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// Whether the machine lets us create network namespaces (root with CAP_SYS_ADMIN, `ip`).
inline bool canCreateNetns() {
  static const bool ok = [] {
    std::string name = "nave-probe-" + std::to_string(::getpid());
    if (shell("ip netns add " + name).first != 0) return false;
    shell("ip netns del " + name);
    return true;
  }();
  return ok;
}

#define NAVE_REQUIRE_NETNS()                                                                   \
  do {                                                                                         \
    if (!::nave::network::testing::canCreateNetns())                                           \
      GTEST_SKIP() << "SKIPPED LOUDLY: cannot create network namespaces here (needs root and " \
                      "iproute2)";                                                             \
  } while (0)

class TestNetns {
 public:
  // A new namespace bound at /run/netns/<unique name>, with its loopback up.
  static std::unique_ptr<TestNetns> create(const std::string& role) {
    static std::atomic<int> counter{0};
    std::string name =
        "nave-t" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + role;
    auto [rc, out] = shell("ip netns add " + name);
    if (rc != 0) {
      ADD_FAILURE() << "ip netns add " << name << ": " << out;
      return nullptr;
    }
    std::unique_ptr<TestNetns> ns(new TestNetns(name));
    auto [rc2, out2] = shell("ip -n " + name + " link set lo up");
    EXPECT_EQ(rc2, 0) << out2;
    return ns;
  }
  ~TestNetns() { shell("ip netns del " + name_); }
  TestNetns(const TestNetns&) = delete;
  TestNetns& operator=(const TestNetns&) = delete;

  const std::string& name() const { return name_; }
  std::string path() const { return "/run/netns/" + name_; }
  NetnsHandle handle() const {
    auto h = NetnsHandle::open(path());
    if (!h.ok()) {
      ADD_FAILURE() << h.error().message();
      std::abort();
    }
    return std::move(h).value();
  }
  // Runs `fn` on a thread inside this namespace and returns what it returns.
  template <typename F>
  auto run(F&& fn) -> decltype(fn()) {
    std::optional<decltype(fn())> out;
    auto ran = runInNetnsThread(handle(), [&] { out.emplace(fn()); });
    if (!ran.ok()) {
      ADD_FAILURE() << ran.error().message();
      std::abort();
    }
    return std::move(*out);
  }
  // `ip netns exec NAME <cmd>`.
  std::pair<int, std::string> exec(const std::string& cmd) const {
    return shell("ip netns exec " + name_ + " " + cmd);
  }

 private:
  explicit TestNetns(std::string name) : name_(std::move(name)) {}
  std::string name_;
};

// Joins two namespaces with a veth pair: `aName` (address aAddr, "10.99.0.1/24") in `a`,
// `bName` (bAddr) in `b`, both up.
inline void connectNamespaces(const TestNetns& a, const std::string& aName,
                              const std::string& aAddr, const TestNetns& b,
                              const std::string& bName, const std::string& bAddr) {
  for (const std::string& cmd : {
           "ip -n " + a.name() + " link add " + aName + " type veth peer name " + bName +
               " netns " + b.name(),
           "ip -n " + a.name() + " addr add " + aAddr + " dev " + aName,
           "ip -n " + b.name() + " addr add " + bAddr + " dev " + bName,
           "ip -n " + a.name() + " link set " + aName + " up",
           "ip -n " + b.name() + " link set " + bName + " up",
       }) {
    auto [rc, out] = shell(cmd);
    ASSERT_EQ(rc, 0) << cmd << ": " << out;
  }
}

// --- TCP probes ---

inline sockaddr_in inetAddress(const std::string& ip, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &sa.sin_addr);
  return sa;
}

// A listening TCP socket created inside `ns` (a socket keeps its namespace whichever thread
// uses it), bound to ip:port.
inline UniqueFd listenIn(TestNetns& ns, const std::string& ip, uint16_t port) {
  return ns.run([&] {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int on = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_in sa = inetAddress(ip, port);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
        ::listen(fd.get(), 16) != 0) {
      ADD_FAILURE() << "listen on " << ip << ":" << port << ": " << strerror(errno);
      fd.reset();
    }
    return fd;
  });
}

// Bounds each wait so that a broken network fails the test instead of hanging it.
constexpr int kProbeWaitMs = 10000;

inline bool waitFor(int fd, short events) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, kProbeWaitMs) == 1;
}

// Connects from `clientNs` to dst:port, where `listener` (in whichever namespace it
// serves) accepts; sends a line both ways. Returns the client address the server saw (so the
// caller can check NAT), or an error describing what failed.
inline Result<std::string> probe(TestNetns& clientNs, const std::string& dst, uint16_t port,
                                 int listener) {
  UniqueFd client = clientNs.run(
      [] { return UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)); });
  sockaddr_in sa = inetAddress(dst, port);
  if (::connect(client.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 &&
      errno != EINPROGRESS)
    return Error::fromErrno("connect to " + dst, errno);
  if (!waitFor(client.get(), POLLOUT))
    return Error(ErrorCode::kTimeout, "connect to " + dst + ": timed out");
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(client.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) return Error::fromErrno("connect to " + dst, err);
  if (!waitFor(listener, POLLIN)) return Error(ErrorCode::kTimeout, "accept: nothing arrived");
  sockaddr_in peer{};
  socklen_t peerLen = sizeof peer;
  UniqueFd server(::accept4(listener, reinterpret_cast<sockaddr*>(&peer), &peerLen, SOCK_CLOEXEC));
  if (!server) return Error::fromErrno("accept", errno);
  char ip[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
  const char ping[] = "ping", pong[] = "pong";
  char buf[8] = {};
  if (::send(client.get(), ping, 4, MSG_NOSIGNAL) != 4) return Error::fromErrno("send", errno);
  if (!waitFor(server.get(), POLLIN) || ::recv(server.get(), buf, 4, 0) != 4 ||
      std::string(buf, 4) != ping)
    return Error(ErrorCode::kInternal, "the server did not receive the client's data");
  if (::send(server.get(), pong, 4, MSG_NOSIGNAL) != 4) return Error::fromErrno("send", errno);
  if (!waitFor(client.get(), POLLIN) || ::recv(client.get(), buf, 4, 0) != 4 ||
      std::string(buf, 4) != pong)
    return Error(ErrorCode::kInternal, "the client did not receive the server's reply");
  return std::string(ip);
}

// Sends a datagram from `clientNs` to dst:port, where the UDP socket `server` receives it and
// answers the address it came from. Returns that address, as probe() does.
inline Result<std::string> probeUdp(TestNetns& clientNs, const std::string& dst, uint16_t port,
                                    int server) {
  UniqueFd client =
      clientNs.run([] { return UniqueFd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)); });
  sockaddr_in sa = inetAddress(dst, port);
  if (::sendto(client.get(), "ping", 4, 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 4)
    return Error::fromErrno("send to " + dst, errno);
  if (!waitFor(server, POLLIN)) return Error(ErrorCode::kTimeout, "no datagram arrived");
  sockaddr_in peer{};
  socklen_t peerLen = sizeof peer;
  char buf[8];
  if (::recvfrom(server, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&peer), &peerLen) != 4)
    return Error::fromErrno("receive", errno);
  if (::sendto(server, "pong", 4, 0, reinterpret_cast<sockaddr*>(&peer), peerLen) != 4)
    return Error::fromErrno("answer", errno);
  if (!waitFor(client.get(), POLLIN) || ::recv(client.get(), buf, sizeof buf, 0) != 4 ||
      std::string(buf, 4) != "pong")
    return Error(ErrorCode::kInternal, "the client did not receive the answer");
  char ip[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
  return std::string(ip);
}

inline UniqueFd udpIn(TestNetns& ns, const std::string& ip, uint16_t port) {
  return ns.run([&] {
    UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in sa = inetAddress(ip, port);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      ADD_FAILURE() << "bind " << ip << ":" << port << ": " << strerror(errno);
      fd.reset();
    }
    return fd;
  });
}

}  // namespace nave::network::testing
