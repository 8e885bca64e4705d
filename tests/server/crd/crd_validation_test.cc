#include "server/crd/crd_validation.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/server/crd/test_crds.h"

namespace nave::crd {
namespace {

std::vector<std::string> lines(const validation::FieldErrors& errs) {
  std::vector<std::string> out;
  for (const auto& e : errs.errors()) out.push_back(e.toString());
  return out;
}

bool hasLine(const validation::FieldErrors& errs, const std::string& line) {
  auto l = lines(errs);
  return std::find(l.begin(), l.end(), line) != l.end();
}

constexpr const char* kPath = "spec.versions[0].schema.openAPIV3Schema";

validation::FieldErrors check(std::string_view schema, bool status = false) {
  return validateOpenApiV3Schema(Json::parse(schema), kPath, status);
}

TEST(CrdValidation, ValidCrdPasses) {
  Json crd = testing::cronTabCrd();
  crd["status"] = {{"storedVersions", {"v1"}}};
  auto errs = validateCrd(crd, nullptr);
  EXPECT_TRUE(errs.empty()) << ::testing::PrintToString(lines(errs));
}

TEST(CrdValidation, NonStructuralSchemas) {
  auto errs = check(R"({"type": "object", "properties": {"spec": {"properties": {
                         "a": {"type": "string"}}}, "list": {"type": "array"}}})");
  EXPECT_EQ(lines(errs),
            (std::vector<std::string>{
                "spec.versions[0].schema.openAPIV3Schema.properties[list].items: Required value: "
                "must be specified",
                "spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: "
                "must not be empty for specified object fields"}));

  errs = check(R"({"properties": {"spec": {"type": "object"}}})");
  EXPECT_TRUE(hasLine(errs,
                      "spec.versions[0].schema.openAPIV3Schema.type: Required value: must "
                      "not be empty at the root"));

  errs = check(R"({"type": "object", "properties": {"spec": {"type": "object",
                   "anyOf": [{"type": "object", "properties": {"b": {"type": "string"}}}]}}})");
  EXPECT_TRUE(hasLine(errs,
                      "spec.versions[0].schema.openAPIV3Schema.properties[spec].anyOf[0]."
                      "type: Forbidden: must be empty to be structural"));
}

TEST(CrdValidation, CompletenessOfValueValidations) {
  auto errs = check(R"({"type": "object", "anyOf": [{"properties": {"x": {"minLength": 1}}}]})");
  EXPECT_EQ(
      lines(errs),
      (std::vector<std::string>{
          "spec.versions[0].schema.openAPIV3Schema.properties[x]: Required value: because "
          "it is defined in spec.versions[0].schema.openAPIV3Schema.anyOf[0].properties[x]"}));
}

TEST(CrdValidation, IntOrStringPatternsAreStructural) {
  EXPECT_TRUE(check(R"({"type": "object", "properties": {"port": {
                  "x-kubernetes-int-or-string": true,
                  "anyOf": [{"type": "integer"}, {"type": "string"}]}}})")
                  .empty());
}

TEST(CrdValidation, OpenApiSubsetAndMarkers) {
  auto errs = check(R"({"type": "object", "properties": {
      "a": {"type": "object", "properties": {"b": {"type": "string"}},
            "additionalProperties": {"type": "string"}},
      "c": {"type": "array", "uniqueItems": true, "items": {"type": "string"}},
      "d": {"type": "string", "x-kubernetes-preserve-unknown-fields": false},
      "e": {"type": "array", "x-kubernetes-list-type": "map", "items": {"type": "object",
            "properties": {"k": {"type": "string"}}}},
      "f": {"type": "string", "$ref": "#/definitions/x"},
      "g": {"type": "string", "x-kubernetes-list-type": "set"}}})");
  std::string p = kPath;
  EXPECT_TRUE(hasLine(errs, p + ".properties[a].additionalProperties: Forbidden: "
                                "additionalProperties and properties are mutual exclusive"));
  EXPECT_TRUE(hasLine(errs, p + ".properties[c].uniqueItems: Forbidden: uniqueItems cannot be set "
                                "to true since the runtime complexity becomes quadratic"));
  EXPECT_TRUE(hasLine(errs, p + ".properties[d].x-kubernetes-preserve-unknown-fields: Invalid "
                                "value: false: must be true or undefined"));
  EXPECT_TRUE(hasLine(errs, p + ".properties[e].x-kubernetes-list-map-keys: Required value: must "
                                "not be empty if x-kubernetes-list-type is map"));
  EXPECT_TRUE(hasLine(errs, p + ".properties[f].$ref: Forbidden: $ref is not supported"));
  EXPECT_TRUE(hasLine(errs, p + ".properties[g].type: Invalid value: \"string\": must be array if "
                                "x-kubernetes-list-type is specified"));
}

TEST(CrdValidation, MetadataAtTheRoot) {
  EXPECT_TRUE(check(R"({"type": "object", "properties": {"metadata": {"type": "object",
                  "properties": {"name": {"type": "string", "maxLength": 10}}}}})")
                  .empty());
  auto errs = check(R"({"type": "object", "properties": {"metadata": {"type": "object",
                        "properties": {"labels": {"type": "object"}}}}})");
  EXPECT_TRUE(hasLine(errs, std::string(kPath) +
                                ".properties[metadata]: Forbidden: must not specify anything "
                                "other than name and generateName, but metadata is implicitly "
                                "specified"));
  errs = check(R"({"type": "object", "properties": {"metadata": {"type": "object",
                   "default": {"name": "x"}}}})");
  EXPECT_TRUE(hasLine(errs, std::string(kPath) + ".properties[metadata].default: Forbidden: must "
                                                 "not be set in top-level metadata"));
}

TEST(CrdValidation, Defaults) {
  auto errs = check(R"({"type": "object", "properties": {"spec": {"type": "object", "properties": {
      "n": {"type": "integer", "default": "three"},
      "o": {"type": "object", "properties": {"a": {"type": "string"}}, "default": {"b": 1}}}}}})");
  std::string p = std::string(kPath) + ".properties[spec].properties";
  EXPECT_TRUE(hasLine(errs, p + "[n].default: Invalid value: \"string\":  in body must be of type "
                                "integer: \"string\""))
      << ::testing::PrintToString(lines(errs));
  EXPECT_TRUE(
      hasLine(errs, p + "[o].default: Invalid value: {\"b\":1}: must not have unknown fields"));
}

TEST(CrdValidation, StatusSubresourceRestrictsTheRoot) {
  auto errs = check(R"({"type": "object", "additionalProperties": {"type": "string"}})", true);
  ASSERT_FALSE(errs.empty());
  EXPECT_TRUE(
      lines(errs)[0].starts_with("spec.versions[0].schema.openAPIV3Schema: Invalid value:"));
}

TEST(CrdValidation, VersionsNamesColumnsAndScale) {
  Json crd = testing::cronTabCrd();
  crd["metadata"]["name"] = "wrong.example.com";
  crd["spec"]["versions"][0]["storage"] = true;
  crd["spec"]["versions"][1]["additionalPrinterColumns"][0]["type"] = "text";
  crd["spec"]["versions"][1]["subresources"]["scale"]["specReplicasPath"] = ".replicas";
  crd["spec"]["versions"][1]["selectableFields"] = Json::parse(
      R"([{"jsonPath": ".spec.labels"}, {"jsonPath": ".metadata.name"}, {"jsonPath": ".spec.nope"}])");
  crd["status"] = {{"storedVersions", {"v1"}}};
  auto errs = validateCrd(crd, nullptr);
  EXPECT_TRUE(hasLine(errs,
                      "metadata.name: Invalid value: \"wrong.example.com\": must be "
                      "spec.names.plural+\".\"+spec.group"));
  EXPECT_TRUE(hasLine(errs,
                      "spec.versions[1].additionalPrinterColumns[0].type: Invalid value: "
                      "\"text\": must be one of boolean,date,integer,number,string"));
  EXPECT_TRUE(hasLine(errs,
                      "spec.versions[1].subresources.scale.specReplicasPath: Invalid value: "
                      "\".replicas\": should be a json path under .spec"));
  EXPECT_TRUE(hasLine(errs,
                      "spec.versions[1].selectableFields[0].jsonPath: Invalid value: "
                      "\".spec.labels\": must point to a field of type string, boolean or "
                      "integer. Enum string fields and strings with formats are allowed."));
  EXPECT_TRUE(hasLine(errs,
                      "spec.versions[1].selectableFields[1].jsonPath: Invalid value: "
                      "\".metadata.name\": must not point to fields in metadata"));
  auto l = lines(errs);
  EXPECT_TRUE(std::any_of(l.begin(), l.end(), [](const std::string& s) {
    return s.starts_with("spec.versions: Invalid value:") &&
           s.ends_with("must have exactly one version marked as storage version");
  }));
}

TEST(CrdValidation, ImmutableFieldsOnUpdate) {
  Json old = testing::cronTabCrd();
  old["status"] = {{"storedVersions", {"v1"}},
                   {"conditions", {{{"type", "Established"}, {"status", "True"}}}}};
  Json now = old;
  now["spec"]["scope"] = "Cluster";
  now["spec"]["names"]["kind"] = "Other";
  auto errs = validateCrd(now, &old);
  EXPECT_TRUE(hasLine(errs, "spec.scope: Invalid value: \"Cluster\": field is immutable"));
  EXPECT_TRUE(hasLine(errs, "spec.names.kind: Invalid value: \"Other\": field is immutable"));
}

TEST(CrdValidation, CelRulesAreAcceptedButShapeChecked) {
  EXPECT_TRUE(check(R"({"type": "object", "x-kubernetes-validations": [
                  {"rule": "self.a == self.b", "message": "a must equal b"}]})")
                  .empty());
  auto errs = check(R"({"type": "object", "x-kubernetes-validations": [{"rule": " "}]})");
  EXPECT_TRUE(hasLine(errs, std::string(kPath) + ".x-kubernetes-validations[0].rule: Required "
                                                 "value: rule is not specified"));
}

}  // namespace
}  // namespace nave::crd
