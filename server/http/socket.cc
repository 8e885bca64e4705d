#include "server/http/socket.h"

#include <openssl/err.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cerrno>

namespace nave::http {
namespace {

int pollTimeout(Deadline deadline) {
  if (deadline == kNoDeadline) return -1;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return 0;
  return left > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(left);
}

}  // namespace

Result<std::shared_ptr<SocketSet>> SocketSet::create() {
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return Error::fromErrno("eventfd", errno);
  return std::shared_ptr<SocketSet>(new SocketSet(UniqueFd(fd)));
}

void SocketSet::stopAll() {
  stopping_.store(true, std::memory_order_release);
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(stopFd_.get(), &one, sizeof one);
  std::lock_guard lock(mu_);
  for (Socket* s : sockets_) ::shutdown(s->fd(), SHUT_RDWR);
}

void SocketSet::add(Socket* socket) {
  std::lock_guard lock(mu_);
  sockets_.insert(socket);
  // A connection accepted while stopping must not outlive stop().
  if (stopping()) ::shutdown(socket->fd(), SHUT_RDWR);
}

void SocketSet::remove(Socket* socket) {
  std::lock_guard lock(mu_);
  sockets_.erase(socket);
}

Socket::Socket(UniqueFd fd, SslPtr ssl, std::shared_ptr<SocketSet> set)
    : fd_(std::move(fd)), ssl_(std::move(ssl)), set_(std::move(set)) {
  set_->add(this);
}

Socket::~Socket() {
  set_->remove(this);
  if (ssl_) {
    std::lock_guard lock(sslMu_);
    if (!broken_ && !writeShut_ && SSL_is_init_finished(ssl_.get())) {
      ERR_clear_error();
      SSL_shutdown(ssl_.get());  // one non-blocking attempt; the peer may be gone already
    }
    ERR_clear_error();
  }
}

bool Socket::waitReady(short events, Deadline deadline) const {
  pollfd fds[2] = {{fd_.get(), events, 0}, {set_->stopFd(), POLLIN, 0}};
  for (;;) {
    int n = ::poll(fds, 2, pollTimeout(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || fds[1].revents != 0) return false;
    return true;  // ready, or an error/hangup that the next I/O call reports
  }
}

bool Socket::handshake(Deadline deadline) {
  if (!ssl_) return true;
  for (;;) {
    int err;
    {
      std::lock_guard lock(sslMu_);
      ERR_clear_error();
      int r = SSL_accept(ssl_.get());
      if (r == 1) return true;
      err = SSL_get_error(ssl_.get(), r);
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
        broken_ = true;
        ERR_clear_error();
        return false;
      }
    }
    if (!waitReady(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) return false;
  }
}

Socket::Io Socket::sslResult(int ret, size_t done, size_t& out) {
  if (ret == 1) {
    out = done;
    return Io::kData;
  }
  switch (SSL_get_error(ssl_.get(), ret)) {
    case SSL_ERROR_WANT_READ:
      return Io::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      return Io::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:
      return Io::kEof;
    default:
      broken_ = true;
      ERR_clear_error();
      return Io::kError;
  }
}

Socket::Io Socket::readSome(char* buffer, size_t size, size_t& got) {
  if (ssl_) {
    std::lock_guard lock(sslMu_);
    if (broken_) return Io::kError;
    ERR_clear_error();
    size_t n = 0;
    int r = SSL_read_ex(ssl_.get(), buffer, size, &n);
    return sslResult(r, n, got);
  }
  for (;;) {
    ssize_t n = ::recv(fd_.get(), buffer, size, 0);
    if (n > 0) {
      got = static_cast<size_t>(n);
      return Io::kData;
    }
    if (n == 0) return Io::kEof;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? Io::kWantRead : Io::kError;
  }
}

Socket::Io Socket::writeSome(const char* data, size_t size, size_t& wrote) {
  if (ssl_) {
    std::lock_guard lock(sslMu_);
    if (broken_) return Io::kError;
    ERR_clear_error();
    size_t n = 0;
    int r = SSL_write_ex(ssl_.get(), data, size, &n);
    Io io = sslResult(r, n, wrote);
    return io == Io::kEof ? Io::kError : io;
  }
  for (;;) {
    ssize_t n = ::send(fd_.get(), data, size, MSG_NOSIGNAL);
    if (n >= 0) {
      wrote = static_cast<size_t>(n);
      return Io::kData;
    }
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? Io::kWantWrite : Io::kError;
  }
}

long Socket::read(char* buffer, size_t size, Deadline deadline) {
  for (;;) {
    size_t got = 0;
    switch (readSome(buffer, size, got)) {
      case Io::kData:
        return static_cast<long>(got);
      case Io::kEof:
        return 0;
      case Io::kError:
        return -1;
      case Io::kWantRead:
        if (!waitReady(POLLIN, deadline)) return -1;
        break;
      case Io::kWantWrite:
        if (!waitReady(POLLOUT, deadline)) return -1;
        break;
    }
  }
}

bool Socket::writeAll(std::string_view data, std::chrono::milliseconds stall) {
  std::lock_guard lock(writeMu_);
  if (writeShut_) return false;
  size_t offset = 0;
  while (offset < data.size()) {
    size_t wrote = 0;
    Io io = writeSome(data.data() + offset, data.size() - offset, wrote);
    if (io == Io::kData) {
      offset += wrote;
      continue;
    }
    if (io != Io::kWantRead && io != Io::kWantWrite) return false;
    Deadline deadline = stall.count() > 0 ? Clock::now() + stall : kNoDeadline;
    if (!waitReady(io == Io::kWantRead ? POLLIN : POLLOUT, deadline)) return false;
  }
  return true;
}

bool Socket::hasBufferedInput() {
  if (!ssl_) return false;
  std::lock_guard lock(sslMu_);
  return SSL_has_pending(ssl_.get()) != 0;
}

bool Socket::peerClosed() const {
  pollfd p{fd_.get(), POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

void Socket::shutdownWrite() {
  std::lock_guard lock(writeMu_);
  if (writeShut_) return;
  if (ssl_) {
    std::lock_guard sslLock(sslMu_);
    if (!broken_ && SSL_is_init_finished(ssl_.get())) {
      ERR_clear_error();
      SSL_shutdown(ssl_.get());
      ERR_clear_error();
    }
  }
  ::shutdown(fd_.get(), SHUT_WR);
  writeShut_ = true;
}

void Socket::shutdownBoth() {
  ::shutdown(fd_.get(), SHUT_RDWR);
}

}  // namespace nave::http
