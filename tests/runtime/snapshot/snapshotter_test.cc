// Snapshotter: layers unpacked once and atomically, chain IDs, overlay root filesystems
// (needs root and overlayfs; skipped loudly otherwise), removal without leftovers, GC.
#include "runtime/snapshot/snapshotter.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "common/fd.h"
#include "tests/runtime/snapshot/tar_builder.h"

namespace nave::runtime {
namespace {

using namespace testing;  // NOLINT: the tar builder helpers

std::string mountInfo() {
  return readFile("/proc/self/mountinfo");
}

size_t countOccurrences(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// Why overlay mounts cannot work here, or "" if they can (tried for real in `scratch`).
std::string overlayUnavailable(const std::string& scratch) {
  if (::geteuid() != 0) return "not running as root";
  std::string base = scratch + "/probe";
  for (const char* d : {"", "/l", "/u", "/w", "/m"}) ::mkdir((base + d).c_str(), 0700);
  std::string options = "lowerdir=" + base + "/l,upperdir=" + base + "/u,workdir=" + base + "/w";
  if (::mount("overlay", (base + "/m").c_str(), "overlay", 0, options.c_str()) != 0) {
    return std::string("cannot mount overlay: ") + std::strerror(errno);
  }
  ::umount2((base + "/m").c_str(), MNT_DETACH);
  std::filesystem::remove_all(base);
  return "";
}

class SnapshotterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(scratch_.path().empty());
    root_ = scratch_ / "snapshots";
    auto s = Snapshotter::open(root_);
    ASSERT_TRUE(s.ok()) << s.error().message();
    snapshotter_ = std::move(*s);
  }

  // Writes `tar` (compressed with `compress`) as a blob and returns its LayerSource.
  LayerSource layer(const TarBuilder& tar, const std::string& name,
                    std::string (*compress)(const std::string&) = nullptr) {
    std::string raw = tar.build();
    LayerSource source;
    source.blobPath = scratch_ / name;
    source.diffId = sha256Digest(raw);
    writeFile(source.blobPath, compress != nullptr ? compress(raw) : raw);
    return source;
  }

  void requireOverlay() {
    std::string why = overlayUnavailable(scratch_.path());
    if (!why.empty()) GTEST_SKIP() << "SKIPPED: overlay mounts impossible here: " << why;
  }

  std::vector<std::string> layerNames() {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(root_ + "/layers")) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  ScratchDir scratch_;
  std::string root_;
  std::unique_ptr<Snapshotter> snapshotter_;
};

std::string gzipDefault(const std::string& s) {
  return gzip(s);
}

TEST(ChainIdsTest, FollowsTheImageSpec) {
  std::string a = "sha256:" + std::string(64, 'a');
  std::string b = "sha256:" + std::string(64, 'b');
  std::string c = "sha256:" + std::string(64, 'c');
  std::vector<std::string> chains = Snapshotter::chainIds({a, b, c});
  ASSERT_EQ(chains.size(), 3u);
  EXPECT_EQ(chains[0], a);
  EXPECT_EQ(chains[1], sha256Digest(a + " " + b));
  EXPECT_EQ(chains[2], sha256Digest(chains[1] + " " + c));
  EXPECT_TRUE(Snapshotter::chainIds({}).empty());
}

TEST_F(SnapshotterTest, PreparesEachLayerOnce) {
  LayerSource base = layer(TarBuilder().add(file("etc/os-release", "nave")), "base", gzipDefault);
  LayerSource top = layer(TarBuilder().add(file("app", "bin")), "top", zstd);
  auto dirs = snapshotter_->prepareLayers({base, top});
  ASSERT_TRUE(dirs.ok()) << dirs.error().message();
  std::vector<std::string> chains = Snapshotter::chainIds({base.diffId, top.diffId});
  ASSERT_EQ(dirs->size(), 2u);
  EXPECT_EQ((*dirs)[0], root_ + "/layers/" + chains[0].substr(7) + "/fs");
  EXPECT_EQ((*dirs)[1], root_ + "/layers/" + chains[1].substr(7) + "/fs");
  EXPECT_EQ(readFile((*dirs)[0] + "/etc/os-release"), "nave");
  EXPECT_EQ(readFile((*dirs)[1] + "/app"), "bin");

  // Already there: not unpacked again (even with the blob gone).
  struct stat before, after;
  ASSERT_EQ(::stat((*dirs)[1].c_str(), &before), 0);
  std::filesystem::remove(top.blobPath);
  auto again = snapshotter_->prepareLayers({base, top});
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(*again, *dirs);
  ASSERT_EQ(::stat((*dirs)[1].c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);

  // The same top layer on another base is another chain, unpacked on its own.
  LayerSource other = layer(TarBuilder().add(file("other", "o")), "other");
  std::filesystem::copy_file(scratch_ / "base", top.blobPath);  // any blob: must be verified
  auto mismatched = snapshotter_->prepareLayers({other, top});
  ASSERT_FALSE(mismatched.ok());
  EXPECT_EQ(mismatched.error().code(), ErrorCode::kBadRequest);
  EXPECT_NE(mismatched.error().message().find("diff ID mismatch"), std::string::npos)
      << mismatched.error().message();
}

TEST_F(SnapshotterTest, BadLayersLeaveNothingBehind) {
  LayerSource good = layer(TarBuilder().add(file("a", "a")), "good");
  LayerSource wrongId = layer(TarBuilder().add(file("b", "b")), "wrong");
  wrongId.diffId = good.diffId.substr(0, 7) + std::string(64, '0');
  LayerSource hostile =
      layer(TarBuilder().add(file("x", "x")).add(file("../../escape", "x")), "hostile");
  LayerSource corrupt = layer(TarBuilder().add(file("y", "y")), "corrupt");
  writeFile(corrupt.blobPath, gzip(readFile(corrupt.blobPath)).substr(0, 30));
  LayerSource missing = layer(TarBuilder().add(file("z", "z")), "missing");
  std::filesystem::remove(missing.blobPath);
  LayerSource malformedId = good;
  malformedId.diffId = "sha256:xyz";

  std::vector<std::pair<LayerSource, ErrorCode>> cases = {{wrongId, ErrorCode::kBadRequest},
                                                          {hostile, ErrorCode::kBadRequest},
                                                          {corrupt, ErrorCode::kBadRequest},
                                                          {missing, ErrorCode::kNotFound},
                                                          {malformedId, ErrorCode::kBadRequest}};
  for (const auto& [l, code] : cases) {
    SCOPED_TRACE(l.blobPath);
    auto r = snapshotter_->prepareLayers({l});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), code) << r.error().message();
    EXPECT_EQ(layerNames(), std::vector<std::string>{}) << r.error().message();
  }
  EXPECT_FALSE(std::filesystem::exists(scratch_.path() + "/escape"));
  // Layers below a bad one are complete and stay; nothing of the bad one does.
  auto r = snapshotter_->prepareLayers({good, hostile});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(layerNames(), std::vector<std::string>{good.diffId.substr(7)});
}

TEST_F(SnapshotterTest, ConcurrentPreparesUnpackOnce) {
  TarBuilder tar;
  for (int i = 0; i < 300; ++i) tar.add(file("f" + std::to_string(i), std::string(10000, 'q')));
  LayerSource source = layer(tar, "big", gzipDefault);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  std::vector<std::vector<std::string>> results(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto r = snapshotter_->prepareLayers({source});
      if (!r.ok()) {
        ++failures;
        ADD_FAILURE() << r.error().message();
        return;
      }
      results[t] = *r;
    });
  }
  // A second Snapshotter on the same root stands for another process.
  auto other = Snapshotter::open(root_);
  ASSERT_TRUE(other.ok());
  auto fromOther = (*other)->prepareLayers({source});
  for (auto& t : threads) t.join();
  ASSERT_TRUE(fromOther.ok()) << fromOther.error().message();
  EXPECT_EQ(failures, 0);
  for (const auto& r : results) EXPECT_EQ(r, *fromOther);
  EXPECT_EQ(layerNames(), std::vector<std::string>{source.diffId.substr(7)});
  EXPECT_EQ(listTree((*fromOther)[0]).size(), 300u);
}

TEST_F(SnapshotterTest, OpenRemovesInterruptedUnpacks) {
  std::string hex(64, 'e'), busyHex(64, 'f');
  std::string stale = root_ + "/layers/.tmp-" + hex + "-abc123";
  std::string busy = root_ + "/layers/.tmp-" + busyHex + "-def456";
  std::filesystem::create_directories(stale + "/fs/usr/bin");
  writeFile(stale + "/fs/usr/bin/half", "half written");
  std::filesystem::create_symlink("/etc", stale + "/fs/etc");
  std::filesystem::create_directories(busy + "/fs");
  // Another process is still unpacking `busy`: it holds the chain's lock.
  UniqueFd lock(::open((root_ + "/locks/" + busyHex + ".lock").c_str(), O_RDWR | O_CREAT, 0600));
  ASSERT_EQ(::flock(lock.get(), LOCK_EX), 0);
  auto reopened = Snapshotter::open(root_);
  ASSERT_TRUE(reopened.ok()) << reopened.error().message();
  EXPECT_FALSE(std::filesystem::exists(stale));
  EXPECT_TRUE(std::filesystem::exists(busy));
  EXPECT_TRUE(std::filesystem::exists("/etc/passwd"));
}

TEST_F(SnapshotterTest, OverlayRootfsLayersWhiteoutsAndUpper) {
  requireOverlay();
  LayerSource lower = layer(TarBuilder()
                                .add(file("kept", "from lower"))
                                .add(file("deleted", "should be hidden"))
                                .add(file("overridden", "lower"))
                                .add(dir("opaque"))
                                .add(file("opaque/old", "hidden by opaque dir")),
                            "lower", gzipDefault);
  LayerSource upper = layer(TarBuilder()
                                .add(file(".wh.deleted", ""))
                                .add(file("overridden", "upper"))
                                .add(dir("opaque"))
                                .add(file("opaque/.wh..wh..opq", ""))
                                .add(file("opaque/new", "new")),
                            "upper");
  auto dirs = snapshotter_->prepareLayers({lower, upper});
  ASSERT_TRUE(dirs.ok()) << dirs.error().message();
  auto rootfs = snapshotter_->mountRootfs("c1", *dirs);
  ASSERT_TRUE(rootfs.ok()) << rootfs.error().message();
  EXPECT_EQ(*rootfs, root_ + "/containers/c1/rootfs");
  EXPECT_EQ(countOccurrences(mountInfo(), " " + *rootfs + " "), 1u);

  EXPECT_EQ(readFile(*rootfs + "/kept"), "from lower");
  EXPECT_EQ(readFile(*rootfs + "/overridden"), "upper");
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(*rootfs + "/deleted")));
  EXPECT_EQ(listTree(*rootfs + "/opaque"), std::vector<std::string>{"new"});

  // Writes go to the container's upper directory, never to the layers.
  writeFile(*rootfs + "/written", "by the container");
  std::filesystem::remove(*rootfs + "/kept");
  std::string containerUpper = root_ + "/containers/c1/upper";
  EXPECT_EQ(readFile(containerUpper + "/written"), "by the container");
  struct stat st;
  ASSERT_EQ(::lstat((containerUpper + "/kept").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) << "a whiteout in upper";
  EXPECT_EQ(readFile((*dirs)[0] + "/kept"), "from lower");
  EXPECT_FALSE(std::filesystem::exists((*dirs)[0] + "/written"));
  EXPECT_FALSE(std::filesystem::exists((*dirs)[1] + "/written"));

  // Mounting again is a no-op.
  auto again = snapshotter_->mountRootfs("c1", *dirs);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(*again, *rootfs);
  EXPECT_EQ(countOccurrences(mountInfo(), " " + *rootfs + " "), 1u);

  ASSERT_TRUE(snapshotter_->removeRootfs("c1").ok());
  EXPECT_EQ(countOccurrences(mountInfo(), root_ + "/containers"), 0u);
  EXPECT_FALSE(std::filesystem::exists(root_ + "/containers/c1"));
  EXPECT_TRUE(snapshotter_->removeRootfs("c1").ok()) << "missing is not an error";
  EXPECT_EQ(readFile((*dirs)[0] + "/kept"), "from lower");
}

TEST_F(SnapshotterTest, ImageWithoutLayersAndSingleLayer) {
  requireOverlay();
  auto empty = snapshotter_->mountRootfs("empty", {});
  ASSERT_TRUE(empty.ok()) << empty.error().message();
  // Only the init layer's mount points.
  EXPECT_EQ(listTree(*empty), (std::vector<std::string>{"dev", "etc", "etc/hostname", "etc/hosts",
                                                        "etc/resolv.conf", "proc", "sys"}));
  writeFile(*empty + "/f", "x");
  EXPECT_EQ(readFile(root_ + "/containers/empty/upper/f"), "x");

  auto dirs = snapshotter_->prepareLayers({layer(TarBuilder().add(file("only", "1")), "one")});
  ASSERT_TRUE(dirs.ok());
  auto single = snapshotter_->mountRootfs("single", *dirs);
  ASSERT_TRUE(single.ok()) << single.error().message();
  writeFile(*single + "/only", "changed");
  EXPECT_EQ(readFile((*dirs)[0] + "/only"), "1");

  ASSERT_TRUE(snapshotter_->removeRootfs("empty").ok());
  ASSERT_TRUE(snapshotter_->removeRootfs("single").ok());
  EXPECT_EQ(countOccurrences(mountInfo(), root_), 0u);
  EXPECT_EQ(listTree(root_ + "/containers"), std::vector<std::string>{});
}

TEST_F(SnapshotterTest, InitLayerAddsOnlyMissingMountPointsAndIsShared) {
  requireOverlay();
  // /proc exists, /etc is a symlink (nothing may be made under it), /sys is whited out by the
  // upper layer, /dev is absent.
  LayerSource lower = layer(TarBuilder()
                                .add(dir("proc"))
                                .add(dir("sys"))
                                .add(dir("real-etc"))
                                .add(file("real-etc/hosts", "127.0.0.1 image\n")),
                            "lower");
  LayerSource upper =
      layer(TarBuilder().add(symlink("etc", "/real-etc")).add(file(".wh.sys", "")), "upper");
  auto dirs = snapshotter_->prepareLayers({lower, upper});
  ASSERT_TRUE(dirs.ok()) << dirs.error().message();
  auto first = snapshotter_->mountRootfs("first", *dirs);
  ASSERT_TRUE(first.ok()) << first.error().message();
  struct stat st{};
  ASSERT_EQ(::lstat((*first + "/etc").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode)) << "the image's /etc symlink is not shadowed";
  EXPECT_TRUE(std::filesystem::is_directory(*first + "/sys")) << "whited-out /sys is a mount point again";
  EXPECT_TRUE(std::filesystem::is_directory(*first + "/dev"));
  EXPECT_EQ(readFile(*first + "/real-etc/hosts"), "127.0.0.1 image\n");
  EXPECT_EQ(listTree(root_ + "/containers/first/upper"), std::vector<std::string>{})
      << "nothing is created in the container's own directory";
  EXPECT_EQ(listTree(root_ + "/init").size(), 3u) << "one init layer: its dir, dev and sys";

  auto second = snapshotter_->mountRootfs("second", *dirs);
  ASSERT_TRUE(second.ok()) << second.error().message();
  EXPECT_EQ(listTree(root_ + "/init").size(), 3u) << "shared by the chain's containers";

  // Kept while a container uses it, collected after.
  ASSERT_TRUE(snapshotter_->garbageCollect(Snapshotter::chainIds({lower.diffId, upper.diffId})).ok());
  EXPECT_EQ(listTree(root_ + "/init").size(), 3u);
  ASSERT_TRUE(snapshotter_->removeRootfs("first").ok());
  ASSERT_TRUE(snapshotter_->removeRootfs("second").ok());
  ASSERT_TRUE(snapshotter_->garbageCollect(Snapshotter::chainIds({lower.diffId, upper.diffId})).ok());
  EXPECT_EQ(listTree(root_ + "/init"), std::vector<std::string>{});
}

TEST_F(SnapshotterTest, InitLayerKeepsTheImagesDirectories) {
  requireOverlay();
  // /etc exists (mode 0750, owned by 7:8) without /etc/hosts: the init layer's /etc is a copy.
  TarEntry etc = dir("etc", 0750);
  etc.uid = 7;
  etc.gid = 8;
  LayerSource image = layer(TarBuilder().add(etc).add(file("etc/passwd", "root:x:0:0::/:/bin/sh\n")), "image");
  auto dirs = snapshotter_->prepareLayers({image});
  ASSERT_TRUE(dirs.ok()) << dirs.error().message();
  auto rootfs = snapshotter_->mountRootfs("c", *dirs);
  ASSERT_TRUE(rootfs.ok()) << rootfs.error().message();
  struct stat st{};
  ASSERT_EQ(::stat((*rootfs + "/etc").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(st.st_uid, 7u);
  EXPECT_EQ(st.st_gid, 8u);
  EXPECT_TRUE(std::filesystem::exists(*rootfs + "/etc/hosts"));
  EXPECT_EQ(readFile(*rootfs + "/etc/passwd"), "root:x:0:0::/:/bin/sh\n");
  ASSERT_TRUE(snapshotter_->removeRootfs("c").ok());
}

TEST_F(SnapshotterTest, ManyLayersPastTheMountOptionPageLimit) {
  requireOverlay();
  // 48 layers of ~130-byte paths: ~6 KB of lowerdir, more than mount(2) takes.
  std::vector<LayerSource> sources;
  for (int i = 0; i < 48; ++i) {
    TarBuilder tar;
    tar.add(file("layer" + std::to_string(i), std::to_string(i)));
    tar.add(file("top", std::to_string(i)));
    sources.push_back(layer(tar, "l" + std::to_string(i)));
  }
  auto dirs = snapshotter_->prepareLayers(sources);
  ASSERT_TRUE(dirs.ok()) << dirs.error().message();
  auto rootfs = snapshotter_->mountRootfs("many", *dirs);
  ASSERT_TRUE(rootfs.ok()) << rootfs.error().message();
  EXPECT_EQ(readFile(*rootfs + "/layer0"), "0");
  EXPECT_EQ(readFile(*rootfs + "/layer47"), "47");
  EXPECT_EQ(readFile(*rootfs + "/top"), "47") << "the last layer is the top one";
  ASSERT_TRUE(snapshotter_->removeRootfs("many").ok());
  EXPECT_EQ(countOccurrences(mountInfo(), root_), 0u);
}

TEST_F(SnapshotterTest, RemoveBusyRootfs) {
  requireOverlay();
  auto dirs = snapshotter_->prepareLayers({layer(TarBuilder().add(dir("d")), "l")});
  ASSERT_TRUE(dirs.ok());
  auto rootfs = snapshotter_->mountRootfs("busy", *dirs);
  ASSERT_TRUE(rootfs.ok()) << rootfs.error().message();
  // An open file keeps the mount busy: removal detaches it lazily.
  UniqueFd open(::open((*rootfs + "/d/file").c_str(), O_RDWR | O_CREAT, 0644));
  ASSERT_TRUE(open.valid());
  // A symlink out of the upper directory must not lead the removal outside.
  writeFile(scratch_ / "precious", "keep me");
  std::filesystem::create_symlink(scratch_.path(), *rootfs + "/escape");
  ASSERT_TRUE(snapshotter_->removeRootfs("busy").ok());
  EXPECT_EQ(countOccurrences(mountInfo(), root_), 0u);
  EXPECT_FALSE(std::filesystem::exists(root_ + "/containers/busy"));
  EXPECT_EQ(readFile(scratch_ / "precious"), "keep me");
}

TEST_F(SnapshotterTest, InvalidContainerIds) {
  for (const char* id : {"", ".", "..", "a/b", "../../etc"}) {
    auto r = snapshotter_->mountRootfs(id, {});
    ASSERT_FALSE(r.ok()) << id;
    EXPECT_EQ(r.error().code(), ErrorCode::kBadRequest);
    EXPECT_EQ(snapshotter_->removeRootfs(id).error().code(), ErrorCode::kBadRequest);
  }
}

TEST_F(SnapshotterTest, GarbageCollection) {
  requireOverlay();
  LayerSource a = layer(TarBuilder().add(file("a", std::string(50000, 'a'))), "a");
  LayerSource b = layer(TarBuilder().add(file("b", "b")), "b");
  LayerSource c = layer(TarBuilder().add(file("c", "c")), "c");
  auto ab = snapshotter_->prepareLayers({a, b});
  auto ca = snapshotter_->prepareLayers({c, a});
  ASSERT_TRUE(ab.ok() && ca.ok());
  std::vector<std::string> chainsAb = Snapshotter::chainIds({a.diffId, b.diffId});
  std::vector<std::string> chainsCa = Snapshotter::chainIds({c.diffId, a.diffId});
  ASSERT_EQ(layerNames().size(), 4u);
  // Container on c+a, image a+b kept: only nothing-else layers go... none here.
  auto rootfs = snapshotter_->mountRootfs("user", *ca);
  ASSERT_TRUE(rootfs.ok()) << rootfs.error().message();
  auto stats = snapshotter_->garbageCollect(chainsAb);
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  EXPECT_EQ(stats->layersRemoved, 0);
  EXPECT_EQ(layerNames().size(), 4u);

  ASSERT_TRUE(snapshotter_->removeRootfs("user").ok());
  stats = snapshotter_->garbageCollect({chainsAb[0]});
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  EXPECT_EQ(stats->layersRemoved, 3);
  EXPECT_GE(stats->bytesFreed, 50000);
  EXPECT_EQ(layerNames(), std::vector<std::string>{chainsAb[0].substr(7)});
  EXPECT_EQ(readFile((*ab)[0] + "/a"), std::string(50000, 'a'));

  // Removed layers come back when needed.
  auto again = snapshotter_->prepareLayers({c, a});
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(readFile((*again)[1] + "/a"), std::string(50000, 'a'));
  EXPECT_FALSE(snapshotter_->garbageCollect({"bogus"}).ok());
}

}  // namespace
}  // namespace nave::runtime
