// Containers on the real kernel: isolation, security, users, rlimits, exec and sandboxes.
#include "runtime/container/sys/launcher.h"

#include <gtest/gtest.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

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

}  // namespace
}  // namespace nave::runtime::sys
