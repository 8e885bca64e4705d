// Containers on the real kernel: isolation, security, users, rlimits, exec and sandboxes.
#include "runtime/container/sys/launcher.h"

#include <gtest/gtest.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/mount.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "runtime/container/sys/seccomp.h"
#include "runtime/container/sys/security.h"
#include "tests/runtime/container/sys/test_support.h"

namespace nave::runtime::sys {
namespace {

using namespace testing;  // NOLINT

class LauncherTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!missingPrerequisite().empty()) return;
    dir_ = new TempDir();
    buildBusyboxRootfs(rootfs());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string rootfs() { return dir_->path() + "/rootfs"; }

  void SetUp() override {
    std::string missing = missingPrerequisite();
    if (!missing.empty()) GTEST_SKIP() << "skipped: " << missing;
  }

  void TearDown() override {
    if (!dir_) return;
    EXPECT_TRUE(eventually([] { return mountsUnder(dir_->path()).empty(); }))
        << "mounts left under " << dir_->path();
  }

  ContainerSpec makeSpec(std::vector<std::string> args) {
    ContainerSpec spec;
    spec.id = "c" + std::to_string(++counter_) + "-test-container";
    spec.rootfs = rootfs();
    spec.process.args = std::move(args);
    return spec;
  }

  RunResult run(const ContainerSpec& spec) {
    LaunchSpec launch;
    launch.spec = &spec;
    return runToCompletion(launch);
  }

  // Runs `script` under sh -c and returns its output (expects exit 0).
  std::string sh(const std::string& script, ContainerSpec spec = {}) {
    if (spec.rootfs.empty()) spec = makeSpec({});
    spec.process.args = {"sh", "-c", script};
    auto r = run(spec);
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.exitCode(), 0) << script << "\n" << r.output;
    return r.output;
  }

  static inline TempDir* dir_ = nullptr;
  static inline int counter_ = 0;
};

TEST_F(LauncherTest, RunsACommandAndReturnsItsExitCode) {
  auto r = run(makeSpec({"echo", "hello"}));
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.output, "hello\n");
  EXPECT_EQ(r.exitCode(), 0);
  auto failing = run(makeSpec({"sh", "-c", "exit 3"}));
  EXPECT_EQ(failing.exitCode(), 3);
}


TEST_F(LauncherTest, SeesOnlyItsOwnProcessesAndIsPid1) {
  // The glob is expanded by sh itself: no other process exists meanwhile.
  EXPECT_EQ(sh("echo pid=$$; echo /proc/[0-9]*"), "pid=1\n/proc/1\n");
}

TEST_F(LauncherTest, HasItsOwnHostname) {
  std::string host = shellOutput("hostname");
  auto spec = makeSpec({});
  spec.hostname = "inside";
  EXPECT_EQ(sh("hostname", spec), "inside\n");
  auto byId = makeSpec({});
  byId.id = "0123456789abcdef0123";
  EXPECT_EQ(sh("hostname", byId), "0123456789ab\n");
  EXPECT_EQ(shellOutput("hostname"), host);
}

TEST_F(LauncherTest, HasOnlyLoopbackInItsOwnNetwork) {
  std::string out = sh("cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '; ip link show lo");
  EXPECT_EQ(out.substr(0, 3), "lo\n") << out;
  EXPECT_NE(out.find("UP"), std::string::npos) << out;
}

TEST_F(LauncherTest, CannotMount) {
  auto r = run(makeSpec({"sh", "-c", "mkdir -p /mnt && mount -t tmpfs none /mnt"}));
  EXPECT_NE(r.exitCode(), 0);
  EXPECT_NE(r.output.find("permission denied"), std::string::npos) << r.output;
  EXPECT_EQ(sh("mount -t tmpfs none /tmp 2>/dev/null; grep -c ' /tmp ' /proc/self/mountinfo || true"),
            "0\n");
}

TEST_F(LauncherTest, MasksKernelFiles) {
  auto r = run(makeSpec({"cat", "/proc/kcore"}));
  EXPECT_NE(r.exitCode(), 0) << r.output;
  // Files that exist are hidden behind /dev/null, directories behind an empty read-only tmpfs.
  if (::access("/proc/timer_list", F_OK) == 0) {
    EXPECT_EQ(sh("wc -c < /proc/timer_list"), "0\n");
  }
  if (::access("/proc/acpi", F_OK) == 0) {
    EXPECT_EQ(sh("ls -A /proc/acpi | wc -l; touch /proc/acpi/x 2>/dev/null || echo refused"),
              "0\nrefused\n");
  }
}

TEST_F(LauncherTest, ProcSysAndSysAreReadOnly) {
  EXPECT_EQ(sh("(echo x > /proc/sys/kernel/hostname) 2>/dev/null || echo refused"), "refused\n");
  EXPECT_EQ(sh("grep ' /proc/sys ' /proc/self/mountinfo | cut -d' ' -f6 | cut -d, -f1"), "ro\n");
  EXPECT_EQ(sh("touch /sys/x 2>/dev/null || echo refused"), "refused\n");
  EXPECT_EQ(sh("mkdir /sys/fs/cgroup/memory/x 2>/dev/null || echo refused"), "refused\n");
  std::string host = shellOutput("cat /proc/sys/kernel/hostname");
  EXPECT_EQ(shellOutput("cat /proc/sys/kernel/hostname"), host);
}

TEST_F(LauncherTest, HasDockersDefaultCapabilitiesOnly) {
  std::string out = sh("grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status");
  EXPECT_EQ(out,
            "CapInh:\t0000000000000000\n"
            "CapPrm:\t00000000a80425fb\n"
            "CapEff:\t00000000a80425fb\n"
            "CapBnd:\t00000000a80425fb\n"
            "CapAmb:\t0000000000000000\n");
  auto spec = makeSpec({});
  spec.security.capAdd = {"NET_ADMIN"};
  spec.security.capDrop = {"CHOWN"};
  EXPECT_EQ(sh("grep CapEff /proc/self/status", spec), "CapEff:\t00000000a80435fa\n");
  auto privileged = makeSpec({});
  privileged.security.privileged = true;
  char expected[64];
  std::snprintf(expected, sizeof expected, "CapEff:\t%016llx\n",
                static_cast<unsigned long long>(allCapabilities()));
  EXPECT_EQ(sh("grep CapEff /proc/self/status", privileged), expected);
}

TEST_F(LauncherTest, SeccompAndNoNewPrivileges) {
  EXPECT_EQ(sh("grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status"),
            "NoNewPrivs:\t1\nSeccomp:\t2\n");
  auto r = run(makeSpec({"unshare", "-n", "true"}));
  EXPECT_NE(r.exitCode(), 0);
  EXPECT_NE(r.output.find("Operation not permitted"), std::string::npos) << r.output;
  // With CAP_SYS_ADMIN the profile lets unshare through.
  auto admin = makeSpec({});
  admin.security.capAdd = {"SYS_ADMIN"};
  sh("unshare -n true", admin);
  auto unconfined = makeSpec({});
  unconfined.security.seccomp = SeccompMode::kUnconfined;
  unconfined.security.noNewPrivileges = false;
  EXPECT_EQ(sh("grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status", unconfined),
            "NoNewPrivs:\t0\nSeccomp:\t0\n");
  // Without no_new_privs the filter is loaded while the process still holds CAP_SYS_ADMIN.
  auto filteredOnly = makeSpec({});
  filteredOnly.security.noNewPrivileges = false;
  EXPECT_EQ(sh("grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status", filteredOnly),
            "NoNewPrivs:\t0\nSeccomp:\t2\n");
}

TEST_F(LauncherTest, LocalhostSeccompProfile) {
  std::string profile = dir_->path() + "/profile.json";
  writeText(profile, R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
      {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]})");
  auto spec = makeSpec({});
  spec.security.seccomp = SeccompMode::kLocalhost;
  spec.security.seccompProfilePath = profile;
  // The profile refuses mkdir, and lets through what Docker's refuses (a user namespace).
  EXPECT_EQ(sh("mkdir /tmp/d 2>&1 | grep -c 'Permission denied'; unshare -U true && echo unshared",
               spec),
            "1\nunshared\n");
  spec.security.seccompProfilePath = dir_->path() + "/missing.json";
  spec.process.args = {"true"};
  LaunchSpec launch;
  launch.spec = &spec;
  auto r = runToCompletion(launch);
  EXPECT_NE(r.error.find("seccomp profile"), std::string::npos) << r.error;
}

TEST_F(LauncherTest, PrivilegedSeesHostDevicesAndWritableSys) {
  auto spec = makeSpec({});
  spec.security.privileged = true;
  std::string out = sh("grep -E '^Seccomp:' /proc/self/status; grep ' /sys ' /proc/self/mountinfo | "
                       "cut -d' ' -f6 | cut -d, -f1; test -c /dev/kmsg && echo kmsg; "
                       "grep -c /proc/kcore /proc/self/mountinfo; true",
                       spec);
  EXPECT_EQ(out, std::string("Seccomp:\t0\nrw\n") +
                     (::access("/dev/kmsg", F_OK) == 0 ? "kmsg\n" : "") + "0\n");
}

TEST_F(LauncherTest, UsersAndGroupsFromTheImage) {
  auto spec = makeSpec({});
  EXPECT_EQ(sh("id -u; id -G; echo $HOME", spec), "0\n0 10\n/root\n");
  spec.process.user = "user1";
  EXPECT_EQ(sh("id -u; id -g; id -G; echo $HOME", spec), "1000\n1000\n1000 29 100\n/home/user1\n");
  spec.process.user = "nobody";
  spec.process.extraGroups = {3000};
  EXPECT_EQ(sh("id -u; id -G", spec), "65534\n65534 29 3000\n");
  spec.process.user = "1234:5678";
  spec.process.extraGroups = {};
  EXPECT_EQ(sh("id -u; id -G; echo $HOME", spec), "1234\n5678\n/\n");
  spec.process.user = "user1:wheel";
  EXPECT_EQ(sh("id -u; id -G", spec), "1000\n10\n");
  // A non-root user ends up without capabilities after exec, as with Docker.
  spec.process.user = "1000";
  EXPECT_EQ(sh("grep -E '^Cap(Eff|Prm)' /proc/self/status", spec),
            "CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n");
}

TEST_F(LauncherTest, UnknownUserFailsTheLaunch) {
  auto spec = makeSpec({"id"});
  spec.process.user = "nobody2";
  auto r = run(spec);
  EXPECT_EQ(r.error,
            "container " + spec.id + ": unable to find user nobody2: no matching entries in passwd file");
}

TEST_F(LauncherTest, ExecutableLookupErrorsAsDocker) {
  auto r = run(makeSpec({"nope"}));
  EXPECT_NE(r.error.find("exec: \"nope\": executable file not found in $PATH"), std::string::npos)
      << r.error;
  r = run(makeSpec({"/nope"}));
  EXPECT_NE(r.error.find("exec: \"/nope\": stat /nope: no such file or directory"), std::string::npos)
      << r.error;
  r = run(makeSpec({"/etc/passwd"}));
  EXPECT_NE(r.error.find("exec: \"/etc/passwd\": permission denied"), std::string::npos) << r.error;
  auto env = makeSpec({"hello"});
  env.process.env = {"PATH=/nowhere"};
  r = run(env);
  EXPECT_NE(r.error.find("executable file not found in $PATH"), std::string::npos) << r.error;
}

TEST_F(LauncherTest, EnvironmentAndWorkingDirectory) {
  auto spec = makeSpec({});
  spec.process.env = {"FOO=bar", "HOME=/custom"};
  spec.process.cwd = "/work/dir";
  EXPECT_EQ(sh("echo $FOO $HOME $PATH; pwd", spec),
            "bar /custom /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n/work/dir\n");
}

TEST_F(LauncherTest, Rlimits) {
  auto spec = makeSpec({});
  spec.process.rlimits = {{"RLIMIT_NOFILE", 1000, 2000}, {"RLIMIT_NPROC", 300, 400}};
  EXPECT_EQ(sh("ulimit -n; ulimit -Hn; ulimit -u", spec), "1000\n2000\n300\n");
  // The default (1048576 open files) is capped by what the runtime itself may grant.
  rlimit own;
  ::getrlimit(RLIMIT_NOFILE, &own);
  std::string expected = std::to_string(std::min<rlim_t>(1048576, own.rlim_max)) + "\n";
  EXPECT_EQ(sh("ulimit -n"), expected);
}

TEST_F(LauncherTest, SpecMounts) {
  TempDir host;
  std::filesystem::create_directories(host.path() + "/data");
  writeText(host.path() + "/data/file", "content\n");
  writeText(host.path() + "/single", "one file\n");
  auto spec = makeSpec({});
  spec.mounts = {
      {host.path() + "/data", "/mnt/data", "bind", {"rbind", "ro"}},
      {host.path() + "/single", "/etc/single", "bind", {"bind", "nosuid"}},
      {"tmpfs", "/scratch", "tmpfs", {"nosuid", "size=1m", "mode=700"}},
  };
  std::string out = sh(
      "cat /mnt/data/file; touch /mnt/data/new 2>/dev/null || echo ro; cat /etc/single; "
      "echo more >> /etc/single; grep ' /scratch ' /proc/self/mountinfo | grep -o 'size=[0-9]*k'; "
      "stat -c %a /scratch",
      spec);
  EXPECT_EQ(out, "content\nro\none file\nsize=1024k\n700\n");
  EXPECT_EQ(readText(host.path() + "/single"), "one file\nmore\n");
  EXPECT_FALSE(std::filesystem::exists(host.path() + "/data/new"));
}

TEST_F(LauncherTest, MountDestinationsStayInsideTheRootfs) {
  TempDir outside;
  // A symlink in the image pointing at a host directory: the mount must land inside the
  // rootfs (under ROOTFS/<that path>), never on the host's directory.
  std::string link = rootfs() + "/evil";
  std::filesystem::remove(link);
  std::filesystem::create_symlink(outside.path(), link);
  auto spec = makeSpec({});
  spec.mounts = {{"tmpfs", "/evil/mnt", "tmpfs", {"size=1m"}}};
  std::string out = sh("echo hi > /evil/mnt/f && cat /evil/mnt/f", spec);
  EXPECT_EQ(out, "hi\n");
  EXPECT_FALSE(std::filesystem::exists(outside.path() + "/mnt"));
  EXPECT_TRUE(std::filesystem::exists(rootfs() + outside.path() + "/mnt"));
  EXPECT_TRUE(mountsUnder(outside.path()).empty());
  std::filesystem::remove(link);
  std::filesystem::remove_all(rootfs() + "/tmp/nave-sys-" + outside.path().substr(14));
}

TEST_F(LauncherTest, ReadonlyRootfs) {
  auto spec = makeSpec({});
  spec.security.readonlyRootfs = true;
  EXPECT_EQ(sh("touch /x 2>/dev/null || echo ro; touch /dev/shm/x && echo shm", spec), "ro\nshm\n");
}

TEST_F(LauncherTest, WaitsForStartBeforeExec) {
  auto spec = makeSpec({"echo", "started"});
  int start[2], out[2];
  ASSERT_EQ(::pipe2(start, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  LaunchSpec launch;
  launch.spec = &spec;
  launch.stdoutFd = out[1];
  launch.stderrFd = out[1];
  launch.startFd = start[0];
  auto pid = launchContainer(launch);
  ::close(out[1]);
  ::close(start[0]);
  ASSERT_TRUE(pid.ok()) << pid.error().message();
  // Not yet started: the process is alive and silent.
  ::usleep(100 * 1000);
  EXPECT_EQ(::waitpid(*pid, nullptr, WNOHANG), 0);
  ASSERT_EQ(::write(start[1], "s", 1), 1);
  ::close(start[1]);
  EXPECT_EQ(drain(out[0]), "started\n");
  int status;
  ASSERT_EQ(::waitpid(*pid, &status, 0), *pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  // Closing the start pipe without a byte: the process exits without running the command.
  ASSERT_EQ(::pipe2(start, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  launch.stdoutFd = out[1];
  launch.stderrFd = out[1];
  launch.startFd = start[0];
  pid = launchContainer(launch);
  ::close(out[1]);
  ::close(start[0]);
  ASSERT_TRUE(pid.ok());
  ::close(start[1]);
  EXPECT_EQ(drain(out[0]), "");
  ASSERT_EQ(::waitpid(*pid, &status, 0), *pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0);
}

TEST_F(LauncherTest, TerminalAsStdio) {
  int master, slave;
  ASSERT_EQ(::openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
  auto spec = makeSpec({"sh", "-c", "test -t 0 && echo tty; test -c /dev/console && echo console; "
                                    "read line; echo got:$line"});
  spec.process.tty = true;
  LaunchSpec launch;
  launch.spec = &spec;
  launch.stdinFd = launch.stdoutFd = launch.stderrFd = slave;
  auto pid = launchContainer(launch);
  ::close(slave);
  ASSERT_TRUE(pid.ok()) << pid.error().message();
  ASSERT_EQ(::write(master, "hello\n", 6), 6);
  std::string out;
  char buf[256];
  while (out.find("got:hello") == std::string::npos) {
    ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(master);
  int status;
  ::waitpid(*pid, &status, 0);
  EXPECT_NE(out.find("tty"), std::string::npos) << out;
  EXPECT_NE(out.find("console"), std::string::npos) << out;
  EXPECT_NE(out.find("got:hello"), std::string::npos) << out;
}

TEST_F(LauncherTest, JoiningTheHostNetwork) {
  auto spec = makeSpec({"sh", "-c", "wc -l < /proc/net/dev"});
  LaunchSpec launch;
  launch.spec = &spec;
  launch.netnsPath = "/proc/self/ns/net";
  auto r = runToCompletion(launch);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.output, shellOutput("wc -l < /proc/net/dev"));
}

// --- Resources ---

class CgroupLauncherTest : public LauncherTest {
 protected:
  void SetUp() override {
    LauncherTest::SetUp();
    if (IsSkipped()) return;
    parent_ = "nave-test-" + std::to_string(::getpid());
  }
  void TearDown() override {
    LauncherTest::TearDown();
    if (parent_.empty()) return;
    EXPECT_TRUE(CgroupSet::removeParent(parent_).ok());
    EXPECT_FALSE(std::filesystem::exists("/sys/fs/cgroup/memory/" + parent_));
    EXPECT_FALSE(std::filesystem::exists("/sys/fs/cgroup/pids/" + parent_));
  }
  std::string parent_;
};

TEST_F(CgroupLauncherTest, MemoryLimitEndsInAnOomKill) {
  Resources r;
  r.memoryLimitBytes = 64 << 20;
  auto cgroups = CgroupSet::create(parent_, "oom", r);
  ASSERT_TRUE(cgroups.ok()) << cgroups.error().message();
  auto spec = makeSpec({"dd", "if=/dev/zero", "of=/dev/null", "bs=128M", "count=1"});
  LaunchSpec launch;
  launch.spec = &spec;
  launch.cgroups = cgroups->get();
  auto result = runToCompletion(launch);
  ASSERT_EQ(result.error, "");
  EXPECT_EQ(result.exitCode(), 137) << result.output;
  EXPECT_TRUE((*cgroups)->oomKilled());
  EXPECT_TRUE((*cgroups)->destroy().ok());
}

TEST_F(CgroupLauncherTest, JoinsItsCgroupsAndSeesThemAsRoot) {
  Resources r;
  r.pidsLimit = 8;
  r.cpuShares = 256;
  r.cpuQuotaMicros = 20000;
  auto cgroups = CgroupSet::create(parent_, "limits", r);
  ASSERT_TRUE(cgroups.ok()) << cgroups.error().message();
  auto spec = makeSpec({});
  spec.process.args = {"sh", "-c",
                       "cat /proc/self/cgroup | grep -E ':(memory|pids|cpu):'; "
                       "cat /sys/fs/cgroup/pids/pids.max; "
                       "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 </dev/null >/dev/null 2>&1 & done 2>&1 | grep -c fork; "
                       "true"};
  LaunchSpec launch;
  launch.spec = &spec;
  launch.cgroups = cgroups->get();
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  launch.stdoutFd = launch.stderrFd = out[1];
  auto pid = launchContainer(launch);
  ::close(out[1]);
  ASSERT_TRUE(pid.ok()) << pid.error().message();
  std::string hostView = readText("/proc/" + std::to_string(*pid) + "/cgroup");
  EXPECT_GT((*cgroups)->memoryUsage(), 0);
  std::string output = drain(out[0]);
  ::waitpid(*pid, nullptr, 0);
  EXPECT_NE(hostView.find("memory:/" + parent_ + "/limits"), std::string::npos) << hostView;
  // Inside, the cgroup namespace shows its own cgroup as the root.
  EXPECT_NE(output.find(":memory:/\n"), std::string::npos) << output;
  EXPECT_NE(output.find(":pids:/\n"), std::string::npos) << output;
  EXPECT_NE(output.find("\n8\n"), std::string::npos) << output;
  EXPECT_EQ(output.substr(output.rfind('\n', output.size() - 2) + 1), "1\n")
      << "the pids limit refuses forks: " << output;
  EXPECT_TRUE((*cgroups)->destroy().ok());
}

TEST_F(CgroupLauncherTest, DevicesAreRestricted) {
  auto cgroups = CgroupSet::create(parent_, "devices", {});
  ASSERT_TRUE(cgroups.ok());
  struct stat disk;
  std::string block;
  for (const char* candidate : {"/dev/vda", "/dev/sda", "/dev/nvme0n1", "/dev/xvda"}) {
    if (::stat(candidate, &disk) == 0 && S_ISBLK(disk.st_mode)) {
      block = candidate;
      break;
    }
  }
  if (block.empty()) GTEST_SKIP() << "skipped: no block device to test with";
  std::string node = "mknod /tmp/disk b " + std::to_string(major(disk.st_rdev)) + " " +
                     std::to_string(minor(disk.st_rdev));
  auto spec = makeSpec({});
  spec.process.args = {"sh", "-c", node + " && (head -c 1 /tmp/disk >/dev/null 2>&1 || echo denied); rm /tmp/disk"};
  LaunchSpec launch;
  launch.spec = &spec;
  launch.cgroups = cgroups->get();
  auto r = runToCompletion(launch);
  EXPECT_EQ(r.output, "denied\n");
  EXPECT_TRUE((*cgroups)->destroy().ok());
}

// --- Exec ---

class ExecTest : public CgroupLauncherTest {
 protected:
  void SetUp() override {
    CgroupLauncherTest::SetUp();
    if (IsSkipped()) return;
    auto cgroups = CgroupSet::create(parent_, "exec", {});
    ASSERT_TRUE(cgroups.ok()) << cgroups.error().message();
    cgroups_ = std::move(cgroups).value();
    spec_ = makeSpec({"sh", "-c", "echo from-init > /tmp/marker; exec sleep 1000"});
    spec_.hostname = "exec-host";
    LaunchSpec launch;
    launch.spec = &spec_;
    launch.cgroups = cgroups_.get();
    auto pid = launchContainer(launch);
    ASSERT_TRUE(pid.ok()) << pid.error().message();
    pid_ = *pid;
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (cgroups_) {
      EXPECT_TRUE(cgroups_->destroy().ok());
    }
    CgroupLauncherTest::TearDown();
  }
  RunResult exec(const ProcessSpec& process, int stdinFd = -1) {
    RunResult result;
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return result;
    auto pid = launchExec(pid_, process, spec_.security, cgroups_.get(), stdinFd, out[1], out[1]);
    ::close(out[1]);
    if (!pid.ok()) {
      result.error = pid.error().message();
      ::close(out[0]);
      return result;
    }
    result.output = drain(out[0]);
    ::waitpid(*pid, &result.status, 0);
    return result;
  }
  ContainerSpec spec_;
  std::unique_ptr<CgroupSet> cgroups_;
  pid_t pid_ = -1;
};

TEST_F(ExecTest, SharesTheContainersNamespacesAndFiles) {
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(rootfs() + "/tmp/marker"); }));
  ProcessSpec p;
  p.args = {"sh", "-c", "cat /tmp/marker; hostname; ps -o pid,comm | grep -c sleep; "
                        "readlink /proc/1/ns/pid; readlink /proc/self/ns/pid; "
                        "grep -E ':memory:' /proc/self/cgroup"};
  auto r = exec(p);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.exitCode(), 0) << r.output;
  std::vector<std::string> lines;
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 6u) << r.output;
  EXPECT_EQ(lines[0], "from-init");
  EXPECT_EQ(lines[1], "exec-host");
  EXPECT_EQ(lines[2], "1");
  EXPECT_EQ(lines[3], lines[4]);
  EXPECT_EQ(lines[5], "4:memory:/");
  std::filesystem::remove(rootfs() + "/tmp/marker");
}

TEST_F(ExecTest, ObeysTheContainersSecurity) {
  ProcessSpec p;
  p.args = {"sh", "-c", "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; "
                        "unshare -n true 2>/dev/null || echo refused"};
  auto r = exec(p);
  EXPECT_EQ(r.output, "CapEff:\t00000000a80425fb\nNoNewPrivs:\t1\nSeccomp:\t2\nrefused\n");
  p.user = "user1";
  p.args = {"sh", "-c", "id -u; id -G; echo $HOME; grep CapEff /proc/self/status"};
  r = exec(p);
  EXPECT_EQ(r.output, "1000\n1000 29 100\n/home/user1\nCapEff:\t0000000000000000\n");
}

TEST_F(ExecTest, ReportsLookupErrors) {
  ProcessSpec p;
  p.args = {"nope"};
  auto r = exec(p);
  EXPECT_NE(r.error.find("exec: \"nope\": executable file not found in $PATH"), std::string::npos)
      << r.error;
  auto gone = launchExec(999999, p, spec_.security, nullptr, -1, -1, -1);
  EXPECT_FALSE(gone.ok());
}

TEST_F(ExecTest, Stdin) {
  int in[2];
  ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
  ASSERT_EQ(::write(in[1], "hello stdin\n", 12), 12);
  ::close(in[1]);
  ProcessSpec p;
  p.args = {"cat"};
  p.stdin = true;
  auto r = exec(p, in[0]);
  ::close(in[0]);
  EXPECT_EQ(r.output, "hello stdin\n");
}

TEST_F(ExecTest, Terminal) {
  int master, slave;
  ASSERT_EQ(::openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
  ProcessSpec p;
  p.args = {"sh", "-c", "test -t 0 && echo tty; read line; echo got:$line"};
  p.tty = true;
  auto pid = launchExec(pid_, p, spec_.security, cgroups_.get(), slave, slave, slave);
  ::close(slave);
  ASSERT_TRUE(pid.ok()) << pid.error().message();
  ASSERT_EQ(::write(master, "typed\n", 6), 6);
  std::string out;
  char buf[256];
  while (out.find("got:typed") == std::string::npos) {
    ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(master);
  ::waitpid(*pid, nullptr, 0);
  EXPECT_NE(out.find("tty"), std::string::npos) << out;
  EXPECT_NE(out.find("got:typed"), std::string::npos) << out;
}

// --- Sandboxes ---

TEST_F(LauncherTest, SandboxNamespacesAreSharedAndRemoved) {
  TempDir sandbox;
  std::string net = sandbox.path() + "/net", ipc = sandbox.path() + "/ipc",
              uts = sandbox.path() + "/uts";
  auto created = createNamespaceFiles(net, ipc, uts, "sandbox-host");
  ASSERT_TRUE(created.ok()) << created.error().message();
  // The namespaces outlive the process that created them.
  struct stat netStat;
  ASSERT_EQ(::stat(net.c_str(), &netStat), 0);
  EXPECT_NE(readText("/proc/self/mountinfo").find(net), std::string::npos);
  EXPECT_FALSE(createNamespaceFiles(net, "", "", "").ok()) << "the files must not exist yet";

  auto server = makeSpec({"sh", "-c", "hostname; readlink /proc/self/ns/net; nc -l -p 8080"});
  // The client retries for up to ~20 s: on a loaded machine the server may take a while to
  // listen.
  auto client = makeSpec({"sh", "-c", "hostname; readlink /proc/self/ns/net; "
                                      "i=0; while [ $i -lt 100 ]; do i=$((i+1)); "
                                      "echo over-loopback | nc -w 1 127.0.0.1 8080 && break; sleep 0.2; done"});
  LaunchSpec a, b;
  a.spec = &server;
  b.spec = &client;
  for (LaunchSpec* l : {&a, &b}) {
    l->netnsPath = net;
    l->ipcnsPath = ipc;
    l->utsnsPath = uts;
  }
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  a.stdoutFd = a.stderrFd = out[1];
  // The server's stdin stays open until the client is done: busybox nc half-closes the
  // connection at EOF on its stdin, and a client that sees that before it has read its own
  // input (its `echo` is slow under load) leaves without sending anything.
  int in[2];
  ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
  a.stdinFd = in[0];
  auto serverPid = launchContainer(a);
  ::close(out[1]);
  ::close(in[0]);
  ASSERT_TRUE(serverPid.ok()) << serverPid.error().message();
  auto c = runToCompletion(b);
  ::close(in[1]);
  std::string serverOutput = drain(out[0]);
  ::waitpid(*serverPid, nullptr, 0);
  std::string netns = "net:[" + std::to_string(netStat.st_ino) + "]";
  EXPECT_EQ(c.output, "sandbox-host\n" + netns + "\n");
  EXPECT_EQ(serverOutput, "sandbox-host\n" + netns + "\nover-loopback\n");

  ASSERT_TRUE(removeNamespaceFiles({net, ipc, uts}).ok());
  EXPECT_FALSE(std::filesystem::exists(net));
  EXPECT_FALSE(std::filesystem::exists(uts));
  EXPECT_TRUE(mountsUnder(sandbox.path()).empty());
  EXPECT_TRUE(removeNamespaceFiles({net, ipc, uts}).ok()) << "missing files are fine";
}

TEST_F(LauncherTest, SandboxInASharedMountGetsAPrivateDirectory) {
  TempDir base;
  // A shared mount, as / is on systemd hosts: the namespace mounts must not propagate.
  ASSERT_EQ(::mount(base.path().c_str(), base.path().c_str(), nullptr, MS_BIND, nullptr), 0);
  ASSERT_EQ(::mount("", base.path().c_str(), nullptr, MS_SHARED, nullptr), 0);
  std::string dir = base.path() + "/sandbox";
  std::filesystem::create_directories(dir);
  auto created = createNamespaceFiles(dir + "/net", "", "", "");
  ASSERT_TRUE(created.ok()) << created.error().message();
  std::string info = readText("/proc/self/mountinfo");
  size_t at = info.find(" " + dir + " ");
  ASSERT_NE(at, std::string::npos) << "the sandbox directory became a mount point";
  std::string line = info.substr(info.rfind('\n', at) + 1, info.find('\n', at) - info.rfind('\n', at) - 1);
  EXPECT_EQ(line.find("shared:"), std::string::npos) << line;
  ASSERT_TRUE(removeNamespaceFiles({dir + "/net"}).ok());
  EXPECT_EQ(mountsUnder(dir), std::vector<std::string>{}) << "the private directory mount is gone too";
  ASSERT_EQ(::umount2(base.path().c_str(), MNT_DETACH), 0);
}
}  // namespace
}  // namespace nave::runtime::sys
