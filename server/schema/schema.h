// The structural schema of API types: one model that drives OpenAPI v3 (kubectl explain and
// server-side field validation), unknown-field detection and pruning, strategic merge patch
// (merge keys and strategies) and server-side apply (list and map types).
//
// Built-in types are written in a compact source form (server/schema/defs/*.schema, the format
// is described in server/schema/README.md) and parsed once at start-up; custom resources
// convert their openAPIV3Schema into the same model (server/crd/).
//
// Markers that describe a field (patch strategy and merge key, list and map types, the field's
// description) sit on the property's own node, which may be a ref; the shape (type, properties,
// items) comes from the resolved node. Read markers before resolving.
//
// Named definitions ("io.k8s.api.core.v1.PodSpec") are referenced by name, which keeps
// recursive types (JSONSchemaProps) finite. A SchemaSet is immutable once built and safe to
// share between threads.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/result.h"

namespace nave::schema {

enum class Type {
  kObject,       // fixed properties, like a Go struct
  kMap,          // string keys, every value of `additionalProperties`
  kArray,        // elements of `items`
  kString,
  kInteger,
  kNumber,
  kBoolean,
  kIntOrString,  // x-kubernetes-int-or-string (IntOrString, Quantity)
  kAny,          // any JSON value (x-kubernetes-preserve-unknown-fields, RawExtension)
};

struct GroupVersionKind {
  std::string group, version, kind;
  bool operator==(const GroupVersionKind&) const = default;
};

struct Node;
using NodePtr = std::shared_ptr<const Node>;

struct Property {
  std::string name;
  NodePtr schema;
};

struct Node {
  Type type = Type::kAny;
  // When set, this node stands for the named definition `ref`; the definition supplies the
  // shape, this node only adds a field-specific description (and default).
  std::string ref;
  std::string description;
  std::string format;  // "int32", "int64", "double", "date-time", "byte", "quantity"...

  std::vector<Property> properties;  // kObject, in declaration order
  std::vector<std::string> required;
  NodePtr items;                 // kArray
  NodePtr additionalProperties;  // kMap

  // Kubernetes extensions.
  std::string patchStrategy;  // "merge", "retainKeys", "merge,retainKeys", "replace"
  std::string patchMergeKey;
  std::string listType;  // "atomic", "set", "map"; empty = Kubernetes' default for the field
  std::vector<std::string> listMapKeys;
  std::string mapType;     // "atomic" or "granular" (kMap and kObject)
  bool preserveUnknownFields = false;  // kObject/kAny: keep fields the schema does not name
  bool embeddedResource = false;
  bool nullable = false;
  std::optional<Json> defaultValue;

  // Protobuf encoding of a property (server/protobuf/), from `proto=` and `ptr` in the sources.
  // protoTag is the field's number in its message; 0 when it is never encoded (TypeMeta's
  // apiVersion and kind). protoInline holds the numbers of the Go embedded structs whose
  // message carries the field, outermost first: JSON flattens them, protobuf does not (Volume's
  // hostPath is field 1 of the VolumeSource message, itself field 2 of Volume).
  int protoTag = 0;
  std::vector<int> protoInline;
  // The Go field is a pointer scalar (*int32, *bool, *string...): its zero value is meaningful
  // and kept, where a plain scalar's zero value stands for "unset" (omitempty).
  bool pointer = false;
  std::vector<Json> enumValues;
  std::vector<GroupVersionKind> gvks;  // top-level kinds

  // Value validation (used by custom resource schemas).
  std::optional<double> minimum, maximum, multipleOf;
  bool exclusiveMinimum = false, exclusiveMaximum = false;
  std::optional<int64_t> minLength, maxLength, minItems, maxItems, minProperties, maxProperties;
  std::string pattern;
  bool uniqueItems = false;
  std::vector<NodePtr> allOf, anyOf, oneOf;
  NodePtr notSchema;

  // The property named `name`, or nullptr (kObject only; does not follow refs).
  const Node* property(std::string_view name) const;
  bool isRequired(std::string_view name) const;
};

class SchemaSet {
 public:
  // Parses the compact source form (possibly several files' contents concatenated is not
  // allowed: call once per file so `package` lines apply per file). `origin` names the file
  // in error messages. Refs are checked by validate(), once everything is added.
  Result<void> addSource(std::string_view text, std::string_view origin);
  void add(std::string name, NodePtr node);

  // Every ref names a definition; kInternal listing the missing ones otherwise.
  Result<void> validate() const;

  // The named definition, or nullptr.
  const Node* find(std::string_view name) const;
  // Follows `ref` (repeatedly) to the defining node; returns `node` itself when it has none.
  // Never nullptr for a valid set.
  const Node* resolve(const Node* node) const;
  // The definition carrying this group/version/kind, or nullptr.
  const Node* findKind(const GroupVersionKind& gvk) const;
  // The definition's name for a gvk ("io.k8s.api.apps.v1.Deployment"), or empty.
  std::string kindName(const GroupVersionKind& gvk) const;

  const std::map<std::string, NodePtr, std::less<>>& definitions() const { return defs_; }

 private:
  std::map<std::string, NodePtr, std::less<>> defs_;
};

// The schema of every built-in type, parsed from the embedded sources on first use.
// Aborts if the embedded sources are malformed (a build defect, caught by the unit tests).
const SchemaSet& builtinSchemas();

// Navigation helpers that resolve refs through `set` (which may be null for self-contained
// trees such as custom resource schemas). All return nullptr when there is no such child.
const Node* childProperty(const SchemaSet* set, const Node* objectNode, std::string_view name);
const Node* elementSchema(const SchemaSet* set, const Node* arrayNode);  // items
const Node* mapValueSchema(const SchemaSet* set, const Node* mapNode);   // additionalProperties
const Node* resolveNode(const SchemaSet* set, const Node* node);

}  // namespace nave::schema
