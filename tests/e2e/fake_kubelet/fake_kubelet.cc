// nave-fake-kubelet: a node API (StreamingServer) whose backend fakes a node, for the
// streaming end-to-end tests driven by real kubectl through a real `nave server`:
// - exec runs the command on this host with the given descriptors (a pseudo-terminal with
//   -t), in --workdir;
// - attach greets, then echoes stdin lines ("echo: LINE") until stdin ends, or without stdin
//   prints three lines and ends;
// - portForward connects to 127.0.0.1:PORT (in the test's network namespace);
// - logs returns canned lines with fixed timestamps, honouring the options; container
//   "crashy" has a previous log, and follow adds three lines before the "container" exits.
//
//   nave-fake-kubelet --ca-cert F --ca-key F --node-name N --address IP [--port 10250]
//                     [--workdir DIR]
// It prints "listening on port P" once serving, and stops on SIGTERM or SIGINT.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/log.h"
#include "common/time.h"
#include "runtime/agent/streaming/streaming_server.h"
#include "server/pki/pki.h"

namespace nave::agent {
namespace {

// Copies from one descriptor to another until end of file, an error, or `stop` fires.
void copyFd(int from, int to, int stop) {
  char buffer[16 * 1024];
  for (;;) {
    pollfd p[2] = {{from, POLLIN, 0}, {stop, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0 && errno != EINTR) return;
    if (p[1].revents != 0 && (p[0].revents & POLLIN) == 0) return;
    ssize_t n = ::read(from, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(to, buffer + off, size_t(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return;
      off += w;
    }
  }
}

int exitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

class ProcessSession final : public StreamSession {
 public:
  ProcessSession(pid_t pid, UniqueFd master, UniqueFd in, UniqueFd out)
      : pid_(pid), master_(std::move(master)), stop_(::eventfd(0, EFD_CLOEXEC)) {
    if (master_) {
      int m = master_.get();
      if (in) inCopy_ = std::thread([m, fd = std::move(in), this] { copyFd(fd.get(), m, stop_.get()); });
      if (out) outCopy_ = std::thread([m, fd = std::move(out)] {
        int stopNever = -1;
        copyFd(m, fd.get(), stopNever);
      });
    }
  }
  ~ProcessSession() override {
    if (!waited_) {
      ::kill(pid_, SIGKILL);
      int status;
      ::waitpid(pid_, &status, 0);
    }
    finishCopies();
  }
  void resize(unsigned columns, unsigned rows) override {
    if (!master_) return;
    winsize ws{};
    ws.ws_col = (unsigned short)columns;
    ws.ws_row = (unsigned short)rows;
    ::ioctl(master_.get(), TIOCSWINSZ, &ws);
  }
  Result<int> wait() override {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0) {
      if (errno != EINTR) return Error::fromErrno("waitpid", errno);
    }
    waited_ = true;
    finishCopies();
    return exitCodeOf(status);
  }
  void cancel() override { ::kill(pid_, SIGKILL); }

 private:
  void finishCopies() {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(stop_.get(), &one, sizeof one);
    if (outCopy_.joinable()) outCopy_.join();  // the terminal reports EIO once the process is gone
    if (inCopy_.joinable()) inCopy_.join();
  }

  pid_t pid_;
  UniqueFd master_;
  UniqueFd stop_;
  std::thread inCopy_, outCopy_;
  bool waited_ = false;
};

// A fake container's main process: greets, echoes stdin lines or prints three lines.
class AttachSession final : public StreamSession {
 public:
  AttachSession(const ContainerRef& c, bool withStdin, int in, int out)
      : in_(in >= 0 ? ::dup(in) : -1), out_(out >= 0 ? ::dup(out) : -1), stop_(::eventfd(0, EFD_CLOEXEC)) {
    thread_ = std::thread([this, c, withStdin] {
      say("attached to " + c.pod.namespace_ + "/" + c.pod.name + "/" + c.container + "\n");
      if (!withStdin) {
        for (int i = 1; i <= 3; ++i) say("attach line " + std::to_string(i) + "\n");
        return;
      }
      std::string line;
      char buffer[4096];
      for (;;) {
        pollfd p[2] = {{in_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
        if (::poll(p, 2, -1) < 0 && errno != EINTR) return;
        if (p[1].revents != 0) return;
        ssize_t n = ::read(in_.get(), buffer, sizeof buffer);
        if (n <= 0) break;
        line.append(buffer, size_t(n));
        for (size_t nl; (nl = line.find('\n')) != std::string::npos; line.erase(0, nl + 1))
          say("echo: " + line.substr(0, nl) + "\n");
      }
      if (!line.empty()) say("echo: " + line + "\n");
    });
  }
  ~AttachSession() override {
    cancel();
    if (thread_.joinable()) thread_.join();
  }
  void resize(unsigned, unsigned) override {}
  Result<int> wait() override {
    if (thread_.joinable()) thread_.join();
    out_.reset();
    return 0;
  }
  void cancel() override {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(stop_.get(), &one, sizeof one);
  }

 private:
  void say(const std::string& s) {
    if (out_) [[maybe_unused]] ssize_t n = ::write(out_.get(), s.data(), s.size());
  }
  UniqueFd in_, out_, stop_;
  std::thread thread_;
};

class FakeBackend final : public StreamingBackend {
 public:
  explicit FakeBackend(std::string workdir) : workdir_(std::move(workdir)) {}

  Result<std::unique_ptr<StreamSession>> exec(const ContainerRef& container,
                                              const std::vector<std::string>& command,
                                              const StreamOptions& options, StreamFds fds) override {
    if (container.pod.name == "missing")
      return Error(ErrorCode::kNotFound, "pod does not exist");
    if (command.empty()) return Error(ErrorCode::kBadRequest, "no command given");
    UniqueFd master, slave, devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (options.tty) {
      int m, s;
      winsize ws{};
      ws.ws_col = 80;
      ws.ws_row = 24;
      if (::openpty(&m, &s, nullptr, nullptr, &ws) != 0) return Error::fromErrno("openpty", errno);
      master.reset(m);
      slave.reset(s);
      ::fcntl(m, F_SETFD, FD_CLOEXEC);
      ::fcntl(s, F_SETFD, FD_CLOEXEC);
    }
    std::vector<std::string> args = command;
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string notFound = "exec: \"" + args[0] + "\": executable file not found in $PATH\n";
    pid_t pid = ::fork();
    if (pid < 0) return Error::fromErrno("fork", errno);
    if (pid == 0) {
      ::signal(SIGPIPE, SIG_DFL);
      if (options.tty) {
        ::setsid();
        ::ioctl(slave.get(), TIOCSCTTY, 0);
        for (int i = 0; i < 3; ++i) ::dup2(slave.get(), i);
      } else {
        ::dup2(fds.stdinFd >= 0 ? fds.stdinFd : devnull.get(), 0);
        ::dup2(fds.stdoutFd >= 0 ? fds.stdoutFd : devnull.get(), 1);
        ::dup2(fds.stderrFd >= 0 ? fds.stderrFd : devnull.get(), 2);
      }
      if (::chdir(workdir_.c_str()) != 0) _exit(126);
      ::execvp(argv[0], argv.data());
      [[maybe_unused]] ssize_t n = ::write(2, notFound.data(), notFound.size());
      _exit(127);
    }
    slave.reset();
    UniqueFd in, out;
    if (options.tty) {
      if (fds.stdinFd >= 0) in.reset(::fcntl(fds.stdinFd, F_DUPFD_CLOEXEC, 0));
      if (fds.stdoutFd >= 0) out.reset(::fcntl(fds.stdoutFd, F_DUPFD_CLOEXEC, 0));
    }
    return std::unique_ptr<StreamSession>(
        new ProcessSession(pid, std::move(master), std::move(in), std::move(out)));
  }

  Result<std::unique_ptr<StreamSession>> attach(const ContainerRef& container, const StreamOptions& options,
                                                StreamFds fds) override {
    if (container.pod.name == "missing") return Error(ErrorCode::kNotFound, "pod does not exist");
    return std::unique_ptr<StreamSession>(
        new AttachSession(container, options.stdin, fds.stdinFd, fds.stdoutFd));
  }

  Result<UniqueFd> portForward(const PodRef& pod, uint16_t port) override {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return Error::fromErrno("socket", errno);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      return Error(ErrorCode::kInternal, "dial tcp4 127.0.0.1:" + std::to_string(port) + ": connect: " +
                                             std::string(std::strerror(errno)));
    }
    return fd;
  }

  Result<void> logs(const ContainerRef& container, const LogOptions& options,
                    const std::function<bool(std::string_view)>& write) override {
    if (options.previous && container.container != "crashy") {
      return Error(ErrorCode::kBadRequest, "previous terminated container \"" + container.container +
                                               "\" in pod \"" + container.pod.name + "\" not found");
    }
    struct Line {
      WallTime time;
      std::string text;
    };
    std::vector<Line> lines;
    WallTime base = *parseRfc3339("2024-01-01T00:00:00Z");
    std::string prefix = options.previous ? "previous " : container.container + " ";
    for (int i = 1; i <= 5; ++i)
      lines.push_back({base + std::chrono::seconds(i), prefix + "line " + std::to_string(i)});
    if (options.since) {
      std::erase_if(lines, [&](const Line& l) { return l.time < *options.since; });
    }
    if (options.tailLines && lines.size() > size_t(*options.tailLines))
      lines.erase(lines.begin(), lines.end() - *options.tailLines);
    auto emit = [&](const Line& l) {
      std::string out;
      if (options.timestamps) {
        std::string t = formatRfc3339(l.time);  // ...Z
        out = t.substr(0, t.size() - 1) + ".000000000Z ";
      }
      return write(out + l.text + "\n");
    };
    for (const Line& l : lines)
      if (!emit(l)) return {};
    if (!options.follow) return {};
    for (int i = 1; i <= 3; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      if (!write("")) return {};
      if (!emit({std::chrono::system_clock::now(), prefix + "follow " + std::to_string(i)})) return {};
    }
    return {};
  }

 private:
  std::string workdir_;
};

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int run(int argc, char** argv) {
  std::string caCert, caKey, nodeName, address, workdir = "/tmp";
  int port = 10250;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--ca-cert") caCert = value;
    else if (flag == "--ca-key") caKey = value;
    else if (flag == "--node-name") nodeName = value;
    else if (flag == "--address") address = value;
    else if (flag == "--port") port = std::stoi(value);
    else if (flag == "--workdir") workdir = value;
    else {
      std::cerr << "unknown flag " << flag << "\n";
      return 2;
    }
  }
  if (caCert.empty() || caKey.empty() || nodeName.empty() || address.empty()) {
    std::cerr << "usage: nave-fake-kubelet --ca-cert F --ca-key F --node-name N --address IP [--port P] "
                 "[--workdir DIR]\n";
    return 2;
  }
  log::setVerbosity(4);
  pki::KeyPair ca{readFile(caCert), readFile(caKey)};
  auto serving = pki::issueKubeletServingCertificate(ca, nodeName, {address});
  if (!serving.ok()) {
    std::cerr << "serving certificate: " << serving.error().message() << "\n";
    return 1;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // threads inherit the mask; sigwait below

  FakeBackend backend(workdir);
  StreamingServerOptions options;
  options.port = port;
  options.servingCertPem = serving->certPem;
  options.servingKeyPem = serving->keyPem;
  options.clientCaPem = ca.certPem;
  options.allowedOrganization = pki::kKubeletClientOrganization;
  auto server = StreamingServer::start(options, backend);
  if (!server.ok()) {
    std::cerr << "start: " << server.error().message() << "\n";
    return 1;
  }
  std::cout << "listening on port " << (*server)->port() << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  (*server)->stop();
  return 0;
}

}  // namespace
}  // namespace nave::agent

int main(int argc, char** argv) { return nave::agent::run(argc, argv); }
