// LocalPathProvisioner: dynamic provisioning of node-local directories for claims of the
// local-path StorageClass (k3s' bundled rancher.io/local-path provisioner, built in).
//
// At start the `local-path` class is created when missing, as the cluster's default class
// (WaitForFirstConsumer, reclaim policy Delete). A claim handed to rancher.io/local-path (the
// storage-provisioner annotation the binder sets) whose first consumer has been placed on a
// node (volume.kubernetes.io/selected-node) gets a directory DATA/storage/pvc-UID_NS_NAME and
// a hostPath PersistentVolume named pvc-UID, pinned to that node, of the claim's size, that
// the binder then binds. A Released volume of ours whose reclaim policy is Delete has its
// directory removed, then is deleted.
//
// The directories are made by the server, under its data directory: volumes are local to the
// server's own node (an agent on another machine would mount an empty directory there).
#pragma once

#include "server/controllers/controller.h"

namespace nave::controllers {

class LocalPathProvisioner final : public Controller {
 public:
  static constexpr char kProvisioner[] = "rancher.io/local-path";
  static constexpr char kClassName[] = "local-path";

  explicit LocalPathProvisioner(ControllerContext& ctx);
  ~LocalPathProvisioner() override { stop(); }
  void start() override;
  void stop() override;

 private:
  Result<Reconciled> reconcileClaim(const std::string& key);
  Result<Reconciled> reconcileVolume(const std::string& name);
  Result<void> ensureDefaultClass();
  std::string storageDir() const { return ctx_.dataDir + "/storage"; }

  ControllerContext& ctx_;
  Informer& volumes_;
  Informer& claims_;
  Informer& classes_;
  WorkQueue claimQueue_, volumeQueue_;
  Workers claimWorkers_, volumeWorkers_;
};

}  // namespace nave::controllers
