// PersistentVolumeController: binds PersistentVolumeClaims to PersistentVolumes and releases
// volumes whose claims are gone (kube-controller-manager's persistentvolume-binder).
//
// A Pending claim is bound to the smallest Available volume that satisfies it (same class,
// every requested access mode, capacity >= request, the claim's selector, the volume mode), or
// to the volume it names (spec.volumeName), or to the volume pre-bound to it (claimRef). The
// volume is written first (claimRef, Bound), then the claim (volumeName, the bind-completed
// annotation, then status Bound with the volume's capacity and access modes), so that a crash
// in between is repaired by the next sync from either side.
//
// A claim of a class whose volumeBindingMode is WaitForFirstConsumer waits for a pod that uses
// it to be on a node: then the node is recorded in the volume.kubernetes.io/selected-node
// annotation (the scheduler's job in Kubernetes; nave's pods often carry nodeName), and only
// volumes whose node affinity admits that node are candidates. A claim no volume satisfies is
// handed to its class's provisioner (the storage-provisioner annotations).
//
// A volume whose claim is gone becomes Released; a Retain volume then stays so; a Delete
// volume is deleted by its provisioner (pv.kubernetes.io/provisioned-by), or becomes Failed
// when nothing can delete it.
#pragma once

#include "server/controllers/controller.h"

namespace nave::controllers {

class PersistentVolumeController final : public Controller {
 public:
  explicit PersistentVolumeController(ControllerContext& ctx);
  ~PersistentVolumeController() override { stop(); }
  void start() override;
  void stop() override;

 private:
  Result<Reconciled> reconcileClaim(const std::string& key);
  Result<Reconciled> reconcileVolume(const std::string& name);
  Result<void> syncUnboundClaim(const Json& claim);
  Result<void> syncBoundClaim(const Json& claim);
  // The best Available volume for the claim (for `node`, when not null), or null.
  std::optional<Json> findBestVolume(const Json& claim, const Json* node, bool delayBinding) const;
  // Why the volume cannot serve the claim, or "" when it can.
  std::string mismatch(const Json& volume, const Json& claim) const;
  bool delaysBinding(const Json& claim) const;
  Result<void> bind(Json volume, Json claim);
  Result<void> setClaimPhase(const Json& claim, const std::string& phase);
  Result<void> setVolumePhase(const Json& volume, const std::string& phase,
                              const std::string& reason = "", const std::string& message = "");
  Result<void> releaseVolume(const Json& volume);
  void event(const Json& object, const std::string& type, const std::string& reason,
             const std::string& message);

  ControllerContext& ctx_;
  Informer& volumes_;
  Informer& claims_;
  Informer& classes_;
  Informer& pods_;
  Informer& nodes_;
  WorkQueue claimQueue_, volumeQueue_;
  Workers claimWorkers_, volumeWorkers_;
};

}  // namespace nave::controllers
