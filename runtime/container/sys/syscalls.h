// The system calls the container mechanics use, each returning a Result with errno and
// context captured where the call failed. Internal to runtime/container/sys.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.h"
#include "common/fs.h"
#include "common/result.h"

namespace nave::runtime::sys {

// mount(2); `data` may be empty. The error names the target.
Result<void> mountFs(const std::string& source, const std::string& target, const char* fstype,
                     unsigned long flags, const std::string& data = "");
Result<void> unmount(const std::string& target, int flags);

// Reads a whole (small or procfs/sysfs) file: common/fs.h's.
using nave::readFile;
// Writes `data` with one write(2) to an existing file (cgroup and proc files want that).
Result<void> writeFile(const std::string& path, std::string_view data);
// Creates or truncates a regular file with `data`.
Result<void> createFile(const std::string& path, std::string_view data, mode_t mode = 0644);

// Opens `path` relative to `rootFd` with every component (symlinks included) resolved inside
// the root, as if rootFd were "/" (openat2 RESOLVE_IN_ROOT; no magic links).
Result<UniqueFd> openInRoot(int rootFd, const std::string& path, int flags, mode_t mode = 0);
// Creates `path` and its missing parents below `rootFd` (resolved as openInRoot does) and
// returns an O_PATH descriptor of the directory.
Result<UniqueFd> mkdirAllInRoot(int rootFd, const std::string& path, mode_t mode);
// "/proc/self/fd/N": the path through which mount(2) reaches what an O_PATH fd designates.
std::string fdPath(int fd);

// The mount point entries of /proc/self/mountinfo.
struct MountInfo {
  int id = 0, parentId = 0;
  std::string device;      // "major:minor"
  std::string root;        // the mounted subtree of the filesystem
  std::string mountPoint;
  std::string options;     // per-mount options
  std::string propagation;  // the optional fields: "shared:1 master:2", empty when private
  std::string fsType;
  std::string source;
  std::string superOptions;
};
Result<std::vector<MountInfo>> readMountInfo(const std::string& path = "/proc/self/mountinfo");
// Whether `path` (absolute, normalised) is a mount point in the caller's mount namespace.
bool isMountPoint(const std::string& path);

// clone(2) without a new stack, like fork(), with the given flags (namespaces,
// CLONE_PARENT). Only from a single-threaded process: the child shares the caller's memory
// state as of the call and no atfork handlers run. Returns the child's pid or -errno.
pid_t cloneProcess(unsigned long flags);

// waitpid retrying on EINTR; the status, or -1 when the pid is not our child (e.g. reaped
// elsewhere).
int waitForPid(pid_t pid);

// Resets every signal handler to its default and unblocks all signals (a child about to
// become someone else's process).
void resetSignals();

// Closes every descriptor but `keep` (negative entries ignored): a forked child drops what
// it inherited from a possibly busy caller.
void closeAllExcept(std::vector<int> keep);

// Reads/writes all bytes, retrying on EINTR and short transfers.
bool readFull(int fd, void* buf, size_t len);
bool writeFull(int fd, const void* buf, size_t len);

// errno text in Go's spelling (lowercase), for messages that mimic runc's.
std::string errnoText(int err);

}  // namespace nave::runtime::sys
