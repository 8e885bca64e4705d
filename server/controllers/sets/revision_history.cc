#include "server/controllers/sets/revision_history.h"

#include <algorithm>

#include "server/controllers/sets/pod_state.h"

namespace nave::controllers::sets {
namespace {

// Go's encoding/json escapes these even inside strings; the hash and `kubectl rollout undo`'s
// byte comparison see Go's bytes.
std::string goJson(const Json& value) {
  std::string s = dumpJson(value), out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); i++) {
    char c = s[i];
    if (c == '<')
      out += "\\u003c";
    else if (c == '>')
      out += "\\u003e";
    else if (c == '&')
      out += "\\u0026";
    else
      out += c;
  }
  return out;
}

uint32_t fnv32(std::string_view data, uint32_t h = 2166136261u) {
  for (unsigned char c : data) {
    h *= 16777619u;
    h ^= c;
  }
  return h;
}

// apimachinery's rand.SafeEncodeString.
std::string safeEncode(std::string s) {
  static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  for (char& c : s) c = kAlphabet[static_cast<unsigned char>(c) % (sizeof(kAlphabet) - 1)];
  return s;
}

int64_t numberOf(const Json& revision) {
  return getInt(revision, "revision");
}

}  // namespace

Json templatePatch(const Json& set) {
  Json templ = set.value("spec", Json::object()).value("template", Json::object());
  if (!templ.is_object()) templ = Json::object();
  // kubectl encodes the template from Go structs, which always write the zero
  // creationTimestamp (null) and a container's resources ({}); `rollout undo` compares bytes.
  Json& md = templ["metadata"];
  if (!md.is_object()) md = Json::object();
  if (!md.contains("creationTimestamp")) md["creationTimestamp"] = nullptr;
  if (Json* spec = templ.contains("spec") && templ["spec"].is_object() ? &templ["spec"] : nullptr) {
    for (const char* list : {"initContainers", "containers", "ephemeralContainers"}) {
      if (!spec->contains(list) || !(*spec)[list].is_array()) continue;
      for (Json& c : (*spec)[list])
        if (c.is_object() && !c.contains("resources")) c["resources"] = Json::object();
    }
  }
  templ["$patch"] = "replace";
  return Json{{"spec", {{"template", templ}}}};
}

Json templateOf(const Json& revision) {
  Json templ = revision.value("data", Json::object())
                   .value("spec", Json::object())
                   .value("template", Json::object());
  if (templ.is_object()) templ.erase("$patch");
  return templ;
}

std::string revisionHash(const Json& patch, int64_t collisionCount) {
  uint32_t h = fnv32(goJson(patch));
  h = fnv32(std::to_string(collisionCount), h);
  return safeEncode(std::to_string(h));
}

std::vector<Json> ownedRevisions(const Informer& revisions, const Json& set) {
  std::string uid = getString(metadataOf(set), "uid");
  std::vector<Json> out;
  for (Json& r : revisions.byIndex(Informer::kOwnerIndex, uid)) {
    const Json* ref = controllerRef(r);
    if (ref != nullptr && getString(*ref, "uid") == uid) out.push_back(std::move(r));
  }
  std::sort(out.begin(), out.end(), [](const Json& a, const Json& b) {
    if (numberOf(a) != numberOf(b)) return numberOf(a) < numberOf(b);
    return createdBefore(a, b);
  });
  return out;
}

int64_t nextRevisionNumber(const std::vector<Json>& revisions) {
  return revisions.empty() ? 1 : numberOf(revisions.back()) + 1;
}

const Json* findEqualRevision(const std::vector<Json>& revisions, const Json& patch) {
  for (auto it = revisions.rbegin(); it != revisions.rend(); ++it)
    if (it->value("data", Json()) == patch) return &*it;
  return nullptr;
}

Result<Json> createRevision(client::Client& client, const Json& set, const NewRevision& spec,
                            const Json& patch, int64_t number, int64_t& collisionCount) {
  const Json& md = metadataOf(set);
  std::string ns = getString(md, "namespace");
  std::string prefix = getString(md, "name").substr(0, 223);
  for (;;) {
    std::string hash = revisionHash(patch, collisionCount);
    Json labels = spec.labels.is_object() ? spec.labels : Json::object();
    labels[spec.hashLabel] = hash;
    Json revision = {{"apiVersion", "apps/v1"},
                     {"kind", "ControllerRevision"},
                     {"metadata",
                      {{"name", prefix + "-" + hash},
                       {"namespace", ns},
                       {"labels", labels},
                       {"ownerReferences", Json::array({controllerRefTo(set, spec.kind)})}}},
                     {"data", patch},
                     {"revision", number}};
    if (spec.annotations.is_object() && !spec.annotations.empty())
      revision["metadata"]["annotations"] = spec.annotations;
    auto created = client.create(kControllerRevisions, ns, revision);
    if (created.ok()) return created;
    if (!created.error().is(ErrorCode::kAlreadyExists)) return std::move(created).error();
    auto existing = client.get(kControllerRevisions, ns, prefix + "-" + hash);
    if (!existing.ok()) return std::move(existing).error();
    const Json* ref = controllerRef(*existing);
    if (ref != nullptr && getString(*ref, "uid") == getString(md, "uid") &&
        existing->value("data", Json()) == patch)
      return existing;
    collisionCount++;
  }
}

Result<Json> renumberRevision(client::Client& client, const Json& revision, int64_t number) {
  Json updated = revision;
  updated["revision"] = number;
  return client.update(kControllerRevisions, getString(metadataOf(revision), "namespace"), updated);
}

Result<void> truncateHistory(client::Client& client, const std::vector<Json>& revisions,
                             const std::set<std::string>& live, int64_t limit) {
  std::vector<const Json*> history;
  for (const Json& r : revisions)
    if (!live.count(getString(metadataOf(r), "name"))) history.push_back(&r);
  if (static_cast<int64_t>(history.size()) <= limit) return {};
  size_t excess = history.size() - static_cast<size_t>(std::max<int64_t>(limit, 0));
  for (size_t i = 0; i < excess; i++) {
    const Json& md = metadataOf(*history[i]);
    auto r = client.remove(kControllerRevisions, getString(md, "namespace"), getString(md, "name"));
    if (!r.ok() && !r.error().is(ErrorCode::kNotFound)) return std::move(r).error();
  }
  return {};
}

}  // namespace nave::controllers::sets
