// Seccomp profiles: parsing, and the compiled programs loaded for real in forked children.
#include "runtime/container/sys/seccomp.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <filesystem>
#include <functional>

#include "runtime/container/sys/launcher.h"
#include "runtime/container/sys/security.h"

namespace nave::runtime::sys {
namespace {

// Runs `probe` in a child after loading `program` (with no_new_privs); the child's exit code
// is what the probe returns.
int inFilteredChild(const SeccompProgram& program, const std::function<int()>& probe) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(100);
    if (!loadSeccompProgram(program).ok()) ::_exit(101);
    ::_exit(probe());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 200 + WTERMSIG(status);
}

// 0 when `rc` is -1 with errno `expected`, else 1.
int failsWith(long rc, int expected) { return rc == -1 && errno == expected ? 0 : 1; }

TEST(Seccomp, DefaultProfileRefusesNamespacesKeysAndMounts) {
  auto program = compileSeccompProfile(dockerDefaultProfile(), defaultCapabilities());
  ASSERT_TRUE(program.ok()) << program.error().message();
  EXPECT_GT(program->instructions.size(), 50u);
  EXPECT_EQ(inFilteredChild(*program, [] { return failsWith(::unshare(CLONE_NEWNS), EPERM); }), 0);
  EXPECT_EQ(inFilteredChild(*program, [] { return failsWith(::unshare(CLONE_NEWUSER), EPERM); }), 0);
  EXPECT_EQ(inFilteredChild(*program,
                            [] { return failsWith(::syscall(SYS_keyctl, 0, 0, 0, 0, 0), EPERM); }),
            0);
  EXPECT_EQ(inFilteredChild(*program,
                            [] { return failsWith(::syscall(SYS_add_key, "user", "k", "v", 1, -2), EPERM); }),
            0);
  EXPECT_EQ(inFilteredChild(
                *program, [] { return failsWith(::syscall(SYS_mount, "none", "/mnt", "tmpfs", 0, 0), EPERM); }),
            0);
  EXPECT_EQ(inFilteredChild(*program, [] { return failsWith(::syscall(SYS_bpf, 0, 0, 0), EPERM); }), 0);
  // clone3 pretends not to exist, so that libc falls back to clone (whose flags are checked).
  EXPECT_EQ(inFilteredChild(*program, [] { return failsWith(::syscall(SYS_clone3, nullptr, 0), ENOSYS); }),
            0);
  EXPECT_EQ(inFilteredChild(*program,
                            [] { return failsWith(::syscall(SYS_clone, CLONE_NEWNET, 0, 0, 0, 0), EPERM); }),
            0);
  // AF_VSOCK (40) is not among the allowed socket families.
  EXPECT_EQ(inFilteredChild(*program, [] { return failsWith(::socket(40, SOCK_STREAM, 0), EPERM); }), 0);
  EXPECT_EQ(inFilteredChild(*program, [] { return failsWith(::personality(0x0400000), EPERM); }), 0);
}

TEST(Seccomp, DefaultProfileAllowsOrdinaryWork) {
  auto program = compileSeccompProfile(dockerDefaultProfile(), defaultCapabilities());
  ASSERT_TRUE(program.ok());
  EXPECT_EQ(inFilteredChild(*program, [] {
              int fd = ::socket(AF_INET, SOCK_STREAM, 0);
              int fd6 = ::socket(AF_INET6, SOCK_DGRAM, 0);
              int nl = ::socket(AF_NETLINK, SOCK_RAW, 0);
              pid_t child = ::fork();  // clone without namespace flags
              if (child == 0) ::_exit(0);
              int status;
              bool forked = child > 0 && ::waitpid(child, &status, 0) == child;
              bool persona = ::personality(0xffffffff) >= 0;
              return fd >= 0 && fd6 >= 0 && nl >= 0 && forked && persona && ::getpid() > 0 ? 0 : 1;
            }),
            0);
}

TEST(Seccomp, CapabilitiesUnlockTheirSyscalls) {
  // With CAP_SYS_ADMIN, Docker's profile allows unshare (the rest is up to the kernel).
  auto program =
      compileSeccompProfile(dockerDefaultProfile(), defaultCapabilities() | (1ULL << CAP_SYS_ADMIN));
  ASSERT_TRUE(program.ok());
  EXPECT_EQ(inFilteredChild(*program, [] { return ::unshare(CLONE_NEWUTS) == 0 ? 0 : 1; }), 0);
}

TEST(Seccomp, ParsesDockerAndOciProfiles) {
  auto docker = parseSeccompProfile(R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
    "syscalls": [
      {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
      {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
       "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]},
      {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
      {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}}
    ]})");
  ASSERT_TRUE(docker.ok()) << docker.error().message();
  EXPECT_EQ(docker->defaultAction, "SCMP_ACT_ERRNO");
  EXPECT_EQ(docker->defaultErrnoRet, 1u);
  ASSERT_EQ(docker->rules.size(), 4u);
  EXPECT_EQ(docker->rules[1].args[0].value, 8u);
  EXPECT_EQ(docker->rules[3].includes.caps, std::vector<std::string>{"CAP_SYS_ADMIN"});
  EXPECT_TRUE(compileSeccompProfile(*docker, 0).ok());

  auto oci = parseSeccompProfile(R"({"defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]})");
  ASSERT_TRUE(oci.ok()) << oci.error().message();
  auto program = compileSeccompProfile(*oci, 0);
  ASSERT_TRUE(program.ok()) << program.error().message();
  EXPECT_EQ(inFilteredChild(*program, [] {
              return failsWith(::syscall(SYS_mkdirat, AT_FDCWD, "/nonexistent-dir/x", 0755), EACCES);
            }),
            0);
}

TEST(Seccomp, RefusesMalformedProfiles) {
  EXPECT_EQ(parseSeccompProfile("{").error().code(), ErrorCode::kInvalid);
  EXPECT_FALSE(parseSeccompProfile(R"({"syscalls": []})").ok());
  EXPECT_FALSE(parseSeccompProfile(R"({"defaultAction": "SCMP_ACT_FLY"})").ok());
  EXPECT_FALSE(parseSeccompProfile(
                   R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"],
                      "action": "SCMP_ACT_ERRNO", "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]})")
                   .ok());
  EXPECT_FALSE(parseSeccompProfile(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": "read"})").ok());
  EXPECT_FALSE(parseSeccompProfile(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [1]}]})").ok());
}

TEST(Seccomp, UnknownSyscallNamesAreSkipped) {
  auto p = parseSeccompProfile(R"({"defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["no_such_syscall", "mkdir"], "action": "SCMP_ACT_ERRNO"}]})");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(compileSeccompProfile(*p, 0).ok());
}

TEST(Seccomp, UnconfinedAndPrivilegedHaveNoProgram) {
  SecurityOptions unconfined;
  unconfined.seccomp = SeccompMode::kUnconfined;
  auto none = seccompProgramFor(unconfined, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  SecurityOptions privileged;
  privileged.privileged = true;
  EXPECT_FALSE(seccompProgramFor(privileged, 0)->has_value());
  SecurityOptions missing;
  missing.seccomp = SeccompMode::kLocalhost;
  missing.seccompProfilePath = "/nonexistent/profile.json";
  EXPECT_FALSE(seccompProgramFor(missing, 0).ok());
}

TEST(Seccomp, CompiledProgramsAreCachedOnDisk) {
  char tmpl[] = "/tmp/nave-seccomp-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = std::string(tmpl) + "/cache";
  std::string profile = std::string(tmpl) + "/profile.json";
  // Content unique to this run, so that no earlier cache entry matches.
  std::string text = R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"],
      "action": "SCMP_ACT_ERRNO", "errnoRet": )" + std::to_string(1 + ::getpid() % 100) + "}]}";
  FILE* f = std::fopen(profile.c_str(), "w");
  std::fputs(text.c_str(), f);
  std::fclose(f);
  setSeccompCacheDirectory(dir);
  SecurityOptions s;
  s.seccomp = SeccompMode::kLocalhost;
  s.seccompProfilePath = profile;
  auto first = seccompProgramFor(s, 0);
  setSeccompCacheDirectory("");
  ASSERT_TRUE(first.ok()) << first.error().message();
  ASSERT_TRUE(first->has_value());
  auto direct = compileSeccompProfile(*parseSeccompProfile(text), 0);
  ASSERT_TRUE(direct.ok());
  ASSERT_EQ((*first)->instructions.size(), direct->instructions.size());
  EXPECT_EQ(std::memcmp((*first)->instructions.data(), direct->instructions.data(),
                        direct->instructions.size() * sizeof(sock_filter)),
            0);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename() == ".lock") continue;  // serialises compiles between processes
    EXPECT_EQ(e.path().extension(), ".bpf");
    // The key, a NUL, then the program.
    auto bytes = direct->instructions.size() * sizeof(sock_filter);
    ASSERT_GT(std::filesystem::file_size(e.path()), bytes);
    std::ifstream in(e.path(), std::ios::binary);
    std::string contents((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(contents.compare(contents.size() - bytes, bytes,
                               reinterpret_cast<const char*>(direct->instructions.data()), bytes),
              0);
    EXPECT_EQ(contents[contents.size() - bytes - 1], '\0');
    ++files;
  }
  EXPECT_EQ(files, 1);
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace nave::runtime::sys
