#include <gtest/gtest.h>

#include "common/strings.h"
#include "runtime/image/registries_config.h"
#include "runtime/image/registry_client.h"

namespace nave::runtime {
namespace {

TEST(RegistriesConfigTest, MirrorsThenTheDefaultEndpoint) {
  auto config = RegistriesConfig::parse(R"yaml(
mirrors:
  docker.io:
    endpoint:
      - "http://127.0.0.1:5000"
      - "mirror.example.com/prefix/v2/"
    rewrite:
      "^library/(.*)": "mirrored/$1"
  "*":
    endpoint: ["https://catchall.example.com:8443"]
  registry.example.com:
    endpoint: ["http://registry.example.com"]
configs:
  "127.0.0.1:5000":
    auth: {username: alice, password: secret}
  mirror.example.com:
    auth: {auth: )yaml" + base64Encode("bob:p:w") + R"yaml(}
    tls: {ca_file: /ca.pem, cert_file: /c.pem, key_file: /k.pem}
  docker.io:
    auth: {identitytoken: tok}
    tls: {insecure_skip_verify: true}
)yaml");
  ASSERT_TRUE(config.ok()) << config.error().message();

  auto eps = config->endpointsFor("docker.io");
  ASSERT_EQ(eps.size(), 3u);
  EXPECT_EQ(eps[0].apiBase(), "http://127.0.0.1:5000/v2/");
  EXPECT_TRUE(eps[0].isMirror);
  ASSERT_TRUE(eps[0].auth.has_value());
  EXPECT_EQ(eps[0].auth->username, "alice");
  EXPECT_EQ(eps[0].repositoryFor("library/busybox"), "mirrored/busybox");
  EXPECT_EQ(eps[0].repositoryFor("user/app"), "user/app");

  EXPECT_EQ(eps[1].apiBase(), "https://mirror.example.com/prefix/v2/");
  ASSERT_TRUE(eps[1].auth.has_value());
  EXPECT_EQ(eps[1].auth->username, "bob");
  EXPECT_EQ(eps[1].auth->password, "p:w");
  EXPECT_EQ(eps[1].tls.caFile, "/ca.pem");
  EXPECT_EQ(eps[1].tls.keyFile, "/k.pem");

  // The default endpoint comes last, without rewrites, with the registry's own config.
  EXPECT_EQ(eps[2].apiBase(), "https://registry-1.docker.io/v2/");
  EXPECT_FALSE(eps[2].isMirror);
  EXPECT_EQ(eps[2].repositoryFor("library/busybox"), "library/busybox");
  ASSERT_TRUE(eps[2].auth.has_value());
  EXPECT_EQ(eps[2].auth->identityToken, "tok");
  EXPECT_TRUE(eps[2].tls.insecureSkipVerify);

  // "*" serves registries without their own entry.
  auto other = config->endpointsFor("quay.io");
  ASSERT_EQ(other.size(), 2u);
  EXPECT_EQ(other[0].apiBase(), "https://catchall.example.com:8443/v2/");
  EXPECT_EQ(other[1].apiBase(), "https://quay.io/v2/");

  // An endpoint that is the registry itself is its default endpoint: plain HTTP, nothing after.
  auto self = config->endpointsFor("registry.example.com");
  ASSERT_EQ(self.size(), 1u);
  EXPECT_EQ(self[0].apiBase(), "http://registry.example.com/v2/");
  EXPECT_FALSE(self[0].isMirror);
}

TEST(RegistriesConfigTest, RewritesOnlyToValidRepositories) {
  auto config = RegistriesConfig::parse(
      "mirrors: {docker.io: {endpoint: [\"http://m\"], rewrite: {\"^library/(.*)$\": \"../$1\"}}}");
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_EQ(config->endpointsFor("docker.io")[0].repositoryFor("library/busybox"), "library/busybox");
}

TEST(RegistriesConfigTest, PathologicalPatternsMatchInPolynomialTime) {
  // Stacked quantifiers made the backtracking matcher take exponential time (fuzzer finding);
  // this must return at once, and back-references are refused.
  std::string pattern = "^l" + std::string(60, '*') + "x" + std::string(60, '*') + "/(.*)";
  auto config = RegistriesConfig::parse("mirrors: {docker.io: {endpoint: [\"http://m\"], rewrite: {\"" +
                                        pattern + "\": \"m/$1\"}}}");
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_EQ(config->endpointsFor("docker.io")[0].repositoryFor(std::string(200, 'l') + "/busybox"),
            "m/busybox");
  EXPECT_EQ(config->endpointsFor("docker.io")[0].repositoryFor(std::string(200, 'l') + "y/busybox"),
            std::string(200, 'l') + "y/busybox");
  EXPECT_FALSE(RegistriesConfig::parse(
                   "mirrors: {docker.io: {endpoint: [\"http://m\"], rewrite: {\"(a)\\\\1\": \"b\"}}}")
                   .ok());
}

TEST(RegistriesConfigTest, DefaultsWithoutAFile) {
  auto config = RegistriesConfig::load("/nonexistent/registries.yaml");
  ASSERT_TRUE(config.ok());
  auto eps = config->endpointsFor("docker.io");
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_EQ(eps[0].apiBase(), "https://registry-1.docker.io/v2/");
  EXPECT_FALSE(eps[0].httpFallback);
  // Loopback registries: TLS first, plain HTTP when the registry does not speak it.
  auto local = config->endpointsFor("127.0.0.1:5000");
  ASSERT_EQ(local.size(), 1u);
  EXPECT_TRUE(local[0].httpFallback);
  EXPECT_TRUE(config->endpointsFor("localhost:5000")[0].httpFallback);
  EXPECT_FALSE(config->endpointsFor("example.com:5000")[0].httpFallback);
  EXPECT_TRUE(RegistriesConfig::parse("").ok());
}

TEST(RegistriesConfigTest, RefusesInvalidDocuments) {
  for (const char* bad : {
           "mirrors: []",
           "mirrors: {docker.io: {endpoint: 5}}",
           "mirrors: {docker.io: {endpoint: [\"ftp://x\"]}}",
           "mirrors: {docker.io: {rewrite: {\"(\": \"x\"}}}",
           "configs: {x: {auth: {auth: \"!!notbase64\"}}}",
           "configs: {x: {auth: {auth: \"bm9jb2xvbg==\"}}}",  // "nocolon"
           "configs: {x: {tls: {cert_file: /c.pem}}}",
           "[1, 2]",
       }) {
    auto c = RegistriesConfig::parse(bad);
    EXPECT_FALSE(c.ok()) << bad;
    if (!c.ok()) {
      EXPECT_EQ(c.error().code(), ErrorCode::kBadRequest) << bad;
    }
  }
}

TEST(RegistriesConfigTest, NormalisesRegistryKeys) {
  EXPECT_EQ(normalizeRegistryHost("https://index.docker.io/v1/"), "docker.io");
  EXPECT_EQ(normalizeRegistryHost("registry-1.docker.io"), "docker.io");
  EXPECT_EQ(normalizeRegistryHost("http://127.0.0.1:5000"), "127.0.0.1:5000");
  EXPECT_EQ(normalizeRegistryHost("Quay.IO"), "quay.io");
}

TEST(AuthChallengeTest, ParsesChallenges) {
  auto c = parseAuthChallenges(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push")");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].scheme, "bearer");
  EXPECT_EQ(c[0].params["realm"], "https://auth.docker.io/token");
  EXPECT_EQ(c[0].params["service"], "registry.docker.io");
  EXPECT_EQ(c[0].params["scope"], "repository:library/busybox:pull,push");

  auto two = parseAuthChallenges(R"(Basic realm="Registry Realm", Bearer realm=x, error="a\"b")");
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].scheme, "basic");
  EXPECT_EQ(two[0].params["realm"], "Registry Realm");
  EXPECT_EQ(two[1].params["realm"], "x");
  EXPECT_EQ(two[1].params["error"], "a\"b");
  EXPECT_TRUE(parseAuthChallenges("").empty());
}

}  // namespace
}  // namespace nave::runtime
