// ServiceAccountController: every active namespace has a ServiceAccount "default"
// (kube-controller-manager's serviceaccount controller); one deleted is made again.
#pragma once

#include "server/controllers/controller.h"

namespace nave::controllers {

class ServiceAccountController final : public Controller {
 public:
  explicit ServiceAccountController(ControllerContext& ctx);
  ~ServiceAccountController() override { stop(); }
  void start() override;
  void stop() override { workers_.stop(); }

 private:
  Result<Reconciled> reconcile(const std::string& ns);

  ControllerContext& ctx_;
  Informer& namespaces_;
  Informer& serviceAccounts_;
  WorkQueue queue_;
  Workers workers_;
};

}  // namespace nave::controllers
