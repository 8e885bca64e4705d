// The garbage collector on a real API stack: background, foreground and orphan propagation,
// dangling and partly dangling owner references.
#include "server/controllers/core/garbage_collector.h"

#include <gtest/gtest.h>

#include "common/log.h"
#include "tests/server/controllers/controller_fixture.h"

namespace nave::controllers {
namespace {

using testing::waitFor;

const client::Resource kConfigMaps{"", "v1", "configmaps"};

class GarbageCollectorTest : public ::testing::Test, public testing::ControllerFixture {
 protected:
  void SetUp() override {
    log::setVerbosity(0);
    run<GarbageCollector>();
  }

  // A ConfigMap owned by `owners` (objects), blocking their deletion when `block`.
  Json make(const std::string& name, const std::vector<Json>& owners = {}, bool block = true) {
    Json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}};
    for (const Json& o : owners) {
      cm["metadata"]["ownerReferences"].push_back(
          {{"apiVersion", "v1"},
           {"kind", "ConfigMap"},
           {"name", o["metadata"]["name"]},
           {"uid", o["metadata"]["uid"]},
           {"blockOwnerDeletion", block}});
    }
    auto r = client().create(kConfigMaps, "default", cm);
    EXPECT_TRUE(r.ok()) << r.error().message();
    return r.ok() ? *r : Json();
  }
  bool gone(const std::string& name) {
    auto r = client().get(kConfigMaps, "default", name);
    return !r.ok() && r.error().is(ErrorCode::kNotFound);
  }
  Result<void> remove(const std::string& name, const std::string& policy) {
    api::DeleteOptions o;
    o.propagationPolicy = policy;
    auto r = client().remove(kConfigMaps, "default", name, o);
    if (!r.ok()) return std::move(r).error();
    return {};
  }
};

TEST_F(GarbageCollectorTest, BackgroundDeletesDependentsAfterTheOwner) {
  Json owner = make("owner");
  make("child", {owner});
  Json child = *client().get(kConfigMaps, "default", "child");
  make("grandchild", {child});
  ASSERT_TRUE(remove("owner", "Background").ok());
  EXPECT_TRUE(gone("owner"));
  EXPECT_TRUE(waitFor([&] { return gone("child") && gone("grandchild"); }));
}

TEST_F(GarbageCollectorTest, ForegroundDeletesDependentsBeforeTheOwner) {
  Json owner = make("owner");
  make("child", {owner});
  Json child = *client().get(kConfigMaps, "default", "child");
  make("grandchild", {child});
  ASSERT_TRUE(remove("owner", "Foreground").ok());
  // The owner waits (deletionTimestamp, foregroundDeletion finalizer) for its dependents.
  auto waiting = client().get(kConfigMaps, "default", "owner");
  if (waiting.ok()) {
    EXPECT_TRUE(waiting->at("metadata").contains("deletionTimestamp"));
  }
  EXPECT_TRUE(waitFor([&] { return gone("grandchild") && gone("child") && gone("owner"); }))
      << "left: " << (gone("grandchild") ? "" : "grandchild ") << (gone("child") ? "" : "child ")
      << (gone("owner") ? "" : "owner");
}

TEST_F(GarbageCollectorTest, OrphanKeepsDependentsWithoutTheReference) {
  Json owner = make("owner");
  make("child", {owner});
  ASSERT_TRUE(remove("owner", "Orphan").ok());
  EXPECT_TRUE(waitFor([&] { return gone("owner"); }));
  auto child = client().get(kConfigMaps, "default", "child");
  ASSERT_TRUE(child.ok());
  EXPECT_FALSE(child->at("metadata").contains("ownerReferences"));
}

TEST_F(GarbageCollectorTest, DanglingAndPartlyDanglingReferences) {
  Json alive = make("alive");
  Json ghost = {{"metadata", {{"name", "ghost"}, {"uid", "00000000-0000-4000-8000-000000000000"}}}};
  make("orphan", {ghost});
  make("shared", {alive, ghost});
  EXPECT_TRUE(waitFor([&] { return gone("orphan"); })) << "an object whose only owner never existed";
  EXPECT_TRUE(waitFor([&] {
    auto s = client().get(kConfigMaps, "default", "shared");
    return s.ok() && s->at("metadata")["ownerReferences"].size() == 1;
  })) << "the reference to the missing owner goes, the object stays";
  EXPECT_FALSE(gone("shared"));
}

}  // namespace
}  // namespace nave::controllers
