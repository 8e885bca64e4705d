#include "server/apply/apply.h"

#include <algorithm>
#include <map>

#include "common/strings.h"
#include "server/apply/fieldpath.h"
#include "server/apply/managed_fields.h"
#include "server/apply/typed.h"

namespace nave::apply {
namespace {

constexpr size_t kMaxUpdateManagers = 10;
constexpr std::string_view kBeforeFirstApply = "before-first-apply";
constexpr std::string_view kLastApplied = "kubectl.kubernetes.io/last-applied-configuration";
// The manager name kubectl --server-side uses, for which client-side apply state is honoured.
constexpr std::string_view kKubectl = "kubectl";

// Fields no manager ever owns: the type, the object's identity and what the server maintains.
const FieldSet& strippedFields() {
  static const FieldSet set = [] {
    FieldSet s;
    s.insert({PathElement::fieldName("apiVersion")});
    s.insert({PathElement::fieldName("kind")});
    s.insert({PathElement::fieldName("metadata")});
    for (const char* f : {"name", "namespace", "creationTimestamp", "selfLink", "uid",
                          "clusterName", "generation", "managedFields", "resourceVersion"}) {
      s.insert({PathElement::fieldName("metadata"), PathElement::fieldName(f)});
    }
    return s;
  }();
  return set;
}

FieldSet resetFieldSet(const std::vector<std::string>& paths) {
  FieldSet out;
  for (const std::string& p : paths) {
    Path path;
    for (const std::string& part : split(p, '.'))
      if (!part.empty()) path.push_back(PathElement::fieldName(part));
    if (!path.empty()) out.insert(std::move(path));
  }
  return out;
}

Comparison excludeFields(Comparison c, const FieldSet& ignored) {
  if (ignored.empty()) return c;
  c.removed = c.removed.recursiveDifference(ignored);
  c.modified = c.modified.recursiveDifference(ignored);
  c.added = c.added.recursiveDifference(ignored);
  return c;
}

const Json* managedFieldsOf(const Json& obj) {
  const Json* meta = findMember(obj, "metadata");
  if (meta == nullptr) return nullptr;
  const Json* mf = findMember(*meta, "managedFields");
  return mf != nullptr && !mf->is_null() ? mf : nullptr;
}

Json withoutManagedFields(const Json& obj) {
  Json out = obj;
  if (auto meta = out.find("metadata"); meta != out.end() && meta->is_object())
    meta->erase("managedFields");
  return out;
}

Result<ManagedFields> decodeOf(const Json* obj) {
  if (obj == nullptr) return ManagedFields{};
  const Json* mf = managedFieldsOf(*obj);
  return mf == nullptr ? ManagedFields{} : decodeManagedFields(*mf);
}

Result<void> storeManagedFields(Json& obj, const ManagedFields& managed) {
  auto meta = obj.find("metadata");
  if (meta == obj.end() || meta->is_null()) {
    if (managed.empty()) return {};
    meta = obj.emplace("metadata", Json::object()).first;
  }
  if (!meta->is_object()) return Error(ErrorCode::kBadRequest, "metadata must be an object");
  if (managed.empty())
    meta->erase("managedFields");
  else
    (*meta)["managedFields"] = encodeManagedFields(managed);
  return {};
}

struct Conflict {
  std::string manager;  // identifier
  Path path;
};

// structured-merge-diff's Updater.update: the fields `workflow` changes stop belonging to the
// other managers (or, without `force`, are reported as conflicts and nothing changes), and the
// fields it removes stop belonging to anyone. Managers left with nothing are dropped.
std::vector<Conflict> transferOwnership(const Comparison& cmp, ManagedFields& managers,
                                        const std::string& workflow, bool force) {
  FieldSet changed = cmp.modified.unionWith(cmp.added);
  std::map<std::string, FieldSet> conflicts;
  for (const auto& [id, entry] : managers) {
    if (id == workflow) continue;
    FieldSet c = entry.fields.intersection(changed);
    if (!c.empty()) conflicts[id] = std::move(c);
  }
  if (!force && !conflicts.empty()) {
    std::vector<Conflict> out;
    for (const auto& [id, set] : conflicts)
      for (Path& p : set.iterationOrder()) out.push_back({id, std::move(p)});
    return out;
  }
  for (const auto& [id, set] : conflicts) managers[id].fields = managers[id].fields.difference(set);
  if (!cmp.removed.empty()) {
    for (auto& [id, entry] : managers)
      if (id != workflow) entry.fields = entry.fields.difference(cmp.removed);
  }
  std::erase_if(managers, [](const auto& kv) { return kv.second.fields.empty(); });
  return {};
}

// Records an Update of `live` into `updated` by `manager`, the way Kubernetes' field manager
// chain does: the fields the operation changed join what the manager owned before, and its
// time is refreshed only when it changed something.
void recordUpdateOperation(const TypedOps& ops, const Json& live, const Json& updated,
                           ManagedFields& managers, const ManagerEntry& who,
                           const FieldSet& ignored, WallTime now) {
  const std::string self = "\x01current-operation";  // never a real identifier
  Comparison cmp = excludeFields(ops.compare(live, updated), ignored);
  transferOwnership(cmp, managers, self, /*force=*/true);
  FieldSet set = cmp.modified.unionWith(cmp.added).difference(cmp.removed);
  set = set.recursiveDifference(ignored).difference(strippedFields());
  if (set.empty()) return;
  std::string id = who.identifier();
  auto previous = managers.find(id);
  if (previous != managers.end()) {
    previous->second.fields = set.unionWith(previous->second.fields);
    previous->second.apiVersion = who.apiVersion;
    previous->second.time = now;
  } else {
    ManagerEntry e = who;
    e.fields = std::move(set);
    e.time = now;
    managers[id] = std::move(e);
  }
}

// structured-merge-diff's prune: the fields `applier` applied last time and no longer applies
// are removed from `merged`, unless some manager (the applier's new configuration included)
// owns them. A struct someone owns stays, even when emptied.
Json prune(const TypedOps& ops, const Json& merged, const ManagedFields& managers,
           const FieldSet& lastSet) {
  if (lastSet.empty()) return merged;
  // The object's identity is never pruned, even by a configuration that does not name it.
  FieldSet managed = strippedFields();
  for (const auto& [id, e] : managers) managed = managed.unionWith(e.fields);
  managed = ops.ensureNamedFieldsAreMembers(managed);
  FieldSet last = ops.ensureNamedFieldsAreMembers(lastSet);
  Json pruned = ops.removeItems(merged, last, &managed);

  // Put back whatever the removal took that someone owns.
  auto fieldSetOf = [&](const Json& v) {
    auto s = ops.toFieldSet(v, /*strict=*/false);
    return ops.ensureNamedFieldsAreMembers(s.ok() ? *s : FieldSet());
  };
  FieldSet mergedSet = fieldSetOf(merged);
  FieldSet keep = fieldSetOf(pruned).unionWith(managed);
  pruned = ops.removeItems(merged, mergedSet.difference(keep), &managed);

  // Only what the applier owned last time may go; anything else the removal took comes back.
  FieldSet gone = mergedSet.difference(fieldSetOf(pruned)).intersection(last);
  return ops.removeItems(merged, gone, &managed);
}

Error conflictError(const std::vector<Conflict>& conflicts, const ManagedFields& managers) {
  auto who = [&](const std::string& id) {
    auto it = managers.find(id);
    return it == managers.end() ? goQuote(id) : it->second.printable();
  };
  std::string message;
  if (conflicts.size() == 1) {
    message = "Apply failed with 1 conflict: conflict with " + who(conflicts[0].manager) + ": " +
              pathString(conflicts[0].path);
  } else {
    std::vector<std::string> lines;
    std::string current;
    bool first = true;
    for (const Conflict& c : conflicts) {  // grouped by manager already
      if (first || c.manager != current) {
        lines.push_back("conflicts with " + who(c.manager) + ":");
        current = c.manager;
        first = false;
      }
      lines.push_back("- " + pathString(c.path));
    }
    message = "Apply failed with " + std::to_string(conflicts.size()) +
              " conflicts: " + join(lines, "\n");
  }
  Error err(ErrorCode::kConflict, message);
  for (const Conflict& c : conflicts)
    err.causes.push_back(
        {"FieldManagerConflict", "conflict with " + who(c.manager), pathString(c.path)});
  return err;
}

std::string groupVersionKindString(const Json& obj) {
  std::string apiVersion = getString(obj, "apiVersion");
  std::string group, version = apiVersion;
  if (auto slash = apiVersion.find('/'); slash != std::string::npos) {
    group = apiVersion.substr(0, slash);
    version = apiVersion.substr(slash + 1);
  }
  return group + "/" + version + ", Kind=" + getString(obj, "kind");
}

std::string expectedKind(const schema::Node& schema, const Json* live, const ManagerInfo& info) {
  if (!info.kind.empty()) return info.kind;
  for (const schema::GroupVersionKind& gvk : schema.gvks) {
    std::string gv = gvk.group.empty() ? gvk.version : gvk.group + "/" + gvk.version;
    if (gv == info.apiVersion) return gvk.kind;
  }
  if (!schema.gvks.empty()) return schema.gvks.front().kind;
  return live != nullptr ? getString(*live, "kind") : "";
}

// kubectl's client-side apply state: the fields of the last-applied-configuration annotation
// that still hold their applied values may be taken over by `kubectl apply --server-side`
// without a conflict (Kubernetes' lastAppliedManager).
std::optional<FieldSet> fieldsFromLastApplied(const TypedOps& ops, const Json& live,
                                              const std::string& apiVersion) {
  const Json* meta = findMember(live, "metadata");
  const Json* annotations = meta != nullptr ? findMember(*meta, "annotations") : nullptr;
  std::string text = annotations != nullptr ? getString(*annotations, kLastApplied) : "";
  if (text.empty()) return std::nullopt;
  auto parsed = parseJson(text);
  if (!parsed.ok() || !parsed->value.is_object()) return std::nullopt;
  const Json& lastApplied = parsed->value;
  if (getString(lastApplied, "apiVersion") != apiVersion) return std::nullopt;
  auto set = ops.toFieldSet(lastApplied, /*strict=*/false);
  if (!set.ok()) return std::nullopt;
  Comparison cmp = ops.compare(lastApplied, live);
  return set->difference(cmp.modified).difference(cmp.added).difference(cmp.removed);
}

// Keeps the client-side apply annotation in step with what kubectl --server-side applies, so a
// later client-side apply computes its patch from the right base (Kubernetes'
// lastAppliedUpdater). Only objects that already carry the annotation are touched.
void updateLastApplied(Json& result, const Json& applied) {
  auto meta = result.find("metadata");
  if (meta == result.end() || !meta->is_object()) return;
  auto annotations = meta->find("annotations");
  if (annotations == meta->end() || !annotations->is_object()) return;
  auto current = annotations->find(kLastApplied);
  if (current == annotations->end() || !current->is_string() ||
      current->get_ref<const std::string&>().empty())
    return;
  Json config = applied;
  if (auto m = config.find("metadata"); m != config.end() && m->is_object()) {
    if (auto a = m->find("annotations"); a != m->end() && a->is_object()) a->erase(kLastApplied);
  }
  *current = dumpJson(config) + "\n";
}

struct ApplyOutcome {
  Json object;
  ManagedFields managers;
  std::vector<Conflict> conflicts;
};

}  // namespace

Result<void> recordUpdate(const Json* old, Json& updated, const schema::SchemaSet* set,
                          const schema::Node& schema, const ManagerInfo& info) {
  if (!updated.is_object())
    return Error(ErrorCode::kBadRequest, "the object must be a JSON object");

  // Whose ownership to start from: the client may replace managedFields (or wipe them with []
  // or [{}]); when it sends none, and always on subresources, the stored ones stay.
  ManagedFields managers;
  const Json* sent = info.subresource.empty() ? managedFieldsOf(updated) : nullptr;
  if (sent != nullptr && isResetManagedFields(*sent)) {
    // stays empty
  } else {
    if (sent != nullptr) managers = TRY(decodeManagedFields(*sent));
    if (managers.empty()) managers = TRY(decodeOf(old));
  }

  Json liveClean = old != nullptr ? withoutManagedFields(*old) : Json::object();
  if (auto meta = updated.find("metadata"); meta != updated.end() && meta->is_object())
    meta->erase("managedFields");
  // An existing object nobody tracks stays untracked until someone applies to it.
  if (managers.empty() && old != nullptr) return {};

  TypedOps ops(set, &schema);
  ManagerEntry who;
  who.manager = info.manager.empty() ? "unknown" : info.manager;
  who.operation = std::string(kOperationUpdate);
  who.apiVersion = info.apiVersion;
  who.subresource = info.subresource;
  recordUpdateOperation(ops, liveClean, updated, managers, who, resetFieldSet(info.resetFields),
                        info.time);
  capUpdateManagers(managers, kMaxUpdateManagers);
  return storeManagedFields(updated, managers);
}

Result<Json> serverSideApply(const Json* live, const Json& applied, const schema::SchemaSet* set,
                             const schema::Node& schema, const ManagerInfo& info, bool force) {
  if (!applied.is_object())
    return Error(ErrorCode::kBadRequest, "the applied configuration must be an object");
  std::string kind = expectedKind(schema, live, info);
  if (getString(applied, "apiVersion") != info.apiVersion ||
      (!kind.empty() && getString(applied, "kind") != kind)) {
    return Error(ErrorCode::kBadRequest, "invalid object type: " + groupVersionKindString(applied));
  }
  if (managedFieldsOf(applied) != nullptr)
    return Error(ErrorCode::kBadRequest, "metadata.managedFields must be nil");

  TypedOps ops(set, &schema);
  auto appliedSet = ops.toFieldSet(applied, /*strict=*/true);
  if (!appliedSet.ok()) {
    return Error(ErrorCode::kBadRequest, "failed to create typed patch object (" +
                                             groupVersionKindString(applied) +
                                             "): " + appliedSet.error().message());
  }
  ManagedFields stored = TRY(decodeOf(live));
  Json liveClean = live != nullptr ? withoutManagedFields(*live) : Json::object();
  FieldSet ignored = resetFieldSet(info.resetFields);

  ManagerEntry applier;
  applier.manager = info.manager.empty() ? "unknown" : info.manager;
  applier.operation = std::string(kOperationApply);
  applier.apiVersion = info.apiVersion;
  applier.subresource = info.subresource;
  const std::string applierId = applier.identifier();

  auto attempt = [&](bool forced) {
    ApplyOutcome out;
    out.managers = stored;
    if (out.managers.empty() && live != nullptr) {
      // Fields set before anyone applied belong to a placeholder manager, so that the first
      // applier can conflict with them and does not prune them.
      ManagerEntry before;
      before.manager = std::string(kBeforeFirstApply);
      before.operation = std::string(kOperationUpdate);
      before.apiVersion = info.apiVersion;
      before.subresource = info.subresource;
      recordUpdateOperation(ops, Json::object(), liveClean, out.managers, before, ignored,
                            info.time);
      capUpdateManagers(out.managers, kMaxUpdateManagers);
    }
    std::optional<FieldSet> lastSet;
    std::optional<WallTime> lastTime;
    if (auto it = out.managers.find(applierId); it != out.managers.end()) {
      lastSet = it->second.fields;
      lastTime = it->second.time;
    }
    Json merged = ops.merge(liveClean, applied);
    ManagerEntry& entry = out.managers[applierId];
    entry = applier;
    entry.time = lastTime;
    entry.fields = appliedSet->recursiveDifference(ignored);
    if (lastSet) merged = prune(ops, merged, out.managers, *lastSet);
    Comparison cmp = excludeFields(ops.compare(liveClean, merged), ignored);
    out.conflicts = transferOwnership(cmp, out.managers, applierId, forced);
    out.object = std::move(merged);
    return out;
  };

  ApplyOutcome outcome = attempt(force);
  if (!outcome.conflicts.empty() && applier.manager == kKubectl) {
    if (auto allowed = fieldsFromLastApplied(ops, liveClean, info.apiVersion)) {
      std::vector<Conflict> remaining;
      for (Conflict& c : outcome.conflicts)
        if (!allowed->has(c.path)) remaining.push_back(std::move(c));
      if (remaining.empty())
        outcome = attempt(true);
      else
        outcome.conflicts = std::move(remaining);
    }
  }
  if (!outcome.conflicts.empty()) return conflictError(outcome.conflicts, outcome.managers);

  ManagedFields& managers = outcome.managers;
  if (auto it = managers.find(applierId); it != managers.end()) {
    it->second.fields = it->second.fields.difference(strippedFields());
    if (it->second.fields.empty()) {
      managers.erase(it);
    } else if (!it->second.time || outcome.object != liveClean) {
      it->second.time = info.time;
    }
  }
  Json result = std::move(outcome.object);
  if (applier.manager == kKubectl) updateLastApplied(result, applied);
  TRY(storeManagedFields(result, managers));
  return result;
}

}  // namespace nave::apply
