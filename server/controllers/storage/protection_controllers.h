// The storage object in-use protection controllers (kube-controller-manager's
// pvc-protection and pv-protection). The API server creates claims and volumes with the
// kubernetes.io/pvc-protection and kubernetes.io/pv-protection finalizers; these controllers
// add them to objects that lack them and remove them from deleted objects once nothing uses
// them: a claim when no pod that is not Succeeded or Failed mounts it, a volume when it is no
// longer Bound.
#pragma once

#include "server/controllers/controller.h"

namespace nave::controllers {

class PvcProtectionController final : public Controller {
 public:
  explicit PvcProtectionController(ControllerContext& ctx);
  ~PvcProtectionController() override { stop(); }
  void start() override;
  void stop() override { workers_.stop(); }

 private:
  Result<Reconciled> reconcile(const std::string& key);
  Result<bool> inUse(const std::string& ns, const std::string& key);

  ControllerContext& ctx_;
  Informer& claims_;
  Informer& pods_;
  WorkQueue queue_;
  Workers workers_;
};

class PvProtectionController final : public Controller {
 public:
  explicit PvProtectionController(ControllerContext& ctx);
  ~PvProtectionController() override { stop(); }
  void start() override;
  void stop() override { workers_.stop(); }

 private:
  Result<Reconciled> reconcile(const std::string& name);

  ControllerContext& ctx_;
  Informer& volumes_;
  WorkQueue queue_;
  Workers workers_;
};

}  // namespace nave::controllers
