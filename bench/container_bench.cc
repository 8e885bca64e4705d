// container_bench: create + start + wait + remove of a busybox `true` container, nave's
// runtime against runc on an equivalent bundle, interleaved in one run; then the memory of an
// idle shim (alone, and while a second one runs: the per-container cost).
//
//   container_bench [--runs N] [--dir DIR] [--shim PATH] [--runc PATH] [--no-runc]
//                   [--unconfined]
//
// Needs root. Both runtimes get the same busybox root filesystem directory (built here from
// /bin/busybox), new pid, mount, ipc, uts and network namespaces, Docker's default
// capabilities and Docker's default seccomp profile. runc's bundle is `runc spec` with the
// process set to `true`, no terminal, a writable root, those capabilities and the profile
// (its conditional rules resolved for those capabilities, as Docker does before it hands a
// spec to runc). runc is timed twice: `runc run` (create + start + wait + delete in one
// command, its cheapest form) and `runc create`, `runc start`, wait, `runc delete` (one
// command per operation, as containerd's shim drives it and as nave's API splits the
// lifecycle; the target compares with this one). The shim is this program
// (`container_bench shim ...`) unless --shim names another binary that routes `shim` to
// nave::runtime::shimMain (build/nave).
//
// --unconfined runs nave's containers without seccomp (a diagnostic: what compiling the
// profile costs; runc keeps its profile-less default spec either way).
//
// Also measured, as the floor: `unshare --fork --pid --mount --uts --ipc --net chroot ROOTFS
// true` (util-linux; no cgroups, no mounts, no security settings).
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/stats.h"
#include "common/json.h"
#include "runtime/container/container_runtime.h"
#include "runtime/container/state_file.h"
#include "runtime/container/sys/seccomp.h"
#include "runtime/container/sys/security.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;
using nave::runtime::ContainerRuntime;
using nave::runtime::ContainerSpec;

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double percentile(std::vector<double> v, double p) { return nave::bench::quantileNearest(std::move(v), p); }

// Runs argv with stdio on /dev/null (stdout captured into *out when given); the exit status.
int runProgram(const std::vector<std::string>& args, std::string* out = nullptr) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int pipeFds[2] = {-1, -1};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (out) {
    if (::pipe2(pipeFds, O_CLOEXEC) != 0) return -1;
    posix_spawn_file_actions_adddup2(&actions, pipeFds[1], 1);
  } else {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  }
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  int err = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (out) {
    ::close(pipeFds[1]);
    char buf[4096];
    ssize_t n;
    while ((n = ::read(pipeFds[0], buf, sizeof buf)) > 0) out->append(buf, static_cast<size_t>(n));
    ::close(pipeFds[0]);
  }
  if (err != 0) return -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool makeBusyboxRootfs(const std::string& dir) {
  std::error_code ec;
  for (const char* d : {"bin", "etc", "proc", "sys", "dev", "tmp", "root"})
    fs::create_directories(dir + "/" + d, ec);
  fs::copy_file("/bin/busybox", dir + "/bin/busybox", fs::copy_options::overwrite_existing, ec);
  if (ec) return false;
  std::string list;
  runProgram({"/bin/busybox", "--list"}, &list);
  std::istringstream applets(list);
  std::string name;
  while (std::getline(applets, name)) {
    if (name.empty() || name == "busybox") continue;
    fs::create_symlink("busybox", dir + "/bin/" + name, ec);
  }
  std::ofstream(dir + "/etc/passwd") << "root:x:0:0:root:/root:/bin/sh\n"
                                        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
  std::ofstream(dir + "/etc/group") << "root:x:0:\nnogroup:x:65534:\n";
  return fs::exists(dir + "/bin/true");
}

// Docker's default profile as the OCI linux.seccomp section Docker gives runc for a
// container holding `caps`.
nave::Json ociSeccomp(uint64_t caps) {
  namespace sys = nave::runtime::sys;
  const sys::SeccompProfile& profile = sys::dockerDefaultProfile();
  auto hasCap = [&](const std::string& name) {
    auto cap = sys::capabilityFromName(name);
    return cap.ok() && (caps >> *cap & 1);
  };
  auto nativeArch = [](const std::vector<std::string>& arches) {
    return std::find(arches.begin(), arches.end(), "amd64") != arches.end();
  };
  nave::Json arches = nave::Json::array();
  for (const auto& [arch, subs] : profile.archMap) {
    if (arch != "SCMP_ARCH_X86_64") continue;
    arches.push_back(arch);
    for (const std::string& sub : subs) arches.push_back(sub);
  }
  nave::Json syscalls = nave::Json::array();
  for (const sys::SeccompRule& rule : profile.rules) {
    bool include = true;
    for (const std::string& c : rule.includes.caps) include = include && hasCap(c);
    if (!rule.includes.arches.empty() && !nativeArch(rule.includes.arches)) include = false;
    for (const std::string& c : rule.excludes.caps) include = include && !hasCap(c);
    if (!rule.excludes.arches.empty() && nativeArch(rule.excludes.arches)) include = false;
    if (!include) continue;
    nave::Json entry = {{"names", rule.names}, {"action", rule.action}};
    if (rule.errnoRet) entry["errnoRet"] = *rule.errnoRet;
    nave::Json args = nave::Json::array();
    for (const sys::SeccompArg& a : rule.args)
      args.push_back({{"index", a.index}, {"value", a.value}, {"valueTwo", a.valueTwo}, {"op", a.op}});
    if (!args.empty()) entry["args"] = args;
    syscalls.push_back(entry);
  }
  nave::Json out = {{"defaultAction", profile.defaultAction}, {"architectures", arches}, {"syscalls", syscalls}};
  if (profile.defaultErrnoRet) out["defaultErrnoRet"] = *profile.defaultErrnoRet;
  return out;
}

bool makeRuncBundle(const std::string& runc, const std::string& bundle, const std::string& rootfs) {
  fs::create_directories(bundle);
  std::error_code ec;
  fs::remove(bundle + "/config.json", ec);
  if (runProgram({runc, "spec", "--bundle", bundle}) != 0) return false;
  std::ifstream in(bundle + "/config.json");
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = nave::parseJson(text.str());
  if (!parsed.ok()) return false;
  nave::Json config = parsed->value;
  config["process"]["terminal"] = false;
  config["process"]["args"] = nave::Json::array({"true"});
  config["root"]["path"] = rootfs;
  config["root"]["readonly"] = false;
  uint64_t caps = nave::runtime::sys::defaultCapabilities();
  nave::Json capNames = nave::Json::array();
  for (int c = 0; c < 64; ++c)
    if (caps >> c & 1) capNames.push_back(nave::runtime::sys::capabilityName(c));
  for (const char* set : {"bounding", "effective", "permitted"}) config["process"]["capabilities"][set] = capNames;
  config["linux"]["seccomp"] = ociSeccomp(caps);
  std::printf("runc bundle: %zu capabilities, Docker's seccomp profile (%zu rules)\n", capNames.size(),
              config["linux"]["seccomp"]["syscalls"].size());
  std::ofstream(bundle + "/config.json") << nave::dumpJson(config);
  return true;
}

struct Series {
  std::vector<double> total, create, start, wait, remove;
};

void printRow(const char* what, std::vector<double>& v) {
  if (v.empty()) return;
  double sum = 0;
  for (double x : v) sum += x;
  std::printf("  %-28s median %7.2f ms   p90 %7.2f ms   mean %7.2f ms   min %7.2f ms\n", what,
              percentile(v, 0.5), percentile(v, 0.9), sum / static_cast<double>(v.size()),
              *std::min_element(v.begin(), v.end()));
}

struct Smaps {
  long rss = 0, pss = 0, privateClean = 0, privateDirty = 0;
};

Smaps readSmapsRollup(pid_t pid) {
  Smaps s;
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string key;
  long value;
  std::string unit;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream l(line);
    if (!(l >> key >> value)) continue;
    if (key == "Rss:") s.rss = value;
    else if (key == "Pss:") s.pss = value;
    else if (key == "Private_Clean:") s.privateClean = value;
    else if (key == "Private_Dirty:") s.privateDirty = value;
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "shim") == 0)
    return nave::runtime::shimMain(std::vector<std::string>(argv + 2, argv + argc));
  int runs = 100;
  std::string dir = "/var/tmp";
  std::string shim = "/proc/self/exe";
  std::string runc = "runc";
  bool withRunc = true;
  bool unconfined = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) runs = std::atoi(argv[++i]);
    else if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (a == "--shim" && i + 1 < argc) shim = argv[++i];
    else if (a == "--runc" && i + 1 < argc) runc = argv[++i];
    else if (a == "--no-runc") withRunc = false;
    else if (a == "--unconfined") unconfined = true;
    else {
      std::fprintf(stderr, "usage: %s [--runs N] [--dir DIR] [--shim PATH] [--runc PATH] [--no-runc] [--unconfined]\n", argv[0]);
      return 2;
    }
  }
  if (::geteuid() != 0) {
    std::fprintf(stderr, "container_bench needs root\n");
    return 2;
  }
  // A freshly linked binary's page cache is dirty until written back, and smaps counts its
  // mapped pages as Private_Dirty: write it back first, so the shim's figure is the shim's.
  if (int fd = ::open(shim.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
    (void)::fdatasync(fd);
    ::close(fd);
  }
  std::string work = dir + "/nave-container-bench-" + std::to_string(::getpid());
  std::string rootfs = work + "/rootfs";
  if (!makeBusyboxRootfs(rootfs)) {
    std::fprintf(stderr, "cannot build a busybox rootfs in %s\n", rootfs.c_str());
    return 1;
  }
  auto opened = ContainerRuntime::open(work + "/containers", shim);
  if (!opened.ok()) {
    std::fprintf(stderr, "open runtime: %s\n", opened.error().message().c_str());
    return 1;
  }
  ContainerRuntime& rt = **opened;
  std::string bundle = work + "/bundle";
  if (withRunc && !makeRuncBundle(runc, bundle, rootfs)) {
    std::fprintf(stderr, "runc spec failed; run with --no-runc to skip runc\n");
    withRunc = false;
  }
  std::string runcVersion;
  if (withRunc) runProgram({runc, "--version"}, &runcVersion);
  bool withUnshare = runProgram({"unshare", "--fork", "--pid", "--mount", "--uts", "--ipc", "--net",
                                 "chroot", rootfs, "true"}) == 0;

  std::printf("container create+start+wait+remove of busybox `true`, %d runs each, interleaved\n", runs);
  std::printf("shim: %s%s; runc: %s\n\n", shim.c_str(), unconfined ? " (seccomp unconfined)" : "",
              withRunc ? runcVersion.substr(0, runcVersion.find('\n')).c_str() : "skipped");
  Series nave, runcSeries, runcSteps, unshare;
  int failures = 0;
  for (int i = 0; i < runs + 1; ++i) {  // the first round warms caches and is not counted
    bool counted = i > 0;
    std::string id = "bench-" + std::to_string(i);
    ContainerSpec spec;
    spec.id = id;
    spec.rootfs = rootfs;
    spec.process.args = {"true"};
    if (unconfined) spec.security.seccomp = nave::runtime::SeccompMode::kUnconfined;
    auto t0 = Clock::now();
    auto created = rt.create(spec);
    auto t1 = Clock::now();
    auto started = created.ok() ? rt.start(id) : nave::Result<void>(created.error());
    auto t2 = Clock::now();
    auto waited = started.ok() ? rt.wait(id, std::chrono::seconds(30))
                               : nave::Result<nave::runtime::ContainerStatus>(started.error());
    auto t3 = Clock::now();
    auto removed = rt.remove(id);
    auto t4 = Clock::now();
    if (!waited.ok() || waited->exitCode != 0 || !removed.ok()) {
      ++failures;
      std::fprintf(stderr, "nave run %d failed: %s\n", i,
                   !waited.ok() ? waited.error().message().c_str()
                   : !removed.ok() ? removed.error().message().c_str()
                                   : ("exit code " + std::to_string(waited->exitCode)).c_str());
    } else if (counted) {
      nave.total.push_back(ms(t4 - t0));
      nave.create.push_back(ms(t1 - t0));
      nave.start.push_back(ms(t2 - t1));
      nave.wait.push_back(ms(t3 - t2));
      nave.remove.push_back(ms(t4 - t3));
    }
    if (withRunc) {
      auto r0 = Clock::now();
      int rc = runProgram({runc, "--root", work + "/runc-state", "run", "--bundle", bundle, "runc-" + id});
      auto r1 = Clock::now();
      if (rc != 0) {
        ++failures;
        std::fprintf(stderr, "runc run %d exited %d\n", i, rc);
      } else if (counted) {
        runcSeries.total.push_back(ms(r1 - r0));
      }
    }
    if (withRunc) {
      // The lifecycle as containerd's shim drives runc: one runc command per operation.
      std::string state = work + "/runc-state", name = "runc-steps-" + id;
      std::string pidFile = work + "/runc-steps.pid";
      auto r0 = Clock::now();
      int rc = runProgram({runc, "--root", state, "create", "--bundle", bundle, "--pid-file",
                           pidFile, name});
      int pidfd = -1;
      if (rc == 0) {
        std::ifstream in(pidFile);
        pid_t pid = 0;
        in >> pid;
        pidfd = pid > 0 ? static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)) : -1;
        rc = runProgram({runc, "--root", state, "start", name});
      }
      if (rc == 0 && pidfd >= 0) {
        pollfd p{pidfd, POLLIN, 0};
        (void)::poll(&p, 1, 30000);
      }
      if (pidfd >= 0) ::close(pidfd);
      int deleted = runProgram({runc, "--root", state, "delete", "--force", name});
      auto r1 = Clock::now();
      if (rc != 0 || deleted != 0) {
        ++failures;
        std::fprintf(stderr, "runc create/start/delete %d failed (%d, %d)\n", i, rc, deleted);
      } else if (counted) {
        runcSteps.total.push_back(ms(r1 - r0));
      }
    }
    if (withUnshare) {
      auto u0 = Clock::now();
      int rc = runProgram({"unshare", "--fork", "--pid", "--mount", "--uts", "--ipc", "--net", "chroot", rootfs, "true"});
      auto u1 = Clock::now();
      if (rc == 0 && counted) unshare.total.push_back(ms(u1 - u0));
    }
  }
  std::printf("nave (ContainerRuntime, in-process client):\n");
  printRow("create+start+wait+remove", nave.total);
  printRow("  create", nave.create);
  printRow("  start", nave.start);
  printRow("  wait", nave.wait);
  printRow("  remove", nave.remove);
  if (withRunc) {
    std::printf("runc (runc run = create+start+wait+delete in one command):\n");
    printRow("runc run", runcSeries.total);
    std::printf("runc (runc create, runc start, wait, runc delete: as containerd drives it):\n");
    printRow("runc create/start/delete", runcSteps.total);
  }
  if (withUnshare) {
    std::printf("floor (unshare + chroot, no cgroups or mounts):\n");
    printRow("unshare+chroot true", unshare.total);
  }
  if (withRunc && !nave.total.empty() && !runcSeries.total.empty()) {
    double a = percentile(nave.total, 0.5), b = percentile(runcSeries.total, 0.5);
    std::printf("\nmedian nave / runc run = %.2f / %.2f ms = %.3f (%.1fx faster)\n", a, b, a / b, b / a);
    if (!runcSteps.total.empty()) {
      double c = percentile(runcSteps.total, 0.5);
      std::printf("median nave / runc create+start+delete = %.2f / %.2f ms = %.3f (%.1fx faster; "
                  "target <= 0.25)\n", a, c, a / c, c / a);
    }
  }

  // Idle shims: containers that sleep, measured once their shims have settled. A shim's
  // private memory is its own dirty pages plus the pages of the nave binary that no other
  // process maps. The latter are page cache shared with every other shim (and the agent), so
  // the figure that grows with the number of containers is "one of two": measured while a
  // second idle shim runs. The shim alone is printed too.
  auto startIdle = [&](const std::string& id) -> pid_t {
    ContainerSpec idle;
    idle.id = id;
    idle.rootfs = rootfs;
    idle.process.args = {"sleep", "1000"};
    if (!rt.create(idle).ok() || !rt.start(idle.id).ok()) return -1;
    auto state = nave::runtime::readShimState(work + "/containers/" + id + "/state.json");
    return state.ok() ? state->shimPid : -1;
  };
  auto printShim = [](const char* what, pid_t pid) {
    Smaps s = readSmapsRollup(pid);
    std::printf("%s (pid %d): Rss %ld kB, Pss %ld kB, Private_Clean %ld kB + Private_Dirty %ld kB "
                "= private %ld kB\n",
                what, pid, s.rss, s.pss, s.privateClean, s.privateDirty,
                s.privateClean + s.privateDirty);
    return s.privateClean + s.privateDirty;
  };
  bool idleFailed = false;
  pid_t first = startIdle("bench-idle-1");
  if (first > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    std::printf("\n");
    printShim("one idle shim, alone        ", first);
    pid_t second = startIdle("bench-idle-2");
    if (second > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      long priv = printShim("one idle shim of two       ", first);
      std::printf("idle shim private memory (one of two): %ld kB (target < 1024 kB)\n", priv);
    } else {
      idleFailed = true;
    }
  } else {
    idleFailed = true;
  }
  for (const char* id : {"bench-idle-1", "bench-idle-2"}) {
    (void)rt.stop(id, std::chrono::seconds(0));
    (void)rt.remove(id);
  }
  if (idleFailed) {
    ++failures;
    std::fprintf(stderr, "idle containers failed to start\n");
  }
  std::error_code ec;
  fs::remove_all(work, ec);
  return failures == 0 ? 0 : 1;
}
