// A container's root filesystem, set up by its init process inside its new mount namespace
// (runc's rootfs_linux.go in spirit): default mounts, device nodes, the spec's mounts,
// pivot_root, then masked and read-only paths.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "runtime/container/container_runtime.h"
#include "runtime/container/sys/cgroups.h"

namespace nave::runtime::sys {

struct RootfsPlan {
  std::string rootfs;  // absolute host path
  std::vector<Mount> mounts;
  bool privileged = false;
  bool readonlyRootfs = false;
  std::string consolePath;  // the pty slave to bind on /dev/console (tty containers)
  std::string cwd;          // created when missing, as runc does
  std::vector<CgroupHierarchy> cgroups;  // the host's hierarchies, for /sys/fs/cgroup
};

// Everything up to and including pivot_root (afterwards "/" is the rootfs and the host's
// mounts are gone from this namespace). Call in a fresh mount namespace only.
Result<void> prepareRootfs(const RootfsPlan& plan);
// After pivot_root: read-only and masked paths (unless privileged) and the read-only root.
Result<void> finishRootfs(const RootfsPlan& plan);

// The paths hidden (/dev/null or an empty read-only tmpfs over them) and made read-only in
// unprivileged containers, as Docker and runc do.
const std::vector<std::string>& maskedPaths();
const std::vector<std::string>& readonlyPaths();

// mount(8)-style options split into mount(2) flags, propagation flags and filesystem data.
struct MountFlags {
  unsigned long flags = 0;        // MS_RDONLY, MS_NOSUID, MS_BIND, MS_REC, ...
  unsigned long propagation = 0;  // MS_PRIVATE, MS_SLAVE, MS_SHARED, MS_UNBINDABLE (| MS_REC)
  bool recursiveReadonly = false;  // "rro": read-only submounts too
  std::string data;                // "size=64m,mode=755"
};
MountFlags parseMountOptions(const std::vector<std::string>& options);

}  // namespace nave::runtime::sys
