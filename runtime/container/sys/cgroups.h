// Cgroup hierarchies and device rules: internals of CgroupSet that the launcher and the tests
// also use.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace nave::runtime::sys {

// A mounted cgroup hierarchy.
struct CgroupHierarchy {
  std::string mountPoint;  // /sys/fs/cgroup/memory, /sys/fs/cgroup/unified, /sys/fs/cgroup
  bool v2 = false;
  std::vector<std::string> controllers;  // v1: from the mount options; v2: cgroup.controllers
  std::string name;                      // v1 "name=systemd" hierarchies; empty otherwise
};

// The cgroup hierarchies mounted in the caller's mount namespace (one entry per hierarchy).
// Read from /proc/self/mountinfo, unless the environment variable kCgroupHierarchiesEnv holds
// them as encodeCgroupHierarchies wrote them: the runtime hands its own view to every shim it
// starts, which then need not have the kernel print a mount table that grows with the pods.
Result<std::vector<CgroupHierarchy>> cgroupHierarchies();
inline constexpr char kCgroupHierarchiesEnv[] = "NAVE_CGROUP_HIERARCHIES";
// One line per hierarchy; "" when a field could not be told apart (a tab or a newline in a
// mount point), and then the shim reads the mount table itself.
std::string encodeCgroupHierarchies(const std::vector<CgroupHierarchy>& hierarchies);
// What encodeCgroupHierarchies wrote; empty for anything else.
std::vector<CgroupHierarchy> decodeCgroupHierarchies(std::string_view text);

// One device access rule, as in runc's allowlist: type 'c', 'b' or 'a'; major/minor -1 for
// any; access a subset of "rwm".
struct DeviceRule {
  char type = 'a';
  int64_t major = -1, minor = -1;
  std::string access = "rwm";
};

// What an unprivileged container may use: mknod of any device node, and null, zero, full,
// random, urandom, tty, console, ptmx, the pts and tun/tap.
const std::vector<DeviceRule>& defaultDeviceRules();

// Loads a BPF_CGROUP_DEVICE program allowing exactly `rules` and attaches it (multi mode) to
// the cgroup v2 directory `cgroupDir`. The attachment lasts as long as the cgroup.
Result<void> attachDeviceFilter(const std::string& cgroupDir, const std::vector<DeviceRule>& rules);

// cgroup v2 cpu.weight for v1 cpu.shares, as Kubernetes converts them.
uint64_t cpuSharesToWeight(uint64_t shares);

}  // namespace nave::runtime::sys
