// Pulls from Debian's docker-registry (CNCF distribution) on loopback, inside a network
// namespace each test makes, with images pushed there by skopeo.
#include <gtest/gtest.h>

#include <thread>

#include "common/strings.h"
#include "image_test_util.h"
#include "token_server.h"
#include "runtime/image/digest.h"
#include "runtime/image/image_store.h"
#include "runtime/image/manifest.h"

namespace nave::runtime {
namespace {

using testing::readFile;
using testing::runCommand;
using testing::TempDir;
using testing::TestNetns;
using testing::TestRegistry;
using testing::writeFile;

using testing::factsOf;
using testing::ImageFacts;

class PullTest : public ::testing::Test {
 protected:
  // Starts a registry (with extra config) in a fresh namespace and pushes the busybox image
  // to it as library/busybox:1.0. Returns false (after GTEST_SKIP or a failure) if it cannot.
  bool startRegistry(const std::string& extraConfig = "", const std::string& pushCreds = "",
                     const std::string& httpExtra = "", int port = 5000) {
    if (!enterNetns()) return false;
    registry_ = std::make_unique<TestRegistry>(*netns_, work_ / "registry", port, extraConfig, httpExtra);
    if (!registry_->error().empty()) {
      ADD_FAILURE() << registry_->error();
      return false;
    }
    creds_ = pushCreds;
    if (!push(image_->layout, "latest", "library/busybox:1.0")) return false;
    facts_ = factsOf(image_->layout);
    return true;
  }

  // Makes the test's namespace and enters it (once); loads the busybox image.
  bool enterNetns() {
    if (netns_) return netns_->error().empty();
    image_ = &testing::busyboxImage();
    if (!image_->error.empty()) {
      skipReason_ = "no busybox image: " + image_->error;
      return false;
    }
    netns_ = std::make_unique<TestNetns>();
    if (!netns_->error().empty()) {
      skipReason_ = "no network namespace: " + netns_->error();
      return false;
    }
    return true;
  }

  bool startRegistryTls(const std::string& httpExtra, const std::string& certDir) {
    destCertDir_ = certDir;
    return startRegistry("", "", httpExtra);
  }

  bool push(const std::string& layout, const std::string& tag, const std::string& dest,
            bool all = false) {
    std::vector<std::string> argv = {"skopeo", "copy", "--quiet", "--dest-tls-verify=false"};
    if (!destCertDir_.empty()) argv.push_back("--dest-cert-dir=" + destCertDir_);
    if (all) argv.push_back("--all");
    if (!creds_.empty()) {
      argv.push_back("--dest-creds");
      argv.push_back(creds_);
    }
    argv.push_back("oci:" + layout + ":" + tag);
    argv.push_back("docker://" + registry_->address() + "/" + dest);
    auto r = runCommand(argv);
    EXPECT_EQ(r.exitCode, 0) << r.output;
    return r.exitCode == 0;
  }

  std::unique_ptr<ImageStore> openStore(const std::string& registriesYaml = "",
                                        const std::string& platform = "") {
    ImageStoreOptions options;
    options.dataDir = data_.path();
    options.platform = platform;
    if (!registriesYaml.empty()) {
      options.registriesFile = work_ / "registries.yaml";
      writeFile(options.registriesFile, registriesYaml);
    }
    auto store = ImageStore::open(options);
    EXPECT_TRUE(store.ok()) << store.error().message();
    return store.ok() ? std::move(*store) : nullptr;
  }

  void expectPulledBusybox(ImageStore& store, const Image& img) {
    EXPECT_EQ(img.id, facts_.configDigest);
    EXPECT_EQ(img.manifestDigest, facts_.manifestDigest);
    ASSERT_EQ(img.layers.size(), 1u);
    EXPECT_EQ(img.layers[0].digest, facts_.layerDigest);
    EXPECT_EQ(img.layers[0].mediaType, media::kOciLayerGzip);
    EXPECT_EQ(img.config.cmd, std::vector<std::string>{"sh"});
    for (const std::string& d : {img.id, img.manifestDigest, img.layers[0].digest}) {
      auto path = store.blobPath(d);
      ASSERT_TRUE(path.ok()) << d;
      EXPECT_EQ(sha256Digest(readFile(*path)), d);
    }
  }

  TempDir work_;
  TempDir data_;
  const testing::BusyboxImage* image_ = nullptr;
  std::unique_ptr<TestNetns> netns_;
  std::unique_ptr<testing::TokenServer> tokens_;
  std::unique_ptr<TestRegistry> registry_;  // destroyed before the token server and namespace
  std::string creds_;
  std::string destCertDir_;
  std::string skipReason_;
  ImageFacts facts_;
};

#define START_REGISTRY(...)                                     \
  do {                                                          \
    if (!startRegistry(__VA_ARGS__)) {                          \
      if (!skipReason_.empty()) GTEST_SKIP() << skipReason_;    \
      return;                                                   \
    }                                                           \
  } while (0)

TEST_F(PullTest, AnonymousPull) {
  START_REGISTRY();
  auto store = openStore();
  ASSERT_TRUE(store);
  std::vector<Progress> progress;
  PullOptions options;
  options.progress = [&](const Progress& p) { progress.push_back(p); };
  auto img = store->pull("127.0.0.1:5000/library/busybox:1.0", options);
  ASSERT_TRUE(img.ok()) << img.error().message();
  expectPulledBusybox(*store, *img);
  EXPECT_EQ(img->repoTags, std::vector<std::string>{"127.0.0.1:5000/library/busybox:1.0"});
  EXPECT_EQ(img->repoDigests,
            std::vector<std::string>{"127.0.0.1:5000/library/busybox@" + facts_.manifestDigest});
  // Progress: resolving, the layer's bytes, done.
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.front().status, "resolving");
  EXPECT_EQ(progress.back().status, "done");
  int64_t layerDone = 0;
  for (const Progress& p : progress) {
    EXPECT_EQ(p.ref, "127.0.0.1:5000/library/busybox:1.0");
    if (p.layer == facts_.layerDigest) {
      EXPECT_EQ(p.total, facts_.layerSize);
      EXPECT_GE(p.done, layerDone);
      layerDone = p.done;
    }
  }
  EXPECT_EQ(layerDone, facts_.layerSize);
  EXPECT_EQ(registry_->countGets("/blobs/" + facts_.layerDigest), 1);

  // Pulling again fetches the manifest, not the blobs it has.
  progress.clear();
  ASSERT_TRUE(store->pull("127.0.0.1:5000/library/busybox:1.0", options).ok());
  EXPECT_EQ(registry_->countGets("/blobs/" + facts_.layerDigest), 1);
  EXPECT_EQ(registry_->countGets("/blobs/" + facts_.configDigest), 1);
  bool sawExists = false;
  for (const Progress& p : progress) sawExists = sawExists || p.status == "exists";
  EXPECT_TRUE(sawExists);

  // By digest.
  auto byDigest = store->pull("127.0.0.1:5000/library/busybox@" + facts_.manifestDigest);
  ASSERT_TRUE(byDigest.ok()) << byDigest.error().message();
  EXPECT_EQ(byDigest->id, img->id);
  EXPECT_TRUE(store->find("127.0.0.1:5000/library/busybox@" + facts_.manifestDigest).ok());
  EXPECT_TRUE(store->find("127.0.0.1:5000/library/busybox:1.0").ok());

  // Unknown images and tags.
  auto nope = store->pull("127.0.0.1:5000/library/nope:latest");
  ASSERT_FALSE(nope.ok());
  EXPECT_EQ(nope.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(nope.error().message(), "pull 127.0.0.1:5000/library/nope:latest: not found");
  auto noTag = store->pull("127.0.0.1:5000/library/busybox:9.9");
  ASSERT_FALSE(noTag.ok());
  EXPECT_EQ(noTag.error().code(), ErrorCode::kNotFound);
  auto bad = store->pull("127.0.0.1:5000/Library/busybox");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kBadRequest);
  EXPECT_NE(bad.error().message().find("invalid reference format"), std::string::npos);
  // Nothing listens there: unavailable, with the reason.
  auto down = store->pull("127.0.0.1:5999/library/busybox:1.0");
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code(), ErrorCode::kUnavailable) << down.error().message();
  EXPECT_EQ(store->list().size(), 1u);
}

TEST_F(PullTest, BasicAuth) {
  if (!testing::haveTool("htpasswd")) GTEST_SKIP() << "htpasswd (apache2-utils) is not installed";
  auto hash = runCommand({"htpasswd", "-Bbn", "alice", "s3cret"});
  ASSERT_EQ(hash.exitCode, 0) << hash.output;
  writeFile(work_ / "htpasswd", hash.output);
  START_REGISTRY("auth:\n  htpasswd:\n    realm: nave-test\n    path: " + work_ / "htpasswd" + "\n",
                 "alice:s3cret");
  const std::string ref = "127.0.0.1:5000/library/busybox:1.0";
  {
    auto store = openStore();
    ASSERT_TRUE(store);
    auto anonymous = store->pull(ref);
    ASSERT_FALSE(anonymous.ok());
    EXPECT_EQ(anonymous.error().code(), ErrorCode::kUnauthorized);
    EXPECT_NE(anonymous.error().message().find("failed to authorize"), std::string::npos)
        << anonymous.error().message();

    PullOptions wrong;
    wrong.auth["127.0.0.1:5000"] = RegistryAuth{"alice", "wrong", ""};
    auto denied = store->pull(ref, wrong);
    ASSERT_FALSE(denied.ok());
    EXPECT_EQ(denied.error().code(), ErrorCode::kUnauthorized);
    EXPECT_NE(denied.error().message().find("failed to authorize: 401 Unauthorized"), std::string::npos)
        << denied.error().message();

    // Credentials from the pull (imagePullSecrets).
    PullOptions right;
    right.auth["http://127.0.0.1:5000"] = RegistryAuth{"alice", "s3cret", ""};
    auto img = store->pull(ref, right);
    ASSERT_TRUE(img.ok()) << img.error().message();
    expectPulledBusybox(*store, *img);
    ASSERT_TRUE(store->remove(img->id).ok());
    ASSERT_TRUE(store->garbageCollect().ok());
  }
  // Credentials from registries.yaml (the base64 auth form), overridden by the pull's.
  auto store = openStore(std::string("configs:\n  \"127.0.0.1:5000\":\n    auth:\n      auth: ") +
                         base64Encode("alice:s3cret") + "\n");
  ASSERT_TRUE(store);
  auto img = store->pull(ref);
  ASSERT_TRUE(img.ok()) << img.error().message();
  expectPulledBusybox(*store, *img);
  PullOptions wrong;
  wrong.auth["127.0.0.1:5000"] = RegistryAuth{"alice", "wrong", ""};
  EXPECT_EQ(store->pull(ref, wrong).error().code(), ErrorCode::kUnauthorized);
}

TEST_F(PullTest, DockerHubMirrorWithRewrite) {
  START_REGISTRY();
  // Only the mirror's own repository layout has 2.0: the rewrite must apply.
  ASSERT_TRUE(push(image_->layout, "latest", "mirrored/busybox:2.0"));
  auto store = openStore(R"yaml(
mirrors:
  docker.io:
    endpoint:
      - "http://127.0.0.1:5999"
      - "http://127.0.0.1:5000"
    rewrite:
      "^library/(busybox)$": "mirrored/$1"
  "*":
    endpoint: ["http://127.0.0.1:5000"]
)yaml");
  ASSERT_TRUE(store);
  auto img = store->pull("busybox:2.0");
  ASSERT_TRUE(img.ok()) << img.error().message();
  expectPulledBusybox(*store, *img);
  // Stored under its own name, not the mirror's.
  EXPECT_EQ(img->repoTags, std::vector<std::string>{"docker.io/library/busybox:2.0"});
  EXPECT_EQ(img->repoDigests,
            std::vector<std::string>{"docker.io/library/busybox@" + facts_.manifestDigest});
  EXPECT_EQ(registry_->countGets("/v2/mirrored/busybox/manifests/2.0"), 1);
  EXPECT_TRUE(store->find("busybox:2.0").ok());
  EXPECT_TRUE(store->find("docker.io/library/busybox:2.0").ok());

  // Without a matching rewrite, the repository is asked for as it is.
  ASSERT_TRUE(push(image_->layout, "latest", "team/app:1"));
  auto app = store->pull("team/app:1");
  ASSERT_TRUE(app.ok()) << app.error().message();
  EXPECT_EQ(store->find("docker.io/team/app:1")->id, app->id);  // the same image, one more tag
  EXPECT_EQ(app->repoTags.size(), 2u);

  // "*" mirrors every other registry.
  auto other = store->pull("registry.example.com/library/busybox:1.0");
  ASSERT_TRUE(other.ok()) << other.error().message();
  EXPECT_EQ(store->find("registry.example.com/library/busybox:1.0")->id, other->id);
  EXPECT_EQ(other->repoTags.size(), 3u);

  // Not on the mirror, and the default endpoint is out of reach: the mirror's answer counts.
  auto missing = store->pull("busybox:3.0");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message(), "pull docker.io/library/busybox:3.0: not found");
}

// An OCI index with this platform and another one.
TEST_F(PullTest, ManifestListPicksThePlatform) {
  START_REGISTRY();
  testing::MultiPlatformLayout multi = testing::makeMultiPlatformLayout(image_->layout, work_ / "multi");
  ASSERT_EQ(multi.error, "");
  const std::string& host = multi.host;
  const std::string& other = multi.other;
  const std::string& layout = multi.layout;
  const std::string& indexDigest = multi.indexDigest;
  const ImageFacts& hostFacts = multi.hostImage;
  const ImageFacts& otherFacts = multi.otherImage;
  ASSERT_TRUE(push(layout, "multi", "library/multi:1", true));

  const std::string ref = "127.0.0.1:5000/library/multi:1";
  auto store = openStore();
  ASSERT_TRUE(store);
  auto img = store->pull(ref);
  ASSERT_TRUE(img.ok()) << img.error().message();
  EXPECT_EQ(img->id, hostFacts.configDigest);
  EXPECT_EQ(img->manifestDigest, hostFacts.manifestDigest);
  EXPECT_EQ(img->architecture, host);
  // The repo digest is the index's, as pulled by tag.
  EXPECT_EQ(img->repoDigests, std::vector<std::string>{"127.0.0.1:5000/library/multi@" + indexDigest});
  EXPECT_TRUE(store->blobPath(indexDigest).ok());
  EXPECT_TRUE(store->find("127.0.0.1:5000/library/multi@" + indexDigest).ok());
  // GC keeps the index with the image.
  auto gc = store->garbageCollect();
  ASSERT_TRUE(gc.ok());
  EXPECT_EQ(gc->blobsRemoved, 0);
  EXPECT_TRUE(store->blobPath(indexDigest).ok());

  store.reset();
  auto otherStore = openStore("", "linux/" + other);
  ASSERT_TRUE(otherStore);
  auto otherImg = otherStore->pull(ref);
  ASSERT_TRUE(otherImg.ok()) << otherImg.error().message();
  EXPECT_EQ(otherImg->id, otherFacts.configDigest);
  EXPECT_EQ(otherImg->architecture, other);

  otherStore.reset();
  auto s390 = openStore("", "linux/s390x");
  ASSERT_TRUE(s390);
  auto none = s390->pull(ref);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(none.error().message().find("no match for platform linux/s390x"), std::string::npos)
      << none.error().message();
  // A single-platform image for another architecture is refused as well.
  auto single = s390->pull("127.0.0.1:5000/library/busybox:1.0");
  ASSERT_FALSE(single.ok());
  EXPECT_NE(single.error().message().find("not for platform linux/s390x"), std::string::npos)
      << single.error().message();
}

TEST_F(PullTest, ConcurrentPullsShareOneDownload) {
  START_REGISTRY();
  auto store = openStore();
  ASSERT_TRUE(store);
  constexpr int kThreads = 4;
  std::vector<std::optional<Result<Image>>> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { results[i].emplace(store->pull("127.0.0.1:5000/library/busybox:1.0")); });
  }
  for (std::thread& t : threads) t.join();
  for (const auto& r : results) {
    ASSERT_TRUE(r->ok()) << r->error().message();
    EXPECT_EQ((*r)->id, facts_.configDigest);
  }
  // Each blob crossed the wire once, whether the pulls overlapped or not.
  EXPECT_EQ(registry_->countGets("/blobs/" + facts_.layerDigest), 1);
  EXPECT_EQ(registry_->countGets("/blobs/" + facts_.configDigest), 1);
  EXPECT_LE(registry_->countGets("/manifests/1.0"), kThreads);
  EXPECT_EQ(store->list().size(), 1u);
}

// Layers download a few at a time; each once, in the manifest's order in the image.
TEST_F(PullTest, MultiLayerImage) {
  START_REGISTRY();
  std::string layout = work_ / "layers";
  std::string bundle = work_ / "bundle";
  ASSERT_EQ(testing::sh("cp -r " + testing::shellQuote(image_->layout) + " " + testing::shellQuote(layout)).exitCode, 0);
  for (int i = 0; i < 3; ++i) {
    std::string n = std::to_string(i);
    auto r = testing::sh("set -e; rm -rf " + bundle + "; umoci unpack --rootless --image " + layout + ":latest " +
                         bundle + "; head -c " + std::to_string(100000 * (i + 1)) + " /dev/urandom > " + bundle +
                         "/rootfs/file" + n + "; umoci repack --image " + layout + ":latest " + bundle + " 2>&1");
    ASSERT_EQ(r.exitCode, 0) << r.output;
  }
  ASSERT_TRUE(push(layout, "latest", "library/layers:1"));
  auto manifest = parseJson(readFile(layout + "/blobs/sha256/" + factsOf(layout).manifestDigest.substr(7)));
  ASSERT_TRUE(manifest.ok());
  std::vector<std::string> expected;
  for (const Json& l : manifest->value["layers"]) expected.push_back(l["digest"].get<std::string>());
  ASSERT_EQ(expected.size(), 4u);

  auto store = openStore();
  ASSERT_TRUE(store);
  std::map<std::string, int64_t> done;
  PullOptions options;
  options.progress = [&](const Progress& p) {
    if (!p.layer.empty()) done[p.layer] = std::max(done[p.layer], p.done);
  };
  auto img = store->pull("127.0.0.1:5000/library/layers:1", options);
  ASSERT_TRUE(img.ok()) << img.error().message();
  ASSERT_EQ(img->layers.size(), 4u);
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(img->layers[i].digest, expected[i]);
    EXPECT_EQ(done[expected[i]], img->layers[i].size);
    EXPECT_EQ(registry_->countGets("/blobs/" + expected[i]), 1);
    auto path = store->blobPath(expected[i]);
    ASSERT_TRUE(path.ok());
    EXPECT_EQ(sha256Digest(readFile(*path)), expected[i]);
  }
}

TEST_F(PullTest, TamperedBlobIsRefused) {
  START_REGISTRY();
  std::string blob = registry_->blobFile(facts_.layerDigest);
  ASSERT_EQ(::access(blob.c_str(), F_OK), 0) << blob;
  ASSERT_TRUE(testing::flipByte(blob, 1000));
  auto store = openStore();
  ASSERT_TRUE(store);
  auto img = store->pull("127.0.0.1:5000/library/busybox:1.0");
  ASSERT_FALSE(img.ok());
  EXPECT_EQ(img.error().code(), ErrorCode::kBadRequest);
  EXPECT_NE(img.error().message().find("digest mismatch"), std::string::npos) << img.error().message();
  EXPECT_NE(img.error().message().find(facts_.layerDigest), std::string::npos);
  EXPECT_TRUE(store->list().empty());
  EXPECT_FALSE(store->blobPath(facts_.layerDigest).ok());
  EXPECT_EQ(testing::sh("ls -A " + data_ / "agent/content/ingest").output, "");
}

}  // namespace
}  // namespace nave::runtime

namespace nave::runtime {
namespace {

// docker-registry's token mode: a 401 with a Bearer challenge, a token from the realm, the
// request again with it.
TEST_F(PullTest, BearerTokenAnonymous) {
  if (!enterNetns()) {
    if (!skipReason_.empty()) GTEST_SKIP() << skipReason_;
    return;
  }
  if (!testing::haveTool("openssl")) GTEST_SKIP() << "openssl is not installed";
  tokens_ = std::make_unique<testing::TokenServer>(work_.path(), 5001, "nave-issuer", "nave-registry");
  ASSERT_EQ(tokens_->error(), "");
  START_REGISTRY("auth:\n  token:\n    realm: http://127.0.0.1:5001/token\n    service: nave-registry\n"
                 "    issuer: nave-issuer\n    rootcertbundle: " + tokens_->certPath() + "\n");
  auto store = openStore();
  ASSERT_TRUE(store);
  int before = tokens_->tokensIssued();
  auto img = store->pull("127.0.0.1:5000/library/busybox:1.0");
  ASSERT_TRUE(img.ok()) << img.error().message();
  expectPulledBusybox(*store, *img);
  // One token for the manifest, reused for the blobs; asked for without credentials.
  EXPECT_EQ(tokens_->tokensIssued() - before, 1);
  EXPECT_EQ(tokens_->authorizations().back(), "");
  // The registry does refuse requests without a token.
  auto raw = runCommand({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                         "http://127.0.0.1:5000/v2/library/busybox/manifests/1.0"});
  EXPECT_EQ(raw.output, "401");
}

TEST_F(PullTest, BearerTokenWithCredentials) {
  if (!enterNetns()) {
    if (!skipReason_.empty()) GTEST_SKIP() << skipReason_;
    return;
  }
  if (!testing::haveTool("openssl")) GTEST_SKIP() << "openssl is not installed";
  tokens_ = std::make_unique<testing::TokenServer>(work_.path(), 5001, "nave-issuer", "nave-registry",
                                                   "alice:s3cret");
  ASSERT_EQ(tokens_->error(), "");
  START_REGISTRY("auth:\n  token:\n    realm: http://127.0.0.1:5001/token\n    service: nave-registry\n"
                 "    issuer: nave-issuer\n    rootcertbundle: " + tokens_->certPath() + "\n",
                 "alice:s3cret");
  const std::string ref = "127.0.0.1:5000/library/busybox:1.0";
  {
    auto store = openStore();
    ASSERT_TRUE(store);
    auto denied = store->pull(ref);
    ASSERT_FALSE(denied.ok());
    EXPECT_EQ(denied.error().code(), ErrorCode::kUnauthorized);
    EXPECT_EQ(denied.error().message(),
              "pull " + ref + ": failed to authorize: fetch token from http://127.0.0.1:5001/token: "
              "401 Unauthorized");
  }
  auto store = openStore("configs:\n  \"127.0.0.1:5000\":\n    auth: {username: alice, password: s3cret}\n");
  ASSERT_TRUE(store);
  auto img = store->pull(ref);
  ASSERT_TRUE(img.ok()) << img.error().message();
  expectPulledBusybox(*store, *img);
  EXPECT_EQ(tokens_->authorizations().back(), "Basic " + base64Encode("alice:s3cret"));
}

// HTTPS with the registry's CA from registries.yaml, and client certificates.
TEST_F(PullTest, TlsSettingsFromRegistriesYaml) {
  if (!enterNetns()) {
    if (!skipReason_.empty()) GTEST_SKIP() << skipReason_;
    return;
  }
  if (!testing::haveTool("openssl")) GTEST_SKIP() << "openssl is not installed";
  const std::string d = work_.path();
  auto gen = testing::sh(
      "set -e; cd " + testing::shellQuote(d) + "\n"
      "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 -subj /CN=nave-test-ca 2>&1\n"
      "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 2>&1\n"
      "printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext\n"
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 1 -extfile san.ext 2>&1\n"
      "openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=nave-client 2>&1\n"
      "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 1 2>&1\n");
  ASSERT_EQ(gen.exitCode, 0) << gen.output;
  // skopeo pushes with the same client certificate (its cert dir holds client.cert/.key).
  ASSERT_EQ(testing::sh("mkdir -p " + d + "/certs && cp " + d + "/client.pem " + d + "/certs/client.cert && cp " +
                        d + "/client.key " + d + "/certs/client.key").exitCode, 0);
  const std::string tls = "  tls:\n    certificate: " + d + "/server.pem\n    key: " + d +
                          "/server.key\n    clientcas: [" + d + "/ca.pem]\n";
  if (!startRegistryTls(tls, d + "/certs")) {
    if (!skipReason_.empty()) GTEST_SKIP() << skipReason_;
    return;
  }
  const std::string mirror = "mirrors:\n  registry.test:\n    endpoint: [\"https://127.0.0.1:5000\"]\n";
  const std::string ref = "registry.test/library/busybox:1.0";
  auto pullWith = [&](const std::string& configs) -> Result<Image> {
    TempDir data;  // a fresh store each time: nothing is there already
    ImageStoreOptions options;
    options.dataDir = data.path();
    options.registriesFile = work_ / "registries.yaml";
    writeFile(options.registriesFile, mirror + "configs:\n  \"127.0.0.1:5000\":\n" + configs);
    auto store = ImageStore::open(options);
    if (!store.ok()) return std::move(store).error();
    return (*store)->pull(ref);
  };
  const std::string client = "      cert_file: " + d + "/client.pem\n      key_file: " + d + "/client.key\n";
  auto ok = pullWith("    tls:\n      ca_file: " + d + "/ca.pem\n" + client);
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ(ok->id, facts_.configDigest);
  EXPECT_EQ(ok->repoTags, std::vector<std::string>{ref});

  auto insecure = pullWith("    tls:\n      insecure_skip_verify: true\n" + client);
  ASSERT_TRUE(insecure.ok()) << insecure.error().message();

  auto untrusted = pullWith("    tls:\n" + client);
  ASSERT_FALSE(untrusted.ok());
  EXPECT_EQ(untrusted.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(untrusted.error().message().find("https://127.0.0.1:5000/v2/library/busybox/manifests/1.0"),
            std::string::npos) << untrusted.error().message();

  auto noClientCert = pullWith("    tls:\n      ca_file: " + d + "/ca.pem\n");
  ASSERT_FALSE(noClientCert.ok());
}

}  // namespace
}  // namespace nave::runtime
