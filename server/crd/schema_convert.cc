#include "server/crd/schema_convert.h"

#include <mutex>

namespace nave::crd {
namespace {

using schema::Node;
using schema::NodePtr;
using schema::Type;

constexpr int kMaxDepth = 200;  // the decoder caps nesting at 256 already

bool flag(const Json& s, std::string_view key) {
  const Json* v = findMember(s, key);
  return v != nullptr && v->is_boolean() && v->get<bool>();
}

std::optional<double> number(const Json& s, std::string_view key) {
  const Json* v = findMember(s, key);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  return v->get<double>();
}

std::optional<int64_t> integer(const Json& s, std::string_view key) {
  const Json* v = findMember(s, key);
  if (v == nullptr || !v->is_number_integer()) return std::nullopt;
  return v->get<int64_t>();
}

std::vector<std::string> strings(const Json& s, std::string_view key) {
  std::vector<std::string> out;
  const Json* v = findMember(s, key);
  if (v == nullptr || !v->is_array()) return out;
  for (const Json& e : *v)
    if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

NodePtr anyValue(bool preserve) {
  auto n = std::make_shared<Node>();
  n->type = Type::kAny;
  n->preserveUnknownFields = preserve;
  return n;
}

NodePtr convert(const Json& s, int depth);

std::vector<NodePtr> convertList(const Json& s, std::string_view key, int depth) {
  std::vector<NodePtr> out;
  const Json* v = findMember(s, key);
  if (v == nullptr || !v->is_array()) return out;
  for (const Json& e : *v) out.push_back(convert(e, depth + 1));
  return out;
}

NodePtr convert(const Json& s, int depth) {
  if (!s.is_object() || depth > kMaxDepth) return anyValue(true);
  auto n = std::make_shared<Node>();
  n->description = getString(s, "description");
  n->format = getString(s, "format");
  n->nullable = flag(s, "nullable");
  n->preserveUnknownFields = flag(s, "x-kubernetes-preserve-unknown-fields");
  n->embeddedResource = flag(s, "x-kubernetes-embedded-resource");
  n->listType = getString(s, "x-kubernetes-list-type");
  n->listMapKeys = strings(s, "x-kubernetes-list-map-keys");
  n->mapType = getString(s, "x-kubernetes-map-type");
  if (const Json* d = findMember(s, "default"); d != nullptr) n->defaultValue = *d;
  if (const Json* e = findMember(s, "enum"); e != nullptr && e->is_array())
    n->enumValues.assign(e->begin(), e->end());
  n->required = strings(s, "required");

  n->minimum = number(s, "minimum");
  n->maximum = number(s, "maximum");
  n->multipleOf = number(s, "multipleOf");
  n->exclusiveMinimum = flag(s, "exclusiveMinimum");
  n->exclusiveMaximum = flag(s, "exclusiveMaximum");
  n->minLength = integer(s, "minLength");
  n->maxLength = integer(s, "maxLength");
  n->minItems = integer(s, "minItems");
  n->maxItems = integer(s, "maxItems");
  n->minProperties = integer(s, "minProperties");
  n->maxProperties = integer(s, "maxProperties");
  n->pattern = getString(s, "pattern");
  n->uniqueItems = flag(s, "uniqueItems");
  n->allOf = convertList(s, "allOf", depth);
  n->anyOf = convertList(s, "anyOf", depth);
  n->oneOf = convertList(s, "oneOf", depth);
  if (const Json* no = findMember(s, "not"); no != nullptr && no->is_object())
    n->notSchema = convert(*no, depth + 1);

  if (const Json* props = findMember(s, "properties"); props != nullptr && props->is_object()) {
    for (auto it = props->begin(); it != props->end(); ++it)
      n->properties.push_back({it.key(), convert(it.value(), depth + 1)});
  }
  const Json* additional = findMember(s, "additionalProperties");
  NodePtr additionalNode;
  bool additionalFalse = false;
  if (additional != nullptr) {
    if (additional->is_object())
      additionalNode = convert(*additional, depth + 1);
    else if (additional->is_boolean() && additional->get<bool>())
      additionalNode = anyValue(false);
    else if (additional->is_boolean())
      additionalFalse = true;
  }
  if (const Json* items = findMember(s, "items"); items != nullptr && items->is_object())
    n->items = convert(*items, depth + 1);

  std::string type = getString(s, "type");
  if (flag(s, "x-kubernetes-int-or-string")) {
    n->type = Type::kIntOrString;
  } else if (type == "object") {
    if (additionalNode && n->properties.empty()) {
      n->type = Type::kMap;
    } else {
      n->type = Type::kObject;
    }
    if (!additionalFalse) n->additionalProperties = additionalNode;
  } else if (type == "array") {
    n->type = Type::kArray;
    if (!n->items) n->items = anyValue(false);
  } else if (type == "string") {
    n->type = Type::kString;
  } else if (type == "integer") {
    n->type = Type::kInteger;
  } else if (type == "number") {
    n->type = Type::kNumber;
  } else if (type == "boolean") {
    n->type = Type::kBoolean;
  } else {
    n->type = Type::kAny;
    n->additionalProperties = additionalNode;
  }
  return n;
}

// A deep copy of `node` with every ref replaced by (a copy of) its definition. The field's own
// node keeps its description and markers; the definition supplies the shape.
NodePtr inlineRefs(const schema::SchemaSet& set, const Node& node, int depth) {
  auto out = std::make_shared<Node>(node);
  if (depth > 16) {
    out->ref.clear();
    out->type = Type::kAny;
    out->preserveUnknownFields = true;
    return out;
  }
  if (!node.ref.empty()) {
    const Node* def = set.resolve(&node);
    if (def != nullptr && def != &node) {
      Node merged = *def;
      if (!node.description.empty()) merged.description = node.description;
      if (!node.patchStrategy.empty()) merged.patchStrategy = node.patchStrategy;
      if (!node.patchMergeKey.empty()) merged.patchMergeKey = node.patchMergeKey;
      if (!node.listType.empty()) merged.listType = node.listType;
      if (!node.listMapKeys.empty()) merged.listMapKeys = node.listMapKeys;
      if (!node.mapType.empty()) merged.mapType = node.mapType;
      if (node.defaultValue) merged.defaultValue = node.defaultValue;
      merged.gvks.clear();
      *out = std::move(merged);
    }
    out->ref.clear();
  }
  for (auto& p : out->properties) p.schema = inlineRefs(set, *p.schema, depth + 1);
  if (out->items) out->items = inlineRefs(set, *out->items, depth + 1);
  if (out->additionalProperties)
    out->additionalProperties = inlineRefs(set, *out->additionalProperties, depth + 1);
  return out;
}

NodePtr stringNode(std::string description) {
  auto n = std::make_shared<Node>();
  n->type = Type::kString;
  n->description = std::move(description);
  return n;
}

}  // namespace

NodePtr convertSchema(const Json& schema) {
  return convert(schema, 0);
}

NodePtr inlinedObjectMeta() {
  static const NodePtr meta = [] {
    const schema::SchemaSet& set = schema::builtinSchemas();
    const Node* def = set.find("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
    if (def == nullptr) return anyValue(true);
    return inlineRefs(set, *def, 0);
  }();
  return meta;
}

NodePtr resourceSchema(const Json& openAPIV3Schema, const schema::GroupVersionKind& gvk) {
  auto root = std::make_shared<Node>();
  if (openAPIV3Schema.is_object()) {
    *root = *convertSchema(openAPIV3Schema);
  } else {
    root->type = Type::kObject;
    root->preserveUnknownFields = true;
  }
  if (root->type == Type::kAny) root->type = Type::kObject;
  std::vector<schema::Property> props;
  auto declared = [&](std::string_view name) -> NodePtr {
    for (const auto& p : root->properties)
      if (p.name == name) return p.schema;
    return nullptr;
  };
  NodePtr apiVersion = declared("apiVersion");
  NodePtr kind = declared("kind");
  props.push_back({"apiVersion", apiVersion ? apiVersion
                                            : stringNode("APIVersion defines the versioned "
                                                         "schema of this representation of an "
                                                         "object.")});
  props.push_back({"kind", kind ? kind
                                : stringNode("Kind is a string value representing the REST "
                                             "resource this object represents.")});
  props.push_back({"metadata", inlinedObjectMeta()});
  for (const auto& p : root->properties)
    if (p.name != "apiVersion" && p.name != "kind" && p.name != "metadata") props.push_back(p);
  root->properties = std::move(props);
  root->gvks = {gvk};
  return root;
}

}  // namespace nave::crd
