#include "common/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>
#include <vector>

#include "common/fd.h"

namespace nave {
namespace {

// Empties the directory `dirFd` (on device `dev`), depth first, iteratively.
Result<void> emptyDirectory(int rootFd, dev_t dev, const std::string& path) {
  struct Frame {
    UniqueFd fd;
    std::string path;
  };
  std::vector<Frame> stack;
  stack.push_back({UniqueFd(::dup(rootFd)), path});
  while (!stack.empty()) {
    Frame& top = stack.back();
    int dupFd = ::dup(top.fd.get());
    DIR* d = ::fdopendir(dupFd);
    if (d == nullptr) {
      ::close(dupFd);
      return Error::fromErrno("open directory " + top.path, errno);
    }
    // The fd's offset is shared with earlier visits, which read ahead in whole batches: start
    // over (entries already removed are gone).
    ::rewinddir(d);
    std::string descend;
    std::vector<std::string> files;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      struct stat st{};
      if (::fstatat(top.fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;
        ::closedir(d);
        return Error::fromErrno("stat " + top.path + "/" + name, errno);
      }
      if (S_ISDIR(st.st_mode)) {
        if (st.st_dev != dev) {
          ::closedir(d);
          return Error(ErrorCode::kConflict, top.path + "/" + name + " is a mount point; not removing it");
        }
        descend = name;
        break;
      }
      files.push_back(name);
    }
    ::closedir(d);
    for (const std::string& f : files)
      if (::unlinkat(top.fd.get(), f.c_str(), 0) != 0 && errno != ENOENT)
        return Error::fromErrno("remove " + top.path + "/" + f, errno);
    if (!descend.empty()) {
      int child = ::openat(top.fd.get(), descend.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child < 0) return Error::fromErrno("open " + top.path + "/" + descend, errno);
      std::string childPath = top.path + "/" + descend;
      stack.push_back({UniqueFd(child), childPath});
      continue;
    }
    // This directory is empty: remove it from its parent (the root itself is removed by the caller).
    if (stack.size() == 1) break;
    std::string name = top.path.substr(top.path.rfind('/') + 1);
    stack.pop_back();
    if (::unlinkat(stack.back().fd.get(), name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
      return Error::fromErrno("remove " + stack.back().path + "/" + name, errno);
  }
  return {};
}

}  // namespace

Result<void> removeTree(const std::string& path) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return Error::fromErrno("stat " + path, errno);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Error::fromErrno("remove " + path, errno);
    return {};
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return Error::fromErrno("open " + path, errno);
  // The root itself must not be a mount point of another file system either.
  std::string parent = path.substr(0, path.find_last_of('/'));
  struct stat pst{};
  if (!parent.empty() && ::stat(parent.c_str(), &pst) == 0 && pst.st_dev != st.st_dev)
    return Error(ErrorCode::kConflict, path + " is a mount point; not removing it");
  TRY(emptyDirectory(fd.get(), st.st_dev, path));
  fd.reset();
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) return Error::fromErrno("remove " + path, errno);
  return {};
}

Result<std::string> readFile(const std::string& path, size_t limit) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::fromErrno("open " + path, errno);
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::fromErrno("read " + path, errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > limit) {
      return Error(ErrorCode::kTooLarge,
                   "read " + path + ": larger than " + std::to_string(limit) + " bytes");
    }
  }
  return out;
}

Result<void> writeFileAtomic(const std::string& path, std::string_view data, unsigned mode,
                             bool durable) {
  static std::atomic<unsigned> counter{0};
  std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) return Error::fromErrno("create " + tmp, errno);
  auto fail = [&](const char* what) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Error::fromErrno(std::string(what) + " " + tmp, err);
  };
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("write");
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd.get(), mode) != 0) return fail("chmod");
  if (durable && ::fsync(fd.get()) != 0) return fail("fsync");
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("rename");
  if (durable) {
    std::string dir = path.substr(0, path.find_last_of('/') + 1);
    UniqueFd d(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (d) (void)::fsync(d.get());
  }
  return {};
}

void markTopDirectory(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return;
  int flags = 0;
  if (::ioctl(fd.get(), FS_IOC_GETFLAGS, &flags) != 0 || (flags & FS_TOPDIR_FL)) return;
  flags |= FS_TOPDIR_FL;
  (void)::ioctl(fd.get(), FS_IOC_SETFLAGS, &flags);
}

}  // namespace nave
