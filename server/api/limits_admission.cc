// Admission on create for pods' priorities (the Priority plugin) and for LimitRanges and
// ResourceQuotas (the LimitRanger and ResourceQuota plugins). Priority: spec.priority (and an
// unset preemptionPolicy) come from the pod's PriorityClass, the globalDefault class, or the
// built-in system-node-critical / system-cluster-critical; an unknown class is refused. Limits: a pod's containers get the LimitRange defaults (default, defaultRequest) and are
// checked against min, max and maxLimitRequestRatio; then the new object must fit every quota
// of its namespace, counted from the objects the cache holds. Refusals are 403 Forbidden in
// Kubernetes' words.
#include <cstdio>
#include <set>

#include "common/strings.h"
#include "server/api/quota.h"
#include "server/api/resource_api.h"
#include "server/api/status.h"

namespace nave::api {
namespace {

using validation::detail::parseQuantity;

std::vector<Json> namespaceObjects(cache::WatchCache& cache, const registry::ResourceType* type,
                                   std::string_view ns) {
  std::vector<Json> out;
  if (type == nullptr) return out;
  cache::CacheList list = cache.list(type->keyPrefix() + std::string(ns) + "/", "", {}, 0);
  for (const auto& o : list.items) out.push_back(o->object);
  return out;
}

std::string show(const Json& q) { return q.is_string() ? q.get<std::string>() : q.dump(); }

bool parseInto(const Json& v, validation::detail::Quantity& out) {
  auto q = parseQuantity(v);
  if (!q) return false;
  out = *q;
  return true;
}

Error forbiddenObject(const registry::ResourceType& type, std::string_view name, const std::string& why) {
  return forbidden(type, name, why);
}

// LimitRange item defaults as the API defaults them: default from max, defaultRequest from
// default then min.
void defaultItem(Json& item) {
  Json& def = item["default"];
  Json& defReq = item["defaultRequest"];
  if (!def.is_object()) def = Json::object();
  if (!defReq.is_object()) defReq = Json::object();
  for (auto& [k, v] : objectMember(item, "max").items())
    if (!def.contains(k)) def[k] = v;
  for (auto& [k, v] : def.items())
    if (!defReq.contains(k)) defReq[k] = v;
  for (auto& [k, v] : objectMember(item, "min").items())
    if (!defReq.contains(k)) defReq[k] = v;
}

// "R max limit to request ratio per Container is X, but provided ratio is Y" when
// limit / request > ratio, else "".
std::string ratioProblem(const std::string& r, const Json& ratio, const Json& request, const Json& limit) {
  validation::detail::Quantity q, req, lim;
  if (!parseInto(ratio, q) || !parseInto(request, req) || !parseInto(limit, lim) || req.isZero()) return "";
  __int128 bound = q.nanos * req.nanos / 1000000000;  // ratio * request
  if (lim.nanos <= bound) return "";
  double provided = static_cast<double>(lim.nanos) / static_cast<double>(req.nanos);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", provided);
  return r + " max limit to request ratio per Container is " + show(ratio) + ", but provided ratio is " + buf;
}

}  // namespace

Result<void> ResourceApi::admitLimitRanges(const registry::ResourceType& type, std::string_view ns, Json& obj) {
  if (!(type.group.empty() && type.plural == "pods")) return {};
  std::vector<Json> ranges = namespaceObjects(cache_, types_.find("", "v1", "limitranges").get(), ns);
  if (ranges.empty()) return {};
  std::string name = getString(obj["metadata"], "name");
  std::vector<std::string> problems, applied;
  Json& spec = obj["spec"];
  for (const Json& range : ranges) {
    for (Json item : range.value("spec", Json::object()).value("limits", Json::array())) {
      std::string kind = getString(item, "type");
      if (kind == "Container") {
        defaultItem(item);
        for (const char* list : {"initContainers", "containers"}) {
          if (!spec.contains(list) || !spec[list].is_array()) continue;
          for (Json& c : spec[list]) {
            std::string cname = getString(c, "name");
            Json& res = c["resources"];
            if (!res.is_object()) res = Json::object();
            for (auto& [r, v] : item["default"].items()) {
              if (res.contains("limits") && res["limits"].contains(r)) continue;
              res["limits"][r] = v;
              applied.push_back(r + " limit for " + (std::string(list) == "containers" ? "container " : "init container ") + cname);
            }
            for (auto& [r, v] : item["defaultRequest"].items()) {
              if (res.contains("requests") && res["requests"].contains(r)) continue;
              res["requests"][r] = v;
              applied.push_back(r + " request for " + (std::string(list) == "containers" ? "container " : "init container ") + cname);
            }
            const Json requests = res.value("requests", Json::object());
            const Json limits = res.value("limits", Json::object());
            for (auto& [r, min] : objectMember(item, "min").items()) {
              auto lo = parseQuantity(min);
              auto req = requests.contains(r) ? parseQuantity(requests[r]) : std::nullopt;
              auto lim = limits.contains(r) ? parseQuantity(limits[r]) : std::nullopt;
              if (!lo) continue;
              if (!req) problems.push_back("minimum " + r + " usage per Container is " + show(min) + ".  No request is specified");
              else if (req->compare(*lo) < 0)
                problems.push_back("minimum " + r + " usage per Container is " + show(min) + ", but request is " + show(requests[r]));
              if (lim && lim->compare(*lo) < 0)
                problems.push_back("minimum " + r + " usage per Container is " + show(min) + ", but limit is " + show(limits[r]));
            }
            for (auto& [r, max] : objectMember(item, "max").items()) {
              auto hi = parseQuantity(max);
              auto lim = limits.contains(r) ? parseQuantity(limits[r]) : std::nullopt;
              if (!hi) continue;
              if (!lim) problems.push_back("maximum " + r + " usage per Container is " + show(max) + ".  No limit is specified");
              else if (lim->compare(*hi) > 0)
                problems.push_back("maximum " + r + " usage per Container is " + show(max) + ", but limit is " + show(limits[r]));
            }
            for (auto& [r, ratio] : objectMember(item, "maxLimitRequestRatio").items()) {
              if (!requests.contains(r) || !limits.contains(r)) continue;
              std::string problem = ratioProblem(r, ratio, requests[r], limits[r]);
              if (!problem.empty()) problems.push_back(problem);
            }
          }
        }
      } else if (kind == "Pod") {
        quota::Usage usage = quota::usageOf("", "pods", obj);
        for (auto& [r, max] : objectMember(item, "max").items()) {
          auto hi = parseQuantity(max);
          auto it = usage.find("limits." + r);
          if (hi && it != usage.end() && it->second.compare(*hi) > 0)
            problems.push_back("maximum " + r + " usage per Pod is " + show(max) + ", but limit is " + it->second.toString());
        }
        for (auto& [r, min] : objectMember(item, "min").items()) {
          auto lo = parseQuantity(min);
          auto it = usage.find("requests." + r);
          if (lo && it != usage.end() && it->second.compare(*lo) < 0)
            problems.push_back("minimum " + r + " usage per Pod is " + show(min) + ", but request is " + it->second.toString());
        }
      }
    }
  }
  if (!problems.empty()) {
    std::string why = problems.size() == 1 ? problems[0] : "[" + join(problems, ", ") + "]";
    return forbiddenObject(type, name, why);
  }
  if (!applied.empty())
    obj["metadata"]["annotations"]["kubernetes.io/limit-ranger"] = "LimitRanger plugin set: " + join(applied, "; ");
  return {};
}

Result<void> ResourceApi::admitPriority(const registry::ResourceType& type, Json& obj) {
  if (!(type.group.empty() && type.plural == "pods")) return {};
  Json& spec = obj["spec"];
  if (!spec.is_object()) return {};
  std::string className = getString(spec, "priorityClassName");
  auto classes = types_.find("scheduling.k8s.io", "v1", "priorityclasses");
  std::optional<Json> found;
  if (classes) {
    if (!className.empty()) {
      if (auto o = cache_.get(classes->key("", className))) found = o->object;
    } else {
      cache::CacheList all = cache_.list(classes->keyPrefix(), "", {}, 0);
      for (const auto& o : all.items)
        if (getBool(o->object, "globalDefault")) found = o->object;
    }
  }
  int64_t value = 0;
  std::string policy;
  if (found) {
    value = getInt(*found, "value");
    policy = getString(*found, "preemptionPolicy");
    if (className.empty()) spec["priorityClassName"] = getString((*found)["metadata"], "name");
  } else if (className == "system-node-critical") {
    value = 2000001000;
  } else if (className == "system-cluster-critical") {
    value = 2000000000;
  } else if (!className.empty()) {
    return forbiddenObject(type, getString(obj["metadata"], "name"),
                           "no PriorityClass with name " + className + " was found");
  }
  if (const Json* p = findMember(spec, "priority"); p && p->is_number_integer() && p->get<int64_t>() != value)
    return forbiddenObject(type, getString(obj["metadata"], "name"),
                           "the integer value of priority (" + std::to_string(p->get<int64_t>()) +
                               ") must not be provided in pod spec; priority admission controller computed " +
                               std::to_string(value) + " from the given PriorityClass name");
  spec["priority"] = value;
  if (!spec.contains("preemptionPolicy")) spec["preemptionPolicy"] = policy.empty() ? "PreemptLowerPriority" : policy;
  return {};
}

Result<void> ResourceApi::admitQuota(const registry::ResourceType& type, std::string_view ns, const Json& obj) {
  if (!type.namespaced) return {};
  std::vector<Json> quotas = namespaceObjects(cache_, types_.find("", "v1", "resourcequotas").get(), ns);
  if (quotas.empty()) return {};
  std::string name = getString(obj["metadata"], "name");
  quota::Usage delta = quota::usageOf(type.group, type.storagePlural, obj);
  bool isPodType = type.group.empty() && type.plural == "pods";
  std::optional<quota::Usage> current;  // the namespace's usage of this resource, when needed
  for (const Json& q : quotas) {
    std::string qname = getString(q["metadata"], "name");
    const Json hard = q.value("spec", Json::object()).value("hard", Json::object());
    if (isPodType) {
      std::vector<std::string> missing;
      for (auto& [key, v] : hard.items())
        if (std::string m = quota::missingFor(key, obj); !m.empty()) missing.push_back(m);
      if (!missing.empty())
        return forbiddenObject(type, name, "failed quota: " + qname + ": must specify " + join(missing, "; "));
    }
    std::vector<std::string> keys = quota::touched(hard, delta);
    if (keys.empty()) continue;
    if (!current) {
      current = quota::Usage{};
      for (const Json& o : namespaceObjects(cache_, &type, ns)) quota::add(*current, quota::usageOf(type.group, type.storagePlural, o));
    }
    std::vector<std::string> requested, used, limited;
    bool exceeded = false;
    for (const std::string& key : keys) {
      auto limit = parseQuantity(hard[key]);
      if (!limit) continue;
      quota::Quantity now = current->count(key) ? current->at(key) : quota::zero();
      quota::Quantity after = now;
      after.nanos += delta[key].nanos;
      if (after.compare(*limit) > 0) exceeded = true;
      requested.push_back(key + "=" + delta[key].toString());
      used.push_back(key + "=" + now.toString());
      limited.push_back(key + "=" + show(hard[key]));
    }
    if (exceeded)
      return forbiddenObject(type, name, "exceeded quota: " + qname + ", requested: " + join(requested, ",") +
                                             ", used: " + join(used, ",") + ", limited: " + join(limited, ","));
  }
  return {};
}

}  // namespace nave::api
