// Seccomp profiles (Docker's default, or an OCI/Docker JSON file) compiled with libseccomp
// into a BPF program that a container's process loads just before exec.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "runtime/container/container_runtime.h"

namespace nave::runtime::sys {

struct SeccompArg {
  unsigned index = 0;
  uint64_t value = 0, valueTwo = 0;
  std::string op;  // "SCMP_CMP_EQ", "SCMP_CMP_MASKED_EQ", ...
};

// Docker's conditions on a rule: the rule applies when every `includes` condition holds and
// no `excludes` one does.
struct SeccompFilterCondition {
  std::vector<std::string> caps;    // "CAP_SYS_ADMIN": all held (includes), any held (excludes)
  std::vector<std::string> arches;  // Go names of the native architecture: "amd64", "arm64"
  std::string minKernel;            // "4.8"
};

struct SeccompRule {
  std::vector<std::string> names;
  std::string action;  // "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", ...
  std::optional<uint32_t> errnoRet;
  std::vector<SeccompArg> args;
  SeccompFilterCondition includes, excludes;
};

struct SeccompProfile {
  std::string defaultAction;
  std::optional<uint32_t> defaultErrnoRet;
  std::vector<std::string> architectures;  // "SCMP_ARCH_X86_64", ...
  // Docker's archMap: the native architecture and the sub-architectures to add with it.
  std::vector<std::pair<std::string, std::vector<std::string>>> archMap;
  std::vector<SeccompRule> rules;
};

// Docker's default profile (moby/profiles): an allowlist with ERRNO(EPERM) for the rest;
// namespaces, mount, keyctl, bpf and the like only with the capabilities they need.
const SeccompProfile& dockerDefaultProfile();

// Parses an OCI (linux.seccomp) or Docker seccomp profile. kInvalid on bad input.
Result<SeccompProfile> parseSeccompProfile(std::string_view json);

// A compiled program for the native architecture and its sub-architectures.
struct SeccompProgram {
  std::vector<sock_filter> instructions;
};

// Compiles `profile` for a process holding capabilities `caps` (which decide Docker's
// conditional rules). Syscalls unknown to libseccomp are skipped, as runc does.
Result<SeccompProgram> compileSeccompProfile(const SeccompProfile& profile, uint64_t caps);

// The program for a container's SecurityOptions: nullopt when unconfined (or privileged);
// Docker's default; or the localhost profile read from seccompProfilePath. Compiled programs
// are cached (see setSeccompCacheDirectory in launcher.h).
Result<std::optional<SeccompProgram>> seccompProgramFor(const SecurityOptions& security,
                                                        uint64_t caps);

// Installs the program in the calling thread (needs no_new_privs or CAP_SYS_ADMIN).
Result<void> loadSeccompProgram(const SeccompProgram& program);

}  // namespace nave::runtime::sys
