#include "common/fs.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

namespace nave {
namespace {

std::string tempDir() {
  char tmpl[] = "/tmp/nave-fs-test-XXXXXX";
  return ::mkdtemp(tmpl);
}

TEST(RemoveTree, RemovesNestedTreesWithoutFollowingSymlinks) {
  std::string outside = tempDir();
  std::ofstream(outside + "/keep") << "x";
  std::string root = tempDir();
  ASSERT_EQ(::mkdir((root + "/a").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((root + "/a/b").c_str(), 0755), 0);
  std::ofstream(root + "/a/b/file") << "data";
  std::ofstream(root + "/top") << "data";
  ASSERT_EQ(::symlink(outside.c_str(), (root + "/a/link").c_str()), 0);
  auto removed = removeTree(root);
  ASSERT_TRUE(removed.ok()) << removed.error().message();
  EXPECT_NE(::access(root.c_str(), F_OK), 0);
  EXPECT_EQ(::access((outside + "/keep").c_str(), F_OK), 0) << "a symlink was followed";
  EXPECT_TRUE(removeTree(root).ok()) << "missing is fine";
  ASSERT_TRUE(removeTree(outside).ok());
}

TEST(RemoveTree, RefusesToDescendIntoMounts) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
  std::string root = tempDir();
  ASSERT_EQ(::mkdir((root + "/mnt").c_str(), 0755), 0);
  ASSERT_EQ(::mount("tmpfs", (root + "/mnt").c_str(), "tmpfs", 0, nullptr), 0);
  std::ofstream(root + "/mnt/precious") << "x";
  auto r = removeTree(root);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(::access((root + "/mnt/precious").c_str(), F_OK), 0);
  ASSERT_EQ(::umount((root + "/mnt").c_str()), 0);
  EXPECT_TRUE(removeTree(root).ok());
}

}  // namespace
}  // namespace nave
