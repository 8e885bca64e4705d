#include "runtime/agent/pod/atomic_writer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <ctime>
#include <set>
#include <vector>

#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"
#include "runtime/agent/pod/host_fs.h"

namespace nave::agent {
namespace {

constexpr const char* kDataDirName = "..data";
constexpr const char* kNewDataDirName = "..data_tmp";
constexpr size_t kMaxFileNameLength = 255;
constexpr size_t kMaxPathLength = 4096;

Error invalidPath(const std::string& message) {
  return Error(ErrorCode::kInvalid, message);
}

// The payload path rules of the kubelet's validatePath.
Result<void> validatePath(const std::string& path) {
  if (path.empty()) return invalidPath("invalid path: must not be empty: \"\"");
  if (path[0] == '/') return invalidPath("invalid path: must be relative path: " + path);
  if (path.size() > kMaxPathLength) {
    return invalidPath("invalid path: must be less than or equal to " +
                       std::to_string(kMaxPathLength) + " characters");
  }
  std::vector<std::string> items = split(path, '/');
  for (const std::string& item : items) {
    if (item == "..") return invalidPath("invalid path: must not contain '..': " + path);
    if (item.size() > kMaxFileNameLength) {
      return invalidPath("invalid path: filenames must be less than or equal to " +
                         std::to_string(kMaxFileNameLength) + " characters");
    }
  }
  if (items[0].starts_with("..") && items[0].size() > 2) {
    return invalidPath("invalid path: must not start with '..': " + path);
  }
  if (path.find('\0') != std::string::npos) return invalidPath("invalid path: contains NUL");
  return {};
}

// path.Clean for a relative path without "..": no empty or "." components.
std::string cleanPath(const std::string& path) {
  std::vector<std::string> kept;
  for (std::string& part : split(path, '/')) {
    if (!part.empty() && part != ".") kept.push_back(std::move(part));
  }
  return kept.empty() ? "." : join(kept, "/");
}

bool pathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// Every file and directory below `dir`, relative to it; symlinks are not followed.
Result<void> listTree(const std::string& dir, const std::string& prefix,
                      std::set<std::string>& out) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Error::fromErrno("list " + dir, errno);
  std::vector<std::string> subdirs;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string rel = prefix.empty() ? name : prefix + "/" + name;
    out.insert(rel);
    struct stat st;
    if (::fstatat(::dirfd(d), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
      subdirs.push_back(name);
    }
  }
  ::closedir(d);
  for (const std::string& sub : subdirs) {
    TRY(listTree(dir + "/" + sub, prefix.empty() ? sub : prefix + "/" + sub, out));
  }
  return {};
}

// Whether some file of the payload is missing from `tsDir` or holds other content.
bool payloadDiffers(const Payload& payload, const std::string& tsDir) {
  for (const auto& [path, file] : payload) {
    std::string onDisk = tsDir + "/" + path;
    if (!pathExists(onDisk)) return true;
    Result<std::string> content = hostfs::readFile(onDisk, file.data.size() + 1);
    if (!content.ok() || *content != file.data) return true;
  }
  return false;
}

Result<std::string> newTimestampDir(const std::string& targetDir) {
  std::time_t now = std::time(nullptr);
  std::tm utc;
  ::gmtime_r(&now, &utc);
  char stamp[64];
  std::strftime(stamp, sizeof stamp, "..%Y_%m_%d_%H_%M_%S.", &utc);
  std::string templ = targetDir + "/" + stamp + "XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    return Error::fromErrno("create a timestamped directory in " + targetDir, errno);
  }
  // Group and others must be able to traverse it, whatever the umask.
  if (::chmod(templ.c_str(), 0755) != 0) {
    int err = errno;
    (void)removeTree(templ);
    return Error::fromErrno("chmod " + templ, err);
  }
  return templ;
}

Result<void> writePayloadToDir(const Payload& payload, const std::string& dir) {
  for (const auto& [path, file] : payload) {
    std::string full = dir + "/" + path;
    size_t slash = full.find_last_of('/');
    TRY(hostfs::makeDirs(full.substr(0, slash), 0755));
    UniqueFd fd(::open(full.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                       file.mode & 07777));
    if (!fd) return Error::fromErrno("write " + full, errno);
    size_t done = 0;
    while (done < file.data.size()) {
      ssize_t n = ::write(fd.get(), file.data.data() + done, file.data.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Error::fromErrno("write " + full, errno);
      }
      done += static_cast<size_t>(n);
    }
    // The umask trimmed the mode open(2) applied.
    if (::fchmod(fd.get(), file.mode & 07777) != 0) return Error::fromErrno("chmod " + full, errno);
  }
  return {};
}

// Timestamped directories other than `current` (left by writes that did not finish).
void removeStaleTimestampDirs(const std::string& targetDir, const std::string& current) {
  DIR* d = ::opendir(targetDir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> stale;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (!name.starts_with("..") || name == "." || name == ".." || name == kDataDirName ||
        name == kNewDataDirName || name == current) {
      continue;
    }
    struct stat st;
    if (::fstatat(::dirfd(d), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
      stale.push_back(name);
    }
  }
  ::closedir(d);
  for (const std::string& name : stale) {
    Result<void> r = removeTree(targetDir + "/" + name);
    if (!r.ok())
      log::warning("cannot remove a stale data directory", {{"error", r.error().message()}});
  }
}

Result<std::string> readDataLink(const std::string& dataDirPath) {
  char target[PATH_MAX];
  ssize_t n = ::readlink(dataDirPath.c_str(), target, sizeof target - 1);
  if (n < 0) {
    if (errno == ENOENT) return std::string();
    return Error::fromErrno("read link " + dataDirPath, errno);
  }
  std::string link(target, static_cast<size_t>(n));
  if (link.empty() || link.find('/') != std::string::npos || !link.starts_with("..")) {
    return Error(ErrorCode::kInternal,
                 dataDirPath + " points at \"" + link + "\", not at a timestamped directory");
  }
  return link;
}

}  // namespace

Result<bool> AtomicWriter::write(const Payload& payload,
                                 const std::function<Result<void>()>& setPerms) {
  Payload clean;
  for (const auto& [path, file] : payload) {
    TRY(validatePath(path));
    std::string cleaned = cleanPath(path);
    if (cleaned == ".") return invalidPath("invalid path: names the directory itself: " + path);
    clean[cleaned] = file;
  }

  std::string dataDirPath = targetDir_ + "/" + kDataDirName;
  std::string oldTsDir = TRY(readDataLink(dataDirPath));
  std::string oldTsPath = targetDir_ + "/" + oldTsDir;

  std::set<std::string> pathsToRemove;
  bool shouldWrite = true;
  if (!oldTsDir.empty()) {
    std::set<std::string> current;
    TRY(listTree(oldTsPath, "", current));
    std::set<std::string> wanted;  // the payload's files and the directories holding them
    for (const auto& [path, file] : clean) {
      for (std::string sub = path; !sub.empty();) {
        wanted.insert(sub);
        size_t slash = sub.find_last_of('/');
        sub = slash == std::string::npos ? "" : sub.substr(0, slash);
      }
    }
    for (const std::string& p : current) {
      if (wanted.count(p) == 0) pathsToRemove.insert(p);
    }
    if (!payloadDiffers(clean, oldTsPath) && pathsToRemove.empty()) {
      // Up to date; only the visible symlinks are checked below.
      shouldWrite = false;
      oldTsDir.clear();
    }
  }

  std::string currentTsDir = oldTsDir;
  if (shouldWrite) {
    std::string tsDir = TRY(newTimestampDir(targetDir_));
    std::string tsName = tsDir.substr(tsDir.find_last_of('/') + 1);
    auto discard = [&](Error e) {
      (void)removeTree(tsDir);
      return e;
    };
    if (Result<void> r = writePayloadToDir(clean, tsDir); !r.ok()) return discard(r.error());
    if (setPerms) {
      if (Result<void> r = setPerms(); !r.ok()) return discard(r.error());
    }
    std::string newDataDirPath = targetDir_ + "/" + kNewDataDirName;
    // A ..data_tmp left by an interrupted write would make symlink(2) fail forever.
    if (::unlink(newDataDirPath.c_str()) != 0 && errno != ENOENT) {
      return discard(Error::fromErrno("remove " + newDataDirPath, errno));
    }
    if (::symlink(tsName.c_str(), newDataDirPath.c_str()) != 0) {
      return discard(Error::fromErrno("create symlink " + newDataDirPath, errno));
    }
    if (::rename(newDataDirPath.c_str(), dataDirPath.c_str()) != 0) {
      int err = errno;
      ::unlink(newDataDirPath.c_str());
      return discard(Error::fromErrno("rename " + newDataDirPath + " to " + dataDirPath, err));
    }
    currentTsDir = tsName;
  } else {
    currentTsDir = TRY(readDataLink(dataDirPath));
  }

  // The user-visible names: a symlink into ..data per top-level name of the payload.
  for (const auto& [path, file] : clean) {
    std::string top = path.substr(0, path.find('/'));
    std::string visible = targetDir_ + "/" + top;
    char buf[PATH_MAX];
    if (::readlink(visible.c_str(), buf, sizeof buf) < 0 && errno == ENOENT) {
      std::string target = std::string(kDataDirName) + "/" + top;
      if (::symlink(target.c_str(), visible.c_str()) != 0 && errno != EEXIST) {
        return Error::fromErrno("create symlink " + visible, errno);
      }
    }
  }

  // Names that left the payload: only the top-level symlinks are visible.
  Result<void> removal;
  for (const std::string& p : pathsToRemove) {
    if (p.find('/') != std::string::npos) continue;
    std::string visible = targetDir_ + "/" + p;
    if (::unlink(visible.c_str()) != 0 && errno != ENOENT &&
        !(errno == EISDIR && ::rmdir(visible.c_str()) == 0)) {
      removal = Error::fromErrno("remove " + visible, errno);
    }
  }
  if (!removal.ok()) return removal.error();

  if (!oldTsDir.empty()) TRY(removeTree(oldTsPath));
  removeStaleTimestampDirs(targetDir_, currentTsDir);
  return shouldWrite;
}

}  // namespace nave::agent
