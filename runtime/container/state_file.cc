#include "runtime/container/state_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "common/fs.h"
#include "common/json.h"

namespace nave::runtime {

Result<std::string> readWholeFile(const std::string& path) { return nave::readFile(path); }

Result<void> writeFileAtomic(const std::string& path, const std::string& data) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return Error::fromErrno("create " + tmp, errno);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return Error::fromErrno("write " + tmp, err);
    }
    done += static_cast<size_t>(n);
  }
  fd.reset();
  // No fsync: this is runtime state of processes that do not survive a reboot either.
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Error::fromErrno("rename " + tmp, err);
  }
  return {};
}

Result<ShimState> readShimState(const std::string& path) {
  std::string text = TRY(readWholeFile(path));
  auto parsed = parseJson(text);
  if (!parsed.ok() || !parsed->value.is_object())
    return Error(ErrorCode::kInternal, "malformed container state " + path);
  const Json& j = parsed->value;
  ShimState s;
  s.state = getString(j, "state", kStateCreated);
  s.shimPid = static_cast<int>(getInt(j, "shimPid"));
  s.shimStartTime = static_cast<uint64_t>(getInt(j, "shimStartTime"));
  s.pid = static_cast<int>(getInt(j, "pid"));
  s.pidStartTime = static_cast<uint64_t>(getInt(j, "pidStartTime"));
  s.createdAt = getInt(j, "createdAt");
  s.startedAt = getInt(j, "startedAt");
  s.finishedAt = getInt(j, "finishedAt");
  s.exitCode = static_cast<int>(getInt(j, "exitCode"));
  s.signal = static_cast<int>(getInt(j, "signal"));
  s.oomKilled = getBool(j, "oomKilled");
  s.cgroupsRemoved = getBool(j, "cgroupsRemoved");
  s.reason = getString(j, "reason");
  s.message = getString(j, "message");
  s.logPath = getString(j, "logPath");
  s.cgroupParent = getString(j, "cgroupParent");
  return s;
}

std::string shimStateToJson(const ShimState& s) {
  Json j = {{"state", s.state},
            {"shimPid", s.shimPid},
            {"shimStartTime", s.shimStartTime},
            {"pid", s.pid},
            {"pidStartTime", s.pidStartTime},
            {"createdAt", s.createdAt},
            {"startedAt", s.startedAt},
            {"finishedAt", s.finishedAt},
            {"exitCode", s.exitCode},
            {"signal", s.signal},
            {"oomKilled", s.oomKilled},
            {"cgroupsRemoved", s.cgroupsRemoved},
            {"reason", s.reason},
            {"message", s.message},
            {"logPath", s.logPath},
            {"cgroupParent", s.cgroupParent}};
  return dumpJson(j);
}

Result<void> writeShimState(const std::string& path, const ShimState& s) {
  return writeFileAtomic(path, shimStateToJson(s) + "\n");
}

std::optional<uint64_t> processStartTime(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  char buf[1024];
  ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
  if (n <= 0) return std::nullopt;
  buf[n] = '\0';
  // "PID (COMM) STATE PPID ..." where COMM may hold spaces and parentheses: fields count from
  // the last ')'. The state is field 3, starttime field 22.
  char* p = std::strrchr(buf, ')');
  if (!p || p[1] != ' ') return std::nullopt;
  p += 2;
  if (*p == 'Z' || *p == 'X') return std::nullopt;
  for (int field = 3; field < 22; ++field) {
    p = std::strchr(p, ' ');
    if (!p) return std::nullopt;
    ++p;
  }
  return std::strtoull(p, nullptr, 10);
}

bool processIsAlive(pid_t pid, uint64_t startTime) {
  auto t = processStartTime(pid);
  return t && *t == startTime;
}

int64_t unixNanosNow() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int pidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

int pidfdSendSignal(int pidfd, int signal) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0));
}

namespace {

// After flock: the file must still be the directory's lock file (remove() unlinks it while
// holding the lock, and a waiter then holds a lock on a deleted file).
bool stillLinked(int fd, const std::string& path) {
  struct stat a{}, b{};
  if (::fstat(fd, &a) != 0 || ::stat(path.c_str(), &b) != 0) return false;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_nlink > 0;
}

}  // namespace

Result<ContainerLock> ContainerLock::acquire(const std::string& dir) {
  std::string path = dir + "/lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) {
    if (errno == ENOENT) return Error(ErrorCode::kNotFound, "container directory " + dir + " is gone");
    return Error::fromErrno("open " + path, errno);
  }
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return Error::fromErrno("flock " + path, errno);
  }
  if (!stillLinked(fd.get(), path))
    return Error(ErrorCode::kNotFound, "container directory " + dir + " is gone");
  return ContainerLock(std::move(fd));
}

Result<std::optional<ContainerLock>> ContainerLock::tryAcquire(const std::string& dir) {
  std::string path = dir + "/lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) {
    if (errno == ENOENT) return Error(ErrorCode::kNotFound, "container directory " + dir + " is gone");
    return Error::fromErrno("open " + path, errno);
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK || errno == EINTR) return std::optional<ContainerLock>();
    return Error::fromErrno("flock " + path, errno);
  }
  if (!stillLinked(fd.get(), path))
    return Error(ErrorCode::kNotFound, "container directory " + dir + " is gone");
  return std::optional<ContainerLock>(ContainerLock(std::move(fd)));
}

}  // namespace nave::runtime
