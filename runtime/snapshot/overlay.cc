#include "runtime/snapshot/overlay.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "common/fd.h"

namespace nave::runtime::overlay {
namespace {

// The messages the kernel logged on a filesystem context ("e overlay: ..."), for errors.
std::string contextLog(int fsFd) {
  std::string out;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(fsFd, buf, sizeof buf - 1);
    if (n <= 0) break;
    if (!out.empty()) out += "; ";
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Error mountError(std::string_view what, int err, int fsFd) {
  Error e = Error::fromErrno(what, err);
  std::string log = contextLog(fsFd);
  if (!log.empty()) e.context("overlay (" + log + ")");
  return e;
}

enum class LayerMode { kFd, kPath };

std::atomic<MountMethod> firstMethod{MountMethod::kLayerFds};

// One attempt with the new mount API. Sets `unsupported` when the kernel does not take layers
// this way: no fsopen (before 5.2), or EINVAL for a layer key (kFd before 6.13, kPath before
// 6.8).
Result<UniqueFd> configure(LayerMode mode, const std::vector<std::string>& lowers,
                           const std::string& upper, const std::string& work, bool& unsupported) {
  unsupported = false;
  UniqueFd fs(::fsopen("overlay", FSOPEN_CLOEXEC));
  if (!fs) {
    unsupported = errno == ENOSYS;
    return Error::fromErrno("fsopen overlay", errno);
  }
  auto setDir = [&](const char* key, const std::string& path) -> Result<void> {
    int rc;
    if (mode == LayerMode::kFd) {
      UniqueFd dir(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!dir) return Error::fromErrno("open " + path, errno);
      rc = ::fsconfig(fs.get(), FSCONFIG_SET_FD, key, nullptr, dir.get());
    } else {
      rc = ::fsconfig(fs.get(), FSCONFIG_SET_STRING, key, path.c_str(), 0);
    }
    if (rc != 0) {
      unsupported = errno == EINVAL;
      return mountError(std::string("fsconfig ") + key + " " + path, errno, fs.get());
    }
    return okResult();
  };
  TRY(setDir("upperdir", upper));
  TRY(setDir("workdir", work));
  for (const std::string& lower : lowers) TRY(setDir("lowerdir+", lower));
  if (::fsconfig(fs.get(), FSCONFIG_SET_STRING, "index", "off", 0) != 0) {
    return mountError("fsconfig index=off", errno, fs.get());
  }
  if (::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    return mountError("create overlay", errno, fs.get());
  }
  UniqueFd mnt(::fsmount(fs.get(), FSMOUNT_CLOEXEC, 0));
  if (!mnt) return mountError("fsmount overlay", errno, fs.get());
  return mnt;
}

std::string escapeOption(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == '\\' || c == ':' || c == ',') out += '\\';
    out += c;
  }
  return out;
}

Result<void> legacyMount(const std::vector<std::string>& lowers, const std::string& upper,
                         const std::string& work, const std::string& target) {
  std::string options = "lowerdir=";
  for (size_t i = 0; i < lowers.size(); ++i) {
    if (i > 0) options += ':';
    options += escapeOption(lowers[i]);
  }
  options += ",upperdir=" + escapeOption(upper) + ",workdir=" + escapeOption(work) + ",index=off";
  if (options.size() >= static_cast<size_t>(::sysconf(_SC_PAGESIZE))) {
    return Error(ErrorCode::kInternal, "overlay options exceed a page (" +
                                           std::to_string(lowers.size()) +
                                           " layers) and this kernel lacks lowerdir+");
  }
  if (::mount("overlay", target.c_str(), "overlay", 0, options.c_str()) != 0) {
    return Error::fromErrno("mount overlay", errno).context(target);
  }
  return okResult();
}

}  // namespace

void startWithMethodForTesting(MountMethod method) {
  firstMethod = method;
}

Result<void> mount(const std::vector<std::string>& lowers, const std::string& upper,
                   const std::string& work, const std::string& target) {
  MountMethod method = firstMethod.load();
  bool unsupported = true;
  Result<UniqueFd> mnt = Error(ErrorCode::kInternal, "no mount method");
  if (method == MountMethod::kLayerFds) {
    mnt = configure(LayerMode::kFd, lowers, upper, work, unsupported);
  }
  if (!mnt && unsupported && method != MountMethod::kOptionString) {
    mnt = configure(LayerMode::kPath, lowers, upper, work, unsupported);
  }
  if (!mnt && unsupported) return legacyMount(lowers, upper, work, target);
  if (!mnt) return std::move(mnt).error().context(target);
  if (::move_mount(mnt->get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
    return Error::fromErrno("move_mount overlay", errno).context(target);
  }
  return okResult();
}

Result<bool> isMountPoint(const std::string& path) {
  struct statx stx = {};
  if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) != 0) {
    return Error::fromErrno("statx " + path, errno);
  }
  if (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) {
    return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
  }
  // Before Linux 5.8: a mount root has another device than its parent (overlay always does).
  struct stat self, parent;
  if (::stat(path.c_str(), &self) != 0 || ::stat((path + "/..").c_str(), &parent) != 0) {
    return Error::fromErrno("stat " + path, errno);
  }
  return self.st_dev != parent.st_dev;
}

Result<void> unmount(const std::string& path) {
  // Stacked mounts come off one at a time; a bounded loop in case one keeps coming back.
  for (int i = 0; i < 64; ++i) {
    if (::umount2(path.c_str(), UMOUNT_NOFOLLOW) == 0) continue;
    if (errno == EINVAL || errno == ENOENT) return okResult();  // not (or no longer) mounted
    if (errno != EBUSY) return Error::fromErrno("umount " + path, errno);
    if (::umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0 && errno != EINVAL) {
      return Error::fromErrno("umount (detach) " + path, errno);
    }
  }
  return Error(ErrorCode::kInternal, "still mounted after 64 unmounts: " + path);
}

}  // namespace nave::runtime::overlay
