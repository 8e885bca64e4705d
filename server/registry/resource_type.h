// ResourceType: everything the API server knows about one served resource (a group, version and
// plural name), as data: names, scope, subresources, schema, printer, field selectors, and the
// strategy hooks that differ between types. Adding a built-in type is an entry in
// builtin_types.cc; a CustomResourceDefinition produces entries at run time (server/crd/).
// The generic REST logic (server/api/rest_storage.h) does the rest.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "server/printers/printers.h"
#include "server/schema/schema.h"
#include "server/validation/field_errors.h"
#include "server/validation/validation.h"

namespace nave::registry {

struct ScaleSubresource {
  std::string specReplicasPath = ".spec.replicas";
  std::string statusReplicasPath = ".status.replicas";
  std::string labelSelectorPath = ".status.selector";  // empty: none
};

using FieldValueFn = std::function<std::optional<std::string>(const Json& object,
                                                              std::string_view field)>;

struct ResourceType {
  // Identity.
  std::string group;  // "" for core
  std::string version;
  std::string kind;
  std::string plural;  // the resource name: "deployments"
  std::string singular;
  bool namespaced = true;
  std::vector<std::string> shortNames;
  std::vector<std::string> categories;
  std::vector<std::string> verbs = {"create", "delete", "deletecollection", "get",
                                    "list",   "patch",  "update",           "watch"};

  // Storage: objects of every version sharing a storage identity live under one key prefix,
  // /registry/<storageGroup or "core">/<storagePlural>/, in the storage version's shape.
  std::string storageGroup;
  std::string storagePlural;
  std::string storageVersion;  // the version objects are stored in
  int64_t ttlSeconds = 0;      // objects expire (events: 1 hour)

  // Subresources and strategy switches.
  bool statusSubresource = false;
  std::optional<ScaleSubresource> scale;
  bool tracksGeneration = false;     // metadata.generation starts at 1 and bumps on spec changes
  bool allowCreateOnUpdate = false;  // PUT of a missing object creates it
  bool isCustomResource = false;
  // Deleting the object first sets this finalizer (CRDs: their objects are removed before the
  // definition goes).
  std::string deletionFinalizer;

  // Schema: `schema` is the top-level node; `schemas` resolves its refs (null for
  // self-contained custom resource schemas). `ownedSchema` keeps a CRD's tree alive.
  const schema::SchemaSet* schemas = nullptr;
  const schema::Node* schema = nullptr;
  schema::NodePtr ownedSchema;

  // Printing: a built-in printer, or columns computed by `customRow` (CRD printer columns).
  const printers::TablePrinter* printer = nullptr;
  std::shared_ptr<const printers::TablePrinter> ownedPrinter;

  // Field selectors beyond metadata.name and metadata.namespace.
  std::vector<std::string> selectableFields;
  FieldValueFn fieldValue;  // empty: values are read from the object by path

  // Hooks, on the storage-version shape. Any may be empty.
  std::function<void(Json& object)> defaulter;
  std::function<validation::FieldErrors(const Json& object, const Json* old,
                                        validation::Operation op)>
      validator;
  // After defaulting, before validation, on create: set initial status, allocate, etc.
  std::function<Result<void>(Json& object)> prepareForCreate;
  // On update of the main resource (old is the stored object).
  std::function<Result<void>(Json& object, const Json& old)> prepareForUpdate;

  // Conversion between this version and the storage version. Empty: the shapes are the same
  // and only apiVersion changes.
  std::function<Json(const Json& served)> toStorage;
  std::function<Json(const Json& stored)> fromStorage;

  std::string apiVersion() const { return group.empty() ? version : group + "/" + version; }
  // "deployments.apps", or "pods" for core: the qualified resource in error messages.
  std::string qualifiedResource() const { return group.empty() ? plural : plural + "." + group; }
  std::string keyPrefix() const {
    return "/registry/" + (storageGroup.empty() ? std::string("core") : storageGroup) + "/" +
           storagePlural + "/";
  }
  std::string key(std::string_view ns, std::string_view name) const {
    std::string k = keyPrefix();
    if (namespaced) {
      k += ns;
      k += '/';
    }
    k += name;
    return k;
  }
  bool hasVerb(std::string_view verb) const;
};

using ResourceTypePtr = std::shared_ptr<const ResourceType>;

}  // namespace nave::registry
