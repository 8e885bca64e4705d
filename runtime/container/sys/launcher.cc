// Starting processes in containers. Two stages, as runc's nsexec:
//
//   caller --fork--> helper: joins the cgroups and the namespaces to share (setns), then
//                    clone(CLONE_PARENT | new namespaces) and exits
//            init <- the clone, a child of the caller (CLONE_PARENT), PID 1 of its pid
//                    namespace: sets up the rootfs, user, capabilities, seccomp and execs
//
// The helper is a fork() (glibc's, safe in a multi-threaded caller); the clone is a raw one,
// fine because the helper is single-threaded. Each stage reports to the caller over its own
// pipe: the helper the init's pid, the init "ready" (waiting for start), "exec" (about to
// exec; EOF follows on success as the pipe is close-on-exec) or an error message.
#include "runtime/container/sys/launcher.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "common/strings.h"
#include "runtime/container/sys/rootfs.h"
#include "runtime/container/sys/seccomp.h"
#include "runtime/container/sys/security.h"
#include "runtime/container/sys/syscalls.h"

namespace nave::runtime::sys {

namespace {

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

enum Tag : char { kPid = 'P', kReady = 'R', kExec = 'X', kError = 'E' };

void sendMessage(int fd, char tag, std::string_view text = {}) {
  char header[5];
  header[0] = tag;
  uint32_t len = static_cast<uint32_t>(text.size());
  std::memcpy(header + 1, &len, 4);
  if (writeFull(fd, header, sizeof header)) writeFull(fd, text.data(), text.size());
}

struct Message {
  char tag = 0;
  std::string text;
};

std::optional<Message> receiveMessage(int fd) {
  char header[5];
  if (!readFull(fd, header, sizeof header)) return std::nullopt;
  Message m;
  m.tag = header[0];
  uint32_t len;
  std::memcpy(&len, header + 1, 4);
  if (len > 1 << 20) return std::nullopt;
  m.text.resize(len);
  if (len > 0 && !readFull(fd, m.text.data(), len)) return std::nullopt;
  return m;
}

struct Pipe {
  UniqueFd read, write;
  static Result<Pipe> make() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return Error::fromErrno("pipe", errno);
    Pipe p;
    p.read.reset(fds[0]);
    p.write.reset(fds[1]);
    return p;
  }
};

// Moves a descriptor the child keeps above 2, so that installing stdio cannot clobber it.
int keepAbove2(int fd) {
  if (fd < 0 || fd > 2) return fd;
  return ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

// What the container's process runs as, resolved before forking where that needs no
// container (capabilities, seccomp program, rlimits).
struct ProcessPlan {
  const ProcessSpec* process = nullptr;
  uint64_t caps = 0;
  bool noNewPrivileges = true;
  std::optional<SeccompProgram> seccomp;
  std::vector<ResolvedRlimit> rlimits;
};

Result<ProcessPlan> planProcess(const ProcessSpec& process, const SecurityOptions& security) {
  if (process.args.empty() || process.args[0].empty()) {
    return Error(ErrorCode::kInvalid, "the process has no command (args must not be empty)");
  }
  ProcessPlan plan;
  plan.process = &process;
  plan.caps = TRY(containerCapabilities(security));
  plan.noNewPrivileges = security.noNewPrivileges;
  plan.seccomp = TRY(seccompProgramFor(security, plan.caps));
  plan.rlimits = TRY(resolveRlimits(process.rlimits));
  return plan;
}

// --- In the child ---

// A child that failed reports and exits; `channel` < 0 once the caller no longer listens.
[[noreturn]] void fail(int channel, const std::string& message, int code = 1) {
  if (channel >= 0) {
    sendMessage(channel, kError, message);
  } else {
    std::string line = message + "\n";
    writeFull(2, line.data(), line.size());
  }
  ::_exit(code);
}

// The process's stdio from the given descriptors (-1: /dev/null), and its controlling
// terminal when it runs on one.
Result<void> installStdio(int in, int out, int err, bool tty) {
  int fds[3] = {in, out, err};
  int copies[3];
  for (int i = 0; i < 3; ++i) {
    if (fds[i] < 0) {
      copies[i] = ::open("/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
      if (copies[i] < 0) return Error::fromErrno("open /dev/null", errno);
      int moved = ::fcntl(copies[i], F_DUPFD_CLOEXEC, 3);
      if (copies[i] != moved) ::close(copies[i]);
      copies[i] = moved;
    } else {
      copies[i] = ::fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
    }
    if (copies[i] < 0) return Error::fromErrno("duplicate stdio", errno);
  }
  for (int i = 0; i < 3; ++i) {
    if (::dup2(copies[i], i) < 0) return Error::fromErrno("install stdio", errno);
    ::close(copies[i]);
  }
  if (::setsid() < 0 && errno != EPERM) return Error::fromErrno("setsid", errno);
  if (tty) {
    for (int i = 0; i < 3; ++i) {
      if (::isatty(i) && ::ioctl(i, TIOCSCTTY, 0) == 0) return {};
    }
    return Error::fromErrno("set the controlling terminal", errno);
  }
  return {};
}

Result<void> bringLoopbackUp() {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return Error::fromErrno("socket", errno);
  ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return Error::fromErrno("get lo flags", errno);
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
  if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) return Error::fromErrno("bring lo up", errno);
  return {};
}

Result<void> setHostname(const std::string& hostname) {
  if (hostname.empty()) return {};
  if (::sethostname(hostname.data(), hostname.size()) != 0) {
    return Error::fromErrno("sethostname " + hostname, errno);
  }
  return {};
}

std::optional<std::string> readOptional(const std::string& path) {
  auto text = readFile(path);
  if (!text.ok()) return std::nullopt;
  return std::move(text).value();
}

// Go's exec.LookPath, whose messages Docker users know.
Result<std::string> lookPath(const std::string& file, const std::string& pathEnv) {
  auto check = [](const std::string& path) -> int {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return errno;
    if (S_ISDIR(st.st_mode) || (st.st_mode & 0111) == 0) return EACCES;
    if (::faccessat(AT_FDCWD, path.c_str(), X_OK, AT_EACCESS) != 0 && errno != ENOSYS &&
        errno != EPERM) {
      return errno;
    }
    return 0;
  };
  std::string quoted = "exec: \"" + file + "\": ";
  if (file.find('/') != std::string::npos) {
    int err = check(file);
    if (err == 0) return file;
    if (err == EACCES) return Error(ErrorCode::kForbidden, quoted + errnoText(err));
    return Error(ErrorCode::kNotFound, quoted + "stat " + file + ": " + errnoText(err));
  }
  if (!file.empty()) {
    for (const auto& dir : split(pathEnv, ':')) {
      std::string path = (dir.empty() ? "." : dir) + "/" + file;
      if (check(path) == 0) return path;
    }
  }
  return Error(ErrorCode::kNotFound, quoted + "executable file not found in $PATH");
}

std::string envValue(const std::vector<std::string>& env, std::string_view key) {
  for (const auto& kv : env) {
    if (kv.size() > key.size() && kv.compare(0, key.size(), key) == 0 && kv[key.size()] == '=') {
      return kv.substr(key.size() + 1);
    }
  }
  return "";
}

bool hasEnv(const std::vector<std::string>& env, std::string_view key) {
  return std::any_of(env.begin(), env.end(), [&](const std::string& kv) {
    return kv.size() > key.size() && kv.compare(0, key.size(), key) == 0 && kv[key.size()] == '=';
  });
}

// The last steps of every container process, after its namespaces and root are in place:
// user, rlimits, capabilities, no_new_privs, seccomp, then exec. Returns only on failure,
// with the message for the caller.
[[noreturn]] void finishAndExec(const ProcessPlan& plan, int channel, int startFd) {
  const ProcessSpec& process = *plan.process;
  auto user = resolveUser(process.user, readOptional("/etc/passwd"), readOptional("/etc/group"));
  if (!user.ok()) fail(channel, user.error().message());
  if (auto r = applyRlimits(plan.rlimits); !r.ok()) fail(channel, r.error().message());
  // Without no_new_privs, only CAP_SYS_ADMIN allows loading a filter: do it while we hold it.
  bool seccompNow = plan.seccomp && !plan.noNewPrivileges;
  if (seccompNow) {
    if (auto r = loadSeccompProgram(*plan.seccomp); !r.ok()) fail(channel, r.error().message());
  }
  if (auto r = applyBoundingSet(plan.caps); !r.ok()) fail(channel, r.error().message());
  if (auto r = applyUser(*user, process.extraGroups); !r.ok()) fail(channel, r.error().message());
  if (auto r = applyCapabilities(plan.caps); !r.ok()) fail(channel, r.error().message());
  std::string cwd = process.cwd.empty() ? "/" : process.cwd;
  if (::chdir(cwd.c_str()) != 0) {
    fail(channel, "chdir to cwd (\"" + cwd + "\") set in config.json failed: " + errnoText(errno));
  }

  std::vector<std::string> env = process.env;
  if (!hasEnv(env, "PATH")) env.push_back(std::string("PATH=") + kDefaultPath);
  if (!hasEnv(env, "HOME")) env.push_back("HOME=" + user->home);
  auto path = lookPath(process.args[0], envValue(env, "PATH"));
  if (!path.ok()) fail(channel, path.error().message(), 127);

  if (plan.noNewPrivileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    fail(channel, "set no_new_privs: " + errnoText(errno));
  }
  // Close-on-exec for everything but stdio: the caller's descriptors stay out.
  if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    for (int fd = 3; fd < 1024; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  ::umask(022);

  if (startFd >= 0) {
    sendMessage(channel, kReady);
    channel = -1;  // the caller has returned; later failures go to the container's stderr
    char byte;
    ssize_t n;
    do {
      n = ::read(startFd, &byte, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) ::_exit(1);  // the caller went away without starting us
  } else {
    sendMessage(channel, kExec);
  }
  if (plan.seccomp && !seccompNow) {
    if (auto r = loadSeccompProgram(*plan.seccomp); !r.ok()) fail(channel, r.error().message());
  }

  std::vector<char*> argv, envp;
  for (const auto& a : process.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  ::execve(path->c_str(), argv.data(), envp.data());
  int err = errno;
  fail(channel, "exec " + *path + ": " + errnoText(err), err == ENOENT ? 127 : 126);
}

struct InitArgs {
  const LaunchSpec* launch = nullptr;
  const ProcessPlan* plan = nullptr;
  const RootfsPlan* rootfs = nullptr;
  std::string hostname;
  bool ownNet = false, ownUts = false;
  int channel = -1, startFd = -1;
};

[[noreturn]] void runInit(const InitArgs& a) {
  const LaunchSpec& l = *a.launch;
  ::umask(0);
  auto stdio = installStdio(l.stdinFd, l.stdoutFd, l.stderrFd, l.spec->process.tty);
  if (!stdio.ok()) fail(a.channel, stdio.error().message());
  if (auto r = prepareRootfs(*a.rootfs); !r.ok()) fail(a.channel, r.error().message());
  if (a.ownUts) {
    if (auto r = setHostname(a.hostname); !r.ok()) fail(a.channel, r.error().message());
  }
  if (a.ownNet) {
    if (auto r = bringLoopbackUp(); !r.ok()) fail(a.channel, r.error().message());
  }
  if (auto r = finishRootfs(*a.rootfs); !r.ok()) fail(a.channel, r.error().message());
  finishAndExec(*a.plan, a.channel, a.startFd);
}

struct NamespaceToJoin {
  std::string path;
  int type;
  const char* name;
};

Result<void> joinNamespaces(const std::vector<NamespaceToJoin>& namespaces) {
  // All opened first: joining the mount namespace changes what /proc paths mean.
  std::vector<UniqueFd> fds;
  for (const auto& ns : namespaces) {
    UniqueFd fd(::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return Error::fromErrno(std::string("open ") + ns.name + " namespace " + ns.path, errno);
    fds.push_back(std::move(fd));
  }
  for (size_t i = 0; i < namespaces.size(); ++i) {
    if (::setns(fds[i].get(), namespaces[i].type) != 0) {
      return Error::fromErrno(std::string("join ") + namespaces[i].name + " namespace " +
                                  namespaces[i].path,
                              errno);
    }
  }
  return {};
}

// The helper stage: joins, clones the container's process and reports its pid.
template <typename Child>
[[noreturn]] void runHelper(int pidChannel, const CgroupSet* cgroups,
                            const std::vector<NamespaceToJoin>& join, unsigned long cloneFlags,
                            Child child) {
  resetSignals();
  if (cgroups) {
    if (auto r = cgroups->addProcess(::getpid()); !r.ok()) fail(pidChannel, r.error().message());
  }
  if (auto r = joinNamespaces(join); !r.ok()) fail(pidChannel, r.error().message());
  pid_t pid = cloneProcess(CLONE_PARENT | cloneFlags);
  if (pid == 0) {
    ::close(pidChannel);
    child();
  }
  if (pid < 0) fail(pidChannel, "clone: " + errnoText(-pid));
  sendMessage(pidChannel, kPid, std::string_view(reinterpret_cast<const char*>(&pid), sizeof pid));
  ::_exit(0);
}

// The caller's side: the helper's report, then the container process's. Returns the pid once
// the process is ready (waiting for start) or has exec'd.
Result<pid_t> awaitLaunch(pid_t helper, Pipe& pidPipe, Pipe& syncPipe) {
  pidPipe.write.reset();
  syncPipe.write.reset();
  auto pidMessage = receiveMessage(pidPipe.read.get());
  int helperStatus = waitForPid(helper);
  if (!pidMessage || pidMessage->tag != kPid || pidMessage->text.size() != sizeof(pid_t)) {
    if (pidMessage && pidMessage->tag == kError) {
      return Error(ErrorCode::kInternal, pidMessage->text);
    }
    return Error(ErrorCode::kInternal,
                 "the container's launcher process died (status " + std::to_string(helperStatus) + ")");
  }
  pid_t pid;
  std::memcpy(&pid, pidMessage->text.data(), sizeof pid);
  bool execing = false;
  for (;;) {
    auto m = receiveMessage(syncPipe.read.get());
    if (!m) {
      if (execing) return pid;  // close-on-exec: the exec succeeded
      int status = waitForPid(pid);
      std::string how = status < 0 ? "" :
                        WIFSIGNALED(status) ? " (killed by signal " + std::to_string(WTERMSIG(status)) + ")" :
                        " (exit status " + std::to_string(WEXITSTATUS(status)) + ")";
      return Error(ErrorCode::kInternal, "the container's process died during setup" + how);
    }
    if (m->tag == kReady) return pid;
    if (m->tag == kExec) {
      execing = true;
      continue;
    }
    waitForPid(pid);
    ErrorCode code = ErrorCode::kInternal;
    if (m->text.rfind("exec: ", 0) == 0 || m->text.rfind("unable to find", 0) == 0 ||
        m->text.rfind("chdir to cwd", 0) == 0) {
      code = ErrorCode::kInvalid;
    }
    return Error(code, m->text);
  }
}

std::string ttyPath(int fd) {
  if (fd < 0) return "";
  char buf[256];
  ssize_t n = ::readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), buf, sizeof buf - 1);
  if (n <= 0) return "";
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

Result<pid_t> launchContainer(const LaunchSpec& launch) {
  if (!launch.spec) return Error(ErrorCode::kInvalid, "no container spec");
  const ContainerSpec& spec = *launch.spec;
  if (spec.rootfs.empty() || spec.rootfs[0] != '/') {
    return Error(ErrorCode::kInvalid, "the rootfs \"" + spec.rootfs + "\" is not an absolute path");
  }
  struct stat st;
  if (::stat(spec.rootfs.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Error(ErrorCode::kNotFound, "the rootfs " + spec.rootfs + " is not a directory");
  }
  ProcessPlan plan = TRY(planProcess(spec.process, spec.security));
  if (launch.cgroups && !spec.security.privileged) TRY(launch.cgroups->restrictDevices());

  RootfsPlan rootfs;
  rootfs.rootfs = spec.rootfs;
  rootfs.mounts = spec.mounts;
  rootfs.privileged = spec.security.privileged;
  rootfs.readonlyRootfs = spec.security.readonlyRootfs;
  rootfs.cwd = spec.process.cwd;
  if (spec.process.tty) {
    rootfs.consolePath = ttyPath(launch.stdinFd >= 0 ? launch.stdinFd : launch.stdoutFd);
  }
  rootfs.cgroups = TRY(cgroupHierarchies());

  InitArgs init;
  init.launch = &launch;
  init.plan = &plan;
  init.rootfs = &rootfs;
  init.hostname = spec.hostname.empty() ? spec.id.substr(0, 12) : spec.hostname;
  init.ownNet = launch.netnsPath.empty();
  init.ownUts = launch.utsnsPath.empty();

  std::vector<NamespaceToJoin> join;
  if (!launch.netnsPath.empty()) join.push_back({launch.netnsPath, CLONE_NEWNET, "network"});
  if (!launch.ipcnsPath.empty()) join.push_back({launch.ipcnsPath, CLONE_NEWIPC, "ipc"});
  if (!launch.utsnsPath.empty()) join.push_back({launch.utsnsPath, CLONE_NEWUTS, "uts"});
  unsigned long flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWCGROUP;
  if (launch.netnsPath.empty()) flags |= CLONE_NEWNET;
  if (launch.ipcnsPath.empty()) flags |= CLONE_NEWIPC;
  if (launch.utsnsPath.empty()) flags |= CLONE_NEWUTS;

  Pipe pidPipe = TRY(Pipe::make());
  Pipe syncPipe = TRY(Pipe::make());
  pid_t helper = ::fork();
  if (helper < 0) return Error::fromErrno("fork", errno);
  if (helper == 0) {
    pidPipe.read.reset();
    syncPipe.read.reset();
    int pidChannel = keepAbove2(pidPipe.write.get());
    init.channel = keepAbove2(syncPipe.write.get());
    init.startFd = keepAbove2(launch.startFd);
    closeAllExcept({pidChannel, init.channel, init.startFd, launch.stdinFd, launch.stdoutFd,
                    launch.stderrFd});
    runHelper(pidChannel, launch.cgroups, join, flags, [&] { runInit(init); });
  }
  auto pid = awaitLaunch(helper, pidPipe, syncPipe);
  if (!pid.ok()) return std::move(pid).error().context("container " + spec.id);
  return pid;
}

Result<pid_t> launchExec(pid_t containerPid, const ProcessSpec& process,
                         const SecurityOptions& security, const CgroupSet* cgroups, int stdinFd,
                         int stdoutFd, int stderrFd) {
  ProcessPlan plan = TRY(planProcess(process, security));
  std::string base = "/proc/" + std::to_string(containerPid) + "/ns/";
  if (::access(base.c_str(), F_OK) != 0) {
    return Error(ErrorCode::kNotFound, "container process " + std::to_string(containerPid) +
                                           " is not running");
  }
  std::vector<NamespaceToJoin> join = {
      {base + "ipc", CLONE_NEWIPC, "ipc"}, {base + "uts", CLONE_NEWUTS, "uts"},
      {base + "net", CLONE_NEWNET, "network"}, {base + "pid", CLONE_NEWPID, "pid"},
      {base + "cgroup", CLONE_NEWCGROUP, "cgroup"}, {base + "mnt", CLONE_NEWNS, "mount"},
  };
  Pipe pidPipe = TRY(Pipe::make());
  Pipe syncPipe = TRY(Pipe::make());
  pid_t helper = ::fork();
  if (helper < 0) return Error::fromErrno("fork", errno);
  if (helper == 0) {
    pidPipe.read.reset();
    syncPipe.read.reset();
    int pidChannel = keepAbove2(pidPipe.write.get());
    int channel = keepAbove2(syncPipe.write.get());
    closeAllExcept({pidChannel, channel, stdinFd, stdoutFd, stderrFd});
    runHelper(pidChannel, cgroups, join, 0, [&] {
      auto stdio = installStdio(stdinFd, stdoutFd, stderrFd, process.tty);
      if (!stdio.ok()) fail(channel, stdio.error().message());
      finishAndExec(plan, channel, -1);
    });
  }
  auto pid = awaitLaunch(helper, pidPipe, syncPipe);
  if (!pid.ok()) return std::move(pid).error().context("exec in container process " +
                                                        std::to_string(containerPid));
  return pid;
}

// --- Sandbox namespace files ---

namespace {

std::string dirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// The mount whose subtree holds `path` (the longest mount point prefix).
const MountInfo* containingMount(const std::vector<MountInfo>& mounts, const std::string& path) {
  const MountInfo* best = nullptr;
  for (const auto& m : mounts) {
    bool prefix = m.mountPoint == "/" ||
                  (path.compare(0, m.mountPoint.size(), m.mountPoint) == 0 &&
                   (path.size() == m.mountPoint.size() || path[m.mountPoint.size()] == '/'));
    if (prefix && (!best || m.mountPoint.size() >= best->mountPoint.size())) best = &m;
  }
  return best;
}

// Namespace bind mounts in a shared mount would propagate to its peers (other mount
// namespaces keeping the namespaces alive): give their directory a private mount of its own
// first, as ip-netns does for /run/netns.
// Whether the mount holding a directory's children is shared, learned once per parent
// directory (sandboxes are siblings: /proc/self/mountinfo, hundreds of lines on a busy node,
// is read for the first one only).
std::mutex gPropagationMu;
std::map<std::string, bool> gParentShared;  // guarded by gPropagationMu

Result<void> ensurePrivateDir(const std::string& dir) {
  const std::string parent = dirName(dir);
  std::optional<bool> shared;
  {
    std::lock_guard lock(gPropagationMu);
    if (auto it = gParentShared.find(parent); it != gParentShared.end()) shared = it->second;
  }
  if (!shared || isMountPoint(dir)) {
    auto mounts = TRY(readMountInfo());
    const MountInfo* m = containingMount(mounts, dir);
    bool isShared = m && m->propagation.find("shared:") != std::string::npos;
    if (m && m->mountPoint != dir) {
      std::lock_guard lock(gPropagationMu);
      gParentShared[parent] = isShared;
    }
    if (!isShared) return {};
    if (m->mountPoint != dir) TRY(mountFs(dir, dir, nullptr, MS_BIND));
    return mountFs("", dir, nullptr, MS_PRIVATE);
  }
  if (!*shared) return {};
  TRY(mountFs(dir, dir, nullptr, MS_BIND));
  return mountFs("", dir, nullptr, MS_PRIVATE);
}

// Whether `dir` is a bind mount of itself (made by ensurePrivateDir) with no mounts below.
bool isIdleSelfBind(const std::string& dir) {
  auto mounts = readMountInfo();
  if (!mounts.ok()) return false;
  const MountInfo* self = nullptr;
  for (const auto& m : *mounts) {
    if (m.mountPoint == dir) self = &m;
    if (m.mountPoint.size() > dir.size() && m.mountPoint.compare(0, dir.size(), dir) == 0 &&
        m.mountPoint[dir.size()] == '/') {
      return false;
    }
  }
  if (!self) return false;
  std::vector<MountInfo> others;
  for (const auto& m : *mounts) {
    if (m.id != self->id) others.push_back(m);
  }
  const MountInfo* parent = containingMount(others, dir);
  if (!parent || parent->device != self->device) return false;
  std::string rel = dir.substr(parent->mountPoint == "/" ? 0 : parent->mountPoint.size());
  std::string expected = parent->root == "/" ? rel : parent->root + rel;
  return self->root == expected;
}

}  // namespace

Result<void> createNamespaceFiles(const std::string& netPath, const std::string& ipcPath,
                                  const std::string& utsPath, const std::string& hostname) {
  struct File {
    std::string path;
    int type;
    const char* ns;
  };
  std::vector<File> files;
  if (!netPath.empty()) files.push_back({netPath, CLONE_NEWNET, "net"});
  if (!ipcPath.empty()) files.push_back({ipcPath, CLONE_NEWIPC, "ipc"});
  if (!utsPath.empty()) files.push_back({utsPath, CLONE_NEWUTS, "uts"});
  if (files.empty()) return {};
  unsigned long flags = 0;
  for (const auto& f : files) {
    if (f.path[0] != '/') {
      return Error(ErrorCode::kInvalid, "namespace file " + f.path + " is not an absolute path");
    }
    flags |= static_cast<unsigned long>(f.type);
  }
  std::set<std::string> dirs;
  for (const auto& f : files) dirs.insert(dirName(f.path));
  for (const auto& d : dirs) TRY(ensurePrivateDir(d));

  std::vector<std::string> created;
  auto cleanup = [&] { (void)removeNamespaceFiles(created); };
  for (const auto& f : files) {
    UniqueFd fd(::open(f.path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
    if (!fd) {
      Error e = Error::fromErrno("create namespace file " + f.path, errno);
      cleanup();
      return e;
    }
    created.push_back(f.path);
  }

  // A short-lived thread makes the namespaces and bind-mounts them: namespaces are per task,
  // so the rest of the process is untouched, and no fork copies a large agent's page tables
  // (followed by a copy-on-write fault for every page it then writes).
  Result<void> result;
  std::thread holder([&] {
    result = [&]() -> Result<void> {
      if (::unshare(static_cast<int>(flags)) != 0) return Error::fromErrno("unshare", errno);
      if (flags & CLONE_NEWUTS) TRY(setHostname(hostname));
      if (flags & CLONE_NEWNET) TRY(bringLoopbackUp());
      std::string base = "/proc/thread-self/ns/";
      for (const auto& f : files) TRY(mountFs(base + f.ns, f.path, nullptr, MS_BIND));
      return {};
    }();
  });
  holder.join();
  if (!result.ok()) {
    cleanup();
    return std::move(result).error().context("create sandbox namespaces");
  }
  return {};
}

Result<void> removeNamespaceFiles(const std::vector<std::string>& paths) {
  std::set<std::string> dirs;
  for (const auto& path : paths) {
    if (path.empty()) continue;
    // A namespace file may be mounted more than once (propagation); unmount all of them.
    while (::umount2(path.c_str(), MNT_DETACH) == 0) {
    }
    if (errno != EINVAL && errno != ENOENT) return Error::fromErrno("unmount " + path, errno);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Error::fromErrno("remove " + path, errno);
    }
    dirs.insert(dirName(path));
  }
  for (const auto& d : dirs) {
    if (isMountPoint(d) && isIdleSelfBind(d)) (void)unmount(d, MNT_DETACH);
  }
  return {};
}

}  // namespace nave::runtime::sys
