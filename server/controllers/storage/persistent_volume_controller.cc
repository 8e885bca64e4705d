#include "server/controllers/storage/persistent_volume_controller.h"

#include <algorithm>

#include "common/log.h"
#include "common/time.h"
#include "server/controllers/storage/volume_util.h"
#include "server/selectors/selectors.h"

namespace nave::controllers {
namespace {

using namespace volumes;

constexpr char kComponent[] = "persistentvolume-controller";

const Json& metadata(const Json& o) {
  static const Json empty = Json::object();
  const Json* md = findMember(o, "metadata");
  return md && md->is_object() ? *md : empty;
}
const Json& specOf(const Json& o) {
  static const Json empty = Json::object();
  const Json* s = findMember(o, "spec");
  return s && s->is_object() ? *s : empty;
}
std::string phaseOf(const Json& o) {
  return getString(o.value("status", Json::object()), "phase");
}
std::string claimKey(const Json& claim) {
  return getString(metadata(claim), "namespace") + "/" + getString(metadata(claim), "name");
}
// The claim a volume's claimRef names ("namespace/name"), or "".
std::string claimRefKey(const Json& volume) {
  const Json* ref = findMember(specOf(volume), "claimRef");
  if (ref == nullptr || !ref->is_object()) return "";
  return getString(*ref, "namespace") + "/" + getString(*ref, "name");
}
std::string claimRefUid(const Json& volume) {
  const Json* ref = findMember(specOf(volume), "claimRef");
  return ref && ref->is_object() ? getString(*ref, "uid") : "";
}
// Whether the volume's claimRef names this claim (and its UID, when the ref has one).
bool boundToClaim(const Json& volume, const Json& claim) {
  if (claimRefKey(volume) != claimKey(claim)) return false;
  std::string uid = claimRefUid(volume);
  return uid.empty() || uid == getString(metadata(claim), "uid");
}
std::string volumeMode(const Json& o) {
  return getString(specOf(o), "volumeMode", "Filesystem");
}

// Every access mode the claim asks for is one the volume offers.
bool accessModesSatisfied(const Json& volume, const Json& claim) {
  const Json offered = specOf(volume).value("accessModes", Json::array());
  for (const Json& m : specOf(claim).value("accessModes", Json::array()))
    if (std::find(offered.begin(), offered.end(), m) == offered.end()) return false;
  return true;
}

void setAnnotation(Json& object, const std::string& key, const std::string& value) {
  Json& annotations = object["metadata"]["annotations"];
  if (!annotations.is_object()) annotations = Json::object();
  annotations[key] = value;
}

}  // namespace

PersistentVolumeController::PersistentVolumeController(ControllerContext& ctx)
    : ctx_(ctx),
      volumes_(ctx.informers.informer(kPersistentVolumes)),
      claims_(ctx.informers.informer(kPersistentVolumeClaims)),
      classes_(ctx.informers.informer(kStorageClasses)),
      pods_(ctx.informers.informer(kPods)),
      nodes_(ctx.informers.informer(kNodes)),
      claimQueue_(std::chrono::milliseconds(100), std::chrono::seconds(60)),
      volumeQueue_(std::chrono::milliseconds(100), std::chrono::seconds(60)) {
  pods_.addIndex(kPodClaimIndex, claimKeysOfPod);
  claims_.addHandler([this](const std::string& key) { claimQueue_.add(key); });
  volumes_.addObjectHandler([this](const Json* before, const Json* after) {
    const Json& v = after ? *after : *before;
    volumeQueue_.add(getString(metadata(v), "name"));
    // The claims it was or is bound to may bind now (pre-bound volumes, released volumes).
    for (const Json* o : {before, after})
      if (o != nullptr && !claimRefKey(*o).empty()) claimQueue_.add(claimRefKey(*o));
    // A volume that became Available may satisfy a Pending claim.
    if (after != nullptr && phaseOf(*after) == "Available" &&
        (before == nullptr || phaseOf(*before) != "Available"))
      for (const Json& c : claims_.list())
        if (phaseOf(c) == "Pending") claimQueue_.add(claimKey(c));
  });
  // A pod placed on a node is the first consumer of its WaitForFirstConsumer claims.
  pods_.addObjectHandler([this](const Json* before, const Json* after) {
    if (after == nullptr) return;
    std::string node = getString(specOf(*after), "nodeName");
    if (node.empty() || (before && getString(specOf(*before), "nodeName") == node)) return;
    for (const std::string& key : claimKeysOfPod(*after)) claimQueue_.add(key);
  });
  classes_.addHandler([this](const std::string&) {
    for (const Json& c : claims_.list())
      if (phaseOf(c) == "Pending") claimQueue_.add(claimKey(c));
  });
}

void PersistentVolumeController::start() {
  claimWorkers_.start(claimQueue_, 1, "persistentvolume-binder claims",
                      [this](const std::string& key) { return reconcileClaim(key); });
  volumeWorkers_.start(volumeQueue_, 1, "persistentvolume-binder volumes",
                       [this](const std::string& name) { return reconcileVolume(name); });
}

void PersistentVolumeController::stop() {
  claimWorkers_.stop();
  volumeWorkers_.stop();
}

void PersistentVolumeController::event(const Json& object, const std::string& type,
                                       const std::string& reason, const std::string& message) {
  ctx_.events.eventAs(kComponent, object, type, reason, message);
}

Result<Reconciled> PersistentVolumeController::reconcileClaim(const std::string& key) {
  auto claim = claims_.get(key);
  if (!claim) {
    // Its volumes are released by their own sync.
    for (const Json& v : volumes_.list())
      if (claimRefKey(v) == key) volumeQueue_.add(getString(metadata(v), "name"));
    return Reconciled{};
  }
  if (annotation(*claim, kAnnBindCompleted).empty())
    TRY(syncUnboundClaim(*claim));
  else
    TRY(syncBoundClaim(*claim));
  return Reconciled{};
}

bool PersistentVolumeController::delaysBinding(const Json& claim) const {
  if (!annotation(claim, kAnnSelectedNode).empty()) return false;
  std::string cls = claimClass(claim);
  if (cls.empty()) return false;
  auto sc = classes_.get(cls);
  return sc && getString(*sc, "volumeBindingMode") == "WaitForFirstConsumer";
}

std::string PersistentVolumeController::mismatch(const Json& volume, const Json& claim) const {
  auto request = claimRequest(claim);
  auto capacity = volumeCapacity(volume);
  if (request && (!capacity || *capacity < *request)) return "requested PV is too small";
  if (getString(specOf(volume), "storageClassName") != claimClass(claim))
    return "storageClassName does not match";
  if (volumeMode(volume) != volumeMode(claim)) return "incompatible volumeMode";
  if (!accessModesSatisfied(volume, claim)) return "incompatible accessMode";
  return "";
}

std::optional<Json> PersistentVolumeController::findBestVolume(const Json& claim, const Json* node,
                                                               bool delayBinding) const {
  auto request = claimRequest(claim);
  std::optional<selectors::LabelSelector> selector;
  if (const Json* s = findMember(specOf(claim), "selector"); s && s->is_object()) {
    auto parsed = selectors::LabelSelector::fromObject(*s);
    if (!parsed.ok()) return std::nullopt;
    selector = std::move(*parsed);
  }
  std::optional<Json> best;
  std::optional<__int128> bestCapacity;
  for (const Json& volume : volumes_.list()) {
    if (isDeleting(volume)) continue;
    auto capacity = volumeCapacity(volume);
    if (boundToClaim(volume, claim)) {
      // Pre-bound to this claim: it if fits, whatever else is available.
      if (request && (!capacity || *capacity < *request)) continue;
      if (volumeMode(volume) != volumeMode(claim)) continue;
      if (node != nullptr && !nodeAffinityAdmits(volume, *node)) continue;
      return volume;
    }
    if (node == nullptr && delayBinding) continue;
    if (!claimRefKey(volume).empty() || phaseOf(volume) != "Available") continue;
    if (!mismatch(volume, claim).empty()) continue;
    if (selector && !selector->matches(metadata(volume).value("labels", Json::object()))) continue;
    if (node != nullptr && !nodeAffinityAdmits(volume, *node)) continue;
    if (!best || (capacity && bestCapacity && *capacity < *bestCapacity)) {
      best = volume;
      bestCapacity = capacity;
    }
  }
  return best;
}

Result<void> PersistentVolumeController::syncUnboundClaim(const Json& claim) {
  std::string volumeName = getString(specOf(claim), "volumeName");
  // A claim created with no class while there was no default one gets today's default
  // (retroactive default StorageClass assignment).
  const Json* classField = findMember(specOf(claim), "storageClassName");
  if ((classField == nullptr || classField->is_null()) && volumeName.empty() &&
      annotation(claim, kAnnBetaStorageClass).empty()) {
    std::string name = defaultClassName(classes_.list());
    if (!name.empty()) {
      Json updated = claim;
      updated["spec"]["storageClassName"] = name;
      auto r = ctx_.client.update(kPersistentVolumeClaims, getString(metadata(claim), "namespace"),
                                  updated);
      if (!r.ok() && !r.error().is(ErrorCode::kNotFound)) return std::move(r).error();
      return {};  // the update brings the claim back
    }
  }
  if (!volumeName.empty()) {
    // The user asked for this volume.
    auto volume = volumes_.get(volumeName);
    if (!volume) return setClaimPhase(claim, "Pending");  // it may come later
    if (claimRefKey(*volume).empty()) {
      std::string why = mismatch(*volume, claim);
      if (!why.empty()) {
        event(claim, "Warning", "FailedBinding",
              "Cannot bind to requested volume \"" + volumeName + "\": " + why);
        return setClaimPhase(claim, "Pending");
      }
      return bind(*volume, claim);
    }
    if (boundToClaim(*volume, claim)) return bind(*volume, claim);
    event(claim, "Warning", "FailedBinding",
          "volume \"" + volumeName + "\" already bound to a different claim.");
    return setClaimPhase(claim, "Pending");
  }

  bool delay = delaysBinding(claim);
  if (delay) {
    // The first consumer: a pod using the claim that is on a node already.
    for (const Json& pod : pods_.byIndex(kPodClaimIndex, claimKey(claim))) {
      std::string node = getString(specOf(pod), "nodeName");
      if (node.empty() || isDeleting(pod) || podIsTerminated(pod)) continue;
      Json updated = claim;
      setAnnotation(updated, kAnnSelectedNode, node);
      auto r = ctx_.client.update(kPersistentVolumeClaims, getString(metadata(claim), "namespace"),
                                  updated);
      if (!r.ok() && !r.error().is(ErrorCode::kNotFound)) return std::move(r).error();
      return {};  // the update brings the claim back
    }
  }
  std::optional<Json> node;
  if (std::string selected = annotation(claim, kAnnSelectedNode); !selected.empty()) {
    node = nodes_.get(selected);
    if (!node) node = Json{{"metadata", {{"name", selected}}}};
  }
  auto volume = findBestVolume(claim, node ? &*node : nullptr, delay);
  if (volume) return bind(*volume, claim);

  if (delay) {
    event(claim, "Normal", "WaitForFirstConsumer",
          "waiting for first consumer to be created before binding");
    return setClaimPhase(claim, "Pending");
  }
  std::string cls = claimClass(claim);
  if (cls.empty()) {
    event(claim, "Normal", "FailedBinding",
          "no persistent volumes available for this claim and no storage class is set");
    return setClaimPhase(claim, "Pending");
  }
  auto sc = classes_.get(cls);
  if (!sc) {
    event(claim, "Warning", "ProvisioningFailed",
          "storageclass.storage.k8s.io \"" + cls + "\" not found");
    return setClaimPhase(claim, "Pending");
  }
  std::string provisioner = getString(*sc, "provisioner");
  if (provisioner.empty() || provisioner == kNoProvisioner) {
    event(claim, "Normal", "FailedBinding",
          "no persistent volumes available for this claim and no storage class is set");
    return setClaimPhase(claim, "Pending");
  }
  // Hand the claim to its (external) provisioner, which creates a volume pre-bound to it.
  if (annotation(claim, kAnnStorageProvisioner) != provisioner ||
      annotation(claim, kAnnBetaStorageProvisioner) != provisioner) {
    // The event first: the provisioner may act (and record its own) as soon as the update lands.
    event(claim, "Normal", "ExternalProvisioning",
          "Waiting for a volume to be created either by the external provisioner '" + provisioner +
              "' or manually by the system administrator. If volume creation is delayed, please "
              "verify "
              "that the provisioner is running and correctly registered.");
    Json updated = claim;
    setAnnotation(updated, kAnnStorageProvisioner, provisioner);
    setAnnotation(updated, kAnnBetaStorageProvisioner, provisioner);
    auto r = ctx_.client.update(kPersistentVolumeClaims, getString(metadata(claim), "namespace"),
                                updated);
    if (!r.ok() && !r.error().is(ErrorCode::kNotFound)) return std::move(r).error();
    return {};
  }
  return setClaimPhase(claim, "Pending");
}

Result<void> PersistentVolumeController::syncBoundClaim(const Json& claim) {
  std::string volumeName = getString(specOf(claim), "volumeName");
  if (volumeName.empty()) {
    if (phaseOf(claim) != "Lost")
      event(claim, "Warning", "ClaimLost",
            "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!");
    return setClaimPhase(claim, "Lost");
  }
  auto volume = volumes_.get(volumeName);
  if (!volume) {
    // The informer may lag behind a volume created a moment ago.
    auto live = ctx_.client.get(kPersistentVolumes, "", volumeName);
    if (live.ok()) return {};
    if (!live.error().is(ErrorCode::kNotFound)) return std::move(live).error();
    if (phaseOf(claim) != "Lost")
      event(claim, "Warning", "ClaimLost",
            "Bound claim has lost its PersistentVolume. Data on the volume is lost!");
    return setClaimPhase(claim, "Lost");
  }
  if (claimRefKey(*volume).empty() || boundToClaim(*volume, claim)) return bind(*volume, claim);
  if (phaseOf(claim) != "Lost")
    event(claim, "Warning", "ClaimMisbound",
          "Two claims are bound to the same volume, this one is bound incorrectly");
  return setClaimPhase(claim, "Lost");
}

Result<void> PersistentVolumeController::bind(Json volume, Json claim) {
  const std::string ns = getString(metadata(claim), "namespace");
  const std::string claimName = getString(metadata(claim), "name");
  const std::string claimUid = getString(metadata(claim), "uid");
  const std::string volumeName = getString(metadata(volume), "name");
  // 1. The volume points at the claim.
  const Json* ref = findMember(specOf(volume), "claimRef");
  if (ref == nullptr || !ref->is_object() || getString(*ref, "uid") != claimUid) {
    Json updated = volume;
    if (ref == nullptr || !ref->is_object()) setAnnotation(updated, kAnnBoundByController, "yes");
    updated["spec"]["claimRef"] = {
        {"kind", "PersistentVolumeClaim"},
        {"namespace", ns},
        {"name", claimName},
        {"uid", claimUid},
        {"apiVersion", "v1"},
        {"resourceVersion", getString(metadata(claim), "resourceVersion")}};
    volume = TRY(ctx_.client.update(kPersistentVolumes, "", updated));
  }
  if (phaseOf(volume) != "Bound") TRY(setVolumePhase(volume, "Bound"));
  // 2. The claim points at the volume.
  if (getString(specOf(claim), "volumeName") != volumeName ||
      annotation(claim, kAnnBindCompleted).empty()) {
    Json updated = claim;
    if (getString(specOf(claim), "volumeName") != volumeName) {
      updated["spec"]["volumeName"] = volumeName;
      setAnnotation(updated, kAnnBoundByController, "yes");
    }
    setAnnotation(updated, kAnnBindCompleted, "yes");
    claim = TRY(ctx_.client.update(kPersistentVolumeClaims, ns, updated));
  }
  // 3. The claim's status shows what it got.
  Json status = claim.value("status", Json::object());
  Json wanted = status;
  wanted["phase"] = "Bound";
  wanted["accessModes"] = specOf(volume).value("accessModes", Json::array());
  wanted["capacity"] = specOf(volume).value("capacity", Json::object());
  if (wanted != status) {
    Json updated = claim;
    updated["status"] = wanted;
    auto r = ctx_.client.update(kPersistentVolumeClaims, ns, updated, {}, "status");
    if (!r.ok()) return std::move(r).error();
    log::info("claim bound", {{"claim", ns + "/" + claimName}, {"volume", volumeName}});
  }
  return {};
}

Result<void> PersistentVolumeController::setClaimPhase(const Json& claim,
                                                       const std::string& phase) {
  if (phaseOf(claim) == phase) return {};
  Json updated = claim;
  updated["status"]["phase"] = phase;
  auto r = ctx_.client.update(kPersistentVolumeClaims, getString(metadata(claim), "namespace"),
                              updated, {}, "status");
  if (!r.ok() && !r.error().is(ErrorCode::kNotFound)) return std::move(r).error();
  return {};
}

Result<void> PersistentVolumeController::setVolumePhase(const Json& volume,
                                                        const std::string& phase,
                                                        const std::string& reason,
                                                        const std::string& message) {
  Json status = volume.value("status", Json::object());
  if (getString(status, "phase") == phase && getString(status, "message") == message) return {};
  Json updated = volume;
  if (getString(status, "phase") != phase)
    status["lastPhaseTransitionTime"] = formatRfc3339(std::chrono::system_clock::now());
  status["phase"] = phase;
  if (reason.empty())
    status.erase("reason");
  else
    status["reason"] = reason;
  if (message.empty())
    status.erase("message");
  else
    status["message"] = message;
  updated["status"] = status;
  auto r = ctx_.client.update(kPersistentVolumes, "", updated, {}, "status");
  if (!r.ok() && !r.error().is(ErrorCode::kNotFound)) return std::move(r).error();
  return {};
}

Result<Reconciled> PersistentVolumeController::reconcileVolume(const std::string& name) {
  auto volume = volumes_.get(name);
  if (!volume) return Reconciled{};
  std::string key = claimRefKey(*volume);
  if (key.empty()) {
    if (phaseOf(*volume) != "Available") TRY(setVolumePhase(*volume, "Available"));
    return Reconciled{};
  }
  if (claimRefUid(*volume).empty()) {
    // Pre-bound by the user to a claim that may not exist yet.
    if (phaseOf(*volume) != "Available") TRY(setVolumePhase(*volume, "Available"));
    claimQueue_.add(key);
    return Reconciled{};
  }
  std::optional<Json> claim = claims_.get(key);
  if (!claim) {
    // Not in the informer: ask the API before releasing anything.
    auto slash = key.find('/');
    auto live =
        ctx_.client.get(kPersistentVolumeClaims, key.substr(0, slash), key.substr(slash + 1));
    if (live.ok())
      claim = *live;
    else if (!live.error().is(ErrorCode::kNotFound))
      return std::move(live).error();
  }
  if (claim && getString(metadata(*claim), "uid") != claimRefUid(*volume)) claim.reset();
  if (!claim) {
    TRY(releaseVolume(*volume));
    return Reconciled{};
  }
  std::string claimVolume = getString(specOf(*claim), "volumeName");
  if (claimVolume.empty()) {
    claimQueue_.add(key);  // the claim's sync completes the binding
    return Reconciled{};
  }
  if (claimVolume == name) {
    if (phaseOf(*volume) != "Bound") TRY(setVolumePhase(*volume, "Bound"));
    return Reconciled{};
  }
  // The claim went to another volume.
  if (!annotation(*volume, kAnnProvisionedBy).empty() &&
      getString(specOf(*volume), "persistentVolumeReclaimPolicy") == "Delete") {
    TRY(releaseVolume(*volume));
  } else if (annotation(*volume, kAnnBoundByController) == "yes") {
    Json updated = *volume;
    updated["spec"].erase("claimRef");
    updated["metadata"]["annotations"].erase(kAnnBoundByController);
    Json unbound = TRY(ctx_.client.update(kPersistentVolumes, "", updated));
    TRY(setVolumePhase(unbound, "Available"));
  }
  return Reconciled{};
}

Result<void> PersistentVolumeController::releaseVolume(const Json& volume) {
  std::string phase = phaseOf(volume);
  if (phase == "Failed") return {};
  if (phase != "Released") {
    TRY(setVolumePhase(volume, "Released"));
    return {};  // the status update brings it back here
  }
  std::string policy = getString(specOf(volume), "persistentVolumeReclaimPolicy", "Retain");
  std::string name = getString(metadata(volume), "name");
  if (policy == "Retain") return {};
  if (policy == "Recycle") {
    event(volume, "Warning", "VolumeFailedRecycle", "No recycler plugin found for the volume!");
    return setVolumePhase(volume, "Failed", "VolumeFailedRecycle",
                          "No recycler plugin found for the volume!");
  }
  // Delete: the provisioner that made it deletes it; nave has no in-tree deleters.
  if (!annotation(volume, kAnnProvisionedBy).empty()) return {};
  std::string message = "error getting deleter volume plugin for volume \"" + name +
                        "\": no deletable volume plugin matched";
  event(volume, "Warning", "VolumeFailedDelete", message);
  return setVolumePhase(volume, "Failed", "VolumeFailedDelete", message);
}

}  // namespace nave::controllers
