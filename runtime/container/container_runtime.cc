#include "runtime/container/container_runtime.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "common/json.h"
#include "common/strings.h"
#include "common/time.h"
#include "runtime/container/linux_runtime.h"
#include "runtime/container/shim_socket.h"
#include "runtime/container/spec_json.h"
#include "common/log.h"
#include "runtime/container/sys/cgroups.h"
#include "runtime/container/sys/launcher.h"

namespace nave::runtime {

namespace {

constexpr int kShimSetupTimeoutMs = 60000;
constexpr int kShimRequestTimeoutMs = 10000;
// After SIGKILL, how long stop() waits for the shim to report the exit.
constexpr int kKillWaitMs = 30000;
// A container directory without state.json whose lock is free is a creation that died midway
// once it is this old (a live shim writes state.json within its setup).
constexpr int kStaleCreateSeconds = 120;

WallTime fromUnixNanos(int64_t ns) {
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds(ns)));
}

bool exists(const std::string& path) {
  struct stat st{};
  return ::lstat(path.c_str(), &st) == 0;
}

Error notFound(const std::string& id) {
  return Error(ErrorCode::kNotFound, "container \"" + id + "\" not found");
}

Result<ContainerSpec> readSpec(const std::string& dir) {
  std::string text = TRY(readWholeFile(dir + "/spec.json"));
  auto parsed = parseJson(text);
  if (!parsed.ok()) return Error(ErrorCode::kInternal, "malformed " + dir + "/spec.json");
  return containerSpecFromJson(parsed->value);
}

// Waits (without being its parent) until the process is gone; false on timeout.
bool waitForProcessExit(pid_t pid, uint64_t startTime, int timeoutMs) {
  UniqueFd fd(pidfdOpen(pid));
  if (!fd) return true;  // already gone
  if (!processIsAlive(pid, startTime)) return true;  // the pid is someone else's now
  pollfd p{fd.get(), POLLIN, 0};
  int r;
  do r = ::poll(&p, 1, timeoutMs);
  while (r < 0 && errno == EINTR);
  return r != 0;
}

}  // namespace

Result<void> LinuxContainerRuntime::validateId(const std::string& id) {
  auto ok = [](char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (!first && (c == '_' || c == '.' || c == '-'));
  };
  bool valid = !id.empty() && id.size() <= 128 && id != "sandboxes";
  for (size_t i = 0; valid && i < id.size(); ++i) valid = ok(id[i], i == 0);
  if (!valid)
    return Error(ErrorCode::kInvalid,
                 "invalid id \"" + id + "\": must match [a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}");
  return {};
}

void LinuxContainerRuntime::removeTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

Result<std::unique_ptr<ContainerRuntime>> ContainerRuntime::open(const std::string& root,
                                                                 const std::string& shimBinary) {
  std::error_code ec;
  std::string absRoot = std::filesystem::absolute(root, ec).lexically_normal().string();
  if (ec) return Error(ErrorCode::kInvalid, "container root " + root + ": " + ec.message());
  while (absRoot.size() > 1 && absRoot.back() == '/') absRoot.pop_back();
  std::filesystem::create_directories(absRoot + "/sandboxes", ec);
  if (ec) return Error(ErrorCode::kInternal, "create " + absRoot + "/sandboxes: " + ec.message());
  if (::access(shimBinary.c_str(), X_OK) != 0)
    return Error::fromErrno("shim binary " + shimBinary, errno);
  auto rt = std::make_unique<LinuxContainerRuntime>(absRoot, shimBinary);
  rt->recover();
  // Shims that are this binary find the default seccomp program compiled (its cache key
  // includes the binary's build ID, so warming for another binary would be wasted).
  struct stat self{}, shim{};
  if (::stat("/proc/self/exe", &self) == 0 && ::stat(shimBinary.c_str(), &shim) == 0 &&
      self.st_dev == shim.st_dev && self.st_ino == shim.st_ino) {
    if (auto r = sys::warmSeccompCache(absRoot + "/.seccomp"); !r.ok()) {
      log::warning("compiling the default seccomp profile failed", {{"error", r.error().message()}});
    }
  }
  return std::unique_ptr<ContainerRuntime>(std::move(rt));
}

void LinuxContainerRuntime::recover() {
  DIR* d = ::opendir(root_.c_str());
  if (!d) return;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) names.emplace_back(e->d_name);
  ::closedir(d);
  for (const std::string& name : names) {
    if (name == "." || name == ".." || name == "sandboxes") continue;
    std::string dir = root_ + "/" + name;
    if (name.rfind(".removing-", 0) == 0) {
      removeTree(dir);
      continue;
    }
    if (!validateId(name).ok()) continue;
    if (exists(dir + "/state.json")) {
      (void)currentState(name, false);
      continue;
    }
    struct stat st{};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    if (::time(nullptr) - st.st_mtime < kStaleCreateSeconds) continue;
    auto lock = ContainerLock::tryAcquire(dir);
    if (lock.ok() && lock->has_value() && !exists(dir + "/state.json")) {
      auto spec = readSpec(dir);
      removeFiles(name, spec.ok() ? spec->logPath : "");
    }
  }
}

// ---- creation ---------------------------------------------------------------------------

Result<ContainerStatus> LinuxContainerRuntime::create(const ContainerSpec& spec) {
  TRY(validateId(spec.id));
  if (spec.process.args.empty())
    return Error(ErrorCode::kInvalid, "container \"" + spec.id + "\": no command");
  if (spec.rootfs.empty())
    return Error(ErrorCode::kInvalid, "container \"" + spec.id + "\": no root filesystem");
  if (!spec.sandboxId.empty() && !exists(sandboxDir(spec.sandboxId)))
    return Error(ErrorCode::kNotFound, "sandbox \"" + spec.sandboxId + "\" not found");
  std::string dir = containerDir(spec.id);
  if (::mkdir(dir.c_str(), 0700) != 0) {
    if (errno == EEXIST)
      return Error(ErrorCode::kAlreadyExists, "container \"" + spec.id + "\" already exists");
    return Error::fromErrno("create " + dir, errno);
  }
  ContainerSpec stored = spec;
  if (stored.logPath.empty()) stored.logPath = dir + "/container.log";
  Result<void> created = [&]() -> Result<void> {
    auto lock = TRY(ContainerLock::acquire(dir));
    TRY(writeFileAtomic(dir + "/spec.json", dumpJson(containerSpecToJson(stored)) + "\n"));
    return spawnShim(spec.id);
  }();
  if (!created.ok()) {
    removeFiles(spec.id, stored.logPath);
    return std::move(created).error();
  }
  auto state = TRY(readShimState(dir + "/state.json"));
  return statusOf(spec.id, state, &spec.labels);
}

Result<void> LinuxContainerRuntime::spawnShim(const std::string& id) {
  std::string dir = containerDir(id);
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return Error::fromErrno("pipe", errno);
  UniqueFd syncRead(p[0]), syncWrite(p[1]);

  std::vector<std::string> args = {shimBinary_, "shim", "--root", root_, "--id", id, "--sync-fd", "3"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The shim sets up cgroups in the hierarchies this process found (see cgroupHierarchies).
  std::string hierarchies;
  if (auto h = sys::cgroupHierarchies(); h.ok()) {
    if (std::string text = sys::encodeCgroupHierarchies(*h); !text.empty())
      hierarchies = std::string(sys::kCgroupHierarchiesEnv) + "=" + text;
  }
  char* envp[] = {hierarchies.empty() ? nullptr : hierarchies.data(), nullptr};

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  std::string shimLog = dir + "/shim.log";
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, shimLog.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&actions, syncWrite.get(), 3);
  posix_spawn_file_actions_addclosefrom_np(&actions, 4);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t child = -1;
  int err = ::posix_spawn(&child, shimBinary_.c_str(), &actions, &attr, argv.data(), envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) return Error::fromErrno("start shim " + shimBinary_, err);
  syncWrite.reset();
  // The first shim process forks the supervisor and exits at once.
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }

  std::string reply;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kShimSetupTimeoutMs);
  for (;;) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    pollfd pfd{syncRead.get(), POLLIN, 0};
    int r = ::poll(&pfd, 1, left < 0 ? 0 : left);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return Error(ErrorCode::kTimeout, "timed out waiting for the shim's setup");
    char buf[4096];
    ssize_t n = ::read(syncRead.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
    if (reply.find('\n') != std::string::npos) break;
  }
  size_t nl = reply.find('\n');
  if (nl == std::string::npos) {
    std::string detail;
    if (auto text = readWholeFile(shimLog); text.ok()) detail = std::string(trim(*text));
    return Error(ErrorCode::kInternal,
                 "shim exited without reporting" + (detail.empty() ? "" : ": " + detail));
  }
  reply.resize(nl);
  TRY(decodeShimReply(reply));
  return {};
}

// ---- state ------------------------------------------------------------------------------

Result<ShimState> LinuxContainerRuntime::currentState(const std::string& id, bool locked) {
  std::string dir = containerDir(id);
  auto state = readShimState(dir + "/state.json");
  if (!state.ok()) {
    if (state.error().is(ErrorCode::kNotFound)) return notFound(id);
    return std::move(state).error();
  }
  if (state->state != kStateExited && !processIsAlive(state->shimPid, state->shimStartTime))
    return repairDeadShim(id, locked);
  return state;
}

Result<ShimState> LinuxContainerRuntime::repairDeadShim(const std::string& id, bool locked) {
  std::string dir = containerDir(id);
  std::optional<ContainerLock> lock;
  if (!locked) {
    auto l = ContainerLock::acquire(dir);
    if (!l.ok()) return l.error().is(ErrorCode::kNotFound) ? Result<ShimState>(notFound(id)) : l.error();
    lock.emplace(std::move(*l));
  }
  // Read again: a shim writes the exit before it exits, so what we read now is final.
  ShimState state = TRY(readShimState(dir + "/state.json"));
  if (state.state == kStateExited || processIsAlive(state.shimPid, state.shimStartTime)) return state;
  if (state.pid > 0 && processIsAlive(state.pid, state.pidStartTime)) ::kill(state.pid, SIGKILL);
  if (auto cg = sys::CgroupSet::open(state.cgroupParent, id); cg.ok())
    state.cgroupsRemoved = (*cg)->destroy().ok();
  else
    state.cgroupsRemoved = cg.error().is(ErrorCode::kNotFound);
  state.state = kStateExited;
  state.exitCode = 255;
  state.signal = 0;
  state.reason = "Unknown";
  state.message = "the container's shim exited without recording the container's exit";
  state.finishedAt = unixNanosNow();
  state.pid = 0;
  TRY(writeShimState(dir + "/state.json", state));
  ::unlink(socketPath(id).c_str());
  return state;
}

Result<ContainerStatus> LinuxContainerRuntime::statusOf(
    const std::string& id, const ShimState& state, const std::map<std::string, std::string>* labels) {
  ContainerStatus st;
  st.id = id;
  if (state.state == kStateCreated) st.state = ContainerState::kCreated;
  else if (state.state == kStateRunning) st.state = ContainerState::kRunning;
  else if (state.state == kStateExited) st.state = ContainerState::kExited;
  if (st.state == ContainerState::kRunning) st.pid = state.pid;
  st.exitCode = state.exitCode;
  st.oomKilled = state.oomKilled;
  st.reason = state.reason;
  st.message = state.message;
  st.createdAt = fromUnixNanos(state.createdAt);
  if (state.startedAt) st.startedAt = fromUnixNanos(state.startedAt);
  if (state.finishedAt) st.finishedAt = fromUnixNanos(state.finishedAt);
  st.logPath = state.logPath;
  if (labels) st.labels = *labels;
  else if (auto spec = readSpec(containerDir(id)); spec.ok()) st.labels = std::move(spec->labels);
  return st;
}

Result<ContainerStatus> LinuxContainerRuntime::status(const std::string& id) {
  TRY(validateId(id));
  ShimState state = TRY(currentState(id, false));
  return statusOf(id, state);
}

std::vector<ContainerStatus> LinuxContainerRuntime::list() {
  std::vector<ContainerStatus> out;
  DIR* d = ::opendir(root_.c_str());
  if (!d) return out;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) names.emplace_back(e->d_name);
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    if (!validateId(name).ok()) continue;
    if (auto st = status(name); st.ok()) out.push_back(std::move(*st));
  }
  return out;
}

// ---- life cycle -------------------------------------------------------------------------

Result<void> LinuxContainerRuntime::start(const std::string& id) {
  TRY(validateId(id));
  auto r = shimRequest(socketPath(id), "start", kShimRequestTimeoutMs);
  if (r.ok()) return {};
  if (!r.error().is(ErrorCode::kUnavailable)) return std::move(r).error();
  ShimState state = TRY(currentState(id, false));
  return Error(ErrorCode::kConflict, "container \"" + id + "\" is " + state.state + ", cannot start");
}

Result<void> LinuxContainerRuntime::kill(const std::string& id, int signal) {
  TRY(validateId(id));
  if (signal <= 0 || signal >= NSIG) return Error(ErrorCode::kInvalid, "invalid signal " + std::to_string(signal));
  auto r = shimRequest(socketPath(id), "kill " + std::to_string(signal), kShimRequestTimeoutMs);
  if (r.ok()) return {};
  if (!r.error().is(ErrorCode::kUnavailable)) return std::move(r).error();
  TRY(currentState(id, false));  // not found, or exited: nothing to signal
  return {};
}

Result<bool> LinuxContainerRuntime::waitForExit(const std::string& id, int timeoutMs) {
  auto fd = connectUnixSocket(socketPath(id));
  if (!fd.ok()) {
    if (fd.error().is(ErrorCode::kUnavailable)) return true;
    return std::move(fd).error();
  }
  auto reply = shimRoundTrip(fd->get(), "wait", timeoutMs);
  if (reply.ok() || reply.error().is(ErrorCode::kUnavailable)) return true;
  if (reply.error().is(ErrorCode::kTimeout)) return false;
  return std::move(reply).error();
}

Result<UniqueFd> LinuxContainerRuntime::exitNotifier(const std::string& id) {
  TRY(validateId(id));
  ShimState state = TRY(currentState(id, false));
  auto readyNow = []() -> Result<UniqueFd> {
    UniqueFd fd(::eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!fd) return Error::fromErrno("eventfd", errno);
    return fd;
  };
  if (state.state == kStateExited) return readyNow();
  auto fd = connectUnixSocket(socketPath(id));
  if (!fd.ok()) {
    if (fd.error().is(ErrorCode::kUnavailable)) return readyNow();  // the shim is gone
    return std::move(fd).error();
  }
  const std::string waitLine = "wait\n";
  if (::send(fd->get(), waitLine.data(), waitLine.size(), MSG_NOSIGNAL) < 0) return readyNow();
  return std::move(*fd);
}

Result<ContainerStatus> LinuxContainerRuntime::wait(const std::string& id,
                                                    std::chrono::milliseconds timeout) {
  TRY(validateId(id));
  ShimState state = TRY(currentState(id, false));
  if (state.state != kStateExited) {
    bool done = TRY(waitForExit(id, static_cast<int>(timeout.count())));
    if (!done) return Error(ErrorCode::kTimeout, "container \"" + id + "\" is still running");
  }
  return status(id);
}

Result<ContainerStatus> LinuxContainerRuntime::stop(const std::string& id,
                                                    std::chrono::seconds grace) {
  TRY(validateId(id));
  ShimState state = TRY(currentState(id, false));
  if (state.state == kStateExited) return statusOf(id, state);
  ContainerSpec spec = TRY(readSpec(containerDir(id)));
  // Subscribe to the exit before signalling, so that it cannot be missed.
  auto fd = connectUnixSocket(socketPath(id));
  if (!fd.ok()) {
    if (!fd.error().is(ErrorCode::kUnavailable)) return std::move(fd).error();
    return status(id);
  }
  const std::string waitLine = "wait\n";
  if (::send(fd->get(), waitLine.data(), waitLine.size(), MSG_NOSIGNAL) < 0) return status(id);
  auto awaitExit = [&](int ms) -> bool {
    pollfd p{fd->get(), POLLIN, 0};
    int r;
    do r = ::poll(&p, 1, ms);
    while (r < 0 && errno == EINTR);
    return r != 0;  // a reply, or the connection closed (the shim is gone)
  };
  int stopSignal = spec.stopSignal > 0 && spec.stopSignal < NSIG ? spec.stopSignal : SIGTERM;
  if (grace.count() > 0 && stopSignal != SIGKILL) {
    TRY(kill(id, stopSignal));
    if (awaitExit(static_cast<int>(grace.count() * 1000))) return status(id);
  }
  TRY(kill(id, SIGKILL));
  if (!awaitExit(kKillWaitMs))
    return Error(ErrorCode::kTimeout, "container \"" + id + "\" did not exit after SIGKILL");
  return status(id);
}

Result<void> LinuxContainerRuntime::remove(const std::string& id) {
  TRY(validateId(id));
  std::string dir = containerDir(id);
  if (!exists(dir)) return notFound(id);
  auto lock = ContainerLock::acquire(dir);
  if (!lock.ok()) return lock.error().is(ErrorCode::kNotFound) ? notFound(id) : std::move(lock).error();
  auto state = currentState(id, true);
  if (!state.ok() && !state.error().is(ErrorCode::kNotFound)) return std::move(state).error();
  std::string logPath = dir + "/container.log";
  if (auto spec = readSpec(dir); spec.ok()) logPath = spec->logPath;
  if (state.ok()) {
    if (state->state == kStateRunning)
      return Error(ErrorCode::kConflict,
                   "container \"" + id + "\" is running: stop it before removing it");
    if (state->state == kStateCreated) {
      // Never started: nothing runs yet, so end it here.
      if (auto r = shimRequest(socketPath(id), "kill 9", kShimRequestTimeoutMs);
          r.ok() || r.error().is(ErrorCode::kUnavailable)) {
        TRY(waitForExit(id, kKillWaitMs));
      }
      state = currentState(id, true);
      if (!state.ok()) return std::move(state).error();
    }
    // The shim exits right after telling waiters; let it be gone before its files are.
    if (state->shimPid > 0 && !waitForProcessExit(state->shimPid, state->shimStartTime, 5000))
      return Error(ErrorCode::kUnavailable, "container \"" + id + "\": its shim does not exit");
    // Left behind only when the shim could not remove them (or died first).
    if (!state->cgroupsRemoved) {
      if (auto cg = sys::CgroupSet::open(state->cgroupParent, id); cg.ok()) TRY((*cg)->destroy());
    }
  }
  removeFiles(id, logPath);
  return {};
}

void LinuxContainerRuntime::removeLogs(const std::string& logPath) {
  if (logPath.empty()) return;
  ::unlink(logPath.c_str());
  for (int i = 1; i < 1000; ++i) {
    std::string rotated = logPath + "." + std::to_string(i);
    if (::unlink(rotated.c_str()) != 0 && errno == ENOENT) break;
  }
}

void LinuxContainerRuntime::removeFiles(const std::string& id, const std::string& logPath) {
  removeLogs(logPath);
  // Renamed first, so that the id is free at once and a lock waiter sees the container gone.
  static std::atomic<unsigned> counter{0};
  std::string trash = root_ + "/.removing-" + id + "-" + std::to_string(::getpid()) + "-" +
                      std::to_string(counter++);
  std::string dir = containerDir(id);
  if (::rename(dir.c_str(), trash.c_str()) == 0) removeTree(trash);
  else removeTree(dir);
}

}  // namespace nave::runtime
