// AtomicWriter: the ..data layout, updates, removals, invalid paths, and readers racing a
// writer.
#include "runtime/agent/pod/atomic_writer.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "tests/runtime/agent/pod/test_support.h"

namespace nave::agent {
namespace {

using testing::modeOf;
using testing::readFile;
using testing::ScratchDir;

std::string linkOf(const std::string& path) {
  std::error_code ec;
  auto target = std::filesystem::read_symlink(path, ec);
  return ec ? "" : target.string();
}

// The names in `dir` (without "." and "..").
std::set<std::string> entries(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    out.insert(e.path().filename().string());
  }
  return out;
}

class AtomicWriterTest : public ::testing::Test {
 protected:
  std::string dir() { return scratch_ / "vol"; }
  void SetUp() override { std::filesystem::create_directory(dir()); }
  Result<bool> write(const Payload& p) { return AtomicWriter(dir()).write(p); }

  ScratchDir scratch_;
};

TEST_F(AtomicWriterTest, LaysOutDataDirectoryAndVisibleLinks) {
  mode_t old = ::umask(077);
  auto r =
      write({{"a", {"alpha", 0644}}, {"sub/b", {"beta", 0600}}, {"sub/deep/c", {"gamma", 0444}}});
  ::umask(old);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(*r);
  std::string ts = linkOf(dir() + "/..data");
  ASSERT_TRUE(ts.starts_with("..")) << ts;
  EXPECT_EQ(ts.size(), std::string("..2024_01_02_15_04_05.XXXXXX").size());
  EXPECT_EQ(modeOf(dir() + "/" + ts), 0755u);
  EXPECT_EQ(linkOf(dir() + "/a"), "..data/a");
  EXPECT_EQ(linkOf(dir() + "/sub"), "..data/sub");
  EXPECT_EQ(readFile(dir() + "/a"), "alpha");
  EXPECT_EQ(readFile(dir() + "/sub/deep/c"), "gamma");
  EXPECT_EQ(modeOf(dir() + "/" + ts + "/a"), 0644u);
  EXPECT_EQ(modeOf(dir() + "/" + ts + "/sub/b"), 0600u) << "modes are exact whatever the umask";
  EXPECT_EQ(modeOf(dir() + "/" + ts + "/sub/deep/c"), 0444u);
  EXPECT_EQ(entries(dir()), (std::set<std::string>{"..data", ts, "a", "sub"}));
}

TEST_F(AtomicWriterTest, UnchangedPayloadWritesNothing) {
  ASSERT_TRUE(write({{"a", {"1", 0644}}}).ok());
  std::string ts = linkOf(dir() + "/..data");
  auto again = write({{"a", {"1", 0644}}});
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  EXPECT_EQ(linkOf(dir() + "/..data"), ts);
  // A lost visible link is put back without a new version (kubernetes#121472).
  ASSERT_EQ(::unlink((dir() + "/a").c_str()), 0);
  EXPECT_FALSE(*write({{"a", {"1", 0644}}}));
  EXPECT_EQ(readFile(dir() + "/a"), "1");
}

TEST_F(AtomicWriterTest, UpdatesSwapTheWholeSetAndRemoveWhatLeft) {
  ASSERT_TRUE(write({{"keep", {"1", 0644}},
                     {"gone", {"x", 0644}},
                     {"d/gone", {"y", 0644}},
                     {"d/keep", {"z", 0644}}})
                  .ok());
  std::string first = linkOf(dir() + "/..data");
  auto r = write({{"keep", {"2", 0644}}, {"d/keep", {"z", 0644}}, {"new", {"n", 0644}}});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(*r);
  std::string second = linkOf(dir() + "/..data");
  EXPECT_NE(first, second);
  EXPECT_FALSE(std::filesystem::exists(dir() + "/" + first)) << "the old version is removed";
  EXPECT_EQ(entries(dir()), (std::set<std::string>{"..data", second, "keep", "d", "new"}));
  EXPECT_EQ(readFile(dir() + "/keep"), "2");
  EXPECT_FALSE(std::filesystem::exists(dir() + "/d/gone"));
  // Only removals also make a new version.
  EXPECT_TRUE(*write({{"keep", {"2", 0644}}}));
  EXPECT_EQ(entries(dir()), (std::set<std::string>{"..data", linkOf(dir() + "/..data"), "keep"}));
  // And an empty payload empties the volume.
  EXPECT_TRUE(*write({}));
  EXPECT_EQ(entries(dir()).size(), 2u);
}

TEST_F(AtomicWriterTest, RefusesInvalidPaths) {
  struct Case {
    std::string path;
    std::string message;
  } cases[] = {
      {"", "invalid path: must not be empty: \"\""},
      {"/etc/passwd", "invalid path: must be relative path: /etc/passwd"},
      {"a/../../b", "invalid path: must not contain '..': a/../../b"},
      {"..", "invalid path: must not contain '..': .."},
      {"..data", "invalid path: must not start with '..': ..data"},
      {"..hidden/x", "invalid path: must not start with '..': ..hidden/x"},
      {std::string(256, 'n'),
       "invalid path: filenames must be less than or equal to 255 characters"},
      {std::string(4097, 'p'), "invalid path: must be less than or equal to 4096 characters"},
      {".", "invalid path: names the directory itself: ."},
  };
  for (const Case& c : cases) {
    auto r = write({{"ok", {"1", 0644}}, {c.path, {"x", 0644}}});
    ASSERT_FALSE(r.ok()) << c.path;
    EXPECT_EQ(r.error().message(), c.message);
  }
  EXPECT_EQ(entries(dir()), std::set<std::string>{}) << "nothing written";
  EXPECT_TRUE(write({{"./a//b", {"1", 0644}}, {"x..y", {"2", 0644}}}).ok());
  EXPECT_EQ(readFile(dir() + "/a/b"), "1");
  EXPECT_EQ(readFile(dir() + "/x..y"), "2");
}

TEST_F(AtomicWriterTest, CleansUpAfterInterruptedWrites) {
  ASSERT_TRUE(write({{"a", {"1", 0644}}}).ok());
  std::string current = linkOf(dir() + "/..data");
  std::filesystem::create_directories(dir() + "/..2020_01_01_00_00_00.abcdef/x");
  ASSERT_EQ(::symlink("..2020_01_01_00_00_00.abcdef", (dir() + "/..data_tmp").c_str()), 0);
  auto r = write({{"a", {"2", 0644}}});
  ASSERT_TRUE(r.ok()) << r.error().message();
  std::string now = linkOf(dir() + "/..data");
  EXPECT_EQ(entries(dir()), (std::set<std::string>{"..data", now, "a"}));
  EXPECT_EQ(readFile(dir() + "/a"), "2");
  // Leftovers are collected by a write that changes nothing, too.
  std::filesystem::create_directories(dir() + "/..2020_01_01_00_00_00.zzzzzz");
  EXPECT_FALSE(*write({{"a", {"2", 0644}}}));
  EXPECT_EQ(entries(dir()), (std::set<std::string>{"..data", now, "a"}));
}

TEST_F(AtomicWriterTest, SetPermsRunsBeforePublishingAndCanStopIt) {
  ASSERT_TRUE(write({{"a", {"1", 0644}}}).ok());
  std::string published = linkOf(dir() + "/..data");
  int calls = 0;
  std::string seen;
  auto r = AtomicWriter(dir()).write({{"a", {"2", 0644}}}, [&]() -> Result<void> {
    ++calls;
    seen = linkOf(dir() + "/..data");
    return Error(ErrorCode::kForbidden, "no chown for you");
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "no chown for you");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen, published) << "not yet published when setPerms runs";
  EXPECT_EQ(linkOf(dir() + "/..data"), published);
  EXPECT_EQ(readFile(dir() + "/a"), "1");
  EXPECT_EQ(entries(dir()), (std::set<std::string>{"..data", published, "a"}))
      << "the unpublished version is removed";
  EXPECT_FALSE(*AtomicWriter(dir()).write({{"a", {"1", 0644}}}, [&]() -> Result<void> {
    ++calls;
    return {};
  }));
  EXPECT_EQ(calls, 1) << "nothing written, nothing to set";
}

TEST_F(AtomicWriterTest, ABrokenDataLinkIsAnError) {
  ASSERT_EQ(::symlink("/etc", (dir() + "/..data").c_str()), 0);
  EXPECT_FALSE(write({{"a", {"1", 0644}}}).ok());
}

// Version n holds files f0..f(2+n%4), each reading "vN": a reader that opens ..data once must
// see exactly one version's names and contents.
Payload version(int n) {
  Payload p;
  for (int i = 0; i < 3 + n % 4; ++i) {
    p["f" + std::to_string(i)] = {"v" + std::to_string(n), 0644};
  }
  return p;
}

TEST_F(AtomicWriterTest, ConcurrentReadersSeeOneCompleteVersion) {
  ASSERT_TRUE(write(version(0)).ok());
  constexpr int kVersions = 300;
  std::atomic<bool> done{false};
  std::atomic<int> consistent{0}, retired{0}, mixed{0};
  std::string firstMixed;
  std::thread reader([&] {
    do {
      int dirFd = ::open((dir() + "/..data").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dirFd < 0) {
        ++retired;  // swapped and removed between the lookup and the open
        continue;
      }
      DIR* d = ::fdopendir(dirFd);
      std::set<std::string> names, contents;
      bool gone = false;
      while (dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        int fd = ::openat(dirFd, name.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
          gone = true;  // the version was retired while being read: read again
          break;
        }
        char buf[64];
        ssize_t n = ::read(fd, buf, sizeof buf);
        ::close(fd);
        names.insert(name);
        contents.insert(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0));
      }
      ::closedir(d);
      if (gone || names.empty()) {
        ++retired;
        continue;
      }
      bool ok = contents.size() == 1;
      if (ok) {
        int v = std::stoi(contents.begin()->substr(1));
        std::set<std::string> expected;
        for (const auto& [path, file] : version(v)) expected.insert(path);
        // Files missing from one version: it was retired (its files unlinked) while readdir
        // went through it, which a reader holding an old version may see; not a mix.
        if (names != expected && std::includes(expected.begin(), expected.end(), names.begin(), names.end())) {
          ++retired;
          continue;
        }
        ok = names == expected;
      }
      if (ok) {
        ++consistent;
      } else if (mixed++ == 0) {
        for (const auto& c : contents) firstMixed += c + " ";
      }
    } while (!done.load());  // at least one read, the last one after the writer finished
  });
  for (int v = 1; v <= kVersions; ++v) {
    auto r = write(version(v));
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  done = true;
  reader.join();
  EXPECT_EQ(mixed.load(), 0) << "a reader saw a mix: " << firstMixed;
  EXPECT_GT(consistent.load(), 0);
  EXPECT_EQ(readFile(dir() + "/f0"), "v" + std::to_string(kVersions));
  EXPECT_EQ(entries(dir()).size(), 2 + version(kVersions).size()) << "no leftovers";
}

}  // namespace
}  // namespace nave::agent
