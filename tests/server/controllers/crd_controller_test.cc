// The CRD controller on a real API stack: CRDs become served resource types, their custom
// resources are validated, defaulted, served in every version, scaled and deleted with them.
#include "server/controllers/crd_controller.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <thread>

#include "common/log.h"
#include "server/crd/crd_types.h"
#include "tests/server/api_fixture.h"
#include "tests/server/crd/test_crds.h"

namespace nave::controllers {
namespace {

using client::Resource;

const Resource kCrds = client::kCustomResourceDefinitions;
const Resource kCronTabsV1{"stable.example.com", "v1", "crontabs"};
const Resource kCronTabsV1beta1{"stable.example.com", "v1beta1", "crontabs"};

bool waitFor(const std::function<bool()>& done,
             std::chrono::seconds timeout = std::chrono::seconds(15)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

const Json* condition(const Json& crd, std::string_view type) {
  const Json* status = findMember(crd, "status");
  const Json* conditions = status ? findMember(*status, "conditions") : nullptr;
  if (conditions == nullptr || !conditions->is_array()) return nullptr;
  for (const Json& c : *conditions)
    if (getString(c, "type") == type) return &c;
  return nullptr;
}

bool conditionIs(client::Client& c, const std::string& crd, std::string_view type,
                 std::string_view status) {
  auto got = c.get(kCrds, "", crd);
  if (!got.ok()) return false;
  const Json* cond = condition(*got, type);
  return cond != nullptr && getString(*cond, "status") == status;
}

Json cronTab(const std::string& name, Json spec) {
  return {{"apiVersion", "stable.example.com/v1"},
          {"kind", "CronTab"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec", std::move(spec)}};
}

class CrdControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* v = std::getenv("NAVE_TEST_V")) log::setVerbosity(std::atoi(v));
    auto started = CrdController::start(fx_.client(), fx_.types());
    ASSERT_TRUE(started.ok()) << started.error().message();
    controller_ = std::move(*started);
  }
  void TearDown() override {
    if (controller_) controller_->stop();
  }

  void createCronTabCrd() {
    auto created = fx_.client().create(kCrds, "", crd::testing::cronTabCrd());
    ASSERT_TRUE(created.ok()) << created.error().message();
    ASSERT_TRUE(waitFor([&] {
      return conditionIs(fx_.client(), "crontabs.stable.example.com", "Established", "True");
    }));
  }

  testing::ApiFixture fx_;
  std::unique_ptr<CrdController> controller_;
};

TEST_F(CrdControllerTest, EstablishesAndServesCustomResources) {
  createCronTabCrd();
  auto crdObj = fx_.client().get(kCrds, "", "crontabs.stable.example.com");
  ASSERT_TRUE(crdObj.ok());
  const Json* names = condition(*crdObj, "NamesAccepted");
  ASSERT_NE(names, nullptr);
  EXPECT_EQ(getString(*names, "reason"), "NoConflicts");
  EXPECT_EQ(getString(*condition(*crdObj, "Established"), "reason"), "InitialNamesAccepted");
  EXPECT_EQ((*crdObj)["status"]["acceptedNames"]["kind"], "CronTab");
  EXPECT_EQ((*crdObj)["status"]["acceptedNames"]["shortNames"], Json::array({"ct"}));
  EXPECT_EQ((*crdObj)["status"]["storedVersions"], Json::array({"v1"}));
  ASSERT_TRUE(fx_.types().find("stable.example.com", "v1", "crontabs"));
  ASSERT_TRUE(fx_.types().find("stable.example.com", "v1beta1", "crontabs"));

  // Create: defaults applied, generation 1, status dropped (status subresource).
  Json obj = cronTab("c1", {{"cronSpec", "* * * * */5"}});
  obj["status"] = {{"replicas", 9}};
  auto created = fx_.client().create(kCronTabsV1, "default", obj);
  ASSERT_TRUE(created.ok()) << created.error().message();
  EXPECT_EQ((*created)["spec"]["replicas"], 1);
  EXPECT_EQ((*created)["spec"]["color"], "red");
  EXPECT_EQ((*created)["metadata"]["generation"], 1);
  EXPECT_FALSE(created->contains("status"));

  // Served in the other version from the same storage.
  auto beta = fx_.client().get(kCronTabsV1beta1, "default", "c1");
  ASSERT_TRUE(beta.ok()) << beta.error().message();
  EXPECT_EQ((*beta)["apiVersion"], "stable.example.com/v1beta1");
  EXPECT_EQ((*beta)["spec"]["cronSpec"], "* * * * */5");
  auto listed = fx_.client().list(kCronTabsV1beta1, "default");
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ((*listed)["items"].size(), 1u);

  // Invalid objects get Kubernetes' messages.
  auto invalid = fx_.client().create(kCronTabsV1, "default",
                                     cronTab("bad", {{"cronSpec", "* * * * *"}, {"replicas", 20}}));
  ASSERT_FALSE(invalid.ok());
  EXPECT_TRUE(invalid.error().is(ErrorCode::kInvalid));
  EXPECT_EQ(invalid.error().message(),
            "CronTab.stable.example.com \"bad\" is invalid: spec.replicas: Invalid value: 20: "
            "spec.replicas in body should be less than or equal to 10");
  auto missing = fx_.client().create(kCronTabsV1, "default", cronTab("bad", {{"image", "x"}}));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message(),
            "CronTab.stable.example.com \"bad\" is invalid: spec.cronSpec: Required value");

  // Patch: a spec change is a new generation.
  auto patched = fx_.client().patch(kCronTabsV1, "default", "c1", api::PatchType::kMerge,
                                    R"({"spec": {"image": "nginx"}})");
  ASSERT_TRUE(patched.ok()) << patched.error().message();
  EXPECT_EQ((*patched)["spec"]["image"], "nginx");
  EXPECT_EQ((*patched)["metadata"]["generation"], 2);

  // Status through the subresource: no new generation.
  Json withStatus = *patched;
  withStatus["status"] = {{"replicas", 1}, {"selector", "app=cron"}};
  auto status = fx_.client().update(kCronTabsV1, "default", withStatus, {}, "status");
  ASSERT_TRUE(status.ok()) << status.error().message();
  EXPECT_EQ((*status)["status"]["replicas"], 1);
  EXPECT_EQ((*status)["metadata"]["generation"], 2);

  // Scale.
  auto scale = fx_.client().get(kCronTabsV1, "default", "c1", "scale");
  ASSERT_TRUE(scale.ok()) << scale.error().message();
  EXPECT_EQ((*scale)["kind"], "Scale");
  EXPECT_EQ((*scale)["spec"]["replicas"], 1);
  Json newScale = *scale;
  newScale["spec"]["replicas"] = 3;
  auto scaled = fx_.client().update(kCronTabsV1, "default", newScale, {}, "scale");
  ASSERT_TRUE(scaled.ok()) << scaled.error().message();
  auto after = fx_.client().get(kCronTabsV1, "default", "c1");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)["spec"]["replicas"], 3);

  // Field selectors on selectableFields.
  api::ListOptions byColor;
  byColor.fieldSelector = "spec.color=red";
  auto red = fx_.client().list(kCronTabsV1, "default", byColor);
  ASSERT_TRUE(red.ok()) << red.error().message();
  EXPECT_EQ((*red)["items"].size(), 1u);
  byColor.fieldSelector = "spec.color=blue";
  EXPECT_EQ((*fx_.client().list(kCronTabsV1, "default", byColor))["items"].size(), 0u);
}

TEST_F(CrdControllerTest, TypeErrorsAreValidationErrors) {
  createCronTabCrd();
  auto typed = fx_.client().create(
      kCronTabsV1, "default", cronTab("typed", {{"cronSpec", "* * * * *"}, {"replicas", "two"}}));
  ASSERT_FALSE(typed.ok());
  EXPECT_EQ(typed.error().code(), ErrorCode::kInvalid);
  // The schema's type error, and (the CRD has a scale subresource) the replicas accessor's, as
  // Kubernetes reports both.
  EXPECT_NE(typed.error().message().find(
                "CronTab.stable.example.com \"typed\" is invalid: [spec.replicas: Invalid value: "
                "\"string\": spec.replicas in body must be of type integer: \"string\""),
            std::string::npos)
      << typed.error().message();
  EXPECT_NE(typed.error().message().find(".spec.replicas accessor error"), std::string::npos);
}

TEST_F(CrdControllerTest, DeletingTheCrdDeletesItsResources) {
  createCronTabCrd();
  for (const char* name : {"a", "b"})
    ASSERT_TRUE(fx_.client()
                    .create(kCronTabsV1, "default", cronTab(name, {{"cronSpec", "* * * * *"}}))
                    .ok());
  ASSERT_TRUE(fx_.client()
                  .create(kCronTabsV1, "other",
                          [] {
                            Json o = cronTab("c", {{"cronSpec", "* * * * *"}});
                            o["metadata"]["namespace"] = "other";
                            return o;
                          }())
                  .ok());
  auto deleted = fx_.client().remove(kCrds, "", "crontabs.stable.example.com");
  ASSERT_TRUE(deleted.ok()) << deleted.error().message();
  EXPECT_NE((*deleted)["metadata"]["finalizers"].dump().find(crd::kCleanupFinalizer),
            std::string::npos);
  EXPECT_TRUE(waitFor([&] {
    auto got = fx_.client().get(kCrds, "", "crontabs.stable.example.com");
    return !got.ok() && got.error().is(ErrorCode::kNotFound);
  }));
  EXPECT_TRUE(waitFor([&] { return !fx_.types().find("stable.example.com", "v1", "crontabs"); }));
  EXPECT_FALSE(fx_.types().find("stable.example.com", "v1beta1", "crontabs"));
  // Nothing of the resource is left in storage.
  storage::ListOptions all;
  all.prefix = "/registry/stable.example.com/crontabs/";
  auto left = fx_.store().list(all);
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->items.empty());
}

TEST_F(CrdControllerTest, NameConflictsAreNotAccepted) {
  auto makeCrd = [](const std::string& plural, const std::string& kind) {
    return Json{
        {"apiVersion", "apiextensions.k8s.io/v1"},
        {"kind", "CustomResourceDefinition"},
        {"metadata", {{"name", plural + ".example.org"}}},
        {"spec",
         {{"group", "example.org"},
          {"scope", "Cluster"},
          {"names", {{"plural", plural}, {"kind", kind}, {"listKind", kind + plural}}},
          {"versions",
           {{{"name", "v1"},
             {"served", true},
             {"storage", true},
             {"schema",
              {{"openAPIV3Schema",
                {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}}}}}}}}};
  };
  ASSERT_TRUE(fx_.client().create(kCrds, "", makeCrd("foos", "Foo")).ok());
  ASSERT_TRUE(waitFor(
      [&] { return conditionIs(fx_.client(), "foos.example.org", "Established", "True"); }));
  ASSERT_TRUE(fx_.client().create(kCrds, "", makeCrd("bars", "Foo")).ok());
  ASSERT_TRUE(waitFor(
      [&] { return conditionIs(fx_.client(), "bars.example.org", "NamesAccepted", "False"); }));
  auto bars = fx_.client().get(kCrds, "", "bars.example.org");
  ASSERT_TRUE(bars.ok());
  EXPECT_EQ(getString(*condition(*bars, "NamesAccepted"), "reason"), "KindConflict");
  EXPECT_EQ(getString(*condition(*bars, "NamesAccepted"), "message"), "\"Foo\" is already in use");
  EXPECT_EQ(getString(*condition(*bars, "Established"), "status"), "False");
  EXPECT_EQ(getString(*condition(*bars, "Established"), "reason"), "NotAccepted");
  EXPECT_FALSE(fx_.types().find("example.org", "v1", "bars"));

  // Once foos is gone its kind is free.
  ASSERT_TRUE(fx_.client().remove(kCrds, "", "foos.example.org").ok());
  EXPECT_TRUE(waitFor(
      [&] { return conditionIs(fx_.client(), "bars.example.org", "Established", "True"); }));
  EXPECT_TRUE(fx_.types().find("example.org", "v1", "bars"));
  EXPECT_FALSE(fx_.types().find("example.org", "v1", "foos"));
}

TEST_F(CrdControllerTest, RestartServesEstablishedCrdsAtOnce) {
  createCronTabCrd();
  ASSERT_TRUE(fx_.client()
                  .create(kCronTabsV1, "default", cronTab("kept", {{"cronSpec", "* * * * *"}}))
                  .ok());
  controller_->stop();
  controller_.reset();

  // A new API server over the same storage.
  registry::TypeRegistry types;
  registry::registerBuiltinTypes(types, {});
  api::ResourceApi api(fx_.store(), fx_.cache(), types);
  auto c = client::newInProcessClient(api, "system:admin", {"system:masters"}, "test");
  auto restarted = CrdController::start(*c, types);
  ASSERT_TRUE(restarted.ok()) << restarted.error().message();
  ASSERT_TRUE(types.find("stable.example.com", "v1", "crontabs"));  // before any reconcile
  auto kept = c->get(kCronTabsV1, "default", "kept");
  EXPECT_TRUE(kept.ok()) << kept.error().message();
  auto crdType = types.find("apiextensions.k8s.io", "v1", "customresourcedefinitions");
  ASSERT_TRUE(crdType);
  EXPECT_EQ(crdType->deletionFinalizer, crd::kCleanupFinalizer);
  (*restarted)->stop();
}

}  // namespace
}  // namespace nave::controllers
