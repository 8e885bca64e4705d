#include "runtime/container/sys/rootfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include "common/strings.h"
#include "runtime/container/sys/syscalls.h"

namespace nave::runtime::sys {

namespace {

constexpr unsigned long kProcFlags = MS_NOSUID | MS_NOEXEC | MS_NODEV;
constexpr unsigned long kCgroupFlags = MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RELATIME;

// Mounts onto `dest` inside the root (created as a directory, or as a file when `file`),
// through the descriptor of the resolved mount point so that symlinks in the image cannot
// redirect the mount outside the root.
Result<void> mountInRoot(int rootFd, const std::string& dest, const std::string& source,
                         const char* type, unsigned long flags, const std::string& data,
                         bool file = false) {
  UniqueFd target;
  if (file) {
    size_t slash = dest.rfind('/');
    TRY(mkdirAllInRoot(rootFd, dest.substr(0, slash == std::string::npos ? 0 : slash), 0755));
    // O_NONBLOCK: the image may hold a FIFO there. An existing directory (EISDIR) is left
    // for mount(2) to refuse.
    auto created = openInRoot(rootFd, dest, O_CREAT | O_RDONLY | O_NOCTTY | O_NONBLOCK, 0644);
    auto existing = openInRoot(rootFd, dest, O_PATH);
    if (!existing.ok()) return created.ok() ? std::move(existing).error() : std::move(created).error();
    target = std::move(existing).value();
  } else {
    target = TRY(mkdirAllInRoot(rootFd, dest, 0755));
  }
  auto r = mountFs(source, fdPath(target.get()), type, flags, data);
  if (!r.ok()) return std::move(r).error().context("mount " + dest);
  return {};
}

// The flags of the mount at `path` that a bind remount must repeat (it replaces them all).
unsigned long lockedFlags(const std::string& path) {
  struct statvfs st;
  if (::statvfs(path.c_str(), &st) != 0) return 0;
  unsigned long flags = 0;
  if (st.f_flag & ST_NOSUID) flags |= MS_NOSUID;
  if (st.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (st.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (st.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  if (st.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (st.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  if (st.f_flag & ST_RDONLY) flags |= MS_RDONLY;
  return flags;
}

Result<void> remountInRoot(int rootFd, const std::string& dest, unsigned long flags) {
  // Reopened: a descriptor taken before the mount designates what the mount now covers.
  UniqueFd target = TRY(openInRoot(rootFd, dest, O_PATH));
  std::string path = fdPath(target.get());
  flags |= lockedFlags(path) & ~MS_RDONLY;
  auto r = mountFs("", path, nullptr, MS_BIND | MS_REMOUNT | flags);
  if (!r.ok()) return std::move(r).error().context("remount " + dest);
  return {};
}

Result<void> setRecursiveReadonly(int rootFd, const std::string& dest) {
  UniqueFd target = TRY(openInRoot(rootFd, dest, O_PATH));
  struct mount_attr attr = {};
  attr.attr_set = MOUNT_ATTR_RDONLY;
  if (::mount_setattr(target.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0) {
    return Error::fromErrno("make " + dest + " recursively read-only", errno);
  }
  return {};
}

struct Device {
  const char* name;
  unsigned major, minor;
};
constexpr Device kDevices[] = {
    {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

// A device node in the container's /dev: mknod, or a bind mount of the host's node where
// mknod is not allowed.
// `dest` is the node's path in the container, `name` its last component in `dirFd`.
Result<void> createDevice(int rootFd, int dirFd, const std::string& dest, const std::string& name,
                          mode_t type, dev_t rdev, mode_t perm, uid_t uid, gid_t gid) {
  if (::mknodat(dirFd, name.c_str(), type | perm, rdev) == 0) {
    if (::fchownat(dirFd, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
      return Error::fromErrno("chown " + dest, errno);
    }
    return {};
  }
  if (errno == EEXIST) return {};
  if (errno != EPERM) return Error::fromErrno("mknod " + dest, errno);
  return mountInRoot(rootFd, dest, dest, nullptr, MS_BIND, "", true);
}

// Privileged containers see the host's devices (as Docker's --privileged).
Result<void> copyHostDevices(int rootFd, const std::string& hostDir, const std::string& rel,
                             int depth) {
  DIR* dir = ::opendir(hostDir.c_str());
  if (!dir) return {};
  std::vector<std::string> entries;
  while (dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") entries.push_back(name);
  }
  ::closedir(dir);
  static const char* kSkipped[] = {"pts", "shm", "mqueue", "console", "ptmx", "fd", "core"};
  for (const auto& name : entries) {
    if (depth == 0 && std::find(std::begin(kSkipped), std::end(kSkipped), name) != std::end(kSkipped)) {
      continue;
    }
    std::string host = hostDir + "/" + name;
    struct stat st;
    if (::lstat(host.c_str(), &st) != 0) continue;
    std::string inner = rel + "/" + name;
    if (S_ISDIR(st.st_mode) && depth < 2) {
      TRY(copyHostDevices(rootFd, host, inner, depth + 1));
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      UniqueFd parent = TRY(mkdirAllInRoot(rootFd, "/dev" + rel, 0755));
      TRY(createDevice(rootFd, parent.get(), "/dev" + inner, name, st.st_mode & S_IFMT,
                       st.st_rdev, st.st_mode & 07777, st.st_uid, st.st_gid));
    }
  }
  return {};
}

Result<void> setupDev(int rootFd, const RootfsPlan& plan) {
  TRY(mountInRoot(rootFd, "/dev", "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME,
                  "mode=755,size=65536k"));
  TRY(mountInRoot(rootFd, "/dev/pts", "devpts", "devpts", MS_NOSUID | MS_NOEXEC,
                  "newinstance,ptmxmode=0666,mode=0620,gid=5"));
  TRY(mountInRoot(rootFd, "/dev/shm", "shm", "tmpfs", kProcFlags, "mode=1777,size=65536k"));
  TRY(mountInRoot(rootFd, "/dev/mqueue", "mqueue", "mqueue", kProcFlags, ""));

  UniqueFd dev = TRY(openInRoot(rootFd, "/dev", O_PATH | O_DIRECTORY));
  for (const auto& d : kDevices) {
    TRY(createDevice(rootFd, dev.get(), std::string("/dev/") + d.name, d.name, S_IFCHR,
                     makedev(d.major, d.minor), 0666, 0, 0));
  }
  if (plan.privileged) TRY(copyHostDevices(rootFd, "/dev", "", 0));
  static const std::pair<const char*, const char*> kLinks[] = {
      {"fd", "/proc/self/fd"},         {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
      {"stderr", "/proc/self/fd/2"},   {"ptmx", "pts/ptmx"},         {"core", "/proc/kcore"},
  };
  for (const auto& [name, target] : kLinks) {
    if (std::string_view(name) == "core" && ::access("/proc/kcore", F_OK) != 0) continue;
    if (::symlinkat(target, dev.get(), name) != 0 && errno != EEXIST) {
      return Error::fromErrno(std::string("symlink /dev/") + name, errno);
    }
  }
  if (!plan.consolePath.empty()) {
    TRY(mountInRoot(rootFd, "/dev/console", plan.consolePath, nullptr, MS_BIND, "", true));
  }
  return {};
}

// /sys/fs/cgroup: the container's own cgroups (the cgroup namespace roots them at the
// container's cgroup), read-only unless privileged.
Result<void> setupCgroupMounts(int rootFd, const RootfsPlan& plan) {
  unsigned long ro = plan.privileged ? 0 : MS_RDONLY;
  for (const auto& h : plan.cgroups) {
    if (h.v2 && h.mountPoint == "/sys/fs/cgroup") {
      return mountInRoot(rootFd, "/sys/fs/cgroup", "cgroup", "cgroup2", kCgroupFlags | ro, "");
    }
  }
  if (plan.cgroups.empty()) return {};
  TRY(mountInRoot(rootFd, "/sys/fs/cgroup", "tmpfs", "tmpfs", kProcFlags, "mode=755"));
  for (const auto& h : plan.cgroups) {
    if (!h.name.empty() || (!h.v2 && h.controllers.empty())) continue;
    std::string base = h.mountPoint.substr(h.mountPoint.rfind('/') + 1);
    std::string dest = "/sys/fs/cgroup/" + base;
    if (h.v2) {
      TRY(mountInRoot(rootFd, dest, "cgroup", "cgroup2", kCgroupFlags | ro, ""));
      continue;
    }
    TRY(mountInRoot(rootFd, dest, "cgroup", "cgroup", kCgroupFlags | ro, join(h.controllers, ",")));
    // Co-mounted controllers ("cpu,cpuacct") are also reachable by each name.
    if (base.find(',') != std::string::npos) {
      UniqueFd dir = TRY(openInRoot(rootFd, "/sys/fs/cgroup", O_PATH | O_DIRECTORY));
      for (const auto& c : split(base, ',')) {
        if (::symlinkat(base.c_str(), dir.get(), c.c_str()) != 0 && errno != EEXIST) {
          return Error::fromErrno("symlink /sys/fs/cgroup/" + c, errno);
        }
      }
    }
  }
  if (ro) TRY(remountInRoot(rootFd, "/sys/fs/cgroup", MS_RDONLY));
  return {};
}

Result<void> mountSpecMount(int rootFd, const Mount& m) {
  if (m.destination.empty() || m.destination[0] != '/') {
    return Error(ErrorCode::kInvalid, "mount destination \"" + m.destination + "\" is not absolute");
  }
  MountFlags f = parseMountOptions(m.options);
  bool bind = (f.flags & MS_BIND) || m.type == "bind";
  if (bind) {
    if (m.source.empty() || m.source[0] != '/') {
      return Error(ErrorCode::kInvalid, "bind mount source \"" + m.source + "\" is not absolute");
    }
    struct stat st;
    if (::stat(m.source.c_str(), &st) != 0) {
      return Error::fromErrno("bind mount source " + m.source, errno);
    }
    TRY(mountInRoot(rootFd, m.destination, m.source, nullptr, MS_BIND | (f.flags & MS_REC), "",
                    !S_ISDIR(st.st_mode)));
    unsigned long extra = f.flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
    if (extra != 0) TRY(remountInRoot(rootFd, m.destination, extra));
    if (f.recursiveReadonly || ((f.flags & MS_RDONLY) && (f.flags & MS_REC))) {
      TRY(setRecursiveReadonly(rootFd, m.destination));
    }
  } else {
    std::string source = m.source.empty() ? m.type : m.source;
    TRY(mountInRoot(rootFd, m.destination, source, m.type.c_str(), f.flags, f.data));
  }
  if (f.propagation != 0) {
    UniqueFd target = TRY(openInRoot(rootFd, m.destination, O_PATH));
    TRY(mountFs("", fdPath(target.get()), nullptr, f.propagation));
  }
  return {};
}

Result<void> pivotInto(int rootFd) {
  if (::fchdir(rootFd) != 0) return Error::fromErrno("chdir into the rootfs", errno);
  // pivot_root(".", "."): the old root ends up stacked under the new one, at "." too, and is
  // detached at once (runc's trick; no directory for the old root is needed).
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return Error::fromErrno("pivot_root", errno);
  if (::umount2(".", MNT_DETACH) != 0) return Error::fromErrno("unmount the old root", errno);
  if (::chdir("/") != 0) return Error::fromErrno("chdir /", errno);
  return {};
}

Result<void> maskPath(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return Error::fromErrno("mask " + path, errno);
  }
  if (S_ISDIR(st.st_mode)) {
    return mountFs("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                   "size=0,mode=555");
  }
  return mountFs("/dev/null", path, nullptr, MS_BIND);
}

Result<void> readonlyPath(const std::string& path) {
  auto r = mountFs(path, path, nullptr, MS_BIND | MS_REC);
  if (!r.ok()) {
    if (r.error().is(ErrorCode::kNotFound)) return {};
    return r;
  }
  return mountFs("", path, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | lockedFlags(path));
}

}  // namespace

const std::vector<std::string>& maskedPaths() {
  static const std::vector<std::string> paths = {
      "/proc/acpi",       "/proc/asound",        "/proc/interrupts", "/proc/kcore",
      "/proc/keys",       "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
      "/proc/sched_debug", "/proc/scsi",         "/sys/firmware",    "/sys/devices/virtual/powercap",
  };
  return paths;
}

const std::vector<std::string>& readonlyPaths() {
  static const std::vector<std::string> paths = {
      "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
  };
  return paths;
}

MountFlags parseMountOptions(const std::vector<std::string>& options) {
  struct Flag {
    bool clear;
    unsigned long flag;
  };
  static const std::map<std::string, Flag> kFlags = {
      {"async", {true, MS_SYNCHRONOUS}},  {"atime", {true, MS_NOATIME}},
      {"bind", {false, MS_BIND}},         {"defaults", {false, 0}},
      {"dev", {true, MS_NODEV}},          {"diratime", {true, MS_NODIRATIME}},
      {"dirsync", {false, MS_DIRSYNC}},   {"exec", {true, MS_NOEXEC}},
      {"mand", {false, MS_MANDLOCK}},     {"noatime", {false, MS_NOATIME}},
      {"nodev", {false, MS_NODEV}},       {"nodiratime", {false, MS_NODIRATIME}},
      {"noexec", {false, MS_NOEXEC}},     {"nomand", {true, MS_MANDLOCK}},
      {"norelatime", {true, MS_RELATIME}}, {"nostrictatime", {true, MS_STRICTATIME}},
      {"nosuid", {false, MS_NOSUID}},     {"rbind", {false, MS_BIND | MS_REC}},
      {"relatime", {false, MS_RELATIME}}, {"remount", {false, MS_REMOUNT}},
      {"ro", {false, MS_RDONLY}},         {"rw", {true, MS_RDONLY}},
      {"strictatime", {false, MS_STRICTATIME}}, {"suid", {true, MS_NOSUID}},
      {"sync", {false, MS_SYNCHRONOUS}},
  };
  static const std::map<std::string, unsigned long> kPropagation = {
      {"private", MS_PRIVATE}, {"rprivate", MS_PRIVATE | MS_REC},
      {"shared", MS_SHARED},   {"rshared", MS_SHARED | MS_REC},
      {"slave", MS_SLAVE},     {"rslave", MS_SLAVE | MS_REC},
      {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
  };
  MountFlags out;
  std::vector<std::string> data;
  for (const auto& opt : options) {
    if (auto it = kFlags.find(opt); it != kFlags.end()) {
      if (it->second.clear) {
        out.flags &= ~it->second.flag;
      } else {
        out.flags |= it->second.flag;
      }
    } else if (auto p = kPropagation.find(opt); p != kPropagation.end()) {
      out.propagation = p->second;
    } else if (opt == "rro") {
      out.flags |= MS_RDONLY;
      out.recursiveReadonly = true;
    } else if (!opt.empty()) {
      data.push_back(opt);
    }
  }
  out.data = join(data, ",");
  return out;
}

Result<void> prepareRootfs(const RootfsPlan& plan) {
  // Nothing we mount may propagate back to the host, and pivot_root wants a private parent.
  TRY(mountFs("", "/", nullptr, MS_REC | MS_PRIVATE));
  TRY(mountFs(plan.rootfs, plan.rootfs, nullptr, MS_BIND | MS_REC));
  UniqueFd root(::open(plan.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Error::fromErrno("open rootfs " + plan.rootfs, errno);
  int rootFd = root.get();

  TRY(mountInRoot(rootFd, "/proc", "proc", "proc", kProcFlags, ""));
  TRY(setupDev(rootFd, plan));
  unsigned long sysFlags = kProcFlags | (plan.privileged ? 0 : MS_RDONLY);
  auto sys = mountInRoot(rootFd, "/sys", "sysfs", "sysfs", sysFlags, "");
  if (!sys.ok()) {
    // sysfs can only be mounted by the owner of the network namespace: bind the host's.
    if (!sys.error().is(ErrorCode::kForbidden)) return sys;
    TRY(mountInRoot(rootFd, "/sys", "/sys", nullptr, MS_BIND | MS_REC, ""));
    if (!plan.privileged) TRY(setRecursiveReadonly(rootFd, "/sys"));
  }
  TRY(setupCgroupMounts(rootFd, plan));
  for (const auto& m : plan.mounts) TRY(mountSpecMount(rootFd, m));
  if (!plan.cwd.empty()) TRY(mkdirAllInRoot(rootFd, plan.cwd, 0755));
  return pivotInto(rootFd);
}

Result<void> finishRootfs(const RootfsPlan& plan) {
  if (!plan.privileged) {
    for (const auto& p : readonlyPaths()) TRY(readonlyPath(p));
    for (const auto& p : maskedPaths()) TRY(maskPath(p));
  }
  if (plan.readonlyRootfs) {
    TRY(mountFs("", "/", nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | lockedFlags("/")));
  }
  return {};
}

}  // namespace nave::runtime::sys
