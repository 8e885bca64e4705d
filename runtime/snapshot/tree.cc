#include "runtime/snapshot/tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <vector>

namespace nave::runtime::tree {
namespace {

// 0: not tried yet, 1: openat2 works, -1: the kernel lacks it (or a test forces the walk).
std::atomic<int> openat2State{0};

UniqueFd openat2Dir(int rootFd, const std::string& path) {
  struct open_how how = {};
  how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  for (int attempt = 0;; ++attempt) {
    long fd = syscall(SYS_openat2, rootFd, path.c_str(), &how, sizeof how);
    // EAGAIN: a concurrent rename raced the lookup; the kernel asks us to retry.
    if (fd < 0 && errno == EAGAIN && attempt < 16) continue;
    return UniqueFd(static_cast<int>(fd));
  }
}

// One directory component beneath `dirFd`, never following a symlink (ELOOP if it is one,
// as openat2 says; openat says ENOTDIR when O_DIRECTORY meets a symlink).
UniqueFd openComponent(int dirFd, const std::string& name) {
  UniqueFd fd(::openat(dirFd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd && errno == ENOTDIR) {
    struct stat st;
    bool link =
        ::fstatat(dirFd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
    errno = link ? ELOOP : ENOTDIR;
  }
  return fd;
}

std::vector<std::string> components(std::string_view path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > start) out.emplace_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

UniqueFd walk(int rootFd, std::string_view path, bool create) {
  UniqueFd cur(::openat(rootFd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cur) return cur;
  for (const std::string& name : components(path)) {
    if (name == "." || name == "..") {
      errno = EINVAL;
      return UniqueFd();
    }
    UniqueFd next = openComponent(cur.get(), name);
    if (!next && errno == ENOENT && create) {
      if (::mkdirat(cur.get(), name.c_str(), 0755) != 0 && errno != EEXIST) return UniqueFd();
      next = openComponent(cur.get(), name);
    }
    if (!next) return next;
    cur = std::move(next);
  }
  return cur;
}

struct DirEntry {
  std::string name;
  unsigned char type;
};

// All names in a directory but "." and "..".
Result<std::vector<DirEntry>> readEntries(int fd) {
  std::vector<DirEntry> out;
  alignas(8) char buf[32768];
  for (;;) {
    long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (n < 0) return Error::fromErrno("getdents64", errno);
    if (n == 0) break;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<struct dirent64*>(buf + off);
      off += d->d_reclen;
      std::string_view name(d->d_name);
      if (name == "." || name == "..") continue;
      out.push_back({std::string(name), d->d_type});
    }
  }
  return out;
}

struct Identity {
  dev_t dev = 0;
  ino_t ino = 0;
  uint64_t mountId = 0;
  bool operator==(const Identity&) const = default;
};

Result<Identity> identify(int fd) {
  struct statx stx = {};
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_MNT_ID, &stx) != 0) {
    return Error::fromErrno("statx", errno);
  }
  Identity id;
  id.dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
  id.ino = stx.stx_ino;
  id.mountId = (stx.stx_mask & STATX_MNT_ID) ? stx.stx_mnt_id : 0;
  return id;
}

Result<void> unlinkNonDir(int dirFd, const std::string& name, int64_t* bytes) {
  if (bytes != nullptr) {
    struct stat st;
    if (::fstatat(dirFd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode)) {
      *bytes += static_cast<int64_t>(st.st_blocks) * 512;
    }
  }
  if (::unlinkat(dirFd, name.c_str(), 0) != 0 && errno != ENOENT) {
    return Error::fromErrno("unlink " + name, errno);
  }
  return okResult();
}

// Empties the directory `top` (owned here). Descends with one descriptor, coming back up
// through ".." and checking it is the directory it left, so depth costs no descriptors.
Result<void> emptyTree(UniqueFd top, int64_t* bytes) {
  struct Frame {
    std::vector<DirEntry> entries;
    size_t next = 0;
    Identity id;
    std::string nameInParent;
  };
  Identity topId = TRY(identify(top.get()));
  std::vector<Frame> frames;
  frames.push_back({TRY(readEntries(top.get())), 0, topId, ""});
  UniqueFd cur = std::move(top);
  for (;;) {
    Frame& f = frames.back();
    if (f.next < f.entries.size()) {
      const DirEntry& e = f.entries[f.next++];
      if (e.type != DT_DIR && e.type != DT_UNKNOWN) {
        TRY(unlinkNonDir(cur.get(), e.name, bytes));
        continue;
      }
      UniqueFd child = openComponent(cur.get(), e.name);
      if (!child) {
        if (errno == ENOENT) continue;
        if (errno == ENOTDIR || errno == ELOOP) {
          TRY(unlinkNonDir(cur.get(), e.name, bytes));
          continue;
        }
        return Error::fromErrno("open " + e.name, errno);
      }
      Identity childId = TRY(identify(child.get()));
      if (childId.dev != topId.dev || childId.mountId != topId.mountId) {
        return Error::fromErrno("remove " + e.name + " (a mount point)", EXDEV);
      }
      std::vector<DirEntry> entries = TRY(readEntries(child.get()));
      std::string name = e.name;  // `e` dies with the push below
      frames.push_back({std::move(entries), 0, childId, std::move(name)});
      cur = std::move(child);
      continue;
    }
    if (frames.size() == 1) return okResult();
    std::string name = std::move(f.nameInParent);
    frames.pop_back();
    UniqueFd parent(::openat(cur.get(), "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!parent) return Error::fromErrno("open ..", errno);
    Identity parentId = TRY(identify(parent.get()));
    if (!(parentId == frames.back().id)) {
      return Error(ErrorCode::kConflict, "directory moved while it was being removed: " + name);
    }
    cur = std::move(parent);
    if (::unlinkat(cur.get(), name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
      return Error::fromErrno("rmdir " + name, errno);
    }
  }
}

}  // namespace

void forceComponentWalkForTesting(bool force) {
  openat2State = force ? -1 : 0;
}

UniqueFd openDir(int rootFd, std::string_view path) {
  if (path.empty()) return UniqueFd(::openat(rootFd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (openat2State.load(std::memory_order_relaxed) >= 0) {
    UniqueFd fd = openat2Dir(rootFd, std::string(path));
    if (fd || errno != ENOSYS) return fd;
    openat2State = -1;
  }
  return walk(rootFd, path, false);
}

UniqueFd openOrCreateDir(int rootFd, std::string_view path) {
  UniqueFd fd = openDir(rootFd, path);
  if (fd || errno != ENOENT) return fd;
  return walk(rootFd, path, true);
}

Result<void> removeAt(int dirFd, const std::string& name, int64_t* bytes) {
  UniqueFd fd = openComponent(dirFd, name);
  if (!fd) {
    if (errno == ENOENT) return okResult();
    if (errno == ENOTDIR || errno == ELOOP) return unlinkNonDir(dirFd, name, bytes);
    return Error::fromErrno("open " + name, errno);
  }
  Identity parentId = TRY(identify(dirFd));
  Identity id = TRY(identify(fd.get()));
  if (id.dev != parentId.dev || id.mountId != parentId.mountId) {
    return Error::fromErrno("remove " + name + " (a mount point)", EXDEV);
  }
  TRY(emptyTree(std::move(fd), bytes));
  if (::unlinkat(dirFd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return Error::fromErrno("rmdir " + name, errno);
  }
  return okResult();
}

Result<void> removeContents(int dirFd, int64_t* bytes) {
  UniqueFd fd(::openat(dirFd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Error::fromErrno("open directory", errno);
  return emptyTree(std::move(fd), bytes);
}

Result<void> removePath(const std::string& path, int64_t* bytes) {
  std::string parent = ".";
  std::string name = path;
  while (name.size() > 1 && name.back() == '/') name.pop_back();
  size_t slash = name.rfind('/');
  if (slash != std::string::npos) {
    parent = slash == 0 ? "/" : name.substr(0, slash);
    name = name.substr(slash + 1);
  }
  if (name.empty() || name == "." || name == ".." || name == "/") {
    return Error(ErrorCode::kInvalid, "refusing to remove " + path);
  }
  UniqueFd dir(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) {
    if (errno == ENOENT) return okResult();
    return Error::fromErrno("open " + parent, errno);
  }
  Result<void> removed = removeAt(dir.get(), name, bytes);
  if (!removed) return std::move(removed).error().context(path);
  return okResult();
}

}  // namespace nave::runtime::tree
