// The host file system layer: lookups that stay below a directory, ownership, mounts.
#include "runtime/agent/pod/host_fs.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <filesystem>

#include "tests/runtime/agent/pod/test_support.h"

namespace nave::agent {
namespace {

using testing::modeOf;
using testing::readFile;
using testing::ScratchDir;
using testing::writeFile;

ino_t inodeOf(int fd) {
  struct stat st {};
  ::fstat(fd, &st);
  return st.st_ino;
}

ino_t inodeOf(const std::string& path) {
  struct stat st {};
  ::stat(path.c_str(), &st);
  return st.st_ino;
}

// Each case runs with openat2 and with the component walk of older kernels.
class BeneathTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    hostfs::forceComponentWalkForTesting(GetParam());
    // vol/ holds: file, dir/inner, link-in -> dir/inner, up-in -> ../vol/file (leaves and
    // comes back), escape -> ../outside, abs -> /etc, loop -> loop, dangling -> made/here
    std::string v = scratch_ / "vol";
    ASSERT_TRUE(hostfs::makeDirs(v + "/dir", 0755).ok());
    writeFile(v + "/file", "f");
    writeFile(v + "/dir/inner", "i");
    writeFile(scratch_ / "outside", "secret");
    ASSERT_EQ(::symlink("dir/inner", (v + "/link-in").c_str()), 0);
    ASSERT_EQ(::symlink("dir/../file", (v + "/dotdot-in").c_str()), 0);
    ASSERT_EQ(::symlink("../outside", (v + "/escape").c_str()), 0);
    ASSERT_EQ(::symlink("/etc", (v + "/abs").c_str()), 0);
    ASSERT_EQ(::symlink("loop", (v + "/loop").c_str()), 0);
    ASSERT_EQ(::symlink("made/here", (v + "/dangling").c_str()), 0);
    root_ = UniqueFd(::open(v.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_.valid());
  }
  void TearDown() override { hostfs::forceComponentWalkForTesting(false); }

  ScratchDir scratch_;
  UniqueFd root_;
};

TEST_P(BeneathTest, OpensWhatStaysInside) {
  std::string v = scratch_ / "vol";
  for (const auto& [rel, target] :
       std::vector<std::pair<std::string, std::string>>{{"file", "file"},
                                                        {"dir/inner", "dir/inner"},
                                                        {"./dir//inner", "dir/inner"},
                                                        {"dir/../file", "file"},
                                                        {"link-in", "dir/inner"},
                                                        {"dotdot-in", "file"},
                                                        {"", "."},
                                                        {"dir", "dir"}}) {
    auto fd = hostfs::openBeneath(root_.get(), rel);
    ASSERT_TRUE(fd.ok()) << rel << ": " << fd.error().message();
    EXPECT_EQ(inodeOf(fd->get()), inodeOf(v + "/" + target)) << rel;
  }
}

TEST_P(BeneathTest, RefusesEscapes) {
  for (const char* rel :
       {"escape", "abs", "abs/passwd", "..", "../outside", "dir/../../outside", "/etc/passwd"}) {
    auto fd = hostfs::openBeneath(root_.get(), rel);
    ASSERT_FALSE(fd.ok()) << rel;
    EXPECT_EQ(fd.error().code(), ErrorCode::kForbidden) << rel << ": " << fd.error().message();
    EXPECT_NE(fd.error().message().find("leads outside"), std::string::npos);
  }
}

TEST_P(BeneathTest, OtherFailures) {
  auto missing = hostfs::openBeneath(root_.get(), "nope/x");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(hostfs::openBeneath(root_.get(), "loop").ok());
  EXPECT_FALSE(hostfs::openBeneath(root_.get(), "file/x").ok());
  EXPECT_EQ(hostfs::openBeneath(root_.get(), "dangling").error().code(), ErrorCode::kNotFound);
}

TEST_P(BeneathTest, MakeDirsCreatesWithTheExactModeAndStaysInside) {
  mode_t old = ::umask(077);
  auto made = hostfs::makeDirsBeneath(root_.get(), "a/b/c", 02775);
  ::umask(old);
  ASSERT_TRUE(made.ok()) << made.error().message();
  std::string v = scratch_ / "vol";
  EXPECT_EQ(inodeOf(made->get()), inodeOf(v + "/a/b/c"));
  EXPECT_EQ(modeOf(v + "/a"), 02775u);
  EXPECT_EQ(modeOf(v + "/a/b/c"), 02775u);
  // Through a relative symlink: created where it points, inside.
  ASSERT_TRUE(hostfs::makeDirsBeneath(root_.get(), "dangling/deeper", 0755).ok());
  EXPECT_TRUE(std::filesystem::is_directory(v + "/made/here/deeper"));
  // Existing directories are fine.
  EXPECT_TRUE(hostfs::makeDirsBeneath(root_.get(), "a/b", 0700).ok());
  EXPECT_EQ(modeOf(v + "/a/b"), 02775u) << "existing directories keep their mode";
  for (const char* rel : {"escape/x", "abs/x", "../x", "dir/../../x"}) {
    auto r = hostfs::makeDirsBeneath(root_.get(), rel, 0755);
    ASSERT_FALSE(r.ok()) << rel;
    EXPECT_EQ(r.error().code(), ErrorCode::kForbidden) << rel;
  }
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "x"));
  EXPECT_FALSE(hostfs::makeDirsBeneath(root_.get(), "file/x", 0755).ok());
}

INSTANTIATE_TEST_SUITE_P(Lookups, BeneathTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "ComponentWalk" : "Openat2"; });

TEST(HostFsTest, WriteFileIfChangedRewritesInPlace) {
  ScratchDir scratch;
  std::string f = scratch / "hosts";
  mode_t old = ::umask(077);
  auto first = hostfs::writeFileIfChanged(f, "one\n", 0644);
  ::umask(old);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(*first);
  EXPECT_EQ(modeOf(f), 0644u);
  ino_t inode = inodeOf(f);
  EXPECT_FALSE(*hostfs::writeFileIfChanged(f, "one\n", 0644));
  EXPECT_TRUE(*hostfs::writeFileIfChanged(f, "two, longer\n", 0644));
  EXPECT_EQ(readFile(f), "two, longer\n");
  EXPECT_TRUE(*hostfs::writeFileIfChanged(f, "two, longer\n", 0600)) << "a mode change rewrites";
  EXPECT_EQ(modeOf(f), 0600u);
  EXPECT_EQ(inodeOf(f), inode) << "bind mounts of the file keep seeing it";
}

TEST(HostFsTest, ReadFileAndMakeDirs) {
  ScratchDir scratch;
  writeFile(scratch / "f", "12345");
  EXPECT_EQ(*hostfs::readFile(scratch / "f"), "12345");
  EXPECT_EQ(hostfs::readFile(scratch / "f", 4).error().code(), ErrorCode::kTooLarge);
  EXPECT_EQ(hostfs::readFile(scratch / "missing").error().code(), ErrorCode::kNotFound);
  ASSERT_TRUE(hostfs::makeDirs(scratch / "a/b/c", 0700).ok());
  EXPECT_EQ(modeOf(scratch / "a/b/c"), 0700u);
  EXPECT_TRUE(hostfs::makeDirs(scratch / "a/b/c", 0700).ok());
  EXPECT_FALSE(hostfs::makeDirs(scratch / "f/x", 0700).ok());
}

TEST(HostFsTest, UnescapesMountInfo) {
  EXPECT_EQ(hostfs::unescapeMountInfo("/a\\040b\\011c\\012d\\134e"), "/a b\tc\nd\\e");
  EXPECT_EQ(hostfs::unescapeMountInfo("/plain"), "/plain");
  EXPECT_EQ(hostfs::unescapeMountInfo("/odd\\09"), "/odd\\09");
}

TEST(HostFsTest, MountsAreFoundAndUnmounted) {
  if (!testing::isRoot()) GTEST_SKIP() << "SKIPPED: mounting a tmpfs needs root";
  ScratchDir scratch;
  std::string a = scratch / "with space", b = scratch / "with space/inner";
  ASSERT_TRUE(hostfs::makeDirs(a, 0755).ok());
  EXPECT_FALSE(*hostfs::isMountPoint(a));
  ASSERT_TRUE(hostfs::mountTmpfs(a, 1 << 20).ok());
  ASSERT_TRUE(hostfs::makeDirs(b, 0755).ok());
  ASSERT_TRUE(hostfs::mountTmpfs(b, 0).ok());
  EXPECT_TRUE(*hostfs::isMountPoint(a));
  EXPECT_TRUE(*hostfs::isTmpfsMountPoint(b));
  // A bind mount of a file, made from a descriptor.
  writeFile(scratch / "src", "content");
  writeFile(scratch / "dst", "");
  UniqueFd src(::open((scratch / "src").c_str(), O_PATH | O_CLOEXEC));
  ASSERT_TRUE(hostfs::bindMountFd(src.get(), scratch / "dst").ok());
  EXPECT_EQ(readFile(scratch / "dst"), "content");
  EXPECT_TRUE(*hostfs::isMountPoint(scratch / "dst"));
  EXPECT_FALSE(*hostfs::isTmpfsMountPoint(scratch / "dst"));

  auto mounts = hostfs::mountPointsUnder(scratch.path());
  ASSERT_TRUE(mounts.ok()) << mounts.error().message();
  ASSERT_EQ(mounts->size(), 3u);
  EXPECT_EQ((*mounts)[0], b) << "innermost first";
  for (const std::string& m : *mounts) ASSERT_TRUE(hostfs::unmount(m).ok()) << m;
  EXPECT_TRUE(hostfs::mountPointsUnder(scratch.path())->empty());
  EXPECT_FALSE(*hostfs::isMountPoint(a));
  EXPECT_TRUE(hostfs::unmount(a).ok()) << "not mounted is fine";
  EXPECT_TRUE(hostfs::mountPointsUnder(scratch / "missing")->empty());
}

TEST(HostFsTest, TmpfsGetsItsSize) {
  if (!testing::isRoot()) GTEST_SKIP() << "SKIPPED: mounting a tmpfs needs root";
  ScratchDir scratch;
  ASSERT_TRUE(hostfs::makeDirs(scratch / "t", 0755).ok());
  ASSERT_TRUE(hostfs::mountTmpfs(scratch / "t", 4 << 20).ok());
  struct statvfs vfs {};
  ASSERT_EQ(::statvfs((scratch / "t").c_str(), &vfs), 0);
  EXPECT_EQ(vfs.f_blocks * vfs.f_frsize, 4u << 20);
  EXPECT_TRUE(hostfs::unmount(scratch / "t").ok());
}

TEST(HostFsTest, VolumeOwnership) {
  if (!testing::isRoot()) GTEST_SKIP() << "SKIPPED: changing a file's group needs root";
  ScratchDir scratch;
  std::string v = scratch / "vol";
  ASSERT_TRUE(hostfs::makeDirs(v + "/sub", 0700).ok());
  ASSERT_EQ(::chmod(v.c_str(), 0755), 0);
  writeFile(v + "/file", "x");
  ASSERT_EQ(::chmod((v + "/file").c_str(), 0600), 0);
  writeFile(v + "/sub/exec", "#!/bin/sh");
  ASSERT_EQ(::chmod((v + "/sub/exec").c_str(), 04755), 0);
  writeFile(scratch / "outside", "o");
  ASSERT_EQ(::chmod((scratch / "outside").c_str(), 0600), 0);
  ASSERT_EQ(::symlink("../outside", (v + "/sub/link").c_str()), 0);

  ASSERT_TRUE(hostfs::setVolumeOwnership(v, 4321, false).ok());
  auto groupOf = [](const std::string& p) {
    struct stat st {};
    ::lstat(p.c_str(), &st);
    return st.st_gid;
  };
  for (const char* p : {"", "/sub", "/file", "/sub/exec", "/sub/link"}) {
    EXPECT_EQ(groupOf(v + p), 4321u) << p;
  }
  EXPECT_EQ(modeOf(v), 02775u);
  EXPECT_EQ(modeOf(v + "/sub"), 02770u);
  EXPECT_EQ(modeOf(v + "/file"), 0660u);
  EXPECT_EQ(modeOf(v + "/sub/exec"), 04775u) << "setuid kept through the chown";
  EXPECT_EQ(modeOf(scratch / "outside"), 0600u) << "a symlink's target is not touched";
  EXPECT_NE(groupOf(scratch / "outside"), 4321u);

  ASSERT_EQ(::chmod((v + "/file").c_str(), 0400), 0);
  ASSERT_TRUE(hostfs::setVolumeOwnership(v, 4321, true).ok());
  EXPECT_EQ(modeOf(v + "/file"), 0440u) << "read-only volumes get g+r only";
  EXPECT_FALSE(hostfs::setVolumeOwnership(scratch / "missing", 1, false).ok());
}

}  // namespace
}  // namespace nave::agent
