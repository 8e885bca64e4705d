#include "server/apply/managed_fields.h"

#include <algorithm>
#include <vector>

namespace nave::apply {
namespace {

int64_t unixSeconds(const std::optional<WallTime>& t) {
  if (!t) return 0;
  return std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count();
}

Error decodeError(size_t index, const std::string& what) {
  return Error(ErrorCode::kBadRequest,
               "failed to decode managed fields: entry " + std::to_string(index) + ": " + what);
}

Result<std::string> optionalString(const Json& entry, const char* name, size_t index) {
  auto it = entry.find(name);
  if (it == entry.end() || it->is_null()) return std::string();
  if (!it->is_string()) return decodeError(index, std::string(name) + " must be a string");
  return it->get<std::string>();
}

}  // namespace

std::string ManagerEntry::identifier() const {
  // Field order and omitted empty fields follow metav1.ManagedFieldsEntry's JSON encoding.
  std::string out = "{";
  auto add = [&](const char* name, const std::string& value) {
    if (value.empty()) return;
    if (out.size() > 1) out += ',';
    out +=
        Json(name).dump() + ":" + Json(value).dump(-1, ' ', false, Json::error_handler_t::replace);
  };
  add("manager", manager);
  add("operation", operation);
  if (!applied()) add("apiVersion", apiVersion);
  add("subresource", subresource);
  return out + "}";
}

std::string ManagerEntry::printable() const {
  std::string out = goQuote(manager);
  if (!subresource.empty()) out += " with subresource " + goQuote(subresource);
  if (!applied()) out += " using " + apiVersion;
  return out;
}

Result<ManagedFields> decodeManagedFields(const Json& list) {
  ManagedFields out;
  if (list.is_null()) return out;
  if (!list.is_array())
    return Error(ErrorCode::kBadRequest, "failed to decode managed fields: not a list");
  for (size_t i = 0; i < list.size(); ++i) {
    const Json& e = list[i];
    if (!e.is_object()) return decodeError(i, "not an object");
    ManagerEntry entry;
    entry.manager = TRY(optionalString(e, "manager", i));
    entry.operation = TRY(optionalString(e, "operation", i));
    entry.apiVersion = TRY(optionalString(e, "apiVersion", i));
    entry.subresource = TRY(optionalString(e, "subresource", i));
    std::string fieldsType = TRY(optionalString(e, "fieldsType", i));
    std::string time = TRY(optionalString(e, "time", i));
    if (entry.operation != kOperationApply && entry.operation != kOperationUpdate)
      return decodeError(i, "operation must be `Apply` or `Update`");
    if (entry.apiVersion.empty()) return decodeError(i, "apiVersion must not be empty");
    if (fieldsType.empty()) return decodeError(i, "missing fieldsType");
    if (fieldsType != "FieldsV1")
      return decodeError(i, "invalid fieldsType " + goQuote(fieldsType));
    if (!time.empty()) {
      entry.time = parseRfc3339(time);
      if (!entry.time) return decodeError(i, "invalid time " + goQuote(time));
    }
    if (auto f = e.find("fieldsV1"); f != e.end() && !f->is_null()) {
      auto set = FieldSet::fromFieldsV1(*f);
      if (!set.ok()) return decodeError(i, "error decoding set: " + set.error().message());
      entry.fields = std::move(*set);
    }
    std::string id = entry.identifier();
    out[id] = std::move(entry);
  }
  return out;
}

Json encodeManagedFields(const ManagedFields& managed) {
  std::vector<const ManagerEntry*> entries;
  for (const auto& [id, e] : managed) entries.push_back(&e);
  std::stable_sort(entries.begin(), entries.end(),
                   [](const ManagerEntry* p, const ManagerEntry* q) {
                     if (p->operation != q->operation) return p->operation < q->operation;
                     int64_t ps = unixSeconds(p->time), qs = unixSeconds(q->time);
                     if (ps != qs) return ps < qs;
                     if (p->manager != q->manager) return p->manager < q->manager;
                     if (p->apiVersion != q->apiVersion) return p->apiVersion < q->apiVersion;
                     return p->subresource < q->subresource;
                   });
  Json out = Json::array();
  for (const ManagerEntry* e : entries) {
    Json j = Json::object();
    if (!e->manager.empty()) j["manager"] = e->manager;
    j["operation"] = e->operation;
    j["apiVersion"] = e->apiVersion;
    if (e->time) j["time"] = formatRfc3339(*e->time);
    j["fieldsType"] = "FieldsV1";
    j["fieldsV1"] = e->fields.toFieldsV1();
    if (!e->subresource.empty()) j["subresource"] = e->subresource;
    out.push_back(std::move(j));
  }
  return out;
}

bool isResetManagedFields(const Json& list) {
  if (!list.is_array()) return false;
  if (list.empty()) return true;
  if (list.size() != 1 || !list[0].is_object()) return false;
  for (const auto& [k, v] : list[0].items()) {
    bool zero = v.is_null() || (v.is_string() && v.get_ref<const std::string&>().empty());
    if (!zero) return false;
  }
  return true;
}

void capUpdateManagers(ManagedFields& managed, size_t maxUpdaters) {
  std::vector<std::string> updaters;
  for (const auto& [id, e] : managed)
    if (!e.applied()) updaters.push_back(id);
  if (updaters.size() <= maxUpdaters) return;
  std::stable_sort(updaters.begin(), updaters.end(),
                   [&](const std::string& a, const std::string& b) {
                     int64_t as = unixSeconds(managed[a].time), bs = unixSeconds(managed[b].time);
                     if (as != bs) return as < bs;
                     return a < b;
                   });
  // Oldest first: the first entry of each version seen becomes that version's bucket once a
  // second one arrives; later ones fold into it.
  std::map<std::string, std::string> firstOfVersion;
  size_t remaining = updaters.size();
  for (size_t i = 0; i < updaters.size() && remaining > maxUpdaters; ++i) {
    auto it = managed.find(updaters[i]);
    if (it == managed.end()) continue;
    ManagerEntry entry = it->second;
    ManagerEntry bucket;
    bucket.manager = "ancient-changes";
    bucket.operation = std::string(kOperationUpdate);
    bucket.apiVersion = entry.apiVersion;
    std::string bucketId = bucket.identifier();
    auto first = firstOfVersion.find(entry.apiVersion);
    if (first == firstOfVersion.end()) {
      firstOfVersion[entry.apiVersion] = updaters[i];
      continue;
    }
    if (!managed.count(bucketId)) {
      bucket.fields = managed[first->second].fields;
      managed.erase(first->second);
      managed[bucketId] = bucket;
    }
    if (updaters[i] == bucketId) continue;
    ManagerEntry& b = managed[bucketId];
    b.fields = b.fields.unionWith(entry.fields);
    b.time = entry.time;
    managed.erase(updaters[i]);
    --remaining;
  }
}

}  // namespace nave::apply
