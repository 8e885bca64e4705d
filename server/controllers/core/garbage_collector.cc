#include "server/controllers/core/garbage_collector.h"

#include "common/log.h"
#include "server/registry/type_registry.h"

namespace nave::controllers {
namespace {

constexpr char kOrphan[] = "orphan";
constexpr char kForeground[] = "foregroundDeletion";

// What the collector keeps of an object: identity, owners, finalizers, deletion.
void toMetadata(Json& object) {
  Json md = object.value("metadata", Json::object());
  Json kept = Json::object();
  for (const char* f : {"name", "namespace", "uid", "ownerReferences", "finalizers",
                        "deletionTimestamp", "resourceVersion"}) {
    if (const Json* v = findMember(md, f)) kept[f] = *v;
  }
  Json reduced = {{"metadata", std::move(kept)}};
  if (const Json* v = findMember(object, "apiVersion")) reduced["apiVersion"] = *v;
  if (const Json* v = findMember(object, "kind")) reduced["kind"] = *v;
  object = std::move(reduced);
}

std::pair<std::string, std::string> splitApiVersion(const std::string& apiVersion) {
  auto slash = apiVersion.find('/');
  if (slash == std::string::npos) return {"", apiVersion};
  return {apiVersion.substr(0, slash), apiVersion.substr(slash + 1)};
}

}  // namespace

GarbageCollector::GarbageCollector(ControllerContext& ctx)
    : ctx_(ctx), queue_(std::chrono::milliseconds(10), std::chrono::seconds(60)) {
  // One metadata-only informer per stored resource (a resource served in several versions is
  // watched once).
  std::set<std::string> seen;
  for (const auto& type : ctx_.types.all()) {
    if (!type->hasVerb("list") || !type->hasVerb("watch") || !type->hasVerb("delete")) continue;
    if (!seen.insert(type->keyPrefix()).second) continue;
    client::Resource r{type->group, type->version, type->plural};
    auto informer = std::make_unique<Informer>(ctx_.client, r);
    informer->setTransform(toMetadata);
    informer->addObjectHandler([this, r](const Json* before, const Json* after) { observe(r, before, after); });
    informers_.push_back(std::move(informer));
  }
}

GarbageCollector::~GarbageCollector() { stop(); }

void GarbageCollector::start() {
  for (auto& i : informers_) i->start();
  for (auto& i : informers_) i->waitForSync();
  workers_.start(queue_, 2, "garbage-collector", [this](const std::string& uid) { return reconcile(uid); });
}

void GarbageCollector::stop() {
  workers_.stop();
  for (auto& i : informers_) i->stop();
}

void GarbageCollector::observe(const client::Resource& r, const Json* before, const Json* after) {
  std::vector<std::string> enqueue;
  {
    std::lock_guard lock(mu_);
    const Json& object = after != nullptr ? *after : *before;
    const Json& md = object.value("metadata", Json::object());
    std::string uid = getString(md, "uid");
    if (uid.empty()) return;
    // Forget the old owners' links.
    if (auto old = nodes_.find(uid); old != nodes_.end()) {
      for (const OwnerRef& o : old->second.owners) {
        auto d = dependents_.find(o.uid);
        if (d == dependents_.end()) continue;
        d->second.erase(uid);
        if (d->second.empty()) dependents_.erase(d);
      }
    }
    if (after == nullptr) {
      nodes_.erase(uid);
      // Its dependents may be orphans now, and a foreground owner may be unblocked.
      if (auto d = dependents_.find(uid); d != dependents_.end())
        enqueue.insert(enqueue.end(), d->second.begin(), d->second.end());
      const Json* refs = findMember(md, "ownerReferences");
      if (refs != nullptr && refs->is_array())
        for (const Json& ref : *refs) enqueue.push_back(getString(ref, "uid"));
    } else {
      Node n;
      n.resource = r;
      n.apiVersion = getString(object, "apiVersion");
      n.kind = getString(object, "kind");
      n.ns = getString(md, "namespace");
      n.name = getString(md, "name");
      n.uid = uid;
      n.deleting = md.contains("deletionTimestamp") && !md["deletionTimestamp"].is_null();
      if (const Json* f = findMember(md, "finalizers"); f && f->is_array())
        for (const Json& x : *f)
          if (x.is_string()) n.finalizers.insert(x.get<std::string>());
      if (const Json* refs = findMember(md, "ownerReferences"); refs && refs->is_array()) {
        for (const Json& ref : *refs) {
          OwnerRef o{getString(ref, "apiVersion"), getString(ref, "kind"), getString(ref, "name"),
                     getString(ref, "uid"), getBool(ref, "blockOwnerDeletion")};
          if (o.uid.empty()) continue;
          dependents_[o.uid].insert(uid);
          n.owners.push_back(std::move(o));
          // An owner in the foreground waits for this one.
          enqueue.push_back(n.owners.back().uid);
        }
      }
      bool interesting = !n.owners.empty() ||
                         (n.deleting && (n.finalizers.count(kOrphan) || n.finalizers.count(kForeground)));
      nodes_[uid] = std::move(n);
      if (interesting) enqueue.push_back(uid);
    }
  }
  log::v(5, "garbage collector: observed", {{"resource", r.resource}, {"deleted", after == nullptr},
                                            {"queued", static_cast<int64_t>(enqueue.size())}});
  for (const std::string& uid : enqueue) queue_.add(uid);
}

std::vector<GarbageCollector::Node> GarbageCollector::dependentsOf(const std::string& uid) {
  std::lock_guard lock(mu_);
  std::vector<Node> out;
  auto d = dependents_.find(uid);
  if (d == dependents_.end()) return out;
  for (const std::string& dep : d->second) {
    auto n = nodes_.find(dep);
    if (n != nodes_.end()) out.push_back(n->second);
  }
  return out;
}

Result<Reconciled> GarbageCollector::reconcile(const std::string& uid) {
  std::optional<Node> node;
  {
    std::lock_guard lock(mu_);
    auto it = nodes_.find(uid);
    if (it != nodes_.end()) node = it->second;
  }
  if (!node) return Reconciled{};
  log::v(4, "garbage collector: reconciling",
         {{"object", node->kind + " " + node->ns + "/" + node->name}, {"deleting", node->deleting},
          {"owners", static_cast<int64_t>(node->owners.size())}});
  if (node->deleting && node->finalizers.count(kOrphan)) return orphanDependents(*node);
  if (node->deleting && node->finalizers.count(kForeground)) return deleteDependentsInForeground(*node);
  if (!node->owners.empty() && !node->deleting) return checkOwners(*node);
  return Reconciled{};
}

Result<Reconciled> GarbageCollector::orphanDependents(const Node& owner) {
  for (const Node& dep : dependentsOf(owner.uid)) TRY(removeOwnerRefs(dep, {owner.uid}));
  TRY(removeFinalizer(owner, kOrphan));
  log::v(2, "orphaned the dependents", {{"object", owner.kind + " " + owner.ns + "/" + owner.name}});
  return Reconciled{};
}

Result<Reconciled> GarbageCollector::deleteDependentsInForeground(const Node& owner) {
  bool blocked = false;
  for (const Node& dep : dependentsOf(owner.uid)) {
    bool blocks = false;
    for (const OwnerRef& o : dep.owners)
      if (o.uid == owner.uid && o.blockOwnerDeletion) blocks = true;
    if (blocks) blocked = true;
    if (dep.deleting) continue;  // on its way; its removal queues the owner again
    api::DeleteOptions opts;
    // A dependent with dependents of its own goes in the foreground too, so that the owner
    // waits for the whole tree.
    opts.propagationPolicy = dependentsOf(dep.uid).empty() ? "Background" : "Foreground";
    opts.preconditionUid = dep.uid;
    auto r = ctx_.client.remove(dep.resource, dep.ns, dep.name, opts);
    if (!r.ok() && !r.error().is(ErrorCode::kNotFound) && !r.error().is(ErrorCode::kConflict))
      return std::move(r).error();
  }
  if (blocked) return Reconciled{};  // each dependent's removal queues the owner again
  TRY(removeFinalizer(owner, kForeground));
  return Reconciled{};
}

Result<Reconciled> GarbageCollector::checkOwners(const Node& node) {
  std::set<std::string> gone;
  bool ownerInForeground = false, anyPresent = false;
  for (const OwnerRef& o : node.owners) {
    bool foreground = false;
    bool exists = TRY(ownerExists(node.ns, o, &foreground));
    if (!exists) {
      gone.insert(o.uid);
      continue;
    }
    anyPresent = true;
    if (foreground && o.blockOwnerDeletion) ownerInForeground = true;
  }
  api::DeleteOptions opts;
  opts.preconditionUid = node.uid;
  if (!anyPresent) {
    opts.propagationPolicy = "Background";
    log::v(2, "deleting an object whose owners are gone",
           {{"object", node.kind + " " + node.ns + "/" + node.name}});
  } else if (ownerInForeground) {
    opts.propagationPolicy = "Foreground";
  } else {
    if (!gone.empty()) TRY(removeOwnerRefs(node, gone));
    return Reconciled{};
  }
  auto r = ctx_.client.remove(node.resource, node.ns, node.name, opts);
  if (!r.ok() && !r.error().is(ErrorCode::kNotFound) && !r.error().is(ErrorCode::kConflict))
    return std::move(r).error();
  return Reconciled{};
}

std::optional<client::Resource> GarbageCollector::resourceFor(const std::string& apiVersion,
                                                              const std::string& kind,
                                                              bool* namespaced) {
  auto [group, version] = splitApiVersion(apiVersion);
  auto type = ctx_.types.findKind(group, version, kind);
  if (!type) return std::nullopt;
  *namespaced = type->namespaced;
  return client::Resource{type->group, type->version, type->plural};
}

Result<bool> GarbageCollector::ownerExists(const std::string& ns, const OwnerRef& ref,
                                           bool* deletingInForeground) {
  *deletingInForeground = false;
  // The graph first: an owner it holds exists (its deletion would have removed it).
  {
    std::lock_guard lock(mu_);
    auto it = nodes_.find(ref.uid);
    if (it != nodes_.end()) {
      *deletingInForeground = it->second.deleting && it->second.finalizers.count(kForeground) > 0;
      return true;
    }
  }
  bool namespaced = false;
  auto resource = resourceFor(ref.apiVersion, ref.kind, &namespaced);
  // An owner of a kind nobody serves cannot be confirmed gone: keep the dependent, as
  // Kubernetes does.
  if (!resource) return true;
  auto live = ctx_.client.get(*resource, namespaced ? ns : "", ref.name);
  if (!live.ok()) {
    if (live.error().is(ErrorCode::kNotFound)) return false;
    return std::move(live).error();
  }
  const Json& md = live->value("metadata", Json::object());
  if (getString(md, "uid") != ref.uid) return false;  // a new object with the same name
  if (md.contains("deletionTimestamp") && md.contains("finalizers"))
    for (const Json& f : md["finalizers"])
      if (f == kForeground) *deletingInForeground = true;
  return true;
}

Result<void> GarbageCollector::removeFinalizer(const Node& node, const std::string& finalizer) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto live = ctx_.client.get(node.resource, node.ns, node.name);
    if (!live.ok()) return live.error().is(ErrorCode::kNotFound) ? Result<void>{} : std::move(live).error();
    Json& md = (*live)["metadata"];
    if (getString(md, "uid") != node.uid) return {};
    Json kept = Json::array();
    bool had = false;
    for (const Json& f : md.value("finalizers", Json::array())) {
      if (f == finalizer) had = true;
      else kept.push_back(f);
    }
    if (!had) return {};
    md["finalizers"] = kept;
    auto r = ctx_.client.update(node.resource, node.ns, *live);
    if (r.ok() || r.error().is(ErrorCode::kNotFound)) return {};
    if (!r.error().is(ErrorCode::kConflict)) return std::move(r).error();
  }
  return Error(ErrorCode::kConflict, "removing finalizer " + finalizer + ": too many conflicts");
}

Result<void> GarbageCollector::removeOwnerRefs(const Node& node, const std::set<std::string>& ownerUids) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto live = ctx_.client.get(node.resource, node.ns, node.name);
    if (!live.ok()) return live.error().is(ErrorCode::kNotFound) ? Result<void>{} : std::move(live).error();
    Json& md = (*live)["metadata"];
    if (getString(md, "uid") != node.uid) return {};
    Json kept = Json::array();
    bool changed = false;
    for (const Json& ref : md.value("ownerReferences", Json::array())) {
      if (ownerUids.count(getString(ref, "uid"))) changed = true;
      else kept.push_back(ref);
    }
    if (!changed) return {};
    if (kept.empty()) md.erase("ownerReferences");
    else md["ownerReferences"] = kept;
    auto r = ctx_.client.update(node.resource, node.ns, *live);
    if (r.ok() || r.error().is(ErrorCode::kNotFound)) return {};
    if (!r.error().is(ErrorCode::kConflict)) return std::move(r).error();
  }
  return Error(ErrorCode::kConflict, "removing owner references: too many conflicts");
}

}  // namespace nave::controllers
