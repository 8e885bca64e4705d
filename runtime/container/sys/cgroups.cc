// CgroupSet: cgroup v2 when the unified hierarchy has the controllers we limit with, else the
// v1 hierarchies (plus the unified one, controller-less, for membership only).
#include "runtime/container/sys/cgroups.h"

#include <fcntl.h>
#include <linux/bpf.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>
#include <thread>

#include "common/strings.h"
#include "runtime/container/sys/launcher.h"
#include "runtime/container/sys/syscalls.h"

namespace nave::runtime::sys {

namespace {

// The v1 controllers a container joins: the limited ones, and the others so that nothing
// escapes accounting and the freezer can stop everything.
constexpr const char* kV1Controllers[] = {"memory",  "cpu",   "cpuacct", "pids",
                                          "freezer", "devices", "blkio", "cpuset"};
// What v2 needs in cgroup.controllers to be used, and what we enable below our cgroups.
constexpr const char* kV2Required[] = {"memory", "cpu", "pids"};
constexpr const char* kV2Enabled[] = {"memory", "cpu", "pids", "io", "cpuset", "hugetlb"};

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool fileExists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  for (auto& w : split(trim(s), ' ')) {
    std::string t(trim(w));
    if (!t.empty()) out.push_back(t);
  }
  return out;
}

// The value of `key` in a flat-keyed file ("oom_kill 3\n...").
int64_t keyedValue(const std::string& text, std::string_view key) {
  for (const auto& line : split(text, '\n')) {
    auto parts = words(line);
    if (parts.size() == 2 && parts[0] == key) return std::strtoll(parts[1].c_str(), nullptr, 10);
  }
  return 0;
}

Result<void> validateCgroupPath(const std::string& parent, const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    return Error(ErrorCode::kInvalid, "invalid cgroup name \"" + name + "\"");
  }
  if (!parent.empty() && parent[0] == '/') {
    return Error(ErrorCode::kInvalid, "cgroup parent \"" + parent + "\" must be relative");
  }
  for (const auto& part : split(parent, '/')) {
    if (part == "." || part == "..") {
      return Error(ErrorCode::kInvalid, "invalid cgroup parent \"" + parent + "\"");
    }
  }
  return {};
}

std::string joinCgroupPath(const std::string& root, const std::string& parent,
                           const std::string& name) {
  std::string path = root;
  for (const auto& part : split(parent, '/')) {
    if (!part.empty()) path += "/" + part;
  }
  if (!name.empty()) path += "/" + name;
  return path;
}

struct CgroupDir {
  std::string root;  // the hierarchy's mount point
  bool v2 = false;
  std::vector<std::string> controllers;
  std::string path;
};

struct Layout {
  bool v2 = false;
  std::vector<CgroupDir> roots;
};

Result<Layout> detectLayout() {
  auto hierarchies = TRY(cgroupHierarchies());
  Layout layout;
  const CgroupHierarchy* unified = nullptr;
  for (const auto& h : hierarchies) {
    if (!h.v2) continue;
    if (!unified || h.mountPoint == "/sys/fs/cgroup") unified = &h;
  }
  if (unified && std::all_of(std::begin(kV2Required), std::end(kV2Required),
                             [&](const char* c) { return contains(unified->controllers, c); })) {
    layout.v2 = true;
    layout.roots.push_back({unified->mountPoint, true, unified->controllers, ""});
    return layout;
  }
  for (const auto& h : hierarchies) {
    if (h.v2 || !h.name.empty()) continue;
    bool wanted = std::any_of(std::begin(kV1Controllers), std::end(kV1Controllers),
                              [&](const char* c) { return contains(h.controllers, c); });
    if (wanted) layout.roots.push_back({h.mountPoint, false, h.controllers, ""});
  }
  if (unified) layout.roots.push_back({unified->mountPoint, true, {}, ""});
  if (layout.roots.empty()) {
    return Error(ErrorCode::kUnavailable, "no cgroup hierarchies are mounted (`ip netns exec` hides them by remounting /sys; "
                 "use `nsenter --net=/run/netns/NAME` instead)");
  }
  return layout;
}

Error cgroupError(Error e, const std::string& path) {
  if (e.is(ErrorCode::kForbidden)) {
    return Error(ErrorCode::kForbidden,
                 e.message() + " (the runtime cannot manage cgroups below " + path + ")");
  }
  return e;
}

// cpuset.cpus and cpuset.mems start empty in a new v1 cpuset cgroup, and a cgroup whose
// cpuset is empty takes no tasks: inherit the parent's.
Result<void> initCpuset(const std::string& dir) {
  std::string parent = dir.substr(0, dir.rfind('/'));
  for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
    std::string own = TRY(readFile(dir + "/" + file));
    if (!trim(own).empty()) continue;
    std::string inherited = TRY(readFile(parent + "/" + file));
    if (trim(inherited).empty()) continue;
    TRY(writeFile(dir + "/" + file, trim(inherited)));
  }
  return {};
}

// Creates `dir` and the missing levels between `root` and it.
Result<void> createLevels(const CgroupDir& d) {
  std::string rel = d.path.substr(d.root.size());
  std::string current = d.root;
  for (const auto& part : split(rel, '/')) {
    if (part.empty()) continue;
    std::string parentDir = current;
    current += "/" + part;
    if (d.v2 && d.root != current) {
      // Controllers must be enabled in the parent for the child to get their files.
      std::string available = readFile(parentDir + "/cgroup.controllers").ok()
                                  ? *readFile(parentDir + "/cgroup.controllers")
                                  : "";
      std::string enabled = TRY(readFile(parentDir + "/cgroup.subtree_control"));
      auto have = words(available), on = words(enabled);
      std::string add;
      for (const char* c : kV2Enabled) {
        if (contains(have, c) && !contains(on, c)) add += std::string(add.empty() ? "" : " ") + "+" + c;
      }
      if (!add.empty()) {
        auto r = writeFile(parentDir + "/cgroup.subtree_control", add);
        if (!r.ok()) return cgroupError(std::move(r).error(), parentDir);
      }
    }
    if (::mkdir(current.c_str(), 0755) != 0) {
      if (errno == EEXIST) continue;
      return cgroupError(Error::fromErrno("create cgroup " + current, errno), parentDir);
    }
    if (!d.v2 && contains(d.controllers, "cpuset")) TRY(initCpuset(current));
  }
  return {};
}

class CgroupSetImpl final : public CgroupSet {
 public:
  CgroupSetImpl(bool v2, std::vector<CgroupDir> dirs) : v2_(v2), dirs_(std::move(dirs)) {}

  Result<void> createDirs() {
    for (const auto& d : dirs_) TRY(createLevels(d));
    return {};
  }

  Result<void> applyLimits(const Resources& r) {
    if (v2_) return applyV2(r);
    return applyV1(r);
  }

  Result<void> addProcess(pid_t pid) const override {
    std::string text = std::to_string(pid);
    for (const auto& d : dirs_) {
      auto r = writeFile(d.path + "/cgroup.procs", text);
      if (!r.ok()) return std::move(r).error().context("join cgroup");
    }
    return {};
  }

  bool oomKilled() const override {
    const CgroupDir* mem = dirFor("memory");
    if (!mem) return false;
    auto text = readFile(mem->path + (v2_ ? "/memory.events" : "/memory.oom_control"));
    return text.ok() && keyedValue(*text, "oom_kill") > 0;
  }

  Result<void> restrictDevices() const override {
    if (v2_) return attachDeviceFilter(dirs_[0].path, defaultDeviceRules());
    const CgroupDir* devices = dirFor("devices");
    if (!devices) return {};
    TRY(writeFile(devices->path + "/devices.deny", "a"));
    for (const auto& rule : defaultDeviceRules()) {
      std::string line(1, rule.type);
      line += " " + (rule.major < 0 ? std::string("*") : std::to_string(rule.major)) + ":" +
              (rule.minor < 0 ? std::string("*") : std::to_string(rule.minor)) + " " + rule.access;
      TRY(writeFile(devices->path + "/devices.allow", line));
    }
    return {};
  }

  Result<void> destroy() override {
    killAll();
    using Clock = std::chrono::steady_clock;
    auto deadline = Clock::now() + std::chrono::seconds(10);
    for (const auto& d : dirs_) {
      for (int attempt = 0;; ++attempt) {
        if (::rmdir(d.path.c_str()) == 0 || errno == ENOENT) break;
        int err = errno;
        if ((err == EBUSY || err == EAGAIN) && Clock::now() < deadline) {
          if (attempt % 20 == 19) killAll();
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          continue;
        }
        return Error::fromErrno("remove cgroup " + d.path, err);
      }
    }
    return {};
  }

  std::vector<std::string> paths() const override {
    std::vector<std::string> out;
    for (const auto& d : dirs_) out.push_back(d.path);
    return out;
  }

  int64_t memoryUsage() const override {
    const CgroupDir* mem = dirFor("memory");
    if (!mem) return 0;
    auto text = readFile(mem->path + (v2_ ? "/memory.current" : "/memory.usage_in_bytes"));
    return text.ok() ? std::strtoll(text->c_str(), nullptr, 10) : 0;
  }

  int64_t cpuUsageNanos() const override {
    if (v2_) {
      auto text = readFile(dirs_[0].path + "/cpu.stat");
      return text.ok() ? keyedValue(*text, "usage_usec") * 1000 : 0;
    }
    const CgroupDir* acct = dirFor("cpuacct");
    if (!acct) return 0;
    auto text = readFile(acct->path + "/cpuacct.usage");
    return text.ok() ? std::strtoll(text->c_str(), nullptr, 10) : 0;
  }

 private:
  const CgroupDir* dirFor(std::string_view controller) const {
    for (const auto& d : dirs_) {
      if (v2_ ? d.v2 : (!d.v2 && contains(d.controllers, controller))) return &d;
    }
    return nullptr;
  }

  Result<const CgroupDir*> requireDir(std::string_view controller) const {
    const CgroupDir* d = dirFor(controller);
    if (!d) {
      return Error(ErrorCode::kUnavailable,
                   "the cgroup controller " + std::string(controller) + " is not available");
    }
    return d;
  }

  Result<void> applyV1(const Resources& r) {
    if (r.memoryLimitBytes > 0) {
      const CgroupDir* mem = TRY(requireDir("memory"));
      std::string limit = std::to_string(r.memoryLimitBytes);
      TRY(writeFile(mem->path + "/memory.limit_in_bytes", limit));
      // memory+swap equal to memory: no swapping beyond the limit (when swap is accounted).
      if (fileExists(mem->path + "/memory.memsw.limit_in_bytes")) {
        TRY(writeFile(mem->path + "/memory.memsw.limit_in_bytes", limit));
      }
    }
    if (r.cpuShares > 0) {
      const CgroupDir* cpu = TRY(requireDir("cpu"));
      TRY(writeFile(cpu->path + "/cpu.shares", std::to_string(r.cpuShares)));
    }
    if (r.cpuQuotaMicros > 0) {
      const CgroupDir* cpu = TRY(requireDir("cpu"));
      int64_t period = r.cpuPeriodMicros > 0 ? r.cpuPeriodMicros : 100000;
      TRY(writeFile(cpu->path + "/cpu.cfs_period_us", std::to_string(period)));
      TRY(writeFile(cpu->path + "/cpu.cfs_quota_us", std::to_string(r.cpuQuotaMicros)));
    }
    if (r.pidsLimit > 0) {
      const CgroupDir* pids = TRY(requireDir("pids"));
      TRY(writeFile(pids->path + "/pids.max", std::to_string(r.pidsLimit)));
    }
    return {};
  }

  Result<void> applyV2(const Resources& r) {
    const std::string& dir = dirs_[0].path;
    if (r.memoryLimitBytes > 0) {
      TRY(writeFile(dir + "/memory.max", std::to_string(r.memoryLimitBytes)));
      if (fileExists(dir + "/memory.swap.max")) TRY(writeFile(dir + "/memory.swap.max", "0"));
    }
    if (r.cpuShares > 0) {
      TRY(writeFile(dir + "/cpu.weight",
                    std::to_string(cpuSharesToWeight(static_cast<uint64_t>(r.cpuShares)))));
    }
    if (r.cpuQuotaMicros > 0) {
      int64_t period = r.cpuPeriodMicros > 0 ? r.cpuPeriodMicros : 100000;
      TRY(writeFile(dir + "/cpu.max",
                    std::to_string(r.cpuQuotaMicros) + " " + std::to_string(period)));
    }
    if (r.pidsLimit > 0) TRY(writeFile(dir + "/pids.max", std::to_string(r.pidsLimit)));
    return {};
  }

  std::set<pid_t> members() const {
    std::set<pid_t> pids;
    for (const auto& d : dirs_) {
      auto text = readFile(d.path + "/cgroup.procs");
      if (!text.ok()) continue;
      for (const auto& line : split(*text, '\n')) {
        if (!line.empty()) pids.insert(static_cast<pid_t>(std::atoi(line.c_str())));
      }
    }
    return pids;
  }

  // SIGKILL to every member. Frozen first where possible, so that nothing forks meanwhile.
  void killAll() {
    if (v2_ || !dirFor("freezer")) {
      if (v2_ && fileExists(dirs_[0].path + "/cgroup.kill")) {
        (void)writeFile(dirs_[0].path + "/cgroup.kill", "1");
        return;
      }
      for (int round = 0; round < 10; ++round) {
        auto pids = members();
        if (pids.empty()) return;
        for (pid_t pid : pids) ::kill(pid, SIGKILL);
      }
      return;
    }
    const std::string state = dirFor("freezer")->path + "/freezer.state";
    if (members().empty()) return;
    bool frozen = writeFile(state, "FROZEN").ok();
    for (int i = 0; frozen && i < 200; ++i) {
      auto text = readFile(state);
      if (!text.ok() || trim(*text) == "FROZEN") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    for (pid_t pid : members()) ::kill(pid, SIGKILL);
    if (frozen) (void)writeFile(state, "THAWED");
  }

  bool v2_;
  std::vector<CgroupDir> dirs_;
};

Result<std::unique_ptr<CgroupSetImpl>> makeSet(const std::string& parent, const std::string& name) {
  TRY(validateCgroupPath(parent, name));
  Layout layout = TRY(detectLayout());
  std::vector<CgroupDir> dirs;
  for (auto d : layout.roots) {
    d.path = joinCgroupPath(d.root, parent, name);
    dirs.push_back(std::move(d));
  }
  return std::make_unique<CgroupSetImpl>(layout.v2, std::move(dirs));
}

}  // namespace

Result<std::vector<CgroupHierarchy>> readCgroupHierarchies();

// A line per hierarchy: mount point, "1" for v2 or "0", name, controllers joined by commas;
// tab-separated. (Mount points may hold commas: /sys/fs/cgroup/cpu,cpuacct.)
std::string encodeCgroupHierarchies(const std::vector<CgroupHierarchy>& hierarchies) {
  auto plain = [](const std::string& s, const char* separators) {
    return s.find_first_of(separators) == std::string::npos;
  };
  std::string out;
  for (const CgroupHierarchy& h : hierarchies) {
    if (!plain(h.mountPoint, "\t\n") || !plain(h.name, "\t\n") || h.mountPoint.empty()) return "";
    out += h.mountPoint + "\t" + (h.v2 ? "1" : "0") + "\t" + h.name + "\t";
    for (size_t i = 0; i < h.controllers.size(); ++i) {
      if (!plain(h.controllers[i], "\t\n,")) return "";
      out += (i ? "," : "") + h.controllers[i];
    }
    out += "\n";
  }
  return out;
}

std::vector<CgroupHierarchy> decodeCgroupHierarchies(std::string_view text) {
  std::vector<CgroupHierarchy> out;
  for (const std::string& line : split(std::string(text), '\n')) {
    if (line.empty()) continue;
    auto fields = split(line, '\t');
    if (fields.size() != 4 || fields[0].empty() || fields[0][0] != '/' || (fields[1] != "0" && fields[1] != "1"))
      return {};
    CgroupHierarchy h;
    h.mountPoint = fields[0];
    h.v2 = fields[1] == "1";
    h.name = fields[2];
    if (!fields[3].empty()) h.controllers = split(fields[3], ',');
    out.push_back(std::move(h));
  }
  return out;
}

Result<std::vector<CgroupHierarchy>> cgroupHierarchies() {
  // Read once per few seconds: a shim asks twice while it sets a container up, and on a node
  // with many pods /proc/self/mountinfo is hundreds of lines (~1 ms to produce). Hierarchies
  // are mounted at boot, not while containers start.
  static std::mutex mu;
  static std::vector<CgroupHierarchy> cached;
  static std::chrono::steady_clock::time_point readAt;
  std::lock_guard lock(mu);
  auto now = std::chrono::steady_clock::now();
  if (!cached.empty() && now - readAt < std::chrono::seconds(5)) return cached;
  if (cached.empty()) {
    if (const char* given = ::getenv(kCgroupHierarchiesEnv); given != nullptr && *given != 0) {
      if (auto decoded = decodeCgroupHierarchies(given); !decoded.empty()) {
        cached = std::move(decoded);
        readAt = now;
        return cached;
      }
    }
  }
  cached = TRY(readCgroupHierarchies());
  readAt = now;
  return cached;
}

Result<std::vector<CgroupHierarchy>> readCgroupHierarchies() {
  auto mounts = TRY(readMountInfo());
  std::vector<CgroupHierarchy> out;
  std::set<std::string> seen;  // a hierarchy mounted twice is listed once
  for (const auto& m : mounts) {
    if (m.fsType != "cgroup" && m.fsType != "cgroup2") continue;
    CgroupHierarchy h;
    h.mountPoint = m.mountPoint;
    h.v2 = m.fsType == "cgroup2";
    std::string key = m.fsType + ":" + m.superOptions;
    if (h.v2) {
      auto text = readFile(m.mountPoint + "/cgroup.controllers");
      if (text.ok()) h.controllers = words(*text);
    } else {
      for (const auto& opt : split(m.superOptions, ',')) {
        if (opt.rfind("name=", 0) == 0) {
          h.name = opt;
        } else if (std::any_of(std::begin(kV1Controllers), std::end(kV1Controllers),
                               [&](const char* c) { return opt == c; }) ||
                   opt == "net_cls" || opt == "net_prio" || opt == "perf_event" ||
                   opt == "hugetlb" || opt == "rdma" || opt == "misc") {
          h.controllers.push_back(opt);
        }
      }
    }
    if (!seen.insert(key).second) continue;
    out.push_back(std::move(h));
  }
  return out;
}

const std::vector<DeviceRule>& defaultDeviceRules() {
  static const std::vector<DeviceRule> rules = {
      {'c', -1, -1, "m"},   {'b', -1, -1, "m"},                         // mknod of anything
      {'c', 1, 3, "rwm"},   {'c', 1, 5, "rwm"},   {'c', 1, 7, "rwm"},   // null, zero, full
      {'c', 1, 8, "rwm"},   {'c', 1, 9, "rwm"},                         // random, urandom
      {'c', 5, 0, "rwm"},   {'c', 5, 1, "rwm"},   {'c', 5, 2, "rwm"},   // tty, console, ptmx
      {'c', 136, -1, "rwm"},                                            // /dev/pts/N
      {'c', 10, 200, "rwm"},                                            // /dev/net/tun
  };
  return rules;
}

uint64_t cpuSharesToWeight(uint64_t shares) {
  shares = std::clamp<uint64_t>(shares, 2, 262144);
  return 1 + ((shares - 2) * 9999) / 262142;
}

namespace {

// bpf_insn without its bitfields (GCC 12 misreports stores into vectors of it).
struct Insn {
  uint8_t code;
  uint8_t regs;  // dst in the low nibble, src in the high one (little-endian bitfield order)
  int16_t off;
  int32_t imm;
};
static_assert(sizeof(Insn) == sizeof(bpf_insn));

Insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint8_t regs = static_cast<uint8_t>((dst & 0xf) | ((src & 0xf) << 4));
#else
  uint8_t regs = static_cast<uint8_t>(((dst & 0xf) << 4) | (src & 0xf));
#endif
  return Insn{code, regs, off, imm};
}

}  // namespace

Result<void> attachDeviceFilter(const std::string& cgroupDir, const std::vector<DeviceRule>& rules) {
  // The context is struct bpf_cgroup_dev_ctx { u32 access_type (access << 16 | type);
  // u32 major; u32 minor; }. r2 = type, r3 = access, r4 = major, r5 = minor; each rule is a
  // block that falls through to the next one on mismatch and returns 1 on a match.
  std::vector<Insn> prog;
  prog.push_back(insn(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0, 0));
  prog.push_back(insn(BPF_ALU | BPF_AND | BPF_K, 2, 0, 0, 0xffff));
  prog.push_back(insn(BPF_LDX | BPF_MEM | BPF_W, 3, 1, 0, 0));
  prog.push_back(insn(BPF_ALU | BPF_RSH | BPF_K, 3, 0, 0, 16));
  prog.push_back(insn(BPF_LDX | BPF_MEM | BPF_W, 4, 1, 4, 0));
  prog.push_back(insn(BPF_LDX | BPF_MEM | BPF_W, 5, 1, 8, 0));
  for (const auto& rule : rules) {
    std::vector<Insn> block;
    // Jump offsets are patched to the end of the block once its length is known.
    std::vector<size_t> jumps;
    if (rule.type != 'a') {
      jumps.push_back(block.size());
      block.push_back(insn(BPF_JMP | BPF_JNE | BPF_K, 2, 0, 0,
                           rule.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR));
    }
    int32_t access = 0;
    if (rule.access.find('m') != std::string::npos) access |= BPF_DEVCG_ACC_MKNOD;
    if (rule.access.find('r') != std::string::npos) access |= BPF_DEVCG_ACC_READ;
    if (rule.access.find('w') != std::string::npos) access |= BPF_DEVCG_ACC_WRITE;
    if (access != (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE)) {
      // Every requested access bit must be in the rule: (access & ~allowed) == 0.
      block.push_back(insn(BPF_ALU | BPF_MOV | BPF_X, 1, 3, 0, 0));
      block.push_back(insn(BPF_ALU | BPF_AND | BPF_K, 1, 0, 0, ~access));
      jumps.push_back(block.size());
      block.push_back(insn(BPF_JMP | BPF_JNE | BPF_K, 1, 0, 0, 0));
    }
    if (rule.major >= 0) {
      jumps.push_back(block.size());
      block.push_back(insn(BPF_JMP | BPF_JNE | BPF_K, 4, 0, 0, static_cast<int32_t>(rule.major)));
    }
    if (rule.minor >= 0) {
      jumps.push_back(block.size());
      block.push_back(insn(BPF_JMP | BPF_JNE | BPF_K, 5, 0, 0, static_cast<int32_t>(rule.minor)));
    }
    block.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 1));
    block.push_back(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
    for (size_t j : jumps) block[j].off = static_cast<int16_t>(block.size() - j - 1);
    prog.insert(prog.end(), block.begin(), block.end());
  }
  prog.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0));
  prog.push_back(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));

  static const char kLicense[] = "Apache";
  union bpf_attr load;
  std::memset(&load, 0, sizeof load);
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = reinterpret_cast<uint64_t>(prog.data());
  load.insn_cnt = static_cast<uint32_t>(prog.size());
  load.license = reinterpret_cast<uint64_t>(kLicense);
  UniqueFd progFd(static_cast<int>(::syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load)));
  if (!progFd) return Error::fromErrno("load the device cgroup program", errno);

  UniqueFd dirFd(::open(cgroupDir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dirFd) return Error::fromErrno("open " + cgroupDir, errno);
  union bpf_attr attach;
  std::memset(&attach, 0, sizeof attach);
  attach.target_fd = static_cast<uint32_t>(dirFd.get());
  attach.attach_bpf_fd = static_cast<uint32_t>(progFd.get());
  attach.attach_type = BPF_CGROUP_DEVICE;
  attach.attach_flags = BPF_F_ALLOW_MULTI;
  if (::syscall(SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof attach) != 0) {
    return Error::fromErrno("attach the device cgroup program to " + cgroupDir, errno);
  }
  return {};
}

Result<std::unique_ptr<CgroupSet>> CgroupSet::create(const std::string& parent,
                                                     const std::string& name,
                                                     const Resources& resources) {
  auto set = TRY(makeSet(parent, name));
  auto created = set->createDirs();
  if (created.ok()) created = set->applyLimits(resources);
  if (!created.ok()) {
    (void)set->destroy();
    return std::move(created).error();
  }
  return std::unique_ptr<CgroupSet>(std::move(set));
}

Result<std::unique_ptr<CgroupSet>> CgroupSet::open(const std::string& parent,
                                                   const std::string& name) {
  auto set = TRY(makeSet(parent, name));
  auto dirs = set->paths();
  if (std::none_of(dirs.begin(), dirs.end(), [](const std::string& d) { return fileExists(d); })) {
    return Error(ErrorCode::kNotFound, "no cgroup " + (parent.empty() ? "" : parent + "/") + name);
  }
  return std::unique_ptr<CgroupSet>(std::move(set));
}

Result<void> CgroupSet::removeParent(const std::string& parent) {
  if (parent.empty()) return {};
  TRY(validateCgroupPath(parent, "x"));
  Layout layout = TRY(detectLayout());
  std::vector<std::string> levels;
  std::string rel;
  for (const auto& part : split(parent, '/')) {
    if (part.empty()) continue;
    rel += (rel.empty() ? "" : "/") + part;
    levels.push_back(rel);
  }
  for (const auto& root : layout.roots) {
    for (auto it = levels.rbegin(); it != levels.rend(); ++it) {
      std::string dir = joinCgroupPath(root.root, *it, "");
      if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) break;  // busy: still in use
    }
  }
  return {};
}

}  // namespace nave::runtime::sys
