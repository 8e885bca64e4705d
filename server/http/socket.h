// One accepted TCP connection, TLS or plain, on a non-blocking descriptor, and the set of a
// server's live connections that stop() shuts down.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_set>

#include "common/fd.h"
#include "common/result.h"
#include "server/http/tls.h"

namespace nave::http {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;
inline constexpr Deadline kNoDeadline = Deadline::max();

class Socket;

// The live sockets of one server and the eventfd that tells them the server is stopping.
// Shared by the server and every socket, since an upgraded connection may outlive the server.
class SocketSet {
 public:
  static Result<std::shared_ptr<SocketSet>> create();

  // Readable once stopAll() has been called; every blocking socket operation polls it.
  int stopFd() const { return stopFd_.get(); }
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  // Wakes every poll on stopFd() and shuts every live socket down in both directions.
  void stopAll();

 private:
  friend class Socket;
  explicit SocketSet(UniqueFd stopFd) : stopFd_(std::move(stopFd)) {}
  void add(Socket* socket);
  void remove(Socket* socket);

  UniqueFd stopFd_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::unordered_set<Socket*> sockets_;  // guarded by mu_; a socket removes itself before close
};

// A connection's byte stream. Blocking operations poll with a deadline and fail once the
// server stops. SSL calls are serialised by sslMu_ so that one thread may read while another
// writes (upgraded streams); writeMu_ keeps concurrent writes whole.
class Socket {
 public:
  // `ssl` is null for plaintext; otherwise it is bound to `fd` and not yet handshaken.
  Socket(UniqueFd fd, SslPtr ssl, std::shared_ptr<SocketSet> set);
  ~Socket();  // best-effort TLS close_notify, then close
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  int fd() const { return fd_.get(); }
  int stopFd() const { return set_->stopFd(); }
  bool serverStopping() const { return set_->stopping(); }
  SSL* ssl() const { return ssl_.get(); }

  // The TLS handshake (no-op for plaintext); false on failure, timeout or stop.
  bool handshake(Deadline deadline);

  enum class Io { kData, kWantRead, kWantWrite, kEof, kError };
  // One non-blocking read attempt; `got` is set for kData.
  Io readSome(char* buffer, size_t size, size_t& got);
  // Reads at least one byte: the count, 0 at end of stream, -1 on error, timeout or stop.
  long read(char* buffer, size_t size, Deadline deadline);
  // Writes everything; false on error, stop, or no progress for `stall` (zero: no limit).
  bool writeAll(std::string_view data, std::chrono::milliseconds stall);

  // Whether TLS holds input already taken from the kernel, which poll() cannot report.
  bool hasBufferedInput();
  // Whether the peer has closed its side or reset (does not block).
  bool peerClosed() const;
  // Waits until the descriptor is ready for `events` (POLLIN/POLLOUT); false on timeout or stop.
  bool waitReady(short events, Deadline deadline) const;

  // Sends close_notify (TLS) and shuts the write side: the peer sees the end of the response.
  void shutdownWrite();
  // Shuts both directions down, waking any thread blocked on this socket.
  void shutdownBoth();

 private:
  Io writeSome(const char* data, size_t size, size_t& wrote);
  Io sslResult(int ret, size_t done, size_t& out);  // under sslMu_

  UniqueFd fd_;
  SslPtr ssl_;
  std::shared_ptr<SocketSet> set_;
  std::mutex sslMu_;        // guards every call on ssl_ and broken_
  bool broken_ = false;     // a fatal TLS error happened: no close_notify
  bool writeShut_ = false;  // guarded by writeMu_
  std::mutex writeMu_;
};

}  // namespace nave::http
