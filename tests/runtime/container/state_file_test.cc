#include "runtime/container/state_file.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "runtime/container/shim_socket.h"
#include "runtime/container/spec_json.h"

namespace nave::runtime {
namespace {

class StateFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nave-state-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(StateFileTest, RoundTripsAtomically) {
  ShimState s;
  s.state = kStateExited;
  s.shimPid = 12;
  s.shimStartTime = 123456789012ull;
  s.pid = 34;
  s.createdAt = 1'700'000'000'123'456'789;
  s.exitCode = 137;
  s.signal = 9;
  s.oomKilled = true;
  s.reason = "OOMKilled";
  s.logPath = "/x/container.log";
  s.cgroupParent = "nave/pod-1";
  ASSERT_TRUE(writeShimState(dir_ + "/state.json", s).ok());
  auto r = readShimState(dir_ + "/state.json");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->state, kStateExited);
  EXPECT_EQ(r->shimStartTime, s.shimStartTime);
  EXPECT_EQ(r->createdAt, s.createdAt);
  EXPECT_EQ(r->exitCode, 137);
  EXPECT_TRUE(r->oomKilled);
  EXPECT_EQ(r->reason, "OOMKilled");
  EXPECT_EQ(r->cgroupParent, "nave/pod-1");
  // No temporary file stays behind.
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir_)) (void)e, ++files;
  EXPECT_EQ(files, 1);
  EXPECT_TRUE(readShimState(dir_ + "/missing.json").error().is(ErrorCode::kNotFound));
}

TEST_F(StateFileTest, ProcessStartTimeTellsReusedPidsApart) {
  auto self = processStartTime(::getpid());
  ASSERT_TRUE(self.has_value());
  EXPECT_TRUE(processIsAlive(::getpid(), *self));
  EXPECT_FALSE(processIsAlive(::getpid(), *self + 1));
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  // A zombie counts as gone.
  for (int i = 0; i < 200 && processStartTime(child).has_value(); ++i) ::usleep(5000);
  EXPECT_FALSE(processStartTime(child).has_value());
  ::waitpid(child, nullptr, 0);
}

TEST_F(StateFileTest, LockExcludesOtherHoldersAndNoticesRemoval) {
  auto first = ContainerLock::acquire(dir_);
  ASSERT_TRUE(first.ok());
  auto second = ContainerLock::tryAcquire(dir_);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->has_value());
  // A waiter blocked on the lock learns that the container went away meanwhile.
  Result<ContainerLock> waited = Error(ErrorCode::kInternal, "not run");
  std::thread t([&] { waited = ContainerLock::acquire(dir_); });
  ::usleep(50000);
  std::filesystem::rename(dir_, dir_ + ".gone");
  { auto released = std::move(*first); }
  t.join();
  std::filesystem::rename(dir_ + ".gone", dir_);
  ASSERT_FALSE(waited.ok());
  EXPECT_TRUE(waited.error().is(ErrorCode::kNotFound));
}

TEST_F(StateFileTest, SocketRequestsAndLongPaths) {
  // Longer than sun_path (108): reached through /proc/self/fd.
  std::string deep = dir_ + "/" + std::string(60, 'a') + "/" + std::string(60, 'b');
  std::filesystem::create_directories(deep);
  std::string path = deep + "/shim.sock";
  ASSERT_GT(path.size(), 108u);
  auto listener = listenUnixSocket(path);
  ASSERT_TRUE(listener.ok()) << listener.error().message();
  std::thread server([&] {
    for (int served = 0; served < 3; ++served) {
      pollfd p{listener->get(), POLLIN, 0};
      ::poll(&p, 1, 5000);
      int c = ::accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      char buf[256];
      ssize_t n = ::recv(c, buf, sizeof buf, 0);
      std::string line(buf, n > 0 ? static_cast<size_t>(n) : 0);
      std::string reply = line == "status\n"   ? "ok {\"a\":1}\n"
                          : line == "kill 0\n" ? encodeShimError(Error(ErrorCode::kInvalid, "bad signal 0")) + "\n"
                                               : "";  // "wait": no reply, close
      if (!reply.empty()) ::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      if (reply.empty()) ::usleep(100000);
      ::close(c);
    }
  });
  auto status = shimRequest(path, "status", 5000);
  ASSERT_TRUE(status.ok()) << status.error().message();
  EXPECT_EQ(*status, "{\"a\":1}");
  auto bad = shimRequest(path, "kill 0", 5000);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.error().is(ErrorCode::kInvalid));
  EXPECT_EQ(bad.error().message(), "bad signal 0");
  auto fd = connectUnixSocket(path);
  ASSERT_TRUE(fd.ok());
  auto timedOut = shimRoundTrip(fd->get(), "wait", 20);
  ASSERT_FALSE(timedOut.ok());
  EXPECT_TRUE(timedOut.error().is(ErrorCode::kTimeout));
  auto closed = shimRoundTrip(fd->get(), "", 5000);
  ASSERT_FALSE(closed.ok());
  EXPECT_TRUE(closed.error().is(ErrorCode::kUnavailable));
  server.join();
  listener->reset();
  ::unlink(path.c_str());
  auto gone = shimRequest(path, "status", 1000);
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(gone.error().is(ErrorCode::kUnavailable));
}

TEST(SpecJsonTest, RoundTripsEveryField) {
  ContainerSpec s;
  s.id = "c1";
  s.rootfs = "/r";
  s.process.args = {"sh", "-c", "echo hi"};
  s.process.env = {"A=1"};
  s.process.cwd = "/w";
  s.process.user = "nobody";
  s.process.extraGroups = {5, 6};
  s.process.tty = true;
  s.process.stdin = true;
  s.process.stdinOnce = true;
  s.process.rlimits = {{"RLIMIT_NOFILE", 10, 20}};
  s.hostname = "h";
  s.sandboxId = "sb";
  s.mounts = {{"/a", "/b", "bind", {"rbind", "ro"}}};
  s.resources.memoryLimitBytes = 64 << 20;
  s.resources.pidsLimit = 7;
  s.cgroupParent = "nave/pod";
  s.security.capAdd = {"NET_ADMIN"};
  s.security.noNewPrivileges = false;
  s.security.seccomp = SeccompMode::kUnconfined;
  s.logMaxBytes = 99;
  s.logMaxFiles = 2;
  s.stopSignal = 2;
  s.labels = {{"k", "v"}};
  auto back = containerSpecFromJson(containerSpecToJson(s));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->process.args, s.process.args);
  EXPECT_EQ(back->process.extraGroups, s.process.extraGroups);
  EXPECT_TRUE(back->process.tty);
  EXPECT_TRUE(back->process.stdin);
  EXPECT_TRUE(back->process.stdinOnce);
  ASSERT_EQ(back->process.rlimits.size(), 1u);
  EXPECT_EQ(back->process.rlimits[0].hard, 20u);
  ASSERT_EQ(back->mounts.size(), 1u);
  EXPECT_EQ(back->mounts[0].options, s.mounts[0].options);
  EXPECT_EQ(back->resources.memoryLimitBytes, s.resources.memoryLimitBytes);
  EXPECT_FALSE(back->security.noNewPrivileges);
  EXPECT_EQ(back->security.seccomp, SeccompMode::kUnconfined);
  EXPECT_EQ(back->stopSignal, 2);
  EXPECT_EQ(back->labels, s.labels);

  Json bad = containerSpecToJson(s);
  bad["process"]["args"] = "not a list";
  EXPECT_FALSE(containerSpecFromJson(bad).ok());
}

}  // namespace
}  // namespace nave::runtime
