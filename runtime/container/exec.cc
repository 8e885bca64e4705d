// exec: a process started by the caller itself (not the shim) in a running container's
// namespaces and cgroups, so the caller is its parent and reaps it.
#include <fcntl.h>
#include <linux/openat2.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <optional>
#include <utility>

#include "common/json.h"
#include "runtime/container/linux_runtime.h"
#include "runtime/container/spec_json.h"
#include "runtime/container/sys/launcher.h"

namespace nave::runtime {

namespace {

// Thread-safety: mu_ guards reaped_ and status_; kill() goes through a pidfd, so it never
// signals a reused pid even while another thread reaps.
class LinuxExecProcess final : public ExecProcess {
 public:
  LinuxExecProcess(pid_t pid, UniqueFd pidfd, UniqueFd terminal)
      : pid_(pid), pidfd_(std::move(pidfd)), terminal_(std::move(terminal)) {}

  ~LinuxExecProcess() override {
    std::lock_guard lock(mu_);
    if (!reaped_) {
      if (pidfd_) pidfdSendSignal(pidfd_.get(), SIGKILL);
      else ::kill(pid_, SIGKILL);
      while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
  }

  int terminal() const override { return terminal_.get(); }

  Result<void> resize(unsigned rows, unsigned columns) override {
    if (!terminal_) return Error(ErrorCode::kBadRequest, "the process has no terminal");
    winsize ws{};
    ws.ws_row = static_cast<unsigned short>(rows);
    ws.ws_col = static_cast<unsigned short>(columns);
    if (::ioctl(terminal_.get(), TIOCSWINSZ, &ws) != 0) return Error::fromErrno("resize terminal", errno);
    return {};
  }

  Result<void> kill(int signal) override {
    int r = pidfd_ ? pidfdSendSignal(pidfd_.get(), signal) : ::kill(pid_, signal);
    if (r != 0 && errno != ESRCH) return Error::fromErrno("kill", errno);
    return {};
  }

  Result<int> wait() override {
    std::lock_guard lock(mu_);
    if (!reaped_) {
      int status = 0;
      pid_t r;
      do r = ::waitpid(pid_, &status, 0);
      while (r < 0 && errno == EINTR);
      if (r < 0) return Error::fromErrno("wait for exec process", errno);
      reaped_ = true;
      status_ = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    }
    return status_;
  }

 private:
  pid_t pid_;
  UniqueFd pidfd_;
  UniqueFd terminal_;
  std::mutex mu_;
  bool reaped_ = false;
  int status_ = 0;
};

// The exec inherits what the container's process has unless the request sets it, as
// containerd builds an exec's process from the container's.
ProcessSpec execProcess(const ProcessSpec& request, const ProcessSpec& container) {
  ProcessSpec p = request;
  if (p.user.empty()) p.user = container.user;
  if (p.cwd.empty() || p.cwd == "/") p.cwd = container.cwd.empty() ? "/" : container.cwd;
  if (p.rlimits.empty()) p.rlimits = container.rlimits;
  if (p.extraGroups.empty()) p.extraGroups = container.extraGroups;
  std::vector<std::string> env = container.env;
  for (const std::string& kv : request.env) {
    std::string key = kv.substr(0, kv.find('='));
    std::erase_if(env, [&](const std::string& e) { return e.substr(0, e.find('=')) == key; });
    env.push_back(kv);
  }
  p.env = std::move(env);
  return p;
}

// A pty from the container's own devpts instance, so that the process's terminal is a
// /dev/pts/N inside the container (ttyname, `tty`), as runc allocates it. The container's
// /dev/ptmx is resolved inside its root (RESOLVE_IN_ROOT: its symlinks cannot point us at the
// host's files) and must be the ptmx device; the slave is opened through the master
// (TIOCGPTPEER), never by path. nullopt when the container has no usable /dev/ptmx.
std::optional<std::pair<UniqueFd, UniqueFd>> containerPty(pid_t containerPid) {
  std::string rootPath = "/proc/" + std::to_string(containerPid) + "/root";
  UniqueFd root(::open(rootPath.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return std::nullopt;
  open_how how{};
  how.flags = O_RDWR | O_NOCTTY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  UniqueFd master(static_cast<int>(::syscall(SYS_openat2, root.get(), "dev/ptmx", &how, sizeof how)));
  if (!master) return std::nullopt;
  struct stat st{};
  if (::fstat(master.get(), &st) != 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 ||
      minor(st.st_rdev) != 2)
    return std::nullopt;
  int unlock = 0;
  if (::ioctl(master.get(), TIOCSPTLCK, &unlock) != 0) return std::nullopt;
  UniqueFd slave(::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave) return std::nullopt;
  return std::make_pair(std::move(master), std::move(slave));
}

}  // namespace

Result<std::unique_ptr<ExecProcess>> LinuxContainerRuntime::exec(const std::string& id,
                                                                  const ProcessSpec& process,
                                                                  ExecIo io) {
  TRY(validateId(id));
  if (process.args.empty()) return Error(ErrorCode::kInvalid, "exec: no command");
  ShimState state = TRY(currentState(id, false));
  if (state.state != kStateRunning || !processIsAlive(state.pid, state.pidStartTime))
    return Error(ErrorCode::kConflict, "container \"" + id + "\" is not running");
  std::string text = TRY(readWholeFile(containerDir(id) + "/spec.json"));
  auto parsed = parseJson(text);
  if (!parsed.ok()) return Error(ErrorCode::kInternal, "malformed spec of container " + id);
  ContainerSpec spec = TRY(containerSpecFromJson(parsed->value));
  auto cgroups = TRY(sys::CgroupSet::open(state.cgroupParent.empty() ? "nave" : state.cgroupParent, id));
  ProcessSpec p = execProcess(process, spec.process);

  UniqueFd master, slave, nullIn, nullOut;
  int in = io.stdinFd, out = io.stdoutFd, err = io.stderrFd;
  if (p.tty) {
    if (auto pty = containerPty(state.pid)) {
      master = std::move(pty->first);
      slave = std::move(pty->second);
    } else {
      int m = -1, s = -1;
      if (::openpty(&m, &s, nullptr, nullptr, nullptr) != 0) return Error::fromErrno("openpty", errno);
      master.reset(m);
      slave.reset(s);
      ::fcntl(m, F_SETFD, FD_CLOEXEC);
      ::fcntl(s, F_SETFD, FD_CLOEXEC);
    }
    in = out = err = slave.get();
  } else {
    if (in < 0) {
      nullIn.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
      in = nullIn.get();
    }
    if (out < 0 || err < 0) {
      nullOut.reset(::open("/dev/null", O_WRONLY | O_CLOEXEC));
      if (out < 0) out = nullOut.get();
      if (err < 0) err = nullOut.get();
    }
  }
  pid_t pid = TRY(sys::launchExec(state.pid, p, spec.security, cgroups.get(), in, out, err));
  UniqueFd pidfd(pidfdOpen(pid));
  return std::unique_ptr<ExecProcess>(new LinuxExecProcess(pid, std::move(pidfd), std::move(master)));
}

}  // namespace nave::runtime
