#include <gtest/gtest.h>

#include <dirent.h>

#include "common/strings.h"
#include "image_test_util.h"
#include "runtime/image/digest.h"
#include "runtime/image/image_store.h"
#include "runtime/image/manifest.h"

namespace nave::runtime {
namespace {

using testing::readFile;
using testing::runCommand;
using testing::sh;
using testing::shellQuote;
using testing::TempDir;

std::unique_ptr<ImageStore> openStore(const std::string& dataDir) {
  ImageStoreOptions options;
  options.dataDir = dataDir;
  auto store = ImageStore::open(options);
  EXPECT_TRUE(store.ok()) << store.error().message();
  return store.ok() ? std::move(*store) : nullptr;
}

int countFiles(const std::string& dir) {
  int n = 0;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") ++n;
    }
    ::closedir(d);
  }
  return n;
}

// What the OCI layout says about the image, to compare with what the store recorded.
struct LayoutFacts {
  std::string manifestDigest, configDigest, layerDigest;
};
LayoutFacts layoutFacts(const std::string& layout) {
  LayoutFacts f;
  auto index = parseJson(readFile(layout + "/index.json"));
  if (!index) return f;
  f.manifestDigest = index->value["manifests"][0]["digest"].get<std::string>();
  auto manifest = parseJson(readFile(layout + "/blobs/sha256/" + f.manifestDigest.substr(7)));
  if (!manifest) return f;
  f.configDigest = manifest->value["config"]["digest"].get<std::string>();
  f.layerDigest = manifest->value["layers"][0]["digest"].get<std::string>();
  return f;
}

void expectBusybox(const Image& img, const LayoutFacts& facts) {
  EXPECT_EQ(img.id, facts.configDigest);
  EXPECT_EQ(img.config.cmd, std::vector<std::string>{"sh"});
  ASSERT_FALSE(img.config.env.empty());
  EXPECT_TRUE(img.config.env[0].starts_with("PATH=/usr/local/sbin")) << img.config.env[0];
  EXPECT_EQ(img.os, "linux");
  EXPECT_EQ(img.architecture, Platform::host().architecture);
  ASSERT_EQ(img.layers.size(), 1u);
  EXPECT_TRUE(isSha256Digest(img.layers[0].diffId));
  EXPECT_GT(img.size, 1000000);
  EXPECT_TRUE(img.rawConfig.is_object());
}

void expectBlobsVerified(ImageStore& store, const Image& img) {
  for (const std::string& digest :
       std::vector<std::string>{img.id, img.manifestDigest, img.layers[0].digest}) {
    auto path = store.blobPath(digest);
    ASSERT_TRUE(path.ok()) << digest;
    EXPECT_EQ(sha256Digest(readFile(*path)), digest);
  }
}

TEST(ImageImportTest, DockerArchive) {
  NAVE_REQUIRE_BUSYBOX_IMAGE();
  TempDir data;
  auto store = openStore(data.path());
  ASSERT_TRUE(store);
  std::vector<std::string> statuses;
  auto images = store->importArchive(busybox.dockerArchive,
                                     [&](const Progress& p) { statuses.push_back(p.status); });
  ASSERT_TRUE(images.ok()) << images.error().message();
  ASSERT_EQ(images->size(), 1u);
  const Image& img = (*images)[0];
  LayoutFacts facts = layoutFacts(busybox.layout);
  expectBusybox(img, facts);
  EXPECT_EQ(img.repoTags, std::vector<std::string>{"docker.io/library/busybox:latest"});
  EXPECT_TRUE(img.repoDigests.empty());  // the manifest is made locally, as `docker load` does
  // docker-archive layers are uncompressed tars stored as they are: digest = diff ID.
  EXPECT_EQ(img.layers[0].mediaType, media::kDockerLayer);
  EXPECT_EQ(img.layers[0].digest, img.layers[0].diffId);
  expectBlobsVerified(*store, img);
  EXPECT_FALSE(statuses.empty());
  EXPECT_EQ(statuses.back(), "done");

  // Found by every name it goes by.
  for (const std::string& ref :
       {std::string("busybox"), std::string("busybox:latest"), std::string("docker.io/library/busybox"),
        img.id, img.id.substr(7, 12), img.id.substr(0, 19), img.id.substr(7)}) {
    auto found = store->find(ref);
    ASSERT_TRUE(found.ok()) << ref << ": " << found.error().message();
    EXPECT_EQ(found->id, img.id) << ref;
  }
  for (const std::string& ref : {std::string("busybox:1.0"), std::string("other"),
                                 img.id.substr(7, 11), std::string("sha256:") + std::string(64, 'f')}) {
    auto found = store->find(ref);
    ASSERT_FALSE(found.ok()) << ref;
    EXPECT_EQ(found.error().code(), ErrorCode::kNotFound) << ref;
  }
  EXPECT_EQ(store->list().size(), 1u);

  // Importing again changes nothing.
  auto again = store->importArchive(busybox.dockerArchive);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(store->list().size(), 1u);
  EXPECT_EQ(countFiles(data / "agent/content/ingest"), 0);
}

TEST(ImageImportTest, OciArchive) {
  NAVE_REQUIRE_BUSYBOX_IMAGE();
  TempDir data;
  auto store = openStore(data.path());
  ASSERT_TRUE(store);
  auto images = store->importArchive(busybox.ociArchive);
  ASSERT_TRUE(images.ok()) << images.error().message();
  ASSERT_EQ(images->size(), 1u);
  const Image& img = (*images)[0];
  LayoutFacts facts = layoutFacts(busybox.layout);
  expectBusybox(img, facts);
  EXPECT_EQ(img.repoTags, std::vector<std::string>{"docker.io/library/busybox:latest"});
  EXPECT_EQ(img.manifestDigest, facts.manifestDigest);
  EXPECT_EQ(img.repoDigests,
            std::vector<std::string>{"docker.io/library/busybox@" + facts.manifestDigest});
  EXPECT_EQ(img.layers[0].digest, facts.layerDigest);
  EXPECT_EQ(img.layers[0].mediaType, media::kOciLayerGzip);
  EXPECT_NE(img.layers[0].digest, img.layers[0].diffId);
  expectBlobsVerified(*store, img);
  auto byDigest = store->find("busybox@" + facts.manifestDigest);
  ASSERT_TRUE(byDigest.ok()) << byDigest.error().message();
  EXPECT_EQ(byDigest->id, img.id);
}

TEST(ImageImportTest, CompressedArchives) {
  NAVE_REQUIRE_BUSYBOX_IMAGE();
  if (!testing::haveTool("zstd")) GTEST_SKIP() << "zstd is not installed";
  TempDir work;
  std::string gz = work / "busybox-docker.tar.gz";
  std::string zst = work / "busybox-docker.tar.zst";
  std::string ociGz = work / "busybox-oci.tar.gz";
  ASSERT_EQ(sh("gzip -c " + shellQuote(busybox.dockerArchive) + " > " + shellQuote(gz)).exitCode, 0);
  ASSERT_EQ(runCommand({"zstd", "-q", "-f", busybox.dockerArchive, "-o", zst}).exitCode, 0);
  ASSERT_EQ(sh("gzip -c " + shellQuote(busybox.ociArchive) + " > " + shellQuote(ociGz)).exitCode, 0);
  for (const std::string& archive : {gz, zst, ociGz}) {
    TempDir data;
    auto store = openStore(data.path());
    ASSERT_TRUE(store);
    auto images = store->importArchive(archive);
    ASSERT_TRUE(images.ok()) << archive << ": " << images.error().message();
    ASSERT_EQ(images->size(), 1u);
    expectBusybox((*images)[0], layoutFacts(busybox.layout));
    EXPECT_TRUE(store->find("busybox:latest").ok());
  }
}

// Repacks an archive after flipping a byte in the middle of one of its files.
std::string corruptArchive(const TempDir& work, const std::string& archive, const std::string& member,
                           bool gzip = false) {
  std::string dir = work / "unpacked";
  std::string out = work / (gzip ? "corrupt.tar.gz" : "corrupt.tar");
  sh("rm -rf " + shellQuote(dir) + " && mkdir " + shellQuote(dir) + " && tar -xf " +
     shellQuote(archive) + " -C " + shellQuote(dir));
  std::string file = dir + "/" + member;
  ::chmod(file.c_str(), 0644);
  std::string content = readFile(file);
  testing::flipByte(file, static_cast<long>(content.size() / 2));
  sh("cd " + shellQuote(dir) + " && tar -c" + (gzip ? "z" : "") + "f " + shellQuote(out) + " *");
  return out;
}

void expectNothingStored(ImageStore& store, const TempDir& data) {
  EXPECT_TRUE(store.list().empty());
  EXPECT_FALSE(store.find("busybox").ok());
  EXPECT_EQ(countFiles(data / "agent/content/blobs/sha256"), 0);
  EXPECT_EQ(countFiles(data / "agent/content/ingest"), 0);
}

TEST(ImageImportTest, CorruptBlobsAreRefused) {
  NAVE_REQUIRE_BUSYBOX_IMAGE();
  LayoutFacts facts = layoutFacts(busybox.layout);
  // The docker-archive's layer file and config are named in its manifest.json.
  auto listing = sh("tar -xOf " + shellQuote(busybox.dockerArchive) + " manifest.json");
  auto manifest = parseJson(listing.output);
  ASSERT_TRUE(manifest.ok()) << listing.output;
  std::string layerMember = manifest->value[0]["Layers"][0].get<std::string>();
  std::string configMember = manifest->value[0]["Config"].get<std::string>();

  struct Case {
    std::string archive, member, expect;
    bool gzip;
  } cases[] = {
      {busybox.dockerArchive, layerMember, "digest mismatch", false},
      {busybox.dockerArchive, layerMember, "digest mismatch", true},
      {busybox.dockerArchive, configMember, "digest mismatch", false},
      {busybox.ociArchive, "blobs/sha256/" + facts.layerDigest.substr(7), "digest mismatch", false},
      {busybox.ociArchive, "blobs/sha256/" + facts.configDigest.substr(7), "digest mismatch", false},
      {busybox.ociArchive, "blobs/sha256/" + facts.manifestDigest.substr(7), "digest mismatch", false},
  };
  for (const Case& c : cases) {
    TempDir work;
    TempDir data;
    std::string bad = corruptArchive(work, c.archive, c.member, c.gzip);
    auto store = openStore(data.path());
    ASSERT_TRUE(store);
    auto images = store->importArchive(bad);
    ASSERT_FALSE(images.ok()) << c.member;
    EXPECT_EQ(images.error().code(), ErrorCode::kBadRequest);
    EXPECT_NE(images.error().message().find(c.expect), std::string::npos) << images.error().message();
    expectNothingStored(*store, data);
  }
}

TEST(ImageImportTest, NotAnImageArchive) {
  TempDir work;
  TempDir data;
  auto store = openStore(data.path());
  ASSERT_TRUE(store);
  testing::writeFile(work / "random.tar", std::string(10000, 'x'));
  sh("cd " + shellQuote(work.path()) + " && echo hi > hello.txt && tar -cf plain.tar hello.txt");
  sh("cd " + shellQuote(work.path()) + " && head -c 3000 plain.tar > truncated.tar");
  for (const std::string& f : {work / "random.tar", work / "plain.tar", work / "missing.tar"}) {
    auto images = store->importArchive(f);
    ASSERT_FALSE(images.ok()) << f;
    EXPECT_EQ(images.error().code(), ErrorCode::kBadRequest) << images.error().message();
  }
  EXPECT_NE(store->importArchive(work / "plain.tar").error().message().find("not an image archive"),
            std::string::npos);
  expectNothingStored(*store, data);
}

TEST(ImageImportTest, MultipleTagsAndMovingTags) {
  NAVE_REQUIRE_BUSYBOX_IMAGE();
  TempDir work;
  TempDir data;
  std::string tagged = work / "tagged.tar";
  auto copy = runCommand({"skopeo", "copy", "--quiet", "--additional-tag", "busybox:1.0",
                          "--additional-tag", "example.com:5000/team/bb:v2",
                          "oci:" + busybox.layout + ":latest",
                          "docker-archive:" + tagged + ":docker.io/library/busybox:latest"});
  ASSERT_EQ(copy.exitCode, 0) << copy.output;
  auto store = openStore(data.path());
  ASSERT_TRUE(store);
  auto images = store->importArchive(tagged);
  ASSERT_TRUE(images.ok()) << images.error().message();
  ASSERT_EQ(images->size(), 1u);
  EXPECT_EQ((*images)[0].repoTags,
            (std::vector<std::string>{"docker.io/library/busybox:latest", "docker.io/library/busybox:1.0",
                                      "example.com:5000/team/bb:v2"}));
  const std::string oldId = (*images)[0].id;
  EXPECT_EQ(store->find("example.com:5000/team/bb:v2")->id, oldId);

  // Another image takes busybox:1.0 over; the first keeps its other tags.
  std::string layout2 = work / "layout2";
  ASSERT_EQ(sh("cp -r " + shellQuote(busybox.layout) + " " + shellQuote(layout2)).exitCode, 0);
  ASSERT_EQ(runCommand({"umoci", "config", "--image", layout2 + ":latest", "--config.cmd=true"}).exitCode, 0);
  std::string other = work / "other.tar";
  ASSERT_EQ(runCommand({"skopeo", "copy", "--quiet", "oci:" + layout2 + ":latest",
                        "docker-archive:" + other + ":busybox:1.0"}).exitCode, 0);
  auto second = store->importArchive(other);
  ASSERT_TRUE(second.ok()) << second.error().message();
  const std::string newId = (*second)[0].id;
  EXPECT_NE(newId, oldId);
  EXPECT_EQ(store->find("busybox:1.0")->id, newId);
  EXPECT_EQ(store->find("busybox:latest")->id, oldId);
  EXPECT_EQ(store->find(oldId)->repoTags,
            (std::vector<std::string>{"docker.io/library/busybox:latest", "example.com:5000/team/bb:v2"}));

  // Removing tags: the image goes with its last one.
  ASSERT_TRUE(store->remove("busybox").ok());
  EXPECT_FALSE(store->find("busybox").ok());
  EXPECT_TRUE(store->find(oldId).ok());
  ASSERT_TRUE(store->remove("example.com:5000/team/bb:v2").ok());
  EXPECT_FALSE(store->find(oldId).ok());
  EXPECT_EQ(store->remove("busybox:latest").error().code(), ErrorCode::kNotFound);
  // Removing by id removes every tag.
  ASSERT_TRUE(store->remove(newId.substr(7, 12)).ok());
  EXPECT_TRUE(store->list().empty());
}

TEST(ImageImportTest, OciArchiveWithoutAName) {
  NAVE_REQUIRE_BUSYBOX_IMAGE();
  TempDir work;
  TempDir data;
  std::string archive = work / "unnamed.tar";
  ASSERT_EQ(runCommand({"skopeo", "copy", "--quiet", "oci:" + busybox.layout + ":latest",
                        "oci-archive:" + archive + ":latest"}).exitCode, 0);
  auto store = openStore(data.path());
  ASSERT_TRUE(store);
  auto images = store->importArchive(archive);
  ASSERT_TRUE(images.ok()) << images.error().message();
  ASSERT_EQ(images->size(), 1u);
  EXPECT_TRUE((*images)[0].repoTags.empty());
  EXPECT_TRUE((*images)[0].repoDigests.empty());
  EXPECT_FALSE(store->find("latest").ok());
  EXPECT_TRUE(store->find((*images)[0].id).ok());
  ASSERT_EQ(store->list().size(), 1u);
}

TEST(ImageImportTest, AirgapDirectory) {
  NAVE_REQUIRE_BUSYBOX_IMAGE();
  if (!testing::haveTool("zstd")) GTEST_SKIP() << "zstd is not installed";
  TempDir data;
  std::string images = data / "agent/images";
  ASSERT_TRUE(makeDirs(images).ok());
  ASSERT_EQ(sh("cp " + shellQuote(busybox.dockerArchive) + " " + shellQuote(images + "/a.tar")).exitCode, 0);
  ASSERT_EQ(runCommand({"skopeo", "copy", "--quiet", "oci:" + busybox.layout + ":latest",
                        "oci-archive:" + data / "other.tar" + ":example.com/other:2"}).exitCode, 0);
  ASSERT_EQ(runCommand({"zstd", "-q", data / "other.tar", "-o", images + "/b.tar.zst"}).exitCode, 0);
  testing::writeFile(images + "/c.tar.gz", "not gzip");  // logged and skipped
  testing::writeFile(images + "/notes.txt", "ignored");
  auto store = openStore(data.path());
  ASSERT_TRUE(store);
  store->importAirgapDirectory();
  auto a = store->find("busybox:latest");
  auto b = store->find("example.com/other:2");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->id, b->id);
  EXPECT_EQ(store->list().size(), 1u);

  // At the next start, unchanged archives are not read again (so a removed tag stays removed);
  // changed ones are.
  ASSERT_TRUE(store->remove("example.com/other:2").ok());
  store->importAirgapDirectory();
  EXPECT_FALSE(store->find("example.com/other:2").ok());
  EXPECT_TRUE(store->find("busybox:latest").ok());
  ASSERT_EQ(sh("touch " + shellQuote(images + "/b.tar.zst")).exitCode, 0);
  store->importAirgapDirectory();
  EXPECT_TRUE(store->find("example.com/other:2").ok());
  // An image removed altogether comes back from its unchanged archive.
  ASSERT_TRUE(store->remove(a->id).ok());
  store->importAirgapDirectory();
  EXPECT_TRUE(store->find("busybox:latest").ok());
}

// `docker save` before Docker 25 names layers DIR/layer.tar, some of them symlinks to another
// layer's file; layers may also be gzip-compressed (still verified against the diff ID).
TEST(ImageImportTest, DockerArchiveLegacyLayoutAndCompressedLayers) {
  NAVE_REQUIRE_BUSYBOX_IMAGE();
  TempDir work;
  std::string dir = work / "x";
  ASSERT_EQ(sh("mkdir " + shellQuote(dir) + " && tar -xf " + shellQuote(busybox.dockerArchive) + " -C " +
               shellQuote(dir)).exitCode, 0);
  auto manifest = parseJson(readFile(dir + "/manifest.json"));
  ASSERT_TRUE(manifest.ok());
  std::string layerFile = manifest->value[0]["Layers"][0].get<std::string>();  // HEX.tar
  // skopeo writes a legacy DIR/layer.tar symlink beside the layer: point manifest.json at it.
  auto legacy = sh("cd " + shellQuote(dir) + " && ls */layer.tar");
  ASSERT_EQ(legacy.exitCode, 0) << legacy.output;
  std::string legacyPath = std::string(trim(legacy.output));
  {
    Json m = manifest->value;
    m[0]["Layers"][0] = legacyPath;
    testing::writeFile(dir + "/manifest.json", dumpJson(m));
    ASSERT_EQ(sh("cd " + shellQuote(dir) + " && tar -cf ../legacy.tar *").exitCode, 0);
    TempDir data;
    auto store = openStore(data.path());
    ASSERT_TRUE(store);
    auto images = store->importArchive(work / "legacy.tar");
    ASSERT_TRUE(images.ok()) << images.error().message();
    EXPECT_EQ((*images)[0].layers[0].digest, "sha256:" + layerFile.substr(0, 64));
    expectBusybox((*images)[0], layoutFacts(busybox.layout));
  }
  {
    Json m = manifest->value;
    ASSERT_EQ(sh("cd " + shellQuote(dir) + " && gzip -n -c < " + layerFile + " > layer.tar.gz").exitCode, 0);
    m[0]["Layers"][0] = "layer.tar.gz";
    testing::writeFile(dir + "/manifest.json", dumpJson(m));
    ASSERT_EQ(sh("cd " + shellQuote(dir) + " && tar -cf ../gzlayer.tar *").exitCode, 0);
    TempDir data;
    auto store = openStore(data.path());
    ASSERT_TRUE(store);
    auto images = store->importArchive(work / "gzlayer.tar");
    ASSERT_TRUE(images.ok()) << images.error().message();
    const Image& img = (*images)[0];
    EXPECT_EQ(img.layers[0].mediaType, media::kDockerLayerGzip);
    EXPECT_EQ(img.layers[0].digest, sha256Digest(readFile(dir + "/layer.tar.gz")));
    EXPECT_EQ(img.layers[0].diffId, "sha256:" + layerFile.substr(0, 64));
    expectBlobsVerified(*store, img);

    // A gzip layer whose content is not the diff ID's tar is refused.
    ASSERT_EQ(sh("cd " + shellQuote(dir) + " && echo other | gzip -c > layer.tar.gz && tar -cf ../badgz.tar *").exitCode, 0);
    auto bad = store->importArchive(work / "badgz.tar");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message().find("digest mismatch"), std::string::npos) << bad.error().message();
  }
}

// `skopeo copy --all` of an index into an OCI archive nests it under index.json: the import
// follows it to this platform's image (or the store's configured platform).
TEST(ImageImportTest, MultiPlatformOciArchive) {
  NAVE_REQUIRE_BUSYBOX_IMAGE();
  TempDir work;
  auto multi = testing::makeMultiPlatformLayout(busybox.layout, work / "multi");
  ASSERT_EQ(multi.error, "");
  std::string archive = work / "multi.tar";
  auto copy = runCommand({"skopeo", "copy", "--quiet", "--all", "oci:" + multi.layout + ":multi",
                          "oci-archive:" + archive + ":docker.io/library/multi:1"});
  ASSERT_EQ(copy.exitCode, 0) << copy.output;
  for (const auto& [platform, expected] :
       {std::pair<std::string, testing::ImageFacts>{"", multi.hostImage},
        std::pair<std::string, testing::ImageFacts>{"linux/" + multi.other, multi.otherImage}}) {
    TempDir data;
    ImageStoreOptions options;
    options.dataDir = data.path();
    options.platform = platform;
    auto store = ImageStore::open(options);
    ASSERT_TRUE(store.ok());
    auto images = (*store)->importArchive(archive);
    ASSERT_TRUE(images.ok()) << images.error().message();
    ASSERT_EQ(images->size(), 1u);
    const Image& img = (*images)[0];
    EXPECT_EQ(img.id, expected.configDigest) << platform;
    EXPECT_EQ(img.manifestDigest, expected.manifestDigest);
    EXPECT_EQ(img.repoTags, std::vector<std::string>{"docker.io/library/multi:1"});
    EXPECT_EQ(img.repoDigests, std::vector<std::string>{"docker.io/library/multi@" + multi.indexDigest});
    EXPECT_TRUE((*store)->blobPath(multi.indexDigest).ok());
    auto gc = (*store)->garbageCollect();
    ASSERT_TRUE(gc.ok());
    EXPECT_EQ(gc->blobsRemoved, 0);
  }
  ImageStoreOptions s390;
  TempDir data;
  s390.dataDir = data.path();
  s390.platform = "linux/s390x";
  auto store = ImageStore::open(s390);
  ASSERT_TRUE(store.ok());
  auto none = (*store)->importArchive(archive);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), ErrorCode::kBadRequest);
  EXPECT_NE(none.error().message().find("no image for platform linux/s390x"), std::string::npos)
      << none.error().message();
}

}  // namespace
}  // namespace nave::runtime
