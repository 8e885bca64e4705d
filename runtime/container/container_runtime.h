// ContainerRuntime: containers and pod sandboxes on this node, as the agent needs them (the
// part of containerd + runc that nave owns).
//
// Every container runs under its own supervisor process, `nave shim` (the same binary
// re-executed, detached into its own session), which launches the container, owns its stdio
// and log file (CRI format with size-based rotation), waits for it, and records its exit
// status. Containers therefore keep running when the agent, the server or the CLI that created
// them exits, and are found again by the next ContainerRuntime::open() on the same root.
//
// State lives under ROOT (DATA/agent/run/containers, on a tmpfs):
//   ROOT/ID/spec.json      the ContainerSpec as given
//   ROOT/ID/state.json     shim pid, container pid (with their start times, against pid reuse),
//                          timestamps, exit status once exited (written atomically)
//   ROOT/ID/shim.sock      the shim's control socket (start, kill, status)
//   ROOT/sandboxes/ID/     namespace files of a pod sandbox (bind mounts of /proc/PID/ns/*), so
//                          the sandbox needs no long-running process
//
// Thread-safety: all methods may be called concurrently, also from several processes sharing
// ROOT (the server's agent and the `nave` CLI): each container's state has a lock file.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/result.h"

namespace nave::runtime {

struct Mount {
  std::string source;       // host path (bind), or the filesystem source
  std::string destination;  // absolute path inside the container
  std::string type;         // "bind", "tmpfs", ...
  std::vector<std::string> options;  // "rbind", "ro", "nosuid", "size=64m", ...
};

struct Resources {
  int64_t memoryLimitBytes = 0;  // 0: no limit
  int64_t cpuShares = 0;         // cgroup v1 cpu.shares (2-262144); 0: default. v2: converted to weight
  int64_t cpuQuotaMicros = 0;    // 0: no quota
  int64_t cpuPeriodMicros = 100000;
  int64_t pidsLimit = 0;         // 0: no limit
};

struct Rlimit {
  std::string type;  // "RLIMIT_NOFILE", ...
  uint64_t soft = 0, hard = 0;
};

enum class SeccompMode { kRuntimeDefault, kUnconfined, kLocalhost };

struct SecurityOptions {
  bool privileged = false;  // all capabilities, no seccomp, no masked paths, devices visible
  std::vector<std::string> capAdd;   // "NET_ADMIN" (or "CAP_NET_ADMIN"), "ALL"
  std::vector<std::string> capDrop;  // applied after the default set; "ALL" drops everything
  bool noNewPrivileges = true;
  SeccompMode seccomp = SeccompMode::kRuntimeDefault;
  std::string seccompProfilePath;  // kLocalhost: an OCI/Docker JSON seccomp profile
  bool readonlyRootfs = false;
};

struct ProcessSpec {
  std::vector<std::string> args;  // argv; args[0] is looked up in PATH inside the container
  std::vector<std::string> env;   // "K=V"; PATH defaults to the standard one when absent
  std::string cwd = "/";
  // The user: "uid", "uid:gid", "name", "name:group", resolved against the container's
  // /etc/passwd and /etc/group (supplementary groups from /etc/group); empty = root.
  std::string user;
  std::vector<uint32_t> extraGroups;  // appended supplementary groups (fsGroup, supplementalGroups)
  bool tty = false;
  bool stdin = false;  // keep stdin open (attach/exec)
  bool stdinOnce = false;  // the first attached client that ends stdin closes it for good
  std::vector<Rlimit> rlimits;  // empty: RLIMIT_NOFILE 1048576 (soft and hard), as containerd
};

struct ContainerSpec {
  std::string id;      // [a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}
  std::string rootfs;  // the mounted root filesystem (Snapshotter::mountRootfs)
  ProcessSpec process;
  std::string hostname;   // own UTS namespace only; empty: the id's first 12 characters
  std::string sandboxId;  // join this sandbox's namespaces (net, ipc, uts); empty: new ones
                          // (with an own network namespace holding only loopback)
  std::vector<Mount> mounts;  // on top of the defaults (/proc, /dev, /dev/pts, /dev/shm,
                              // /dev/mqueue, /sys)
  Resources resources;
  std::string cgroupParent;  // relative, e.g. "nave/pod-UID"; empty: "nave"
  SecurityOptions security;
  std::string logPath;  // CRI-format log; empty: ROOT/ID/container.log
  int64_t logMaxBytes = 10 * 1024 * 1024;
  int logMaxFiles = 5;
  int stopSignal = 15;  // SIGTERM
  std::map<std::string, std::string> labels;
};

enum class ContainerState { kCreated, kRunning, kExited, kUnknown };

struct ContainerStatus {
  std::string id;
  ContainerState state = ContainerState::kUnknown;
  int pid = 0;  // the container's init in the host pid namespace (running only)
  int exitCode = 0;
  bool oomKilled = false;
  std::string reason;   // exited: "Completed" (0), "Error", "OOMKilled"
  std::string message;  // e.g. the error that kept the process from starting
  std::chrono::system_clock::time_point createdAt, startedAt, finishedAt;
  std::string logPath;
  std::map<std::string, std::string> labels;
};

struct SandboxSpec {
  std::string id;
  std::string hostname;
  bool hostNetwork = false;  // use the host's network namespace (no file of our own)
  bool hostIpc = false;
  std::map<std::string, std::string> labels;
};

struct SandboxStatus {
  std::string id;
  std::string netnsPath;  // the bind-mounted namespace file (empty with hostNetwork)
  std::string ipcnsPath;
  std::string utsnsPath;
  bool hostNetwork = false;
  std::map<std::string, std::string> labels;
  std::chrono::system_clock::time_point createdAt;
};

// The caller's ends of an exec's stdio (ignored with process.tty: a pty is used instead).
struct ExecIo {
  int stdinFd = -1;  // -1: /dev/null
  int stdoutFd = -1;
  int stderrFd = -1;
};

// A connection to a running container's main process (ContainerRuntime::attach): its output
// from now on goes to the given descriptors, and the stdin descriptor's input to the process.
class AttachSession {
 public:
  virtual ~AttachSession() = default;  // detaches; the container keeps running
  virtual Result<void> resize(unsigned rows, unsigned columns) = 0;
  // Blocks until the container exits (its exit code) or the session ends (kUnavailable).
  virtual Result<int> wait() = 0;
};

// A process started by ContainerRuntime::exec.
class ExecProcess {
 public:
  virtual ~ExecProcess() = default;  // kills the process if it still runs
  // The pty master (tty exec only; -1 otherwise): the caller copies between it and the user.
  virtual int terminal() const = 0;
  virtual Result<void> resize(unsigned rows, unsigned columns) = 0;
  virtual Result<void> kill(int signal) = 0;
  // Blocks until the process exits: its exit code (128+signal when killed).
  virtual Result<int> wait() = 0;
};

class ContainerRuntime {
 public:
  // `root` is DATA/agent/run/containers; `shimBinary` is the nave executable (/proc/self/exe).
  // Finds containers and sandboxes left by earlier processes.
  static Result<std::unique_ptr<ContainerRuntime>> open(const std::string& root,
                                                        const std::string& shimBinary);
  virtual ~ContainerRuntime() = default;

  virtual Result<SandboxStatus> createSandbox(const SandboxSpec& spec) = 0;
  // Fails (kConflict) while containers of the sandbox exist; missing is not an error.
  virtual Result<void> removeSandbox(const std::string& id) = 0;
  virtual std::vector<SandboxStatus> listSandboxes() = 0;

  // Starts the shim, which sets the container up (namespaces, mounts, cgroups, security) and
  // holds it just before exec until start(). Errors in the setup are returned here.
  virtual Result<ContainerStatus> create(const ContainerSpec& spec) = 0;
  virtual Result<void> start(const std::string& id) = 0;
  virtual Result<void> kill(const std::string& id, int signal) = 0;
  // stopSignal, then SIGKILL after `grace`; returns the exited status.
  virtual Result<ContainerStatus> stop(const std::string& id, std::chrono::seconds grace) = 0;
  // Blocks until exited or timeout (kTimeout).
  virtual Result<ContainerStatus> wait(const std::string& id, std::chrono::milliseconds timeout) = 0;
  virtual Result<ContainerStatus> status(const std::string& id) = 0;
  virtual std::vector<ContainerStatus> list() = 0;
  // A descriptor that becomes readable (or hangs up) once the container has exited, so that
  // one poll loop can watch many containers. Readable at once when it already has.
  virtual Result<UniqueFd> exitNotifier(const std::string& id) = 0;
  // Removes an exited container's state, log, cgroups and shim (kConflict while running).
  virtual Result<void> remove(const std::string& id) = 0;

  // Starts a process in a running container: its namespaces and cgroup, the container's
  // security settings (capabilities, seccomp, no_new_privs; its user unless process.user is set).
  virtual Result<std::unique_ptr<ExecProcess>> exec(const std::string& id,
                                                    const ProcessSpec& process, ExecIo io) = 0;
  // Attaches to the container's main process (with a tty, output is the terminal's and goes
  // to stdoutFd). stdinFd -1: output only. The descriptors are used until the session ends.
  virtual Result<std::unique_ptr<AttachSession>> attach(const std::string& id, ExecIo io) = 0;
};

// The entry point of `nave shim ARGS...` (the supervisor process); returns the exit status.
int shimMain(const std::vector<std::string>& args);

}  // namespace nave::runtime
