// CgroupSet on the real hierarchies of this machine (v1 + controller-less unified here).
#include "runtime/container/sys/cgroups.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "runtime/container/sys/launcher.h"
#include "tests/runtime/container/sys/test_support.h"

namespace nave::runtime::sys {
namespace {

using namespace testing;  // NOLINT

bool exists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

std::string trimmed(const std::string& s) {
  size_t end = s.find_last_not_of(" \n");
  return end == std::string::npos ? "" : s.substr(0, end + 1);
}

// The directory of `controller` among a set's paths (v1), or the single v2 directory.
std::string dirOf(const CgroupSet& set, const std::string& controller) {
  for (const auto& p : set.paths()) {
    if (p.find("/" + controller + "/") != std::string::npos) return p;
  }
  for (const auto& p : set.paths()) {
    if (exists(p + "/cgroup.controllers") && exists(p + "/memory.max")) return p;
  }
  return "";
}

// A child blocked on a pipe until released (or killed).
struct Sleeper {
  pid_t pid = -1;
  int release = -1;
  Sleeper() {
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid = ::fork();
    if (pid == 0) {
      ::close(fds[1]);
      char c;
      (void)::read(fds[0], &c, 1);
      ::_exit(0);
    }
    ::close(fds[0]);
    release = fds[1];
  }
  ~Sleeper() {
    if (release >= 0) ::close(release);
    if (pid > 0) ::waitpid(pid, nullptr, 0);
  }
  int wait() {
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
    return status;
  }
};

class CgroupSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "skipped: needs root";
    auto h = cgroupHierarchies();
    if (!h.ok() || h->empty()) GTEST_SKIP() << "skipped: no cgroup hierarchies mounted";
    parent_ = "nave-test-" + std::to_string(::getpid()) + "/pod";
  }
  void TearDown() override {
    if (parent_.empty()) return;
    EXPECT_TRUE(CgroupSet::removeParent(parent_).ok());
    auto hierarchies = cgroupHierarchies();
    ASSERT_TRUE(hierarchies.ok());
    for (const auto& h : *hierarchies) {
      EXPECT_FALSE(exists(h.mountPoint + "/nave-test-" + std::to_string(::getpid())))
          << "left behind under " << h.mountPoint;
    }
  }
  std::string parent_;
};

TEST(CgroupHierarchiesTest, EncodingForShimsRoundTrips) {
  std::vector<CgroupHierarchy> in(3);
  in[0].mountPoint = "/sys/fs/cgroup/cpu,cpuacct";
  in[0].controllers = {"cpu", "cpuacct,"};  // a separator in a field cannot be encoded
  EXPECT_EQ(encodeCgroupHierarchies(in), "");
  in[0].controllers = {"cpu", "cpuacct"};
  in[1].mountPoint = "/sys/fs/cgroup/systemd";
  in[1].name = "name=systemd";
  in[2].mountPoint = "/sys/fs/cgroup/unified";
  in[2].v2 = true;
  std::string text = encodeCgroupHierarchies(in);
  ASSERT_FALSE(text.empty());
  auto out = decodeCgroupHierarchies(text);
  ASSERT_EQ(out.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(out[i].mountPoint, in[i].mountPoint);
    EXPECT_EQ(out[i].v2, in[i].v2);
    EXPECT_EQ(out[i].name, in[i].name);
    EXPECT_EQ(out[i].controllers, in[i].controllers);
  }
  EXPECT_TRUE(decodeCgroupHierarchies("relative\t0\t\tcpu\n").empty());
  EXPECT_TRUE(decodeCgroupHierarchies("/sys/fs/cgroup/cpu\t2\t\tcpu\n").empty());
  EXPECT_TRUE(decodeCgroupHierarchies("/sys/fs/cgroup/cpu\t0\tcpu\n").empty());
  // What this process found reads back the same, as a shim started by it gets it.
  auto mine = cgroupHierarchies();
  ASSERT_TRUE(mine.ok());
  std::string encoded = encodeCgroupHierarchies(*mine);
  EXPECT_FALSE(encoded.empty());
  EXPECT_EQ(decodeCgroupHierarchies(encoded).size(), mine->size());
}

TEST_F(CgroupSetTest, WritesLimitsAndRemovesItsDirectories) {
  Resources r;
  r.memoryLimitBytes = 64 << 20;
  r.cpuShares = 512;
  r.cpuQuotaMicros = 50000;
  r.cpuPeriodMicros = 100000;
  r.pidsLimit = 20;
  auto set = CgroupSet::create(parent_, "limits", r);
  ASSERT_TRUE(set.ok()) << set.error().message();
  auto paths = (*set)->paths();
  ASSERT_FALSE(paths.empty());
  for (const auto& p : paths) {
    EXPECT_TRUE(exists(p)) << p;
    // Under the hierarchy's root, not relative to our own cgroup.
    EXPECT_NE(p.find("/" + parent_ + "/limits"), std::string::npos) << p;
    EXPECT_EQ(p.find("process_api"), std::string::npos) << p;
  }
  std::string mem = dirOf(**set, "memory");
  ASSERT_FALSE(mem.empty());
  if (exists(mem + "/memory.limit_in_bytes")) {
    EXPECT_EQ(trimmed(readText(mem + "/memory.limit_in_bytes")), "67108864");
    if (exists(mem + "/memory.memsw.limit_in_bytes")) {
      EXPECT_EQ(trimmed(readText(mem + "/memory.memsw.limit_in_bytes")), "67108864");
    }
    std::string cpu = dirOf(**set, "cpu");
    EXPECT_EQ(trimmed(readText(cpu + "/cpu.shares")), "512");
    EXPECT_EQ(trimmed(readText(cpu + "/cpu.cfs_quota_us")), "50000");
    EXPECT_EQ(trimmed(readText(cpu + "/cpu.cfs_period_us")), "100000");
    EXPECT_EQ(trimmed(readText(dirOf(**set, "pids") + "/pids.max")), "20");
    std::string cpuset = dirOf(**set, "cpuset");
    if (!cpuset.empty()) {
      EXPECT_NE(trimmed(readText(cpuset + "/cpuset.cpus")), "");
    }
  } else {
    EXPECT_EQ(trimmed(readText(mem + "/memory.max")), "67108864");
    EXPECT_EQ(trimmed(readText(mem + "/cpu.weight")), std::to_string(cpuSharesToWeight(512)));
    EXPECT_EQ(trimmed(readText(mem + "/cpu.max")), "50000 100000");
    EXPECT_EQ(trimmed(readText(mem + "/pids.max")), "20");
  }
  ASSERT_TRUE((*set)->destroy().ok());
  for (const auto& p : paths) EXPECT_FALSE(exists(p)) << p;
}

TEST_F(CgroupSetTest, DestroyKillsWhatIsLeft) {
  auto set = CgroupSet::create(parent_, "kill", {});
  ASSERT_TRUE(set.ok()) << set.error().message();
  Sleeper a, b;
  ASSERT_TRUE((*set)->addProcess(a.pid).ok());
  ASSERT_TRUE((*set)->addProcess(b.pid).ok());
  std::string cgroups = readText("/proc/" + std::to_string(a.pid) + "/cgroup");
  EXPECT_NE(cgroups.find(parent_ + "/kill"), std::string::npos) << cgroups;
  // (Charges stay with the cgroup a page was first used in: memory usage is tested with
  // containers, which start inside.)
  // Reaping happens in the background while destroy waits for the cgroup to empty.
  std::thread reaper([&] {
    int sa = a.wait(), sb = b.wait();
    EXPECT_TRUE(WIFSIGNALED(sa) && WTERMSIG(sa) == SIGKILL);
    EXPECT_TRUE(WIFSIGNALED(sb) && WTERMSIG(sb) == SIGKILL);
  });
  auto destroyed = (*set)->destroy();
  reaper.join();
  ASSERT_TRUE(destroyed.ok()) << destroyed.error().message();
  for (const auto& p : (*set)->paths()) EXPECT_FALSE(exists(p)) << p;
}

TEST_F(CgroupSetTest, OpenFindsAnExistingSet) {
  auto missing = CgroupSet::open(parent_, "absent");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  auto set = CgroupSet::create(parent_, "reopen", {});
  ASSERT_TRUE(set.ok());
  auto again = CgroupSet::open(parent_, "reopen");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->paths(), (*set)->paths());
  EXPECT_TRUE((*again)->destroy().ok());
  EXPECT_FALSE(exists((*set)->paths()[0]));
}

TEST_F(CgroupSetTest, RefusesPathsThatLeaveTheHierarchy) {
  EXPECT_EQ(CgroupSet::create("../escape", "x", {}).error().code(), ErrorCode::kInvalid);
  EXPECT_EQ(CgroupSet::create(parent_, "a/b", {}).error().code(), ErrorCode::kInvalid);
  EXPECT_EQ(CgroupSet::create("/abs", "x", {}).error().code(), ErrorCode::kInvalid);
  EXPECT_EQ(CgroupSet::create(parent_, "..", {}).error().code(), ErrorCode::kInvalid);
}

TEST_F(CgroupSetTest, DetectsOomKills) {
  Resources r;
  r.memoryLimitBytes = 32 << 20;
  auto set = CgroupSet::create(parent_, "oom", r);
  ASSERT_TRUE(set.ok()) << set.error().message();
  EXPECT_FALSE((*set)->oomKilled());
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  pid_t child = ::fork();
  if (child == 0) {
    ::close(go[1]);
    char c;
    (void)::read(go[0], &c, 1);
    size_t size = 256 << 20;
    char* p = static_cast<char*>(
        ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    for (size_t i = 0; p != MAP_FAILED && i < size; i += 4096) p[i] = 1;
    ::_exit(0);
  }
  ::close(go[0]);
  ASSERT_TRUE((*set)->addProcess(child).ok());
  ASSERT_EQ(::write(go[1], "x", 1), 1);
  ::close(go[1]);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  EXPECT_TRUE((*set)->oomKilled());
  EXPECT_TRUE((*set)->destroy().ok());
}

// Opens `path` in a child inside `set` and returns the child's errno (0 on success).
int openInside(const CgroupSet& set, const std::string& path) {
  int go[2];
  if (::pipe(go) != 0) return -1;
  pid_t child = ::fork();
  if (child == 0) {
    ::close(go[1]);
    char c;
    (void)::read(go[0], &c, 1);
    int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK);
    ::_exit(fd >= 0 ? 0 : errno);
  }
  ::close(go[0]);
  bool joined = set.addProcess(child).ok();
  (void)::write(go[1], "x", 1);
  ::close(go[1]);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (!joined) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(CgroupSetTest, RestrictsDevicesToTheDefaultAllowlist) {
  auto set = CgroupSet::create(parent_, "devices", {});
  ASSERT_TRUE(set.ok());
  ASSERT_TRUE((*set)->restrictDevices().ok());
  EXPECT_EQ(openInside(**set, "/dev/null"), 0);
  EXPECT_EQ(openInside(**set, "/dev/urandom"), 0);
  // /dev/kmsg (1:11) is not in the allowlist.
  if (exists("/dev/kmsg")) {
    EXPECT_EQ(openInside(**set, "/dev/kmsg"), EPERM);
  }
  EXPECT_TRUE((*set)->destroy().ok());
}

TEST_F(CgroupSetTest, DeviceFilterProgramOnTheUnifiedHierarchy) {
  std::string unified;
  auto hierarchies = cgroupHierarchies();
  ASSERT_TRUE(hierarchies.ok());
  for (const auto& h : *hierarchies) {
    if (h.v2) unified = h.mountPoint;
  }
  if (unified.empty()) GTEST_SKIP() << "skipped: no cgroup2 hierarchy mounted";
  // The device program applies to a task's cgroup2 cgroup even when the v1 devices
  // controller exists (hybrid hosts), so it can be tested here.
  std::string dir = unified + "/nave-test-" + std::to_string(::getpid());
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  auto attached = attachDeviceFilter(dir, {{'c', 1, 3, "rw"}, {'c', 1, 9, "r"}});
  ASSERT_TRUE(attached.ok()) << attached.error().message();
  auto openIn = [&](const char* path, int flags) {
    pid_t child = ::fork();
    if (child == 0) {
      std::string pid = std::to_string(::getpid());
      int fd = ::open((dir + "/cgroup.procs").c_str(), O_WRONLY);
      if (fd < 0 || ::write(fd, pid.data(), pid.size()) < 0) ::_exit(98);
      ::close(fd);
      int dev = ::open(path, flags);
      ::_exit(dev >= 0 ? 0 : errno);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  EXPECT_EQ(openIn("/dev/null", O_RDWR), 0);
  EXPECT_EQ(openIn("/dev/urandom", O_RDONLY), 0);
  EXPECT_EQ(openIn("/dev/urandom", O_WRONLY), EPERM);
  EXPECT_EQ(openIn("/dev/zero", O_RDONLY), EPERM);
  EXPECT_TRUE(eventually([&] { return ::rmdir(dir.c_str()) == 0; }));
}

}  // namespace
}  // namespace nave::runtime::sys
