// Capabilities, users and groups, and rlimits of a container's processes. The resolving
// functions are pure (unit-tested); the apply* functions change the calling process.
#pragma once

#include <sys/resource.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "runtime/container/container_runtime.h"

namespace nave::runtime::sys {

// --- Capabilities (bit N = capability N) ---

// The highest capability the kernel knows (/proc/sys/kernel/cap_last_cap).
int lastCapability();
// "NET_ADMIN", "CAP_NET_ADMIN", "cap_net_admin" -> 12. kInvalid for unknown names.
Result<int> capabilityFromName(std::string_view name);
std::string capabilityName(int cap);  // "CAP_NET_ADMIN"; "CAP_N" past the known names
// Docker's default set: CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID SETFCAP
// SETPCAP NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE.
uint64_t defaultCapabilities();
// Every capability the kernel knows that this process may hand on (its bounding set).
uint64_t allCapabilities();
// The container's set as Docker computes it: all when privileged; capAdd "ALL" = all but
// capDrop; capDrop "ALL" = only capAdd; else default - capDrop + capAdd. kInvalid for unknown
// names.
Result<uint64_t> containerCapabilities(const SecurityOptions& security);

// Removes every capability not in `caps` from the bounding set.
Result<void> applyBoundingSet(uint64_t caps);
// Effective and permitted = `caps`, inheritable and ambient empty (Docker and containerd since
// CVE-2022-24769), so a non-root process ends up with none after exec.
Result<void> applyCapabilities(uint64_t caps);

// --- Users ---

struct ExecUser {
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> supplementaryGroups;  // from /etc/group membership (implicit group form)
  std::string home = "/";
};

// Resolves "", "uid", "uid:gid", "name", "name:group" (and mixes) against the contents of
// the container's /etc/passwd and /etc/group (nullopt: the file does not exist), as runc does.
// Errors read as runc's: `unable to find user nobody2: no matching entries in passwd file`.
Result<ExecUser> resolveUser(const std::string& spec, const std::optional<std::string>& passwd,
                             const std::optional<std::string>& group);

// setgroups(supplementary + extra), setresgid, setresuid. Capabilities survive (keepcaps) so
// that applyCapabilities can set them afterwards.
Result<void> applyUser(const ExecUser& user, const std::vector<uint32_t>& extraGroups);

// --- Rlimits ---

struct ResolvedRlimit {
  int resource = 0;
  rlimit value{};
  bool lenient = false;  // the default: lowered to the runtime's hard limit when it is higher
};

// Validates the names ("RLIMIT_NOFILE" or "NOFILE"). Empty: RLIMIT_NOFILE 1048576, as
// containerd does.
Result<std::vector<ResolvedRlimit>> resolveRlimits(const std::vector<Rlimit>& limits);
Result<void> applyRlimits(const std::vector<ResolvedRlimit>& limits);

}  // namespace nave::runtime::sys
