#include "runtime/container/sys/syscalls.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <deque>

#include "common/strings.h"

namespace nave::runtime::sys {

Result<void> mountFs(const std::string& source, const std::string& target, const char* fstype,
                     unsigned long flags, const std::string& data) {
  if (::mount(source.c_str(), target.c_str(), fstype, flags,
              data.empty() ? nullptr : data.c_str()) != 0) {
    return Error::fromErrno("mount " + (source.empty() ? std::string(fstype ? fstype : "") : source) +
                                " on " + target,
                            errno);
  }
  return {};
}

Result<void> unmount(const std::string& target, int flags) {
  if (::umount2(target.c_str(), flags) != 0) return Error::fromErrno("unmount " + target, errno);
  return {};
}


Result<void> writeFile(const std::string& path, std::string_view data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return Error::fromErrno("open " + path, errno);
  ssize_t n;
  do {
    n = ::write(fd.get(), data.data(), data.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Error::fromErrno("write " + path, errno);
  if (static_cast<size_t>(n) != data.size()) {
    return Error(ErrorCode::kInternal, "short write to " + path);
  }
  return {};
}

Result<void> createFile(const std::string& path, std::string_view data, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) return Error::fromErrno("create " + path, errno);
  if (!writeFull(fd.get(), data.data(), data.size())) return Error::fromErrno("write " + path, errno);
  return {};
}

namespace {

std::string relativeInRoot(const std::string& path) {
  size_t start = path.find_first_not_of('/');
  if (start == std::string::npos) return ".";
  return path.substr(start);
}

void closeRange(unsigned first, unsigned last) {
  if (::syscall(SYS_close_range, first, last, 0) == 0) return;
  // Kernels before 5.9: close what /proc says is open.
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return;
  std::vector<int> open;
  while (dirent* e = ::readdir(dir)) {
    int fd = std::atoi(e->d_name);
    if (e->d_name[0] != '.' && fd != ::dirfd(dir) && static_cast<unsigned>(fd) >= first &&
        static_cast<unsigned>(fd) <= last) {
      open.push_back(fd);
    }
  }
  ::closedir(dir);
  for (int fd : open) ::close(fd);
}

}  // namespace

Result<UniqueFd> openInRoot(int rootFd, const std::string& path, int flags, mode_t mode) {
  struct open_how how;
  std::memset(&how, 0, sizeof how);
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string rel = relativeInRoot(path);
  for (int attempt = 0;; ++attempt) {
    long fd = ::syscall(SYS_openat2, rootFd, rel.c_str(), &how, sizeof how);
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    // EAGAIN: a concurrent rename made the kernel give up on a safe lookup; try again.
    if ((errno == EAGAIN || errno == EINTR) && attempt < 32) continue;
    return Error::fromErrno("open " + path + " in the container's root", errno);
  }
}

Result<UniqueFd> mkdirAllInRoot(int rootFd, const std::string& path, mode_t mode) {
  // Walks component by component so that missing ones can be created; a dangling symlink is
  // followed by hand (its target created inside the root, as runc's securejoin does).
  std::deque<std::string> todo;
  for (auto& p : split(path, '/')) {
    if (!p.empty() && p != ".") todo.push_back(p);
  }
  std::string resolved;  // the walked prefix, below the root
  UniqueFd current = TRY(openInRoot(rootFd, "/", O_PATH | O_DIRECTORY));
  int links = 0;
  while (!todo.empty()) {
    std::string part = todo.front();
    todo.pop_front();
    std::string next = resolved + "/" + part;
    auto opened = openInRoot(rootFd, next, O_PATH | O_DIRECTORY);
    if (!opened.ok() && opened.error().is(ErrorCode::kNotFound)) {
      char target[4096];
      ssize_t n = ::readlinkat(current.get(), part.c_str(), target, sizeof target - 1);
      if (n > 0) {
        if (++links > 40) return Error::fromErrno("resolve " + path + " in the container's root", ELOOP);
        std::string link(target, static_cast<size_t>(n));
        auto parts = split(link, '/');
        for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
          if (!it->empty() && *it != ".") todo.push_front(*it);
        }
        if (link[0] == '/') {
          resolved.clear();
          current = TRY(openInRoot(rootFd, "/", O_PATH | O_DIRECTORY));
        }
        continue;
      }
      // `current` is already resolved inside the root, so creating the component relative
      // to it cannot leave the root.
      if (::mkdirat(current.get(), part.c_str(), mode) != 0 && errno != EEXIST) {
        return Error::fromErrno("mkdir " + next + " in the container's root", errno);
      }
      opened = openInRoot(rootFd, next, O_PATH | O_DIRECTORY);
    }
    if (!opened.ok()) return std::move(opened).error();
    resolved = std::move(next);
    current = std::move(opened).value();
  }
  return current;
}

std::string fdPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

namespace {

bool isOctal(char c) { return c >= '0' && c <= '7'; }

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescapeMountField(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && isOctal(s[i + 1]) && isOctal(s[i + 2]) &&
        isOctal(s[i + 3])) {
      out.push_back(
          static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

Result<std::vector<MountInfo>> readMountInfo(const std::string& path) {
  std::string text = TRY(readFile(path));
  std::vector<MountInfo> out;
  for (const auto& line : split(text, '\n')) {
    if (line.empty()) continue;
    std::vector<std::string> fields = split(line, ' ');
    size_t dash = 0;
    for (size_t i = 6; i < fields.size(); ++i) {
      if (fields[i] == "-") {
        dash = i;
        break;
      }
    }
    if (dash == 0 || dash + 2 >= fields.size()) continue;
    MountInfo m;
    m.id = std::atoi(fields[0].c_str());
    m.parentId = std::atoi(fields[1].c_str());
    m.device = fields[2];
    m.root = unescapeMountField(fields[3]);
    m.mountPoint = unescapeMountField(fields[4]);
    m.options = fields[5];
    for (size_t i = 6; i < dash; ++i) m.propagation += (i > 6 ? " " : "") + fields[i];
    m.fsType = fields[dash + 1];
    m.source = unescapeMountField(fields[dash + 2]);
    if (dash + 3 < fields.size()) m.superOptions = fields[dash + 3];
    out.push_back(std::move(m));
  }
  return out;
}

bool isMountPoint(const std::string& path) {
  struct statx stx;
  if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) == 0 &&
      (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)) {
    return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
  }
  auto mounts = readMountInfo();
  if (!mounts.ok()) return false;
  for (const auto& m : *mounts) {
    if (m.mountPoint == path) return true;
  }
  return false;
}

pid_t cloneProcess(unsigned long flags) {
  long pid = ::syscall(SYS_clone, flags, nullptr, nullptr, nullptr, nullptr);
  if (pid < 0) return -errno;
  return static_cast<pid_t>(pid);
}

int waitForPid(pid_t pid) {
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, 0);
    if (r == pid) return status;
    if (r < 0 && errno == EINTR) continue;
    return -1;
  }
}

void resetSignals() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::sigaction(sig, &sa, nullptr);  // glibc's internal signals refuse; that is fine
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

void closeAllExcept(std::vector<int> keep) {
  std::sort(keep.begin(), keep.end());
  unsigned next = 0;
  for (int fd : keep) {
    if (fd < 0 || static_cast<unsigned>(fd) < next) continue;
    if (static_cast<unsigned>(fd) > next) closeRange(next, static_cast<unsigned>(fd) - 1);
    next = static_cast<unsigned>(fd) + 1;
  }
  closeRange(next, ~0U);
}

bool readFull(int fd, void* buf, size_t len) {
  auto* p = static_cast<char*>(buf);
  while (len > 0) {
    ssize_t n = ::read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

bool writeFull(int fd, const void* buf, size_t len) {
  const auto* p = static_cast<const char*>(buf);
  while (len > 0) {
    ssize_t n = ::write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

std::string errnoText(int err) {
  std::string s = std::strerror(err);
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z' && !(s.size() > 1 && s[1] >= 'A' && s[1] <= 'Z')) {
    s[0] = static_cast<char>(s[0] - 'A' + 'a');
  }
  return s;
}

}  // namespace nave::runtime::sys
