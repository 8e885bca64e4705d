#include "server/controllers/core/service_account_controller.h"

namespace nave::controllers {
namespace {

const client::Resource kServiceAccounts{"", "v1", "serviceaccounts"};
constexpr char kDefault[] = "default";

}  // namespace

ServiceAccountController::ServiceAccountController(ControllerContext& ctx)
    : ctx_(ctx),
      namespaces_(ctx.informers.informer(client::kNamespaces)),
      serviceAccounts_(ctx.informers.informer(kServiceAccounts)) {
  namespaces_.addHandler([this](const std::string& name) { queue_.add(name); });
  serviceAccounts_.addObjectHandler([this](const Json* before, const Json* after) {
    if (after != nullptr) return;  // only a deletion can take the default away
    const Json& md = before->value("metadata", Json::object());
    if (getString(md, "name") == kDefault) queue_.add(getString(md, "namespace"));
  });
}

void ServiceAccountController::start() {
  workers_.start(queue_, 1, "serviceaccount", [this](const std::string& ns) { return reconcile(ns); });
}

Result<Reconciled> ServiceAccountController::reconcile(const std::string& ns) {
  auto namespaceObject = namespaces_.get(ns);
  if (!namespaceObject) return Reconciled{};
  const Json& md = namespaceObject->value("metadata", Json::object());
  if (md.contains("deletionTimestamp") && !md["deletionTimestamp"].is_null()) return Reconciled{};
  if (serviceAccounts_.get(ns + "/" + kDefault)) return Reconciled{};
  Json sa = {{"apiVersion", "v1"},
             {"kind", "ServiceAccount"},
             {"metadata", {{"name", kDefault}, {"namespace", ns}}}};
  auto r = ctx_.client.create(kServiceAccounts, ns, sa);
  // Already there (the informer lags), or the namespace is going away: nothing to do.
  if (!r.ok() && !r.error().is(ErrorCode::kAlreadyExists) && !r.error().is(ErrorCode::kForbidden))
    return std::move(r).error();
  return Reconciled{};
}

}  // namespace nave::controllers
