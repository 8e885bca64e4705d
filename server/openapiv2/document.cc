// buildDocument: the Swagger 2.0 form of the served API, shaped like Kubernetes' /openapi/v2
// (operations, parameters and definitions in the places kubectl and client-go look for them).
#include <cctype>
#include <map>
#include <optional>
#include <set>

#include "server/openapiv2/openapiv2.h"
#include "server/version.h"

namespace nave::openapiv2 {
namespace {

using registry::ResourceType;
using schema::Node;
using schema::SchemaSet;
using schema::Type;

constexpr std::string_view kDefinitionsPrefix = "#/definitions/";
const std::string kMeta = "io.k8s.apimachinery.pkg.apis.meta.v1.";
const std::string kScale = "io.k8s.api.autoscaling.v1.Scale";

Json refTo(std::string_view name) {
  return {{"$ref", std::string(kDefinitionsPrefix) + std::string(name)}};
}

Json gvkList(const std::vector<schema::GroupVersionKind>& gvks) {
  Json out = Json::array();
  for (const auto& g : gvks)
    out.push_back({{"group", g.group}, {"kind", g.kind}, {"version", g.version}});
  return out;
}

// Converts schema nodes to Swagger 2.0 schemas and remembers which definitions they name, so
// that exactly those (and what they use in turn) are emitted.
class SchemaConverter {
 public:
  // `set` resolves the refs of `n`. `customResource` applies
  // the reductions Kubernetes makes to custom resource schemas for v2, whose consumers
  // (kubectl's proto models) refuse untyped arrays, items under unknown-field nodes, and
  // know nothing of nullable or of anyOf/oneOf/not.
  Json convert(const Node& n, const SchemaSet* set, bool customResource) {
    Json j = Json::object();
    if (!n.ref.empty()) {
      use(n.ref, set);
      j = refTo(n.ref);
    } else {
      switch (n.type) {
        case Type::kObject:
          j["type"] = "object";
          if (!n.properties.empty()) {
            Json props = Json::object();
            for (const auto& p : n.properties)
              props[p.name] = convert(*p.schema, set, customResource);
            j["properties"] = std::move(props);
          }
          if (!n.required.empty()) {
            Json req = Json::array();
            for (const auto& r : n.required) {
              const Node* p = n.property(r);
              // Kubernetes drops nullable fields from `required` in v2 (null satisfies them).
              if (customResource && p != nullptr && p->nullable) continue;
              req.push_back(r);
            }
            if (!req.empty()) j["required"] = std::move(req);
          }
          break;
        case Type::kMap:
          j["type"] = "object";
          if (n.additionalProperties)
            j["additionalProperties"] = convert(*n.additionalProperties, set, customResource);
          break;
        case Type::kArray:
          // An array without an item schema stays untyped: kubectl cannot model one.
          if (n.items) {
            j["type"] = "array";
            j["items"] = convert(*n.items, set, customResource);
          }
          break;
        case Type::kString:
          j["type"] = "string";
          break;
        case Type::kInteger:
          j["type"] = "integer";
          break;
        case Type::kNumber:
          j["type"] = "number";
          break;
        case Type::kBoolean:
          j["type"] = "boolean";
          break;
        case Type::kIntOrString:
          // Built-in IntOrString and Quantity are strings with a format in Kubernetes' v2;
          // custom resources keep the extension and no type.
          if (customResource || n.format.empty()) {
            j["x-kubernetes-int-or-string"] = true;
          } else {
            j["type"] = "string";
          }
          break;
        case Type::kAny:
          break;
      }
      if (!n.format.empty()) j["format"] = n.format;
      if (n.preserveUnknownFields) j["x-kubernetes-preserve-unknown-fields"] = true;
      if (customResource) {
        if (n.nullable) {
          j.erase("type");
          j.erase("items");
          j.erase("properties");
        }
        if (n.preserveUnknownFields) {
          j.erase("items");
          j.erase("properties");
        }
      }
    }
    if (!n.description.empty()) j["description"] = n.description;
    if (n.defaultValue) j["default"] = *n.defaultValue;
    if (!n.enumValues.empty()) j["enum"] = n.enumValues;
    if (!n.patchStrategy.empty()) j["x-kubernetes-patch-strategy"] = n.patchStrategy;
    if (!n.patchMergeKey.empty()) j["x-kubernetes-patch-merge-key"] = n.patchMergeKey;
    if (!n.listType.empty()) j["x-kubernetes-list-type"] = n.listType;
    if (!n.listMapKeys.empty()) j["x-kubernetes-list-map-keys"] = n.listMapKeys;
    if (!n.mapType.empty()) j["x-kubernetes-map-type"] = n.mapType;
    if (n.embeddedResource) j["x-kubernetes-embedded-resource"] = true;
    if (!n.gvks.empty()) j["x-kubernetes-group-version-kind"] = gvkList(n.gvks);
    if (!n.ref.empty()) return j;  // a $ref carries only its description and markers
    if (n.minimum) j["minimum"] = *n.minimum;
    if (n.maximum) j["maximum"] = *n.maximum;
    if (n.exclusiveMinimum) j["exclusiveMinimum"] = true;
    if (n.exclusiveMaximum) j["exclusiveMaximum"] = true;
    if (n.multipleOf) j["multipleOf"] = *n.multipleOf;
    if (n.minLength) j["minLength"] = *n.minLength;
    if (n.maxLength) j["maxLength"] = *n.maxLength;
    if (n.minItems) j["minItems"] = *n.minItems;
    if (n.maxItems) j["maxItems"] = *n.maxItems;
    if (n.minProperties) j["minProperties"] = *n.minProperties;
    if (n.maxProperties) j["maxProperties"] = *n.maxProperties;
    if (!n.pattern.empty()) j["pattern"] = n.pattern;
    if (n.uniqueItems) j["uniqueItems"] = true;
    return j;
  }

  // Marks the definition `name` of `set` as used.
  void use(const std::string& name, const SchemaSet* set) {
    if (set != nullptr) uses_.emplace(name, set);
  }

  // Adds every definition used so far, and those they use, to `definitions` (names already
  // present are kept: custom resources define their own).
  void emitDefinitions(Json& definitions) {
    std::set<std::string> done;
    while (true) {
      std::map<std::string, const SchemaSet*> pending;
      for (const auto& [name, set] : uses_)
        if (!done.contains(name)) pending.emplace(name, set);
      if (pending.empty()) break;
      for (const auto& [name, set] : pending) {
        done.insert(name);
        if (definitions.contains(name)) continue;
        const Node* def = set->find(name);
        if (def != nullptr) definitions[name] = convert(*def, set, false);
      }
    }
  }

 private:
  std::map<std::string, const SchemaSet*> uses_;
};

// Kubernetes' operation id and tag spelling: non-alphanumerics dropped, the letter after them
// capitalised ("rbac.authorization" -> "RbacAuthorization").
std::string operationIdPart(std::string_view s, bool capitalizeFirst) {
  std::string out;
  bool upper = capitalizeFirst;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

std::string trimK8sIo(std::string group) {
  constexpr std::string_view kSuffix = ".k8s.io";
  if (group.ends_with(kSuffix)) group.resize(group.size() - kSuffix.size());
  return group;
}

// The definition name of a type's kind: the schema set's name for built-ins, the reversed
// group for custom resources ("stable.example.com" -> "com.example.stable.v1.CronTab").
std::string definitionName(const ResourceType& t, std::string_view kind) {
  if (t.schemas != nullptr) return t.schemas->kindName({t.group, t.version, std::string(kind)});
  std::string rev;
  std::string_view g = t.group;
  while (!g.empty()) {
    auto dot = g.rfind('.');
    std::string_view part = dot == std::string_view::npos ? g : g.substr(dot + 1);
    if (!rev.empty()) rev += '.';
    rev += part;
    g = dot == std::string_view::npos ? std::string_view() : g.substr(0, dot);
  }
  return rev + "." + t.version + "." + std::string(kind);
}

Json queryParam(const char* name, const char* type, const char* description) {
  return {{"name", name},
          {"in", "query"},
          {"type", type},
          {"uniqueItems", true},
          {"description", description}};
}

Json pathParam(const char* name, const std::string& description) {
  return {{"name", name},     {"in", "path"},        {"required", true},
          {"type", "string"}, {"uniqueItems", true}, {"description", description}};
}

Json bodyParam(const Json& schema) {
  return {{"name", "body"}, {"in", "body"}, {"required", true}, {"schema", schema}};
}

Json param(std::string_view name) {
  if (name == "allowWatchBookmarks")
    return queryParam("allowWatchBookmarks", "boolean",
                      "Ask for BOOKMARK events in a watch; the server may send them or not.");
  if (name == "continue")
    return queryParam("continue", "string", "The token of the next page of a paginated list.");
  if (name == "dryRun")
    return queryParam("dryRun", "string",
                      "\"All\" runs every stage of the request without persisting the result.");
  if (name == "fieldManager")
    return queryParam("fieldManager", "string", "The name of the actor making the change.");
  if (name == "fieldSelector")
    return queryParam("fieldSelector", "string", "Only objects whose fields match this selector.");
  if (name == "fieldValidation")
    return queryParam("fieldValidation", "string",
                      "What to do with unknown or duplicate fields in the body: Ignore, Warn "
                      "or Strict.");
  if (name == "force")
    return queryParam("force", "boolean",
                      "For apply patches: take ownership of fields other managers own.");
  if (name == "gracePeriodSeconds")
    return queryParam("gracePeriodSeconds", "integer", "Seconds to wait before deleting.");
  if (name == "labelSelector")
    return queryParam("labelSelector", "string", "Only objects whose labels match this selector.");
  if (name == "limit")
    return queryParam("limit", "integer", "The most items one page of the list may hold.");
  if (name == "orphanDependents")
    return queryParam("orphanDependents", "boolean",
                      "Deprecated: use propagationPolicy. Whether dependents are orphaned.");
  if (name == "pretty")
    return queryParam("pretty", "string", "When \"true\", the output is indented.");
  if (name == "propagationPolicy")
    return queryParam("propagationPolicy", "string",
                      "How dependents are deleted: Orphan, Background or Foreground.");
  if (name == "resourceVersion")
    return queryParam("resourceVersion", "string", "The resource version the result must reflect.");
  if (name == "resourceVersionMatch")
    return queryParam("resourceVersionMatch", "string",
                      "How resourceVersion applies: Exact or NotOlderThan.");
  if (name == "sendInitialEvents")
    return queryParam("sendInitialEvents", "boolean",
                      "Start a watch with synthetic ADDED events for the current objects.");
  if (name == "timeoutSeconds")
    return queryParam("timeoutSeconds", "integer", "How long a list or watch call may last.");
  if (name == "watch")
    return queryParam("watch", "boolean", "Stream changes instead of returning a list.");
  return Json();  // not reached: every caller names a parameter above
}

Json params(std::initializer_list<std::string_view> names) {
  Json out = Json::array();
  for (auto n : names) out.push_back(param(n));
  return out;
}

const std::initializer_list<std::string_view> kListParams = {"allowWatchBookmarks",
                                                             "continue",
                                                             "fieldSelector",
                                                             "labelSelector",
                                                             "limit",
                                                             "resourceVersion",
                                                             "resourceVersionMatch",
                                                             "sendInitialEvents",
                                                             "timeoutSeconds",
                                                             "watch"};

Json response(const char* description, const Json& schema) {
  Json r = {{"description", description}};
  if (!schema.is_null()) r["schema"] = schema;
  return r;
}

// Adds the paths and operations of one resource type, as Kubernetes lays them out.
class PathBuilder {
 public:
  PathBuilder(const ResourceType& t, std::string object, std::string list)
      : t_(t), object_(std::move(object)), list_(std::move(list)) {
    base_ = t.group.empty() ? "/api/" + t.version : "/apis/" + t.group + "/" + t.version;
    std::string group = t.group.empty() ? "core" : trimK8sIo(t.group);
    gv_ = operationIdPart(group, true) + operationIdPart(t.version, true);
    tag_ = operationIdPart(group, false) + "_" + operationIdPart(t.version, false);
    scoped_ = (t.namespaced ? "Namespaced" : "") + t.kind;
    gvk_ = {{"group", t.group}, {"kind", t.kind}, {"version", t.version}};
    produces_ = Json::array({"application/json", "application/yaml"});
    if (!t.isCustomResource) produces_.push_back("application/vnd.kubernetes.protobuf");
    watchProduces_ = produces_;
    watchProduces_.push_back("application/json;stream=watch");
    if (!t.isCustomResource)
      watchProduces_.push_back("application/vnd.kubernetes.protobuf;stream=watch");
  }

  void addTo(Json& paths) {
    const ResourceType& t = t_;
    std::string nsPart = t.namespaced ? "/namespaces/{namespace}/" : "/";
    std::string collection = base_ + nsPart + t.plural;
    std::string item = collection + "/{name}";
    Json objRef = refTo(object_);
    Json statusRef = refTo(kMeta + "Status");
    Json eventRef = refTo(kMeta + "WatchEvent");
    Json listRef = list_.empty() ? Json() : refTo(list_);

    Json collParams = Json::array();
    if (t.namespaced)
      collParams.push_back(
          pathParam("namespace", "The namespace of the objects, which also scopes authorization."));
    collParams.push_back(param("pretty"));
    Json itemParams = Json::array({pathParam("name", "The name of the " + t.kind + ".")});
    for (const auto& p : collParams) itemParams.push_back(p);

    Json coll = Json::object();
    if (t.hasVerb("list") && !list_.empty())
      coll["get"] = op("list", "list", scoped_, "List or watch " + t.kind + " objects.",
                       params(kListParams), {{"200", response("OK", listRef)}}, watchProduces_);
    if (t.hasVerb("create"))
      coll["post"] = op("post", "create", scoped_, "Create a " + t.kind + ".",
                        withBody(objRef, {"dryRun", "fieldManager", "fieldValidation"}),
                        {{"200", response("OK", objRef)},
                         {"201", response("Created", objRef)},
                         {"202", response("Accepted", objRef)}});
    if (t.hasVerb("deletecollection"))
      coll["delete"] =
          op("deletecollection", "delete", "Collection" + scoped_,
             "Delete a collection of " + t.kind + " objects.",
             withBody(refTo(kMeta + "DeleteOptions"),
                      {"continue", "dryRun", "fieldSelector", "gracePeriodSeconds", "labelSelector",
                       "limit", "orphanDependents", "propagationPolicy", "resourceVersion",
                       "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds"}),
             {{"200", response("OK", statusRef)}});
    addPath(paths, collection, std::move(coll), collParams);

    Json it = Json::object();
    if (t.hasVerb("get"))
      it["get"] = op("get", "read", scoped_, "Read the named " + t.kind + ".", Json::array(),
                     {{"200", response("OK", objRef)}});
    if (t.hasVerb("update"))
      it["put"] = op("put", "replace", scoped_, "Replace the named " + t.kind + ".",
                     withBody(objRef, {"dryRun", "fieldManager", "fieldValidation"}),
                     {{"200", response("OK", objRef)}, {"201", response("Created", objRef)}});
    if (t.hasVerb("patch")) it["patch"] = patchOp(scoped_, "the named " + t.kind, objRef);
    if (t.hasVerb("delete"))
      it["delete"] =
          op("delete", "delete", scoped_, "Delete the named " + t.kind + ".",
             withBody(refTo(kMeta + "DeleteOptions"),
                      {"dryRun", "gracePeriodSeconds", "orphanDependents", "propagationPolicy"}),
             {{"200", response("OK", statusRef)}, {"202", response("Accepted", statusRef)}});
    addPath(paths, item, std::move(it), itemParams);

    if (t.statusSubresource) {
      std::string what = "the status of the named " + t.kind;
      Json st = Json::object();
      st["get"] = op("get", "read", scoped_ + "Status", "Read " + what + ".", Json::array(),
                     {{"200", response("OK", objRef)}});
      st["put"] = op("put", "replace", scoped_ + "Status", "Replace " + what + ".",
                     withBody(objRef, {"dryRun", "fieldManager", "fieldValidation"}),
                     {{"200", response("OK", objRef)}, {"201", response("Created", objRef)}});
      st["patch"] = patchOp(scoped_ + "Status", what, objRef);
      addPath(paths, item + "/status", std::move(st), itemParams);
    }
    if (t.scale) {
      Json scaleRef = refTo(kScale);
      Json scaleGvk = {{"group", "autoscaling"}, {"kind", "Scale"}, {"version", "v1"}};
      std::string what = "the scale of the named " + t.kind;
      Json sc = Json::object();
      sc["get"] = op("get", "read", scoped_ + "Scale", "Read " + what + ".", Json::array(),
                     {{"200", response("OK", scaleRef)}});
      sc["put"] = op("put", "replace", scoped_ + "Scale", "Replace " + what + ".",
                     withBody(scaleRef, {"dryRun", "fieldManager", "fieldValidation"}),
                     {{"200", response("OK", scaleRef)}, {"201", response("Created", scaleRef)}});
      sc["patch"] = patchOp(scoped_ + "Scale", what, scaleRef);
      for (const char* m : {"get", "put", "patch"})
        sc[m]["x-kubernetes-group-version-kind"] = scaleGvk;
      addPath(paths, item + "/scale", std::move(sc), itemParams);
    }

    if (t.hasVerb("watch")) {
      std::string watchBase = base_ + "/watch" + nsPart + t.plural;
      Json watchParams = collParams;
      for (const auto& p : params(kListParams)) watchParams.push_back(p);
      Json w = Json::object();
      w["get"] = op("watchlist", "watch", scoped_ + "List",
                    "Watch changes to a list of " + t.kind +
                        " objects. Deprecated: list with "
                        "the watch parameter instead.",
                    Json::array(), {{"200", response("OK", eventRef)}}, watchProduces_);
      addPath(paths, watchBase, std::move(w), watchParams);
      Json wi = Json::object();
      Json watchItemParams = Json::array({pathParam("name", "The name of the " + t.kind + ".")});
      for (const auto& p : watchParams) watchItemParams.push_back(p);
      wi["get"] = op("watch", "watch", scoped_,
                     "Watch changes to the named " + t.kind +
                         ". Deprecated: list with the "
                         "watch parameter and a metadata.name field selector instead.",
                     Json::array(), {{"200", response("OK", eventRef)}}, watchProduces_);
      addPath(paths, watchBase + "/{name}", std::move(wi), watchItemParams);
    }

    if (t.namespaced) {
      Json allParams = Json::array({param("pretty")});
      for (const auto& p : params(kListParams)) allParams.push_back(p);
      if (t.hasVerb("list") && !list_.empty()) {
        Json all = Json::object();
        all["get"] = op("list", "list", t.kind + "ForAllNamespaces",
                        "List or watch " + t.kind + " objects of every namespace.", Json::array(),
                        {{"200", response("OK", listRef)}}, watchProduces_);
        addPath(paths, base_ + "/" + t.plural, std::move(all), allParams);
      }
      if (t.hasVerb("watch")) {
        Json wa = Json::object();
        wa["get"] = op("watchlist", "watch", t.kind + "ListForAllNamespaces",
                       "Watch changes to " + t.kind +
                           " objects of every namespace. Deprecated: "
                           "list with the watch parameter instead.",
                       Json::array(), {{"200", response("OK", eventRef)}}, watchProduces_);
        addPath(paths, base_ + "/watch/" + t.plural, std::move(wa), allParams);
      }
    }
  }

 private:
  static void addPath(Json& paths, const std::string& path, Json item, const Json& pathParams) {
    if (item.empty()) return;
    item["parameters"] = pathParams;
    paths[path] = std::move(item);
  }

  static Json withBody(const Json& schema, std::initializer_list<std::string_view> names) {
    Json out = Json::array({bodyParam(schema)});
    for (auto n : names) out.push_back(param(n));
    return out;
  }

  Json op(const char* action, const std::string& verb, const std::string& subject,
          const std::string& description, Json parameters, Json responses,
          std::optional<Json> produces = std::nullopt) const {
    responses["401"] = response("Unauthorized", Json());
    Json o = {{"tags", Json::array({tag_})},
              {"description", description},
              {"operationId", verb + gv_ + subject},
              {"consumes", Json::array({"*/*"})},
              {"produces", produces ? *produces : produces_},
              {"schemes", Json::array({"https"})},
              {"responses", std::move(responses)},
              {"x-kubernetes-action", action},
              {"x-kubernetes-group-version-kind", gvk_}};
    if (!parameters.empty()) o["parameters"] = std::move(parameters);
    return o;
  }

  Json patchOp(const std::string& subject, const std::string& what, const Json& ref) const {
    Json o =
        op("patch", "patch", subject, "Partially update " + what + ".",
           withBody(refTo(kMeta + "Patch"), {"dryRun", "fieldManager", "fieldValidation", "force"}),
           {{"200", response("OK", ref)}, {"201", response("Created", ref)}});
    Json consumes = Json::array({"application/json-patch+json", "application/merge-patch+json"});
    // Custom resources have no Go struct to drive a strategic merge.
    if (!t_.isCustomResource) consumes.push_back("application/strategic-merge-patch+json");
    consumes.push_back("application/apply-patch+yaml");
    o["consumes"] = std::move(consumes);
    return o;
  }

  const ResourceType& t_;
  std::string object_, list_;
  std::string base_, gv_, tag_, scoped_;
  Json gvk_, produces_, watchProduces_;
};

// The definitions of a custom resource: its schema (self-contained) with the standard fields,
// and its List.
void addCustomResourceDefinitions(const ResourceType& t, const std::string& name,
                                  const std::string& listName, SchemaConverter& conv,
                                  Json& definitions) {
  const SchemaSet* builtin = &schema::builtinSchemas();
  Json s = t.schema != nullptr ? conv.convert(*t.schema, builtin, true) : Json::object();
  if (t.schema == nullptr) s["x-kubernetes-preserve-unknown-fields"] = true;
  s["type"] = "object";
  Json& props = s["properties"];
  if (!props.is_object()) props = Json::object();
  props["apiVersion"] = {{"type", "string"},
                         {"description", "The versioned schema of this object."}};
  props["kind"] = {{"type", "string"}, {"description", "The REST resource type of this object."}};
  props["metadata"] = refTo(kMeta + "ObjectMeta");
  props["metadata"]["description"] = "Standard object metadata.";
  conv.use(kMeta + "ObjectMeta", builtin);
  s["x-kubernetes-group-version-kind"] =
      Json::array({{{"group", t.group}, {"kind", t.kind}, {"version", t.version}}});
  definitions[name] = std::move(s);

  Json listMeta = refTo(kMeta + "ListMeta");
  listMeta["description"] = "Standard list metadata.";
  conv.use(kMeta + "ListMeta", builtin);
  definitions[listName] = {
      {"description", "A list of " + t.kind + " objects."},
      {"type", "object"},
      {"required", Json::array({"items"})},
      {"properties",
       {{"apiVersion", {{"type", "string"}, {"description", "The versioned schema of this list."}}},
        {"kind", {{"type", "string"}, {"description", "The REST resource type of this list."}}},
        {"items", {{"type", "array"}, {"items", refTo(name)}, {"description", "The objects."}}},
        {"metadata", std::move(listMeta)}}},
      {"x-kubernetes-group-version-kind",
       Json::array({{{"group", t.group}, {"kind", t.kind + "List"}, {"version", t.version}}})}};
}

}  // namespace

Json buildDocument(const std::vector<registry::ResourceTypePtr>& types) {
  const SchemaSet* builtin = &schema::builtinSchemas();
  SchemaConverter conv;
  Json paths = Json::object();
  Json definitions = Json::object();
  for (const auto& tp : types) {
    const ResourceType& t = *tp;
    std::string name = definitionName(t, t.kind);
    std::string listName = definitionName(t, t.kind + "List");
    if (t.schemas != nullptr) {
      // A built-in: its kind (and List, when it has one) are named definitions of its set.
      if (name.empty() || t.schemas->find(name) == nullptr) continue;
      conv.use(name, t.schemas);
      if (listName.empty() || t.schemas->find(listName) == nullptr) {
        listName.clear();
      } else {
        conv.use(listName, t.schemas);
      }
    } else {
      addCustomResourceDefinitions(t, name, listName, conv, definitions);
    }
    PathBuilder(t, name, listName).addTo(paths);
    if (t.scale) conv.use(kScale, builtin);
  }
  for (const char* m : {"Status", "Patch", "DeleteOptions", "WatchEvent"})
    conv.use(kMeta + m, builtin);
  conv.emitDefinitions(definitions);
  return {{"swagger", "2.0"},
          {"info", {{"title", "Kubernetes"}, {"version", kKubernetesGitVersion}}},
          {"paths", std::move(paths)},
          {"definitions", std::move(definitions)},
          {"securityDefinitions",
           {{"BearerToken",
             {{"type", "apiKey"},
              {"name", "authorization"},
              {"in", "header"},
              {"description", "Bearer token authentication"}}}}},
          {"security", Json::array({{{"BearerToken", Json::array()}}})}};
}

}  // namespace nave::openapiv2
