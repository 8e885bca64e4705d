// `nave shim --root ROOT --id ID --sync-fd N`: the supervisor of one container.
//
// Started by ContainerRuntime::create (posix_spawn, new session). It forks once more so that
// its creator only waits for the short-lived first process, and the supervisor is reparented
// to init (it is a child subreaper itself, for anything orphaned below it). Then, in one
// thread: cgroups, stdio (pipes, or a pty for tty containers), the container launched and
// held before exec, the control socket, state.json; "ok" (or the setup error) goes back to the
// creator over the sync fd. A poll loop then serves the socket, copies the container's output
// into the CRI log and reaps children (signalfd). When the container's init exits, the
// output is drained, the cgroups removed, the exit recorded, waiters told, and the shim exits.
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/log.h"
#include "runtime/container/container_runtime.h"
#include "runtime/container/cri_log.h"
#include "runtime/container/shim_socket.h"
#include "runtime/container/spec_json.h"
#include "runtime/container/state_file.h"
#include "runtime/container/sys/launcher.h"

namespace nave::runtime {

namespace {

// How long output may still arrive after the init exited (its pid namespace is being torn
// down, so whatever else held the pipes dies with it).
constexpr int kDrainMs = 2000;

bool writeAll(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

int64_t monotonicMs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

class Shim {
 public:
  Shim(const std::string& root, const std::string& id, int syncFd)
      : root_(root), id_(id), dir_(root + "/" + id), statePath_(dir_ + "/state.json"),
        socketPath_(dir_ + "/shim.sock"), sync_(syncFd) {}

  int run() {
    if (auto r = setup(); !r.ok()) {
      (void)writeAll(sync_.get(), encodeShimError(r.error()) + "\n");
      abandon();
      return 1;
    }
    if (!writeAll(sync_.get(), "ok\n")) {
      // The creator is gone (it gave up waiting, or died): nobody knows of this container, and
      // its directory may already be deleted.
      abandon();
      ::unlink(statePath_.c_str());
      return 1;
    }
    sync_.reset();
    // Setup's temporary allocations (spec parsing, the launcher) go back to the kernel.
    ::malloc_trim(0);
    loop();
    finish();
    return 0;
  }

 private:
  struct Client {
    UniqueFd fd;
    std::string input;
    bool waiting = false;
    // Attached (see shim_socket.h for the framing): output is forwarded, input is framed.
    bool attached = false;
    bool attachStdin = false;
    std::string pending;  // framed output not yet sent (bounded)
  };

  Result<void> setup() {
    std::string specText = TRY(readWholeFile(dir_ + "/spec.json"));
    auto parsed = parseJson(specText);
    if (!parsed.ok()) return Error(ErrorCode::kInternal, "malformed spec.json");
    spec_ = TRY(containerSpecFromJson(parsed->value));
    state_.logPath = spec_.logPath.empty() ? dir_ + "/container.log" : spec_.logPath;
    state_.cgroupParent = spec_.cgroupParent.empty() ? "nave" : spec_.cgroupParent;

    log_ = TRY(CriLogWriter::open(state_.logPath, spec_.logMaxBytes, spec_.logMaxFiles));

    sys::LaunchSpec launch;
    launch.spec = &spec_;
    if (!spec_.sandboxId.empty()) {
      std::string sb = root_ + "/sandboxes/" + spec_.sandboxId;
      struct stat st{};
      if (::stat(sb.c_str(), &st) != 0)
        return Error(ErrorCode::kNotFound, "sandbox " + spec_.sandboxId + " not found");
      // A sandbox without a namespace file of a kind shares the host's (hostNetwork,
      // hostIpc): the shim runs in the host's namespaces.
      std::string self = "/proc/" + std::to_string(::getpid()) + "/ns/";
      auto pick = [&](const char* kind) {
        std::string p = sb + "/" + kind;
        return ::access(p.c_str(), F_OK) == 0 ? p : self + kind;
      };
      launch.netnsPath = pick("net");
      launch.ipcnsPath = pick("ipc");
      launch.utsnsPath = pick("uts");
    }

    cgroups_ = TRY(sys::CgroupSet::create(state_.cgroupParent, id_, spec_.resources));

    // The container's ends of its stdio; closed here once it has them.
    UniqueFd childIn, childOut, childErr, startRead;
    if (spec_.process.tty) {
      int master = -1, slave = -1;
      if (::openpty(&master, &slave, nullptr, nullptr, nullptr) != 0)
        return Error::fromErrno("openpty", errno);
      ptyMaster_.reset(master);
      childIn.reset(slave);
      ::fcntl(master, F_SETFD, FD_CLOEXEC);
      ::fcntl(slave, F_SETFD, FD_CLOEXEC);
      launch.stdinFd = launch.stdoutFd = launch.stderrFd = slave;
    } else {
      int p[2];
      if (::pipe2(p, O_CLOEXEC) != 0) return Error::fromErrno("pipe", errno);
      stdout_.reset(p[0]);
      childOut.reset(p[1]);
      if (::pipe2(p, O_CLOEXEC) != 0) return Error::fromErrno("pipe", errno);
      stderr_.reset(p[0]);
      childErr.reset(p[1]);
      if (spec_.process.stdin) {
        if (::pipe2(p, O_CLOEXEC) != 0) return Error::fromErrno("pipe", errno);
        childIn.reset(p[0]);
        stdin_.reset(p[1]);
      } else {
        childIn.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        if (!childIn) return Error::fromErrno("open /dev/null", errno);
      }
      launch.stdinFd = childIn.get();
      launch.stdoutFd = childOut.get();
      launch.stderrFd = childErr.get();
    }
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return Error::fromErrno("pipe", errno);
    startRead.reset(p[0]);
    start_.reset(p[1]);
    launch.startFd = startRead.get();
    launch.cgroups = cgroups_.get();

    pid_ = TRY(sys::launchContainer(launch));

    // From here on signals concern the shim only (the container has its own copy of the
    // dispositions): children are reaped through a signalfd, and a client that hangs up must
    // not kill the shim with SIGPIPE.
    ::signal(SIGPIPE, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    ::sigprocmask(SIG_BLOCK, &mask, nullptr);
    signalFd_.reset(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!signalFd_) return Error::fromErrno("signalfd", errno);

    listen_ = TRY(listenUnixSocket(socketPath_));

    state_.state = kStateCreated;
    state_.shimPid = ::getpid();
    state_.shimStartTime = processStartTime(state_.shimPid).value_or(0);
    state_.pid = pid_;
    state_.pidStartTime = processStartTime(pid_).value_or(0);
    state_.createdAt = unixNanosNow();
    TRY(writeShimState(statePath_, state_));
    return {};
  }

  // After a failed setup: nothing of the container may stay.
  void abandon() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    if (cgroups_) (void)cgroups_->destroy();
    if (listen_) ::unlink(socketPath_.c_str());
  }

  void reap() {
    signalfd_siginfo info;
    while (::read(signalFd_.get(), &info, sizeof info) > 0) {
    }
    int status = 0;
    pid_t p;
    while ((p = ::waitpid(-1, &status, WNOHANG)) > 0) {
      if (p == pid_ && !exited_) {
        exited_ = true;
        waitStatus_ = status;
        state_.finishedAt = unixNanosNow();
        drainDeadline_ = monotonicMs() + kDrainMs;
      }
    }
  }

  bool outputOpen() const { return stdout_ || stderr_ || ptyMaster_; }

  void loop() {
    reap();  // the container may have died before the signalfd existed
    std::vector<pollfd> fds;
    for (;;) {
      if (exited_ && (!outputOpen() || monotonicMs() >= drainDeadline_)) return;
      fds.clear();
      fds.push_back({signalFd_.get(), POLLIN, 0});
      fds.push_back({listen_.get(), POLLIN, 0});
      fds.push_back({stdout_.get(), POLLIN, 0});  // -1 entries are ignored by poll
      fds.push_back({stderr_.get(), POLLIN, 0});
      fds.push_back({ptyMaster_.get(), POLLIN, 0});
      for (const Client& c : clients_) {
        fds.push_back({c.fd.get(), static_cast<short>(POLLIN | (c.pending.empty() ? 0 : POLLOUT)), 0});
      }
      int timeout = -1;
      if (exited_) timeout = static_cast<int>(std::max<int64_t>(0, drainDeadline_ - monotonicMs()));
      int n = ::poll(fds.data(), fds.size(), timeout);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        log::error("poll failed", {{"error", std::strerror(errno)}});
        return;
      }
      if (fds[2].revents) readOutput(stdout_, LogStream::kStdout);
      if (fds[3].revents) readOutput(stderr_, LogStream::kStderr);
      if (fds[4].revents) readOutput(ptyMaster_, LogStream::kStdout);
      if (fds[0].revents) reap();
      // Clients: served in order; the vector may shrink while we go.
      size_t nclients = clients_.size();
      std::vector<bool> ready(nclients);
      for (size_t i = 0; i < nclients; ++i) ready[i] = fds[5 + i].revents != 0;
      for (size_t i = nclients; i-- > 0;) {
        if (ready[i]) serveClient(i);
      }
      if (fds[1].revents) accept();
    }
  }

  void readOutput(UniqueFd& fd, LogStream stream) {
    static char buf[16384];
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n > 0) {
      log_->append(stream, std::string_view(buf, static_cast<size_t>(n)));
      forward(stream == LogStream::kStdout ? kAttachStdout : kAttachStderr,
              std::string_view(buf, static_cast<size_t>(n)));
      return;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    // EOF, or EIO from a pty master whose slave is closed everywhere.
    log_->flush(stream);
    fd.reset();
  }

  void accept() {
    for (;;) {
      int fd = ::accept4(listen_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      clients_.push_back(Client{UniqueFd(fd), {}, false});
    }
  }

  // Copies container output to the attached clients; one that cannot keep up (its backlog
  // over 4 MiB) is dropped rather than slowing the container or the log.
  void forward(uint8_t stream, std::string_view data) {
    for (size_t i = clients_.size(); i-- > 0;) {
      Client& c = clients_[i];
      if (!c.attached) continue;
      c.pending += encodeAttachFrame(stream, data);
      if (!flushClient(c) || c.pending.size() > (4u << 20)) {
        clients_.erase(clients_.begin() + static_cast<ptrdiff_t>(i));
      }
    }
  }

  // False when the client is gone.
  bool flushClient(Client& c) {
    while (!c.pending.empty()) {
      ssize_t n = ::send(c.fd.get(), c.pending.data(), c.pending.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      if (n <= 0) return false;
      c.pending.erase(0, static_cast<size_t>(n));
    }
    return true;
  }

  // Input of an attached client: stdin data, the end of stdin, terminal resizes.
  void attachedInput(Client& c) {
    for (;;) {
      auto frame = decodeAttachFrame(c.input);
      if (!frame) return;
      if (frame->type == kAttachStdin && c.attachStdin) {
        int target = ptyMaster_ ? ptyMaster_.get() : stdin_.get();
        if (target >= 0) (void)writeAll(target, frame->data);
      } else if (frame->type == kAttachStdinClose && c.attachStdin) {
        if (ptyMaster_) {
          (void)writeAll(ptyMaster_.get(), "\x04");
        } else if (spec_.process.stdinOnce) {
          stdin_.reset();  // the first session to close stdin closes it for good
        }
      } else if (frame->type == kAttachResize && ptyMaster_ && frame->data.size() == 4) {
        auto u16 = [&](size_t at) {
          return static_cast<unsigned short>((static_cast<uint8_t>(frame->data[at]) << 8) |
                                             static_cast<uint8_t>(frame->data[at + 1]));
        };
        struct winsize ws{};
        ws.ws_col = u16(0);
        ws.ws_row = u16(2);
        ::ioctl(ptyMaster_.get(), TIOCSWINSZ, &ws);
      }
    }
  }

  void serveClient(size_t i) {
    Client& c = clients_[i];
    if (!c.pending.empty() && !flushClient(c)) {
      clients_.erase(clients_.begin() + static_cast<ptrdiff_t>(i));
      return;
    }
    char buf[16384];
    ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    size_t limit = c.attached ? (1u << 20) : 4096;
    if (n <= 0 || c.input.size() + static_cast<size_t>(n) > limit) {
      // An attached client that hangs up ends its stdin (stdinOnce closes the container's).
      if (c.attached && c.attachStdin && !ptyMaster_ && spec_.process.stdinOnce) stdin_.reset();
      clients_.erase(clients_.begin() + static_cast<ptrdiff_t>(i));
      return;
    }
    c.input.append(buf, static_cast<size_t>(n));
    if (c.attached) {
      attachedInput(c);
      return;
    }
    size_t nl;
    while ((nl = c.input.find('\n')) != std::string::npos) {
      std::string line = c.input.substr(0, nl);
      c.input.erase(0, nl + 1);
      if (line == "wait") {
        c.waiting = true;
        continue;
      }
      if (line == "attach" || line == "attach stdin") {
        if (exited_) {
          std::string reply = encodeShimError(Error(ErrorCode::kConflict, "container has exited")) + "\n";
          ::send(c.fd.get(), reply.data(), reply.size(), MSG_NOSIGNAL);
          continue;
        }
        c.attached = true;
        c.attachStdin = line == "attach stdin";
        c.pending = "ok\n";
        (void)flushClient(c);
        attachedInput(c);  // frames sent right behind the request
        return;
      }
      std::string reply = handle(line) + "\n";
      ::send(c.fd.get(), reply.data(), reply.size(), MSG_NOSIGNAL);
    }
  }

  std::string handle(const std::string& line) {
    if (line == "start") {
      if (exited_) return encodeShimError(Error(ErrorCode::kConflict, "container has exited"));
      if (!start_) return encodeShimError(Error(ErrorCode::kConflict, "container already started"));
      char byte = 0;
      ssize_t n;
      do n = ::write(start_.get(), &byte, 1);
      while (n < 0 && errno == EINTR);
      start_.reset();
      if (n != 1) return encodeShimError(Error::fromErrno("start", errno));
      state_.state = kStateRunning;
      state_.startedAt = unixNanosNow();
      if (auto r = writeShimState(statePath_, state_); !r.ok()) return encodeShimError(r.error());
      return "ok";
    }
    if (line.rfind("kill ", 0) == 0) {
      int sig = std::atoi(line.c_str() + 5);
      if (sig <= 0 || sig >= NSIG) return encodeShimError(Error(ErrorCode::kInvalid, "bad signal " + line.substr(5)));
      // The init is our unreaped child until exited_: its pid cannot have been reused.
      if (!exited_ && ::kill(pid_, sig) != 0 && errno != ESRCH)
        return encodeShimError(Error::fromErrno("kill", errno));
      return "ok";
    }
    if (line == "status") return "ok " + shimStateToJson(state_);
    return encodeShimError(Error(ErrorCode::kBadRequest, "unknown request " + line));
  }

  void finish() {
    if (stdout_) readRemaining(stdout_, LogStream::kStdout);
    if (stderr_) readRemaining(stderr_, LogStream::kStderr);
    if (ptyMaster_) readRemaining(ptyMaster_, LogStream::kStdout);
    log_->flushAll();
    state_.oomKilled = cgroups_->oomKilled();
    if (auto r = cgroups_->destroy(); !r.ok())
      log::error("removing the container's cgroups failed", {{"id", id_}, {"error", r.error().message()}});
    else state_.cgroupsRemoved = true;
    if (WIFSIGNALED(waitStatus_)) {
      state_.signal = WTERMSIG(waitStatus_);
      state_.exitCode = 128 + state_.signal;
    } else {
      state_.exitCode = WEXITSTATUS(waitStatus_);
    }
    state_.reason = state_.oomKilled ? "OOMKilled" : state_.exitCode == 0 ? "Completed" : "Error";
    state_.state = kStateExited;
    state_.pid = 0;
    if (auto r = writeShimState(statePath_, state_); !r.ok())
      log::error("recording the exit failed", {{"id", id_}, {"error", r.error().message()}});
    ::unlink(socketPath_.c_str());
    listen_.reset();
    for (Client& c : clients_) {
      if (c.waiting) ::send(c.fd.get(), "exited\n", 7, MSG_NOSIGNAL);
      if (c.attached) {
        // What is still queued, then the exit code, written with a short blocking deadline.
        ::fcntl(c.fd.get(), F_SETFL, ::fcntl(c.fd.get(), F_GETFL) & ~O_NONBLOCK);
        timeval tv{1, 0};
        ::setsockopt(c.fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        uint8_t code[4] = {static_cast<uint8_t>(state_.exitCode >> 24),
                           static_cast<uint8_t>(state_.exitCode >> 16),
                           static_cast<uint8_t>(state_.exitCode >> 8),
                           static_cast<uint8_t>(state_.exitCode)};
        c.pending += encodeAttachFrame(kAttachExit, std::string_view(reinterpret_cast<char*>(code), 4));
        (void)writeAll(c.fd.get(), c.pending);
      }
    }
    clients_.clear();
  }

  // Non-blocking reads of what is already buffered (after the drain deadline).
  void readRemaining(UniqueFd& fd, LogStream stream) {
    ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK);
    while (fd) readOutput(fd, stream);
  }

  std::string root_, id_, dir_, statePath_, socketPath_;
  UniqueFd sync_;
  ContainerSpec spec_;
  ShimState state_;
  std::unique_ptr<sys::CgroupSet> cgroups_;
  std::unique_ptr<CriLogWriter> log_;
  UniqueFd stdout_, stderr_, ptyMaster_, stdin_, start_, listen_, signalFd_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int waitStatus_ = 0;
  int64_t drainDeadline_ = 0;
  std::vector<Client> clients_;
};

}  // namespace

int shimMain(const std::vector<std::string>& args) {
  std::string root, id;
  int syncFd = -1;
  for (size_t i = 0; i + 1 < args.size(); i += 2) {
    if (args[i] == "--root") root = args[i + 1];
    else if (args[i] == "--id") id = args[i + 1];
    else if (args[i] == "--sync-fd") syncFd = std::atoi(args[i + 1].c_str());
  }
  if (root.empty() || id.empty() || syncFd < 0) {
    const char kUsage[] = "usage: nave shim --root ROOT --id ID --sync-fd FD (started by the runtime)\n";
    (void)!::write(2, kUsage, sizeof kUsage - 1);
    return 2;
  }
  // The creator waits for this first process only; the supervisor is its child, reparented
  // to init (or the nearest subreaper) once we exit.
  pid_t child = ::fork();
  if (child < 0) {
    (void)writeAll(syncFd, encodeShimError(Error::fromErrno("fork", errno)) + "\n");
    return 1;
  }
  if (child > 0) ::_exit(0);
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  if (::chdir("/") != 0) {
    // Only a missing root would fail, and then nothing works: let setup report it.
  }
  // Compiling the seccomp profile costs more than the rest of a start: shims share the
  // compiled programs through the container root.
  sys::setSeccompCacheDirectory(root + "/.seccomp");
  Shim shim(root, id, syncFd);
  return shim.run();
}

}  // namespace nave::runtime
