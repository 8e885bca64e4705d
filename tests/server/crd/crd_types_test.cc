#include "server/crd/crd_types.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "server/registry/builtin_types.h"
#include "tests/server/crd/test_crds.h"

namespace nave::crd {
namespace {

using registry::ResourceTypePtr;

std::vector<std::string> lines(const validation::FieldErrors& errs) {
  std::vector<std::string> out;
  for (const auto& e : errs.errors()) out.push_back(e.toString());
  return out;
}

std::vector<ResourceTypePtr> types(const Json& crd) {
  auto r = typesForCrd(crd);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  return r.ok() ? *r : std::vector<ResourceTypePtr>{};
}

TEST(CrdTypes, OneTypePerServedVersionPreferredFirst) {
  auto ts = types(testing::cronTabCrd());
  ASSERT_EQ(ts.size(), 2u);
  const auto& v1 = *ts[0];
  EXPECT_EQ(v1.version, "v1");
  EXPECT_EQ(ts[1]->version, "v1beta1");
  EXPECT_EQ(v1.group, "stable.example.com");
  EXPECT_EQ(v1.kind, "CronTab");
  EXPECT_EQ(v1.plural, "crontabs");
  EXPECT_EQ(v1.singular, "crontab");
  EXPECT_TRUE(v1.namespaced);
  EXPECT_EQ(v1.shortNames, std::vector<std::string>{"ct"});
  EXPECT_EQ(v1.categories, std::vector<std::string>{"all"});
  EXPECT_TRUE(v1.isCustomResource);
  EXPECT_TRUE(v1.tracksGeneration);
  EXPECT_TRUE(v1.statusSubresource);
  ASSERT_TRUE(v1.scale.has_value());
  EXPECT_EQ(v1.scale->specReplicasPath, ".spec.replicas");
  EXPECT_EQ(v1.scale->labelSelectorPath, ".status.selector");
  EXPECT_EQ(v1.selectableFields, std::vector<std::string>{"spec.color"});
  EXPECT_EQ(v1.schemas, nullptr);
  ASSERT_NE(v1.schema, nullptr);
  EXPECT_EQ(v1.schema, v1.ownedSchema.get());
  ASSERT_NE(v1.ownedPrinter, nullptr);
  EXPECT_EQ(v1.ownedPrinter->columns.size(), 5u);
  for (const auto& t : ts) {
    EXPECT_EQ(t->storageGroup, "stable.example.com");
    EXPECT_EQ(t->storagePlural, "crontabs");
    EXPECT_EQ(t->storageVersion, "v1");
    EXPECT_EQ(t->keyPrefix(), "/registry/stable.example.com/crontabs/");
  }
  const auto& beta = *ts[1];
  EXPECT_FALSE(beta.statusSubresource);
  EXPECT_FALSE(beta.scale.has_value());
  EXPECT_EQ(beta.ownedPrinter->columns.size(), 2u);  // Name, Age
  Json stored =
      beta.toStorage(Json{{"apiVersion", "stable.example.com/v1beta1"}, {"kind", "CronTab"}});
  EXPECT_EQ(stored["apiVersion"], "stable.example.com/v1");
}

TEST(CrdTypes, VersionPriority) {
  EXPECT_LT(compareVersionPriority("v2", "v1"), 0);
  EXPECT_LT(compareVersionPriority("v1", "v2beta1"), 0);
  EXPECT_LT(compareVersionPriority("v1beta2", "v1beta1"), 0);
  EXPECT_LT(compareVersionPriority("v1beta1", "v1alpha1"), 0);
  EXPECT_LT(compareVersionPriority("v1alpha1", "foo"), 0);
  EXPECT_LT(compareVersionPriority("bar", "foo"), 0);
  EXPECT_EQ(compareVersionPriority("v1", "v1"), 0);
}

TEST(CrdTypes, UnservableCrds) {
  Json crd = testing::cronTabCrd();
  crd["spec"]["versions"][1]["storage"] = false;
  EXPECT_FALSE(typesForCrd(crd).ok());
  crd = testing::cronTabCrd();
  crd["spec"]["versions"][0]["served"] = false;
  EXPECT_EQ(types(crd).size(), 1u);
}

TEST(CrdTypes, AcceptedNamesWin) {
  Json crd = testing::cronTabCrd();
  crd["status"]["acceptedNames"] = {{"plural", "crontabs"},
                                    {"kind", "CronTab"},
                                    {"singular", "crontab"}};  // short names not accepted
  auto ts = types(crd);
  ASSERT_FALSE(ts.empty());
  EXPECT_TRUE(ts[0]->shortNames.empty());
}

TEST(CrdTypes, DefaulterAndValidator) {
  auto ts = types(testing::cronTabCrd());
  ASSERT_FALSE(ts.empty());
  const auto& t = *ts[0];
  Json o = Json::parse(R"({"apiVersion": "stable.example.com/v1", "kind": "CronTab",
    "metadata": {"name": "my-cron", "namespace": "default"},
    "spec": {"cronSpec": "* * * * */5", "image": null}})");
  t.defaulter(o);
  EXPECT_EQ(o["spec"]["replicas"], 1);
  EXPECT_EQ(o["spec"]["color"], "red");
  EXPECT_FALSE(o["spec"].contains("image"));
  EXPECT_TRUE(t.validator(o, nullptr, validation::Operation::kCreate).empty());

  Json bad = o;
  bad["metadata"]["name"] = "My_Cron";
  bad["spec"]["replicas"] = "three";
  bad["spec"]["tags"] = {"a", "a"};
  auto got = lines(t.validator(bad, nullptr, validation::Operation::kCreate));
  ASSERT_GE(got.size(), 4u);
  EXPECT_TRUE(
      got[0].starts_with("metadata.name: Invalid value: \"My_Cron\": a lowercase RFC 1123 "
                         "subdomain"))
      << got[0];
  EXPECT_EQ(got[1],
            "spec.replicas: Invalid value: \"string\": spec.replicas in body must be of "
            "type integer: \"string\"");
  EXPECT_EQ(got[2],
            ".spec.replicas: Invalid value: 0: .spec.replicas accessor error: three is of "
            "the type string, expected int64");
  EXPECT_EQ(got.back(), "spec.tags[1]: Duplicate value: \"a\"");
}

TEST(CrdTypes, PrepareHooks) {
  auto ts = types(testing::cronTabCrd());
  ASSERT_EQ(ts.size(), 2u);
  Json o = Json::parse(R"({"spec": {"cronSpec": "x"}, "status": {"replicas": 3}})");
  ASSERT_TRUE(ts[0]->prepareForCreate);
  ASSERT_TRUE(ts[0]->prepareForCreate(o).ok());
  EXPECT_FALSE(o.contains("status"));  // status subresource: create cannot set status

  // A terminating CRD's resources cannot be created.
  Json terminating = testing::cronTabCrd();
  terminating["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z";
  auto tt = types(terminating);
  ASSERT_FALSE(tt.empty());
  Json fresh = Json::parse(R"({"spec": {"cronSpec": "x"}})");
  auto refused = tt[0]->prepareForCreate(fresh);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.error().is(ErrorCode::kMethodNotAllowed));
  EXPECT_EQ(refused.error().message(),
            "create not allowed while custom resource definition is terminating");

  // Without a status subresource a status change is a new generation.
  ASSERT_TRUE(ts[1]->prepareForUpdate);
  Json old = Json::parse(R"({"metadata": {"generation": 4}, "spec": {"a": 1}})");
  Json next = old;
  next["status"] = {{"x", 1}};
  ASSERT_TRUE(ts[1]->prepareForUpdate(next, old).ok());
  EXPECT_EQ(next["metadata"]["generation"], 5);
  Json same = old;
  same["metadata"]["labels"] = {{"a", "b"}};
  ASSERT_TRUE(ts[1]->prepareForUpdate(same, old).ok());
  EXPECT_EQ(same["metadata"]["generation"], 4);
}

TEST(CrdTypes, PruneCustomResourceFields) {
  auto ts = types(testing::cronTabCrd());
  ASSERT_FALSE(ts.empty());
  Json o = Json::parse(R"({"apiVersion": "stable.example.com/v1", "kind": "CronTab",
    "metadata": {"name": "a", "foo": 1}, "spec": {"cronSpec": "x", "bar": 2}})");
  EXPECT_EQ(pruneCustomResourceFields(*ts[0], o),
            (std::vector<std::string>{"spec.bar", "metadata.foo"}));
}

TEST(CrdTypes, CrdStrategy) {
  registry::TypeRegistry reg;
  registry::registerBuiltinTypes(reg, {});
  installCrdStrategy(reg);
  auto t = reg.find("apiextensions.k8s.io", "v1", "customresourcedefinitions");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->deletionFinalizer, kCleanupFinalizer);
  installCrdStrategy(reg);  // idempotent

  Json crd = testing::cronTabCrd();
  crd["spec"]["names"].erase("listKind");
  t->defaulter(crd);
  EXPECT_EQ(crd["spec"]["names"]["listKind"], "CronTabList");
  EXPECT_EQ(crd["spec"]["conversion"]["strategy"], "None");
  ASSERT_TRUE(t->prepareForCreate(crd).ok());
  EXPECT_EQ(crd["status"]["storedVersions"], Json::array({"v1"}));
  auto errs = t->validator(crd, nullptr, validation::Operation::kCreate);
  EXPECT_TRUE(errs.empty()) << ::testing::PrintToString(lines(errs));

  Json bad = crd;
  bad["spec"]["versions"][1]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["x"] =
      {{"type", "object"}, {"properties", {{"y", Json::object()}}}};
  auto got = lines(t->validator(bad, nullptr, validation::Operation::kCreate));
  EXPECT_NE(std::find(got.begin(), got.end(),
                      "spec.versions[1].schema.openAPIV3Schema.properties[spec].properties[x]."
                      "properties[y].type: Required value: must not be empty for specified "
                      "object fields"),
            got.end())
      << ::testing::PrintToString(got);
  // Reported once even though both validators check it.
  EXPECT_EQ(
      std::count_if(got.begin(), got.end(),
                    [](const std::string& s) { return s.find("properties[y].type") != s.npos; }),
      1);

  // Updates of a CRD being deleted carry the cleanup finalizer, which needs no domain prefix.
  Json deleting = crd;
  deleting["metadata"]["finalizers"] = {kCleanupFinalizer};
  deleting["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z";
  errs = t->validator(deleting, &deleting, validation::Operation::kStatusUpdate);
  EXPECT_TRUE(errs.empty()) << ::testing::PrintToString(lines(errs));

  // A new storage version joins storedVersions on update.
  Json updated = crd;
  updated["spec"]["versions"][0]["storage"] = true;
  updated["spec"]["versions"][1]["storage"] = false;
  ASSERT_TRUE(t->prepareForUpdate(updated, crd).ok());
  EXPECT_EQ(updated["status"]["storedVersions"], Json::array({"v1", "v1beta1"}));
}

}  // namespace
}  // namespace nave::crd
