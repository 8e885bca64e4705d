#include "server/api/discovery.h"

#include <openssl/sha.h>

#include <algorithm>

#include "common/strings.h"
#include "server/api/status.h"

namespace nave::api {
namespace {

using registry::ResourceType;

struct Subresource {
  std::string name;
  std::string group, version, kind;  // response kind
  std::vector<std::string> verbs;
};

std::vector<Subresource> subresourcesOf(const ResourceType& t) {
  std::vector<Subresource> out;
  if (t.statusSubresource) out.push_back({"status", t.group, t.version, t.kind, {"get", "patch", "update"}});
  if (t.scale) out.push_back({"scale", "autoscaling", "v1", "Scale", {"get", "patch", "update"}});
  if (t.group.empty() && t.kind == "Pod") {
    out.push_back({"binding", "", "v1", "Binding", {"create"}});
    out.push_back({"eviction", "policy", "v1", "Eviction", {"create"}});
    // Served by proxying to the pod's kubelet (node_proxy.h).
    out.push_back({"attach", "", "v1", "PodAttachOptions", {"create", "get"}});
    out.push_back({"exec", "", "v1", "PodExecOptions", {"create", "get"}});
    out.push_back({"log", "", "v1", "Pod", {"get"}});
    out.push_back({"portforward", "", "v1", "PodPortForwardOptions", {"create", "get"}});
  }
  if (t.group.empty() && t.kind == "Namespace") out.push_back({"finalize", "", "v1", "Namespace", {"update"}});
  // Kubernetes lists a resource's subresources by name.
  std::sort(out.begin(), out.end(), [](const Subresource& a, const Subresource& b) { return a.name < b.name; });
  return out;
}

std::string groupVersion(std::string_view group, std::string_view version) {
  return group.empty() ? std::string(version) : std::string(group) + "/" + std::string(version);
}

}  // namespace

std::string storageVersionHash(std::string_view group, std::string_view version,
                               std::string_view kind) {
  std::string text = std::string(group) + "/" + std::string(version) + "/" + std::string(kind);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return base64Encode(std::string_view(reinterpret_cast<const char*>(digest), 8));
}

Json Discovery::apiVersions() const {
  return {{"kind", "APIVersions"},
          {"versions", {"v1"}},
          {"serverAddressByClientCIDRs",
           {{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", serverAddress_}}}}};
}

Json Discovery::groupJson(const registry::GroupVersions& g) const {
  Json versions = Json::array();
  for (const std::string& v : g.versions)
    versions.push_back({{"groupVersion", groupVersion(g.group, v)}, {"version", v}});
  return {{"name", g.group},
          {"versions", versions},
          {"preferredVersion", versions.empty() ? Json::object() : versions[0]}};
}

Json Discovery::apiGroupList() const {
  Json groups = Json::array();
  for (const auto& g : types_.groups())
    if (!g.group.empty()) groups.push_back(groupJson(g));
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}};
}

Result<Json> Discovery::apiGroup(std::string_view group) const {
  for (const auto& g : types_.groups()) {
    if (g.group == group && !group.empty()) {
      Json j = groupJson(g);
      j["kind"] = "APIGroup";
      j["apiVersion"] = "v1";
      return j;
    }
  }
  return Error(ErrorCode::kNotFound, "the server could not find the requested resource");
}

Result<Json> Discovery::resourceList(std::string_view group, std::string_view version) const {
  if (!types_.servesGroupVersion(group, version))
    return Error(ErrorCode::kNotFound, "the server could not find the requested resource");
  Json resources = Json::array();
  for (const auto& t : types_.all()) {
    if (t->group != group || t->version != version) continue;
    Json r = {{"name", t->plural},     {"singularName", t->singular}, {"namespaced", t->namespaced},
              {"kind", t->kind},       {"verbs", t->verbs},
              {"storageVersionHash", storageVersionHash(t->storageGroup, t->storageVersion, t->kind)}};
    if (!t->shortNames.empty()) r["shortNames"] = t->shortNames;
    if (!t->categories.empty()) r["categories"] = t->categories;
    resources.push_back(std::move(r));
    for (const Subresource& s : subresourcesOf(*t)) {
      Json sr = {{"name", t->plural + "/" + s.name},
                 {"singularName", ""},
                 {"namespaced", t->namespaced},
                 {"kind", s.kind},
                 {"verbs", s.verbs}};
      if (s.group != t->group || s.version != t->version) {
        sr["group"] = s.group;
        sr["version"] = s.version;
      }
      resources.push_back(std::move(sr));
    }
  }
  return Json{{"kind", "APIResourceList"},
              {"apiVersion", "v1"},
              {"groupVersion", groupVersion(group, version)},
              {"resources", resources}};
}

Json Discovery::aggregated(bool core, std::string_view version) const {
  auto all = types_.all();
  Json items = Json::array();
  for (const auto& g : types_.groups()) {
    if (core != g.group.empty()) continue;
    Json versions = Json::array();
    for (const std::string& v : g.versions) {
      Json resources = Json::array();
      for (const auto& t : all) {
        if (t->group != g.group || t->version != v) continue;
        Json r = {{"resource", t->plural},
                  {"responseKind", {{"group", t->group}, {"version", t->version}, {"kind", t->kind}}},
                  {"scope", t->namespaced ? "Namespaced" : "Cluster"},
                  {"singularResource", t->singular},
                  {"verbs", t->verbs}};
        if (!t->shortNames.empty()) r["shortNames"] = t->shortNames;
        if (!t->categories.empty()) r["categories"] = t->categories;
        Json subs = Json::array();
        for (const Subresource& s : subresourcesOf(*t))
          subs.push_back({{"subresource", s.name},
                          {"responseKind", {{"group", s.group}, {"version", s.version}, {"kind", s.kind}}},
                          {"verbs", s.verbs}});
        if (!subs.empty()) r["subresources"] = subs;
        resources.push_back(std::move(r));
      }
      versions.push_back({{"version", v}, {"resources", resources}, {"freshness", "Current"}});
    }
    items.push_back({{"metadata", {{"name", g.group}, {"creationTimestamp", nullptr}}},
                     {"versions", versions}});
  }
  return {{"kind", "APIGroupDiscoveryList"},
          {"apiVersion", "apidiscovery.k8s.io/" + std::string(version)},
          {"metadata", Json::object()},
          {"items", items}};
}

}  // namespace nave::api
