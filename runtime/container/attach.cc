// ContainerRuntime::attach: a session on the shim's control socket that carries the
// container's output and the client's input as frames (shim_socket.h). A pump thread copies
// between the socket and the caller's descriptors.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <thread>

#include "runtime/container/linux_runtime.h"
#include "runtime/container/shim_socket.h"

namespace nave::runtime {
namespace {

bool sendAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

bool writeAllFd(int fd, std::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

class ShimAttachSession : public AttachSession {
 public:
  ShimAttachSession(UniqueFd socket, ExecIo io, std::string leftover)
      : socket_(std::move(socket)), io_(io) {
    thread_ = std::thread([this, leftover = std::move(leftover)]() mutable { pump(std::move(leftover)); });
  }

  ~ShimAttachSession() override {
    ::shutdown(socket_.get(), SHUT_RDWR);  // ends the pump
    if (thread_.joinable()) thread_.join();
  }

  Result<void> resize(unsigned rows, unsigned columns) override {
    char size[4] = {static_cast<char>(columns >> 8), static_cast<char>(columns & 0xff),
                    static_cast<char>(rows >> 8), static_cast<char>(rows & 0xff)};
    std::lock_guard lock(sendMu_);
    if (!sendAll(socket_.get(), encodeAttachFrame(kAttachResize, std::string_view(size, 4)))) {
      return Error(ErrorCode::kUnavailable, "the attach session has ended");
    }
    return {};
  }

  Result<int> wait() override {
    if (thread_.joinable()) thread_.join();
    if (exitCode_ < 0) return Error(ErrorCode::kUnavailable, "the attach session ended before the container exited");
    return exitCode_;
  }

 private:
  void pump(std::string buffer) {
    bool stdinOpen = io_.stdinFd >= 0;
    char buf[16384];
    for (;;) {
      // Frames already received (they can follow the "ok" in the same read).
      while (auto f = decodeAttachFrame(buffer)) {
        if (f->type == kAttachStdout && io_.stdoutFd >= 0) (void)writeAllFd(io_.stdoutFd, f->data);
        if (f->type == kAttachStderr && io_.stderrFd >= 0) (void)writeAllFd(io_.stderrFd, f->data);
        if (f->type == kAttachExit && f->data.size() == 4) {
          int code = 0;
          for (char c : f->data) code = (code << 8) | static_cast<uint8_t>(c);
          exitCode_ = code;
          return;
        }
      }
      pollfd fds[2] = {{socket_.get(), POLLIN, 0}, {stdinOpen ? io_.stdinFd : -1, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[0].revents) {
        ssize_t n = ::recv(socket_.get(), buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // the shim went away, or we were closed
        buffer.append(buf, static_cast<size_t>(n));
      }
      if (stdinOpen && fds[1].revents) {
        ssize_t n = ::read(io_.stdinFd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        std::lock_guard lock(sendMu_);
        if (n <= 0) {
          stdinOpen = false;
          (void)sendAll(socket_.get(), encodeAttachFrame(kAttachStdinClose, ""));
        } else {
          (void)sendAll(socket_.get(), encodeAttachFrame(kAttachStdin, std::string_view(buf, static_cast<size_t>(n))));
        }
      }
    }
  }

  UniqueFd socket_;
  ExecIo io_;
  std::mutex sendMu_;
  std::atomic<int> exitCode_{-1};
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<AttachSession>> LinuxContainerRuntime::attach(const std::string& id,
                                                                     ExecIo io) {
  TRY(validateId(id));
  ShimState state = TRY(currentState(id, false));
  if (state.state != kStateRunning) {
    return Error(ErrorCode::kConflict, "container \"" + id + "\" is not running");
  }
  UniqueFd fd = TRY(connectUnixSocket(socketPath(id)));
  std::string request = io.stdinFd >= 0 ? "attach stdin\n" : "attach\n";
  if (!sendAll(fd.get(), request)) return Error(ErrorCode::kUnavailable, "the shim went away");
  // The reply line; frames may follow it in the same read.
  std::string buffer;
  char buf[4096];
  while (buffer.find('\n') == std::string::npos) {
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) return Error(ErrorCode::kTimeout, "the shim did not answer");
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n <= 0) return Error(ErrorCode::kUnavailable, "the shim went away");
    buffer.append(buf, static_cast<size_t>(n));
  }
  size_t nl = buffer.find('\n');
  TRY(decodeShimReply(buffer.substr(0, nl)));
  return std::unique_ptr<AttachSession>(new ShimAttachSession(std::move(fd), io, buffer.substr(nl + 1)));
}

}  // namespace nave::runtime
