// The system calls the pod's volumes and files are made with, each returning a Result with
// errno and context captured where the call failed. Internal to runtime/agent/pod.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/fd.h"
#include "common/result.h"

namespace nave::agent::hostfs {

// mkdir -p: creates `path` and its missing parents with `mode` (the umask applies to parents;
// the last directory gets exactly `mode` when it is created here).
Result<void> makeDirs(const std::string& path, mode_t mode);

// Reads a whole file of at most `limit` bytes (kTooLarge beyond).
Result<std::string> readFile(const std::string& path, size_t limit = 10 << 20);

// Creates or rewrites `path` in place (same inode: bind mounts of it see the change) with
// exactly `mode`, unless it already holds `data`. Returns whether it wrote.
Result<bool> writeFileIfChanged(const std::string& path, std::string_view data, mode_t mode);

// Resolves `relPath` below the directory `rootFd` and returns an O_PATH descriptor of what it
// names. Symlinks are followed as long as they stay below the root; an absolute symlink, a
// ".." leading out of the root, or a magic link is refused (kForbidden, "... escapes ...").
// Uses openat2(RESOLVE_BENEATH) and, on kernels without it, a walk that opens one component
// at a time with O_NOFOLLOW and follows relative links by hand.
Result<UniqueFd> openBeneath(int rootFd, const std::string& relPath);
// As openBeneath, creating missing directories (each with exactly `mode`) on the way.
Result<UniqueFd> makeDirsBeneath(int rootFd, const std::string& relPath, mode_t mode);
// Tests: make openBeneath use the component walk even where openat2 exists.
void forceComponentWalkForTesting(bool force);

// "/proc/self/fd/N": the path through which mount(2) and chmod(2) reach what an O_PATH
// descriptor designates.
std::string fdPath(int fd);

// mount -t tmpfs tmpfs TARGET [-o size=SIZE] (no size when sizeBytes <= 0).
Result<void> mountTmpfs(const std::string& target, int64_t sizeBytes);
// Bind-mounts what `fd` designates (an O_PATH descriptor will do) on `target`.
Result<void> bindMountFd(int fd, const std::string& target);
// Unmounts `target`; a busy mount is detached lazily. Not a mount point is fine.
Result<void> unmount(const std::string& target);
// Whether `path` is the root of a mount (statx STATX_ATTR_MOUNT_ROOT, else mountinfo).
Result<bool> isMountPoint(const std::string& path);
// Whether `path` is a mount point of a tmpfs.
Result<bool> isTmpfsMountPoint(const std::string& path);
// The mount points at or below `dir` in this mount namespace, innermost and most recent
// first (so unmounting them in order works), each as often as something is mounted there.
Result<std::vector<std::string>> mountPointsUnder(const std::string& dir);
// mountinfo's octal escapes (\040 for a space, ...) undone.
std::string unescapeMountInfo(std::string_view field);

// The kubelet's SetVolumeOwnership: every file and directory below (and including) `dir` gets
// group `gid` and the group permission bits rw (read-only volumes: r), directories also x
// and the setgid bit; symlinks get the group only. The walk opens one component at a time
// with O_NOFOLLOW, so a tree changed meanwhile cannot lead it out of `dir`. Failures to
// chown/chmod one entry are logged and skipped, as the kubelet does.
Result<void> setVolumeOwnership(const std::string& dir, gid_t gid, bool readOnly);

}  // namespace nave::agent::hostfs
