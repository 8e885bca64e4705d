#include "server/crd/schema_convert.h"

#include <gtest/gtest.h>

#include "tests/server/crd/test_crds.h"

namespace nave::crd {
namespace {

using schema::Type;

const schema::Node& prop(const schema::Node& n, std::string_view name) {
  const schema::Node* p = n.property(name);
  EXPECT_NE(p, nullptr) << name;
  static const schema::Node kEmpty;
  return p ? *p : kEmpty;
}

TEST(SchemaConvert, TypesAndValidations) {
  schema::NodePtr root =
      convertSchema(testing::cronTabCrd()["spec"]["versions"][1]["schema"]["openAPIV3Schema"]);
  EXPECT_EQ(root->type, Type::kObject);
  const auto& spec = prop(*root, "spec");
  EXPECT_EQ(spec.required, std::vector<std::string>{"cronSpec"});
  const auto& replicas = prop(spec, "replicas");
  EXPECT_EQ(replicas.type, Type::kInteger);
  EXPECT_EQ(replicas.minimum, 1);
  EXPECT_EQ(replicas.maximum, 10);
  EXPECT_EQ(replicas.defaultValue, Json(1));
  EXPECT_EQ(prop(spec, "color").enumValues.size(), 3u);
  EXPECT_EQ(prop(spec, "image").maxLength, 20);
  const auto& ports = prop(spec, "ports");
  EXPECT_EQ(ports.type, Type::kArray);
  EXPECT_EQ(ports.listType, "map");
  EXPECT_EQ(ports.listMapKeys, std::vector<std::string>{"port"});
  ASSERT_TRUE(ports.items);
  EXPECT_EQ(ports.items->type, Type::kObject);
  const auto& labels = prop(spec, "labels");
  EXPECT_EQ(labels.type, Type::kMap);
  ASSERT_TRUE(labels.additionalProperties);
  EXPECT_EQ(labels.additionalProperties->type, Type::kString);
  EXPECT_EQ(prop(spec, "size").type, Type::kIntOrString);
  EXPECT_TRUE(prop(spec, "template").embeddedResource);
  EXPECT_TRUE(prop(spec, "template").preserveUnknownFields);
  EXPECT_TRUE(prop(spec, "nullableField").nullable);
  EXPECT_FALSE(prop(spec, "cronSpec").pattern.empty());
}

TEST(SchemaConvert, UntypedAndAdditionalPropertiesShapes) {
  Json s = Json::parse(R"({"type": "object", "properties": {
    "any": {"x-kubernetes-preserve-unknown-fields": true},
    "open": {"type": "object", "additionalProperties": true},
    "mixed": {"type": "object", "properties": {"a": {"type": "string"}},
              "additionalProperties": true},
    "closed": {"type": "object", "additionalProperties": false},
    "junctors": {"type": "object", "anyOf": [{"required": ["a"]}], "not": {"required": ["b"]}}}})");
  schema::NodePtr root = convertSchema(s);
  EXPECT_EQ(prop(*root, "any").type, Type::kAny);
  EXPECT_TRUE(prop(*root, "any").preserveUnknownFields);
  const auto& open = prop(*root, "open");
  EXPECT_EQ(open.type, Type::kMap);
  ASSERT_TRUE(open.additionalProperties);
  EXPECT_EQ(open.additionalProperties->type, Type::kAny);
  EXPECT_FALSE(open.additionalProperties->preserveUnknownFields);
  EXPECT_EQ(prop(*root, "mixed").type, Type::kObject);
  EXPECT_TRUE(prop(*root, "mixed").additionalProperties);
  EXPECT_EQ(prop(*root, "closed").type, Type::kObject);
  EXPECT_FALSE(prop(*root, "closed").additionalProperties);
  ASSERT_EQ(prop(*root, "junctors").anyOf.size(), 1u);
  EXPECT_EQ(prop(*root, "junctors").anyOf[0]->required, std::vector<std::string>{"a"});
  ASSERT_TRUE(prop(*root, "junctors").notSchema);
}

TEST(SchemaConvert, ResourceSchemaDeclaresMetadata) {
  Json s = Json::parse(R"({"type": "object", "properties": {"spec": {"type": "object"},
                                                            "metadata": {"type": "object"}}})");
  schema::NodePtr root = resourceSchema(s, {"stable.example.com", "v1", "CronTab"});
  ASSERT_EQ(root->properties.size(), 4u);
  EXPECT_EQ(root->properties[0].name, "apiVersion");
  EXPECT_EQ(root->properties[1].name, "kind");
  EXPECT_EQ(root->properties[2].name, "metadata");
  EXPECT_EQ(root->properties[3].name, "spec");
  const auto& meta = prop(*root, "metadata");
  EXPECT_TRUE(meta.ref.empty());
  const auto& labels = prop(meta, "labels");
  EXPECT_EQ(labels.type, Type::kMap);
  const auto& owners = prop(meta, "ownerReferences");
  EXPECT_EQ(owners.listType, "map");
  ASSERT_TRUE(owners.items);
  EXPECT_TRUE(owners.items->ref.empty());
  EXPECT_EQ(owners.items->type, Type::kObject);
  ASSERT_EQ(root->gvks.size(), 1u);
  EXPECT_EQ(root->gvks[0].kind, "CronTab");

  schema::NodePtr none = resourceSchema(Json(), {"g.example.com", "v1", "Thing"});
  EXPECT_EQ(none->type, Type::kObject);
  EXPECT_TRUE(none->preserveUnknownFields);
}

}  // namespace
}  // namespace nave::crd
