// The in-process and the remote (HTTPS) clients must behave the same: the same results, the same
// error codes and messages, the same watch events. Each scenario runs against both.
#include <gtest/gtest.h>
#include <poll.h>

#include "server/api/discovery.h"
#include "server/api/http_api.h"
#include "server/api/openapi.h"
#include "server/client/remote_client.h"
#include "server/http/http_server.h"
#include "server/pki/pki.h"
#include "tests/server/api_fixture.h"

namespace nave::testing {
namespace {

class ClientParity : public ::testing::Test {
 protected:
  void SetUp() override {
    pki::ServerPki tls = *pki::ensureServerPki(f_.dir() + "/tls", {"localhost", "127.0.0.1"});
    discovery_ = std::make_unique<api::Discovery>(f_.types(), "127.0.0.1:0");
    openapi_ = std::make_unique<api::OpenApi>(f_.types());
    httpApi_ = std::make_unique<api::HttpApi>(f_.api(), *discovery_, *openapi_);
    httpApi_->setReady(true);
    http::ServerOptions o;
    o.bindAddress = "127.0.0.1";
    o.port = 0;
    o.certPem = tls.serving.certPem;
    o.keyPem = tls.serving.keyPem;
    o.clientCaPem = tls.ca.certPem;
    auto* h = httpApi_.get();
    server_ = std::move(*http::HttpServer::start(o, [h](http::Request& rq, http::ResponseWriter& rs) { h->handle(rq, rs); }));
    client::RemoteOptions ro;
    ro.serverUrl = "https://127.0.0.1:" + std::to_string(server_->port());
    ro.caPem = tls.ca.certPem;
    ro.certPem = tls.adminClient.certPem;
    ro.keyPem = tls.adminClient.keyPem;
    ro.userAgent = "test";
    remote_ = std::move(*client::newRemoteClient(ro));
    anonymousOptions_ = ro;
    anonymousOptions_.certPem.clear();
    anonymousOptions_.keyPem.clear();
  }
  void TearDown() override {
    remote_.reset();
    server_->stop();
  }

  std::vector<client::Client*> clients() { return {&f_.client(), remote_.get()}; }

  ApiFixture f_;
  std::unique_ptr<api::Discovery> discovery_;
  std::unique_ptr<api::OpenApi> openapi_;
  std::unique_ptr<api::HttpApi> httpApi_;
  std::unique_ptr<http::HttpServer> server_;
  std::unique_ptr<client::Client> remote_;
  client::RemoteOptions anonymousOptions_;
};

TEST_F(ClientParity, SameResultsAndErrors) {
  int i = 0;
  std::vector<std::string> messages;
  for (client::Client* c : clients()) {
    std::string name = "cm-" + std::to_string(i++);
    auto created = c->create(kConfigMaps, "default", configMap(name));
    ASSERT_TRUE(created.ok()) << created.error().message();
    EXPECT_EQ((*created)["metadata"]["name"], name);
    auto dup = c->create(kConfigMaps, "default", configMap(name));
    ASSERT_FALSE(dup.ok());
    EXPECT_EQ(dup.error().code(), ErrorCode::kAlreadyExists);
    auto missing = c->get(kConfigMaps, "default", "nope");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
    messages.push_back(missing.error().message());
    Json stale = *created;
    ASSERT_TRUE(c->patch(kConfigMaps, "default", name, api::PatchType::kMerge, R"({"data":{"x":"1"}})").ok());
    auto conflict = c->update(kConfigMaps, "default", stale);
    ASSERT_FALSE(conflict.ok());
    EXPECT_EQ(conflict.error().code(), ErrorCode::kConflict);
    messages.push_back(conflict.error().message());
    auto invalid = c->create(kConfigMaps, "default", configMap("Not_Valid"));
    ASSERT_FALSE(invalid.ok());
    EXPECT_EQ(invalid.error().code(), ErrorCode::kInvalid);
    ASSERT_FALSE(invalid.error().causes.empty());
    EXPECT_EQ(invalid.error().causes[0].field, "metadata.name");
    messages.push_back(invalid.error().message());
    api::ListOptions o;
    o.fieldSelector = "metadata.name=" + name;
    auto listed = c->list(kConfigMaps, "default", o);
    ASSERT_TRUE(listed.ok());
    EXPECT_EQ((*listed)["items"].size(), 1u);
    EXPECT_EQ((*listed)["kind"], "ConfigMapList");
    auto removed = c->remove(kConfigMaps, "default", name);
    ASSERT_TRUE(removed.ok()) << removed.error().message();
  }
  // Both clients saw identical messages (apart from the object names used).
  ASSERT_EQ(messages.size(), 6u);
  EXPECT_EQ(messages[0], messages[3]);
  EXPECT_EQ(messages[2], messages[5]);
}

TEST_F(ClientParity, SameWatchEvents) {
  std::vector<std::vector<std::string>> seen;
  for (client::Client* c : clients()) {
    std::string rv = (*c->list(kConfigMaps, "other"))["metadata"]["resourceVersion"];
    api::ListOptions o;
    o.resourceVersion = rv;
    auto w = c->watch(kConfigMaps, "other", o);
    ASSERT_TRUE(w.ok());
    std::string name = "w" + std::to_string(seen.size());
    ASSERT_TRUE(f_.client().create(kConfigMaps, "other", configMap(name, "other")).ok());
    ASSERT_TRUE(f_.client().patch(kConfigMaps, "other", name, api::PatchType::kMerge, R"({"data":{"a":"b"}})").ok());
    ASSERT_TRUE(f_.client().remove(kConfigMaps, "other", name).ok());
    std::vector<client::WatchEvent> events;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (events.size() < 3 && std::chrono::steady_clock::now() < deadline) {
      pollfd p{(*w)->fd(), POLLIN, 0};
      ::poll(&p, 1, 100);
      (*w)->next(events);
    }
    std::vector<std::string> types;
    for (auto& e : events) types.push_back(e.type);
    seen.push_back(types);
  }
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], (std::vector<std::string>{"ADDED", "MODIFIED", "DELETED"}));
  EXPECT_EQ(seen[0], seen[1]);
}

TEST_F(ClientParity, AnonymousRequestsToResourcesAreUnauthorized) {
  auto anon = std::move(*client::newRemoteClient(anonymousOptions_));
  auto r = anon->list(kConfigMaps, "default");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnauthorized);
}

}  // namespace
}  // namespace nave::testing
