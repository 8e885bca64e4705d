#include "runtime/container/sys/security.h"

#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "common/strings.h"
#include "runtime/container/sys/syscalls.h"

namespace nave::runtime::sys {

namespace {

constexpr const char* kCapabilityNames[] = {
    "CHOWN",           "DAC_OVERRIDE",  "DAC_READ_SEARCH",  "FOWNER",        "FSETID",
    "KILL",            "SETGID",        "SETUID",           "SETPCAP",       "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN",       "NET_RAW",       "IPC_LOCK",
    "IPC_OWNER",       "SYS_MODULE",    "SYS_RAWIO",        "SYS_CHROOT",    "SYS_PTRACE",
    "SYS_PACCT",       "SYS_ADMIN",     "SYS_BOOT",         "SYS_NICE",      "SYS_RESOURCE",
    "SYS_TIME",        "SYS_TTY_CONFIG", "MKNOD",           "LEASE",         "AUDIT_WRITE",
    "AUDIT_CONTROL",   "SETFCAP",       "MAC_OVERRIDE",     "MAC_ADMIN",     "SYSLOG",
    "WAKE_ALARM",      "BLOCK_SUSPEND", "AUDIT_READ",       "PERFMON",       "BPF",
    "CHECKPOINT_RESTORE",
};
constexpr int kKnownCapabilities = sizeof(kCapabilityNames) / sizeof(kCapabilityNames[0]);

uint64_t bit(int cap) { return uint64_t{1} << cap; }

std::string toUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

bool isAll(std::string_view name) { return toUpper(name) == "ALL"; }

Result<uint64_t> capabilitySet(const std::vector<std::string>& names) {
  uint64_t set = 0;
  for (const auto& name : names) {
    if (isAll(name)) continue;
    set |= bit(TRY(capabilityFromName(name)));
  }
  return set;
}

}  // namespace

int lastCapability() {
  static const int last = [] {
    auto text = readFile("/proc/sys/kernel/cap_last_cap");
    int v = text.ok() ? std::atoi(text->c_str()) : CAP_LAST_CAP;
    return v > 0 && v < 64 ? v : CAP_LAST_CAP;
  }();
  return last;
}

Result<int> capabilityFromName(std::string_view name) {
  std::string upper = toUpper(trim(name));
  std::string_view bare = upper;
  if (bare.rfind("CAP_", 0) == 0) bare.remove_prefix(4);
  for (int i = 0; i < kKnownCapabilities; ++i) {
    if (bare == kCapabilityNames[i]) return i;
  }
  return Error(ErrorCode::kInvalid, "unknown capability: \"CAP_" + std::string(bare) + "\"");
}

std::string capabilityName(int cap) {
  if (cap >= 0 && cap < kKnownCapabilities) return std::string("CAP_") + kCapabilityNames[cap];
  return "CAP_" + std::to_string(cap);
}

uint64_t defaultCapabilities() {
  return bit(CAP_CHOWN) | bit(CAP_DAC_OVERRIDE) | bit(CAP_FSETID) | bit(CAP_FOWNER) |
         bit(CAP_MKNOD) | bit(CAP_NET_RAW) | bit(CAP_SETGID) | bit(CAP_SETUID) | bit(CAP_SETFCAP) |
         bit(CAP_SETPCAP) | bit(CAP_NET_BIND_SERVICE) | bit(CAP_SYS_CHROOT) | bit(CAP_KILL) |
         bit(CAP_AUDIT_WRITE);
}

uint64_t allCapabilities() {
  uint64_t set = 0;
  for (int cap = 0; cap <= lastCapability(); ++cap) {
    if (::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) set |= bit(cap);
  }
  return set;
}

Result<uint64_t> containerCapabilities(const SecurityOptions& security) {
  if (security.privileged) return allCapabilities();
  uint64_t add = TRY(capabilitySet(security.capAdd));
  uint64_t drop = TRY(capabilitySet(security.capDrop));
  bool addAll = std::any_of(security.capAdd.begin(), security.capAdd.end(), isAll);
  bool dropAll = std::any_of(security.capDrop.begin(), security.capDrop.end(), isAll);
  if (addAll) return allCapabilities() & ~drop;
  if (dropAll) return add;
  return (defaultCapabilities() & ~drop) | add;
}

Result<void> applyBoundingSet(uint64_t caps) {
  for (int cap = 0; cap <= lastCapability(); ++cap) {
    if (caps & bit(cap)) continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      return Error::fromErrno("drop " + capabilityName(cap) + " from the bounding set", errno);
    }
  }
  return {};
}

Result<void> applyCapabilities(uint64_t caps) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  for (int i = 0; i < 2; ++i) {
    data[i].effective = data[i].permitted = static_cast<uint32_t>(caps >> (32 * i));
    data[i].inheritable = 0;
  }
  if (::syscall(SYS_capset, &header, data) != 0) {
    return Error::fromErrno("set capabilities", errno);
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return Error::fromErrno("clear ambient capabilities", errno);
  }
  return {};
}

// --- Users ---

namespace {

constexpr int64_t kMaxId = 2147483647;  // as runc: ids are positive int32

struct PasswdEntry {
  std::string name;
  int64_t uid = -1, gid = -1;
  std::string home;
};
struct GroupEntry {
  std::string name;
  int64_t gid = -1;
  std::vector<std::string> members;
};

std::optional<int64_t> parseId(std::string_view s) {
  if (s.empty() || s.size() > 12) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::vector<std::vector<std::string>> colonRecords(const std::string& text) {
  std::vector<std::vector<std::string>> out;
  for (const auto& raw : split(text, '\n')) {
    std::string_view line = trim(raw);
    if (line.empty() || line[0] == '#') continue;
    out.push_back(split(line, ':'));
  }
  return out;
}

std::vector<PasswdEntry> parsePasswd(const std::string& text) {
  std::vector<PasswdEntry> out;
  for (const auto& f : colonRecords(text)) {
    PasswdEntry e;
    e.name = f[0];
    if (f.size() > 2) e.uid = parseId(f[2]).value_or(-1);
    if (f.size() > 3) e.gid = parseId(f[3]).value_or(-1);
    if (f.size() > 5) e.home = f[5];
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<GroupEntry> parseGroup(const std::string& text) {
  std::vector<GroupEntry> out;
  for (const auto& f : colonRecords(text)) {
    GroupEntry e;
    e.name = f[0];
    if (f.size() > 2) e.gid = parseId(f[2]).value_or(-1);
    if (f.size() > 3) {
      for (const auto& m : split(f[3], ',')) {
        if (!m.empty()) e.members.push_back(std::string(trim(m)));
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

Error rangeError() {
  return Error(ErrorCode::kInvalid, "uids and gids must be in range 0-" + std::to_string(kMaxId));
}

}  // namespace

Result<ExecUser> resolveUser(const std::string& spec, const std::optional<std::string>& passwd,
                             const std::optional<std::string>& group) {
  std::string userArg = spec, groupArg;
  if (size_t colon = spec.find(':'); colon != std::string::npos) {
    userArg = spec.substr(0, colon);
    groupArg = spec.substr(colon + 1);
  }
  std::optional<int64_t> uidArg = parseId(userArg), gidArg = parseId(groupArg);

  ExecUser user;
  std::string matchedName;
  if (passwd) {
    for (const auto& e : parsePasswd(*passwd)) {
      bool match = userArg.empty() ? e.uid == 0 : uidArg ? e.uid == *uidArg : e.name == userArg;
      if (!match || e.uid < 0) continue;
      matchedName = e.name;
      user.uid = static_cast<uint32_t>(e.uid);
      user.gid = e.gid >= 0 ? static_cast<uint32_t>(e.gid) : 0;
      if (!e.home.empty()) user.home = e.home;
      break;
    }
  }
  if (matchedName.empty() && !userArg.empty()) {
    if (!uidArg) {
      return Error(ErrorCode::kInvalid,
                   "unable to find user " + userArg + ": no matching entries in passwd file");
    }
    if (*uidArg > kMaxId) return rangeError();
    user.uid = static_cast<uint32_t>(*uidArg);
  }

  if (!groupArg.empty() || !matchedName.empty()) {
    std::vector<GroupEntry> matched;
    if (group) {
      for (auto& g : parseGroup(*group)) {
        bool match;
        if (groupArg.empty()) {
          match = std::find(g.members.begin(), g.members.end(), matchedName) != g.members.end();
        } else {
          match = gidArg ? g.gid == *gidArg : g.name == groupArg;
        }
        if (match && g.gid >= 0) matched.push_back(std::move(g));
      }
    }
    if (!groupArg.empty()) {
      if (!matched.empty()) {
        user.gid = static_cast<uint32_t>(matched[0].gid);
      } else if (!gidArg) {
        return Error(ErrorCode::kInvalid,
                     "unable to find group " + groupArg + ": no matching entries in group file");
      } else {
        if (*gidArg > kMaxId) return rangeError();
        user.gid = static_cast<uint32_t>(*gidArg);
      }
    } else {
      for (const auto& g : matched) user.supplementaryGroups.push_back(static_cast<uint32_t>(g.gid));
    }
  }
  return user;
}

Result<void> applyUser(const ExecUser& user, const std::vector<uint32_t>& extraGroups) {
  std::vector<gid_t> groups(user.supplementaryGroups.begin(), user.supplementaryGroups.end());
  for (uint32_t g : extraGroups) {
    if (std::find(groups.begin(), groups.end(), g) == groups.end()) groups.push_back(g);
  }
  if (::setgroups(groups.size(), groups.data()) != 0) {
    return Error::fromErrno("setgroups", errno);
  }
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return Error::fromErrno("keep capabilities", errno);
  // The raw system calls: glibc's wrappers would broadcast to threads we do not have.
  if (::syscall(SYS_setresgid, user.gid, user.gid, user.gid) != 0) {
    return Error::fromErrno("setgid " + std::to_string(user.gid), errno);
  }
  if (::syscall(SYS_setresuid, user.uid, user.uid, user.uid) != 0) {
    return Error::fromErrno("setuid " + std::to_string(user.uid), errno);
  }
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return Error::fromErrno("reset keepcaps", errno);
  return {};
}

// --- Rlimits ---

namespace {

struct RlimitName {
  const char* name;
  int resource;
};
constexpr RlimitName kRlimits[] = {
    {"CPU", RLIMIT_CPU},         {"FSIZE", RLIMIT_FSIZE},         {"DATA", RLIMIT_DATA},
    {"STACK", RLIMIT_STACK},     {"CORE", RLIMIT_CORE},           {"RSS", RLIMIT_RSS},
    {"NPROC", RLIMIT_NPROC},     {"NOFILE", RLIMIT_NOFILE},       {"MEMLOCK", RLIMIT_MEMLOCK},
    {"AS", RLIMIT_AS},           {"LOCKS", RLIMIT_LOCKS},         {"SIGPENDING", RLIMIT_SIGPENDING},
    {"MSGQUEUE", RLIMIT_MSGQUEUE}, {"NICE", RLIMIT_NICE},         {"RTPRIO", RLIMIT_RTPRIO},
    {"RTTIME", RLIMIT_RTTIME},
};

}  // namespace

Result<std::vector<ResolvedRlimit>> resolveRlimits(const std::vector<Rlimit>& limits) {
  std::vector<ResolvedRlimit> out;
  if (limits.empty()) {
    ResolvedRlimit r;
    r.resource = RLIMIT_NOFILE;
    r.value.rlim_cur = r.value.rlim_max = 1048576;
    r.lenient = true;
    out.push_back(r);
    return out;
  }
  for (const auto& limit : limits) {
    std::string upper = toUpper(limit.type);
    std::string_view bare = upper;
    if (bare.rfind("RLIMIT_", 0) == 0) bare.remove_prefix(7);
    auto it = std::find_if(std::begin(kRlimits), std::end(kRlimits),
                           [&](const RlimitName& n) { return bare == n.name; });
    if (it == std::end(kRlimits)) {
      return Error(ErrorCode::kInvalid, "unknown rlimit type \"" + limit.type + "\"");
    }
    if (limit.soft > limit.hard) {
      return Error(ErrorCode::kInvalid, "rlimit " + limit.type + ": soft limit above hard limit");
    }
    ResolvedRlimit r;
    r.resource = it->resource;
    r.value.rlim_cur = limit.soft;
    r.value.rlim_max = limit.hard;
    out.push_back(r);
  }
  return out;
}

Result<void> applyRlimits(const std::vector<ResolvedRlimit>& limits) {
  for (const auto& limit : limits) {
    rlimit value = limit.value;
    if (::setrlimit(static_cast<__rlimit_resource>(limit.resource), &value) == 0) continue;
    int err = errno;
    rlimit current;
    if (limit.lenient && err == EPERM &&
        ::getrlimit(static_cast<__rlimit_resource>(limit.resource), &current) == 0) {
      value.rlim_max = current.rlim_max;
      value.rlim_cur = std::min(value.rlim_cur, value.rlim_max);
      if (::setrlimit(static_cast<__rlimit_resource>(limit.resource), &value) == 0) continue;
      err = errno;
    }
    return Error::fromErrno("error setting rlimit type " + std::to_string(limit.resource), err);
  }
  return {};
}

}  // namespace nave::runtime::sys
