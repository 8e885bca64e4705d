#include "server/join_service.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "common/strings.h"

namespace nave {
namespace {

struct Captured : http::ResponseWriter {
  int status = 0;
  std::string body;
  void send(int s, const std::vector<http::Header>&, std::string_view b) override {
    status = s;
    body = b;
  }
  bool startStream(int, const std::vector<http::Header>&) override { return false; }
  bool write(std::string_view) override { return false; }
  void end() override {}
  Wake wait(int, int) override { return Wake::kClientGone; }
  std::unique_ptr<http::Stream> upgrade(int, const std::vector<http::Header>&) override { return nullptr; }
  bool responded() const override { return status != 0; }
};

class JoinServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nave-join-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    pki_ = std::move(*pki::ensureServerPki(dir_, {"localhost"}));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Captured get(JoinService& s, const std::string& path, const std::string& password,
               const std::string& node = "node-b") {
    http::Request r;
    r.method = "GET";
    r.path = path;
    if (!password.empty()) r.headers.push_back({"Authorization", "Basic " + base64Encode("node:" + password)});
    r.headers.push_back({"Nave-Node-Name", node});
    r.headers.push_back({"Nave-Node-IP", "10.0.0.2"});
    Captured c;
    EXPECT_TRUE(s.handle(r, c)) << path;
    return c;
  }

  std::string dir_;
  pki::ServerPki pki_;
};

TEST_F(JoinServiceTest, ParsesBareAndSecureTokens) {
  auto bare = parseClusterToken("s3cret\n");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->secret, "s3cret");
  EXPECT_EQ(bare->caHash, "");
  std::string secure = secureToken(pki_.ca.certPem, "abc");
  auto parsed = parseClusterToken(secure);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->secret, "abc");
  EXPECT_EQ(parsed->caHash, sha256Hex(pki_.ca.certPem));
  EXPECT_FALSE(parseClusterToken("").ok());
  EXPECT_FALSE(parseClusterToken("K10abc::server:x").ok());  // not a sha256
  EXPECT_FALSE(parseClusterToken("K10" + std::string(64, 'a')).ok());
  EXPECT_FALSE(parseClusterToken("K10" + std::string(64, 'a') + "::server:").ok());
}

TEST_F(JoinServiceTest, TokenFileKeepsTheSecretAndPinsTheCa) {
  auto first = ensureClusterToken(dir_, "", pki_.ca.certPem);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->size(), 32u);
  std::ifstream in(dir_ + "/token");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, secureToken(pki_.ca.certPem, *first));
  auto again = ensureClusterToken(dir_, "", pki_.ca.certPem);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *first);  // stable across restarts
  auto given = ensureClusterToken(dir_, "mine", pki_.ca.certPem);
  ASSERT_TRUE(given.ok());
  EXPECT_EQ(*given, "mine");
  EXPECT_FALSE(ensureClusterToken(dir_, "K10" + std::string(64, 'a') + "::server:x", pki_.ca.certPem).ok());
}

TEST_F(JoinServiceTest, IssuesNodeCredentialsOnlyForTheToken) {
  JoinService s(pki_.ca, "secret", Json{{"clusterCidr", "10.42.0.0/16"}});
  Captured ca = get(s, "/cacerts", "");
  EXPECT_EQ(ca.status, 200);
  EXPECT_EQ(ca.body, pki_.ca.certPem);
  EXPECT_EQ(get(s, "/v1-nave/client-kubelet.crt", "").status, 401);
  EXPECT_EQ(get(s, "/v1-nave/client-kubelet.crt", "wrong").status, 401);
  Captured client = get(s, "/v1-nave/client-kubelet.crt", "secret");
  ASSERT_EQ(client.status, 200);
  EXPECT_NE(client.body.find("-----BEGIN CERTIFICATE-----"), std::string::npos);
  EXPECT_NE(client.body.find("PRIVATE KEY-----"), std::string::npos);
  EXPECT_EQ(get(s, "/v1-nave/serving-kubelet.crt", "secret").status, 200);
  EXPECT_EQ(get(s, "/v1-nave/serving-kubelet.crt", "secret", "Bad_Name").status, 400);
  Captured config = get(s, "/v1-nave/config", "secret");
  EXPECT_EQ(config.status, 200);
  EXPECT_NE(config.body.find("10.42.0.0/16"), std::string::npos);
  EXPECT_EQ(get(s, "/v1-nave/other", "secret").status, 404);
  http::Request api;
  api.method = "GET";
  api.path = "/api/v1/nodes";
  Captured untouched;
  EXPECT_FALSE(s.handle(api, untouched));
}

}  // namespace
}  // namespace nave
