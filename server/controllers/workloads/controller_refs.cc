#include "server/controllers/workloads/controller_refs.h"

#include <optional>

namespace nave::controllers::workloads {

namespace {

const Json kEmptyObject = Json::object();

std::string namespaceOf(const Json& object) {
  return getString(object.value("metadata", kEmptyObject), "namespace");
}
std::string nameOf(const Json& object) {
  return getString(object.value("metadata", kEmptyObject), "name");
}
std::string uidOf(const Json& object) {
  return getString(object.value("metadata", kEmptyObject), "uid");
}

}  // namespace

const Json* controllerRefOf(const Json& object) {
  const Json* md = findMember(object, "metadata");
  const Json* refs = md ? findMember(*md, "ownerReferences") : nullptr;
  if (refs == nullptr || !refs->is_array()) return nullptr;
  for (const Json& r : *refs)
    if (getBool(r, "controller")) return &r;
  return nullptr;
}

bool isControlledBy(const Json& object, const std::string& ownerUid) {
  const Json* ref = controllerRefOf(object);
  return ref != nullptr && getString(*ref, "uid") == ownerUid;
}

Json newControllerRef(const Json& owner) {
  return {{"apiVersion", getString(owner, "apiVersion")},
          {"kind", getString(owner, "kind")},
          {"name", nameOf(owner)},
          {"uid", uidOf(owner)},
          {"controller", true},
          {"blockOwnerDeletion", true}};
}

bool hasDeletionTimestamp(const Json& object) {
  const Json* md = findMember(object, "metadata");
  const Json* ts = md ? findMember(*md, "deletionTimestamp") : nullptr;
  return ts != nullptr && !ts->is_null();
}

const Json& labelsOf(const Json& object) {
  const Json* md = findMember(object, "metadata");
  const Json* labels = md ? findMember(*md, "labels") : nullptr;
  return labels != nullptr && labels->is_object() ? *labels : kEmptyObject;
}

Result<std::vector<Json>> claimObjects(client::Client& client, const client::Resource& resource,
                                       const client::Resource& ownerResource, const Json& owner,
                                       const selectors::LabelSelector& selector,
                                       const std::vector<Json>& candidates) {
  const std::string ownerUid = uidOf(owner);
  const std::string ns = namespaceOf(owner);
  const bool ownerDeleting = hasDeletionTimestamp(owner);
  // Whether the owner may adopt, decided once from a fresh read: a stale informer copy of a
  // deleted owner must not adopt (Kubernetes' RecheckDeletionTimestamp).
  std::optional<bool> canAdopt;
  auto mayAdopt = [&]() -> bool {
    if (!canAdopt) {
      auto fresh = client.get(ownerResource, ns, nameOf(owner));
      canAdopt = fresh.ok() && uidOf(*fresh) == ownerUid && !hasDeletionTimestamp(*fresh);
    }
    return *canAdopt;
  };

  std::vector<Json> claimed;
  for (const Json& object : candidates) {
    const bool matches = selector.matches(labelsOf(object));
    if (const Json* ref = controllerRefOf(object)) {
      if (getString(*ref, "uid") != ownerUid) continue;  // someone else's
      if (matches) {
        claimed.push_back(object);
        continue;
      }
      if (ownerDeleting) continue;
      // Release: drop our owner reference.
      Json updated = object;
      Json refs = Json::array();
      for (const Json& r : updated["metadata"]["ownerReferences"])
        if (getString(r, "uid") != ownerUid) refs.push_back(r);
      updated["metadata"]["ownerReferences"] = refs;
      auto r = client.update(resource, ns, updated);
      if (!r.ok() && !r.error().is(ErrorCode::kNotFound) && !r.error().is(ErrorCode::kInvalid))
        return std::move(r).error().context("releasing " + nameOf(object));
      continue;
    }
    // An orphan.
    if (!matches || ownerDeleting || hasDeletionTimestamp(object)) continue;
    if (!mayAdopt()) continue;
    Json updated = object;
    Json& md = updated["metadata"];
    if (!md.contains("ownerReferences") || !md["ownerReferences"].is_array())
      md["ownerReferences"] = Json::array();
    md["ownerReferences"].push_back(newControllerRef(owner));
    auto r = client.update(resource, ns, updated);
    if (!r.ok()) {
      if (r.error().is(ErrorCode::kNotFound)) continue;
      return std::move(r).error().context("adopting " + nameOf(object));
    }
    claimed.push_back(std::move(*r));
  }
  return claimed;
}

}  // namespace nave::controllers::workloads
