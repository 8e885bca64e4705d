#include "server/controllers/batch/job_util.h"

#include "common/strings.h"

namespace nave::controllers::batch {
namespace {

const Json& member(const Json& o, std::string_view key) {
  static const Json kNull;
  const Json* m = findMember(o, key);
  return m != nullptr ? *m : kNull;
}

// Every container status of a pod, init containers first.
std::vector<const Json*> containerStatuses(const Json& pod) {
  std::vector<const Json*> out;
  const Json& status = member(pod, "status");
  for (const char* k : {"initContainerStatuses", "containerStatuses"}) {
    const Json& list = member(status, k);
    if (!list.is_array()) continue;
    for (const Json& cs : list) out.push_back(&cs);
  }
  return out;
}

std::string podRef(const Json& pod) {
  const Json& meta = member(pod, "metadata");
  return getString(meta, "namespace") + "/" + getString(meta, "name");
}

}  // namespace

const Json* findCondition(const Json& object, std::string_view type) {
  const Json& conditions = member(member(object, "status"), "conditions");
  if (!conditions.is_array()) return nullptr;
  for (const Json& c : conditions)
    if (getString(c, "type") == type) return &c;
  return nullptr;
}

bool conditionIsTrue(const Json& object, std::string_view type) {
  const Json* c = findCondition(object, type);
  return c != nullptr && getString(*c, "status") == "True";
}

std::string jobFinishedType(const Json& job) {
  for (const char* t : {"Complete", "Failed"})
    if (conditionIsTrue(job, t)) return t;
  return "";
}

bool ensureCondition(Json& status, std::string_view type, std::string_view conditionStatus,
                     std::string_view reason, std::string_view message, WallTime now) {
  if (!status.contains("conditions") || !status["conditions"].is_array())
    status["conditions"] = Json::array();
  std::string stamp = formatRfc3339(now);
  for (Json& c : status["conditions"]) {
    if (getString(c, "type") != type) continue;
    if (getString(c, "status") == conditionStatus) return false;
    c["status"] = conditionStatus;
    c["reason"] = reason;
    c["message"] = message;
    c["lastProbeTime"] = stamp;
    c["lastTransitionTime"] = stamp;
    return true;
  }
  if (conditionStatus == "False") return false;
  status["conditions"].push_back({{"type", type},
                                  {"status", conditionStatus},
                                  {"reason", reason},
                                  {"message", message},
                                  {"lastProbeTime", stamp},
                                  {"lastTransitionTime", stamp}});
  return true;
}

const Json* controllerRef(const Json& object) {
  const Json& refs = member(member(object, "metadata"), "ownerReferences");
  if (!refs.is_array()) return nullptr;
  for (const Json& r : refs)
    if (getBool(r, "controller")) return &r;
  return nullptr;
}

Json controllerRefTo(const Json& owner, std::string_view apiVersion, std::string_view kind) {
  const Json& meta = member(owner, "metadata");
  return {{"apiVersion", apiVersion},
          {"kind", kind},
          {"name", getString(meta, "name")},
          {"uid", getString(meta, "uid")},
          {"controller", true},
          {"blockOwnerDeletion", true}};
}

bool hasFinalizer(const Json& object, std::string_view finalizer) {
  const Json& list = member(member(object, "metadata"), "finalizers");
  if (!list.is_array()) return false;
  for (const Json& f : list)
    if (f.is_string() && f.get<std::string>() == finalizer) return true;
  return false;
}

bool isPodTerminal(const Json& pod) {
  std::string phase = getString(member(pod, "status"), "phase");
  return phase == "Succeeded" || phase == "Failed";
}


std::set<int> parseIndexSet(std::string_view text, int completions) {
  std::set<int> out;
  for (const std::string& piece : split(text, ',')) {
    std::vector<std::string> bounds = split(piece, '-');
    if (bounds.empty() || bounds.size() > 2) continue;
    char* end = nullptr;
    long first = std::strtol(bounds[0].c_str(), &end, 10);
    if (bounds[0].empty() || *end != '\0') continue;
    long last = first;
    if (bounds.size() == 2) {
      last = std::strtol(bounds[1].c_str(), &end, 10);
      if (bounds[1].empty() || *end != '\0') continue;
    }
    for (long i = std::max(0L, first); i <= last && i < completions; ++i) out.insert(static_cast<int>(i));
  }
  return out;
}

std::string formatIndexSet(const std::set<int>& indexes) {
  std::string out;
  for (auto it = indexes.begin(); it != indexes.end();) {
    int first = *it, last = *it;
    for (++it; it != indexes.end() && *it == last + 1; ++it) last = *it;
    if (!out.empty()) out += ",";
    out += std::to_string(first);
    // Two neighbours are listed, longer runs become ranges (as Kubernetes writes them).
    if (last == first + 1) out += "," + std::to_string(last);
    else if (last > first) out += "-" + std::to_string(last);
  }
  return out;
}

int podCompletionIndex(const Json& pod) {
  const Json& v = member(member(member(pod, "metadata"), "annotations"), kCompletionIndexKey);
  if (!v.is_string()) return -1;
  const std::string& s = v.get_ref<const std::string&>();
  if (s.empty() || s.size() > 9 || (s.size() > 1 && s[0] == '0')) return -1;
  int out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    out = out * 10 + (c - '0');
  }
  return out;
}

std::optional<PolicyMatch> matchPodFailurePolicy(const Json& policy, const Json& pod) {
  const Json& rules = member(policy, "rules");
  if (!rules.is_array()) return std::nullopt;
  for (size_t i = 0; i < rules.size(); ++i) {
    const Json& rule = rules[i];
    std::string action = getString(rule, "action");
    std::string suffix = " matching " + action + " rule at index " + std::to_string(i);
    if (const Json* req = findMember(rule, "onExitCodes"); req != nullptr && req->is_object()) {
      std::string container = getString(*req, "containerName");
      bool in = getString(*req, "operator") == "In";
      std::set<int64_t> values;
      for (const Json& v : member(*req, "values"))
        if (v.is_number_integer()) values.insert(v.get<int64_t>());
      for (const Json* cs : containerStatuses(pod)) {
        const Json& terminated = member(member(*cs, "state"), "terminated");
        if (!terminated.is_object()) continue;
        if (!container.empty() && getString(*cs, "name") != container) continue;
        int64_t code = getInt(terminated, "exitCode");
        if (code == 0) continue;  // a success is never a failure's cause
        if ((values.count(code) > 0) == in)
          return PolicyMatch{action, "Container " + getString(*cs, "name") + " for pod " + podRef(pod) +
                                         " failed with exit code " + std::to_string(code) + suffix};
      }
      continue;
    }
    const Json& onConditions = member(rule, "onPodConditions");
    if (!onConditions.is_array()) continue;
    for (const Json& want : onConditions) {
      std::string type = getString(want, "type");
      const Json* have = findCondition(pod, type);
      if (have != nullptr && getString(*have, "status") == getString(want, "status", "True"))
        return PolicyMatch{action, "Pod " + podRef(pod) + " has condition " + type + suffix};
    }
  }
  return std::nullopt;
}

WallTime podFinishTime(const Json& pod, WallTime fallback) {
  std::optional<WallTime> latest;
  for (const Json* cs : containerStatuses(pod)) {
    const Json& terminated = member(member(*cs, "state"), "terminated");
    if (!terminated.is_object()) continue;
    if (auto t = parseRfc3339(getString(terminated, "finishedAt")); t && (!latest || *t > *latest)) latest = t;
  }
  return latest.value_or(fallback);
}

int64_t toSeconds(WallTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

WallTime fromSeconds(int64_t seconds) { return WallTime(std::chrono::seconds(seconds)); }

}  // namespace nave::controllers::batch
