// The /openapi/v2 document (server/openapiv2/document.cc) and its gnostic protobuf encoding
// (server/openapiv2/encoding.cc): the shape kubectl 1.27-1.29 read (PATCH operations with
// fieldValidation, group-version-kind extensions, definitions kube-openapi's proto models
// accept), checked on the JSON and, through a small wire decoder, on the encoded bytes.
#include "server/openapiv2/openapiv2.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/yaml.h"
#include "server/openapiv2/document_cache.h"
#include "server/registry/builtin_types.h"
#include "server/registry/type_registry.h"

namespace nave::openapiv2 {
namespace {

using schema::Node;
using schema::NodePtr;
using schema::Type;

const std::string kDeploymentItem = "/apis/apps/v1/namespaces/{namespace}/deployments/{name}";
const std::string kDef = "#/definitions/";

std::vector<registry::ResourceTypePtr> builtinTypes() {
  static registry::TypeRegistry* reg = [] {
    auto* r = new registry::TypeRegistry();
    registry::registerBuiltinTypes(*r, {});
    return r;
  }();
  return reg->all();
}

const Json& builtinDocument() {
  static const Json doc = buildDocument(builtinTypes());
  return doc;
}

const Json* queryParamNamed(const Json& op, std::string_view name) {
  if (!op.contains("parameters")) return nullptr;
  for (const Json& p : op["parameters"])
    if (getString(p, "name") == name && getString(p, "in") == "query") return &p;
  return nullptr;
}

std::shared_ptr<Node> node(Type t, std::string description = "") {
  auto n = std::make_shared<Node>();
  n->type = t;
  n->description = std::move(description);
  return n;
}

// A custom resource exercising the v2 reductions: nullable, int-or-string, unknown fields
// with properties, an array without items.
registry::ResourceTypePtr cronTabType() {
  auto spec = std::make_shared<Node>();
  spec->type = Type::kObject;
  spec->description = "The desired state.";
  spec->properties.push_back({"replicas", node(Type::kInteger, "How many.")});
  spec->properties.push_back({"size", node(Type::kIntOrString)});
  auto extra = std::make_shared<Node>();
  extra->type = Type::kObject;
  extra->preserveUnknownFields = true;
  extra->properties.push_back({"known", node(Type::kString)});
  spec->properties.push_back({"extra", extra});
  auto nullable = std::make_shared<Node>();
  nullable->type = Type::kString;
  nullable->nullable = true;
  spec->properties.push_back({"nullableField", nullable});
  spec->properties.push_back({"untyped", node(Type::kArray)});
  auto ports = std::make_shared<Node>();
  ports->type = Type::kArray;
  ports->listType = "map";
  ports->listMapKeys = {"port"};
  auto port = std::make_shared<Node>();
  port->type = Type::kObject;
  port->properties.push_back({"port", node(Type::kInteger)});
  port->required = {"port"};
  ports->items = port;
  spec->properties.push_back({"ports", ports});
  auto color = node(Type::kString);
  color->enumValues = {"red", "green"};
  color->defaultValue = "red";
  spec->properties.push_back({"color", color});
  spec->required = {"replicas", "nullableField"};

  auto root = std::make_shared<Node>();
  root->type = Type::kObject;
  root->description = "A cron tab.";
  root->properties.push_back({"spec", spec});
  root->gvks = {{"stable.example.com", "v1", "CronTab"}};

  auto t = std::make_shared<registry::ResourceType>();
  t->group = "stable.example.com";
  t->version = "v1";
  t->kind = "CronTab";
  t->plural = "crontabs";
  t->singular = "crontab";
  t->isCustomResource = true;
  t->statusSubresource = true;
  t->scale = registry::ScaleSubresource{};
  t->ownedSchema = root;
  t->schema = root.get();
  return t;
}

// Every "$ref" anywhere in `j` names a definition of `doc`.
void checkRefs(const Json& j, const Json& definitions, const std::string& where,
               std::set<std::string>& missing) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if (k == "$ref" && v.is_string()) {
        std::string ref = v.get<std::string>();
        if (!ref.starts_with(kDef) || !definitions.contains(ref.substr(kDef.size())))
          missing.insert(where + ": " + ref);
      } else {
        checkRefs(v, definitions, where, missing);
      }
    }
  } else if (j.is_array()) {
    for (const auto& v : j) checkRefs(v, definitions, where, missing);
  }
}

// The rules kube-openapi's proto models (kubectl's pkg/util/openapi) apply when they parse a
// definition; a violation anywhere makes kubectl refuse the whole document.
void checkParsable(const Json& s, const std::string& path, std::vector<std::string>& errors) {
  if (!s.is_object()) {
    errors.push_back(path + ": not an object");
    return;
  }
  if (s.contains("$ref")) {
    if (s.contains("type") || s.contains("properties"))
      errors.push_back(path + ": a $ref with a type or properties");
    return;
  }
  std::string type;
  if (s.contains("type")) {
    if (!s["type"].is_string()) {
      errors.push_back(path + ": type is not a single string");
      return;
    }
    type = s["type"].get<std::string>();
  }
  if (type == "array") {
    if (!s.contains("items") || !s["items"].is_object())
      errors.push_back(path + ": array without exactly one item schema");
    else
      checkParsable(s["items"], path + "[]", errors);
  } else if (type == "object" || type.empty()) {
    if (s.contains("properties")) {
      for (const auto& [name, p] : s["properties"].items())
        checkParsable(p, path + "." + name, errors);
    } else if (s.contains("additionalProperties") && s["additionalProperties"].is_object()) {
      checkParsable(s["additionalProperties"], path + "{}", errors);
    }
  } else if (type != "string" && type != "integer" && type != "number" && type != "boolean") {
    errors.push_back(path + ": unknown primitive type " + type);
  }
}

TEST(OpenApiV2Document, TopLevelShape) {
  const Json& doc = builtinDocument();
  EXPECT_EQ(doc["swagger"], "2.0");
  EXPECT_EQ(doc["info"]["title"], "Kubernetes");
  EXPECT_FALSE(getString(doc["info"], "version").empty());
  EXPECT_TRUE(doc["paths"].is_object());
  EXPECT_TRUE(doc["definitions"].is_object());
  EXPECT_EQ(doc["securityDefinitions"]["BearerToken"]["type"], "apiKey");
}

TEST(OpenApiV2Document, DeploymentPatchHasFieldValidation) {
  const Json& paths = builtinDocument()["paths"];
  ASSERT_TRUE(paths.contains(kDeploymentItem));
  const Json& item = paths[kDeploymentItem];
  ASSERT_TRUE(item.contains("patch"));
  const Json& patch = item["patch"];
  EXPECT_EQ(patch["operationId"], "patchAppsV1NamespacedDeployment");
  EXPECT_EQ(patch["x-kubernetes-action"], "patch");
  EXPECT_EQ(patch["x-kubernetes-group-version-kind"],
            Json({{"group", "apps"}, {"kind", "Deployment"}, {"version", "v1"}}));
  for (const char* name : {"fieldValidation", "dryRun", "fieldManager", "force"}) {
    const Json* p = queryParamNamed(patch, name);
    ASSERT_NE(p, nullptr) << name;
    EXPECT_TRUE((*p)["type"].is_string()) << name;
  }
  const Json& body = patch["parameters"][0];
  EXPECT_EQ(body["in"], "body");
  EXPECT_EQ(body["schema"]["$ref"], kDef + "io.k8s.apimachinery.pkg.apis.meta.v1.Patch");
  std::set<std::string> consumes;
  for (const Json& c : patch["consumes"]) consumes.insert(c.get<std::string>());
  EXPECT_TRUE(consumes.contains("application/strategic-merge-patch+json"));
  EXPECT_TRUE(consumes.contains("application/apply-patch+yaml"));
  EXPECT_EQ(patch["responses"]["200"]["schema"]["$ref"], kDef + "io.k8s.api.apps.v1.Deployment");

  for (const char* method : {"get", "put", "delete"}) EXPECT_TRUE(item.contains(method)) << method;
  EXPECT_NE(queryParamNamed(item["put"], "fieldValidation"), nullptr);
  EXPECT_EQ(queryParamNamed(item["put"], "force"), nullptr);
  // Path parameters sit on the path item, as in Kubernetes.
  std::set<std::string> pathParams;
  for (const Json& p : item["parameters"])
    if (p["in"] == "path") pathParams.insert(p["name"].get<std::string>());
  EXPECT_EQ(pathParams, (std::set<std::string>{"name", "namespace"}));
}

TEST(OpenApiV2Document, CollectionStatusScaleAndWatchPaths) {
  const Json& paths = builtinDocument()["paths"];
  const Json& coll = paths["/apis/apps/v1/namespaces/{namespace}/deployments"];
  EXPECT_EQ(coll["get"]["operationId"], "listAppsV1NamespacedDeployment");
  EXPECT_EQ(coll["get"]["responses"]["200"]["schema"]["$ref"],
            kDef + "io.k8s.api.apps.v1.DeploymentList");
  EXPECT_EQ(coll["post"]["operationId"], "createAppsV1NamespacedDeployment");
  EXPECT_NE(queryParamNamed(coll["post"], "fieldValidation"), nullptr);
  EXPECT_EQ(coll["delete"]["operationId"], "deleteAppsV1CollectionNamespacedDeployment");
  EXPECT_EQ(coll["delete"]["x-kubernetes-action"], "deletecollection");

  const Json& status = paths[kDeploymentItem + "/status"];
  EXPECT_EQ(status["patch"]["operationId"], "patchAppsV1NamespacedDeploymentStatus");
  EXPECT_NE(queryParamNamed(status["patch"], "fieldValidation"), nullptr);

  const Json& scale = paths[kDeploymentItem + "/scale"];
  EXPECT_EQ(scale["get"]["operationId"], "readAppsV1NamespacedDeploymentScale");
  EXPECT_EQ(scale["patch"]["x-kubernetes-group-version-kind"]["kind"], "Scale");
  EXPECT_EQ(scale["put"]["responses"]["200"]["schema"]["$ref"],
            kDef + "io.k8s.api.autoscaling.v1.Scale");

  EXPECT_EQ(paths["/apis/apps/v1/deployments"]["get"]["operationId"],
            "listAppsV1DeploymentForAllNamespaces");
  EXPECT_EQ(
      paths["/apis/apps/v1/watch/namespaces/{namespace}/deployments"]["get"]["x-kubernetes-action"],
      "watchlist");
  EXPECT_EQ(
      paths["/apis/apps/v1/watch/namespaces/{namespace}/deployments/{name}"]["get"]["operationId"],
      "watchAppsV1NamespacedDeployment");

  // Core and cluster-scoped names; dotted groups lose ".k8s.io" and capitalise each part.
  EXPECT_EQ(paths["/api/v1/namespaces/{name}"]["patch"]["operationId"], "patchCoreV1Namespace");
  EXPECT_EQ(paths["/api/v1/namespaces/{name}"]["patch"]["tags"][0], "core_v1");
  EXPECT_EQ(paths["/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}"]["get"]["operationId"],
            "readRbacAuthorizationV1ClusterRole");
  EXPECT_EQ(paths["/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}"]["get"]["tags"][0],
            "rbacAuthorization_v1");
  // Bindings can only be created: no list, no item path.
  EXPECT_TRUE(paths["/api/v1/namespaces/{namespace}/bindings"].contains("post"));
  EXPECT_FALSE(paths["/api/v1/namespaces/{namespace}/bindings"].contains("get"));
  EXPECT_FALSE(paths.contains("/api/v1/namespaces/{namespace}/bindings/{name}"));
}

TEST(OpenApiV2Document, EveryRefResolvesAndEveryDefinitionParses) {
  const Json& doc = builtinDocument();
  std::set<std::string> missing;
  checkRefs(doc["paths"], doc["definitions"], "paths", missing);
  checkRefs(doc["definitions"], doc["definitions"], "definitions", missing);
  EXPECT_TRUE(missing.empty()) << *missing.begin();
  std::vector<std::string> errors;
  for (const auto& [name, def] : doc["definitions"].items()) checkParsable(def, name, errors);
  EXPECT_TRUE(errors.empty()) << errors.front();
  // Transitively used definitions are there.
  for (const char* name :
       {"io.k8s.api.core.v1.PodSpec", "io.k8s.api.core.v1.Container", "io.k8s.api.core.v1.Probe",
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry",
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
        "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
        "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent", "io.k8s.api.autoscaling.v1.Scale"})
    EXPECT_TRUE(doc["definitions"].contains(name)) << name;
}

TEST(OpenApiV2Document, DefinitionsCarryKubernetesExtensions) {
  const Json& defs = builtinDocument()["definitions"];
  const Json& deployment = defs["io.k8s.api.apps.v1.Deployment"];
  EXPECT_EQ(deployment["type"], "object");
  EXPECT_EQ(deployment["x-kubernetes-group-version-kind"],
            Json::array({{{"group", "apps"}, {"kind", "Deployment"}, {"version", "v1"}}}));
  // A $ref with a description: siblings, as in Kubernetes' v2 (no allOf wrapper).
  const Json& spec = deployment["properties"]["spec"];
  EXPECT_EQ(spec["$ref"], kDef + "io.k8s.api.apps.v1.DeploymentSpec");
  EXPECT_FALSE(getString(spec, "description").empty());
  EXPECT_FALSE(spec.contains("allOf"));

  const Json& strategy = defs["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"];
  EXPECT_EQ(strategy["$ref"], kDef + "io.k8s.api.apps.v1.DeploymentStrategy");
  EXPECT_EQ(strategy["x-kubernetes-patch-strategy"], "retainKeys");

  const Json& containers = defs["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
  EXPECT_EQ(containers["type"], "array");
  EXPECT_EQ(containers["items"]["$ref"], kDef + "io.k8s.api.core.v1.Container");
  EXPECT_EQ(containers["x-kubernetes-patch-strategy"], "merge");
  EXPECT_EQ(containers["x-kubernetes-patch-merge-key"], "name");
  EXPECT_EQ(containers["x-kubernetes-list-type"], "map");
  EXPECT_EQ(containers["x-kubernetes-list-map-keys"], Json::array({"name"}));
  EXPECT_TRUE(defs["io.k8s.api.core.v1.PodSpec"]["required"].is_array());

  const Json& labels =
      defs["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]["labels"];
  EXPECT_EQ(labels["type"], "object");
  EXPECT_EQ(labels["additionalProperties"]["type"], "string");

  const Json& intstr = defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
  EXPECT_EQ(intstr["type"], "string");
  EXPECT_EQ(intstr["format"], "int-or-string");
  EXPECT_FALSE(intstr.contains("anyOf"));

  const Json& pullPolicy = defs["io.k8s.api.core.v1.Container"]["properties"]["imagePullPolicy"];
  EXPECT_EQ(pullPolicy["type"], "string");
  EXPECT_TRUE(pullPolicy["enum"].is_array());
}

TEST(OpenApiV2Document, CustomResources) {
  auto types = builtinTypes();
  types.push_back(cronTabType());
  Json doc = buildDocument(types);
  const Json& defs = doc["definitions"];
  ASSERT_TRUE(defs.contains("com.example.stable.v1.CronTab"));
  const Json& ct = defs["com.example.stable.v1.CronTab"];
  EXPECT_EQ(ct["type"], "object");
  EXPECT_EQ(ct["x-kubernetes-group-version-kind"][0]["kind"], "CronTab");
  EXPECT_EQ(ct["properties"]["metadata"]["$ref"],
            kDef + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
  EXPECT_EQ(ct["properties"]["apiVersion"]["type"], "string");

  const Json& spec = ct["properties"]["spec"];
  EXPECT_EQ(spec["properties"]["replicas"]["type"], "integer");
  EXPECT_FALSE(spec["properties"]["size"].contains("type"));
  EXPECT_EQ(spec["properties"]["size"]["x-kubernetes-int-or-string"], true);
  EXPECT_FALSE(spec["properties"]["extra"].contains("properties"));
  EXPECT_EQ(spec["properties"]["extra"]["x-kubernetes-preserve-unknown-fields"], true);
  EXPECT_FALSE(spec["properties"]["nullableField"].contains("type"));
  EXPECT_FALSE(spec["properties"]["nullableField"].contains("nullable"));
  EXPECT_EQ(spec["required"], Json::array({"replicas"}));
  EXPECT_FALSE(spec["properties"]["untyped"].contains("type"));
  EXPECT_EQ(spec["properties"]["ports"]["x-kubernetes-list-type"], "map");
  EXPECT_EQ(spec["properties"]["ports"]["items"]["required"], Json::array({"port"}));
  EXPECT_EQ(spec["properties"]["color"]["enum"], Json::array({"red", "green"}));
  EXPECT_EQ(spec["properties"]["color"]["default"], "red");

  const Json& list = defs["com.example.stable.v1.CronTabList"];
  EXPECT_EQ(list["properties"]["items"]["items"]["$ref"], kDef + "com.example.stable.v1.CronTab");
  EXPECT_EQ(list["x-kubernetes-group-version-kind"][0]["kind"], "CronTabList");

  const Json& item =
      doc["paths"]["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"];
  EXPECT_EQ(item["patch"]["operationId"], "patchStableExampleComV1NamespacedCronTab");
  EXPECT_NE(queryParamNamed(item["patch"], "fieldValidation"), nullptr);
  for (const Json& c : item["patch"]["consumes"])
    EXPECT_NE(c, "application/strategic-merge-patch+json");
  EXPECT_TRUE(doc["paths"].contains(
      "/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}/scale"));

  std::set<std::string> missing;
  checkRefs(doc, defs, "document", missing);
  EXPECT_TRUE(missing.empty()) << *missing.begin();
  std::vector<std::string> errors;
  for (const auto& [name, def] : defs.items()) checkParsable(def, name, errors);
  EXPECT_TRUE(errors.empty()) << errors.front();
}

// ---- protobuf ----

// A decoded protobuf message: its fields in wire order.
struct Field {
  uint32_t number = 0;
  uint32_t wireType = 0;
  uint64_t value = 0;      // varint and fixed64
  std::string_view bytes;  // length-delimited
};

uint64_t readVarint(std::string_view& in, bool& ok) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) break;
    auto b = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    v |= uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) return v;
  }
  ok = false;
  return 0;
}

std::vector<Field> decode(std::string_view in) {
  std::vector<Field> out;
  bool ok = true;
  while (!in.empty() && ok) {
    uint64_t key = readVarint(in, ok);
    Field f;
    f.number = static_cast<uint32_t>(key >> 3);
    f.wireType = static_cast<uint32_t>(key & 7);
    if (f.wireType == 0) {
      f.value = readVarint(in, ok);
    } else if (f.wireType == 1) {
      if (in.size() < 8) break;
      for (int i = 0; i < 8; ++i) f.value |= uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
      in.remove_prefix(8);
    } else if (f.wireType == 2) {
      uint64_t len = readVarint(in, ok);
      if (!ok || len > in.size()) {
        ok = false;
        break;
      }
      f.bytes = in.substr(0, len);
      in.remove_prefix(len);
    } else {
      ok = false;
    }
    if (ok) out.push_back(f);
  }
  EXPECT_TRUE(ok && in.empty()) << "malformed protobuf";
  return out;
}

std::vector<std::string_view> all(std::string_view msg, uint32_t number) {
  std::vector<std::string_view> out;
  for (const Field& f : decode(msg))
    if (f.number == number && f.wireType == 2) out.push_back(f.bytes);
  return out;
}

std::string_view one(std::string_view msg, uint32_t number) {
  auto v = all(msg, number);
  EXPECT_EQ(v.size(), 1u) << "field " << number;
  return v.empty() ? std::string_view() : v.back();
}

bool has(std::string_view msg, uint32_t number) {
  for (const Field& f : decode(msg))
    if (f.number == number) return true;
  return false;
}

// The value of the Named* entry called `name` among the repeated `number` fields.
std::string_view named(std::string_view msg, uint32_t number, std::string_view name) {
  for (std::string_view entry : all(msg, number))
    if (one(entry, 1) == name) return one(entry, 2);
  ADD_FAILURE() << "no entry " << name;
  return {};
}

// The YAML text of the vendor extension `name` (a NamedAny whose Any holds it in field 2).
std::string extensionYaml(std::string_view msg, uint32_t number, std::string_view name) {
  for (std::string_view entry : all(msg, number))
    if (one(entry, 1) == name) return std::string(one(one(entry, 2), 2));
  return {};
}

TEST(OpenApiV2Protobuf, ExactBytesOfSmallDocuments) {
  EXPECT_EQ(encodeProtobuf({{"swagger", "2.0"}, {"info", {{"title", "T"}, {"version", "v"}}}}),
            std::string("\x0a\x03"
                        "2.0"
                        "\x12\x06\x0a\x01T\x12\x01v",
                        13));
  // additionalProperties: false is a oneof member and must be written although false.
  EXPECT_EQ(encodeProtobuf({{"definitions", {{"A", {{"additionalProperties", false}}}}}}),
            std::string("\x4a\x0c\x0a\x0a\x0a\x01"
                        "A"
                        "\x12\x05\xaa\x01\x02\x10\x00",
                        14));
  // Doubles are fixed64 little-endian (Schema.maximum = 7).
  EXPECT_EQ(encodeProtobuf({{"definitions", {{"A", {{"maximum", 1.5}}}}}}),
            std::string("\x4a\x10\x0a\x0e\x0a\x01"
                        "A"
                        "\x12\x09\x39\x00\x00\x00\x00\x00\x00\xf8\x3f",
                        18));
  EXPECT_EQ(encodeProtobuf(Json::array()), "");
}

TEST(OpenApiV2Protobuf, DeploymentPatchDecodesLikeClientGoReadsIt) {
  const Json& doc = builtinDocument();
  std::string pb = encodeProtobuf(doc);
  EXPECT_EQ(one(pb, 1), "2.0");
  EXPECT_EQ(one(one(pb, 2), 1), "Kubernetes");

  // Document.paths (8) -> Paths.path (2) -> NamedPathItem -> PathItem.patch (8).
  std::string_view pathsMsg = one(pb, 8);
  EXPECT_EQ(all(pathsMsg, 2).size(), doc["paths"].size());
  std::string_view item = named(pathsMsg, 2, kDeploymentItem);
  std::string_view patch = one(item, 8);
  EXPECT_EQ(one(patch, 5), "patchAppsV1NamespacedDeployment");

  // What cli-runtime's QueryParamVerifier does: the PATCH operation's gvk extension, then
  // ParametersItem.parameter (1) -> Parameter.non_body_parameter (2) -> query (3) -> name (4).
  Result<Json> gvk = parseYaml(extensionYaml(patch, 13, "x-kubernetes-group-version-kind"));
  ASSERT_TRUE(gvk.ok());
  EXPECT_EQ(*gvk, Json({{"group", "apps"}, {"kind", "Deployment"}, {"version", "v1"}}));
  std::set<std::string> queryNames;
  bool body = false;
  for (std::string_view p : all(patch, 8)) {
    std::string_view param = one(p, 1);
    if (has(param, 1)) {
      body = true;
      std::string_view bp = one(param, 1);
      EXPECT_EQ(one(bp, 3), "body");
      EXPECT_EQ(one(one(bp, 5), 1), kDef + "io.k8s.apimachinery.pkg.apis.meta.v1.Patch");
      continue;
    }
    std::string_view nonBody = one(param, 2);
    if (has(nonBody, 3)) queryNames.insert(std::string(one(one(nonBody, 3), 4)));
  }
  EXPECT_TRUE(body);
  for (const char* name : {"fieldValidation", "dryRun", "fieldManager", "force"})
    EXPECT_TRUE(queryNames.contains(name)) << name;

  // Path parameters: PathItem.parameters (9) -> ... -> path (4), required (1) set.
  bool sawNamePath = false;
  for (std::string_view p : all(item, 9)) {
    std::string_view nonBody = one(one(p, 1), 2);
    if (!has(nonBody, 4)) continue;
    std::string_view pp = one(nonBody, 4);
    if (one(pp, 4) != "name") continue;
    sawNamePath = true;
    EXPECT_EQ(one(pp, 5), "string");  // type is field 5 in PathParameterSubSchema
    bool required = false;
    for (const Field& f : decode(pp))
      if (f.number == 1 && f.wireType == 0) required = f.value == 1;
    EXPECT_TRUE(required);
  }
  EXPECT_TRUE(sawNamePath);

  // Responses (9) -> NamedResponseValue "200" -> ResponseValue.response (1) -> schema (2) ->
  // SchemaItem.schema (1) -> $ref (1).
  std::string_view ok = one(named(one(patch, 9), 1, "200"), 1);
  EXPECT_EQ(one(ok, 1), "OK");
  EXPECT_EQ(one(one(one(ok, 2), 1), 1), kDef + "io.k8s.api.apps.v1.Deployment");
}

TEST(OpenApiV2Protobuf, DefinitionsDecode) {
  const Json& doc = builtinDocument();
  std::string pb = encodeProtobuf(doc);
  std::string_view defs = one(pb, 9);
  EXPECT_EQ(all(defs, 1).size(), doc["definitions"].size());

  std::string_view deployment = named(defs, 1, "io.k8s.api.apps.v1.Deployment");
  EXPECT_EQ(all(one(deployment, 22), 1), std::vector<std::string_view>{"object"});
  Result<Json> gvks = parseYaml(extensionYaml(deployment, 31, "x-kubernetes-group-version-kind"));
  ASSERT_TRUE(gvks.ok());
  EXPECT_EQ(*gvks, Json::array({{{"group", "apps"}, {"kind", "Deployment"}, {"version", "v1"}}}));
  std::string_view props = one(deployment, 25);
  EXPECT_EQ(all(props, 1).size(),
            doc["definitions"]["io.k8s.api.apps.v1.Deployment"]["properties"].size());
  std::string_view spec = named(props, 1, "spec");
  EXPECT_EQ(one(spec, 1), kDef + "io.k8s.api.apps.v1.DeploymentSpec");
  EXPECT_FALSE(one(spec, 4).empty());  // description beside the $ref
  EXPECT_FALSE(has(spec, 22));         // and no type

  std::string_view strategy =
      named(one(named(defs, 1, "io.k8s.api.apps.v1.DeploymentSpec"), 25), 1, "strategy");
  Result<Json> ps = parseYaml(extensionYaml(strategy, 31, "x-kubernetes-patch-strategy"));
  ASSERT_TRUE(ps.ok());
  EXPECT_EQ(*ps, "retainKeys");

  std::string_view containers =
      named(one(named(defs, 1, "io.k8s.api.core.v1.PodSpec"), 25), 1, "containers");
  EXPECT_EQ(all(one(containers, 22), 1), std::vector<std::string_view>{"array"});
  std::vector<std::string_view> itemSchemas = all(one(containers, 23), 1);
  ASSERT_EQ(itemSchemas.size(), 1u);
  EXPECT_EQ(one(itemSchemas[0], 1), kDef + "io.k8s.api.core.v1.Container");
  Result<Json> keys = parseYaml(extensionYaml(containers, 31, "x-kubernetes-list-map-keys"));
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(*keys, Json::array({"name"}));

  // Maps: additionalProperties (21) -> AdditionalPropertiesItem.schema (1).
  std::string_view labels = named(
      one(named(defs, 1, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"), 25), 1, "labels");
  EXPECT_EQ(all(one(one(one(labels, 21), 1), 22), 1), std::vector<std::string_view>{"string"});

  // Enums are repeated Any with the value as YAML.
  std::string_view pullPolicy =
      named(one(named(defs, 1, "io.k8s.api.core.v1.Container"), 25), 1, "imagePullPolicy");
  std::vector<std::string_view> enums = all(pullPolicy, 20);
  EXPECT_EQ(
      enums.size(),
      doc["definitions"]["io.k8s.api.core.v1.Container"]["properties"]["imagePullPolicy"]["enum"]
          .size());
  ASSERT_FALSE(enums.empty());
  Result<Json> first = parseYaml(one(enums[0], 2));
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->is_string());
}

TEST(OpenApiV2Protobuf, ExtensionValuesAreYamlOfTheJsonValue) {
  Json value = {{"a", Json::array({1, "two: x", true, nullptr})},
                {"b", {{"c", "line\nbreak \"quoted\" \\ tab\t é"}}},
                {"d", 2.5}};
  std::string pb = encodeProtobuf({{"swagger", "2.0"}, {"x-test", value}});
  Result<Json> back = parseYaml(extensionYaml(pb, 16, "x-test"));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, value);
}

TEST(OpenApiV2DocumentCache, RebuildsOnlyWhenTheServedTypesChange) {
  DocumentCache cache;
  auto types = builtinTypes();
  auto first = cache.get(types);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(cache.get(builtinTypes()), first);  // same type objects: same document
  Json doc = Json::parse(first->json);
  EXPECT_EQ(doc, buildDocument(types));
  EXPECT_EQ(first->protobuf, encodeProtobuf(doc));
  EXPECT_EQ(first->etag.size(), 66u);
  EXPECT_EQ(first->etag.front(), '"');

  types.push_back(cronTabType());
  auto second = cache.get(types);
  EXPECT_NE(second, first);
  EXPECT_NE(second->etag, first->etag);
  EXPECT_TRUE(Json::parse(second->json)["definitions"].contains("com.example.stable.v1.CronTab"));
  // A replaced type is a new object, even with the same names.
  types.back() = cronTabType();
  EXPECT_NE(cache.get(types), second);
}

}  // namespace
}  // namespace nave::openapiv2
