// Validation of the core ("") kinds other than the pod spec itself (pod_spec.cc).
#include <algorithm>
#include <map>
#include <set>

#include "common/strings.h"
#include "server/validation/internal.h"

namespace nave::validation::detail {
namespace {

constexpr size_t kMaxSecretSize = 1024 * 1024;

bool startsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// A short description of where two JSON values differ, one line per changed leaf, in place of
// the cmp.Diff output Kubernetes appends to "immutable" messages.
void diffLines(const Json& a, const Json& b, const std::string& path, std::string& out, int& budget) {
  if (budget <= 0 || jsonEqual(a, b)) return;
  if (a.is_object() && b.is_object()) {
    std::set<std::string> keys;
    for (auto it = a.begin(); it != a.end(); ++it) keys.insert(it.key());
    for (auto it = b.begin(); it != b.end(); ++it) keys.insert(it.key());
    for (const std::string& k : keys)
      diffLines(memberOrNull(a, k), memberOrNull(b, k), child(path, k), out, budget);
    return;
  }
  if (a.is_array() && b.is_array() && a.size() == b.size()) {
    for (size_t i = 0; i < a.size(); ++i) diffLines(a[i], b[i], index(path, i), out, budget);
    return;
  }
  --budget;
  out += "\n  " + path + ": " + (a.is_null() ? "<unset>" : dumpJson(a)) + " -> " +
         (b.is_null() ? "<unset>" : dumpJson(b));
}

std::string diff(const Json& oldValue, const Json& newValue, const std::string& path) {
  std::string out;
  int budget = 20;
  diffLines(oldValue, newValue, path, out, budget);
  return out;
}

void validateContainerImagesForPod(const Json& containers, const std::string& path, FieldErrors& errs) {
  for (size_t i = 0; i < containers.size(); ++i) {
    std::string image = str(containers[i], "image");
    if (std::string(trim(image)) != image)
      errs.invalid(child(index(path, i), "image"), image, "must not have leading or trailing whitespace");
  }
}

void validatePodAnnotations(const Json& meta, const Json& spec, FieldErrors& errs) {
  const Json& annotations = objectOf(meta, "annotations");
  std::string apath = "metadata.annotations";
  if (const Json* mirror = get(annotations, "kubernetes.io/config.mirror"); mirror != nullptr && str(spec, "nodeName").empty())
    errs.invalid(key(apath, "kubernetes.io/config.mirror"), *mirror,
                 "must set spec.nodeName if mirror pod annotation is set");
  if (const Json* cost = get(annotations, "controller.kubernetes.io/pod-deletion-cost")) {
    bool ok = cost->is_string();
    if (ok) {
      const std::string& s = cost->get_ref<const std::string&>();
      size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
      ok = i < s.size() && s.size() - i <= 10;
      for (size_t j = i; ok && j < s.size(); ++j) ok = s[j] >= '0' && s[j] <= '9';
      if (ok) {
        long long v = std::stoll(s);
        ok = v >= INT32_MIN && v <= INT32_MAX;
      }
    }
    if (!ok)
      errs.invalid(key(apath, "controller.kubernetes.io/pod-deletion-cost"), *cost, "must be a 32bit integer");
  }
}

// ValidatePodUpdate's rules on the spec: only images, activeDeadlineSeconds, tolerations
// (additions) and a few more may change.
void validatePodSpecUpdateImpl(const Json& spec, const Json& old, const std::string& path, FieldErrors& errs) {
  for (std::string_view list : {"containers", "initContainers"}) {
    const Json& now = arrayOf(spec, list);
    const Json& before = arrayOf(old, list);
    std::string lp = child(path, list);
    if (now.size() != before.size()) {
      errs.forbidden(lp, "pod updates may not add or remove containers");
      return;
    }
    for (size_t i = 0; i < now.size(); ++i) {
      std::string image = str(now[i], "image");
      if (image.empty()) errs.required(child(index(lp, i), "image"));
      if (std::string(trim(image)) != image)
        errs.invalid(child(index(lp, i), "image"), image, "must not have leading or trailing whitespace");
    }
  }
  std::string adsPath = child(path, "activeDeadlineSeconds");
  if (const Json* ads = get(spec, "activeDeadlineSeconds")) {
    int64_t v = intValue(*ads);
    if (v < 0 || v > 2147483647) {
      errs.invalid(adsPath, v, inclusiveRangeError(0, 2147483647));
      return;
    }
    if (std::optional<int64_t> before = optInt(old, "activeDeadlineSeconds"); before && *before < v) {
      errs.invalid(adsPath, v, "must be less than or equal to previous value");
      return;
    }
  } else if (get(old, "activeDeadlineSeconds") != nullptr) {
    errs.invalid(adsPath, nullptr, "must not update from a positive integer to nil value");
  }
  // Existing tolerations may only gain a tolerationSeconds change.
  const Json& tolerations = arrayOf(spec, "tolerations");
  for (const Json& before : arrayOf(old, "tolerations")) {
    bool found = false;
    for (const Json& now : tolerations) {
      Json a = before, b = now;
      if (a.is_object()) a.erase("tolerationSeconds");
      if (b.is_object()) b.erase("tolerationSeconds");
      if (jsonEqual(a, b)) found = true;
    }
    if (!found) {
      errs.forbidden(child(path, "tolerations"), "existing toleration can not be modified except its tolerationSeconds");
      break;
    }
  }
  // Scheduling gates may only be removed.
  const Json& gates = arrayOf(spec, "schedulingGates");
  std::set<std::string> oldGates;
  for (const Json& g : arrayOf(old, "schedulingGates")) oldGates.insert(str(g, "name"));
  for (size_t i = 0; i < gates.size(); ++i)
    if (!oldGates.count(str(gates[i], "name")))
      errs.forbidden(child(index(child(path, "schedulingGates"), i), "name"),
                     "only deletion is allowed, but found new scheduling gate '" + str(gates[i], "name") + "'");

  if (jsonEqual(spec, old)) return;
  Json munged = spec;
  for (std::string_view list : {"containers", "initContainers"}) {
    Json* now = mutArray(munged, list);
    const Json& before = arrayOf(old, list);
    if (now == nullptr) continue;
    for (size_t i = 0; i < now->size() && i < before.size(); ++i)
      if ((*now)[i].is_object()) (*now)[i]["image"] = memberOrNull(before[i], "image");
  }
  for (std::string_view k : {"activeDeadlineSeconds", "schedulingGates", "tolerations"}) {
    munged.erase(std::string(k));
    if (const Json* v = findMember(old, k)) munged[std::string(k)] = *v;
  }
  std::optional<int64_t> oldGrace = optInt(old, "terminationGracePeriodSeconds");
  if (oldGrace && *oldGrace < 0 && optInt(munged, "terminationGracePeriodSeconds") == 1)
    munged["terminationGracePeriodSeconds"] = *oldGrace;
  if (!jsonEqual(munged, old))
    errs.forbidden(path,
                   "pod updates may not change fields other than `spec.containers[*].image`,"
                   "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
                   "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
                   "(allow it to be set to 1 if it was previously negative)" +
                       diff(old, munged, path));
}

bool rcSelectorMatches(const Json& selector, const Json& labels) {
  for (auto it = selector.begin(); it != selector.end(); ++it) {
    const Json* v = findMember(labels, it.key());
    if (v == nullptr || *v != *it) return false;
  }
  return true;
}

void validateServicePort(const Json& sp, bool requireName, std::set<std::string>& names,
                         const std::string& path, FieldErrors& errs) {
  std::string name = str(sp, "name");
  if (requireName && name.empty()) {
    errs.required(child(path, "name"));
  } else if (!name.empty()) {
    invalidEach(errs, child(path, "name"), name, isDns1123Label(name));
    if (!names.insert(name).second) errs.duplicate(child(path, "name"), name);
  }
  int64_t port = optInt(sp, "port").value_or(0);
  invalidEach(errs, child(path, "port"), port, isValidPortNum(port));
  std::string protocol = str(sp, "protocol");
  if (protocol.empty()) {
    errs.required(child(path, "protocol"));
  } else if (protocol != "TCP" && protocol != "UDP" && protocol != "SCTP") {
    errs.notSupported(child(path, "protocol"), protocol, {"SCTP", "TCP", "UDP"});
  }
  const Json& target = memberOrNull(sp, "targetPort");
  if (isInteger(target)) {
    invalidEach(errs, child(path, "targetPort"), intValue(target), isValidPortNum(intValue(target)));
  } else if (target.is_string()) {
    invalidEach(errs, child(path, "targetPort"), target, isValidPortName(target.get<std::string>()));
  } else {
    invalidEach(errs, child(path, "targetPort"), 0, isValidPortNum(0));
  }
  if (const Json* app = get(sp, "appProtocol")) validateQualifiedName(*app, child(path, "appProtocol"), errs);
  if (int64_t nodePort = optInt(sp, "nodePort").value_or(0); nodePort != 0 && (nodePort < 30000 || nodePort > 32767))
    errs.invalid(child(path, "nodePort"), nodePort,
                 "provided port is not in the valid range. The range of valid ports is 30000-32767");
}

void validateServiceIpFields(const Json& spec, FieldErrors& errs) {
  std::string clusterIP = str(spec, "clusterIP");
  const Json& clusterIPs = arrayOf(spec, "clusterIPs");
  if (!clusterIPs.empty() && clusterIPs[0] != clusterIP && !clusterIP.empty())
    errs.invalid("spec.clusterIPs", clusterIPs, "first value must match `clusterIP`");
  for (size_t i = 0; i < clusterIPs.size(); ++i) {
    if (i == 0 && clusterIPs[i] == "None") continue;
    if (clusterIPs[i] == "None") {
      errs.invalid(index("spec.clusterIPs", i), clusterIPs[i], "may not be set to 'None' for dual-stack services");
      continue;
    }
    validateIp(clusterIPs[i], index("spec.clusterIPs", i), errs);
  }
  if (const Json* policy = get(spec, "ipFamilyPolicy")) {
    if (*policy != "SingleStack" && *policy != "PreferDualStack" && *policy != "RequireDualStack")
      errs.notSupported("spec.ipFamilyPolicy", *policy, {"PreferDualStack", "RequireDualStack", "SingleStack"});
    if (*policy == "SingleStack" && clusterIPs.size() > 1)
      errs.invalid("spec.ipFamilyPolicy", *policy, "must be RequireDualStack or PreferDualStack when multiple IP families are specified");
  }
  const Json& families = arrayOf(spec, "ipFamilies");
  std::set<std::string> seen;
  for (size_t i = 0; i < families.size(); ++i) {
    std::string f = families[i].is_string() ? families[i].get<std::string>() : "";
    if (f != "IPv4" && f != "IPv6") errs.notSupported(index("spec.ipFamilies", i), families[i], {"IPv4", "IPv6"});
    if (!seen.insert(f).second) errs.duplicate(index("spec.ipFamilies", i), families[i]);
  }
  if (families.size() > 2) errs.invalid("spec.ipFamilies", families, "may specify no more than one IP for each IP family");
}

void validateServiceClusterIPUpdate(const Json& spec, const Json& old, FieldErrors& errs) {
  if (str(spec, "type") == "ExternalName" || str(old, "type") == "ExternalName") return;
  if (str(spec, "clusterIP") == "None" && str(old, "clusterIP") == "None") return;
  const Json& now = arrayOf(spec, "clusterIPs");
  const Json& before = arrayOf(old, "clusterIPs");
  // A client that leaves the allocated IPs out keeps them: the API server copies them over.
  if (now.empty() && str(spec, "clusterIP").empty()) return;
  if (now.empty() && !before.empty()) {
    if (str(spec, "clusterIP") != str(old, "clusterIP"))
      errs.invalid("spec.clusterIP", str(spec, "clusterIP"), std::string(kImmutable));
    return;
  }
  if (now.size() == before.size()) {
    for (size_t i = 0; i < before.size(); ++i)
      if (before[i] != now[i]) {
        errs.invalid("spec.clusterIPs[0]", now, "may not change once set");
        break;
      }
  } else if (!before.empty() && !now.empty() && now[0] != before[0]) {
    errs.invalid("spec.clusterIPs[0]", now, "may not change once set");
  } else if (now.size() == 1 && before.size() > 1 && str(spec, "ipFamilyPolicy") != "SingleStack") {
    errs.invalid("spec.clusterIPs[0]", now,
                 "`ipFamilyPolicy` must be set to 'SingleStack' when releasing the secondary clusterIP");
  }
}

void validateEndpointAddress(const Json& address, const std::string& path, FieldErrors& errs) {
  const Json& ip = memberOrNull(address, "ip");
  validateIp(ip, child(path, "ip"), errs);
  if (std::string h = str(address, "hostname"); !h.empty()) invalidEach(errs, child(path, "hostname"), h, isDns1123Label(h));
  if (const Json* node = get(address, "nodeName"); node != nullptr && node->is_string())
    invalidEach(errs, child(path, "nodeName"), *node, isDns1123Subdomain(node->get<std::string>()));
  std::string s = ip.is_string() ? ip.get<std::string>() : "";
  bool v6 = false;
  if (!parseIp(s, v6)) {
    errs.invalid(child(path, "ip"), s, "must be a valid IP address");
    return;
  }
  if (s == "0.0.0.0" || s == "::") errs.invalid(child(path, "ip"), s, "may not be unspecified (" + s + ")");
  if ((!v6 && startsWith(s, "127.")) || s == "::1")
    errs.invalid(child(path, "ip"), s, "may not be in the loopback range (127.0.0.0/8, ::1/128)");
  if ((!v6 && startsWith(s, "169.254.")) || (v6 && (startsWith(toLower(s), "fe8") || startsWith(toLower(s), "fe9") ||
                                                    startsWith(toLower(s), "fea") || startsWith(toLower(s), "feb"))))
    errs.invalid(child(path, "ip"), s, "may not be in the link-local range (169.254.0.0/16, fe80::/10)");
  if ((!v6 && startsWith(s, "224.0.0.")) || (v6 && startsWith(toLower(s), "ff02:")))
    errs.invalid(child(path, "ip"), s, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)");
}

size_t decodedSize(const Json& value) {
  if (!value.is_string()) return 0;
  std::string out;
  if (base64Decode(value.get<std::string>(), out)) return out.size();
  return value.get_ref<const std::string&>().size();
}

bool decodedData(const Json& data, std::string_view k, std::string& out) {
  const Json* v = findMember(data, k);
  if (v == nullptr || !v->is_string()) return false;
  return base64Decode(v->get<std::string>(), out);
}

void validateFinalizerNames(const Json& finalizers, const std::string& path, FieldErrors& errs, bool indexed) {
  for (size_t i = 0; i < finalizers.size(); ++i) {
    if (!finalizers[i].is_string()) continue;
    std::string f = finalizers[i].get<std::string>();
    std::string p = indexed ? index(path, i) : path;
    invalidEach(errs, p, f, isQualifiedName(f));
    if (f.find('/') == std::string::npos && f != "kubernetes" && f != "orphan" && f != "foregroundDeletion")
      errs.invalid(p, f, "name is neither a standard finalizer name nor is it fully qualified");
  }
}

const std::vector<std::string> kAccessModes = {"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"};

void validateAccessModes(const Json& spec, const std::string& path, bool requireMessage, FieldErrors& errs) {
  const Json& modes = arrayOf(spec, "accessModes");
  if (modes.empty())
    errs.required(child(path, "accessModes"), requireMessage ? "at least 1 access mode is required" : "");
  bool rwop = false, other = false;
  for (const Json& m : modes) {
    std::string mode = m.is_string() ? m.get<std::string>() : "";
    if (std::find(kAccessModes.begin(), kAccessModes.end(), mode) == kAccessModes.end()) {
      errs.notSupported(child(path, "accessModes"), m, kAccessModes);
    } else if (mode == "ReadWriteOncePod") {
      rwop = true;
    } else {
      other = true;
    }
  }
  if (rwop && other) errs.forbidden(child(path, "accessModes"), "may not use ReadWriteOncePod with other access modes");
}

void validateStorageQuantity(const Json& value, const std::string& path, FieldErrors& errs) {
  std::optional<Quantity> q = parseQuantity(value);
  if (!q) {
    errs.invalid(path, value, std::string(kQuantityRegexError));
  } else if (q->nanos <= 0) {
    errs.invalid(path, q->toString(), "must be greater than zero");
  }
}

bool isIntegerQuotaResource(std::string_view name) {
  static const std::set<std::string_view> kNames = {
      "pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
      "persistentvolumeclaims", "services.nodeports", "services.loadbalancers"};
  return kNames.count(name) > 0 || startsWith(name, "count/");
}

void validateQuotaMap(const Json& hard, const std::string& path, FieldErrors& errs) {
  static const std::set<std::string_view> kStandard = {
      "pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
      "persistentvolumeclaims", "services.nodeports", "services.loadbalancers", "cpu", "memory",
      "ephemeral-storage", "storage", "requests.cpu", "requests.memory", "requests.storage",
      "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage"};
  for (auto it = hard.begin(); it != hard.end(); ++it) {
    std::string p = key(path, it.key());
    std::vector<std::string> msgs = isQualifiedName(it.key());
    invalidEach(errs, p, it.key(), msgs);
    if (msgs.empty() && it.key().find('/') == std::string::npos && !kStandard.count(it.key()) &&
        !startsWith(it.key(), "requests.hugepages-") && !startsWith(it.key(), "limits.hugepages-") &&
        !startsWith(it.key(), "hugepages-"))
      errs.invalid(p, it.key(), "must be a standard resource for quota");
    std::optional<Quantity> q = parseQuantity(*it);
    if (!q) {
      errs.invalid(p, *it, std::string(kQuantityRegexError));
      continue;
    }
    if (q->isNegative()) errs.invalid(p, q->toString(), std::string(kNegative));
    if (isIntegerQuotaResource(it.key()) && q->nanos % 1000000000 != 0)
      errs.invalid(p, q->toString(), "must be an integer");
  }
}

}  // namespace

void validatePodSpecUpdate(const Json& spec, const Json& old, const std::string& path, FieldErrors& errs) {
  validatePodSpecUpdateImpl(spec, old, path, errs);
}

void validatePod(const Json& o, const Json* old, Operation op, FieldErrors& errs) {
  const Json& spec = objectOf(o, "spec");
  if (op == Operation::kStatusUpdate) {
    if (old != nullptr && str(spec, "nodeName") != str(objectOf(*old, "spec"), "nodeName"))
      errs.forbidden("status.nodeName", "may not be changed directly");
    const Json& podIPs = arrayOf(objectOf(o, "status"), "podIPs");
    for (size_t i = 0; i < podIPs.size(); ++i)
      validateIp(memberOrNull(podIPs[i], "ip"), index("status.podIPs", i), errs);
    return;
  }
  validatePodAnnotations(objectOf(o, "metadata"), spec, errs);
  PodSpecOptions opts;
  opts.isPod = true;
  validatePodSpec(spec, "spec", opts, errs);
  if (str(spec, "serviceAccountName").empty()) {
    const Json& volumes = arrayOf(spec, "volumes");
    for (size_t vi = 0; vi < volumes.size(); ++vi) {
      const Json& sources = arrayOf(objectOf(volumes[vi], "projected"), "sources");
      for (size_t si = 0; si < sources.size(); ++si)
        if (get(sources[si], "serviceAccountToken") != nullptr)
          errs.forbidden(child(index(child(child(index("spec.volumes", vi), "projected"), "sources"), si),
                               "serviceAccountToken"),
                         "must not be specified when serviceAccountName is not set");
    }
  }
  validateContainerImagesForPod(arrayOf(spec, "containers"), "spec.containers", errs);
  validateContainerImagesForPod(arrayOf(spec, "initContainers"), "spec.initContainers", errs);
  if (op == Operation::kUpdate && old != nullptr)
    validatePodSpecUpdateImpl(spec, objectOf(*old, "spec"), "spec", errs);
}

void validatePodTemplateObject(const Json& o, const Json*, Operation, FieldErrors& errs) {
  validatePodTemplateSpec(objectOf(o, "template"), "template", PodSpecOptions{}, errs);
}

void validateReplicationController(const Json& o, const Json*, Operation, FieldErrors& errs) {
  const Json& spec = objectOf(o, "spec");
  nonNegative(spec, "minReadySeconds", "spec.minReadySeconds", errs);
  const Json& selector = objectOf(spec, "selector");
  if (selector.empty()) errs.required("spec.selector");
  nonNegative(spec, "replicas", "spec.replicas", errs);
  const Json* templ = getObject(spec, "template");
  if (templ == nullptr) {
    errs.required("spec.template");
    return;
  }
  const Json& labels = objectOf(objectOf(*templ, "metadata"), "labels");
  if (!selector.empty() && !rcSelectorMatches(selector, labels))
    errs.invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`");
  validatePodTemplateSpec(*templ, "spec.template", PodSpecOptions{}, errs);
  const Json& tspec = objectOf(*templ, "spec");
  if (str(tspec, "restartPolicy") != "Always")
    errs.notSupported("spec.template.spec.restartPolicy", str(tspec, "restartPolicy"), {"Always"});
  if (get(tspec, "activeDeadlineSeconds") != nullptr)
    errs.forbidden("spec.template.spec.activeDeadlineSeconds",
                   "activeDeadlineSeconds in ReplicationController is not Supported");
}

void validateService(const Json& o, const Json* old, Operation op, FieldErrors& errs) {
  const Json& spec = objectOf(o, "spec");
  if (op == Operation::kStatusUpdate) {
    const Json& ingress = arrayOf(objectOf(objectOf(o, "status"), "loadBalancer"), "ingress");
    for (size_t i = 0; i < ingress.size(); ++i)
      if (const Json* ip = get(ingress[i], "ip"))
        validateIp(*ip, child(index("status.loadBalancer.ingress", i), "ip"), errs);
    return;
  }
  if (op == Operation::kUpdate && old != nullptr) {
    const Json& oldSpec = objectOf(*old, "spec");
    validateServiceClusterIPUpdate(spec, oldSpec, errs);
    if (str(oldSpec, "type") == "LoadBalancer" && str(spec, "type") == "LoadBalancer" &&
        str(oldSpec, "externalTrafficPolicy") == "Local" && str(spec, "externalTrafficPolicy") == "Local" &&
        optInt(spec, "healthCheckNodePort") && optInt(spec, "healthCheckNodePort") != optInt(oldSpec, "healthCheckNodePort"))
      errs.forbidden("spec.healthCheckNodePort", std::string(kImmutable));
  }
  const std::string type = str(spec, "type");
  const std::string clusterIP = str(spec, "clusterIP");
  const bool headless = clusterIP == "None";
  const Json& ports = arrayOf(spec, "ports");
  if (ports.empty() && !headless && type != "ExternalName") errs.required("spec.ports");
  if (type == "LoadBalancer" && headless) {
    errs.invalid("spec.clusterIPs[0]", clusterIP, "may not be set to 'None' for LoadBalancer services");
  } else if (type == "NodePort" && headless) {
    errs.invalid("spec.clusterIPs[0]", clusterIP, "may not be set to 'None' for NodePort services");
  } else if (type == "ExternalName") {
    if (!arrayOf(spec, "clusterIPs").empty() || !clusterIP.empty())
      errs.forbidden("spec.clusterIPs", "may not be set for ExternalName services");
    if (!arrayOf(spec, "ipFamilies").empty())
      errs.forbidden("spec.ipFamilies", "may not be set for ExternalName services");
    if (get(spec, "ipFamilyPolicy") != nullptr)
      errs.forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services");
    std::string cname = str(spec, "externalName");
    if (!cname.empty() && cname.back() == '.') cname.pop_back();
    if (cname.empty()) {
      errs.required("spec.externalName");
    } else {
      invalidEach(errs, "spec.externalName", cname, isDns1123Subdomain(cname));
    }
  }
  std::set<std::string> portNames;
  for (size_t i = 0; i < ports.size(); ++i)
    validateServicePort(ports[i], ports.size() > 1, portNames, index("spec.ports", i), errs);
  validateLabels(memberOrNull(spec, "selector"), "spec.selector", errs);
  std::string affinity = str(spec, "sessionAffinity");
  if (affinity.empty()) {
    errs.required("spec.sessionAffinity");
  } else if (affinity != "ClientIP" && affinity != "None") {
    errs.notSupported("spec.sessionAffinity", affinity, {"ClientIP", "None"});
  }
  if (affinity == "ClientIP") {
    const Json* cfg = getObject(spec, "sessionAffinityConfig");
    const Json* clientIP = cfg != nullptr ? getObject(*cfg, "clientIP") : nullptr;
    if (cfg == nullptr) {
      errs.required("spec.sessionAffinityConfig", "when session affinity type is ClientIP");
    } else if (clientIP == nullptr) {
      errs.required("spec.sessionAffinityConfig.clientIP", "when session affinity type is ClientIP");
    } else if (!get(*clientIP, "timeoutSeconds")) {
      errs.required("spec.sessionAffinityConfig.clientIP.timeoutSeconds", "when session affinity type is ClientIP");
    } else if (int64_t t = optInt(*clientIP, "timeoutSeconds").value_or(0); t <= 0 || t > 86400) {
      errs.invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", t, "must be greater than 0 and less than 86400");
    }
  } else if (affinity == "None" && get(spec, "sessionAffinityConfig") != nullptr) {
    errs.forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None");
  }
  if (type != "ExternalName") validateServiceIpFields(spec, errs);
  const Json& externalIPs = arrayOf(spec, "externalIPs");
  for (size_t i = 0; i < externalIPs.size(); ++i) validateIp(externalIPs[i], index("spec.externalIPs", i), errs);
  if (type.empty()) {
    errs.required("spec.type");
  } else if (type != "ClusterIP" && type != "NodePort" && type != "LoadBalancer" && type != "ExternalName") {
    errs.notSupported("spec.type", type, {"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"});
  }
  if (type == "ClusterIP")
    for (size_t i = 0; i < ports.size(); ++i)
      if (optInt(ports[i], "nodePort").value_or(0) != 0)
        errs.forbidden(child(index("spec.ports", i), "nodePort"), "may not be used when `type` is 'ClusterIP'");
  std::set<std::string> nodePorts, portKeys;
  for (size_t i = 0; i < ports.size(); ++i) {
    int64_t nodePort = optInt(ports[i], "nodePort").value_or(0);
    std::string protocol = str(ports[i], "protocol");
    if (nodePort != 0 && !nodePorts.insert(protocol + "/" + std::to_string(nodePort)).second)
      errs.duplicate(child(index("spec.ports", i), "nodePort"), nodePort);
    int64_t port = optInt(ports[i], "port").value_or(0);
    if (!portKeys.insert(protocol + "/" + std::to_string(port)).second)
      errs.duplicate(index("spec.ports", i), Json{{"port", port}, {"protocol", protocol}});
  }
  const Json& ranges = arrayOf(spec, "loadBalancerSourceRanges");
  if (!ranges.empty()) {
    if (type != "LoadBalancer")
      errs.forbidden("spec.LoadBalancerSourceRanges", "may only be used when `type` is 'LoadBalancer'");
    for (size_t i = 0; i < ranges.size(); ++i) {
      Json trimmed = ranges[i].is_string() ? Json(std::string(trim(ranges[i].get<std::string>()))) : ranges[i];
      validateCidr(trimmed, index("spec.LoadBalancerSourceRanges", i), errs);
    }
  }
  if (get(spec, "allocateLoadBalancerNodePorts") != nullptr && type != "LoadBalancer")
    errs.forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'");
  if (type == "LoadBalancer" && get(spec, "allocateLoadBalancerNodePorts") == nullptr)
    errs.required("allocateLoadBalancerNodePorts");
  bool external = type == "NodePort" || type == "LoadBalancer" || (type == "ClusterIP" && !externalIPs.empty());
  std::string etp = str(spec, "externalTrafficPolicy");
  if (!external) {
    if (!etp.empty())
      errs.invalid("spec.externalTrafficPolicy", etp, "may only be set for externally-accessible services");
  } else if (etp.empty()) {
    errs.required("spec.externalTrafficPolicy");
  } else if (etp != "Cluster" && etp != "Local") {
    errs.notSupported("spec.externalTrafficPolicy", etp, {"Cluster", "Local"});
  }
  bool needsHealthCheck = type == "LoadBalancer" && etp == "Local";
  int64_t hc = optInt(spec, "healthCheckNodePort").value_or(0);
  if (!needsHealthCheck && hc != 0)
    errs.invalid("spec.healthCheckNodePort", hc, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'");
  if (needsHealthCheck && hc != 0) invalidEach(errs, "spec.healthCheckNodePort", hc, isValidPortNum(hc));
  const Json* itp = get(spec, "internalTrafficPolicy");
  if (itp == nullptr && (type == "NodePort" || type == "LoadBalancer" || type == "ClusterIP"))
    errs.required("spec.internalTrafficPolicy");
  if (itp != nullptr && *itp != "Cluster" && *itp != "Local")
    errs.notSupported("spec.internalTrafficPolicy", *itp, {"Cluster", "Local"});
  if (const Json* td = get(spec, "trafficDistribution"); td != nullptr && *td != "PreferClose")
    errs.notSupported("spec.trafficDistribution", *td, {"PreferClose"});
}

void validateEndpoints(const Json& o, const Json*, Operation op, FieldErrors& errs) {
  if (op == Operation::kStatusUpdate) return;
  const Json& subsets = arrayOf(o, "subsets");
  for (size_t i = 0; i < subsets.size(); ++i) {
    const Json& ss = subsets[i];
    std::string p = index("subsets", i);
    const Json& addresses = arrayOf(ss, "addresses");
    const Json& notReady = arrayOf(ss, "notReadyAddresses");
    if (addresses.empty() && notReady.empty())
      errs.required(p, "must specify `addresses` or `notReadyAddresses`");
    for (size_t j = 0; j < addresses.size(); ++j) validateEndpointAddress(addresses[j], index(child(p, "addresses"), j), errs);
    for (size_t j = 0; j < notReady.size(); ++j)
      validateEndpointAddress(notReady[j], index(child(p, "notReadyAddresses"), j), errs);
    const Json& ports = arrayOf(ss, "ports");
    for (size_t j = 0; j < ports.size(); ++j) {
      std::string pp = index(child(p, "ports"), j);
      std::string name = str(ports[j], "name");
      if (ports.size() > 1 && name.empty()) {
        errs.required(child(pp, "name"));
      } else if (!name.empty()) {
        invalidEach(errs, child(pp, "name"), name, isDns1123Label(name));
      }
      int64_t port = optInt(ports[j], "port").value_or(0);
      invalidEach(errs, child(pp, "port"), port, isValidPortNum(port));
      std::string protocol = str(ports[j], "protocol");
      if (protocol.empty()) {
        errs.required(child(pp, "protocol"));
      } else if (protocol != "TCP" && protocol != "UDP" && protocol != "SCTP") {
        errs.notSupported(child(pp, "protocol"), protocol, {"SCTP", "TCP", "UDP"});
      }
      if (const Json* app = get(ports[j], "appProtocol")) validateQualifiedName(*app, child(pp, "appProtocol"), errs);
    }
  }
}

void validateConfigMap(const Json& o, const Json* old, Operation op, FieldErrors& errs) {
  if (op == Operation::kUpdate && old != nullptr && truthy(*old, "immutable")) {
    if (!truthy(o, "immutable")) errs.forbidden("immutable", "field is immutable when `immutable` is set");
    if (!jsonEqual(memberOrNull(o, "data"), memberOrNull(*old, "data")))
      errs.forbidden("data", "field is immutable when `immutable` is set");
    if (!jsonEqual(memberOrNull(o, "binaryData"), memberOrNull(*old, "binaryData")))
      errs.forbidden("binaryData", "field is immutable when `immutable` is set");
  }
  size_t total = 0;
  const Json& data = objectOf(o, "data");
  const Json& binary = objectOf(o, "binaryData");
  for (auto it = data.begin(); it != data.end(); ++it) {
    invalidEach(errs, key("data", it.key()), it.key(), isConfigMapKey(it.key()));
    if (binary.contains(it.key()))
      errs.invalid(key("data", it.key()), it.key(), "duplicate of key present in binaryData");
    if (it->is_string()) total += it->get_ref<const std::string&>().size();
  }
  for (auto it = binary.begin(); it != binary.end(); ++it) {
    invalidEach(errs, key("binaryData", it.key()), it.key(), isConfigMapKey(it.key()));
    total += decodedSize(*it);
  }
  if (total > kMaxSecretSize) errs.tooLong("", "", kMaxSecretSize);
}

void validateSecret(const Json& o, const Json* old, Operation op, FieldErrors& errs) {
  if (op == Operation::kUpdate && old != nullptr) {
    if (str(o, "type") != str(*old, "type")) errs.invalid("type", str(o, "type"), std::string(kImmutable));
    if (truthy(*old, "immutable")) {
      if (!truthy(o, "immutable")) errs.forbidden("immutable", "field is immutable when `immutable` is set");
      if (!jsonEqual(memberOrNull(o, "data"), memberOrNull(*old, "data")))
        errs.forbidden("data", "field is immutable when `immutable` is set");
    }
  }
  const Json& data = objectOf(o, "data");
  size_t total = 0;
  for (auto it = data.begin(); it != data.end(); ++it) {
    invalidEach(errs, key("data", it.key()), it.key(), isConfigMapKey(it.key()));
    total += decodedSize(*it);
  }
  if (total > kMaxSecretSize) errs.tooLong("data", "", kMaxSecretSize);
  std::string type = str(o, "type");
  std::string content;
  if (type == "kubernetes.io/service-account-token") {
    if (str(objectOf(objectOf(o, "metadata"), "annotations"), "kubernetes.io/service-account.name").empty())
      errs.required("metadata.annotations[kubernetes.io/service-account.name]");
  } else if (type == "kubernetes.io/dockercfg" || type == "kubernetes.io/dockerconfigjson") {
    std::string dataKey = type == "kubernetes.io/dockercfg" ? ".dockercfg" : ".dockerconfigjson";
    if (!data.contains(dataKey)) {
      errs.required(key("data", dataKey));
    } else {
      std::string decoded;
      decodedData(data, dataKey, decoded);
      Result<ParsedJson> parsed = parseJson(decoded);
      if (!parsed.ok()) {
        errs.invalid(key("data", dataKey), "<secret contents redacted>", parsed.error().message());
      } else if (!parsed->value.is_object()) {
        errs.invalid(key("data", dataKey), "<secret contents redacted>",
                     "json: cannot unmarshal " + std::string(parsed->value.type_name()) +
                         " into Go value of type map[string]interface {}");
      }
    }
  } else if (type == "kubernetes.io/basic-auth") {
    if (!data.contains("username") && !data.contains("password")) {
      errs.required("data[username]");
      errs.required("data[password]");
    }
  } else if (type == "kubernetes.io/ssh-auth") {
    if (!decodedData(data, "ssh-privatekey", content) || content.empty()) errs.required("data[ssh-privatekey]");
  } else if (type == "kubernetes.io/tls") {
    if (!data.contains("tls.crt")) errs.required("data[tls.crt]");
    if (!data.contains("tls.key")) errs.required("data[tls.key]");
  }
}

void validateServiceAccount(const Json&, const Json*, Operation, FieldErrors&) {}

void validateCoreEvent(const Json& o, const Json*, Operation op, FieldErrors& errs) {
  if (op == Operation::kStatusUpdate) return;
  const Json& meta = objectOf(o, "metadata");
  std::string ns = str(meta, "namespace");
  std::string involvedNs = str(objectOf(o, "involvedObject"), "namespace");
  if (!isSet(o, "eventTime")) {
    if (involvedNs.empty()) {
      if (!ns.empty() && ns != "default")
        errs.invalid("involvedObject.namespace", involvedNs, "does not match event.namespace");
    } else if (ns != involvedNs) {
      errs.invalid("involvedObject.namespace", involvedNs, "does not match event.namespace");
    }
  } else {
    if (involvedNs.empty() && ns != "default" && ns != "kube-system")
      errs.invalid("involvedObject.namespace", involvedNs, "does not match event.namespace");
    std::string controller = str(o, "reportingComponent");
    if (controller.empty()) errs.required("reportingComponent");
    invalidEach(errs, "reportingComponent", controller, isQualifiedName(controller));
    std::string instance = str(o, "reportingInstance");
    if (instance.empty()) errs.required("reportingInstance");
    if (instance.size() > 128) errs.invalid("reportingInstance", "", "can have at most 128 characters");
    std::string action = str(o, "action");
    if (action.empty()) errs.required("action");
    if (action.size() > 128) errs.invalid("action", "", "can have at most 128 characters");
    std::string reason = str(o, "reason");
    if (reason.empty()) errs.required("reason");
    if (reason.size() > 128) errs.invalid("reason", "", "can have at most 128 characters");
    if (str(o, "message").size() > 1024) errs.invalid("message", "", "can have at most 1024 characters");
  }
  invalidEach(errs, "namespace", ns, isDns1123Subdomain(ns));
}

void validateNamespace(const Json& o, const Json*, Operation op, FieldErrors& errs) {
  if (op == Operation::kStatusUpdate) {
    std::string phase = str(objectOf(o, "status"), "phase");
    if (!isSet(objectOf(o, "metadata"), "deletionTimestamp")) {
      if (phase != "Active") errs.invalid("status.Phase", phase, "may only be 'Active' if `deletionTimestamp` is empty");
    } else if (phase != "Terminating") {
      errs.invalid("status.Phase", phase, "may only be 'Terminating' if `deletionTimestamp` is not empty");
    }
    return;
  }
  if (op == Operation::kCreate)
    validateFinalizerNames(arrayOf(objectOf(o, "spec"), "finalizers"), "spec.finalizers", errs, false);
}

void validateNode(const Json& o, const Json* old, Operation op, FieldErrors& errs) {
  const Json& spec = objectOf(o, "spec");
  const Json& taints = arrayOf(spec, "taints");
  std::map<std::string, std::set<std::string>> unique;
  for (size_t i = 0; i < taints.size(); ++i) {
    // Kubernetes reports taints under "metadata.taints".
    std::string p = index("metadata.taints", i);
    std::string k = str(taints[i], "key");
    validateLabelName(k, child(p, "key"), errs);
    std::vector<std::string> msgs = isValidLabelValue(str(taints[i], "value"));
    if (!msgs.empty()) errs.invalid(child(p, "value"), str(taints[i], "value"), msgs[0]);
    std::string effect = str(taints[i], "effect");
    if (effect.empty()) {
      errs.required(child(p, "effect"));
    } else if (effect != "NoSchedule" && effect != "PreferNoSchedule" && effect != "NoExecute") {
      errs.notSupported(child(p, "effect"), effect, {"NoSchedule", "PreferNoSchedule", "NoExecute"});
    }
    if (!unique[effect].insert(k).second) {
      FieldError e{FieldErrorType::kDuplicate, p, taints[i], true, "taints must be unique by key and effect pair"};
      errs.add(std::move(e));
    }
  }
  const Json& status = objectOf(o, "status");
  for (std::string_view section : {"capacity", "allocatable"}) {
    const Json& res = objectOf(status, section);
    for (auto it = res.begin(); it != res.end(); ++it) {
      std::optional<Quantity> q = parseQuantity(*it);
      std::string p = child(child("status", section), it.key());
      if (!q) {
        errs.invalid(p, *it, std::string(kQuantityRegexError));
      } else if (q->isNegative()) {
        errs.invalid(p, q->toString(), std::string(kNegative));
      }
    }
  }
  const Json& cidrs = arrayOf(spec, "podCIDRs");
  for (size_t i = 0; i < cidrs.size(); ++i) validateCidr(cidrs[i], index("spec.podCIDRs", i), errs);
  if (op != Operation::kCreate && old != nullptr) {
    const Json& oldSpec = objectOf(*old, "spec");
    const Json& oldCidrs = arrayOf(oldSpec, "podCIDRs");
    if (!oldCidrs.empty() && !jsonEqual(oldCidrs, cidrs))
      errs.forbidden("spec.podCIDRs", "node updates may not change podCIDR except from \"\" to valid");
    std::string provider = str(oldSpec, "providerID");
    if (!provider.empty() && provider != str(spec, "providerID"))
      errs.forbidden("spec.providerID", "node updates may not change providerID except from \"\" to valid");
    if (str(oldSpec, "externalID") != str(spec, "externalID")) errs.forbidden("spec.externalID", "may not be updated");
  }
}

void validatePersistentVolume(const Json& o, const Json* old, Operation op, FieldErrors& errs) {
  if (op == Operation::kStatusUpdate) return;
  const Json& spec = objectOf(o, "spec");
  validateAccessModes(spec, "spec", false, errs);
  const Json& capacity = objectOf(spec, "capacity");
  if (capacity.empty()) errs.required("spec.capacity");
  if (!capacity.contains("storage") || capacity.size() > 1)
    errs.notSupported("spec.capacity", capacity, {"storage"});
  for (auto it = capacity.begin(); it != capacity.end(); ++it)
    validateStorageQuantity(*it, key("spec.capacity", it.key()), errs);
  std::string reclaim = str(spec, "persistentVolumeReclaimPolicy");
  if (!reclaim.empty() && reclaim != "Delete" && reclaim != "Recycle" && reclaim != "Retain")
    errs.notSupported("spec.persistentVolumeReclaimPolicy", reclaim, {"Delete", "Recycle", "Retain"});
  if (const Json* na = getObject(spec, "nodeAffinity")) {
    if (const Json* req = getObject(*na, "required")) {
      validateNodeSelector(*req, "spec.nodeAffinity.required", errs);
    } else {
      errs.required("spec.nodeAffinity.required");
    }
  }
  static constexpr std::string_view kSources[] = {
      "hostPath", "gcePersistentDisk", "awsElasticBlockStore", "glusterfs", "nfs", "rbd", "quobyte",
      "cephfs", "iscsi", "cinder", "fc", "flexVolume", "azureFile", "vsphereVolume",
      "photonPersistentDisk", "portworxVolume", "azureDisk", "scaleIO", "local", "storageos", "csi"};
  int count = 0;
  for (std::string_view source : kSources) {
    const Json* s = get(spec, source);
    if (s == nullptr) continue;
    std::string p = child("spec", source);
    if (count++ > 0) {
      errs.forbidden(p, "may not specify more than 1 volume type");
      continue;
    }
    if (source == "hostPath") {
      if (str(*s, "path").empty()) errs.required(child(p, "path"));
    } else if (source == "nfs") {
      if (str(*s, "server").empty()) errs.required(child(p, "server"));
      std::string path = str(*s, "path");
      if (path.empty()) errs.required(child(p, "path"));
      if (path.empty() || path[0] != '/') errs.invalid(child(p, "path"), path, "must be an absolute path");
    } else if (source == "local") {
      if (str(*s, "path").empty()) errs.required(child(p, "path"));
      if (getObject(spec, "nodeAffinity") == nullptr)
        errs.required("spec.nodeAffinity", "Local volume requires node affinity");
    } else if (source == "csi") {
      if (str(*s, "driver").empty()) errs.required(child(p, "driver"));
      if (str(*s, "volumeHandle").empty()) errs.required(child(p, "volumeHandle"));
    }
  }
  if (count == 0) errs.required("spec", "must specify a volume type");
  if (std::string sc = str(spec, "storageClassName"); !sc.empty())
    invalidEach(errs, "spec.storageClassName", sc, isDns1123Subdomain(sc));
  if (const Json* mode = get(spec, "volumeMode"); mode != nullptr && *mode != "Block" && *mode != "Filesystem")
    errs.notSupported("spec.volumeMode", *mode, {"Block", "Filesystem"});
  if (op == Operation::kUpdate && old != nullptr) {
    const Json& oldSpec = objectOf(*old, "spec");
    Json sourceNow = Json::object(), sourceBefore = Json::object();
    for (std::string_view source : kSources) {
      if (const Json* s = get(spec, source)) sourceNow[std::string(source)] = *s;
      if (const Json* s = get(oldSpec, source)) sourceBefore[std::string(source)] = *s;
    }
    // A CSI volume may gain a controllerExpandSecretRef.
    if (sourceNow.contains("csi") && sourceBefore.contains("csi") && !get(sourceBefore["csi"], "controllerExpandSecretRef"))
      sourceNow["csi"].erase("controllerExpandSecretRef");
    if (!jsonEqual(sourceNow, sourceBefore))
      errs.forbidden("spec.persistentvolumesource",
                     "spec.persistentvolumesource is immutable after creation" + diff(sourceBefore, sourceNow, "spec"));
    if (!jsonEqual(memberOrNull(spec, "volumeMode"), memberOrNull(oldSpec, "volumeMode")))
      errs.invalid("volumeMode", memberOrNull(spec, "volumeMode"), std::string(kImmutable));
    if (get(oldSpec, "nodeAffinity") != nullptr &&
        !jsonEqual(memberOrNull(spec, "nodeAffinity"), memberOrNull(oldSpec, "nodeAffinity")))
      errs.invalid("nodeAffinity", memberOrNull(spec, "nodeAffinity"), std::string(kImmutable));
  }
}

void validatePersistentVolumeClaimSpec(const Json& spec, const std::string& path, FieldErrors& errs) {
  validateAccessModes(spec, path, true, errs);
  validateLabelSelector(memberOrNull(spec, "selector"), child(path, "selector"), errs);
  const Json& requests = objectOf(objectOf(spec, "resources"), "requests");
  std::string storagePath = key(child(path, "resources"), "storage");
  if (const Json* storage = get(requests, "storage")) {
    validateStorageQuantity(*storage, storagePath, errs);
  } else {
    errs.required(storagePath);
  }
  if (std::string sc = str(spec, "storageClassName"); !sc.empty())
    invalidEach(errs, child(path, "storageClassName"), sc, isDns1123Subdomain(sc));
  if (const Json* mode = get(spec, "volumeMode"); mode != nullptr && *mode != "Block" && *mode != "Filesystem")
    errs.notSupported(child(path, "volumeMode"), *mode, {"Block", "Filesystem"});
  for (std::string_view ref : {"dataSource", "dataSourceRef"}) {
    const Json* ds = getObject(spec, ref);
    if (ds == nullptr) continue;
    std::string p = child(path, ref);
    if (str(*ds, "name").empty()) errs.required(child(p, "name"));
    std::string kind = str(*ds, "kind");
    if (kind.empty()) errs.required(child(p, "kind"));
    std::string group = str(*ds, "apiGroup");
    if (group.empty() && kind != "PersistentVolumeClaim")
      errs.invalid(p, kind, "must be 'PersistentVolumeClaim' when referencing the default apiGroup");
    if (!group.empty()) invalidEach(errs, child(p, "apiGroup"), group, isDns1123Subdomain(group));
  }
  if (std::string vac = str(spec, "volumeAttributesClassName"); !vac.empty())
    invalidEach(errs, child(path, "volumeAttributesClassName"), vac, isDns1123Subdomain(vac));
}

void validatePersistentVolumeClaim(const Json& o, const Json* old, Operation op, FieldErrors& errs) {
  if (op == Operation::kStatusUpdate) {
    if (arrayOf(objectOf(o, "spec"), "accessModes").empty()) errs.required("Spec.accessModes");
    return;
  }
  const Json& spec = objectOf(o, "spec");
  validatePersistentVolumeClaimSpec(spec, "spec", errs);
  if (op != Operation::kUpdate || old == nullptr) return;
  const Json& oldSpec = objectOf(*old, "spec");
  Json now = spec, before = oldSpec;
  if (str(oldSpec, "volumeName").empty()) {
    before.erase("volumeName");
    if (const Json* v = findMember(now, "volumeName")) before["volumeName"] = *v;
  }
  // A claim may gain a storage class it did not have.
  if (get(oldSpec, "storageClassName") == nullptr) {
    std::string oldAnnotation =
        str(objectOf(objectOf(*old, "metadata"), "annotations"), "volume.beta.kubernetes.io/storage-class");
    if (get(now, "storageClassName") != nullptr &&
        (oldAnnotation.empty() || str(now, "storageClassName") == oldAnnotation))
      now.erase("storageClassName");
  }
  bool bound = str(objectOf(o, "status"), "phase") == "Bound";
  if (bound) {
    if (Json* res = mutObject(now, "resources"))
      if (Json* req = mutObject(*res, "requests")) {
        const Json* oldStorage = get(objectOf(objectOf(oldSpec, "resources"), "requests"), "storage");
        if (oldStorage != nullptr) (*req)["storage"] = *oldStorage;
        else req->erase("storage");
      }
    now.erase("volumeAttributesClassName");
    if (const Json* v = findMember(oldSpec, "volumeAttributesClassName")) now["volumeAttributesClassName"] = *v;
  }
  if (!jsonEqual(now, before))
    errs.forbidden("spec",
                   "spec is immutable after creation except resources.requests and "
                   "volumeAttributesClassName for bound claims" + diff(before, now, "spec"));
  std::optional<Quantity> newSize = parseQuantity(memberOrNull(objectOf(objectOf(spec, "resources"), "requests"), "storage"));
  std::optional<Quantity> oldSize = parseQuantity(memberOrNull(objectOf(objectOf(oldSpec, "resources"), "requests"), "storage"));
  if (newSize && oldSize && newSize->compare(*oldSize) < 0) {
    std::optional<Quantity> capacity =
        parseQuantity(memberOrNull(objectOf(objectOf(*old, "status"), "capacity"), "storage"));
    Quantity cap = capacity.value_or(Quantity{});
    if (newSize->compare(cap) <= 0)
      errs.forbidden("spec.resources.requests.storage", "field can not be less than status.capacity");
  }
  if (!jsonEqual(memberOrNull(spec, "volumeMode"), memberOrNull(oldSpec, "volumeMode")))
    errs.invalid("volumeMode", memberOrNull(spec, "volumeMode"), std::string(kImmutable));
}

void validateResourceQuota(const Json& o, const Json* old, Operation op, FieldErrors& errs) {
  const Json& spec = objectOf(o, "spec");
  if (op != Operation::kStatusUpdate) {
    validateQuotaMap(objectOf(spec, "hard"), "spec.hard", errs);
    const Json& scopes = arrayOf(spec, "scopes");
    static const std::set<std::string> kScopes = {"Terminating", "NotTerminating", "BestEffort", "NotBestEffort",
                                                  "PriorityClass", "CrossNamespacePodAffinity", "VolumeAttributesClass"};
    std::set<std::string> seen;
    for (const Json& s : scopes) {
      std::string scope = s.is_string() ? s.get<std::string>() : "";
      if (!kScopes.count(scope)) errs.invalid("spec.scopes", scopes, "unsupported scope");
      seen.insert(scope);
    }
    if ((seen.count("BestEffort") && seen.count("NotBestEffort")) ||
        (seen.count("Terminating") && seen.count("NotTerminating")))
      errs.invalid("spec.scopes", scopes, "conflicting scopes");
    if (op == Operation::kUpdate && old != nullptr) {
      std::set<std::string> a, b;
      for (const Json& s : scopes) a.insert(s.is_string() ? s.get<std::string>() : "");
      for (const Json& s : arrayOf(objectOf(*old, "spec"), "scopes")) b.insert(s.is_string() ? s.get<std::string>() : "");
      if (a != b) errs.invalid("spec.scopes", scopes, std::string(kImmutable));
    }
  }
  const Json& status = objectOf(o, "status");
  validateQuotaMap(objectOf(status, "hard"), "status.hard", errs);
  validateQuotaMap(objectOf(status, "used"), "status.used", errs);
}

void validateLimitRange(const Json& o, const Json*, Operation op, FieldErrors& errs) {
  if (op == Operation::kStatusUpdate) return;
  const Json& limits = arrayOf(objectOf(o, "spec"), "limits");
  for (size_t i = 0; i < limits.size(); ++i) {
    const Json& item = limits[i];
    std::string p = index("spec.limits", i);
    std::string type = str(item, "type");
    if (type.empty()) errs.required(child(p, "type"));
    std::map<std::string, std::map<std::string, Quantity>> values;
    for (std::string_view section : {"max", "min", "default", "defaultRequest", "maxLimitRequestRatio"}) {
      const Json& m = objectOf(item, section);
      for (auto it = m.begin(); it != m.end(); ++it) {
        std::string qp = key(child(p, section), it.key());
        validateLabelName(it.key(), qp, errs);
        std::optional<Quantity> q = parseQuantity(*it);
        if (!q) {
          errs.invalid(qp, *it, std::string(kQuantityRegexError));
          continue;
        }
        values[std::string(section)][it.key()] = *q;
      }
    }
    if (type == "Pod" && (!objectOf(item, "default").empty() || !objectOf(item, "defaultRequest").empty())) {
      if (!objectOf(item, "default").empty()) errs.forbidden(child(p, "default"), "may not be specified when `type` is 'Pod'");
      if (!objectOf(item, "defaultRequest").empty())
        errs.forbidden(child(p, "defaultRequest"), "may not be specified when `type` is 'Pod'");
    }
    std::set<std::string> keys;
    for (const auto& [section, m] : values)
      for (const auto& [k, q] : m) keys.insert(k);
    for (const std::string& k : keys) {
      auto find = [&](const char* section) -> const Quantity* {
        auto s = values.find(section);
        if (s == values.end()) return nullptr;
        auto q = s->second.find(k);
        return q == s->second.end() ? nullptr : &q->second;
      };
      const Quantity* min = find("min");
      const Quantity* max = find("max");
      const Quantity* def = find("default");
      const Quantity* defReq = find("defaultRequest");
      const Quantity* ratio = find("maxLimitRequestRatio");
      if (min && max && min->compare(*max) > 0)
        errs.invalid(key(child(p, "min"), k), min->toString(),
                     "min value " + min->toString() + " is greater than max value " + max->toString());
      if (defReq && min && min->compare(*defReq) > 0)
        errs.invalid(key(child(p, "defaultRequest"), k), defReq->toString(),
                     "min value " + min->toString() + " is greater than default request value " + defReq->toString());
      if (defReq && max && defReq->compare(*max) > 0)
        errs.invalid(key(child(p, "defaultRequest"), k), defReq->toString(),
                     "default request value " + defReq->toString() + " is greater than max value " + max->toString());
      if (defReq && def && defReq->compare(*def) > 0)
        errs.invalid(key(child(p, "defaultRequest"), k), defReq->toString(),
                     "default request value " + defReq->toString() + " is greater than default limit value " + def->toString());
      if (def && min && min->compare(*def) > 0)
        errs.invalid(key(child(p, "default"), k), min->toString(),
                     "min value " + min->toString() + " is greater than default value " + def->toString());
      if (def && max && def->compare(*max) > 0)
        errs.invalid(key(child(p, "default"), k), max->toString(),
                     "default value " + def->toString() + " is greater than max value " + max->toString());
      Quantity one;
      one.nanos = 1000000000;
      if (ratio && ratio->compare(one) < 0)
        errs.invalid(key(child(p, "maxLimitRequestRatio"), k), ratio->toString(),
                     "ratio " + ratio->toString() + " is less than 1");
    }
  }
}

void validateBinding(const Json& o, const Json*, Operation, FieldErrors& errs) {
  const Json& target = objectOf(o, "target");
  std::string kind = str(target, "kind");
  if (!kind.empty() && kind != "Node") errs.notSupported("target.kind", kind, {"Node", "<empty>"});
  if (str(target, "name").empty()) errs.required("target.name");
}

}  // namespace nave::validation::detail
