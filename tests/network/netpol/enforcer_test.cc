// The agent's part on a real API stack (in-process client, shared informers) in a test network
// namespace: objects written through the API reach the table inet nave-netpol there, as `nft
// list` shows it, and uninstall() removes it.
#include "network/netpol/network_policy.h"

#include <gtest/gtest.h>

#include "network/netlink/netns.h"
#include "tests/network/netns_fixture.h"
#include "tests/server/controllers/controller_fixture.h"

namespace nave::network::netpol {
namespace {

using network::testing::TestNetns;

const client::Resource kPods{"", "v1", "pods"};
const client::Resource kPolicies{"networking.k8s.io", "v1", "networkpolicies"};

class EnforcerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NAVE_REQUIRE_NETNS();
    node_ = TestNetns::create("node");
    ASSERT_TRUE(node_);
  }

  void createPod(const std::string& name, const std::string& labels, const std::string& ip) {
    auto created = api_.client().create(
        kPods, "default",
        Json::parse(R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": ")" + name +
                    R"(", "labels": )" + labels + R"(}, "spec": {"nodeName": "node",
          "containers": [{"name": "c", "image": "busybox"}]}})"));
    ASSERT_TRUE(created.ok()) << created.error().message();
    setStatus(name, R"({"status": {"phase": "Running", "podIP": ")" + ip + R"("}})");
  }

  void setStatus(const std::string& name, const std::string& patch) {
    auto r =
        api_.client().patch(kPods, "default", name, api::PatchType::kMerge, patch, {}, "status");
    ASSERT_TRUE(r.ok()) << r.error().message();
  }

  std::string list() { return node_->exec("nft list table inet nave-netpol").second; }

  bool waitForTable(const std::function<bool(const std::string&)>& done) {
    return nave::testing::waitFor([&] { return done(list()); });
  }

  std::unique_ptr<TestNetns> node_;
  nave::testing::ApiFixture api_;
};

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

TEST_F(EnforcerTest, FollowsTheApiIntoTheTable) {
  ASSERT_EQ(node_->exec("sh -c 'echo 0 > /proc/sys/net/bridge/bridge-nf-call-iptables'").first, 0);
  createPod("server", R"({"app": "server"})", "10.77.0.10");
  createPod("client", R"({"app": "client"})", "10.77.0.11");
  auto policy = api_.client().create(kPolicies, "default", Json::parse(R"({
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "allow"},
    "spec": {"podSelector": {"matchLabels": {"app": "server"}},
             "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "a"}}}]}]}})"));
  ASSERT_TRUE(policy.ok()) << policy.error().message();

  controllers::InformerFactory informers(api_.client());
  auto started = node_->run([&] { return NetworkPolicyEnforcer::start(informers, {"node"}); });
  ASSERT_TRUE(started.ok()) << started.error().message();
  std::unique_ptr<NetworkPolicyEnforcer> enforcer = std::move(started).value();
  informers.start();
  EXPECT_EQ(*node_->run([] { return readSysctl("net/bridge/bridge-nf-call-iptables"); }), "1");

  // What existed before the start: the server is isolated, no peer yet.
  ASSERT_TRUE(waitForTable([](const std::string& t) { return has(t, "10.77.0.10 : goto in-"); }))
      << list();
  std::string table = list();
  EXPECT_TRUE(has(table, "set in_default/allow_0 {")) << table;
  EXPECT_FALSE(has(table, "10.77.0.11")) << table;

  // The client gets the peer's label: it joins the peer set.
  auto labelled = api_.client().patch(kPods, "default", "client", api::PatchType::kMerge,
                                      R"({"metadata": {"labels": {"role": "a"}}})");
  ASSERT_TRUE(labelled.ok()) << labelled.error().message();
  ASSERT_TRUE(waitForTable([](const std::string& t) {
    return has(t, "elements = { 10.77.0.11 }");
  })) << list();

  // A finished pod leaves it (its address may be given to another pod).
  setStatus("client", R"({"status": {"phase": "Succeeded"}})");
  ASSERT_TRUE(waitForTable([](const std::string& t) { return !has(t, "10.77.0.11"); })) << list();

  // Without the policy nothing is isolated.
  ASSERT_TRUE(api_.client().remove(kPolicies, "default", "allow").ok());
  ASSERT_TRUE(waitForTable([](const std::string& t) {
    return has(t, "chain ingress") && !has(t, "goto") && !has(t, "set in_");
  })) << list();

  auto removed = enforcer->uninstall();
  ASSERT_TRUE(removed.ok()) << removed.error().message();
  EXPECT_NE(node_->exec("nft list table inet nave-netpol").first, 0);
  informers.stop();
}

}  // namespace
}  // namespace nave::network::netpol
