// unpackLayer: content, metadata, compression, whiteouts, and hostile layers (which must be
// refused with nothing written inside or outside the layer directory).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <string>

#include "runtime/snapshot/snapshotter.h"
#include "runtime/snapshot/tree.h"
#include "tests/runtime/snapshot/tar_builder.h"

namespace nave::runtime {
namespace {

using namespace testing;  // NOLINT: the tar builder helpers

std::string xattr(const std::string& path, const std::string& name) {
  char buf[256];
  ssize_t n = ::lgetxattr(path.c_str(), name.c_str(), buf, sizeof buf);
  return n < 0 ? std::string("<none>") : std::string(buf, static_cast<size_t>(n));
}

class UnpackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(scratch_.path().empty());
    layer_ = scratch_ / "work/layer";
    outside_ = scratch_ / "outside";
    std::filesystem::create_directories(layer_);
    std::filesystem::create_directories(outside_);
    writeFile(outside_ + "/canary", "original");
  }

  Result<std::string> unpack(const std::string& blob) {
    std::string path = scratch_ / "blob";
    writeFile(path, blob);
    return unpackLayer(path, layer_);
  }

  void clearLayer() {
    UniqueFd fd(::open(layer_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(tree::removeContents(fd.get()).ok());
  }

  // A hostile layer: refused as kBadRequest, layer directory left empty, nothing outside.
  void expectRefused(const TarBuilder& tar, const std::string& why) {
    SCOPED_TRACE(why);
    Result<std::string> r = unpack(tar.build());
    ASSERT_FALSE(r.ok()) << "accepted: " << why;
    EXPECT_EQ(r.error().code(), ErrorCode::kBadRequest) << r.error().message();
    EXPECT_EQ(listTree(layer_), std::vector<std::string>{}) << "left behind";
    EXPECT_EQ(listTree(outside_), std::vector<std::string>{"canary"});
    EXPECT_EQ(readFile(outside_ + "/canary"), "original");
    EXPECT_EQ(listTree(scratch_ / "work"), std::vector<std::string>{"layer"});
  }

  ScratchDir scratch_;
  std::string layer_, outside_;
};

TEST_F(UnpackTest, PlainLayerContentAndMetadata) {
  std::string big(3 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 7919) >> 3);
  TarEntry suid = file("bin/tool", "#!/bin/sh\n", 04755);
  suid.uid = 1000;
  suid.gid = 1001;
  suid.mtime = 1234567890;
  TarEntry withXattrs = file("bin/ping", "ping", 0755);
  withXattrs.pax["SCHILY.xattr.user.note"] = "hello";
  // VFS_CAP_REVISION_2 with cap_net_raw permitted+effective.
  std::string cap(
      "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);
  withXattrs.pax["SCHILY.xattr.security.capability"] = cap;
  TarEntry utf8 = file("etc/h\xc3\xa9llo", "utf8");
  utf8.pax["path"] = "etc/h\xc3\xa9llo";
  TarEntry dirEntry = dir("etc", 0750);
  dirEntry.mtime = 1000000000;
  TarBuilder tar;
  tar.add(dir("./"))
      .add(dirEntry)
      .add(file("etc/passwd", "root:x:0:0::/root:/bin/sh\n"))
      .add(suid)
      .add(withXattrs)
      .add(utf8)
      .add(file("big", big))
      .add(file("empty", ""))
      .add(symlink("etc/link", "passwd"))
      .add(symlink("abs", "/etc/passwd"))
      .add(hardlink("etc/hard", "etc/passwd"))
      .add(file("deep/a/b/c", "implicit parents"));
  std::string raw = tar.build();
  Result<std::string> r = unpack(raw);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(*r, sha256Digest(raw));

  EXPECT_EQ(readFile(layer_ + "/etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
  EXPECT_EQ(readFile(layer_ + "/big"), big);
  EXPECT_EQ(readFile(layer_ + "/empty"), "");
  EXPECT_EQ(readFile(layer_ + "/etc/h\xc3\xa9llo"), "utf8");
  EXPECT_EQ(readFile(layer_ + "/deep/a/b/c"), "implicit parents");

  struct stat st;
  ASSERT_EQ(::lstat((layer_ + "/bin/tool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 1001u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1234567890);
  ASSERT_EQ(::lstat((layer_ + "/etc").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1000000000) << "directory mtime set after its entries";
  ASSERT_EQ(::lstat((layer_ + "/deep").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);

  EXPECT_EQ(xattr(layer_ + "/bin/ping", "user.note"), "hello");
  EXPECT_EQ(xattr(layer_ + "/bin/ping", "security.capability"), cap);

  char target[64] = {};
  ASSERT_GT(::readlink((layer_ + "/etc/link").c_str(), target, sizeof target), 0);
  EXPECT_STREQ(target, "passwd");
  ASSERT_GT(::readlink((layer_ + "/abs").c_str(), target, sizeof target), 0);
  EXPECT_STREQ(target, "/etc/passwd");

  struct stat a, b;
  ASSERT_EQ(::lstat((layer_ + "/etc/passwd").c_str(), &a), 0);
  ASSERT_EQ(::lstat((layer_ + "/etc/hard").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_nlink, 2u);
}

TEST_F(UnpackTest, CompressedLayersHaveTheDiffIdOfTheirTar) {
  TarBuilder tar;
  tar.add(dir("d")).add(file("d/f", std::string(100000, 'x'))).add(symlink("d/l", "f"));
  std::string raw = tar.build();
  struct Case {
    const char* name;
    std::string blob;
  };
  // Two gzip members one after the other (pigz, concatenated files) are one stream.
  std::string half1 = raw.substr(0, 1536), half2 = raw.substr(1536);
  std::vector<Case> cases = {{"plain", raw},
                             {"gzip", gzip(raw)},
                             {"gzip multi-member", gzip(half1) + gzip(half2)},
                             {"zstd", zstd(raw)},
                             {"zstd two frames", zstd(half1) + zstd(half2)}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    clearLayer();
    Result<std::string> r = unpack(c.blob);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(*r, sha256Digest(raw));
    EXPECT_EQ(readFile(layer_ + "/d/f"), std::string(100000, 'x'));
  }
}

TEST_F(UnpackTest, LayersMadeByGnuTarAndZstd) {
  std::string src = scratch_ / "src";
  std::filesystem::create_directories(src + "/usr/bin");
  writeFile(src + "/usr/bin/hello", "hello");
  std::filesystem::create_symlink("usr/bin", src + "/bin");
  std::filesystem::create_hard_link(src + "/usr/bin/hello", src + "/usr/bin/hi");
  std::string tarPath = scratch_ / "layer.tar";
  // GNU tar's own format, with a long name that needs its ././@LongLink extension.
  std::string longName(150, 'n');
  writeFile(src + "/usr/" + longName, "long");
  ASSERT_EQ(std::system(("tar --format=gnu -C " + src + " -cf " + tarPath + " . && zstd -q -f " +
                         tarPath + " -o " + tarPath + ".zst && gzip -k -f " + tarPath)
                            .c_str()),
            0);
  std::string raw = readFile(tarPath);
  for (const std::string& blob : {tarPath + ".zst", tarPath + ".gz"}) {
    SCOPED_TRACE(blob);
    clearLayer();
    Result<std::string> r = unpackLayer(blob, layer_);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(*r, sha256Digest(raw));
    EXPECT_EQ(readFile(layer_ + "/bin/hello"), "hello");
    EXPECT_EQ(readFile(layer_ + "/usr/" + longName), "long");
    struct stat a, b;
    ASSERT_EQ(::stat((layer_ + "/usr/bin/hello").c_str(), &a), 0);
    ASSERT_EQ(::stat((layer_ + "/usr/bin/hi").c_str(), &b), 0);
    EXPECT_EQ(a.st_ino, b.st_ino);
  }
}

TEST_F(UnpackTest, SparseFilesFromGnuTar) {
  std::string src = scratch_ / "sparse-src";
  std::filesystem::create_directories(src);
  {
    UniqueFd fd(::open((src + "/holes").c_str(), O_WRONLY | O_CREAT, 0644));
    ASSERT_EQ(::pwrite(fd.get(), "middle", 6, 5 << 20), 6);
    ASSERT_EQ(::ftruncate(fd.get(), 12 << 20), 0);  // ends in a hole
  }
  std::string expected = readFile(src + "/holes");
  for (const char* format : {"gnu", "pax"}) {
    SCOPED_TRACE(format);
    clearLayer();
    std::string tarPath = scratch_ / (std::string("sparse-") + format + ".tar");
    ASSERT_EQ(std::system(("tar --sparse --format=" + std::string(format) + " -C " + src + " -cf " +
                           tarPath + " holes")
                              .c_str()),
              0);
    ASSERT_LT(std::filesystem::file_size(tarPath), 1u << 20) << "not stored sparse";
    Result<std::string> r = unpackLayer(tarPath, layer_);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(readFile(layer_ + "/holes"), expected);
    struct stat st;
    ASSERT_EQ(::stat((layer_ + "/holes").c_str(), &st), 0);
    EXPECT_EQ(st.st_size, 12 << 20);
    EXPECT_LT(st.st_blocks * 512, 1 << 20) << "holes written as zeros";
  }
}

TEST_F(UnpackTest, RefusesANonEmptyDirectory) {
  writeFile(layer_ + "/mine", "someone's");
  Result<std::string> r = unpack(TarBuilder().add(file("../x", "x")).build());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalid);
  EXPECT_EQ(readFile(layer_ + "/mine"), "someone's");
}

TEST_F(UnpackTest, WhiteoutsBecomeOverlayWhiteouts) {
  TarBuilder tar;
  tar.add(dir("etc"))
      .add(file("etc/.wh.removed", ""))
      .add(file(".wh.gone", ""))
      .add(file("opaque/.wh..wh..opq", ""))
      .add(file("opaque/kept", "k"))
      .add(file("etc/.wh..wh.plnk", ""));
  Result<std::string> r = unpack(tar.build());
  ASSERT_TRUE(r.ok()) << r.error().message();
  for (const char* name : {"etc/removed", "gone"}) {
    struct stat st;
    ASSERT_EQ(::lstat((layer_ + "/" + name).c_str(), &st), 0) << name;
    EXPECT_TRUE(S_ISCHR(st.st_mode)) << name;
    EXPECT_EQ(major(st.st_rdev), 0u);
    EXPECT_EQ(minor(st.st_rdev), 0u);
  }
  EXPECT_EQ(xattr(layer_ + "/opaque", "trusted.overlay.opaque"), "y");
  EXPECT_EQ(xattr(layer_ + "/etc", "trusted.overlay.opaque"), "<none>");
  EXPECT_EQ(listTree(layer_),
            (std::vector<std::string>{"etc", "etc/removed", "gone", "opaque", "opaque/kept"}));
}

TEST_F(UnpackTest, DevicesAndFifosAreSkipped) {
  TarEntry null;
  null.name = "dev/null";
  null.type = '3';
  null.devMajor = 1;
  null.devMinor = 3;
  TarEntry disk = null;
  disk.name = "dev/sda";
  disk.type = '4';
  disk.devMajor = 8;
  TarEntry fifo;
  fifo.name = "fifo";
  fifo.type = '6';
  TarBuilder tar;
  tar.add(dir("dev")).add(null).add(disk).add(fifo).add(file("after", "x"));
  Result<std::string> r = unpack(tar.build());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(listTree(layer_), (std::vector<std::string>{"after", "dev"}));
}

TEST_F(UnpackTest, LaterEntriesReplaceEarlierOnesAsTarDoes) {
  TarBuilder tar;
  tar.add(dir("d"))
      .add(file("d/f", "in dir"))
      .add(file("d", "now a file"))  // directory replaced by a file
      .add(symlink("l", "/etc"))
      .add(dir("l"))  // symlink replaced by a directory
      .add(file("l/inside", "real dir"))
      .add(file("x", "file"))
      .add(dir("x"))  // file replaced by a directory
      .add(symlink("s", outside_ + "/canary"))
      .add(file("s", "not through the link"))  // symlink replaced by a file
      .add(file("a", "first"))
      .add(hardlink("b", "a"))
      .add(file("b", "second"))  // replaces the link, does not write through it
      .add(dir("keep"))
      .add(file("keep/child", "c"))
      .add(dir("keep", 0700));  // a directory listed twice keeps its contents
  Result<std::string> r = unpack(tar.build());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(readFile(layer_ + "/d"), "now a file");
  EXPECT_TRUE(std::filesystem::is_directory(std::filesystem::symlink_status(layer_ + "/l")));
  EXPECT_EQ(readFile(layer_ + "/l/inside"), "real dir");
  EXPECT_TRUE(std::filesystem::is_directory(std::filesystem::symlink_status(layer_ + "/x")));
  EXPECT_EQ(readFile(layer_ + "/s"), "not through the link");
  EXPECT_EQ(readFile(outside_ + "/canary"), "original");
  EXPECT_EQ(readFile(layer_ + "/a"), "first");
  EXPECT_EQ(readFile(layer_ + "/b"), "second");
  EXPECT_EQ(readFile(layer_ + "/keep/child"), "c");
  struct stat st;
  ASSERT_EQ(::lstat((layer_ + "/keep").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

TEST_F(UnpackTest, LongNames) {
  // 16 components of 250 bytes: 4 KB, under PATH_MAX, through a PAX path record.
  std::string deep;
  for (int i = 0; i < 15; ++i) deep += std::string(250, static_cast<char>('a' + i)) + "/";
  deep += "f";
  TarBuilder ok;
  ok.add(file(deep, "deep"));
  Result<std::string> r = unpack(ok.build());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(readFile(layer_ + "/" + deep), "deep");
  clearLayer();

  expectRefused(TarBuilder().add(file("ok", "x")).add(file(std::string(300, 'x'), "> 255")),
                "component longer than NAME_MAX");
  expectRefused(TarBuilder().add(file(std::string(5000, 'y'), "x")), "path longer than PATH_MAX");
}

class HostileLayerTest : public UnpackTest, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    UnpackTest::SetUp();
    tree::forceComponentWalkForTesting(GetParam());
  }
  void TearDown() override { tree::forceComponentWalkForTesting(false); }
};

TEST_P(HostileLayerTest, PathsCannotLeaveTheLayer) {
  expectRefused(TarBuilder().add(file("ok", "x")).add(file("../../outside/escape", "x")),
                "../ escape");
  expectRefused(TarBuilder().add(file("a/../../outside/escape", "x")), "inner .. escape");
  expectRefused(TarBuilder().add(file(outside_ + "/escape", "x")), "absolute path");
  expectRefused(TarBuilder().add(dir("/abs/path")), "absolute directory");
  expectRefused(TarBuilder().add(symlink("ok", "x")).add(file("../x", "y")), "parent");
}

TEST_P(HostileLayerTest, EntriesCannotGoThroughSymlinks) {
  expectRefused(TarBuilder().add(symlink("evil", outside_)).add(file("evil/passwd", "pwned")),
                "file through a symlink to a directory outside");
  expectRefused(TarBuilder().add(symlink("evil", "/etc")).add(file("evil/passwd", "pwned")),
                "file through a symlink to /etc");
  expectRefused(TarBuilder().add(symlink("evil", outside_)).add(dir("evil/sub")),
                "directory through a symlink");
  expectRefused(TarBuilder().add(symlink("up", "..")).add(file("up/up/up/outside/escape", "x")),
                "symlink to .. chains");
  expectRefused(
      TarBuilder().add(dir("a")).add(symlink("a/b", "../..")).add(file("a/b/outside/escape", "x")),
      "nested symlink climbing out");
  expectRefused(TarBuilder().add(symlink("evil", outside_)).add(file("evil/.wh.canary", "")),
                "whiteout through a symlink");
  expectRefused(TarBuilder().add(symlink("evil", outside_)).add(file("evil/.wh..wh..opq", "")),
                "opaque marker through a symlink");
  expectRefused(TarBuilder().add(symlink("evil", outside_)).add(symlink("evil/l", "/")),
                "symlink through a symlink");
}

TEST_P(HostileLayerTest, HardLinksStayInside) {
  expectRefused(TarBuilder().add(hardlink("shadow", "/etc/shadow")), "absolute hard link");
  expectRefused(TarBuilder().add(hardlink("c", "../outside/canary")), "hard link with ..");
  expectRefused(TarBuilder().add(hardlink("c", "../../outside/canary")), "hard link climbing");
  expectRefused(TarBuilder().add(symlink("s", outside_)).add(hardlink("c", "s/canary")),
                "hard link through a symlink");
  expectRefused(TarBuilder().add(symlink("s", "/etc")).add(hardlink("c", "s/shadow")),
                "hard link through a symlink to /etc");
  expectRefused(TarBuilder().add(hardlink("missing", "nothing")), "hard link to nothing");
  expectRefused(TarBuilder().add(dir("d")).add(hardlink("h", "d")), "hard link to a directory");
  // A hard link to a symlink links the symlink itself: no write can go through it.
  Result<std::string> r = unpack(TarBuilder()
                                     .add(symlink("s", outside_ + "/canary"))
                                     .add(hardlink("h", "s"))
                                     .add(file("h", "replaced"))
                                     .build());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(readFile(outside_ + "/canary"), "original");
  EXPECT_EQ(readFile(layer_ + "/h"), "replaced");
  EXPECT_TRUE(std::filesystem::is_symlink(layer_ + "/s"));
}

INSTANTIATE_TEST_SUITE_P(Resolution, HostileLayerTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "walk" : "openat2"; });

TEST_F(UnpackTest, InvalidWhiteoutsAreRefused) {
  expectRefused(TarBuilder().add(file(".wh.", "")), "empty whiteout");
  expectRefused(TarBuilder().add(file("d/.wh...", "")), "whiteout of ..");
}

TEST_F(UnpackTest, TarBombIsNotAllocated) {
  // Claims 100 GiB and carries 4 KiB.
  TarEntry bomb = file("bomb", std::string(4096, 'b'));
  bomb.declaredSize = 100LL << 30;
  struct rusage before, after;
  ::getrusage(RUSAGE_SELF, &before);
  expectRefused(TarBuilder().add(file("a", "x")).add(bomb), "declared size larger than data");
  ::getrusage(RUSAGE_SELF, &after);
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 64 * 1024) << "KiB of extra peak memory";
}

TEST_F(UnpackTest, HugeMetadataHeadersAreNotAllocated) {
  // A PAX header and a GNU long name claiming 8 GiB each, followed by little.
  for (char type : {'x', 'L', 'K', 'g'}) {
    SCOPED_TRACE(type);
    TarEntry meta = file("././@LongLink", std::string(2048, 'm'));
    meta.type = type;
    meta.declaredSize = 8LL << 30;
    struct rusage before, after;
    ::getrusage(RUSAGE_SELF, &before);
    expectRefused(TarBuilder().add(meta).add(file("f", "x")), "huge metadata header");
    ::getrusage(RUSAGE_SELF, &after);
    EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 64 * 1024) << "KiB of extra peak memory";
  }
}

TEST_F(UnpackTest, MalformedArchivesAreRefused) {
  std::string good = TarBuilder().add(dir("d")).add(file("d/f", std::string(5000, 'z'))).build();
  struct Case {
    const char* name;
    std::string blob;
  };
  std::string badChecksum = good;
  badChecksum[150] ^= 1;
  std::string gz = gzip(good), zs = zstd(good);
  std::vector<Case> cases = {
      {"garbage", std::string(2048, '\x5a')},
      {"truncated in file data", good.substr(0, 1024 + 512 + 1000)},
      {"truncated header", good.substr(0, 700)},
      {"bad checksum", badChecksum},
      {"truncated gzip", gz.substr(0, gz.size() / 2)},
      {"gzip with garbage after it", gz + "garbage!"},
      {"corrupt gzip", gz.substr(0, 10) + std::string(200, '\x33')},
      {"truncated zstd", zs.substr(0, zs.size() - 5)},
      {"corrupt zstd", zs.substr(0, 6) + std::string(100, '\x7f')},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<std::string> r = unpack(c.blob);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), ErrorCode::kBadRequest) << r.error().message();
    EXPECT_EQ(listTree(layer_), std::vector<std::string>{});
  }
}

TEST_F(UnpackTest, EmptyLayer) {
  // An empty tar (just the end marker), as `docker build` makes for metadata-only steps.
  std::string raw(1024, '\0');
  Result<std::string> r = unpack(raw);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(*r, sha256Digest(raw));
  r = unpack(gzip(raw));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(*r, sha256Digest(raw));
}

TEST_F(UnpackTest, RootEntryMetadata) {
  TarEntry root = dir(".", 01777);
  Result<std::string> r = unpack(TarBuilder().add(root).add(file("x", "y")).build());
  ASSERT_TRUE(r.ok()) << r.error().message();
  struct stat st;
  ASSERT_EQ(::lstat(layer_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);
  clearLayer();
  expectRefused(TarBuilder().add(file(".", "x")), "the root as a file");
}

}  // namespace
}  // namespace nave::runtime
