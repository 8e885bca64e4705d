#include "server/schema/field_check.h"

namespace nave::schema {
namespace {

using schema::Node;
using schema::Type;

std::string jsonTypeName(const Json& v) {
  if (v.is_string()) return "string";
  if (v.is_number()) return "number";
  if (v.is_boolean()) return "bool";
  if (v.is_array()) return "array";
  if (v.is_object()) return "object";
  return "null";
}

// The Go type Kubernetes' decoder would name for a schema node.
std::string goTypeName(const schema::SchemaSet* set, const Node* field) {
  const Node* n = schema::resolveNode(set, field);
  if (!field->ref.empty()) {
    std::string ref = field->ref;
    auto dot = ref.rfind('.');
    std::string shortName = dot == std::string::npos ? ref : ref.substr(dot + 1);
    auto pkgEnd = ref.rfind('.', dot == std::string::npos ? 0 : dot - 1);
    std::string pkg = pkgEnd == std::string::npos ? "" : ref.substr(pkgEnd + 1, dot - pkgEnd - 1);
    if (n->type == Type::kObject || n->type == Type::kMap) return pkg + "." + shortName;
  }
  switch (n->type) {
    case Type::kString: return "string";
    case Type::kInteger: return n->format == "int32" ? "int32" : "int64";
    case Type::kNumber: return "float64";
    case Type::kBoolean: return "bool";
    case Type::kArray: return "[]" + goTypeName(set, n->items.get());
    case Type::kMap: return "map[string]" + goTypeName(set, n->additionalProperties.get());
    default: return "object";
  }
}

class Checker {
 public:
  Checker(const schema::SchemaSet* set, FieldCheckResult& out) : set_(set), out_(out) {}

  void walk(Json& v, const Node* field, const std::string& path, const std::string& structName) {
    if (field == nullptr) return;
    const Node* n = schema::resolveNode(set_, field);
    if (v.is_null()) return;  // null is "unset" for every Kubernetes field
    switch (n->type) {
      case Type::kAny:
        return;
      case Type::kObject: {
        if (!v.is_object()) return mismatch(v, field, path, structName);
        if (n->preserveUnknownFields && n->properties.empty()) return;
        std::string name = structName;
        if (!field->ref.empty()) name = field->ref.substr(field->ref.rfind('.') + 1);
        for (auto it = v.begin(); it != v.end();) {
          const Node* child = n->property(it.key());
          std::string childPath = path.empty() ? it.key() : path + "." + it.key();
          if (child == nullptr) {
            if (n->preserveUnknownFields) {
              ++it;
              continue;
            }
            out_.unknownFields.push_back(childPath);
            it = v.erase(it);
            continue;
          }
          walk(it.value(), child, childPath, name);
          ++it;
        }
        return;
      }
      case Type::kMap: {
        if (!v.is_object()) return mismatch(v, field, path, structName);
        for (auto it = v.begin(); it != v.end(); ++it)
          walk(it.value(), n->additionalProperties.get(), path + "[" + it.key() + "]", structName);
        return;
      }
      case Type::kArray: {
        if (!v.is_array()) return mismatch(v, field, path, structName);
        for (size_t i = 0; i < v.size(); ++i)
          walk(v[i], n->items.get(), path + "[" + std::to_string(i) + "]", structName);
        return;
      }
      case Type::kString:
        if (!v.is_string()) mismatch(v, field, path, structName);
        return;
      case Type::kInteger:
        if (!v.is_number_integer() &&
            !(v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>()))))
          mismatch(v, field, path, structName);
        return;
      case Type::kNumber:
        if (!v.is_number()) mismatch(v, field, path, structName);
        return;
      case Type::kBoolean:
        if (!v.is_boolean()) mismatch(v, field, path, structName);
        return;
      case Type::kIntOrString:
        if (!v.is_string() && !v.is_number()) mismatch(v, field, path, structName);
        return;
    }
  }

 private:
  void mismatch(const Json& v, const Node* field, const std::string& path,
                const std::string& structName) {
    if (!out_.typeError.empty()) return;
    out_.typeError = "json: cannot unmarshal " + jsonTypeName(v) + " into Go struct field " +
                     (structName.empty() ? "" : structName + ".") + path + " of type " +
                     goTypeName(set_, field);
  }

  const schema::SchemaSet* set_;
  FieldCheckResult& out_;
};

}  // namespace

FieldCheckResult checkAndPruneFields(Json& object, const schema::SchemaSet* set,
                                     const schema::Node& schema) {
  FieldCheckResult out;
  Checker c(set, out);
  std::string rootName;
  if (!schema.gvks.empty()) rootName = schema.gvks.front().kind;
  c.walk(object, &schema, "", rootName);
  return out;
}

}  // namespace nave::schema
