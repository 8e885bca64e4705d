#include <gtest/gtest.h>

#include "runtime/image/digest.h"
#include "runtime/image/manifest.h"
#include "runtime/image/platform.h"

namespace nave::runtime {
namespace {

std::string digestOf(char c) { return "sha256:" + std::string(64, c); }

Json entry(const std::string& digest, const std::string& os, const std::string& arch,
           const std::string& variant = "") {
  Json p = {{"os", os}, {"architecture", arch}};
  if (!variant.empty()) p["variant"] = variant;
  return {{"mediaType", media::kOciManifest}, {"digest", digest}, {"size", 100}, {"platform", p}};
}

TEST(PlatformTest, ParsesAndNormalises) {
  struct Case {
    std::string in, out;
  } cases[] = {
      {"linux/amd64", "linux/amd64"},   {"amd64", "linux/amd64"},
      {"linux/x86_64", "linux/amd64"},  {"linux/aarch64", "linux/arm64"},
      {"linux/arm64/v8", "linux/arm64"}, {"linux/arm", "linux/arm/v7"},
      {"linux/arm/7", "linux/arm/v7"},  {"linux/armhf", "linux/arm/v7"},
      {"linux/armel", "linux/arm/v6"},  {"linux/arm/v6", "linux/arm/v6"},
      {"Linux/AMD64", "linux/amd64"},   {"windows/amd64", "windows/amd64"},
  };
  for (const Case& c : cases) {
    auto p = Platform::parse(c.in);
    ASSERT_TRUE(p.ok()) << c.in;
    EXPECT_EQ(p->str(), c.out) << c.in;
  }
  EXPECT_EQ(Platform::parse("linux/arm64")->variant, "v8");
  for (const char* bad : {"", "/", "linux/", "a/b/c/d", "linux//v7"}) {
    EXPECT_FALSE(Platform::parse(bad).ok()) << bad;
  }
  Platform host = Platform::host();
  EXPECT_EQ(host.os, "linux");
  EXPECT_FALSE(host.architecture.empty());
  EXPECT_EQ(host, host.normalized());
}

TEST(ManifestTest, SelectsThePlatformOfAnIndex) {
  Json index = {{"schemaVersion", 2},
                {"mediaType", media::kOciIndex},
                {"manifests",
                 {entry(digestOf('1'), "linux", "arm", "v6"), entry(digestOf('2'), "linux", "arm64", "v8"),
                  entry(digestOf('3'), "windows", "amd64"), entry(digestOf('4'), "linux", "amd64"),
                  entry(digestOf('5'), "linux", "arm", "v7"), entry(digestOf('6'), "linux", "386")}}};
  auto m = parseManifest(dumpJson(index));
  ASSERT_TRUE(m.ok()) << m.error().message();
  ASSERT_EQ(m->kind, ManifestKind::kIndex);
  ASSERT_EQ(m->manifests.size(), 6u);
  auto pick = [&](const char* platform) {
    auto d = selectPlatform(*m, *Platform::parse(platform));
    return d.ok() ? d->digest : d.error().message();
  };
  EXPECT_EQ(pick("linux/amd64"), digestOf('4'));
  EXPECT_EQ(pick("linux/arm64"), digestOf('2'));
  EXPECT_EQ(pick("linux/aarch64"), digestOf('2'));
  EXPECT_EQ(pick("linux/arm/v7"), digestOf('5'));
  EXPECT_EQ(pick("linux/arm/v6"), digestOf('1'));
  EXPECT_EQ(pick("linux/s390x"), "no match for platform linux/s390x in manifest list");

  // Without an exact entry, an older ARM variant or 386 on amd64 is accepted.
  Json fallback = {{"schemaVersion", 2},
                   {"manifests", {entry(digestOf('1'), "linux", "arm", "v6"), entry(digestOf('6'), "linux", "386")}}};
  auto f = parseManifest(dumpJson(fallback), "application/json");
  ASSERT_TRUE(f.ok()) << f.error().message();
  EXPECT_EQ(f->mediaType, media::kOciIndex);
  EXPECT_EQ(selectPlatform(*f, *Platform::parse("linux/arm/v7"))->digest, digestOf('1'));
  EXPECT_EQ(selectPlatform(*f, *Platform::parse("linux/amd64"))->digest, digestOf('6'));
  EXPECT_FALSE(selectPlatform(*f, *Platform::parse("linux/arm/v5")).ok());
}

TEST(ManifestTest, ParsesDockerAndOciManifests) {
  Json docker = {{"schemaVersion", 2},
                 {"mediaType", media::kDockerManifest},
                 {"config", {{"mediaType", media::kDockerConfig}, {"digest", digestOf('c')}, {"size", 10}}},
                 {"layers",
                  {{{"mediaType", media::kDockerLayerGzip}, {"digest", digestOf('a')}, {"size", 20}},
                   {{"mediaType", media::kDockerLayerGzip}, {"digest", digestOf('b')}, {"size", 30}}}}};
  auto m = parseManifest(dumpJson(docker));
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->kind, ManifestKind::kManifest);
  EXPECT_EQ(m->mediaType, media::kDockerManifest);
  EXPECT_EQ(m->config.digest, digestOf('c'));
  ASSERT_EQ(m->layers.size(), 2u);
  EXPECT_EQ(m->layers[1].size, 30);

  Json oci = docker;
  oci.erase("mediaType");
  auto o = parseManifest(dumpJson(oci), media::kOciManifest);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->mediaType, media::kOciManifest);
}

TEST(ManifestTest, RefusesSchema1AndInvalidDocuments) {
  auto s1 = parseManifest(R"({"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]})",
                          media::kDockerSchema1Signed);
  ASSERT_FALSE(s1.ok());
  EXPECT_EQ(s1.error().code(), ErrorCode::kBadRequest);
  EXPECT_NE(s1.error().message().find("schema 1"), std::string::npos) << s1.error().message();
  EXPECT_FALSE(parseManifest(R"({"schemaVersion":1,"fsLayers":[]})").ok());

  const std::string config = R"("config":{"mediaType":"x","digest":")" + digestOf('c') + R"(","size":1})";
  EXPECT_TRUE(parseManifest(R"({"schemaVersion":2,)" + config + "}", media::kOciManifest).ok());
  // Digests that could escape the blob directory, other algorithms, negative sizes.
  for (const std::string& bad :
       {std::string(R"({"schemaVersion":2,"config":{"digest":"sha256:../../etc/passwd","size":1}})"),
        std::string(R"({"schemaVersion":2,"config":{"digest":"sha512:)") + std::string(128, 'a') + R"(","size":1}})",
        std::string(R"({"schemaVersion":2,"config":{"digest":")") + digestOf('c') + R"(","size":-1}})",
        std::string(R"({"schemaVersion":2,"config":{"digest":")") + digestOf('c') + R"("}})",
        std::string(R"({"schemaVersion":2,)") + config + R"(,"layers":{}})",
        std::string("[]"), std::string("not json"),
        std::string(R"({"schemaVersion":3,)") + config + "}"}) {
    auto m = parseManifest(bad, media::kOciManifest);
    EXPECT_FALSE(m.ok()) << bad;
    if (!m.ok()) {
      EXPECT_EQ(m.error().code(), ErrorCode::kBadRequest);
    }
  }
  EXPECT_FALSE(parseManifest(R"({"schemaVersion":2})", "application/vnd.example+json").ok());
}

TEST(ManifestTest, ParsesImageConfigs) {
  auto c = parseImageConfig(R"({
    "architecture": "arm64", "variant": "v8", "os": "linux",
    "config": {"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo hi"], "Env": ["PATH=/bin", "A=b"],
               "WorkingDir": "/w", "User": "1000:1000", "ExposedPorts": {"80/tcp": {}, "53/udp": {}},
               "Volumes": {"/data": {}}, "StopSignal": "SIGQUIT", "Labels": {"a": "b"}},
    "rootfs": {"type": "layers", "diff_ids": [")" + digestOf('d') + R"("]}})");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->platform.str(), "linux/arm64");
  EXPECT_EQ(c->config.entrypoint, (std::vector<std::string>{"/bin/sh", "-c"}));
  EXPECT_EQ(c->config.cmd, std::vector<std::string>{"echo hi"});
  EXPECT_EQ(c->config.env.size(), 2u);
  EXPECT_EQ(c->config.workingDir, "/w");
  EXPECT_EQ(c->config.user, "1000:1000");
  EXPECT_EQ(c->config.exposedPorts, (std::vector<std::string>{"53/udp", "80/tcp"}));
  EXPECT_EQ(c->config.volumes, std::vector<std::string>{"/data"});
  EXPECT_EQ(c->config.stopSignal, "SIGQUIT");
  EXPECT_EQ(c->config.labels.at("a"), "b");
  EXPECT_EQ(c->diffIds, std::vector<std::string>{digestOf('d')});
  // Null sections are fine; bad diff IDs are not.
  EXPECT_TRUE(parseImageConfig(R"({"config": null, "rootfs": null})").ok());
  EXPECT_FALSE(parseImageConfig(R"({"rootfs": {"diff_ids": ["sha256:x"]}})").ok());
}

TEST(DigestTest, Sha256AndValidation) {
  EXPECT_EQ(sha256Digest(""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 h;
  h.update("a");
  h.update("bc");
  EXPECT_EQ(h.digest(), sha256Digest("abc"));
  EXPECT_TRUE(isSha256Digest(sha256Digest("x")));
  EXPECT_FALSE(isSha256Digest("sha256:" + std::string(63, 'a')));
  EXPECT_FALSE(isSha256Digest("sha256:" + std::string(64, 'g')));
  EXPECT_FALSE(checkDigest("sha256:../" + std::string(61, 'a')).ok());
  EXPECT_NE(checkDigest("sha512:" + std::string(128, 'a')).error().message().find("unsupported"),
            std::string::npos);
}

}  // namespace
}  // namespace nave::runtime
