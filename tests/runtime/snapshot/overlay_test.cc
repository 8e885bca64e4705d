// Overlay mounts by each method (the newest kernel's and the fallbacks) and the tree removal
// the snapshotter relies on.
#include "runtime/snapshot/overlay.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/fd.h"
#include "runtime/snapshot/tree.h"
#include "tests/runtime/snapshot/tar_builder.h"

namespace nave::runtime {
namespace {

using namespace testing;  // NOLINT: the test helpers

class OverlayMethodTest : public ::testing::TestWithParam<overlay::MountMethod> {
 protected:
  void TearDown() override { overlay::startWithMethodForTesting(overlay::MountMethod::kLayerFds); }
  ScratchDir scratch_;
};

TEST_P(OverlayMethodTest, MountsLayersTopFirst) {
  if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED: mounting overlay needs root";
  std::string base = scratch_.path();
  for (const char* d : {"/low1", "/low2", "/upper", "/work", "/merged"}) {
    std::filesystem::create_directories(base + d);
  }
  writeFile(base + "/low1/f", "bottom");
  writeFile(base + "/low1/only-bottom", "b");
  writeFile(base + "/low2/f", "top");
  overlay::startWithMethodForTesting(GetParam());
  Result<void> r = overlay::mount({base + "/low2", base + "/low1"}, base + "/upper", base + "/work",
                                  base + "/merged");
  if (!r.ok() && r.error().message().find("overlay") != std::string::npos &&
      r.error().message().find("No such device") != std::string::npos) {
    GTEST_SKIP() << "SKIPPED: no overlayfs: " << r.error().message();
  }
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(*overlay::isMountPoint(base + "/merged"));
  EXPECT_FALSE(*overlay::isMountPoint(base + "/upper"));
  EXPECT_EQ(readFile(base + "/merged/f"), "top");
  EXPECT_EQ(readFile(base + "/merged/only-bottom"), "b");
  writeFile(base + "/merged/new", "n");
  EXPECT_EQ(readFile(base + "/upper/new"), "n");
  ASSERT_TRUE(overlay::unmount(base + "/merged").ok());
  EXPECT_FALSE(*overlay::isMountPoint(base + "/merged"));
  EXPECT_TRUE(overlay::unmount(base + "/merged").ok()) << "not mounted is fine";
}

INSTANTIATE_TEST_SUITE_P(Methods, OverlayMethodTest,
                         ::testing::Values(overlay::MountMethod::kLayerFds,
                                           overlay::MountMethod::kLayerPaths,
                                           overlay::MountMethod::kOptionString),
                         [](const auto& info) {
                           switch (info.param) {
                             case overlay::MountMethod::kLayerFds:
                               return "LayerFds";
                             case overlay::MountMethod::kLayerPaths:
                               return "LayerPaths";
                             default:
                               return "OptionString";
                           }
                         });

TEST(TreeTest, RemovesDeepTreesWithFewDescriptors) {
  ScratchDir scratch;
  // 3000 levels: more than the descriptors we allow ourselves below.
  std::string top = scratch / "deep";
  ::mkdir(top.c_str(), 0755);
  UniqueFd cur(::open(top.c_str(), O_RDONLY | O_DIRECTORY));
  for (int i = 0; i < 3000; ++i) {
    ASSERT_EQ(::mkdirat(cur.get(), "d", 0700), 0);
    UniqueFd f(::openat(cur.get(), "file", O_WRONLY | O_CREAT, 0));  // unreadable: no matter
    cur.reset(::openat(cur.get(), "d", O_RDONLY | O_DIRECTORY));
    ASSERT_TRUE(cur.valid());
  }
  cur.reset();
  struct rlimit old, low = {64, 64};
  ::getrlimit(RLIMIT_NOFILE, &old);
  ::setrlimit(RLIMIT_NOFILE, &low);
  Result<void> r = tree::removePath(top);
  ::setrlimit(RLIMIT_NOFILE, &old);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_FALSE(std::filesystem::exists(top));
}

TEST(TreeTest, NeverFollowsSymlinksNorCrossesMounts) {
  ScratchDir scratch;
  std::string victim = scratch / "victim";
  std::filesystem::create_directories(victim + "/sub");
  writeFile(victim + "/sub/file", "keep");
  std::string doomed = scratch / "doomed";
  std::filesystem::create_directories(doomed + "/a");
  std::filesystem::create_symlink(victim, doomed + "/a/link");
  std::filesystem::create_symlink(victim + "/sub/file", doomed + "/filelink");
  int64_t bytes = 0;
  ASSERT_TRUE(tree::removePath(doomed, &bytes).ok());
  EXPECT_FALSE(std::filesystem::exists(doomed));
  EXPECT_EQ(readFile(victim + "/sub/file"), "keep");

  if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED: bind mounts need root";
  std::filesystem::create_directories(doomed + "/mnt");
  ASSERT_EQ(::mount(victim.c_str(), (doomed + "/mnt").c_str(), nullptr, MS_BIND, nullptr), 0);
  Result<void> r = tree::removePath(doomed);
  EXPECT_FALSE(r.ok()) << "descended into a bind mount";
  EXPECT_EQ(readFile(victim + "/sub/file"), "keep");
  ::umount2((doomed + "/mnt").c_str(), MNT_DETACH);
  EXPECT_TRUE(tree::removePath(doomed).ok());
}

}  // namespace
}  // namespace nave::runtime
