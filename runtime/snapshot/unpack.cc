// unpackLayer: a layer tar, read by libarchive from our own decompressing, hashing stream, and
// written with our own code (never archive_write_disk, whose safety rules are not ours).
//
// Rules, whatever order the entries come in:
// - Entry paths are normalised ("./a//b/" is "a/b"); absolute paths, ".." components, paths
//   longer than PATH_MAX and entries whose parent path goes through a symlink are refused
//   (kBadRequest: the whole layer is refused and nothing is left behind). Parents are opened
//   with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS ...) beneath the layer directory, and
//   the last component is created with O_EXCL / mkdirat / symlinkat / mknodat in that parent,
//   so no entry can reach outside, nor write through a symlink or an earlier hard link.
// - An existing entry at the same path is replaced as tar does (a directory over a directory
//   is kept and gets the new metadata; anything else is removed first).
// - Hard links must name an existing non-directory inside the layer, resolved the same way; a
//   hard link to a symlink links the symlink itself, never what it points to.
// - Character and block devices, fifos and sockets are skipped, not created: a container gets
//   its /dev from the runtime, and device nodes in images are a way to reach host devices.
// - OCI whiteouts: ".wh.NAME" becomes a 0:0 character device NAME (overlayfs' whiteout),
//   ".wh..wh..opq" marks its directory opaque (trusted.overlay.opaque=y), other ".wh..wh."
//   names are ignored; the markers themselves are not created.
// - Ownership, permissions (setuid/setgid/sticky included), mtimes and xattrs from PAX records
//   (security.capability included, set after the data and the chown that would clear it) are
//   applied. xattrs the filesystem does not support are dropped; trusted.overlay.* xattrs are
//   dropped because they belong to the overlay mount (whiteouts come only from .wh. names).
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "common/log.h"
#include "runtime/snapshot/layer_stream.h"
#include "runtime/snapshot/snapshotter.h"
#include "runtime/snapshot/tree.h"

namespace nave::runtime {
namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kWhiteoutMetaPrefix = ".wh..wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";

Error bad(std::string_view path, std::string_view what) {
  return Error(ErrorCode::kBadRequest,
               "layer entry \"" + std::string(path) + "\": " + std::string(what));
}

// Errors a hostile or malformed layer can cause are kBadRequest; the rest (disk full, I/O)
// keep their errno's code.
Error entryErrno(std::string_view path, std::string_view what, int err) {
  switch (err) {
    case ELOOP:
      return bad(path, std::string(what) + ": path goes through a symlink");
    case ENOTDIR:
    case ENAMETOOLONG:
    case EXDEV:
    case EISDIR:
    case EMLINK:
    case EINVAL:
    case ERANGE:
    case E2BIG:
      return bad(path, std::string(what) + ": " + std::strerror(err));
    default:
      return Error::fromErrno(what, err).context("layer entry \"" + std::string(path) + "\"");
  }
}

// "./a//b/" -> "a/b"; "" for the root itself. Refuses absolute paths and "..". `entry` names
// the entry in errors, `what` the path ("path", "hard link target").
Result<std::string> normalise(std::string_view entry, std::string_view raw, std::string_view what) {
  std::string quoted = std::string(what) + " \"" + std::string(raw.substr(0, 256)) + "\"";
  if (!raw.empty() && raw[0] == '/') return bad(entry, quoted + " is absolute");
  std::string out;
  size_t start = 0;
  while (start <= raw.size()) {
    size_t slash = raw.find('/', start);
    if (slash == std::string_view::npos) slash = raw.size();
    std::string_view part = raw.substr(start, slash - start);
    start = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") return bad(entry, quoted + " leaves the layer (\"..\")");
    if (!out.empty()) out += '/';
    out += part;
  }
  if (out.size() >= PATH_MAX) return bad(entry.substr(0, 256), std::string(what) + " is too long");
  return out;
}

void splitPath(const std::string& path, std::string& parent, std::string& name) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) {
    parent.clear();
    name = path;
  } else {
    parent = path.substr(0, slash);
    name = path.substr(slash + 1);
  }
}

// The process umask, without changing it (umask(2) can only be read by setting it).
mode_t currentUmask() {
  FILE* f = std::fopen("/proc/self/status", "re");
  if (f == nullptr) return 07777;  // unknown: always chmod
  char line[256];
  mode_t mask = 07777;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    unsigned value = 0;
    if (std::sscanf(line, "Umask: %o", &value) == 1) {
      mask = static_cast<mode_t>(value);
      break;
    }
  }
  std::fclose(f);
  return mask;
}

class Unpacker {
 public:
  Unpacker(LayerStream& stream, int rootFd)
      : stream_(stream), rootFd_(rootFd), umask_(currentUmask()), root_(geteuid() == 0) {}
  ~Unpacker() {
    if (archive_ != nullptr) archive_read_free(archive_);
  }

  Result<void> run() {
    archive_ = archive_read_new();
    if (archive_ == nullptr) return Error(ErrorCode::kInternal, "archive_read_new failed");
    archive_read_support_filter_none(archive_);
    archive_read_support_format_tar(archive_);  // ustar, pax, gnutar (sparse, long names)
    archive_read_support_format_empty(archive_);
    if (archive_read_open(archive_, this, nullptr, &Unpacker::readCallback, nullptr) !=
        ARCHIVE_OK) {
      return archiveError("open");
    }
    for (;;) {
      archive_entry* entry = nullptr;
      int rc = archive_read_next_header(archive_, &entry);
      if (rc == ARCHIVE_EOF) break;
      if (rc == ARCHIVE_WARN) {
        log::v(2, "layer entry warning", {{"warning", errorString()}});
      } else if (rc != ARCHIVE_OK) {
        return archiveError("read header");
      }
      TRY(unpackEntry(entry));
    }
    TRY(setDirectoryTimes());
    // The diff ID covers the whole uncompressed stream, padding after the tar's end included.
    for (;;) {
      std::string_view chunk = TRY(stream_.next());
      if (chunk.empty()) break;
    }
    return okResult();
  }

 private:
  struct DirectoryTimes {
    std::string path;
    struct timespec times[2];
  };

  static la_ssize_t readCallback(struct archive* a, void* self, const void** buffer) {
    auto* unpacker = static_cast<Unpacker*>(self);
    Result<std::string_view> chunk = unpacker->stream_.next();
    if (!chunk) {
      unpacker->streamError_ = std::make_unique<Error>(std::move(chunk).error());
      archive_set_error(a, EIO, "%s", unpacker->streamError_->message().c_str());
      return -1;
    }
    *buffer = chunk->data();
    return static_cast<la_ssize_t>(chunk->size());
  }

  std::string errorString() {
    const char* s = archive_error_string(archive_);
    return s != nullptr ? s : "unknown error";
  }

  Error archiveError(std::string_view what) {
    if (streamError_ != nullptr) return *streamError_;
    return Error(ErrorCode::kBadRequest,
                 "corrupt layer: " + std::string(what) + ": " + errorString());
  }

  Result<void> unpackEntry(archive_entry* entry) {
    const char* rawPath = archive_entry_pathname(entry);
    if (rawPath == nullptr) rawPath = archive_entry_pathname_utf8(entry);
    if (rawPath == nullptr) return Error(ErrorCode::kBadRequest, "layer entry without a name");
    std::string path = TRY(normalise(rawPath, rawPath, "path"));
    const char* hardlink = archive_entry_hardlink(entry);
    if (hardlink == nullptr) hardlink = archive_entry_hardlink_utf8(entry);
    mode_t type = archive_entry_filetype(entry);

    if (path.empty()) {  // "./": the layer's root directory itself
      if (hardlink != nullptr || type != AE_IFDIR) return bad(rawPath, "not a directory");
      UniqueFd fd(::openat(rootFd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!fd) return entryErrno(rawPath, "open", errno);
      TRY(applyDirectoryMetadata(fd.get(), path, entry));
      return okResult();
    }

    std::string parentPath, name;
    splitPath(path, parentPath, name);
    if (name.starts_with(kWhiteoutPrefix)) return whiteout(path, parentPath, name);
    int parent = TRY(parentDir(path, parentPath));

    if (hardlink != nullptr) return link(path, parent, name, hardlink);
    switch (type) {
      case AE_IFREG:
        return writeFile(path, parent, name, entry);
      case AE_IFDIR:
        return makeDirectory(path, parent, name, entry);
      case AE_IFLNK:
        return makeSymlink(path, parent, name, entry);
      case AE_IFCHR:
      case AE_IFBLK:
      case AE_IFIFO:
      case AE_IFSOCK:
        log::v(2, "skipping device node or fifo in layer", {{"path", path}});
        return okResult();
      default:
        return bad(path, "unsupported entry type");
    }
  }

  // The parent directory of an entry, created (0755) if the layer did not list it. The last
  // one is kept open: tar lists a directory's entries together.
  Result<int> parentDir(const std::string& path, const std::string& parentPath) {
    if (parent_ && parentPath_ == parentPath) return parent_.get();
    parent_ = tree::openOrCreateDir(rootFd_, parentPath);
    if (!parent_) {
      int err = errno;
      parentPath_.clear();
      return entryErrno(path, "open parent directory", err);
    }
    parentPath_ = parentPath;
    return parent_.get();
  }

  // Removes whatever is at `name` in `parent` (the cached parent directory, which cannot be
  // inside what is removed) so the entry can take its place.
  Result<void> replace(const std::string& path, int parent, const std::string& name) {
    Result<void> removed = tree::removeAt(parent, name);
    if (!removed) return std::move(removed).error().context("layer entry \"" + path + "\"");
    return okResult();
  }

  Result<void> whiteout(const std::string& path, const std::string& parentPath,
                        const std::string& name) {
    if (name.starts_with(kWhiteoutMetaPrefix) && name != kOpaqueMarker) return okResult();
    int parent = TRY(parentDir(path, parentPath));
    if (name == kOpaqueMarker) {
      if (::fsetxattr(parent, "trusted.overlay.opaque", "y", 1, 0) != 0) {
        return Error::fromErrno("set trusted.overlay.opaque", errno)
            .context("layer entry \"" + path + "\"");
      }
      return okResult();
    }
    std::string hidden = name.substr(kWhiteoutPrefix.size());
    if (hidden.empty() || hidden == "." || hidden == "..") return bad(path, "invalid whiteout");
    for (int attempt = 0;; ++attempt) {
      if (::mknodat(parent, hidden.c_str(), S_IFCHR, makedev(0, 0)) == 0) return okResult();
      if (errno != EEXIST || attempt > 0) return entryErrno(path, "create whiteout", errno);
      TRY(replace(path, parent, hidden));
    }
  }

  Result<void> link(const std::string& path, int parent, const std::string& name,
                    const char* rawTarget) {
    std::string target = TRY(normalise(path, rawTarget, "hard link target"));
    if (target.empty()) return bad(path, "hard link to the layer root");
    if (target == path) return okResult();  // `tar cf x.tar f f` links f to itself
    std::string targetParent, targetName;
    splitPath(target, targetParent, targetName);
    for (int attempt = 0;; ++attempt) {
      UniqueFd targetDir = tree::openDir(rootFd_, targetParent);
      if (!targetDir) {
        if (errno == ENOENT) return bad(path, "hard link target \"" + target + "\" not found");
        return entryErrno(path, "open hard link target's directory", errno);
      }
      if (::linkat(targetDir.get(), targetName.c_str(), parent, name.c_str(), 0) == 0) {
        return okResult();
      }
      int err = errno;
      if (err == ENOENT) return bad(path, "hard link target \"" + target + "\" not found");
      if (err == EPERM) return bad(path, "hard link target \"" + target + "\" is a directory");
      if (err != EEXIST || attempt > 0) return entryErrno(path, "link", err);
      TRY(replace(path, parent, name));
    }
  }

  Result<void> writeFile(const std::string& path, int parent, const std::string& name,
                         archive_entry* entry) {
    mode_t perm = archive_entry_perm(entry) & 07777;
    mode_t createMode = perm & 0777;
    UniqueFd fd;
    for (int attempt = 0;; ++attempt) {
      fd.reset(::openat(parent, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                        createMode));
      if (fd) break;
      if (errno != EEXIST || attempt > 0) return entryErrno(path, "create", errno);
      TRY(replace(path, parent, name));
    }
    int64_t end = 0;
    for (;;) {
      const void* buffer = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      int rc = archive_read_data_block(archive_, &buffer, &size, &offset);
      if (rc == ARCHIVE_EOF) break;
      if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) return archiveError("read \"" + path + "\"");
      const char* p = static_cast<const char*>(buffer);
      while (size > 0) {
        ssize_t n = ::pwrite(fd.get(), p, size, offset);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return entryErrno(path, "write", errno);
        p += n;
        size -= static_cast<size_t>(n);
        offset += n;
      }
      if (offset > end) end = offset;
    }
    // A sparse file may end in a hole.
    int64_t size = archive_entry_size(entry);
    if (archive_entry_size_is_set(entry) && size > end && ::ftruncate(fd.get(), size) != 0) {
      return entryErrno(path, "truncate", errno);
    }
    TRY(applyOwner(fd.get(), path, entry));
    // The chown cleared setuid/setgid; the umask may have cleared permission bits.
    if ((perm & 07000) != 0 || (createMode & umask_) != 0) {
      if (::fchmod(fd.get(), perm) != 0) return entryErrno(path, "chmod", errno);
    }
    TRY(applyXattrs(path, entry, [&](const char* key, const void* value, size_t len) {
      return ::fsetxattr(fd.get(), key, value, len, 0);
    }));
    struct timespec times[2];
    entryTimes(entry, times);
    if (::futimens(fd.get(), times) != 0) return entryErrno(path, "set times", errno);
    return okResult();
  }

  Result<void> makeDirectory(const std::string& path, int parent, const std::string& name,
                             archive_entry* entry) {
    for (int attempt = 0;; ++attempt) {
      if (::mkdirat(parent, name.c_str(), 0700) == 0) break;
      if (errno != EEXIST || attempt > 0) return entryErrno(path, "mkdir", errno);
      struct stat st;
      if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
        break;  // a directory listed twice keeps its contents and gets the new metadata
      }
      TRY(replace(path, parent, name));
    }
    UniqueFd fd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return entryErrno(path, "open directory", errno);
    TRY(applyDirectoryMetadata(fd.get(), path, entry));
    // Its entries usually come next.
    parent_ = std::move(fd);
    parentPath_ = path;
    return okResult();
  }

  Result<void> applyDirectoryMetadata(int fd, const std::string& path, archive_entry* entry) {
    TRY(applyOwner(fd, path, entry));
    if (::fchmod(fd, archive_entry_perm(entry) & 07777) != 0) {
      return entryErrno(path, "chmod", errno);
    }
    TRY(applyXattrs(path, entry, [&](const char* key, const void* value, size_t len) {
      return ::fsetxattr(fd, key, value, len, 0);
    }));
    // Creating its entries would change the mtime: set it once everything is in place.
    DirectoryTimes d;
    d.path = path;
    entryTimes(entry, d.times);
    directoryTimes_.push_back(std::move(d));
    return okResult();
  }

  Result<void> makeSymlink(const std::string& path, int parent, const std::string& name,
                           archive_entry* entry) {
    const char* target = archive_entry_symlink(entry);
    if (target == nullptr) target = archive_entry_symlink_utf8(entry);
    if (target == nullptr || *target == '\0') return bad(path, "symlink without a target");
    for (int attempt = 0;; ++attempt) {
      if (::symlinkat(target, parent, name.c_str()) == 0) break;
      if (errno != EEXIST || attempt > 0) return entryErrno(path, "symlink", errno);
      TRY(replace(path, parent, name));
    }
    if (root_ &&
        ::fchownat(parent, name.c_str(), static_cast<uid_t>(archive_entry_uid(entry)),
                   static_cast<gid_t>(archive_entry_gid(entry)), AT_SYMLINK_NOFOLLOW) != 0) {
      return entryErrno(path, "chown", errno);
    }
    if (archive_entry_xattr_count(entry) > 0) {
      // No fd-based call sets an xattr on a symlink itself: name it through its parent's fd.
      std::string linkPath = "/proc/self/fd/" + std::to_string(parent) + "/" + name;
      TRY(applyXattrs(path, entry, [&](const char* key, const void* value, size_t len) {
        return ::lsetxattr(linkPath.c_str(), key, value, len, 0);
      }));
    }
    struct timespec times[2];
    entryTimes(entry, times);
    if (::utimensat(parent, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
      return entryErrno(path, "set times", errno);
    }
    return okResult();
  }

  Result<void> applyOwner(int fd, const std::string& path, archive_entry* entry) {
    if (!root_) return okResult();  // unprivileged (tests, fuzzing): files stay ours
    if (::fchown(fd, static_cast<uid_t>(archive_entry_uid(entry)),
                 static_cast<gid_t>(archive_entry_gid(entry))) != 0) {
      return entryErrno(path, "chown", errno);
    }
    return okResult();
  }

  template <typename SetFn>
  Result<void> applyXattrs(const std::string& path, archive_entry* entry, SetFn set) {
    if (archive_entry_xattr_reset(entry) == 0) return okResult();
    const char* key = nullptr;
    const void* value = nullptr;
    size_t len = 0;
    while (archive_entry_xattr_next(entry, &key, &value, &len) == ARCHIVE_OK) {
      if (key == nullptr) continue;
      std::string_view k(key);
      if (k.starts_with("trusted.overlay.")) {
        log::v(1, "dropping overlayfs xattr from layer", {{"path", path}, {"xattr", k}});
        continue;
      }
      if (set(key, value, len) == 0) continue;
      int err = errno;
      if (err == ENOTSUP || err == EPERM) continue;  // not supported here / not allowed to us
      if (err == ENOSPC) return bad(path, "xattr " + std::string(k) + " does not fit");
      return entryErrno(path, "set xattr " + std::string(k), err);
    }
    return okResult();
  }

  static void entryTimes(archive_entry* entry, struct timespec times[2]) {
    times[1].tv_sec = archive_entry_mtime(entry);
    times[1].tv_nsec = archive_entry_mtime_nsec(entry);
    if (archive_entry_atime_is_set(entry)) {
      times[0].tv_sec = archive_entry_atime(entry);
      times[0].tv_nsec = archive_entry_atime_nsec(entry);
    } else {
      times[0] = times[1];
    }
    for (int i = 0; i < 2; ++i) {
      if (times[i].tv_nsec < 0 || times[i].tv_nsec > 999999999) times[i].tv_nsec = 0;
    }
  }

  Result<void> setDirectoryTimes() {
    parent_.reset();
    parentPath_.clear();
    for (const DirectoryTimes& d : directoryTimes_) {
      UniqueFd fd = tree::openDir(rootFd_, d.path);
      if (!fd) continue;  // replaced by a later entry, which set its own times
      if (::futimens(fd.get(), d.times) != 0) return entryErrno(d.path, "set times", errno);
    }
    return okResult();
  }

  LayerStream& stream_;
  int rootFd_;
  mode_t umask_;
  bool root_;
  struct archive* archive_ = nullptr;
  std::unique_ptr<Error> streamError_;
  UniqueFd parent_;
  std::string parentPath_;
  std::vector<DirectoryTimes> directoryTimes_;
};

}  // namespace

Result<std::string> unpackLayer(const std::string& blobPath, const std::string& dir) {
  UniqueFd blob(::open(blobPath.c_str(), O_RDONLY | O_CLOEXEC));
  if (!blob) return Error::fromErrno("open " + blobPath, errno);
  UniqueFd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Error::fromErrno("open " + dir, errno);
  // A failed unpack empties the directory: it must hold nothing of anyone else's.
  std::error_code ec;
  if (std::filesystem::directory_iterator(dir, ec) != std::filesystem::directory_iterator() || ec) {
    return Error(ErrorCode::kInvalid, "cannot unpack a layer into " + dir + ": not empty");
  }
  std::unique_ptr<LayerStream> stream = TRY(LayerStream::open(std::move(blob)));
  Unpacker unpacker(*stream, root.get());
  Result<void> done = unpacker.run();
  if (!done) {
    Result<void> cleaned = tree::removeContents(root.get());
    if (!cleaned) {
      log::error("cannot clean up a failed layer",
                 {{"dir", dir}, {"error", cleaned.error().message()}});
    }
    return std::move(done).error().context(blobPath);
  }
  return stream->digest();
}

}  // namespace nave::runtime
