#include "server/crd/value_validation.h"

#include <gtest/gtest.h>

#include "server/crd/schema_convert.h"
#include "tests/server/crd/test_crds.h"

namespace nave::crd {
namespace {

std::vector<std::string> lines(const validation::FieldErrors& errs) {
  std::vector<std::string> out;
  for (const auto& e : errs.errors()) out.push_back(e.toString());
  return out;
}

schema::NodePtr cronTabSchema() {
  return convertSchema(testing::cronTabCrd()["spec"]["versions"][1]["schema"]["openAPIV3Schema"]);
}

Json validCronTab() {
  return Json::parse(R"({"apiVersion": "stable.example.com/v1", "kind": "CronTab",
    "metadata": {"name": "x", "namespace": "default"},
    "spec": {"cronSpec": "* * * * */5", "replicas": 3, "color": "red"}})");
}

TEST(ValueValidation, ValidObjectHasNoErrors) {
  EXPECT_TRUE(validateValue(*cronTabSchema(), validCronTab()).empty());
}

TEST(ValueValidation, TypeMismatchReadsLikeKubeOpenApi) {
  Json o = validCronTab();
  o["spec"]["replicas"] = "string";
  auto errs = validateValue(*cronTabSchema(), o);
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs.errors()[0].toString(),
            "spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type "
            "integer: \"string\"");
  EXPECT_EQ(errs.errors()[0].reason(), "FieldValueTypeInvalid");
}

TEST(ValueValidation, RequiredEnumAndBounds) {
  Json o = validCronTab();
  o["spec"].erase("cronSpec");
  o["spec"]["color"] = "x";
  o["spec"]["replicas"] = 20;
  EXPECT_EQ(
      lines(validateValue(*cronTabSchema(), o)),
      (std::vector<std::string>{
          "spec.color: Unsupported value: \"x\": supported values: \"red\", \"green\", \"blue\"",
          "spec.replicas: Invalid value: 20: spec.replicas in body should be less than or equal to "
          "10",
          "spec.cronSpec: Required value"}));
  o["spec"]["replicas"] = 0;
  o["spec"]["cronSpec"] = "* * * * *";
  o["spec"]["color"] = "red";
  EXPECT_EQ(lines(validateValue(*cronTabSchema(), o)),
            (std::vector<std::string>{"spec.replicas: Invalid value: 0: spec.replicas in body "
                                      "should be greater than or equal to 1"}));
}

TEST(ValueValidation, StringsPatternAndLength) {
  Json o = validCronTab();
  o["spec"]["cronSpec"] = "every minute";
  o["spec"]["image"] = "registry.example.com/some/image:latest";
  auto got = lines(validateValue(*cronTabSchema(), o));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0],
            "spec.cronSpec: Invalid value: \"every minute\": spec.cronSpec in body should match "
            "'^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$'");
  EXPECT_EQ(got[1], "spec.image: Too long: may not be more than 20 bytes");
}

TEST(ValueValidation, IntOrStringAndFloats) {
  Json o = validCronTab();
  o["spec"]["size"] = true;
  o["spec"]["replicas"] = 2.0;  // an integral float is an integer
  EXPECT_EQ(lines(validateValue(*cronTabSchema(), o)),
            (std::vector<std::string>{"spec.size: Invalid value: \"boolean\": spec.size in body "
                                      "must be of type integer,string: \"boolean\""}));
  o["spec"]["size"] = "10Gi";
  o["spec"]["replicas"] = 2.5;
  EXPECT_EQ(lines(validateValue(*cronTabSchema(), o)),
            (std::vector<std::string>{"spec.replicas: Invalid value: \"number\": spec.replicas in "
                                      "body must be of type integer: \"number\""}));
}

TEST(ValueValidation, NullsAndNullable) {
  Json o = validCronTab();
  o["spec"]["nullableField"] = nullptr;
  EXPECT_TRUE(validateValue(*cronTabSchema(), o).empty());
  o["spec"]["image"] = nullptr;
  EXPECT_EQ(lines(validateValue(*cronTabSchema(), o)),
            (std::vector<std::string>{"spec.image: Invalid value: \"null\": spec.image in body "
                                      "must be of type string: \"null\""}));
}

TEST(ValueValidation, ArraysAndMapsUsePathsOfKubeOpenApi) {
  Json schema = Json::parse(R"({"type": "object", "properties": {
    "items": {"type": "array", "maxItems": 2, "items": {"type": "object", "properties": {
      "n": {"type": "integer", "multipleOf": 5}}}},
    "labels": {"type": "object", "maxProperties": 1, "additionalProperties": {"type": "string"}},
    "env": {"type": "object", "additionalProperties": {"type": "integer"}}}})");
  Json o = Json::parse(R"({"items": [{"n": 5}, {"n": 7}, {"n": 10}],
                          "labels": {"a": "1", "b": "2"}, "env": {"X": "y"}})");
  EXPECT_EQ(
      lines(validateValue(*convertSchema(schema), o)),
      (std::vector<std::string>{
          "env.X: Invalid value: \"string\": env.X in body must be of type integer: \"string\"",
          "items[1].n: Invalid value: 7: items[1].n in body should be a multiple of 5",
          "items: Too many: 3: must have at most 2 items",
          "labels: Too many: 2: must have at most 1 items"}));
}

TEST(ValueValidation, JunctorsReportOnANilPath) {
  Json schema = Json::parse(R"({"type": "object", "properties": {"spec": {"type": "object",
    "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
    "oneOf": [{"required": ["a"]}, {"required": ["b"]}]}}})");
  Json o = Json::parse(R"({"spec": {}})");
  auto got = lines(validateValue(*convertSchema(schema), o));
  ASSERT_GE(got.size(), 1u);
  EXPECT_EQ(got[0],
            "<nil>: Invalid value: \"\": \"spec\" must validate one and only one schema "
            "(oneOf). Found none valid");
  o["spec"]["a"] = "x";
  EXPECT_TRUE(validateValue(*convertSchema(schema), o).empty());
  o["spec"]["b"] = "y";
  got = lines(validateValue(*convertSchema(schema), o));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0],
            "<nil>: Invalid value: \"\": \"spec\" must validate one and only one schema "
            "(oneOf). Found 2 valid alternatives");
}

TEST(ValueValidation, Formats) {
  Json schema = Json::parse(R"({"type": "object", "properties": {
    "when": {"type": "string", "format": "date-time"},
    "ip": {"type": "string", "format": "ipv4"},
    "n": {"type": "integer", "format": "int32"}}})");
  Json o = Json::parse(R"({"when": "yesterday", "ip": "10.0.0.300", "n": 5000000000})");
  EXPECT_EQ(
      lines(validateValue(*convertSchema(schema), o)),
      (std::vector<std::string>{
          "ip: Invalid value: \"10.0.0.300\": ip in body must be of type ipv4: \"10.0.0.300\"",
          "when: Invalid value: \"yesterday\": when in body must be of type date-time: "
          "\"yesterday\""}));
  EXPECT_TRUE(formatMatches("date-time", "2024-05-01T12:00:00Z"));
  EXPECT_TRUE(formatMatches("uuid", "123e4567-e89b-12d3-a456-426614174000"));
  EXPECT_FALSE(formatMatches("uuid4", "123e4567-e89b-12d3-a456-426614174000"));
  EXPECT_TRUE(formatMatches("cidr", "10.0.0.0/8"));
  EXPECT_FALSE(formatMatches("cidr", "10.0.0.0/33"));
  EXPECT_TRUE(formatMatches("duration", "1h30m"));
  EXPECT_TRUE(formatMatches("duration", "3 days"));
  EXPECT_FALSE(formatMatches("duration", "soon"));
  EXPECT_TRUE(formatMatches("byte", "aGVsbG8="));
  EXPECT_TRUE(formatMatches("mac", "00:1a:2b:3c:4d:5e"));
  EXPECT_TRUE(formatMatches("unknown-format", "anything"));
}

TEST(ValueValidation, ListSetsAndMaps) {
  Json o = validCronTab();
  o["spec"]["tags"] = {"a", "b", "a", "a"};
  o["spec"]["ports"] = Json::parse(R"([{"port": 80}, {"port": 443}, {"port": 80, "name": "x"}])");
  EXPECT_EQ(lines(validateListSetsAndMaps(*cronTabSchema(), o)),
            (std::vector<std::string>{"spec.ports[2]: Duplicate value: {\"port\":80}",
                                      "spec.tags[2]: Duplicate value: \"a\""}));
  o["spec"]["ports"] = Json::parse(R"([{"port": 80}, 5])");
  EXPECT_EQ(lines(validateListSetsAndMaps(*cronTabSchema(), o)).front(),
            "spec.ports[1]: Invalid value: 5: must be an object for an array of list-type map");
}

TEST(ValueValidation, EmbeddedResources) {
  Json o = validCronTab();
  o["spec"]["template"] = Json::parse(R"({"kind": "Pod", "metadata": {"name": "Bad_Name"}})");
  auto got = lines(validateEmbeddedResources(*cronTabSchema(), o));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], "spec.template.apiVersion: Required value: must not be empty");
  EXPECT_TRUE(got[1].starts_with("spec.template.metadata.name: Invalid value: \"Bad_Name\""))
      << got[1];
  o["spec"]["template"] = Json::parse(R"({"apiVersion": "v1", "kind": "Pod"})");
  EXPECT_TRUE(validateEmbeddedResources(*cronTabSchema(), o).empty());
}

}  // namespace
}  // namespace nave::crd
