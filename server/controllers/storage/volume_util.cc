#include "server/controllers/storage/volume_util.h"

#include <algorithm>

#include "server/validation/internal.h"

namespace nave::controllers::volumes {
namespace {

std::optional<__int128> quantity(const Json* q) {
  if (q == nullptr) return std::nullopt;
  auto parsed = validation::detail::parseQuantity(*q);
  if (!parsed || parsed->overflow) return std::nullopt;
  return parsed->nanos;
}

bool requirementAdmits(const std::string& op, const Json* value, const Json& values) {
  std::vector<std::string> vs;
  if (values.is_array())
    for (const Json& v : values)
      if (v.is_string()) vs.push_back(v.get<std::string>());
  bool present = value != nullptr && value->is_string();
  std::string v = present ? value->get<std::string>() : "";
  if (op == "In") return present && std::find(vs.begin(), vs.end(), v) != vs.end();
  if (op == "NotIn") return !present || std::find(vs.begin(), vs.end(), v) == vs.end();
  if (op == "Exists") return present;
  if (op == "DoesNotExist") return !present;
  if (op == "Gt" || op == "Lt") {
    if (!present || vs.size() != 1) return false;
    try {
      long long have = std::stoll(v), bound = std::stoll(vs[0]);
      return op == "Gt" ? have > bound : have < bound;
    } catch (...) {
      return false;
    }
  }
  return false;
}

}  // namespace

std::vector<std::string> claimKeysOfPod(const Json& pod) {
  std::vector<std::string> keys;
  std::string ns = getString(pod.value("metadata", Json::object()), "namespace");
  const Json* spec = findMember(pod, "spec");
  const Json* vols = spec ? findMember(*spec, "volumes") : nullptr;
  if (vols == nullptr || !vols->is_array()) return keys;
  for (const Json& v : *vols) {
    if (const Json* src = findMember(v, "persistentVolumeClaim"); src && src->is_object()) {
      std::string claim = getString(*src, "claimName");
      if (!claim.empty()) keys.push_back(ns + "/" + claim);
    } else if (const Json* eph = findMember(v, "ephemeral"); eph && eph->is_object()) {
      // A generic ephemeral volume's claim is named after the pod and the volume.
      keys.push_back(ns + "/" + getString(pod["metadata"], "name") + "-" + getString(v, "name"));
    }
  }
  return keys;
}


bool podIsTerminated(const Json& pod) {
  std::string phase = getString(pod.value("status", Json::object()), "phase");
  return phase == "Succeeded" || phase == "Failed";
}

std::string annotation(const Json& object, const std::string& key) {
  const Json* md = findMember(object, "metadata");
  const Json* annotations = md ? findMember(*md, "annotations") : nullptr;
  return annotations ? getString(*annotations, key) : "";
}

bool hasFinalizer(const Json& object, const std::string& finalizer) {
  const Json* md = findMember(object, "metadata");
  const Json* fs = md ? findMember(*md, "finalizers") : nullptr;
  return fs && fs->is_array() && std::find(fs->begin(), fs->end(), Json(finalizer)) != fs->end();
}

std::string defaultClassName(const std::vector<Json>& classes) {
  std::string best, bestCreated;
  for (const Json& sc : classes) {
    if (annotation(sc, "storageclass.kubernetes.io/is-default-class") != "true" &&
        annotation(sc, "storageclass.beta.kubernetes.io/is-default-class") != "true")
      continue;
    const Json md = sc.value("metadata", Json::object());
    std::string created = getString(md, "creationTimestamp"), name = getString(md, "name");
    if (best.empty() || created > bestCreated || (created == bestCreated && name < best)) {
      best = name;
      bestCreated = created;
    }
  }
  return best;
}

std::string claimClass(const Json& claim) {
  std::string beta = annotation(claim, kAnnBetaStorageClass);
  if (!beta.empty()) return beta;
  return getString(claim.value("spec", Json::object()), "storageClassName");
}

std::optional<__int128> claimRequest(const Json& claim) {
  const Json* spec = findMember(claim, "spec");
  const Json* res = spec ? findMember(*spec, "resources") : nullptr;
  const Json* req = res ? findMember(*res, "requests") : nullptr;
  return quantity(req ? findMember(*req, "storage") : nullptr);
}

std::optional<__int128> volumeCapacity(const Json& volume) {
  const Json* spec = findMember(volume, "spec");
  const Json* cap = spec ? findMember(*spec, "capacity") : nullptr;
  return quantity(cap ? findMember(*cap, "storage") : nullptr);
}

bool nodeAffinityAdmits(const Json& volume, const Json& node) {
  const Json* spec = findMember(volume, "spec");
  const Json* affinity = spec ? findMember(*spec, "nodeAffinity") : nullptr;
  const Json* required = affinity ? findMember(*affinity, "required") : nullptr;
  if (required == nullptr || !required->is_object()) return true;
  const Json* terms = findMember(*required, "nodeSelectorTerms");
  if (terms == nullptr || !terms->is_array()) return false;
  const Json labels = node.value("metadata", Json::object()).value("labels", Json::object());
  const Json name = node.value("metadata", Json::object()).value("name", Json(""));
  // Terms are ORed; the requirements of a term are ANDed; an empty term matches nothing.
  for (const Json& term : *terms) {
    const Json exprs = term.value("matchExpressions", Json::array());
    const Json fields = term.value("matchFields", Json::array());
    if (exprs.empty() && fields.empty()) continue;
    bool ok = true;
    for (const Json& e : exprs)
      ok =
          ok && requirementAdmits(getString(e, "operator"), findMember(labels, getString(e, "key")),
                                  e.value("values", Json::array()));
    for (const Json& f : fields)
      ok = ok && getString(f, "key") == "metadata.name" &&
           requirementAdmits(getString(f, "operator"), &name, f.value("values", Json::array()));
    if (ok) return true;
  }
  return false;
}

}  // namespace nave::controllers::volumes
