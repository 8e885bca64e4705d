#include "server/crd/pruning.h"

#include <gtest/gtest.h>

#include "server/crd/schema_convert.h"
#include "tests/server/crd/test_crds.h"

namespace nave::crd {
namespace {

schema::NodePtr cronTabSchema() {
  return convertSchema(testing::cronTabCrd()["spec"]["versions"][1]["schema"]["openAPIV3Schema"]);
}

TEST(Pruning, DropsUnknownFieldsAndReportsTheirPaths) {
  Json o = Json::parse(R"({
    "apiVersion": "stable.example.com/v1", "kind": "CronTab",
    "metadata": {"name": "x", "labels": {"a": "b"}, "bogus": 1},
    "spec": {"cronSpec": "* * * * *", "foo": 1,
             "ports": [{"port": 80, "protocol": "TCP"}],
             "labels": {"k": "v"},
             "extra": {"anything": {"deep": true}, "known": {"a": "x", "b": "dropped"}},
             "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "junk": 1},
                          "spec": {"containers": []}}},
    "status": {"replicas": 1, "unknown": "x"},
    "topLevel": true})");
  std::vector<std::string> pruned = pruneCustomResource(o, *cronTabSchema());
  EXPECT_EQ(pruned,
            (std::vector<std::string>{"spec.extra.known.b", "spec.foo", "spec.ports[0].protocol",
                                      "status.unknown", "topLevel", "metadata.bogus",
                                      "spec.template.metadata.junk"}));
  EXPECT_FALSE(o.contains("topLevel"));
  EXPECT_FALSE(o["metadata"].contains("bogus"));
  EXPECT_EQ(o["metadata"]["labels"]["a"], "b");
  EXPECT_TRUE(o["spec"]["extra"]["anything"]["deep"]);  // preserved subtree
  EXPECT_FALSE(o["spec"]["extra"]["known"].contains("b"));
  EXPECT_EQ(o["spec"]["labels"]["k"], "v");
  EXPECT_EQ(o["spec"]["template"]["spec"]["containers"], Json::array());
  EXPECT_EQ(o["spec"]["template"]["metadata"]["name"], "p");
}

TEST(Pruning, AdditionalPropertiesTrueEmptiesNestedObjects) {
  Json s = Json::parse(R"({"type": "object", "properties": {
      "m": {"type": "object", "additionalProperties": true}}})");
  Json o = Json::parse(R"({"m": {"scalar": 1, "obj": {"x": 1}}})");
  auto pruned = pruneUnknownFields(o, convertSchema(s).get(), false);
  EXPECT_EQ(pruned, std::vector<std::string>{"m.obj.x"});
  EXPECT_EQ(o, Json::parse(R"({"m": {"scalar": 1, "obj": {}}})"));
}

TEST(Pruning, DefaultsFillAbsentFieldsAndNonNullableNulls) {
  Json o = Json::parse(R"({"spec": {"cronSpec": "* * * * *", "replicas": null,
                                    "image": null, "nullableField": null}})");
  auto schema = cronTabSchema();
  pruneNonNullableNulls(o, schema.get());
  applyDefaults(o, schema.get());
  EXPECT_EQ(o["spec"]["replicas"], 1);        // null, not nullable, has a default
  EXPECT_EQ(o["spec"]["color"], "red");       // absent
  EXPECT_FALSE(o["spec"].contains("image"));  // null, not nullable, no default: dropped
  EXPECT_TRUE(o["spec"]["nullableField"].is_null());
}

TEST(Pruning, DefaultsAreDefaultedFurther) {
  Json s = Json::parse(R"({"type": "object", "properties": {"spec": {"type": "object",
      "default": {}, "properties": {"a": {"type": "string", "default": "x"},
      "items": {"type": "array", "items": {"type": "object",
                "properties": {"b": {"type": "integer", "default": 2}}}}}}}})");
  Json o = Json::parse(R"({"other": 1})");
  applyDefaults(o, convertSchema(s).get());
  EXPECT_EQ(o["spec"]["a"], "x");
  Json p = Json::parse(R"({"spec": {"items": [{}, {"b": 5}]}})");
  applyDefaults(p, convertSchema(s).get());
  EXPECT_EQ(p["spec"]["items"], Json::parse(R"([{"b": 2}, {"b": 5}])"));
}

}  // namespace
}  // namespace nave::crd
