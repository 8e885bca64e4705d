// Pull behaviour on faults a real registry does not produce on demand: transient errors,
// broken transfers, lying sizes, schema 1 manifests. The fake registry serves the busybox
// layout on loopback inside a namespace of the test's own.
#include <gtest/gtest.h>

#include "fake_registry.h"
#include "image_test_util.h"
#include "runtime/image/digest.h"
#include "runtime/image/image_store.h"
#include "runtime/image/manifest.h"

namespace nave::runtime {
namespace {

using testing::FakeRegistry;

class PullFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    image_ = &testing::busyboxImage();
    if (!image_->error.empty()) GTEST_SKIP() << "no busybox image: " << image_->error;
    netns_ = std::make_unique<testing::TestNetns>();
    if (!netns_->error().empty()) GTEST_SKIP() << "no network namespace: " << netns_->error();
    registry_ = std::make_unique<FakeRegistry>(image_->layout, 5000);
    ASSERT_EQ(registry_->error(), "");
    facts_ = testing::factsOf(image_->layout);
    ImageStoreOptions options;
    options.dataDir = data_.path();
    auto store = ImageStore::open(options);
    ASSERT_TRUE(store.ok());
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    registry_.reset();
    netns_.reset();
  }

  Result<Image> pull(const std::string& tag = "latest") {
    return store_->pull("127.0.0.1:5000/library/busybox:" + tag);
  }

  testing::TempDir data_;
  const testing::BusyboxImage* image_ = nullptr;
  std::unique_ptr<testing::TestNetns> netns_;
  std::unique_ptr<FakeRegistry> registry_;
  std::unique_ptr<ImageStore> store_;
  testing::ImageFacts facts_;
};

TEST_F(PullFaultsTest, TransientErrorsAreRetried) {
  registry_->failNext("/manifests/latest", 2, FakeRegistry::Fault::kStatus503);
  registry_->failNext("/blobs/" + facts_.layerDigest, 1, FakeRegistry::Fault::kTruncate);
  registry_->failNext("/blobs/" + facts_.configDigest, 1, FakeRegistry::Fault::kStatus503);
  auto img = pull();
  ASSERT_TRUE(img.ok()) << img.error().message();
  EXPECT_EQ(img->id, facts_.configDigest);
  EXPECT_EQ(registry_->requests("/manifests/latest"), 3);
  EXPECT_EQ(registry_->requests("/blobs/" + facts_.layerDigest), 2);
  EXPECT_EQ(registry_->requests("/blobs/" + facts_.configDigest), 2);
  auto path = store_->blobPath(facts_.layerDigest);
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(sha256Digest(testing::readFile(*path)), facts_.layerDigest);
}

TEST_F(PullFaultsTest, PersistentErrorsFailAfterAFewAttempts) {
  registry_->failNext("/blobs/" + facts_.layerDigest, 100, FakeRegistry::Fault::kStatus503);
  auto img = pull();
  ASSERT_FALSE(img.ok());
  EXPECT_EQ(img.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(img.error().message().find("503 Service Unavailable: try later"), std::string::npos)
      << img.error().message();
  EXPECT_EQ(registry_->requests("/blobs/" + facts_.layerDigest), 3);
  EXPECT_TRUE(store_->list().empty());

  registry_->failNext("/blobs/" + facts_.configDigest, 100, FakeRegistry::Fault::kTruncate);
  auto broken = pull();
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.error().code(), ErrorCode::kUnavailable) << broken.error().message();
  EXPECT_EQ(testing::sh("ls -A " + data_ / "agent/content/ingest").output, "");
}

TEST_F(PullFaultsTest, Schema1AndLyingManifestsAreRefused) {
  registry_->addManifest("schema1", std::string(media::kDockerSchema1Signed),
                         R"({"schemaVersion":1,"name":"library/busybox","tag":"schema1","fsLayers":[]})");
  auto s1 = pull("schema1");
  ASSERT_FALSE(s1.ok());
  EXPECT_EQ(s1.error().code(), ErrorCode::kBadRequest);
  EXPECT_NE(s1.error().message().find("Docker schema 1 manifests are not supported"), std::string::npos)
      << s1.error().message();

  // A manifest claiming the layer is smaller than it is: the download stops at that size.
  auto manifest = parseJson(testing::readFile(image_->layout + "/blobs/sha256/" + facts_.manifestDigest.substr(7)));
  ASSERT_TRUE(manifest.ok());
  Json small = manifest->value;
  small["layers"][0]["size"] = 1000;
  registry_->addManifest("small", std::string(media::kOciManifest), dumpJson(small));
  auto lying = pull("small");
  ASSERT_FALSE(lying.ok());
  EXPECT_EQ(lying.error().code(), ErrorCode::kBadRequest);
  EXPECT_NE(lying.error().message().find("is larger than its 1000 bytes"), std::string::npos)
      << lying.error().message();

  // A digest reference whose content does not match.
  registry_->addManifest(sha256Digest("other"), std::string(media::kOciManifest), dumpJson(manifest->value));
  auto wrong = store_->pull("127.0.0.1:5000/library/busybox@" + sha256Digest("other"));
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message().find("manifest digest mismatch"), std::string::npos)
      << wrong.error().message();
  EXPECT_TRUE(store_->list().empty());
}

// A mirror that has the manifest but lacks a blob: the blob comes from the next endpoint.
TEST_F(PullFaultsTest, BlobsFallBackToTheNextEndpoint) {
  FakeRegistry mirror(image_->layout, 5001);
  ASSERT_EQ(mirror.error(), "");
  mirror.failNext("/blobs/" + facts_.layerDigest, 100, FakeRegistry::Fault::kStatus404);
  testing::writeFile(data_ / "registries.yaml",
                     "mirrors:\n  docker.io:\n    endpoint: [\"http://127.0.0.1:5001\", \"http://127.0.0.1:5000\"]\n");
  testing::TempDir data;
  ImageStoreOptions options;
  options.dataDir = data.path();
  options.registriesFile = data_ / "registries.yaml";
  auto store = ImageStore::open(options);
  ASSERT_TRUE(store.ok());
  auto img = (*store)->pull("busybox");
  ASSERT_TRUE(img.ok()) << img.error().message();
  EXPECT_EQ(img->repoTags, std::vector<std::string>{"docker.io/library/busybox:latest"});
  EXPECT_EQ(mirror.requests("/manifests/latest"), 1);
  EXPECT_EQ(registry_->requests("/manifests/"), 0);
  EXPECT_EQ(mirror.requests("/blobs/" + facts_.configDigest), 1);
  EXPECT_EQ(mirror.requests("/blobs/" + facts_.layerDigest), 1);
  EXPECT_EQ(registry_->requests("/blobs/" + facts_.layerDigest), 1);

  // Nowhere to be found: the first endpoint's answer.
  registry_->failNext("/blobs/" + facts_.layerDigest, 100, FakeRegistry::Fault::kStatus404);
  ASSERT_TRUE((*store)->remove("busybox").ok());
  ASSERT_TRUE((*store)->garbageCollect().ok());
  auto missing = (*store)->pull("busybox");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message().find("blob unknown to registry"), std::string::npos)
      << missing.error().message();
}

}  // namespace
}  // namespace nave::runtime
