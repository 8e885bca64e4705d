#include "server/controllers/storage/protection_controllers.h"

#include <algorithm>

#include "common/log.h"
#include "server/controllers/storage/volume_util.h"

namespace nave::controllers {
namespace {

using namespace volumes;

// The object with `finalizer` added or removed.
Json withFinalizer(const Json& object, const std::string& finalizer, bool present) {
  Json updated = object;
  Json& md = updated["metadata"];
  Json list = md.value("finalizers", Json::array());
  Json kept = Json::array();
  for (const Json& f : list)
    if (f != finalizer) kept.push_back(f);
  if (present) kept.push_back(finalizer);
  if (kept.empty())
    md.erase("finalizers");
  else
    md["finalizers"] = kept;
  return updated;
}

Result<void> ignoreGone(Result<Json> r) {
  if (!r.ok() && !r.error().is(ErrorCode::kNotFound)) return std::move(r).error();
  return {};
}

}  // namespace

PvcProtectionController::PvcProtectionController(ControllerContext& ctx)
    : ctx_(ctx),
      claims_(ctx.informers.informer(kPersistentVolumeClaims)),
      pods_(ctx.informers.informer(kPods)),
      queue_(std::chrono::milliseconds(100), std::chrono::seconds(60)) {
  pods_.addIndex(kPodClaimIndex, claimKeysOfPod);
  claims_.addHandler([this](const std::string& key) { queue_.add(key); });
  // A pod that is gone or finished may free its claims.
  pods_.addObjectHandler([this](const Json* before, const Json* after) {
    if (after != nullptr && !podIsTerminated(*after)) return;
    for (const std::string& key : claimKeysOfPod(after ? *after : *before)) queue_.add(key);
  });
}

void PvcProtectionController::start() {
  workers_.start(queue_, 1, "pvc-protection",
                 [this](const std::string& key) { return reconcile(key); });
}

Result<bool> PvcProtectionController::inUse(const std::string& ns, const std::string& key) {
  for (const Json& pod : pods_.byIndex(kPodClaimIndex, key))
    if (!podIsTerminated(pod)) return true;
  // The informer may not have seen a pod created a moment ago: ask the API before letting go.
  Json list = TRY(ctx_.client.list(kPods, ns));
  for (const Json& pod : list.value("items", Json::array())) {
    if (podIsTerminated(pod)) continue;
    auto keys = claimKeysOfPod(pod);
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) return true;
  }
  return false;
}

Result<Reconciled> PvcProtectionController::reconcile(const std::string& key) {
  auto claim = claims_.get(key);
  if (!claim) return Reconciled{};
  std::string ns = getString((*claim)["metadata"], "namespace");
  bool has = hasFinalizer(*claim, kPvcProtectionFinalizer);
  if (!isDeleting(*claim)) {
    if (!has)
      TRY(ignoreGone(ctx_.client.update(kPersistentVolumeClaims, ns,
                                        withFinalizer(*claim, kPvcProtectionFinalizer, true))));
    return Reconciled{};
  }
  if (!has || TRY(inUse(ns, key))) return Reconciled{};
  TRY(ignoreGone(ctx_.client.update(kPersistentVolumeClaims, ns,
                                    withFinalizer(*claim, kPvcProtectionFinalizer, false))));
  log::info("removed the pvc-protection finalizer", {{"claim", key}});
  return Reconciled{};
}

PvProtectionController::PvProtectionController(ControllerContext& ctx)
    : ctx_(ctx),
      volumes_(ctx.informers.informer(kPersistentVolumes)),
      queue_(std::chrono::milliseconds(100), std::chrono::seconds(60)) {
  volumes_.addHandler([this](const std::string& name) { queue_.add(name); });
}

void PvProtectionController::start() {
  workers_.start(queue_, 1, "pv-protection",
                 [this](const std::string& name) { return reconcile(name); });
}

Result<Reconciled> PvProtectionController::reconcile(const std::string& name) {
  auto volume = volumes_.get(name);
  if (!volume) return Reconciled{};
  bool has = hasFinalizer(*volume, kPvProtectionFinalizer);
  if (!isDeleting(*volume)) {
    if (!has)
      TRY(ignoreGone(ctx_.client.update(kPersistentVolumes, "",
                                        withFinalizer(*volume, kPvProtectionFinalizer, true))));
    return Reconciled{};
  }
  if (!has || getString(volume->value("status", Json::object()), "phase") == "Bound")
    return Reconciled{};
  TRY(ignoreGone(ctx_.client.update(kPersistentVolumes, "",
                                    withFinalizer(*volume, kPvProtectionFinalizer, false))));
  return Reconciled{};
}

}  // namespace nave::controllers
