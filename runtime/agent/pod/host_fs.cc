#include "runtime/agent/pod/host_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <deque>

#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"

namespace nave::agent::hostfs {
namespace {

std::atomic<bool> forceComponentWalk{false};

constexpr int kMaxSymlinks = 40;  // the kernel's limit for one lookup

Error escapeError(const std::string& relPath) {
  return Error(ErrorCode::kForbidden, "path \"" + relPath + "\" leads outside of its directory");
}

std::deque<std::string> components(std::string_view path) {
  std::deque<std::string> out;
  for (std::string& part : split(path, '/')) {
    if (!part.empty() && part != ".") out.push_back(std::move(part));
  }
  return out;
}

// Opens `path` below the descriptor stack's top one component at a time, never following a
// symlink in the kernel: relative links are spliced into the remaining path, absolute ones
// and ".." above the first entry are refused.
Result<UniqueFd> walkBeneath(int rootFd, const std::string& relPath, bool create, mode_t mode) {
  if (!relPath.empty() && relPath[0] == '/') return escapeError(relPath);
  std::vector<UniqueFd> stack;
  int first = ::openat(rootFd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (first < 0) return Error::fromErrno("open the directory of " + relPath, errno);
  stack.emplace_back(first);
  std::deque<std::string> todo = components(relPath);
  int links = 0;
  while (!todo.empty()) {
    std::string part = std::move(todo.front());
    todo.pop_front();
    if (part == "..") {
      if (stack.size() == 1) return escapeError(relPath);
      stack.pop_back();
      continue;
    }
    int parent = stack.back().get();
    int fd = ::openat(parent, part.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
      if (::mkdirat(parent, part.c_str(), mode) != 0 && errno != EEXIST) {
        return Error::fromErrno("create directory " + part + " of " + relPath, errno);
      }
      fd = ::openat(parent, part.c_str(), O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
      // The umask trimmed the mode; set it through the descriptor (not the name, which could
      // be swapped for a symlink meanwhile).
      if (fd >= 0 && ::chmod(fdPath(fd).c_str(), mode) != 0) {
        int err = errno;
        ::close(fd);
        return Error::fromErrno("chmod directory " + part + " of " + relPath, err);
      }
    }
    if (fd < 0) return Error::fromErrno("open " + part + " of " + relPath, errno);
    UniqueFd current(fd);
    struct stat st;
    if (::fstat(current.get(), &st) != 0) return Error::fromErrno("stat " + part, errno);
    if (S_ISLNK(st.st_mode)) {
      if (++links > kMaxSymlinks) return Error::fromErrno("resolve " + relPath, ELOOP);
      char target[PATH_MAX];
      ssize_t n = ::readlinkat(current.get(), "", target, sizeof target - 1);
      if (n < 0) return Error::fromErrno("read link " + part + " of " + relPath, errno);
      if (n == 0) return Error::fromErrno("resolve " + relPath, ENOENT);
      if (target[0] == '/') return escapeError(relPath);
      std::deque<std::string> linked = components(std::string_view(target, static_cast<size_t>(n)));
      todo.insert(todo.begin(), linked.begin(), linked.end());
      continue;
    }
    if (!todo.empty() && !S_ISDIR(st.st_mode)) {
      return Error::fromErrno("resolve " + relPath, ENOTDIR);
    }
    stack.push_back(std::move(current));
  }
  return std::move(stack.back());
}

// A directory stream that owns its descriptor.
class DirStream {
 public:
  explicit DirStream(DIR* dir) : dir_(dir) {}
  DirStream(DirStream&& other) noexcept : dir_(std::exchange(other.dir_, nullptr)) {}
  DirStream& operator=(DirStream&&) = delete;
  ~DirStream() {
    if (dir_ != nullptr) ::closedir(dir_);
  }
  DIR* get() const { return dir_; }
  int fd() const { return ::dirfd(dir_); }

 private:
  DIR* dir_;
};

Result<DirStream> openDirStream(int pathFd, const std::string& what) {
  int fd = ::openat(pathFd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Error::fromErrno("open directory " + what, errno);
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    int err = errno;
    ::close(fd);
    return Error::fromErrno("open directory " + what, err);
  }
  return DirStream(dir);
}

void applyOwnership(int fd, const struct stat& st, gid_t gid, bool readOnly,
                    const std::string& what) {
  if (::fchownat(fd, "", static_cast<uid_t>(-1), gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
    log::warning("chown for fsGroup failed", {{"path", what}, {"error", std::strerror(errno)}});
  }
  // A symlink's own mode means nothing, and chmod would reach its target.
  if (S_ISLNK(st.st_mode)) return;
  mode_t mask = readOnly ? 0440 : 0660;
  if (S_ISDIR(st.st_mode)) mask |= S_ISGID | 0110;
  // From the mode before the chown, which clears setuid/setgid bits of files.
  mode_t mode = (st.st_mode & 07777) | mask;
  if (::chmod(fdPath(fd).c_str(), mode) != 0) {
    log::warning("chmod for fsGroup failed", {{"path", what}, {"error", std::strerror(errno)}});
  }
}

}  // namespace

Result<void> makeDirs(const std::string& path, mode_t mode) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return {};
    return Error::fromErrno("create directory " + path, ENOTDIR);
  }
  size_t slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) TRY(makeDirs(path.substr(0, slash), 0755));
  if (::mkdir(path.c_str(), mode) != 0) {
    if (errno == EEXIST && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return {};
    return Error::fromErrno("create directory " + path, errno);
  }
  if (::chmod(path.c_str(), mode) != 0) return Error::fromErrno("chmod " + path, errno);
  return {};
}

Result<std::string> readFile(const std::string& path, size_t limit) {
  return nave::readFile(path, limit);
}

Result<bool> writeFileIfChanged(const std::string& path, std::string_view data, mode_t mode) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
      static_cast<size_t>(st.st_size) == data.size() && (st.st_mode & 07777) == mode) {
    Result<std::string> current = readFile(path, data.size() + 1);
    if (current.ok() && *current == data) return false;
  }
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd) return Error::fromErrno("write " + path, errno);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::fromErrno("write " + path, errno);
    }
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd.get(), mode) != 0) return Error::fromErrno("chmod " + path, errno);
  return true;
}

Result<UniqueFd> openBeneath(int rootFd, const std::string& relPath) {
  if (!forceComponentWalk.load()) {
    struct open_how how;
    std::memset(&how, 0, sizeof how);
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    std::string rel = relPath.empty() ? "." : relPath;
    for (int attempt = 0;; ++attempt) {
      long fd = ::syscall(SYS_openat2, rootFd, rel.c_str(), &how, sizeof how);
      if (fd >= 0) return UniqueFd(static_cast<int>(fd));
      // EAGAIN: a concurrent rename made the kernel give up on a safe lookup; try again.
      if ((errno == EAGAIN || errno == EINTR) && attempt < 32) continue;
      if (errno == EXDEV) return escapeError(relPath);
      if (errno == ENOSYS) break;
      return Error::fromErrno("open " + relPath, errno);
    }
  }
  return walkBeneath(rootFd, relPath, false, 0);
}

Result<UniqueFd> makeDirsBeneath(int rootFd, const std::string& relPath, mode_t mode) {
  return walkBeneath(rootFd, relPath, true, mode);
}

void forceComponentWalkForTesting(bool force) {
  forceComponentWalk.store(force);
}

std::string fdPath(int fd) {
  return "/proc/self/fd/" + std::to_string(fd);
}

Result<void> mountTmpfs(const std::string& target, int64_t sizeBytes) {
  std::string data = sizeBytes > 0 ? "size=" + std::to_string(sizeBytes) : "";
  if (::mount("tmpfs", target.c_str(), "tmpfs", 0, data.empty() ? nullptr : data.c_str()) != 0) {
    return Error::fromErrno("mount tmpfs on " + target, errno);
  }
  return {};
}

Result<void> bindMountFd(int fd, const std::string& target) {
  if (::mount(fdPath(fd).c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return Error::fromErrno("bind mount on " + target, errno);
  }
  return {};
}

Result<void> unmount(const std::string& target) {
  if (::umount2(target.c_str(), UMOUNT_NOFOLLOW) == 0) return {};
  if (errno == EINVAL || errno == ENOENT) return {};  // not (or no longer) a mount point
  if (errno == EBUSY && ::umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) return {};
  return Error::fromErrno("unmount " + target, errno);
}

Result<bool> isMountPoint(const std::string& path) {
  struct statx stx;
  if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_BASIC_STATS,
              &stx) != 0) {
    return Error::fromErrno("stat " + path, errno);
  }
  if (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) {
    return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
  }
  char* real = ::realpath(path.c_str(), nullptr);
  if (real == nullptr) return Error::fromErrno("resolve " + path, errno);
  std::string canonical(real);
  std::free(real);
  std::vector<std::string> mounts = TRY(mountPointsUnder(canonical));
  return std::find(mounts.begin(), mounts.end(), canonical) != mounts.end();
}

Result<bool> isTmpfsMountPoint(const std::string& path) {
  if (!TRY(isMountPoint(path))) return false;
  struct statfs fs;
  if (::statfs(path.c_str(), &fs) != 0) return Error::fromErrno("statfs " + path, errno);
  return fs.f_type == TMPFS_MAGIC;
}

std::string unescapeMountInfo(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      char a = field[i + 1], b = field[i + 2], c = field[i + 3];
      if (a >= '0' && a <= '3' && b >= '0' && b <= '7' && c >= '0' && c <= '7') {
        out += static_cast<char>((a - '0') * 64 + (b - '0') * 8 + (c - '0'));
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

Result<std::vector<std::string>> mountPointsUnder(const std::string& dir) {
  char* real = ::realpath(dir.c_str(), nullptr);
  if (real == nullptr) {
    if (errno == ENOENT) return std::vector<std::string>();
    return Error::fromErrno("resolve " + dir, errno);
  }
  std::string base(real);
  std::free(real);
  std::string info = TRY(readFile("/proc/self/mountinfo", 64 << 20));
  struct Found {
    size_t index;
    size_t depth;
    std::string path;
  };
  std::vector<Found> found;
  size_t index = 0;
  for (const std::string& line : split(info, '\n')) {
    std::vector<std::string> fields = split(line, ' ');
    if (fields.size() < 5) continue;
    std::string mountPoint = unescapeMountInfo(fields[4]);
    if (mountPoint == base || (mountPoint.size() > base.size() && mountPoint.starts_with(base) &&
                               (base == "/" || mountPoint[base.size()] == '/'))) {
      found.push_back({index,
                       static_cast<size_t>(std::count(mountPoint.begin(), mountPoint.end(), '/')),
                       mountPoint});
    }
    ++index;
  }
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
    return a.depth != b.depth ? a.depth > b.depth : a.index > b.index;
  });
  std::vector<std::string> out;
  out.reserve(found.size());
  for (Found& f : found) out.push_back(std::move(f.path));
  return out;
}

Result<void> setVolumeOwnership(const std::string& dir, gid_t gid, bool readOnly) {
  UniqueFd root(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Error::fromErrno("open " + dir, errno);
  struct stat st;
  if (::fstat(root.get(), &st) != 0) return Error::fromErrno("stat " + dir, errno);
  applyOwnership(root.get(), st, gid, readOnly, dir);
  struct Frame {
    DirStream stream;
    std::string path;
  };
  std::vector<Frame> stack;
  stack.push_back({TRY(openDirStream(root.get(), dir)), dir});
  while (!stack.empty()) {
    Frame& top = stack.back();
    errno = 0;
    dirent* entry = ::readdir(top.stream.get());
    if (entry == nullptr) {
      stack.pop_back();
      continue;
    }
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    std::string path = top.path + "/" + name;
    UniqueFd fd(::openat(top.stream.fd(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
      if (errno == ENOENT) continue;  // removed meanwhile
      return Error::fromErrno("open " + path, errno);
    }
    if (::fstat(fd.get(), &st) != 0) return Error::fromErrno("stat " + path, errno);
    applyOwnership(fd.get(), st, gid, readOnly, path);
    if (S_ISDIR(st.st_mode)) {
      DirStream child = TRY(openDirStream(fd.get(), path));
      stack.push_back({std::move(child), path});
    }
  }
  return {};
}

}  // namespace nave::agent::hostfs
