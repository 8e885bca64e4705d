#include "runtime/container/sys/seccomp.h"

#include <elf.h>
#include <link.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>

#include "common/fd.h"
#include "common/json.h"
#include "common/strings.h"
#include "runtime/container/sys/launcher.h"
#include "runtime/container/sys/security.h"
#include "runtime/container/sys/syscalls.h"

namespace nave::runtime::sys {

namespace {

// Docker's unconditional allowlist (moby/profiles seccomp/default.json), by name. Names
// newer than our libseccomp are skipped at compile time.
constexpr std::string_view kDefaultAllowed = R"(
accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown
chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime
clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect
copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old
epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit
exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod
fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock
fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate
ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake futimesat
getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32
getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority
getrandom getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage
getsid getsockname getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr
getxattrat inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl
io_destroy io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup
io_submit ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown
lchown32 lgetxattr link linkat listen listmount listxattr listxattrat llistxattr _llseek
lremovexattr lseek lsetxattr lstat lstat64 madvise map_shadow_stack membarrier memfd_create
memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect
mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend
mq_timedsend_time64 mq_unlink mremap mseal msgctl msgget msgrcv msgsnd msync munlock
munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open openat openat2 pause
pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll
ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6
pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv
recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr removexattrat rename
renameat renameat2 restart_syscall riscv_hwprobe rmdir rseq rt_sigaction rt_sigpending
rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam
sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval
sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop
semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32
setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority
setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32
setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32
setxattr setxattrat shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4
sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statmount
statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create
timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64
timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64 times
tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat uretprobe utime utimensat
utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
)";

std::vector<std::string> names(std::string_view list) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < list.size()) {
    while (i < list.size() && (list[i] == ' ' || list[i] == '\n')) ++i;
    size_t j = i;
    while (j < list.size() && list[j] != ' ' && list[j] != '\n') ++j;
    if (j > i) out.emplace_back(list.substr(i, j - i));
    i = j;
  }
  return out;
}

SeccompRule allow(std::string_view list) {
  SeccompRule r;
  r.names = names(list);
  r.action = "SCMP_ACT_ALLOW";
  return r;
}

SeccompRule allowWithCap(std::string_view list, const char* cap) {
  SeccompRule r = allow(list);
  r.includes.caps = {cap};
  return r;
}

SeccompRule allowOnArches(std::string_view list, std::vector<std::string> arches) {
  SeccompRule r = allow(list);
  r.includes.arches = std::move(arches);
  return r;
}

SeccompRule allowIfArg(const char* name, unsigned index, uint64_t value, const char* op,
                       uint64_t valueTwo = 0) {
  SeccompRule r = allow(name);
  r.args.push_back({index, value, valueTwo, op});
  return r;
}

SeccompProfile buildDefaultProfile() {
  SeccompProfile p;
  p.defaultAction = "SCMP_ACT_ERRNO";
  p.defaultErrnoRet = EPERM;
  p.archMap = {
      {"SCMP_ARCH_X86_64", {"SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
      {"SCMP_ARCH_AARCH64", {"SCMP_ARCH_ARM"}},
      {"SCMP_ARCH_MIPS64", {"SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"}},
      {"SCMP_ARCH_MIPS64N32", {"SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64"}},
      {"SCMP_ARCH_MIPSEL64", {"SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"}},
      {"SCMP_ARCH_MIPSEL64N32", {"SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64"}},
      {"SCMP_ARCH_S390X", {"SCMP_ARCH_S390"}},
      {"SCMP_ARCH_RISCV64", {}},
  };
  p.rules.push_back(allow(kDefaultAllowed));
  {
    SeccompRule r = allow("process_vm_readv process_vm_writev ptrace");
    r.includes.minKernel = "4.8";
    p.rules.push_back(r);
  }
  // socket(2) for the address families Docker allows: AF_UNIX..AF_ROSE as one range, then
  // each other one (no AF_VSOCK, AF_ALG, or families the kernel dropped).
  p.rules.push_back(allowIfArg("socket", 0, 12, "SCMP_CMP_LT"));
  for (int family : {13, 14, 15, 16, 17, 18, 21, 22, 24, 26, 27, 28, 29, 30, 31, 32, 33, 35,
                          36, 39, 41, 42, 43, 44, 45}) {
    p.rules.push_back(allowIfArg("socket", 0, static_cast<uint64_t>(family), "SCMP_CMP_EQ"));
  }
  for (uint64_t persona : {0x0ULL, 0x8ULL, 0x20000ULL, 0x20008ULL, 0xffffffffULL}) {
    p.rules.push_back(allowIfArg("personality", 0, persona, "SCMP_CMP_EQ"));
  }
  p.rules.push_back(allowOnArches("sync_file_range2 swapcontext", {"ppc64le"}));
  p.rules.push_back(allowOnArches(
      "arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls",
      {"arm", "arm64"}));
  p.rules.push_back(allowOnArches("arch_prctl", {"amd64", "x32"}));
  p.rules.push_back(allowOnArches("modify_ldt", {"amd64", "x32", "x86"}));
  p.rules.push_back(allowOnArches("s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr",
                                  {"s390", "s390x"}));
  p.rules.push_back(allowOnArches("riscv_flush_icache", {"riscv64"}));
  p.rules.push_back(allowWithCap("open_by_handle_at", "CAP_DAC_READ_SEARCH"));
  p.rules.push_back(allowWithCap(
      "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie "
      "lsm_get_self_attr lsm_list_modules lsm_set_self_attr mount mount_setattr move_mount "
      "open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog "
      "umount umount2 unshare",
      "CAP_SYS_ADMIN"));
  // Without CAP_SYS_ADMIN: clone only without namespace flags (the flags are the second
  // argument on s390), and clone3, whose flags live in memory, fails with ENOSYS so that libc
  // falls back to clone.
  constexpr uint64_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
                                      CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP;
  {
    SeccompRule r = allowIfArg("clone", 0, kNamespaceFlags, "SCMP_CMP_MASKED_EQ", 0);
    r.excludes.caps = {"CAP_SYS_ADMIN"};
    r.excludes.arches = {"s390", "s390x"};
    p.rules.push_back(r);
    SeccompRule s = allowIfArg("clone", 1, kNamespaceFlags, "SCMP_CMP_MASKED_EQ", 0);
    s.includes.arches = {"s390", "s390x"};
    s.excludes.caps = {"CAP_SYS_ADMIN"};
    p.rules.push_back(s);
    SeccompRule c3;
    c3.names = {"clone3"};
    c3.action = "SCMP_ACT_ERRNO";
    c3.errnoRet = ENOSYS;
    c3.excludes.caps = {"CAP_SYS_ADMIN"};
    p.rules.push_back(c3);
  }
  p.rules.push_back(allowWithCap("reboot", "CAP_SYS_BOOT"));
  p.rules.push_back(allowWithCap("chroot", "CAP_SYS_CHROOT"));
  p.rules.push_back(allowWithCap("delete_module init_module finit_module", "CAP_SYS_MODULE"));
  p.rules.push_back(allowWithCap("acct", "CAP_SYS_PACCT"));
  p.rules.push_back(allowWithCap(
      "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace",
      "CAP_SYS_PTRACE"));
  p.rules.push_back(allowWithCap("iopl ioperm", "CAP_SYS_RAWIO"));
  p.rules.push_back(
      allowWithCap("settimeofday stime clock_settime clock_settime64", "CAP_SYS_TIME"));
  p.rules.push_back(allowWithCap("vhangup", "CAP_SYS_TTY_CONFIG"));
  p.rules.push_back(allowWithCap("get_mempolicy mbind set_mempolicy set_mempolicy_home_node",
                                 "CAP_SYS_NICE"));
  p.rules.push_back(allowWithCap("syslog", "CAP_SYSLOG"));
  p.rules.push_back(allowWithCap("bpf", "CAP_BPF"));
  p.rules.push_back(allowWithCap("perf_event_open", "CAP_PERFMON"));
  return p;
}

// --- Parsing ---

Result<std::optional<uint32_t>> optionalErrno(const Json& obj, const char* key) {
  const Json* v = findMember(obj, key);
  if (!v || v->is_null()) return std::optional<uint32_t>();
  if (!v->is_number_unsigned() && !v->is_number_integer()) {
    return Error(ErrorCode::kInvalid, std::string(key) + " must be a number");
  }
  return std::optional<uint32_t>(static_cast<uint32_t>(v->get<int64_t>()));
}

Result<std::vector<std::string>> stringList(const Json& obj, const char* key) {
  std::vector<std::string> out;
  const Json* v = findMember(obj, key);
  if (!v || v->is_null()) return out;
  if (!v->is_array()) return Error(ErrorCode::kInvalid, std::string(key) + " must be a list");
  for (const auto& item : *v) {
    if (!item.is_string()) {
      return Error(ErrorCode::kInvalid, std::string(key) + " must hold strings");
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

Result<uint64_t> unsignedField(const Json& obj, const char* key) {
  const Json* v = findMember(obj, key);
  if (!v || v->is_null()) return uint64_t{0};
  if (v->is_number_unsigned()) return v->get<uint64_t>();
  if (v->is_number_integer() && v->get<int64_t>() >= 0) return static_cast<uint64_t>(v->get<int64_t>());
  return Error(ErrorCode::kInvalid, std::string(key) + " must be an unsigned number");
}

Result<SeccompFilterCondition> parseCondition(const Json& rule, const char* key) {
  SeccompFilterCondition c;
  const Json* v = findMember(rule, key);
  if (!v || v->is_null()) return c;
  if (!v->is_object()) return Error(ErrorCode::kInvalid, std::string(key) + " must be an object");
  c.caps = TRY(stringList(*v, "caps"));
  c.arches = TRY(stringList(*v, "arches"));
  c.minKernel = getString(*v, "minKernel");
  return c;
}

// --- Compiling ---

std::string goArch() {
  utsname u;
  if (::uname(&u) != 0) return "";
  std::string m = u.machine;
  if (m == "x86_64") return "amd64";
  if (m == "aarch64") return "arm64";
  if (m.rfind("armv", 0) == 0) return "arm";
  if (m == "i686" || m == "i386") return "386";
  return m;  // s390x, ppc64le, riscv64, loongarch64, mips64
}

// (major, minor) of the running kernel, and of a "4.8" string.
std::pair<int, int> kernelVersion(const std::string& text) {
  int major = 0, minor = 0;
  std::sscanf(text.c_str(), "%d.%d", &major, &minor);
  return {major, minor};
}

std::pair<int, int> runningKernel() {
  utsname u;
  if (::uname(&u) != 0) return {0, 0};
  return kernelVersion(u.release);
}

Result<bool> holdsCaps(const std::vector<std::string>& caps, uint64_t set, bool all) {
  if (caps.empty()) return all;
  for (const auto& name : caps) {
    int cap = TRY(capabilityFromName(name));
    bool held = (set >> cap) & 1;
    if (all && !held) return false;
    if (!all && held) return true;
  }
  return all;
}

Result<bool> ruleApplies(const SeccompRule& rule, uint64_t caps, const std::string& arch) {
  const auto& in = rule.includes;
  const auto& ex = rule.excludes;
  if (!in.caps.empty() && !TRY(holdsCaps(in.caps, caps, true))) return false;
  if (!in.arches.empty() && std::find(in.arches.begin(), in.arches.end(), arch) == in.arches.end()) {
    return false;
  }
  if (!in.minKernel.empty() && runningKernel() < kernelVersion(in.minKernel)) return false;
  if (!ex.caps.empty() && TRY(holdsCaps(ex.caps, caps, false))) return false;
  if (!ex.arches.empty() && std::find(ex.arches.begin(), ex.arches.end(), arch) != ex.arches.end()) {
    return false;
  }
  if (!ex.minKernel.empty() && runningKernel() >= kernelVersion(ex.minKernel)) return false;
  return true;
}

Result<uint32_t> parseAction(const std::string& action, std::optional<uint32_t> errnoRet) {
  uint32_t err = errnoRet.value_or(EPERM);
  if (action == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (action == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(err);
  if (action == "SCMP_ACT_KILL" || action == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (action == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (action == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (action == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(err);
  if (action == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  return Error(ErrorCode::kInvalid, "unsupported seccomp action \"" + action + "\"");
}

Result<scmp_compare> parseOperator(const std::string& op) {
  static const std::map<std::string, scmp_compare> ops = {
      {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT},
      {"SCMP_CMP_LE", SCMP_CMP_LE}, {"SCMP_CMP_EQ", SCMP_CMP_EQ},
      {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
      {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
  };
  auto it = ops.find(op);
  if (it == ops.end()) return Error(ErrorCode::kInvalid, "unknown seccomp operator \"" + op + "\"");
  return it->second;
}

// "SCMP_ARCH_X86_64" -> libseccomp's token, 0 when unknown.
uint32_t archToken(const std::string& name) {
  std::string lower = toLower(name);
  if (lower.rfind("scmp_arch_", 0) == 0) lower = lower.substr(10);
  return seccomp_arch_resolve_name(lower.c_str());
}

struct FilterContext {
  scmp_filter_ctx ctx = nullptr;
  ~FilterContext() {
    if (ctx) seccomp_release(ctx);
  }
};

Result<void> addRule(scmp_filter_ctx ctx, uint32_t action, int nr, const std::string& name,
                     const std::vector<SeccompArg>& args) {
  std::vector<scmp_arg_cmp> cmps;
  for (const auto& a : args) {
    if (a.index > 5) return Error(ErrorCode::kInvalid, "seccomp argument index out of range");
    scmp_compare op = TRY(parseOperator(a.op));
    cmps.push_back(scmp_arg_cmp{a.index, op, a.value, a.valueTwo});
  }
  // Several conditions on one argument cannot hold at once in one libseccomp rule: like
  // runc, each becomes a rule of its own (so they are alternatives).
  bool repeatedIndex = false;
  for (size_t i = 0; i < cmps.size(); ++i) {
    for (size_t j = i + 1; j < cmps.size(); ++j) repeatedIndex |= cmps[i].arg == cmps[j].arg;
  }
  auto add = [&](const scmp_arg_cmp* c, unsigned n) -> Result<void> {
    int rc = seccomp_rule_add_array(ctx, action, nr, n, c);
    if (rc != 0) return Error::fromErrno("seccomp rule for " + name, -rc);
    return {};
  };
  if (cmps.empty()) return add(nullptr, 0);
  if (!repeatedIndex) return add(cmps.data(), static_cast<unsigned>(cmps.size()));
  for (const auto& c : cmps) TRY(add(&c, 1));
  return {};
}

}  // namespace

const SeccompProfile& dockerDefaultProfile() {
  static const SeccompProfile profile = buildDefaultProfile();
  return profile;
}

Result<SeccompProfile> parseSeccompProfile(std::string_view json) {
  auto parsed = parseJson(json);
  if (!parsed.ok()) {
    return Error(ErrorCode::kInvalid, "invalid seccomp profile: " + parsed.error().message());
  }
  const Json& doc = parsed->value;
  if (!doc.is_object()) return Error(ErrorCode::kInvalid, "a seccomp profile is a JSON object");
  SeccompProfile p;
  p.defaultAction = getString(doc, "defaultAction");
  if (p.defaultAction.empty()) {
    return Error(ErrorCode::kInvalid, "the seccomp profile has no defaultAction");
  }
  p.defaultErrnoRet = TRY(optionalErrno(doc, "defaultErrnoRet"));
  TRY(parseAction(p.defaultAction, p.defaultErrnoRet));
  p.architectures = TRY(stringList(doc, "architectures"));
  if (const Json* archMap = findMember(doc, "archMap"); archMap && !archMap->is_null()) {
    if (!archMap->is_array()) return Error(ErrorCode::kInvalid, "archMap must be a list");
    for (const auto& entry : *archMap) {
      if (!entry.is_object()) return Error(ErrorCode::kInvalid, "archMap entries are objects");
      p.archMap.emplace_back(getString(entry, "architecture"),
                             TRY(stringList(entry, "subArchitectures")));
    }
  }
  if (!p.architectures.empty() && !p.archMap.empty()) {
    return Error(ErrorCode::kInvalid,
                 "the seccomp profile has both architectures and archMap; use one");
  }
  const Json* syscalls = findMember(doc, "syscalls");
  if (syscalls && !syscalls->is_null()) {
    if (!syscalls->is_array()) return Error(ErrorCode::kInvalid, "syscalls must be a list");
    for (const auto& s : *syscalls) {
      if (!s.is_object()) return Error(ErrorCode::kInvalid, "syscalls entries are objects");
      SeccompRule r;
      r.names = TRY(stringList(s, "names"));
      if (std::string name = getString(s, "name"); !name.empty()) r.names.push_back(name);
      if (r.names.empty()) return Error(ErrorCode::kInvalid, "a syscalls entry has no names");
      r.action = getString(s, "action");
      r.errnoRet = TRY(optionalErrno(s, "errnoRet"));
      TRY(parseAction(r.action, r.errnoRet));
      if (const Json* args = findMember(s, "args"); args && !args->is_null()) {
        if (!args->is_array()) return Error(ErrorCode::kInvalid, "args must be a list");
        for (const auto& a : *args) {
          if (!a.is_object()) return Error(ErrorCode::kInvalid, "args entries are objects");
          SeccompArg arg;
          arg.index = static_cast<unsigned>(TRY(unsignedField(a, "index")));
          arg.value = TRY(unsignedField(a, "value"));
          arg.valueTwo = TRY(unsignedField(a, "valueTwo"));
          arg.op = getString(a, "op");
          TRY(parseOperator(arg.op));
          if (arg.index > 5) return Error(ErrorCode::kInvalid, "args index must be 0-5");
          r.args.push_back(arg);
        }
      }
      r.includes = TRY(parseCondition(s, "includes"));
      r.excludes = TRY(parseCondition(s, "excludes"));
      p.rules.push_back(std::move(r));
    }
  }
  return p;
}

Result<SeccompProgram> compileSeccompProfile(const SeccompProfile& profile, uint64_t caps) {
  uint32_t defaultAction = TRY(parseAction(profile.defaultAction, profile.defaultErrnoRet));
  FilterContext f;
  f.ctx = seccomp_init(defaultAction);
  if (!f.ctx) return Error(ErrorCode::kInternal, "seccomp_init failed");
  // no_new_privs is the container's own setting, not libseccomp's business.
  if (int rc = seccomp_attr_set(f.ctx, SCMP_FLTATR_CTL_NNP, 0); rc != 0) {
    return Error::fromErrno("seccomp attribute", -rc);
  }
  if (int rc = seccomp_attr_set(f.ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(ENOSYS)); rc != 0) {
    return Error::fromErrno("seccomp attribute", -rc);
  }
  // A binary tree over syscall numbers rather than a chain of comparisons: each syscall is
  // checked in a few steps, and the kernel loads (JIT-compiles) Docker's profile in ~0.3 ms
  // instead of ~0.75 ms. Compiling takes longer (~25 ms), but programs are cached.
  if (int rc = seccomp_attr_set(f.ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2); rc != 0) {
    return Error::fromErrno("seccomp optimization attribute", -rc);
  }

  uint32_t native = seccomp_arch_native();
  std::vector<uint32_t> arches;
  for (const auto& name : profile.architectures) {
    if (uint32_t token = archToken(name)) arches.push_back(token);
  }
  for (const auto& [arch, subs] : profile.archMap) {
    if (archToken(arch) != native) continue;
    arches.push_back(native);
    for (const auto& sub : subs) {
      if (uint32_t token = archToken(sub)) arches.push_back(token);
    }
  }
  for (uint32_t token : arches) {
    if (token == native) continue;
    int rc = seccomp_arch_add(f.ctx, token);
    if (rc != 0 && rc != -EEXIST) return Error::fromErrno("seccomp architecture", -rc);
  }

  std::string arch = goArch();
  for (const auto& rule : profile.rules) {
    if (!TRY(ruleApplies(rule, caps, arch))) continue;
    uint32_t action = TRY(parseAction(rule.action, rule.errnoRet));
    if (action == defaultAction) continue;  // libseccomp refuses redundant rules
    for (const auto& name : rule.names) {
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) continue;
      TRY(addRule(f.ctx, action, nr, name, rule.args));
    }
  }

  UniqueFd mem(::memfd_create("seccomp", MFD_CLOEXEC));
  if (!mem) return Error::fromErrno("memfd_create", errno);
  if (int rc = seccomp_export_bpf(f.ctx, mem.get()); rc != 0) {
    return Error::fromErrno("export the seccomp program", -rc);
  }
  off_t size = ::lseek(mem.get(), 0, SEEK_END);
  if (size <= 0 || size % sizeof(sock_filter) != 0 ||
      static_cast<size_t>(size) / sizeof(sock_filter) > BPF_MAXINSNS) {
    return Error(ErrorCode::kInternal, "libseccomp exported a malformed program");
  }
  SeccompProgram program;
  program.instructions.resize(static_cast<size_t>(size) / sizeof(sock_filter));
  if (::pread(mem.get(), program.instructions.data(), static_cast<size_t>(size), 0) != size) {
    return Error::fromErrno("read the seccomp program", errno);
  }
  return program;
}

namespace {

// libseccomp needs ~15 ms for Docker's profile on the three x86 ABIs, more than the rest of a
// container's start: compiled programs are kept in memory, and on disk when a directory is set.
struct ProgramCache {
  std::mutex mu;
  std::map<std::string, SeccompProgram> programs;  // guarded by mu
  std::string directory;                           // guarded by mu
};

ProgramCache& programCache() {
  static ProgramCache* cache = new ProgramCache();
  return *cache;
}

Json conditionJson(const SeccompFilterCondition& c) {
  return Json{{"caps", c.caps}, {"arches", c.arches}, {"minKernel", c.minKernel}};
}

// What a compiled program depends on besides its profile.
Json environmentKey(uint64_t caps) {
  const scmp_version* v = seccomp_version();
  auto [kmajor, kminor] = runningKernel();
  return Json{{"format", 2},
              {"optimize", 2},
              {"libseccomp", {v->major, v->minor, v->micro}},
              {"native", seccomp_arch_native()},
              {"kernel", {kmajor, kminor}},
              {"caps", caps}};
}

// A profile as text, for the key of its compiled program.
Json profileKey(const SeccompProfile& p) {
  Json rules = Json::array();
  for (const auto& r : p.rules) {
    Json args = Json::array();
    for (const auto& a : r.args) args.push_back({a.index, a.value, a.valueTwo, a.op});
    rules.push_back({{"names", r.names}, {"action", r.action},
                     {"errno", r.errnoRet ? static_cast<int64_t>(*r.errnoRet) : -1},
                     {"args", args}, {"in", conditionJson(r.includes)},
                     {"ex", conditionJson(r.excludes)}});
  }
  Json archMap = Json::array();
  for (const auto& [arch, subs] : p.archMap) archMap.push_back({arch, subs});
  return Json{{"default", p.defaultAction},
              {"defaultErrno", p.defaultErrnoRet ? static_cast<int64_t>(*p.defaultErrnoRet) : -1},
              {"arches", p.architectures},
              {"archMap", archMap},
              {"rules", rules}};
}

// The GNU build ID of the running executable (hex), or "" without one. Identifies the
// built-in profile: it changes whenever the binary does.
std::string executableBuildId() {
  std::string id;
  ::dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* out) -> int {
        // The first object is the executable itself.
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_NOTE) continue;
          const auto* p = reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr);
          const unsigned char* end = p + ph.p_memsz;
          while (p + sizeof(ElfW(Nhdr)) <= end) {
            const auto* n = reinterpret_cast<const ElfW(Nhdr)*>(p);
            const unsigned char* name = p + sizeof(ElfW(Nhdr));
            const unsigned char* desc = name + ((n->n_namesz + 3) & ~3u);
            if (desc + n->n_descsz > end) break;
            if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
                std::memcmp(name, "GNU", 4) == 0) {
              static const char* kHex = "0123456789abcdef";
              auto* s = static_cast<std::string*>(out);
              for (size_t k = 0; k < n->n_descsz; ++k) {
                s->push_back(kHex[desc[k] >> 4]);
                s->push_back(kHex[desc[k] & 0xf]);
              }
              return 1;
            }
            p = desc + ((n->n_descsz + 3) & ~3u);
          }
        }
        return 1;
      },
      &id);
  return id;
}

// The cache file's name: a hash of the key (FNV-1a; not OpenSSL, whose first use costs a shim
// more than a millisecond). The file holds the key too, so a collision is only a cache miss.
std::string programFileName(const std::string& key) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : key) h = (h ^ c) * 0x100000001b3ULL;
  static const char* kHex = "0123456789abcdef";
  std::string name;
  for (int shift = 60; shift >= 0; shift -= 4) name.push_back(kHex[(h >> shift) & 0xf]);
  return name + ".bpf";
}

// File layout: the key, a NUL, then the instructions.
std::optional<SeccompProgram> readCachedProgram(const std::string& path, const std::string& key) {
  auto data = readFile(path);
  if (!data.ok() || data->size() <= key.size() || data->compare(0, key.size(), key) != 0 ||
      (*data)[key.size()] != '\0') {
    return std::nullopt;
  }
  size_t bytes = data->size() - key.size() - 1;
  if (bytes == 0 || bytes % sizeof(sock_filter) != 0 || bytes / sizeof(sock_filter) > BPF_MAXINSNS) {
    return std::nullopt;
  }
  SeccompProgram program;
  program.instructions.resize(bytes / sizeof(sock_filter));
  std::memcpy(program.instructions.data(), data->data() + key.size() + 1, bytes);
  return program;
}

void writeCachedProgram(const std::string& dir, const std::string& key,
                        const SeccompProgram& program) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return;
  std::string name = programFileName(key);
  std::string tmp = dir + "/." + name + "." + std::to_string(::getpid());
  std::string contents = key;
  contents.push_back('\0');
  contents.append(reinterpret_cast<const char*>(program.instructions.data()),
                  program.instructions.size() * sizeof(sock_filter));
  if (createFile(tmp, contents, 0600).ok()) {
    if (::rename(tmp.c_str(), (dir + "/" + name).c_str()) != 0) ::unlink(tmp.c_str());
  }
}

// The program compiled from `profile()` (called only when no cache has it), cached under
// `key`, which must name everything the program depends on.
Result<SeccompProgram> cachedProgram(const std::string& key, uint64_t caps,
                                     const std::function<SeccompProfile()>& profile) {
  ProgramCache& cache = programCache();
  std::string dir;
  {
    std::lock_guard<std::mutex> lock(cache.mu);
    if (auto it = cache.programs.find(key); it != cache.programs.end()) return it->second;
    dir = cache.directory;
  }
  std::optional<SeccompProgram> program;
  if (!dir.empty()) program = readCachedProgram(dir + "/" + programFileName(key), key);
  if (!program && !dir.empty()) {
    // Many shims starting at once (pods created together) would each compile the same
    // program: one does, under a lock, and the others read what it wrote.
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return Error::fromErrno("mkdir " + dir, errno);
    UniqueFd lock(::open((dir + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (lock) {
      while (::flock(lock.get(), LOCK_EX) != 0 && errno == EINTR) {
      }
    }
    program = readCachedProgram(dir + "/" + programFileName(key), key);
    if (!program) {
      program = TRY(compileSeccompProfile(profile(), caps));
      writeCachedProgram(dir, key, *program);
    }
  }
  if (!program) program = TRY(compileSeccompProfile(profile(), caps));
  std::lock_guard<std::mutex> lock(cache.mu);
  if (cache.programs.size() >= 64) cache.programs.clear();
  cache.programs[key] = *program;
  return *program;
}

}  // namespace

void setSeccompCacheDirectory(const std::string& dir) {
  ProgramCache& cache = programCache();
  std::lock_guard<std::mutex> lock(cache.mu);
  cache.directory = dir;
}

Result<void> warmSeccompCache(const std::string& dir) {
  setSeccompCacheDirectory(dir);
  SecurityOptions defaults;
  TRY(seccompProgramFor(defaults, TRY(containerCapabilities(defaults))));
  return {};
}

Result<std::optional<SeccompProgram>> seccompProgramFor(const SecurityOptions& security,
                                                        uint64_t caps) {
  if (security.privileged || security.seccomp == SeccompMode::kUnconfined) {
    return std::optional<SeccompProgram>();
  }
  if (security.seccomp == SeccompMode::kRuntimeDefault) {
    // Built into the binary: its key is the binary's build ID, so that a shim need not build
    // the profile (about a millisecond) to find its compiled program.
    static const std::string buildId = executableBuildId();
    Json key = environmentKey(caps);
    if (buildId.empty()) {
      key["profile"] = profileKey(dockerDefaultProfile());
    } else {
      key["builtin"] = "docker-default " + buildId;
    }
    return std::optional<SeccompProgram>(
        TRY(cachedProgram(dumpJson(key), caps, [] { return dockerDefaultProfile(); })));
  }
  if (security.seccompProfilePath.empty()) {
    return Error(ErrorCode::kInvalid, "a localhost seccomp profile needs a path");
  }
  auto text = readFile(security.seccompProfilePath);
  if (!text.ok()) return std::move(text).error().context("seccomp profile");
  auto profile = parseSeccompProfile(*text);
  if (!profile.ok()) return std::move(profile).error().context(security.seccompProfilePath);
  Json key = environmentKey(caps);
  key["profile"] = profileKey(*profile);
  return std::optional<SeccompProgram>(
      TRY(cachedProgram(dumpJson(key), caps, [&] { return *profile; })));
}

Result<void> loadSeccompProgram(const SeccompProgram& program) {
  sock_fprog prog;
  prog.len = static_cast<unsigned short>(program.instructions.size());
  prog.filter = const_cast<sock_filter*>(program.instructions.data());
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
    return Error::fromErrno("load the seccomp filter", errno);
  }
  return {};
}

}  // namespace nave::runtime::sys
