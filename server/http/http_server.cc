#include "server/http/http_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "common/log.h"
#include "server/http/connection.h"
#include "server/http/socket.h"
#include "server/http/tls.h"

namespace nave::http {
namespace {

std::string formatAddress(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = "";
  unsigned port = 0;
  if (addr.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(addr);
    inet_ntop(AF_INET, &in.sin_addr, host, sizeof host);
    port = ntohs(in.sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(addr);
    port = ntohs(in6.sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {  // an IPv4 client of a dual-stack listener
      inet_ntop(AF_INET, &in6.sin6_addr.s6_addr[12], host, sizeof host);
    } else {
      inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof host);
      return "[" + std::string(host) + "]:" + std::to_string(port);
    }
  }
  return std::string(host) + ":" + std::to_string(port);
}

void setSocketOptions(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // Finds peers that vanished without a FIN, which would otherwise hold a watch forever.
  int idle = 15, interval = 15;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
}

Result<UniqueFd> listenOn(const std::string& address, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string service = std::to_string(port);
  int rc =
      getaddrinfo(address.empty() ? nullptr : address.c_str(), service.c_str(), &hints, &found);
  if (rc != 0) {
    return Error(ErrorCode::kInvalid,
                 "resolve bind address " + address + ": " + std::string(gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, freeaddrinfo);
  std::string where = address + ":" + service;
  UniqueFd fd(::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return Error::fromErrno("socket", errno).context("listen on " + where);
  int one = 1, zero = 0;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (found->ai_family == AF_INET6) {
    setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);  // "::" takes IPv4 too
  }
  if (::bind(fd.get(), found->ai_addr, found->ai_addrlen) != 0) {
    return Error::fromErrno("bind", errno).context("listen on " + where);
  }
  if (::listen(fd.get(), SOMAXCONN) != 0) {
    return Error::fromErrno("listen", errno).context("listen on " + where);
  }
  return fd;
}

class HttpServerImpl final : public HttpServer {
 public:
  HttpServerImpl(ServerOptions options, Handler handler, SslCtxPtr tls, UniqueFd listenFd, int port,
                 std::shared_ptr<SocketSet> sockets, UniqueFd reapFd)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        tls_(std::move(tls)),
        listenFd_(std::move(listenFd)),
        port_(port),
        sockets_(std::move(sockets)),
        reapFd_(std::move(reapFd)) {}

  ~HttpServerImpl() override { stop(); }

  Result<void> startAccepting() {
    try {
      acceptor_ = std::thread([this] { acceptLoop(); });
    } catch (const std::system_error& e) {
      return Error(ErrorCode::kInternal, std::string("start accept thread: ") + e.what());
    }
    return {};
  }

  int port() const override { return port_; }

  void stop() override {
    std::lock_guard stopLock(stopMu_);
    if (stopped_) return;
    stopped_ = true;
    sockets_->stopAll();  // wakes the acceptor and every connection, shuts sockets down
    if (acceptor_.joinable()) acceptor_.join();
    listenFd_.reset();
    std::unordered_map<uint64_t, std::thread> threads;
    {
      std::lock_guard lock(mu_);
      threads.swap(threads_);
      finished_.clear();
    }
    for (auto& [id, thread] : threads) thread.join();
  }

 private:
  void acceptLoop() {
    pollfd fds[3] = {
        {listenFd_.get(), POLLIN, 0}, {sockets_->stopFd(), POLLIN, 0}, {reapFd_.get(), POLLIN, 0}};
    for (;;) {
      int n = ::poll(fds, 3, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        log::error("HTTP server: poll failed", {{"error", std::string_view(strerror(errno))}});
        return;
      }
      if (fds[1].revents != 0) return;
      if (fds[2].revents != 0) {
        uint64_t count;
        [[maybe_unused]] ssize_t r = ::read(reapFd_.get(), &count, sizeof count);
        joinFinished();
      }
      if (fds[0].revents != 0) acceptPending();
    }
  }

  void acceptPending() {
    for (int i = 0; i < 64; ++i) {
      sockaddr_storage addr{};
      socklen_t length = sizeof addr;
      int fd = ::accept4(listenFd_.get(), reinterpret_cast<sockaddr*>(&addr), &length,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        log::error("HTTP server: accept failed", {{"error", std::string_view(strerror(errno))}});
        // Out of descriptors or memory: back off instead of spinning on the ready listener.
        pollfd stop{sockets_->stopFd(), POLLIN, 0};
        ::poll(&stop, 1, 100);
        return;
      }
      startConnection(UniqueFd(fd), addr);
    }
  }

  void startConnection(UniqueFd fd, const sockaddr_storage& addr) {
    std::lock_guard lock(mu_);
    if (options_.maxConnections > 0 && active_ >= options_.maxConnections) {
      log::v(2, "HTTP server: refusing connection over the limit",
             {{"remote", formatAddress(addr)}, {"limit", options_.maxConnections}});
      return;  // closes fd
    }
    setSocketOptions(fd.get());
    SslPtr ssl;
    if (tls_) {
      ssl.reset(SSL_new(tls_.get()));
      if (!ssl || SSL_set_fd(ssl.get(), fd.get()) != 1) {
        log::error("HTTP server: SSL_new failed", {{"error", takeOpensslErrors()}});
        return;
      }
    }
    auto socket = std::make_unique<Socket>(std::move(fd), std::move(ssl), sockets_);
    uint64_t id = nextId_++;
    try {
      threads_.emplace(id, std::thread([this, id, socket = std::move(socket),
                                        remote = formatAddress(addr)]() mutable {
                         {
                           Connection connection(options_, handler_, std::move(socket),
                                                 std::move(remote));
                           connection.run();
                         }
                         {
                           std::lock_guard lock(mu_);
                           finished_.push_back(id);
                           --active_;
                         }
                         uint64_t one = 1;
                         [[maybe_unused]] ssize_t r = ::write(reapFd_.get(), &one, sizeof one);
                       }));
      ++active_;
    } catch (const std::system_error& e) {
      log::error("HTTP server: cannot start a connection thread",
                 {{"error", std::string_view(e.what())}});
    }
  }

  void joinFinished() {
    std::vector<std::thread> done;
    {
      std::lock_guard lock(mu_);
      for (uint64_t id : finished_) {
        auto it = threads_.find(id);
        if (it == threads_.end()) continue;
        done.push_back(std::move(it->second));
        threads_.erase(it);
      }
      finished_.clear();
    }
    for (std::thread& t : done) t.join();
  }

  const ServerOptions options_;
  const Handler handler_;
  SslCtxPtr tls_;  // null for plaintext
  UniqueFd listenFd_;
  const int port_;
  std::shared_ptr<SocketSet> sockets_;
  UniqueFd reapFd_;  // connection threads signal here that they can be joined
  std::thread acceptor_;

  std::mutex mu_;  // guards threads_, finished_, active_, nextId_
  std::unordered_map<uint64_t, std::thread> threads_;
  std::vector<uint64_t> finished_;
  int active_ = 0;
  uint64_t nextId_ = 0;

  std::mutex stopMu_;  // serialises stop()
  bool stopped_ = false;
};

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::start(const ServerOptions& options,
                                                      Handler handler) {
  // OpenSSL writes to sockets with write(2): a peer that has gone would raise SIGPIPE and kill
  // the process. The process-wide default is changed only if nobody chose a disposition.
  struct sigaction current {};
  if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
    signal(SIGPIPE, SIG_IGN);
  }
  SslCtxPtr tls;
  if (!options.plaintext) tls = TRY(makeServerTlsContext(options));
  UniqueFd listenFd = TRY(listenOn(options.bindAddress, options.port));
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  if (getsockname(listenFd.get(), reinterpret_cast<sockaddr*>(&bound), &length) != 0) {
    return Error::fromErrno("getsockname", errno);
  }
  int port = bound.ss_family == AF_INET6
                 ? ntohs(reinterpret_cast<const sockaddr_in6&>(bound).sin6_port)
                 : ntohs(reinterpret_cast<const sockaddr_in&>(bound).sin_port);
  auto sockets = TRY(SocketSet::create());
  UniqueFd reapFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!reapFd) return Error::fromErrno("eventfd", errno);
  auto server = std::make_unique<HttpServerImpl>(options, std::move(handler), std::move(tls),
                                                 std::move(listenFd), port, std::move(sockets),
                                                 std::move(reapFd));
  TRY(server->startAccepting());
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace nave::http
