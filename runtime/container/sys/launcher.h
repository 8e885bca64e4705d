// Note: the namespace is "sys", not "linux": GNU C++ defines `linux` as a macro.
// The Linux mechanics of a container, below the shim: creating its namespaces, mounts and
// cgroups, applying its security settings, and starting processes in it. The shim
// (runtime/container/shim.cc) and exec (runtime/container/) use this; nothing here knows about
// state directories, logs or the control socket.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/result.h"
#include "runtime/container/container_runtime.h"

namespace nave::runtime::sys {

// The cgroups of one container: v2 where the unified hierarchy has the needed controllers,
// else v1 (memory, cpu + cpuacct, pids; plus freezer/devices/blkio/cpuset membership so that
// nothing escapes accounting). Paths: <controller root>/<parent>/<name>.
class CgroupSet {
 public:
  // Creates the directories and writes the limits. kUnavailable when cgroups are not mounted.
  static Result<std::unique_ptr<CgroupSet>> create(const std::string& parent,
                                                   const std::string& name,
                                                   const Resources& resources);
  // Re-opens the cgroups of an existing container (after a restart of the caller). kNotFound
  // when none of its directories exists.
  static Result<std::unique_ptr<CgroupSet>> open(const std::string& parent, const std::string& name);
  // Removes the (empty) directories of `parent` in every hierarchy, deepest first; busy ones
  // (other containers still inside) are left alone. For a pod's cgroup once its containers
  // are gone.
  static Result<void> removeParent(const std::string& parent);
  virtual ~CgroupSet() = default;

  // Moves `pid` into every directory (changes kernel state only, hence const: the launcher
  // joins through the const pointer of LaunchSpec).
  virtual Result<void> addProcess(pid_t pid) const = 0;
  // Limits device access to what an unprivileged container needs (runc's default allowlist:
  // mknod of any node; null, zero, full, random, urandom, tty, console, ptmx, pts, tun):
  // v1 devices.deny/allow, v2 a BPF_CGROUP_DEVICE program. Changes kernel state only, hence
  // const. launchContainer calls it unless the container is privileged.
  virtual Result<void> restrictDevices() const = 0;
  // Whether the OOM killer killed a process in this cgroup (v1 memory.oom_control oom_kill,
  // v2 memory.events oom_kill).
  virtual bool oomKilled() const = 0;
  // Kills what is left (SIGKILL to every process), then removes the directories.
  virtual Result<void> destroy() = 0;
  // The cgroup directories, one per hierarchy (for joining from exec).
  virtual std::vector<std::string> paths() const = 0;
  // Memory in use (bytes) and CPU time (nanoseconds), for stats.
  virtual int64_t memoryUsage() const = 0;
  virtual int64_t cpuUsageNanos() const = 0;
};

struct LaunchSpec {
  const ContainerSpec* spec = nullptr;  // rootfs, process, hostname, mounts, security
  // Namespaces to join (bind-mounted files, e.g. a sandbox's); empty: create a new one.
  std::string netnsPath, ipcnsPath, utsnsPath;
  const CgroupSet* cgroups = nullptr;  // the child joins them before anything else
  // The container's stdio (already opened by the caller; a pty slave for tty containers).
  int stdinFd = -1, stdoutFd = -1, stderrFd = -1;
  // When >= 0, the container's process blocks just before exec until a byte can be read from
  // this fd (create/start split); the caller keeps the write end.
  int startFd = -1;
};

// Creates the container's init process (clone with new pid, mount, ipc, uts, cgroup and
// network namespaces, or joins the given ones), sets up the root filesystem (pivot_root into
// spec.rootfs; /proc, /sys read-only, /dev as tmpfs with null, zero, full, random, urandom,
// tty, ptmx, /dev/pts, /dev/shm, /dev/mqueue; the spec's mounts; masked and read-only /proc and
// /sys paths as runc does; readonlyRootfs), the hostname, rlimits, user and groups (resolved
// against the container's /etc/passwd and /etc/group), capabilities (Docker's default set with
// capAdd/capDrop, or all when privileged), no_new_privs and the seccomp profile (Docker's
// default, unconfined or a localhost JSON profile), then (after startFd, if any) execs
// process.args. Returns its pid once the setup has succeeded; a setup failure in the child is
// returned as an error with the child's message (e.g. `exec: "nope": executable file not
// found in $PATH`).
Result<pid_t> launchContainer(const LaunchSpec& spec);

// Starts `process` inside the running container whose init is `containerPid`: joins its
// namespaces (setns from /proc/PID/ns/*) and `cgroups`, applies `security` (and the process's
// user), and execs. Stdio as given (or the pty slave). Returns the pid; the caller reaps it.
Result<pid_t> launchExec(pid_t containerPid, const ProcessSpec& process,
                         const SecurityOptions& security, const CgroupSet* cgroups, int stdinFd,
                         int stdoutFd, int stderrFd);

// Keeps compiled seccomp programs in `dir` (created 0700 when missing), shared by processes:
// libseccomp needs ~15 ms to compile Docker's profile, more than the rest of a container's
// start. Optional (programs are always cached in memory); call once at start, e.g. with
// DATA/agent/seccomp. Entries are keyed by a hash of everything they depend on (profile,
// capabilities, libseccomp version, architecture, kernel), so stale ones are never used.
void setSeccompCacheDirectory(const std::string& dir);
// Sets the directory and compiles the default program (Docker's profile with Docker's default
// capabilities) into it unless it is there: a node's first containers then find it compiled.
Result<void> warmSeccompCache(const std::string& dir);

// Creates a sandbox's namespaces (net with loopback up, ipc, uts with `hostname`) in a
// short-lived child and bind-mounts them to the given files (which must not exist; their
// directory must). Skips the ones whose path is empty.
Result<void> createNamespaceFiles(const std::string& netPath, const std::string& ipcPath,
                                  const std::string& utsPath, const std::string& hostname);
// Unmounts and removes namespace files; missing ones are fine.
Result<void> removeNamespaceFiles(const std::vector<std::string>& paths);

}  // namespace nave::runtime::sys
