// The on-disk state of one container (ROOT/ID/state.json) and the small file and process
// helpers that the shim and ContainerRuntime share.
//
// Writers: the shim is the only writer while it lives (created -> running -> exited). A client
// writes state.json only after it has seen the shim dead without an exit record, under the
// container's lock (ContainerLock), to record the loss.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "common/fd.h"
#include "common/result.h"

namespace nave::runtime {

inline constexpr const char* kStateCreated = "created";
inline constexpr const char* kStateRunning = "running";
inline constexpr const char* kStateExited = "exited";

struct ShimState {
  std::string state = kStateCreated;
  int shimPid = 0;
  uint64_t shimStartTime = 0;  // /proc/PID/stat starttime, against pid reuse
  int pid = 0;                 // the container's init (host pid namespace)
  uint64_t pidStartTime = 0;
  int64_t createdAt = 0, startedAt = 0, finishedAt = 0;  // Unix nanoseconds
  int exitCode = 0;
  int signal = 0;  // the signal that killed the init, 0 when it exited
  bool oomKilled = false;
  bool cgroupsRemoved = false;  // the shim removed the container's cgroups after its exit
  std::string reason, message;
  std::string logPath;
  std::string cgroupParent;
};

// Reads ROOT/ID/state.json (kNotFound when absent, kInternal when unreadable).
Result<ShimState> readShimState(const std::string& path);
std::string shimStateToJson(const ShimState& state);  // one line
// Writes atomically (a temporary file renamed over `path`).
Result<void> writeShimState(const std::string& path, const ShimState& state);

Result<std::string> readWholeFile(const std::string& path);
Result<void> writeFileAtomic(const std::string& path, const std::string& data);

// The start time (clock ticks since boot, field 22 of /proc/PID/stat) of a process, or nullopt
// when it does not exist (zombies count as gone).
std::optional<uint64_t> processStartTime(pid_t pid);
// Whether `pid` is (still) the process that started at `startTime`.
bool processIsAlive(pid_t pid, uint64_t startTime);

int64_t unixNanosNow();

// pidfd_open(2) and pidfd_send_signal(2) (glibc 2.36's <sys/pidfd.h> lacks C++ linkage).
int pidfdOpen(pid_t pid);
int pidfdSendSignal(int pidfd, int signal);

// An exclusive lock on one container (flock on ROOT/ID/lock), held while its state is created,
// repaired or removed. Works across threads (each lock opens its own file description) and
// processes.
class ContainerLock {
 public:
  // Blocks until acquired. kNotFound when the container's directory is gone (also when it was
  // removed while we waited).
  static Result<ContainerLock> acquire(const std::string& dir);
  // Does not block: nullopt when another holder has it.
  static Result<std::optional<ContainerLock>> tryAcquire(const std::string& dir);

 private:
  explicit ContainerLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace nave::runtime
