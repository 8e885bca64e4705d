#include "server/controllers/sets/pod_state.h"

#include "common/time.h"
#include "server/selectors/selectors.h"

namespace nave::controllers::sets {
namespace {

const Json kEmpty = Json::object();

const Json* readyCondition(const Json& pod) {
  const Json* status = findMember(pod, "status");
  const Json* conditions = status ? findMember(*status, "conditions") : nullptr;
  if (conditions == nullptr || !conditions->is_array()) return nullptr;
  for (const Json& c : *conditions)
    if (getString(c, "type") == "Ready") return &c;
  return nullptr;
}

}  // namespace

const Json& metadataOf(const Json& object) {
  const Json* md = findMember(object, "metadata");
  return md && md->is_object() ? *md : kEmpty;
}


std::string phaseOf(const Json& pod) {
  return getString(pod.value("status", Json::object()), "phase");
}

bool isPodAvailable(const Json& pod, int64_t minReadySeconds,
                    std::chrono::system_clock::time_point now) {
  if (!isPodReady(pod)) return false;
  if (minReadySeconds <= 0) return true;
  auto since = parseRfc3339(getString(*readyCondition(pod), "lastTransitionTime"));
  return since && *since + std::chrono::seconds(minReadySeconds) <= now;
}

std::optional<std::chrono::milliseconds> untilAvailable(const Json& pod, int64_t minReadySeconds,
                                                        std::chrono::system_clock::time_point now) {
  if (!isPodReady(pod) || isPodAvailable(pod, minReadySeconds, now)) return std::nullopt;
  auto since = parseRfc3339(getString(*readyCondition(pod), "lastTransitionTime"));
  if (!since) return std::chrono::seconds(minReadySeconds);
  auto left = *since + std::chrono::seconds(minReadySeconds) - now;
  return std::chrono::duration_cast<std::chrono::milliseconds>(left) +
         std::chrono::milliseconds(100);
}

const Json* controllerRef(const Json& object) {
  const Json* refs = findMember(metadataOf(object), "ownerReferences");
  if (refs == nullptr || !refs->is_array()) return nullptr;
  for (const Json& r : *refs)
    if (getBool(r, "controller")) return &r;
  return nullptr;
}

Json controllerRefTo(const Json& owner, const std::string& kind) {
  const Json& md = metadataOf(owner);
  return Json{{"apiVersion", "apps/v1"},     {"kind", kind},       {"name", getString(md, "name")},
              {"uid", getString(md, "uid")}, {"controller", true}, {"blockOwnerDeletion", true}};
}

std::string adoptionPatch(const Json& pod, const Json& owner, const std::string& kind) {
  Json refs = metadataOf(pod).value("ownerReferences", Json::array());
  refs.push_back(controllerRefTo(owner, kind));
  return dumpJson(
      {{"metadata", {{"ownerReferences", refs}, {"uid", getString(metadataOf(pod), "uid")}}}});
}

std::string releasePatch(const Json& pod, const std::string& ownerUid) {
  Json refs = Json::array();
  for (const Json& r : metadataOf(pod).value("ownerReferences", Json::array()))
    if (getString(r, "uid") != ownerUid) refs.push_back(r);
  Json patch = {
      {"metadata", {{"ownerReferences", refs}, {"uid", getString(metadataOf(pod), "uid")}}}};
  if (refs.empty()) patch["metadata"]["ownerReferences"] = nullptr;
  return dumpJson(patch);
}

void enqueueOwningSet(const Json& pod, const std::string& kind, const Informer& sets, WorkQueue& queue) {
  std::string ns = getString(metadataOf(pod), "namespace");
  if (const Json* ref = controllerRef(pod)) {
    if (getString(*ref, "kind") == kind) queue.add(ns + "/" + getString(*ref, "name"));
    return;
  }
  for (const Json& set : sets.list(ns)) {
    auto selector = selectors::LabelSelector::fromObject(objectMember(set, "spec").value("selector", Json()));
    const Json& labels = objectMember(metadataOf(pod), "labels");
    if (selector.ok() && !selector->empty() && selector->matches(labels))
      queue.add(ns + "/" + getString(metadataOf(set), "name"));
  }
}

bool createdBefore(const Json& a, const Json& b) {
  std::string ta = getString(metadataOf(a), "creationTimestamp");
  std::string tb = getString(metadataOf(b), "creationTimestamp");
  if (ta != tb) return ta < tb;
  return getString(metadataOf(a), "name") < getString(metadataOf(b), "name");
}

void PendingWrites::expectCreate(const std::string& setKey, const std::string& podKey) {
  std::lock_guard lock(mu_);
  writes_[setKey].push_back({podKey, "", true, std::chrono::steady_clock::now()});
}

void PendingWrites::expectDelete(const std::string& setKey, const std::string& podKey,
                                 const std::string& uid) {
  std::lock_guard lock(mu_);
  writes_[setKey].push_back({podKey, uid, false, std::chrono::steady_clock::now()});
}

bool PendingWrites::settled(const std::string& setKey, const Informer& pods) {
  std::lock_guard lock(mu_);
  auto it = writes_.find(setKey);
  if (it == writes_.end()) return true;
  auto now = std::chrono::steady_clock::now();
  std::erase_if(it->second, [&](const Write& w) {
    if (now - w.at > std::chrono::minutes(1)) return true;
    auto pod = pods.get(w.podKey);
    if (w.create) return pod.has_value();
    return !pod || isDeleting(*pod) || getString(metadataOf(*pod), "uid") != w.uid;
  });
  bool done = it->second.empty();
  if (done) writes_.erase(it);
  return done;
}

void PendingWrites::forget(const std::string& setKey) {
  std::lock_guard lock(mu_);
  writes_.erase(setKey);
}

}  // namespace nave::controllers::sets
