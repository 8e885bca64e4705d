#include "server/apply/typed.h"

#include <gtest/gtest.h>

#include <random>

#include "server/apply/apply.h"
#include "tests/server/apply/test_schemas.h"

namespace nave::apply {
namespace {

using testing::kindSchema;
using testing::testSchemas;
using testing::yaml;

class TypedTest : public ::testing::Test {
 protected:
  TypedOps ops_{&testSchemas(), &kindSchema("io.k8s.api.apps.v1.Deployment")};

  Json fields(const FieldSet& s) { return s.toFieldsV1(); }
  FieldSet set(std::string_view fieldsV1) {
    auto s = FieldSet::fromFieldsV1(yaml(fieldsV1));
    EXPECT_TRUE(s.ok());
    return s.ok() ? *s : FieldSet();
  }
};

TEST_F(TypedTest, CompareListsWholeNewAndRemovedValues) {
  Comparison c = ops_.compare(yaml(R"({spec: {replicas: 1, paused: true,
      template: {spec: {containers: [{name: a, image: x}]}}}})"),
                              yaml(R"({spec: {replicas: 2, minReadySeconds: 3,
      template: {spec: {containers: [{name: a, image: x}, {name: b}]}},
      strategy: {type: Recreate}}})"));
  EXPECT_EQ(fields(c.modified), yaml("{f:spec: {f:replicas: {}}}"));
  EXPECT_EQ(fields(c.removed), yaml("{f:spec: {f:paused: {}}}"));
  EXPECT_EQ(fields(c.added), yaml(R"(
f:spec:
  f:minReadySeconds: {}
  f:strategy: {.: {}, f:type: {}}
  f:template: {f:spec: {f:containers: {'k:{"name":"b"}': {.: {}, f:name: {}}}}}
)"));
  EXPECT_TRUE(ops_.compare(yaml("{spec: {replicas: 1}}"), yaml("{spec: {replicas: 1.0}}")).same());
}

TEST_F(TypedTest, CompareTreatsDuplicateItemsAsOne) {
  Comparison c = ops_.compare(
      yaml("{spec: {template: {spec: {containers: [{name: a, image: x}, {name: a, image: y}]}}}}"),
      yaml("{spec: {template: {spec: {containers: [{name: a, image: z}]}}}}"));
  // The duplicates disappear as a whole; the single item that replaces them is new.
  EXPECT_TRUE(c.removed.has({PathElement::fieldName("spec"), PathElement::fieldName("template"),
                             PathElement::fieldName("spec"), PathElement::fieldName("containers"),
                             PathElement::keyed({{"name", "a"}})}));
  EXPECT_FALSE(c.added.empty());
}

TEST_F(TypedTest, FieldSetOwnsEmptyAndNullStructs) {
  auto s = ops_.toFieldSet(yaml("{spec: {strategy: {}, template: null, selector: null}}"), true);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(fields(*s), yaml("{f:spec: {f:strategy: {}, f:template: {}, f:selector: {}}}"));
}

TEST_F(TypedTest, MergeKeepsLiveMapsOnNullAndReplacesAtomicValues) {
  Json merged = ops_.merge(yaml(R"({metadata: {labels: {a: "1"}},
      spec: {replicas: 1, selector: {matchLabels: {a: "1"}},
             template: {spec: {containers: [{name: c, args: [x, y], image: i}]}}}})"),
                           yaml(R"({metadata: {labels: null},
      spec: {replicas: null, selector: {matchLabels: {b: "2"}},
             template: {spec: {containers: [{name: c, args: [z]}]}}}})"));
  EXPECT_EQ(merged["metadata"]["labels"], yaml("{a: '1'}"));
  EXPECT_TRUE(merged["spec"]["replicas"].is_null());
  EXPECT_EQ(merged["spec"]["selector"], yaml("{matchLabels: {b: '2'}}"));
  EXPECT_EQ(merged["spec"]["template"]["spec"]["containers"],
            yaml("[{name: c, args: [z], image: i}]"));
}

TEST_F(TypedTest, MergeReplacesDuplicatedLiveItemsTheConfigNames) {
  Json live = yaml(R"({spec: {template: {spec: {containers: [{name: c, env: [
      {name: A, value: "1"}, {name: B, value: "x"}, {name: A, value: "2"}]}]}}}})");
  Json merged = ops_.merge(live, yaml(R"({spec: {template: {spec: {containers: [{name: c, env: [
      {name: A, value: "3"}]}]}}}})"));
  EXPECT_EQ(merged["spec"]["template"]["spec"]["containers"][0]["env"],
            yaml("[{name: A, value: '3'}, {name: B, value: x}]"));
  // Duplicates the configuration does not name are left alone.
  merged =
      ops_.merge(live, yaml("{spec: {template: {spec: {containers: [{name: c, image: i}]}}}}"));
  EXPECT_EQ(merged["spec"]["template"]["spec"]["containers"][0]["env"].size(), 3u);
}

TEST_F(TypedTest, RemoveItemsDropsEmptiedContainersOnly) {
  Json obj = yaml(R"({metadata: {labels: {a: "1"}, annotations: {}},
      spec: {template: {spec: {containers: [{name: c, image: i}, {image: nokey}]}}}})");
  Json out = ops_.removeItems(obj, set(R"(
f:metadata: {f:labels: {f:a: {}}, f:annotations: {f:x: {}}}
f:spec: {f:template: {f:spec: {f:containers: {'k:{"name":"c"}': {}}}}}
)"));
  EXPECT_EQ(out, yaml(R"({metadata: {annotations: {}},
      spec: {template: {spec: {containers: [{image: nokey}]}}}})"));
}

TEST_F(TypedTest, EnsureNamedFieldsAreMembersAddsStructFieldsOnly) {
  FieldSet s = ops_.ensureNamedFieldsAreMembers(set(R"(
f:metadata: {f:labels: {f:app: {}}}
f:spec: {f:template: {f:spec: {f:containers: {'k:{"name":"c"}': {f:image: {}}}}}}
)"));
  EXPECT_EQ(fields(s), yaml(R"(
f:metadata: {.: {}, f:labels: {.: {}, f:app: {}}}
f:spec:
  .: {}
  f:template:
    .: {}
    f:spec:
      .: {}
      f:containers: {.: {}, 'k:{"name":"c"}': {f:image: {}}}
)"));
}

// Random values where objects and managedFields are expected: errors are fine, crashes are not.
Json randomJson(std::mt19937& rng, int depth) {
  static const char* keys[] = {
      "metadata",   "spec",       "managedFields", "f:spec",   "k:{\"name\":1}",
      "name",       "containers", "labels",        ".",        "v:1",
      "i:0",        "replicas",   "template",      "fieldsV1", "operation",
      "apiVersion", "fieldsType"};
  switch (depth <= 0 ? rng() % 4 : rng() % 7) {
    case 0:
      return nullptr;
    case 1:
      return static_cast<int>(rng() % 100);
    case 2:
      return std::string(keys[rng() % std::size(keys)]);
    case 3:
      return rng() % 2 == 0;
    case 4:
    case 5: {
      Json o = Json::object();
      for (unsigned i = rng() % 4; i > 0; --i)
        o[keys[rng() % std::size(keys)]] = randomJson(rng, depth - 1);
      return o;
    }
    default: {
      Json a = Json::array();
      for (unsigned i = rng() % 4; i > 0; --i) a.push_back(randomJson(rng, depth - 1));
      return a;
    }
  }
}

TEST(Robustness, ArbitraryInputNeverCrashes) {
  std::mt19937 rng(42);
  const schema::Node& dep = kindSchema("io.k8s.api.apps.v1.Deployment");
  ManagerInfo info;
  info.manager = "m";
  info.apiVersion = "apps/v1";
  int accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    Json live = randomJson(rng, 5);
    Json updated = randomJson(rng, 5);
    if (i % 2 == 0 && updated.is_object()) {
      Json mf = Json::array(
          {yaml("{manager: x, operation: Update, apiVersion: v1, fieldsType: FieldsV1}")});
      mf[0]["fieldsV1"] = randomJson(rng, 4);
      updated["metadata"] = Json::object({{"managedFields", mf}});
    }
    Json copy = updated;
    if (recordUpdate(live.is_object() ? &live : nullptr, copy, &testSchemas(), dep, info).ok())
      ++accepted;
    Json applied = randomJson(rng, 5);
    if (applied.is_object()) {
      applied["apiVersion"] = "apps/v1";
      applied["kind"] = "Deployment";
      if (auto m = applied.find("metadata"); m != applied.end() && m->is_object())
        m->erase("managedFields");
    }
    (void)serverSideApply(live.is_object() ? &live : nullptr, applied, &testSchemas(), dep, info,
                          i % 3 == 0);
    auto fs = FieldSet::fromFieldsV1(randomJson(rng, 5));
    if (fs.ok()) {
      auto back = FieldSet::fromFieldsV1(fs->toFieldsV1());
      ASSERT_TRUE(back.ok());
      EXPECT_TRUE(*back == *fs);
    }
  }
  EXPECT_GT(accepted, 0);
}

}  // namespace
}  // namespace nave::apply
