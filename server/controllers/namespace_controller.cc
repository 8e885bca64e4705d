#include "server/controllers/namespace_controller.h"

#include <set>

#include "common/log.h"

namespace nave::controllers {

NamespaceController::NamespaceController(client::Client& client, registry::TypeRegistry& types)
    : client_(client), types_(types), informer_(client, client::kNamespaces),
      queue_(std::chrono::milliseconds(50), std::chrono::seconds(10)) {
  informer_.addHandler([this](const std::string& key) { queue_.add(key); });
}

NamespaceController::~NamespaceController() { stop(); }

void NamespaceController::start() {
  informer_.start();
  worker_ = std::thread([this] { worker(); });
}

void NamespaceController::stop() {
  queue_.shutdown();
  informer_.stop();
  if (worker_.joinable()) worker_.join();
}

void NamespaceController::worker() {
  while (auto key = queue_.get()) {
    bool finished = reconcile(*key);
    if (finished) queue_.forget(*key);
    else queue_.addRateLimited(*key);
    queue_.done(*key);
  }
}

bool NamespaceController::reconcile(const std::string& name) {
  auto ns = informer_.get(name);
  if (!ns) return true;
  const Json& meta = ns->value("metadata", Json::object());
  if (!meta.contains("deletionTimestamp") || meta["deletionTimestamp"].is_null()) return true;

  // Delete the content: every namespaced resource, once per storage.
  bool remaining = false;
  std::set<std::string> seen;
  for (const auto& type : types_.all()) {
    if (!type->namespaced || !type->hasVerb("list") || !type->hasVerb("delete")) continue;
    if (!seen.insert(type->keyPrefix()).second) continue;
    client::Resource r{type->group, type->version, type->plural};
    auto list = client_.list(r, name);
    if (!list.ok()) {
      log::warning("namespace cleanup: list failed", {{"namespace", name}, {"resource", type->plural},
                                                       {"error", list.error().message()}});
      remaining = true;
      continue;
    }
    for (const Json& item : (*list)["items"]) {
      remaining = true;
      std::string itemName = getString(item["metadata"], "name");
      if (item["metadata"].contains("deletionTimestamp")) continue;  // already going
      api::DeleteOptions opts;
      opts.propagationPolicy = "Background";
      auto r2 = client_.remove(r, name, itemName, opts);
      if (!r2.ok() && !r2.error().is(ErrorCode::kNotFound))
        log::warning("namespace cleanup: delete failed",
                     {{"namespace", name}, {"object", itemName}, {"error", r2.error().message()}});
    }
  }
  if (remaining) return false;

  // Empty: remove our finalizer.
  Json updated = *ns;
  Json finalizers = Json::array();
  if (updated.contains("spec") && updated["spec"].contains("finalizers"))
    for (const Json& f : updated["spec"]["finalizers"])
      if (f != "kubernetes") finalizers.push_back(f);
  updated["spec"]["finalizers"] = finalizers;
  auto r = client_.update(client::kNamespaces, "", updated, {}, "finalize");
  if (!r.ok() && !r.error().is(ErrorCode::kNotFound)) {
    log::warning("namespace finalize failed", {{"namespace", name}, {"error", r.error().message()}});
    return false;
  }
  log::info("namespace deleted", {{"namespace", name}});
  return true;
}

}  // namespace nave::controllers
