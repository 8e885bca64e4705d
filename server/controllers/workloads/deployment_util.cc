#include "server/controllers/workloads/deployment_util.h"

#include <cmath>
#include <cstdlib>

namespace nave::controllers::workloads {

namespace {

const Json kEmpty = Json::object();

const Json& specOf(const Json& o) {
  const Json* spec = findMember(o, "spec");
  return spec && spec->is_object() ? *spec : kEmpty;
}

std::optional<int64_t> parseInt(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return v;
}

bool skipCopy(const std::string& key) {
  return key == "kubectl.kubernetes.io/last-applied-configuration" || key == kRevisionAnnotation ||
         key == kRevisionHistoryAnnotation || key == kDesiredReplicasAnnotation ||
         key == kMaxReplicasAnnotation || key == "deprecated.deployment.rollback.to";
}

}  // namespace

std::string safeEncodeString(const std::string& s) {
  static constexpr char kAlphanums[] = "bcdfghjklmnpqrstvwxz2456789";
  constexpr size_t n = sizeof(kAlphanums) - 1;
  std::string out(s.size(), ' ');
  for (size_t i = 0; i < s.size(); ++i) out[i] = kAlphanums[static_cast<unsigned char>(s[i]) % n];
  return out;
}

std::string computeTemplateHash(const Json& podTemplate, std::optional<int64_t> collisionCount) {
  uint32_t h = 2166136261u;
  auto feed = [&h](unsigned char c) {
    h ^= c;
    h *= 16777619u;
  };
  for (char c : dumpJson(podTemplate)) feed(static_cast<unsigned char>(c));
  if (collisionCount) {
    auto v = static_cast<uint32_t>(*collisionCount);
    for (int i = 0; i < 8; ++i) feed(i < 4 ? static_cast<unsigned char>(v >> (8 * i)) : 0);
  }
  return safeEncodeString(std::to_string(h));
}

namespace {

// Kubernetes compares templates as Go structs (apiequality.Semantic): an empty map, list or
// struct equals an absent one. kubectl, which round-trips templates through those structs,
// sends `resources: {}` and `creationTimestamp: null` where the API server stored nothing.
void pruneEmpty(Json& v) {
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end();) {
      pruneEmpty(*it);
      if (it->is_null() || ((it->is_object() || it->is_array()) && it->empty()))
        it = v.erase(it);
      else
        ++it;
    }
  } else if (v.is_array()) {
    for (Json& e : v) pruneEmpty(e);
  }
}

}  // namespace

bool equalIgnoreHash(const Json& a, const Json& b) {
  auto strip = [](Json t) {
    if (t.is_object() && t.contains("metadata") && t["metadata"].is_object()) {
      Json& md = t["metadata"];
      if (md.contains("labels") && md["labels"].is_object())
        md["labels"].erase(kPodTemplateHashLabel);
    }
    pruneEmpty(t);
    return t;
  };
  return strip(a) == strip(b);
}

std::optional<int64_t> scaledValue(const Json& v, int64_t total, bool roundUp) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (!v.is_string()) return std::nullopt;
  std::string s = v.get<std::string>();
  if (s.empty() || s.back() != '%') {
    return parseInt(s);
  }
  auto pct = parseInt(s.substr(0, s.size() - 1));
  if (!pct) return std::nullopt;
  double scaled = static_cast<double>(*pct) * static_cast<double>(total) / 100.0;
  return static_cast<int64_t>(roundUp ? std::ceil(scaled) : std::floor(scaled));
}

bool isRollingUpdate(const Json& d) {
  const Json* strategy = findMember(specOf(d), "strategy");
  return strategy == nullptr || getString(*strategy, "type", "RollingUpdate") == "RollingUpdate";
}

int64_t desiredReplicas(const Json& o) {
  return getInt(specOf(o), "replicas", 1);
}

namespace {

// Kubernetes' ResolveFenceposts: (surge, unavailable).
std::pair<int64_t, int64_t> fenceposts(const Json& d) {
  const Json* strategy = findMember(specOf(d), "strategy");
  const Json* ru = strategy ? findMember(*strategy, "rollingUpdate") : nullptr;
  Json surgeV = ru ? ru->value("maxSurge", Json("25%")) : Json("25%");
  Json unavailV = ru ? ru->value("maxUnavailable", Json("25%")) : Json("25%");
  int64_t desired = desiredReplicas(d);
  int64_t surge = scaledValue(surgeV, desired, true).value_or(0);
  int64_t unavailable = scaledValue(unavailV, desired, false).value_or(0);
  if (surge == 0 && unavailable == 0) unavailable = 1;
  return {surge, unavailable};
}

}  // namespace

int64_t maxSurge(const Json& d) {
  if (!isRollingUpdate(d)) return 0;
  return fenceposts(d).first;
}

int64_t maxUnavailable(const Json& d) {
  int64_t desired = desiredReplicas(d);
  if (!isRollingUpdate(d) || desired == 0) return 0;
  return std::min(fenceposts(d).second, desired);
}

const Json& annotationsOf(const Json& object) {
  const Json* md = findMember(object, "metadata");
  const Json* a = md ? findMember(*md, "annotations") : nullptr;
  return a && a->is_object() ? *a : kEmpty;
}

int64_t revisionOf(const Json& rs) {
  return parseInt(getString(annotationsOf(rs), kRevisionAnnotation)).value_or(0);
}

std::optional<int64_t> desiredReplicasAnnotation(const Json& rs) {
  return parseInt(getString(annotationsOf(rs), kDesiredReplicasAnnotation));
}

bool replicasAnnotationsNeedUpdate(const Json& rs, int64_t desired, int64_t max) {
  const Json& a = annotationsOf(rs);
  return getString(a, kDesiredReplicasAnnotation) != std::to_string(desired) ||
         getString(a, kMaxReplicasAnnotation) != std::to_string(max);
}

bool setReplicasAnnotations(Json& rs, int64_t desired, int64_t max) {
  if (!replicasAnnotationsNeedUpdate(rs, desired, max)) return false;
  Json& a = rs["metadata"]["annotations"];
  if (!a.is_object()) a = Json::object();
  a[kDesiredReplicasAnnotation] = std::to_string(desired);
  a[kMaxReplicasAnnotation] = std::to_string(max);
  return true;
}

bool setNewReplicaSetAnnotations(const Json& d, Json& rs, const std::string& newRevision,
                                 bool exists) {
  bool changed = false;
  Json& a = rs["metadata"]["annotations"];
  if (!a.is_object()) a = Json::object();
  for (const auto& [k, v] : annotationsOf(d).items()) {
    if (skipCopy(k)) continue;
    if (!a.contains(k) || a[k] != v) {
      a[k] = v;
      changed = true;
    }
  }
  const bool had = a.contains(kRevisionAnnotation);
  std::string oldRevision = getString(a, kRevisionAnnotation);
  std::optional<int64_t> oldN =
      oldRevision.empty() ? std::optional<int64_t>(0) : parseInt(oldRevision);
  if (!oldN) return changed;  // a malformed revision: leave it (Kubernetes does)
  int64_t newN = parseInt(newRevision).value_or(0);
  if (*oldN < newN) {
    a[kRevisionAnnotation] = newRevision;
    changed = true;
    if (had) {
      // A rollback to this ReplicaSet: remember the revisions it had.
      std::string history = getString(a, kRevisionHistoryAnnotation);
      if (history.empty()) {
        a[kRevisionHistoryAnnotation] = oldRevision;
      } else {
        std::vector<std::string> revisions;
        size_t start = 0;
        while (true) {
          size_t comma = history.find(',', start);
          revisions.push_back(history.substr(start, comma - start));
          if (comma == std::string::npos) break;
          start = comma + 1;
        }
        size_t total = history.size() + oldRevision.size() + 1;
        size_t first = 0;
        while (total > kMaxRevisionHistoryChars && first < revisions.size())
          total -= revisions[first++].size() + 1;
        if (total <= kMaxRevisionHistoryChars) {
          std::string joined;
          for (size_t i = first; i < revisions.size(); ++i) joined += revisions[i] + ",";
          a[kRevisionHistoryAnnotation] = joined + oldRevision;
        }
      }
    }
  }
  if (!exists) {
    int64_t desired = desiredReplicas(d);
    if (setReplicasAnnotations(rs, desired, desired + maxSurge(d))) changed = true;
  }
  return changed;
}

const Json* conditionOf(const Json& status, const std::string& type) {
  const Json* conditions = findMember(status, "conditions");
  if (conditions == nullptr || !conditions->is_array()) return nullptr;
  for (const Json& c : *conditions)
    if (getString(c, "type") == type) return &c;
  return nullptr;
}

Json newCondition(const std::string& type, const std::string& status, const std::string& reason,
                  const std::string& message, WallTime now) {
  std::string stamp = formatRfc3339(now);
  return {{"type", type},
          {"status", status},
          {"lastUpdateTime", stamp},
          {"lastTransitionTime", stamp},
          {"reason", reason},
          {"message", message}};
}

void setCondition(Json& status, Json condition) {
  const std::string type = getString(condition, "type");
  if (const Json* current = conditionOf(status, type)) {
    if (getString(*current, "status") == getString(condition, "status")) {
      if (getString(*current, "reason") == getString(condition, "reason")) return;
      condition["lastTransitionTime"] = current->value("lastTransitionTime", Json(nullptr));
    }
  }
  removeCondition(status, type);
  if (!status.contains("conditions") || !status["conditions"].is_array())
    status["conditions"] = Json::array();
  status["conditions"].push_back(std::move(condition));
}

void removeCondition(Json& status, const std::string& type) {
  if (!status.contains("conditions") || !status["conditions"].is_array()) return;
  Json kept = Json::array();
  for (const Json& c : status["conditions"])
    if (getString(c, "type") != type) kept.push_back(c);
  status["conditions"] = std::move(kept);
}

int64_t specReplicas(const std::vector<const Json*>& replicaSets) {
  int64_t n = 0;
  for (const Json* rs : replicaSets)
    if (rs != nullptr) n += desiredReplicas(*rs);
  return n;
}

int64_t statusCount(const std::vector<const Json*>& replicaSets, const char* field) {
  int64_t n = 0;
  for (const Json* rs : replicaSets)
    if (rs != nullptr) n += getInt(rs->value("status", kEmpty), field);
  return n;
}

}  // namespace nave::controllers::workloads
