#include "runtime/agent/node_streaming.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <deque>
#include <thread>

#include "common/log.h"
#include "common/time.h"
#include "runtime/agent/pod_manager.h"
#include "runtime/agent/pod_worker.h"
#include "runtime/log_reader.h"

namespace nave::agent {
namespace {

// Copies between a terminal's master side and the client's descriptors until the process
// ends (the master reports EOF or EIO).
class TerminalPump {
 public:
  TerminalPump(int master, int in, int out) {
    thread_ = std::thread([master, in, out] {
      char buf[16384];
      bool inOpen = in >= 0;
      for (;;) {
        pollfd fds[2] = {{master, POLLIN, 0}, {inOpen ? in : -1, POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) {
          if (errno == EINTR) continue;
          return;
        }
        if (fds[0].revents) {
          ssize_t n = ::read(master, buf, sizeof buf);
          if (n <= 0) return;
          if (out >= 0) {
            for (ssize_t off = 0; off < n;) {
              ssize_t w = ::write(out, buf + off, static_cast<size_t>(n - off));
              if (w <= 0) break;
              off += w;
            }
          }
        }
        if (inOpen && fds[1].revents) {
          ssize_t n = ::read(in, buf, sizeof buf);
          if (n <= 0) {
            inOpen = false;  // stdin closed: send EOF (^D) to the terminal
            char eot = 4;
            (void)!::write(master, &eot, 1);
            continue;
          }
          for (ssize_t off = 0; off < n;) {
            ssize_t w = ::write(master, buf + off, static_cast<size_t>(n - off));
            if (w <= 0) break;
            off += w;
          }
        }
      }
    });
  }
  ~TerminalPump() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::thread thread_;
};

// The session's own copies of the process's ends (the server closes its copies once exec or
// attach returns).
UniqueFd dupOf(int fd) { return UniqueFd(fd >= 0 ? ::fcntl(fd, F_DUPFD_CLOEXEC, 3) : -1); }

class ExecSession : public StreamSession {
 public:
  ExecSession(std::unique_ptr<runtime::ExecProcess> proc, StreamFds fds) : proc_(std::move(proc)) {
    if (proc_->terminal() >= 0) {
      in_ = dupOf(fds.stdinFd);
      out_ = dupOf(fds.stdoutFd);
      pump_ = std::make_unique<TerminalPump>(proc_->terminal(), in_.get(), out_.get());
    }
  }
  void resize(unsigned columns, unsigned rows) override { (void)proc_->resize(rows, columns); }
  // The client went away: the process goes too, as the kubelet's exec does.
  void cancel() override { (void)proc_->kill(SIGKILL); }
  Result<int> wait() override {
    auto code = proc_->wait();
    pump_.reset();
    return code;
  }

 private:
  std::unique_ptr<runtime::ExecProcess> proc_;
  UniqueFd in_, out_;
  std::unique_ptr<TerminalPump> pump_;
};

class AttachedSession : public StreamSession {
 public:
  AttachedSession(std::unique_ptr<runtime::AttachSession> session, std::vector<UniqueFd> fds)
      : session_(std::move(session)), fds_(std::move(fds)) {}
  ~AttachedSession() override { session_.reset(); }  // before the descriptors it uses
  void resize(unsigned columns, unsigned rows) override { (void)session_->resize(rows, columns); }
  Result<int> wait() override { return session_->wait(); }

 private:
  std::unique_ptr<runtime::AttachSession> session_;
  std::vector<UniqueFd> fds_;
};

}  // namespace

Result<NodeStreaming::Found> NodeStreaming::find(const ContainerRef& ref, bool previous) {
  auto worker = ctx_.pods->worker(ref.pod.namespace_, ref.pod.name);
  if (!worker || (!ref.pod.uid.empty() && worker->uid() != ref.pod.uid)) {
    return Error(ErrorCode::kNotFound, "pod \"" + ref.pod.name + "\" not found");
  }
  auto instance = worker->container(ref.container, previous);
  if (!instance) {
    if (previous) {
      return Error(ErrorCode::kBadRequest, "previous terminated container \"" + ref.container +
                                               "\" in pod \"" + ref.pod.name + "\" not found");
    }
    return Error(ErrorCode::kBadRequest, "container \"" + ref.container + "\" in pod \"" +
                                             ref.pod.name + "\" is waiting to start: ContainerCreating");
  }
  return Found{instance->id, instance->logPath, instance->running};
}

Result<std::unique_ptr<StreamSession>> NodeStreaming::exec(const ContainerRef& ref,
                                                           const std::vector<std::string>& command,
                                                           const StreamOptions& options,
                                                           StreamFds fds) {
  auto found = find(ref, false);
  if (!found.ok() || !found->running) {
    return Error(ErrorCode::kNotFound, "container not found (\"" + ref.container + "\")");
  }
  runtime::ProcessSpec process;
  process.args = command;
  process.tty = options.tty;
  process.stdin = options.stdin;
  runtime::ExecIo io;
  io.stdinFd = fds.stdinFd;
  io.stdoutFd = fds.stdoutFd;
  io.stderrFd = options.tty ? -1 : fds.stderrFd;
  auto proc = ctx_.runtime->containers().exec(found->containerId, process, io);
  if (!proc.ok()) return std::move(proc).error();
  return std::unique_ptr<StreamSession>(new ExecSession(std::move(*proc), fds));
}

Result<std::unique_ptr<StreamSession>> NodeStreaming::attach(const ContainerRef& ref,
                                                             const StreamOptions& options,
                                                             StreamFds fds) {
  auto found = find(ref, false);
  if (!found.ok() || !found->running) {
    return Error(ErrorCode::kNotFound, "container not found (\"" + ref.container + "\")");
  }
  std::vector<UniqueFd> own;
  own.push_back(dupOf(options.stdin ? fds.stdinFd : -1));
  own.push_back(dupOf(fds.stdoutFd));
  own.push_back(dupOf(options.tty ? -1 : fds.stderrFd));
  runtime::ExecIo io;
  io.stdinFd = own[0].get();
  io.stdoutFd = own[1].get();
  io.stderrFd = options.tty ? own[1].get() : own[2].get();
  auto session = ctx_.runtime->containers().attach(found->containerId, io);
  if (!session.ok()) return std::move(session).error();
  return std::unique_ptr<StreamSession>(new AttachedSession(std::move(*session), std::move(own)));
}

Result<UniqueFd> NodeStreaming::portForward(const PodRef& pod, uint16_t port) {
  auto worker = ctx_.pods->worker(pod.namespace_, pod.name);
  if (!worker || (!pod.uid.empty() && worker->uid() != pod.uid)) {
    return Error(ErrorCode::kNotFound, "pod \"" + pod.name + "\" not found");
  }
  std::string netns = worker->netnsPath();
  // Connect from inside the pod's network namespace: setns changes only the calling thread,
  // so a short-lived thread does it, and the socket keeps working from anywhere.
  Result<UniqueFd> result = Error(ErrorCode::kInternal, "port-forward did not run");
  std::thread t([&] {
    if (!netns.empty()) {
      UniqueFd ns(::open(netns.c_str(), O_RDONLY | O_CLOEXEC));
      if (!ns || ::setns(ns.get(), CLONE_NEWNET) != 0) {
        result = Error::fromErrno("enter the pod's network namespace", errno);
        return;
      }
    }
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) {
      result = Error::fromErrno("socket", errno);
      return;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      result = Error(ErrorCode::kUnavailable,
                     "failed to connect to localhost:" + std::to_string(port) + " inside namespace \"" +
                         worker->uid() + "\", IPv4: dial tcp4 127.0.0.1:" + std::to_string(port) +
                         ": connect: " + std::strerror(errno));
      return;
    }
    result = std::move(fd);
  });
  t.join();
  return result;
}

Result<void> NodeStreaming::logs(const ContainerRef& ref, const LogOptions& options,
                                 const std::function<bool(std::string_view)>& write) {
  auto found = TRY(find(ref, options.previous));
  bool follow = options.follow && !options.previous && found.running;
  // The tail needs the end first: without follow the lines are collected, then written.
  std::deque<std::string> tail;
  int64_t written = 0;
  bool stopped = false;
  auto emit = [&](const std::string& text) {
    if (stopped) return;
    std::string out = text;
    if (options.limitBytes && written + static_cast<int64_t>(out.size()) > *options.limitBytes) {
      out.resize(static_cast<size_t>(*options.limitBytes - written));
      stopped = true;
    }
    written += static_cast<int64_t>(out.size());
    if (!out.empty() && !write(out)) stopped = true;
  };
  bool tailing = options.tailLines.has_value();
  auto sink = [&](const runtime::LogLine& line) {
    if (options.since) {
      auto t = parseRfc3339(line.timestamp);
      if (t && *t < *options.since) return;
    }
    std::string text = options.timestamps ? line.timestamp + " " + line.text + "\n" : line.text + "\n";
    if (tailing) {
      tail.push_back(std::move(text));
      if (static_cast<int64_t>(tail.size()) > *options.tailLines) tail.pop_front();
      return;
    }
    emit(text);
  };
  // Following ends when the container exits (its log is then complete) or the client goes.
  UniqueFd exited;
  if (follow) {
    auto fd = ctx_.runtime->containers().exitNotifier(found.containerId);
    if (fd.ok()) exited = std::move(*fd);
  }
  // Checked every 100 ms while the log is idle: the container exited, or the client went
  // away (write("") asks whether it is still there).
  auto done = [&] {
    if (stopped || !write("")) return true;
    if (!exited) return false;
    pollfd p{exited.get(), POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  };
  // With a tail, the lines are held until the reader has caught up with the file, then the
  // last N are written and the rest streams.
  auto caughtUp = [&] {
    if (!tailing) return;
    tailing = false;
    for (const std::string& t : tail) emit(t);
    tail.clear();
  };
  if (!follow) {
    TRY(runtime::readContainerLog(found.logPath, true, false, sink));
    caughtUp();
    return {};
  }
  return runtime::readContainerLog(found.logPath, true, true, sink, done, -1, caughtUp);
}

}  // namespace nave::agent
