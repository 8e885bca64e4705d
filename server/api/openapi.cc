#include "server/api/openapi.h"

#include <openssl/sha.h>

#include <set>

#include "server/version.h"

namespace nave::api {
namespace {

using schema::Node;
using schema::SchemaSet;
using schema::Type;

constexpr std::string_view kRefPrefix = "#/components/schemas/";
constexpr const char* kMeta = "io.k8s.apimachinery.pkg.apis.meta.v1.";

std::string hexSha512(std::string_view data) {
  unsigned char digest[SHA512_DIGEST_LENGTH];
  SHA512(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : digest) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

Json refTo(std::string_view name) { return {{"$ref", std::string(kRefPrefix) + std::string(name)}}; }

class Converter {
 public:
  explicit Converter(const SchemaSet* set) : set_(set) {}

  Json convert(const Node& n) {
    Json j = Json::object();
    if (!n.ref.empty()) {
      uses_.insert(n.ref);
      j["allOf"] = Json::array({refTo(n.ref)});
      const Node* target = set_ ? set_->find(n.ref) : nullptr;
      if (target && target->type == Type::kObject) j["default"] = Json::object();
    } else {
      switch (n.type) {
        case Type::kObject: {
          j["type"] = "object";
          if (!n.properties.empty()) {
            Json props = Json::object();
            for (const auto& p : n.properties) props[p.name] = convert(*p.schema);
            j["properties"] = std::move(props);
          }
          if (!n.required.empty()) j["required"] = n.required;
          break;
        }
        case Type::kMap:
          j["type"] = "object";
          if (n.additionalProperties) j["additionalProperties"] = convert(*n.additionalProperties);
          break;
        case Type::kArray:
          j["type"] = "array";
          if (n.items) j["items"] = convert(*n.items);
          break;
        case Type::kString: j["type"] = "string"; break;
        case Type::kInteger: j["type"] = "integer"; break;
        case Type::kNumber: j["type"] = "number"; break;
        case Type::kBoolean: j["type"] = "boolean"; break;
        case Type::kIntOrString:
          j["x-kubernetes-int-or-string"] = true;
          j["anyOf"] = Json::array({{{"type", "integer"}}, {{"type", "string"}}});
          break;
        case Type::kAny:
          break;
      }
      if (!n.format.empty() && n.type != Type::kIntOrString) j["format"] = n.format;
      if (n.preserveUnknownFields) j["x-kubernetes-preserve-unknown-fields"] = true;
    }
    if (!n.description.empty()) j["description"] = n.description;
    if (n.defaultValue) j["default"] = *n.defaultValue;
    if (!n.enumValues.empty()) j["enum"] = n.enumValues;
    if (n.nullable) j["nullable"] = true;
    if (!n.patchStrategy.empty()) j["x-kubernetes-patch-strategy"] = n.patchStrategy;
    if (!n.patchMergeKey.empty()) j["x-kubernetes-patch-merge-key"] = n.patchMergeKey;
    if (!n.listType.empty()) j["x-kubernetes-list-type"] = n.listType;
    if (!n.listMapKeys.empty()) j["x-kubernetes-list-map-keys"] = n.listMapKeys;
    if (!n.mapType.empty()) j["x-kubernetes-map-type"] = n.mapType;
    if (n.embeddedResource) j["x-kubernetes-embedded-resource"] = true;
    if (!n.gvks.empty()) {
      Json g = Json::array();
      for (const auto& gvk : n.gvks)
        g.push_back({{"group", gvk.group}, {"kind", gvk.kind}, {"version", gvk.version}});
      j["x-kubernetes-group-version-kind"] = std::move(g);
    }
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
    for (auto [name, list] : {std::pair{"allOf", &n.allOf}, {"anyOf", &n.anyOf}, {"oneOf", &n.oneOf}}) {
      if (list->empty()) continue;
      Json a = Json::array();
      for (const auto& s : *list) a.push_back(convert(*s));
      j[name] = std::move(a);
    }
    if (n.notSchema) j["not"] = convert(*n.notSchema);
    return j;
  }

  // Adds every definition named so far, and those they use, to `components`.
  void emitDefinitions(Json& components) {
    std::set<std::string> done;
    while (true) {
      std::set<std::string> pending;
      for (const auto& u : uses_)
        if (!done.contains(u)) pending.insert(u);
      if (pending.empty()) break;
      for (const auto& name : pending) {
        done.insert(name);
        const Node* def = set_ ? set_->find(name) : nullptr;
        if (def == nullptr) continue;
        components[name] = convert(*def);
      }
    }
  }

  void use(const std::string& name) { uses_.insert(name); }

 private:
  const SchemaSet* set_;
  std::set<std::string> uses_;
};

Json queryParam(const char* name, const char* type, const char* description) {
  return {{"name", name}, {"in", "query"}, {"description", description},
          {"schema", {{"type", type}, {"uniqueItems", true}}}};
}

Json jsonContent(const Json& schema) {
  Json c = Json::object();
  for (const char* t : {"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"})
    c[t] = {{"schema", schema}};
  return c;
}

std::string operationPrefix(const registry::ResourceType& t) {
  // listCoreV1NamespacedPod, readAppsV1NamespacedDeployment, ...
  std::string g = t.group.empty() ? "core" : t.group;
  std::string out;
  bool upper = true;
  for (char c : g.substr(0, g.find('.'))) {
    if (c == '-') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  std::string v = t.version;
  v[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(v[0])));
  return out + v;
}

std::string componentName(const registry::ResourceType& t, const SchemaSet* set) {
  if (set != nullptr && t.schema != nullptr) {
    std::string n = set->kindName({t.group, t.version, t.kind});
    if (!n.empty()) return n;
  }
  // Custom resources: the group reversed ("stable.example.com" -> "com.example.stable").
  std::string rev;
  std::string g = t.group;
  while (!g.empty()) {
    auto dot = g.rfind('.');
    std::string part = dot == std::string::npos ? g : g.substr(dot + 1);
    if (!rev.empty()) rev += '.';
    rev += part;
    g = dot == std::string::npos ? "" : g.substr(0, dot);
  }
  return rev + "." + t.version + "." + t.kind;
}

void addPaths(const registry::ResourceType& t, const std::string& component, Json& paths) {
  std::string base = t.group.empty() ? "/api/" + t.version : "/apis/" + t.group + "/" + t.version;
  std::string collection = base + (t.namespaced ? "/namespaces/{namespace}/" : "/") + t.plural;
  std::string item = collection + "/{name}";
  Json gvk = {{"group", t.group}, {"version", t.version}, {"kind", t.kind}};
  std::string prefix = operationPrefix(t);
  std::string scoped = (t.namespaced ? "Namespaced" : "") + t.kind;
  Json objRef = refTo(component);
  Json listRef = refTo(component + "List");
  Json statusRef = refTo(std::string(kMeta) + "Status");
  Json tags = Json::array({(t.group.empty() ? "core" : t.group) + "_" + t.version});

  Json pathParams = Json::array();
  if (t.namespaced)
    pathParams.push_back({{"name", "namespace"}, {"in", "path"}, {"required", true},
                          {"description", "object name and auth scope, such as for teams and projects"},
                          {"schema", {{"type", "string"}, {"uniqueItems", true}}}});
  Json itemParams = pathParams;
  itemParams.push_back({{"name", "name"}, {"in", "path"}, {"required", true},
                        {"description", "name of the " + t.kind},
                        {"schema", {{"type", "string"}, {"uniqueItems", true}}}});

  Json listParams = Json::array(
      {queryParam("allowWatchBookmarks", "boolean", "request watch events with type BOOKMARK"),
       queryParam("continue", "string", "token to retrieve the next page of a chunked list"),
       queryParam("fieldSelector", "string", "restrict the list by fields"),
       queryParam("labelSelector", "string", "restrict the list by labels"),
       queryParam("limit", "integer", "maximum number of items in the response"),
       queryParam("resourceVersion", "string", "which version of the list to serve"),
       queryParam("resourceVersionMatch", "string", "how resourceVersion is matched"),
       queryParam("sendInitialEvents", "boolean", "start a watch with the current state"),
       queryParam("timeoutSeconds", "integer", "timeout of the call"),
       queryParam("watch", "boolean", "stream changes instead of listing")});
  Json writeParams = Json::array(
      {queryParam("dryRun", "string", "when present, do not persist the change (All)"),
       queryParam("fieldManager", "string", "name of the actor making the change"),
       queryParam("fieldValidation", "string",
                  "how to handle unknown or duplicate fields: Ignore, Warn or Strict")});
  Json patchParams = writeParams;
  patchParams.push_back(queryParam("force", "boolean", "take ownership of conflicting fields (apply)"));
  Json deleteParams = Json::array(
      {queryParam("dryRun", "string", "when present, do not persist the change (All)"),
       queryParam("gracePeriodSeconds", "integer", "seconds before the object is deleted"),
       queryParam("propagationPolicy", "string", "Orphan, Background or Foreground")});

  auto op = [&](const std::string& action, const std::string& verb, Json params, const Json& response,
                std::optional<Json> body) {
    Json o = {{"tags", tags},
              {"description", verb + " " + t.kind},
              {"operationId", verb + prefix + scoped},
              {"parameters", std::move(params)},
              {"responses", {{"200", {{"description", "OK"}, {"content", jsonContent(response)}}},
                             {"401", {{"description", "Unauthorized"}}}}},
              {"x-kubernetes-action", action},
              {"x-kubernetes-group-version-kind", gvk}};
    if (body) o["requestBody"] = {{"content", *body}, {"required", true}};
    return o;
  };
  Json patchBody = Json::object();
  for (const char* ct : {"application/json-patch+json", "application/merge-patch+json",
                         "application/strategic-merge-patch+json", "application/apply-patch+yaml"})
    patchBody[ct] = {{"schema", refTo(std::string(kMeta) + "Patch")}};

  Json coll = {{"parameters", pathParams}};
  coll["get"] = op("list", "list", listParams, listRef, std::nullopt);
  if (t.hasVerb("create")) coll["post"] = op("post", "create", writeParams, objRef, jsonContent(objRef));
  if (t.hasVerb("deletecollection"))
    coll["delete"] = op("deletecollection", "deleteCollection", deleteParams, statusRef, std::nullopt);
  paths[collection] = std::move(coll);

  Json it = {{"parameters", itemParams}};
  if (t.hasVerb("get")) it["get"] = op("get", "read", Json::array(), objRef, std::nullopt);
  if (t.hasVerb("update")) it["put"] = op("put", "replace", writeParams, objRef, jsonContent(objRef));
  if (t.hasVerb("patch")) it["patch"] = op("patch", "patch", patchParams, objRef, patchBody);
  if (t.hasVerb("delete")) it["delete"] = op("delete", "delete", deleteParams, statusRef, std::nullopt);
  paths[item] = std::move(it);

  if (t.statusSubresource) {
    Json st = {{"parameters", itemParams}};
    st["get"] = op("get", "read", Json::array(), objRef, std::nullopt);
    st["put"] = op("put", "replace", writeParams, objRef, jsonContent(objRef));
    st["patch"] = op("patch", "patch", patchParams, objRef, patchBody);
    paths[item + "/status"] = std::move(st);
  }
  if (t.scale) {
    Json scaleRef = refTo("io.k8s.api.autoscaling.v1.Scale");
    Json sc = {{"parameters", itemParams}};
    Json scaleGvk = {{"group", "autoscaling"}, {"version", "v1"}, {"kind", "Scale"}};
    sc["get"] = op("get", "read", Json::array(), scaleRef, std::nullopt);
    sc["get"]["x-kubernetes-group-version-kind"] = scaleGvk;
    sc["put"] = op("put", "replace", writeParams, scaleRef, jsonContent(scaleRef));
    sc["put"]["x-kubernetes-group-version-kind"] = scaleGvk;
    sc["patch"] = op("patch", "patch", patchParams, scaleRef, patchBody);
    sc["patch"]["x-kubernetes-group-version-kind"] = scaleGvk;
    paths[item + "/scale"] = std::move(sc);
  }
  if (t.namespaced) {
    Json all = Json::object();
    all["get"] = op("list", "list", listParams, listRef, std::nullopt);
    all["get"]["operationId"] = "list" + prefix + t.kind + "ForAllNamespaces";
    paths[base + "/" + t.plural] = std::move(all);
  }
}

OpenApiDocument buildDocument(const std::vector<registry::ResourceTypePtr>& types) {
  const SchemaSet* builtin = &schema::builtinSchemas();
  Converter conv(builtin);
  Json paths = Json::object();
  Json components = Json::object();
  for (const auto& t : types) {
    std::string component = componentName(*t, t->schemas);
    addPaths(*t, component, paths);
    if (t->schemas != nullptr) {
      conv.use(component);
      conv.use(component + "List");
    } else if (t->schema != nullptr) {
      // A custom resource: its schema is self-contained, plus the standard fields.
      Json s = conv.convert(*t->schema);
      s["type"] = "object";
      s["x-kubernetes-group-version-kind"] =
          Json::array({{{"group", t->group}, {"kind", t->kind}, {"version", t->version}}});
      Json& props = s["properties"];
      if (!props.is_object()) props = Json::object();
      props["apiVersion"] = {{"type", "string"}, {"description", "The versioned schema of this object."}};
      props["kind"] = {{"type", "string"}, {"description", "The REST resource type of this object."}};
      props["metadata"] = {{"allOf", Json::array({refTo(std::string(kMeta) + "ObjectMeta")})},
                           {"default", Json::object()},
                           {"description", "Standard object's metadata."}};
      conv.use(std::string(kMeta) + "ObjectMeta");
      components[component] = s;
      components[component + "List"] = {
          {"type", "object"},
          {"required", Json::array({"items"})},
          {"properties",
           {{"apiVersion", {{"type", "string"}}},
            {"kind", {{"type", "string"}}},
            {"items", {{"type", "array"}, {"items", refTo(component)}}},
            {"metadata", {{"allOf", Json::array({refTo(std::string(kMeta) + "ListMeta")})},
                          {"default", Json::object()}}}}},
          {"x-kubernetes-group-version-kind",
           Json::array({{{"group", t->group}, {"kind", t->kind + "List"}, {"version", t->version}}})}};
      conv.use(std::string(kMeta) + "ListMeta");
    }
    if (t->scale) conv.use("io.k8s.api.autoscaling.v1.Scale");
  }
  for (const char* m : {"Status", "Patch", "DeleteOptions", "WatchEvent"}) conv.use(std::string(kMeta) + m);
  conv.emitDefinitions(components);
  Json doc = {{"openapi", "3.0.0"},
              {"info", {{"title", "Kubernetes"}, {"version", kKubernetesGitVersion}}},
              {"paths", std::move(paths)},
              {"components", {{"schemas", std::move(components)}}}};
  OpenApiDocument out;
  out.json = dumpJson(doc);
  out.hash = hexSha512(out.json);
  return out;
}

}  // namespace

void OpenApi::refresh() {
  uint64_t gen = types_.generation();
  if (gen == generation_) return;
  std::map<std::string, std::vector<registry::ResourceTypePtr>> byPath;
  for (const auto& t : types_.all()) {
    std::string path = t->group.empty() ? "api/" + t->version : "apis/" + t->group + "/" + t->version;
    byPath[path].push_back(t);
  }
  documents_.clear();
  for (const auto& [path, types] : byPath) documents_[path] = buildDocument(types);
  generation_ = gen;
}

Json OpenApi::index() {
  std::lock_guard lock(mu_);
  refresh();
  Json paths = Json::object();
  for (const auto& [path, doc] : documents_)
    paths[path] = {{"serverRelativeURL", "/openapi/v3/" + path + "?hash=" + doc.hash}};
  return {{"paths", paths}};
}

Result<OpenApiDocument> OpenApi::document(std::string_view path) {
  std::lock_guard lock(mu_);
  refresh();
  auto it = documents_.find(std::string(path));
  if (it == documents_.end()) return Error(ErrorCode::kNotFound, "404 page not found");
  return it->second;
}

Json schemaToOpenApi(const registry::ResourceType& type) {
  if (type.schema == nullptr) return Json::object();
  Converter conv(type.schemas);
  return conv.convert(*type.schema);
}

}  // namespace nave::api
