#include "server/controllers/core/resource_quota_controller.h"

#include "server/api/quota.h"
#include "server/registry/type_registry.h"

namespace nave::controllers {
namespace {

const client::Resource kQuotas{"", "v1", "resourcequotas"};

}  // namespace

ResourceQuotaController::ResourceQuotaController(ControllerContext& ctx)
    : ctx_(ctx), quotas_(ctx.informers.informer(kQuotas)),
      queue_(std::chrono::milliseconds(100), std::chrono::seconds(30)) {
  quotas_.addHandler([this](const std::string& key) { queue_.add(key); });
  for (const char* plural : {"pods", "services", "configmaps", "secrets", "persistentvolumeclaims"}) {
    client::Resource r{"", "v1", plural};
    Informer& informer = ctx.informers.informer(r);
    counted_.push_back({r, &informer});
    informer.addObjectHandler([this](const Json* before, const Json* after) {
      const Json& o = after ? *after : *before;
      std::string ns = getString(o["metadata"], "namespace");
      for (const std::string& key : quotas_.keysByIndex(Informer::kNamespaceIndex, ns)) queue_.add(key);
    });
  }
}

void ResourceQuotaController::start() {
  workers_.start(queue_, 1, "resourcequota", [this](const std::string& key) { return reconcile(key); });
}

Result<Reconciled> ResourceQuotaController::reconcile(const std::string& key) {
  auto quota = quotas_.get(key);
  if (!quota) return Reconciled{};
  const Json& md = (*quota)["metadata"];
  if (md.contains("deletionTimestamp")) return Reconciled{};
  std::string ns = getString(md, "namespace");
  const Json hard = quota->value("spec", Json::object()).value("hard", Json::object());
  api::quota::Usage usage;
  for (auto& [resource, informer] : counted_)
    for (const Json& o : informer->list(ns)) api::quota::add(usage, api::quota::usageOf(resource.group, resource.resource, o));
  usage["resourcequotas"] = api::quota::usageOf("", "resourcequotas", *quota)["resourcequotas"];
  usage["resourcequotas"].nanos *= static_cast<__int128>(quotas_.list(ns).size());
  Json used = Json::object();
  for (auto& [k, v] : hard.items()) {
    auto it = usage.find(k);
    if (it != usage.end()) {
      used[k] = it->second.toString();
      continue;
    }
    // count/PLURAL[.GROUP] of a resource not watched here: a live count.
    if (k.starts_with("count/")) {
      std::string rest = k.substr(6), plural = rest, group;
      if (auto dot = rest.find('.'); dot != std::string::npos) {
        plural = rest.substr(0, dot);
        group = rest.substr(dot + 1);
      }
      std::string version;
      for (const auto& type : ctx_.types.all())
        if (type->group == group && type->plural == plural) version = type->version;
      if (!version.empty()) {
        auto list = ctx_.client.list({group, version, plural}, ns);
        if (list.ok()) {
          used[k] = std::to_string((*list)["items"].size());
          continue;
        }
      }
    }
    used[k] = "0";
  }
  Json status = {{"hard", hard}, {"used", used}};
  if (quota->value("status", Json::object()) == status) return Reconciled{};
  Json updated = *quota;
  updated["status"] = status;
  auto r = ctx_.client.update(kQuotas, ns, updated, {}, "status");
  if (!r.ok() && !r.error().is(ErrorCode::kNotFound)) return std::move(r).error();
  return Reconciled{};
}

}  // namespace nave::controllers
