#include "server/controllers/crd_controller.h"

#include <algorithm>

#include "common/log.h"
#include "common/strings.h"
#include "common/time.h"
#include "server/crd/crd_types.h"

namespace nave::controllers {
namespace {

const client::Resource& kCrds = client::kCustomResourceDefinitions;

const Json& member(const Json& s, std::string_view k) {
  static const Json kNull;
  const Json* v = findMember(s, k);
  return v ? *v : kNull;
}

const Json* findCondition(const Json& crd, std::string_view type) {
  const Json& conditions = member(member(crd, "status"), "conditions");
  if (!conditions.is_array()) return nullptr;
  for (const Json& c : conditions)
    if (getString(c, "type") == type) return &c;
  return nullptr;
}

bool conditionTrue(const Json& crd, std::string_view type) {
  const Json* c = findCondition(crd, type);
  return c != nullptr && getString(*c, "status") == "True";
}

Json condition(std::string type, std::string status, std::string reason, std::string message) {
  return {{"type", std::move(type)},
          {"status", std::move(status)},
          {"reason", std::move(reason)},
          {"message", std::move(message)}};
}

// apiextensions' SetCRDCondition: the transition time moves only when the status changes.
void setCondition(Json& status, Json c) {
  Json& conditions = status["conditions"];
  if (!conditions.is_array()) conditions = Json::array();
  for (Json& existing : conditions) {
    if (getString(existing, "type") != getString(c, "type")) continue;
    if (getString(existing, "status") != getString(c, "status") ||
        !existing.contains("lastTransitionTime"))
      c["lastTransitionTime"] = formatRfc3339(std::chrono::system_clock::now());
    else
      c["lastTransitionTime"] = existing["lastTransitionTime"];
    existing = std::move(c);
    return;
  }
  c["lastTransitionTime"] = formatRfc3339(std::chrono::system_clock::now());
  conditions.push_back(std::move(c));
}

bool isDeleting(const Json& crd) {
  const Json* ts = findMember(member(crd, "metadata"), "deletionTimestamp");
  return ts != nullptr && !ts->is_null();
}

bool hasCleanupFinalizer(const Json& crd) {
  const Json& fs = member(member(crd, "metadata"), "finalizers");
  if (!fs.is_array()) return false;
  for (const Json& f : fs)
    if (f == crd::kCleanupFinalizer) return true;
  return false;
}

std::string nameOf(const Json& crd) {
  return getString(member(crd, "metadata"), "name");
}
std::string groupOf(const Json& crd) {
  return getString(member(crd, "spec"), "group");
}

// equalToAcceptedOrFresh: a requested name is fine if it is ours already or nobody uses it.
std::optional<std::string> nameConflict(const std::string& requested, const std::string& accepted,
                                        const std::set<std::string>& used) {
  if (requested == accepted || !used.contains(requested)) return std::nullopt;
  return Json(requested).dump() + " is already in use";
}

struct Naming {
  Json acceptedNames;
  Json namesAccepted;  // the NamesAccepted condition
  Json established;    // the Established condition
};

// The naming controller's calculateNamesAndConditions.
Naming decideNames(const Json& crd, const std::set<std::string>& resources,
                   const std::set<std::string>& kinds) {
  const Json& requested = member(member(crd, "spec"), "names");
  Json accepted = member(member(crd, "status"), "acceptedNames");
  if (!accepted.is_object()) accepted = Json::object();
  Json names = accepted;
  std::string reason, message;
  auto check = [&](const char* field, const char* conflictReason,
                   const std::set<std::string>& used) {
    std::string want = getString(requested, field);
    if (auto conflict = nameConflict(want, getString(accepted, field), used)) {
      reason = conflictReason;
      message = *conflict;
    } else {
      names[field] = want;
    }
  };
  check("plural", "PluralConflict", resources);
  check("singular", "SingularConflict", resources);
  Json wantShort = member(requested, "shortNames");
  Json haveShort = member(accepted, "shortNames");
  if (wantShort != haveShort) {
    std::vector<std::string> errs;
    if (wantShort.is_array()) {
      for (const Json& s : wantShort) {
        if (!s.is_string()) continue;
        bool ours = haveShort.is_array() &&
                    std::find(haveShort.begin(), haveShort.end(), s) != haveShort.end();
        if (ours) continue;
        if (auto conflict = nameConflict(s.get<std::string>(), "", resources))
          errs.push_back(*conflict);
      }
    }
    if (!errs.empty()) {
      reason = "ShortNamesConflict";
      message = errs.size() == 1 ? errs[0] : "[" + join(errs, ", ") + "]";
    } else if (wantShort.is_array() && !wantShort.empty()) {
      names["shortNames"] = wantShort;
    } else {
      names.erase("shortNames");
    }
  }
  check("kind", "KindConflict", kinds);
  check("listKind", "ListKindConflict", kinds);
  if (const Json& categories = member(requested, "categories");
      categories.is_array() && !categories.empty())
    names["categories"] = categories;
  else
    names.erase("categories");

  Naming out;
  out.acceptedNames = std::move(names);
  out.namesAccepted = reason.empty()
                          ? condition("NamesAccepted", "True", "NoConflicts", "no conflicts found")
                          : condition("NamesAccepted", "False", reason, message);
  // Established never goes back to False.
  if (const Json* old = findCondition(crd, "Established")) {
    out.established = *old;
  } else {
    out.established =
        condition("Established", "False", "NotAccepted", "not all names are accepted");
  }
  if (getString(out.established, "status") != "True" && reason.empty())
    out.established = condition("Established", "True", "InitialNamesAccepted",
                                "the initial names have been accepted");
  return out;
}

}  // namespace

CrdController::CrdController(client::Client& client, registry::TypeRegistry& types)
    : client_(client),
      types_(types),
      informer_(client, kCrds),
      queue_(std::chrono::milliseconds(50), std::chrono::seconds(10)) {
  informer_.addHandler([this](const std::string& key) { queue_.add(key); });
}

CrdController::~CrdController() {
  stop();
}

Result<std::unique_ptr<CrdController>> CrdController::start(client::Client& client,
                                                            registry::TypeRegistry& types) {
  crd::installCrdStrategy(types);
  std::unique_ptr<CrdController> c(new CrdController(client, types));
  auto listed = client.list(kCrds, "");
  if (!listed.ok()) return std::move(listed).error().context("list CustomResourceDefinitions");
  for (const Json& item : (*listed)["items"])
    if (conditionTrue(item, "NamesAccepted") || conditionTrue(item, "Established")) c->serve(item);
  c->informer_.start();
  c->worker_ = std::thread([p = c.get()] { p->worker(); });
  return c;
}

void CrdController::stop() {
  if (stopped_) return;
  stopped_ = true;
  queue_.shutdown();
  informer_.stop();
  if (worker_.joinable()) worker_.join();
}

void CrdController::worker() {
  while (auto key = queue_.get()) {
    bool finished = reconcile(*key);
    if (finished)
      queue_.forget(*key);
    else
      queue_.addRateLimited(*key);
    queue_.done(*key);
  }
}

void CrdController::namesInUse(const std::string& group, const std::string& self,
                               std::set<std::string>& resources,
                               std::set<std::string>& kinds) const {
  for (const Json& other : informer_.list()) {
    std::string name = nameOf(other);
    if (name == self || groupOf(other) != group) continue;
    auto cached = acceptedNames_.find(name);
    const Json& names = cached != acceptedNames_.end()
                            ? cached->second
                            : member(member(other, "status"), "acceptedNames");
    for (const char* field : {"plural", "singular"})
      if (std::string v = getString(names, field); !v.empty()) resources.insert(v);
    if (const Json& shorts = member(names, "shortNames"); shorts.is_array())
      for (const Json& s : shorts)
        if (s.is_string()) resources.insert(s.get<std::string>());
    for (const char* field : {"kind", "listKind"})
      if (std::string v = getString(names, field); !v.empty()) kinds.insert(v);
  }
}

void CrdController::requeueGroup(const std::string& group, const std::string& except) {
  for (const Json& other : informer_.list())
    if (groupOf(other) == group && nameOf(other) != except) queue_.add(nameOf(other));
}

void CrdController::serve(const Json& crd) {
  std::string name = nameOf(crd);
  Json basis = {{"uid", getString(member(crd, "metadata"), "uid")},
                {"spec", member(crd, "spec")},
                {"acceptedNames", member(member(crd, "status"), "acceptedNames")},
                {"terminating", isDeleting(crd)}};
  std::string fingerprint = dumpJson(basis);
  auto current = served_.find(name);
  if (current != served_.end() && current->second.fingerprint == fingerprint) return;

  auto built = crd::typesForCrd(crd);
  if (!built.ok()) {
    log::warning("cannot serve CustomResourceDefinition",
                 {{"crd", name}, {"error", built.error().message()}});
    return;
  }
  Served entry;
  entry.group = groupOf(crd);
  entry.fingerprint = fingerprint;
  std::vector<registry::ResourceTypePtr> toAdd;
  for (const auto& t : *built) {
    entry.plural = t->plural;
    auto existing = types_.find(t->group, t->version, t->plural);
    if (existing && !existing->isCustomResource) {
      log::warning("CustomResourceDefinition version shadows a built-in resource; not served",
                   {{"crd", name}, {"version", t->version}});
      continue;
    }
    entry.versions.insert(t->version);
    toAdd.push_back(t);
  }
  // Versions no longer served go: remove the resource and add what remains.
  if (current != served_.end()) {
    bool dropped = false;
    for (const auto& v : current->second.versions) dropped |= !entry.versions.contains(v);
    if (dropped || current->second.plural != entry.plural)
      types_.removeResource(current->second.group, current->second.plural);
  }
  std::string preferred;
  for (const auto& g : types_.groups())
    if (g.group == entry.group && !g.versions.empty()) preferred = g.versions.front();
  for (size_t i = 0; i < toAdd.size(); ++i) {
    bool prefer = i == 0 && (preferred.empty() ||
                             crd::compareVersionPriority(toAdd[i]->version, preferred) < 0);
    types_.add(toAdd[i], prefer);
  }
  std::string versions;
  for (const auto& v : entry.versions) versions += (versions.empty() ? "" : ",") + v;
  log::info("Serving custom resource",
            {{"crd", name}, {"versions", versions}, {"terminating", isDeleting(crd)}});
  std::string cel = name + "/" + std::to_string(getInt(member(crd, "metadata"), "generation", 0));
  if (crd::hasValidationRules(crd) && celWarned_.insert(cel).second)
    log::warning("x-kubernetes-validations rules are accepted but not evaluated (no CEL support)",
                 {{"crd", name}});
  served_[name] = std::move(entry);
}

void CrdController::unserve(const std::string& name) {
  auto it = served_.find(name);
  if (it == served_.end()) return;
  types_.removeResource(it->second.group, it->second.plural);
  log::info("Stopped serving custom resource", {{"crd", name}});
  served_.erase(it);
}

Result<Json> CrdController::writeStatus(const Json& crd, const Json& status) {
  if (member(crd, "status") == status) return crd;
  Json next = crd;
  next["status"] = status;
  return client_.update(kCrds, "", next, {}, "status");
}

bool CrdController::reconcile(const std::string& name) {
  std::optional<Json> crd = informer_.get(name);
  if (!crd) {
    auto it = served_.find(name);
    std::string group = it != served_.end() ? it->second.group : name.substr(name.find('.') + 1);
    unserve(name);
    acceptedNames_.erase(name);
    requeueGroup(group, name);  // its names are free again
    return true;
  }
  if (isDeleting(*crd)) {
    if (served_.contains(name)) serve(*crd);  // now refusing creates
    if (!hasCleanupFinalizer(*crd)) return true;
    return finalize(*crd);
  }

  std::set<std::string> resources, kinds;
  namesInUse(groupOf(*crd), name, resources, kinds);
  Naming naming = decideNames(*crd, resources, kinds);
  Json status = member(*crd, "status");
  if (!status.is_object()) status = Json::object();
  bool namesChanged = member(status, "acceptedNames") != naming.acceptedNames;
  status["acceptedNames"] = naming.acceptedNames;
  setCondition(status, naming.namesAccepted);
  setCondition(status, naming.established);

  // Serve before Established is written: whoever waits for the condition finds the resource.
  if (getString(naming.established, "status") == "True") {
    Json withNames = *crd;
    withNames["status"] = status;
    serve(withNames);
  }
  auto written = writeStatus(*crd, status);
  if (!written.ok()) {
    if (written.error().is(ErrorCode::kNotFound)) return true;
    if (!written.error().is(ErrorCode::kConflict))
      log::warning("CustomResourceDefinition status update failed",
                   {{"crd", name}, {"error", written.error().message()}});
    return false;
  }
  if (namesChanged) {
    acceptedNames_[name] = naming.acceptedNames;
    requeueGroup(groupOf(*crd), name);
  }
  return true;
}

bool CrdController::finalize(const Json& crd) {
  std::string name = nameOf(crd);
  Json status = member(crd, "status");
  if (!status.is_object()) status = Json::object();
  setCondition(status, condition("Terminating", "True", "InstanceDeletionInProgress",
                                 "CustomResource deletion is in progress"));
  auto written = writeStatus(crd, status);
  if (!written.ok()) {
    log::v(2, "CRD cleanup: status update failed",
           {{"crd", name}, {"error", written.error().message()}});
    return written.error().is(ErrorCode::kNotFound);
  }
  Json current = std::move(*written);

  auto served = served_.find(name);
  if (served != served_.end() && !served->second.versions.empty()) {
    // Every version shares one storage: deleting through any of them reaches all objects.
    client::Resource r{served->second.group, *served->second.versions.begin(),
                       served->second.plural};
    auto fail = [&](const std::string& reason, const std::string& message) {
      Json s = member(current, "status");
      setCondition(s, condition("Terminating", "True", reason, message));
      (void)writeStatus(current, s);
      log::warning("CustomResourceDefinition cleanup: " + message, {{"crd", name}});
      return false;
    };
    auto listed = client_.list(r, "");
    if (!listed.ok())
      return fail("InstanceDeletionFailed",
                  "could not list instances: " + listed.error().message());
    std::vector<std::string> errors;
    size_t remaining = 0;
    for (const Json& item : (*listed)["items"]) {
      ++remaining;
      const Json& meta = member(item, "metadata");
      if (findMember(meta, "deletionTimestamp") != nullptr) continue;  // already going
      auto removed = client_.remove(r, getString(meta, "namespace"), getString(meta, "name"), {});
      if (!removed.ok() && !removed.error().is(ErrorCode::kNotFound))
        errors.push_back(removed.error().message());
    }
    if (!errors.empty())
      return fail("InstanceDeletionFailed",
                  "could not issue all deletes: " +
                      (errors.size() == 1 ? errors[0] : "[" + join(errors, ", ") + "]"));
    if (remaining > 0) {
      auto again = client_.list(r, "");
      if (!again.ok() || !(*again)["items"].empty()) {
        log::v(2, "CRD cleanup: waiting for custom resources to go", {{"crd", name}});
        return false;
      }
    }
    status = member(current, "status");
    setCondition(status, condition("Terminating", "False", "InstanceDeletionCompleted",
                                   "removed all instances"));
  } else {
    status = member(current, "status");
    setCondition(status, condition("Terminating", "False", "NeverEstablished",
                                   "resource was never established"));
  }
  written = writeStatus(current, status);
  if (!written.ok()) {
    log::v(2, "CRD cleanup: status update failed",
           {{"crd", name}, {"error", written.error().message()}});
    return written.error().is(ErrorCode::kNotFound);
  }
  current = std::move(*written);

  // Our finalizer goes with a plain update; with no finalizer left the API server removes the
  // CRD and the informer's DELETED event unserves its types.
  Json finalizers = Json::array();
  for (const Json& f : member(member(current, "metadata"), "finalizers"))
    if (f != crd::kCleanupFinalizer) finalizers.push_back(f);
  current["metadata"]["finalizers"] = finalizers;
  auto updated = client_.update(kCrds, "", current);
  if (!updated.ok() && !updated.error().is(ErrorCode::kNotFound)) {
    if (updated.error().is(ErrorCode::kConflict))
      log::v(2, "CRD cleanup: finalizer removal conflicted", {{"crd", name}});
    else
      log::warning("CustomResourceDefinition finalizer removal failed",
                   {{"crd", name}, {"error", updated.error().message()}});
    return false;
  }
  log::info("CustomResourceDefinition cleaned up", {{"crd", name}});
  return true;
}

}  // namespace nave::controllers
