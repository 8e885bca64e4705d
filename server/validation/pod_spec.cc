// Pod spec validation (pkg/apis/core/validation: ValidatePodSpec and what it calls), shared by
// Pods and every pod template. Field paths and messages follow Kubernetes, quirks included.
#include <algorithm>
#include <map>
#include <set>
#include <span>

#include "common/strings.h"
#include "server/validation/internal.h"

namespace nave::validation::detail {
namespace {

constexpr std::string_view kFileModeError = "must be a number between 0 and 0777 (octal), both inclusive";

// The volume sources in the order Kubernetes checks them, with the path name it reports when a
// second source is given (its spelling, typos included).
constexpr std::pair<std::string_view, std::string_view> kVolumeSources[] = {
    {"emptyDir", "emptyDir"},
    {"hostPath", "hostPath"},
    {"gitRepo", "gitRepo"},
    {"gcePersistentDisk", "gcePersistentDisk"},
    {"awsElasticBlockStore", "awsElasticBlockStore"},
    {"secret", "secret"},
    {"nfs", "nfs"},
    {"iscsi", "iscsi"},
    {"glusterfs", "glusterfs"},
    {"flocker", "flocker"},
    {"persistentVolumeClaim", "persistentVolumeClaim"},
    {"rbd", "rbd"},
    {"cinder", "cinder"},
    {"cephfs", "cephFS"},
    {"quobyte", "quobyte"},
    {"downwardAPI", "downwarAPI"},
    {"fc", "fc"},
    {"flexVolume", "flexVolume"},
    {"configMap", "configMap"},
    {"azureFile", "azureFile"},
    {"vsphereVolume", "vsphereVolume"},
    {"photonPersistentDisk", "photonPersistentDisk"},
    {"portworxVolume", "portworxVolume"},
    {"azureDisk", "azureDisk"},
    {"storageos", "storageos"},
    {"projected", "projected"},
    {"scaleIO", "scaleIO"},
    {"csi", "csi"},
    {"ephemeral", "ephemeral"},
    {"image", "image"},
};

struct VolumeInfo {
  std::string source;  // the volume source key ("persistentVolumeClaim", ...)
};
using VolumeMap = std::map<std::string, VolumeInfo>;

bool startsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

void requiredString(const Json& obj, std::string_view key, const std::string& path,
                    FieldErrors& errs, std::string detail = "") {
  if (str(obj, key).empty()) errs.required(child(path, key), std::move(detail));
}

// validatePathNoBacksteps
bool hasBacksteps(std::string_view p) {
  size_t start = 0;
  while (true) {
    size_t slash = p.find_first_of("/\\", start);
    std::string_view part = p.substr(start, slash == p.npos ? p.npos : slash - start);
    if (part == "..") return true;
    if (slash == p.npos) return false;
    start = slash + 1;
  }
}

void validatePathNoBacksteps(const std::string& value, const std::string& path, FieldErrors& errs) {
  if (hasBacksteps(value)) errs.invalid(path, value, "must not contain '..'");
}

void validateLocalDescendingPath(const std::string& value, const std::string& path,
                                 FieldErrors& errs) {
  if (!value.empty() && value[0] == '/') errs.invalid(path, value, "must be a relative path");
  validatePathNoBacksteps(value, path, errs);
}

void validateLocalNonReservedPath(const std::string& value, const std::string& path,
                                  FieldErrors& errs) {
  validateLocalDescendingPath(value, path, errs);
  if (startsWith(value, "..") && !startsWith(value, "../"))
    errs.invalid(path, value, "must not start with '..'");
}

void validateFileMode(const Json& obj, std::string_view key, const std::string& path,
                      FieldErrors& errs) {
  const Json* m = get(obj, key);
  if (m == nullptr) return;
  if (!isInteger(*m) || intValue(*m) < 0 || intValue(*m) > 0777)
    errs.invalid(child(path, key), *m, std::string(kFileModeError));
}

void validateKeyToPath(const Json& kp, const std::string& path, FieldErrors& errs) {
  requiredString(kp, "key", path, errs);
  std::string p = str(kp, "path");
  if (p.empty()) errs.required(child(path, "path"));
  validateLocalNonReservedPath(p, child(path, "path"), errs);
  validateFileMode(kp, "mode", path, errs);
}

void validateItems(const Json& source, const std::string& path, FieldErrors& errs) {
  const Json& items = arrayOf(source, "items");
  for (size_t i = 0; i < items.size(); ++i)
    validateKeyToPath(items[i], index(child(path, "items"), i), errs);
}

// Downward API field paths: `kind` selects the allowed set ("env" or "volume").
const std::set<std::string>& downwardApiFields(bool volume) {
  static const std::set<std::string> kEnv = {
      "metadata.name",  "metadata.namespace", "metadata.uid", "spec.nodeName",
      "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP",
      "status.podIPs"};
  static const std::set<std::string> kVolume = {"metadata.annotations", "metadata.labels",
                                                "metadata.name", "metadata.namespace",
                                                "metadata.uid"};
  return volume ? kVolume : kEnv;
}

// Fields the v1 Pod conversion accepts as downward API labels.
bool convertibleFieldPath(std::string_view p) {
  static const std::set<std::string_view> kKnown = {
      "metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace",
      "metadata.uid", "spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName",
      "spec.schedulerName", "status.phase", "status.hostIP", "status.hostIPs", "status.podIP",
      "status.podIPs"};
  return kKnown.count(p) > 0;
}

std::vector<std::string> sortedList(const std::set<std::string>& s) { return {s.begin(), s.end()}; }

void validateObjectFieldSelector(const Json& fs, bool volume, const std::string& path,
                                 FieldErrors& errs) {
  std::string apiVersion = str(fs, "apiVersion");
  std::string fieldPath = str(fs, "fieldPath");
  if (apiVersion.empty()) {
    errs.required(child(path, "apiVersion"));
    return;
  }
  if (fieldPath.empty()) {
    errs.required(child(path, "fieldPath"));
    return;
  }
  // metadata.labels['key'] / metadata.annotations['key']
  std::string base = fieldPath;
  std::string subscript;
  bool subscripted = false;
  if (size_t open = fieldPath.find("['"); open != std::string::npos && fieldPath.size() > open + 4 &&
                                          fieldPath.substr(fieldPath.size() - 2) == "']") {
    base = fieldPath.substr(0, open);
    subscript = fieldPath.substr(open + 2, fieldPath.size() - open - 4);
    subscripted = true;
  }
  if (apiVersion != "v1") {
    errs.invalid(child(path, "fieldPath"), fieldPath,
                 "error converting fieldPath: unsupported pod version: " + apiVersion);
    return;
  }
  if (!convertibleFieldPath(base) ||
      (subscripted && base != "metadata.labels" && base != "metadata.annotations")) {
    errs.invalid(child(path, "fieldPath"), fieldPath,
                 "error converting fieldPath: field label not supported: " + fieldPath);
    return;
  }
  if (subscripted) {
    std::string keyName = base == "metadata.annotations" ? toLower(subscript) : subscript;
    invalidEach(errs, path, keyName, isQualifiedName(keyName));
    return;
  }
  if (!downwardApiFields(volume).count(base))
    errs.notSupported(child(path, "fieldPath"), base, sortedList(downwardApiFields(volume)));
}

void validateResourceFieldSelector(const Json& fs, bool volume, const std::string& path,
                                   FieldErrors& errs) {
  static const std::set<std::string> kResources = {"limits.cpu",         "limits.ephemeral-storage",
                                                   "limits.memory",      "requests.cpu",
                                                   "requests.ephemeral-storage",
                                                   "requests.memory"};
  std::string resource = str(fs, "resource");
  if (volume && str(fs, "containerName").empty()) {
    errs.required(child(path, "containerName"));
  } else if (resource.empty()) {
    errs.required(child(path, "resource"));
  } else if (!kResources.count(resource) && !startsWith(resource, "requests.hugepages-") &&
             !startsWith(resource, "limits.hugepages-")) {
    errs.notSupported(child(path, "resource"), resource, sortedList(kResources));
  }
}

void validateDownwardApiFile(const Json& file, const std::string& path, FieldErrors& errs) {
  std::string p = str(file, "path");
  if (p.empty()) errs.required(child(path, "path"));
  validateLocalNonReservedPath(p, child(path, "path"), errs);
  const Json* fieldRef = getObject(file, "fieldRef");
  const Json* resourceRef = getObject(file, "resourceFieldRef");
  if (fieldRef != nullptr) {
    validateObjectFieldSelector(*fieldRef, true, child(path, "fieldRef"), errs);
    if (resourceRef != nullptr)
      errs.invalid(path, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously");
  } else if (resourceRef != nullptr) {
    validateResourceFieldSelector(*resourceRef, true, child(path, "resourceFieldRef"), errs);
  } else {
    errs.required(path, "one of fieldRef and resourceFieldRef is required");
  }
  validateFileMode(file, "mode", path, errs);
}

void validateProjectedSources(const Json& projected, const std::string& path, FieldErrors& errs) {
  std::set<std::string> paths;
  const Json& sources = arrayOf(projected, "sources");
  auto track = [&](const std::string& p, const Json& bad) {
    if (p.empty()) return;
    if (!paths.insert(p).second) errs.invalid(path, bad, "conflicting duplicate paths");
  };
  for (size_t i = 0; i < sources.size(); ++i) {
    const Json& src = sources[i];
    std::string srcPath = index(child(path, "sources"), i);
    int count = 0;
    for (std::string_view kind : {"secret", "configMap"}) {
      const Json* s = getObject(src, kind);
      if (s == nullptr) continue;
      ++count;
      std::string p = child(srcPath, kind);
      requiredString(*s, "name", p, errs);
      const Json& items = arrayOf(*s, "items");
      for (size_t j = 0; j < items.size(); ++j) {
        validateKeyToPath(items[j], index(child(p, "items"), j), errs);
        track(str(items[j], "path"), str(*s, "name"));
      }
    }
    if (const Json* d = getObject(src, "downwardAPI")) {
      ++count;
      for (const Json& file : arrayOf(*d, "items")) {
        validateDownwardApiFile(file, child(srcPath, "downwardAPI"), errs);
        track(str(file, "path"), str(file, "path"));
      }
    }
    if (const Json* t = getObject(src, "serviceAccountToken")) {
      ++count;
      std::string p = child(srcPath, "serviceAccountToken");
      int64_t exp = optInt(*t, "expirationSeconds").value_or(0);
      if (exp < 600)
        errs.invalid(child(p, "expirationSeconds"), exp, "may not specify a duration less than 10 minutes");
      if (exp > (int64_t{1} << 32))
        errs.invalid(child(p, "expirationSeconds"), exp,
                     "may not specify a duration larger than 2^32 seconds");
      std::string tokenPath = str(*t, "path");
      if (tokenPath.empty()) {
        errs.required(child(path, "path"));
      } else {
        validateLocalNonReservedPath(tokenPath, child(path, "path"), errs);
      }
    }
    if (const Json* b = getObject(src, "clusterTrustBundle")) {
      ++count;
      std::string p = child(srcPath, "clusterTrustBundle");
      if (str(*b, "path").empty()) errs.required(child(p, "path"));
      validateLocalNonReservedPath(str(*b, "path"), child(p, "path"), errs);
      track(str(*b, "path"), str(*b, "path"));
    }
    if (count > 1) errs.forbidden(srcPath, "may not specify more than 1 volume type per source");
  }
}

void validateVolumeSourceDetails(std::string_view key, const Json& s, const std::string& p,
                                 FieldErrors& errs) {
  if (key == "emptyDir") {
    if (const Json* limit = get(s, "sizeLimit")) {
      std::optional<Quantity> q = parseQuantity(*limit);
      if (!q || q->isNegative())
        errs.forbidden(child(p, "sizeLimit"), "SizeLimit field must be a valid resource quantity");
    }
  } else if (key == "hostPath") {
    std::string path = str(s, "path");
    if (path.empty()) {
      errs.required(child(p, "path"));
      return;
    }
    validatePathNoBacksteps(path, child(p, "path"), errs);
    if (const Json* type = get(s, "type")) {
      static const std::vector<std::string> kTypes = {"",          "BlockDevice", "CharDevice",
                                                      "Directory", "DirectoryOrCreate", "File",
                                                      "FileOrCreate", "Socket"};
      if (!type->is_string() ||
          std::find(kTypes.begin(), kTypes.end(), type->get<std::string>()) == kTypes.end())
        errs.notSupported(child(p, "type"), *type, kTypes);
    }
  } else if (key == "secret") {
    requiredString(s, "secretName", p, errs);
    validateFileMode(s, "defaultMode", p, errs);
    validateItems(s, p, errs);
  } else if (key == "configMap") {
    requiredString(s, "name", p, errs);
    validateFileMode(s, "defaultMode", p, errs);
    validateItems(s, p, errs);
  } else if (key == "persistentVolumeClaim") {
    requiredString(s, "claimName", p, errs);
  } else if (key == "nfs") {
    requiredString(s, "server", p, errs);
    std::string path = str(s, "path");
    if (path.empty()) errs.required(child(p, "path"));
    if (path.empty() || path[0] != '/') errs.invalid(child(p, "path"), path, "must be an absolute path");
  } else if (key == "downwardAPI") {
    validateFileMode(s, "defaultMode", p, errs);
    for (const Json& file : arrayOf(s, "items")) validateDownwardApiFile(file, p, errs);
  } else if (key == "projected") {
    validateFileMode(s, "defaultMode", p, errs);
    validateProjectedSources(s, p, errs);
  } else if (key == "csi") {
    if (str(s, "driver").empty()) errs.required(child(p, "driver"));
  } else if (key == "ephemeral") {
    const Json* templ = getObject(s, "volumeClaimTemplate");
    if (templ == nullptr) {
      errs.required(child(p, "volumeClaimTemplate"));
    } else {
      std::string tp = child(p, "volumeClaimTemplate");
      const Json& meta = objectOf(*templ, "metadata");
      validateLabels(memberOrNull(meta, "labels"), child(child(tp, "metadata"), "labels"), errs);
      validateAnnotations(memberOrNull(meta, "annotations"),
                          child(child(tp, "metadata"), "annotations"), errs);
      validatePersistentVolumeClaimSpec(objectOf(*templ, "spec"), child(tp, "spec"), errs);
    }
  } else if (key == "image") {
    std::string policy = str(s, "pullPolicy");
    if (!policy.empty() && policy != "Always" && policy != "IfNotPresent" && policy != "Never")
      errs.notSupported(child(p, "pullPolicy"), policy, {"Always", "IfNotPresent", "Never"});
  } else if (key == "gitRepo") {
    requiredString(s, "repository", p, errs);
    validateLocalDescendingPath(str(s, "directory"), child(p, "directory"), errs);
  } else if (key == "iscsi") {
    requiredString(s, "targetPortal", p, errs);
    requiredString(s, "iqn", p, errs);
  } else if (key == "rbd") {
    if (arrayOf(s, "monitors").empty()) errs.required(child(p, "monitors"));
    requiredString(s, "image", p, errs);
  } else if (key == "cephfs") {
    if (arrayOf(s, "monitors").empty()) errs.required(child(p, "monitors"));
  } else if (key == "flexVolume") {
    requiredString(s, "driver", p, errs);
  } else if (key == "azureFile") {
    requiredString(s, "secretName", p, errs);
    requiredString(s, "shareName", p, errs);
  } else if (key == "glusterfs") {
    if (str(s, "endpoints").empty()) errs.required(child(p, "endpoints"));
    requiredString(s, "path", p, errs);
  }
}

VolumeMap validateVolumes(const Json& volumes, const std::string& path, FieldErrors& errs) {
  VolumeMap vols;
  for (size_t i = 0; i < volumes.size(); ++i) {
    const Json& v = volumes[i];
    std::string idx = index(path, i);
    std::string name = str(v, "name");
    FieldErrors el;
    int count = 0;
    std::string source;
    for (const auto& [key, reportName] : kVolumeSources) {
      const Json* s = get(v, key);
      if (s == nullptr) continue;
      if (count > 0) {
        el.forbidden(child(idx, reportName), "may not specify more than 1 volume type");
        continue;
      }
      ++count;
      source = std::string(key);
      validateVolumeSourceDetails(key, *s, child(idx, key == "gcePersistentDisk" ? "persistentDisk" : key), el);
    }
    if (count == 0) el.required(idx, "must specify a volume type");
    if (name.empty()) {
      el.required(child(idx, "name"));
    } else {
      invalidEach(el, child(idx, "name"), name, isDns1123Label(name));
    }
    if (vols.count(name)) el.duplicate(child(idx, "name"), name);
    if (el.empty()) {
      vols[name] = VolumeInfo{source};
    } else {
      errs.append(el);
    }
  }
  return vols;
}

void validatePortNumOrName(const Json& port, const std::string& path, FieldErrors& errs) {
  if (isInteger(port)) {
    invalidEach(errs, path, intValue(port), isValidPortNum(intValue(port)));
  } else if (port.is_string()) {
    invalidEach(errs, path, port, isValidPortName(port.get<std::string>()));
  } else {
    // An absent port is intstr's zero value: the integer 0.
    invalidEach(errs, path, 0, isValidPortNum(0));
  }
}

void validateHandler(const Json& handler, bool lifecycle, const Json* gracePeriod,
                     const std::string& path, FieldErrors& errs) {
  int count = 0;
  static constexpr std::string_view kProbeHandlers[] = {"exec", "httpGet", "tcpSocket", "grpc"};
  static constexpr std::string_view kLifecycleHandlers[] = {"exec", "httpGet", "tcpSocket", "sleep"};
  for (std::string_view key : lifecycle ? std::span<const std::string_view>(kLifecycleHandlers)
                                        : std::span<const std::string_view>(kProbeHandlers)) {
    const Json* h = getObject(handler, key);
    if (h == nullptr) continue;
    std::string p = child(path, key);
    if (count > 0) {
      errs.forbidden(p, "may not specify more than 1 handler type");
      continue;
    }
    ++count;
    if (key == "exec") {
      if (arrayOf(*h, "command").empty()) errs.required(child(p, "command"));
    } else if (key == "httpGet") {
      if (str(*h, "path").empty()) errs.required(child(p, "path"));
      validatePortNumOrName(memberOrNull(*h, "port"), child(p, "port"), errs);
      std::string scheme = str(*h, "scheme");
      if (scheme != "HTTP" && scheme != "HTTPS")
        errs.notSupported(child(p, "scheme"), scheme, {"HTTP", "HTTPS"});
      for (const Json& header : arrayOf(*h, "httpHeaders"))
        invalidEach(errs, child(p, "httpHeaders"), str(header, "name"),
                    isHttpHeaderName(str(header, "name")));
    } else if (key == "tcpSocket") {
      validatePortNumOrName(memberOrNull(*h, "port"), child(p, "port"), errs);
    } else if (key == "grpc") {
      int64_t port = optInt(*h, "port").value_or(0);
      invalidEach(errs, child(p, "port"), port, isValidPortNum(port));
    } else if (key == "sleep") {
      int64_t seconds = optInt(*h, "seconds").value_or(0);
      if (gracePeriod != nullptr && isInteger(*gracePeriod) &&
          (seconds < 0 || seconds > intValue(*gracePeriod)))
        errs.invalid(p, seconds,
                     "must be non-negative and less than terminationGracePeriodSeconds (" +
                         std::to_string(intValue(*gracePeriod)) + ")");
    }
  }
  if (count == 0) errs.required(path, "must specify a handler type");
}

void validateProbe(const Json& container, std::string_view key, const Json* gracePeriod,
                   const std::string& cpath, FieldErrors& errs) {
  const Json* probe = getObject(container, key);
  if (probe == nullptr) return;
  std::string path = child(cpath, key);
  validateHandler(*probe, false, gracePeriod, path, errs);
  for (std::string_view f : {"initialDelaySeconds", "timeoutSeconds", "periodSeconds",
                             "successThreshold", "failureThreshold"})
    nonNegative(*probe, f, child(path, f), errs);
  if (const Json* t = get(*probe, "terminationGracePeriodSeconds"); t != nullptr && isInteger(*t) &&
                                                                   intValue(*t) <= 0)
    errs.invalid(child(path, "terminationGracePeriodSeconds"), *t, "must be greater than 0");
  if (key == "livenessProbe" || key == "startupProbe") {
    int64_t st = optInt(*probe, "successThreshold").value_or(0);
    if (st != 1) errs.invalid(child(path, "successThreshold"), st, "must be 1");
  }
  if (key == "readinessProbe") {
    if (const Json* t = get(*probe, "terminationGracePeriodSeconds"))
      errs.invalid(child(path, "terminationGracePeriodSeconds"), *t,
                   "must not be set for readinessProbes");
  }
}

void validateLifecycle(const Json& lifecycle, const Json* gracePeriod, const std::string& path,
                       FieldErrors& errs) {
  for (std::string_view key : {"postStart", "preStop"})
    if (const Json* h = getObject(lifecycle, key))
      validateHandler(*h, true, gracePeriod, child(path, key), errs);
}

void validateContainerPorts(const Json& ports, const std::string& path, FieldErrors& errs) {
  std::set<std::string> names;
  for (size_t i = 0; i < ports.size(); ++i) {
    const Json& port = ports[i];
    std::string idx = index(path, i);
    std::string name = str(port, "name");
    if (!name.empty()) {
      std::vector<std::string> msgs = isValidPortName(name);
      if (!msgs.empty()) {
        invalidEach(errs, child(idx, "name"), name, msgs);
      } else if (!names.insert(name).second) {
        errs.duplicate(child(idx, "name"), name);
      }
    }
    int64_t containerPort = optInt(port, "containerPort").value_or(0);
    if (containerPort == 0) {
      errs.required(child(idx, "containerPort"));
    } else {
      invalidEach(errs, child(idx, "containerPort"), containerPort, isValidPortNum(containerPort));
    }
    if (int64_t hostPort = optInt(port, "hostPort").value_or(0); hostPort != 0)
      invalidEach(errs, child(idx, "hostPort"), hostPort, isValidPortNum(hostPort));
    std::string protocol = str(port, "protocol");
    if (protocol.empty()) {
      errs.required(child(idx, "protocol"));
    } else if (protocol != "TCP" && protocol != "UDP" && protocol != "SCTP") {
      errs.notSupported(child(idx, "protocol"), protocol, {"SCTP", "TCP", "UDP"});
    }
  }
}

void validateKeySelector(const Json& s, const std::string& path, FieldErrors& errs) {
  std::string name = str(s, "name");
  for (const std::string& m : nameIsDnsSubdomain(name, false)) errs.invalid(child(path, "name"), name, m);
  std::string key = str(s, "key");
  if (key.empty()) {
    errs.required(child(path, "key"));
  } else {
    invalidEach(errs, child(path, "key"), key, isConfigMapKey(key));
  }
}

void validateEnv(const Json& env, const std::string& path, FieldErrors& errs) {
  for (size_t i = 0; i < env.size(); ++i) {
    const Json& ev = env[i];
    std::string idx = index(path, i);
    std::string name = str(ev, "name");
    if (name.empty()) {
      errs.required(child(idx, "name"));
    } else {
      invalidEach(errs, child(idx, "name"), name, isEnvVarName(name));
    }
    const Json* from = getObject(ev, "valueFrom");
    if (from == nullptr) continue;
    std::string fp = child(idx, "valueFrom");
    int sources = 0;
    if (const Json* f = getObject(*from, "fieldRef")) {
      ++sources;
      validateObjectFieldSelector(*f, false, child(fp, "fieldRef"), errs);
    }
    if (const Json* f = getObject(*from, "resourceFieldRef")) {
      ++sources;
      validateResourceFieldSelector(*f, false, child(fp, "resourceFieldRef"), errs);
    }
    if (const Json* f = getObject(*from, "configMapKeyRef")) {
      ++sources;
      validateKeySelector(*f, child(fp, "configMapKeyRef"), errs);
    }
    if (const Json* f = getObject(*from, "secretKeyRef")) {
      ++sources;
      validateKeySelector(*f, child(fp, "secretKeyRef"), errs);
    }
    if (sources == 0) {
      errs.invalid(fp, "",
                   "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or "
                   "`secretKeyRef`");
    } else if (!str(ev, "value").empty()) {
      errs.invalid(fp, "", "may not be specified when `value` is not empty");
    } else if (sources > 1) {
      errs.invalid(fp, "", "may not have more than one field specified at a time");
    }
  }
}

void validateEnvFrom(const Json& envFrom, const std::string& path, FieldErrors& errs) {
  for (size_t i = 0; i < envFrom.size(); ++i) {
    const Json& ev = envFrom[i];
    std::string idx = index(path, i);
    std::string prefix = str(ev, "prefix");
    if (!prefix.empty()) invalidEach(errs, child(idx, "prefix"), prefix, isEnvVarName(prefix));
    int sources = 0;
    for (std::string_view key : {"configMapRef", "secretRef"}) {
      const Json* ref = getObject(ev, key);
      if (ref == nullptr) continue;
      ++sources;
      std::string name = str(*ref, "name");
      if (name.empty()) {
        errs.required(child(child(idx, key), "name"));
      } else {
        for (const std::string& m : nameIsDnsSubdomain(name, true))
          errs.invalid(child(child(idx, key), "name"), name, m);
      }
    }
    if (sources == 0) {
      errs.invalid(path, "", "must specify one of: `configMapRef` or `secretRef`");
    } else if (sources > 1) {
      errs.invalid(path, "", "may not have more than one field specified at a time");
    }
  }
}

void validateVolumeMounts(const Json& container, const VolumeMap& volumes,
                          const std::set<std::string>& extraVolumes, const std::string& cpath,
                          FieldErrors& errs) {
  const Json& mounts = arrayOf(container, "volumeMounts");
  const Json& devices = arrayOf(container, "volumeDevices");
  std::string path = child(cpath, "volumeMounts");
  std::map<std::string, std::string> devicePaths;
  for (const Json& d : devices) devicePaths[str(d, "name")] = str(d, "devicePath");
  bool privileged = truthy(objectOf(container, "securityContext"), "privileged");
  std::set<std::string> mountPoints;
  for (size_t i = 0; i < mounts.size(); ++i) {
    const Json& m = mounts[i];
    std::string idx = index(path, i);
    std::string name = str(m, "name");
    std::string mountPath = str(m, "mountPath");
    if (name.empty()) errs.required(child(idx, "name"));
    if (!volumes.count(name) && !extraVolumes.count(name)) errs.notFound(child(idx, "name"), name);
    if (mountPath.empty()) errs.required(child(idx, "mountPath"));
    if (!mountPoints.insert(mountPath).second)
      errs.invalid(child(idx, "mountPath"), mountPath, "must be unique");
    if (devicePaths.count(name))
      errs.invalid(child(idx, "name"), name, "must not already exist in volumeDevices");
    for (const auto& [dn, dp] : devicePaths) {
      (void)dn;
      if (dp == mountPath) {
        errs.invalid(child(idx, "mountPath"), mountPath,
                     "must not already exist as a path in volumeDevices");
        break;
      }
    }
    std::string subPath = str(m, "subPath");
    std::string subPathExpr = str(m, "subPathExpr");
    if (auto it = volumes.find(name); it != volumes.end() && it->second.source == "image") {
      if (!subPath.empty())
        errs.invalid(child(idx, "subPath"), subPath, "not allowed in image volume sources");
      if (!subPathExpr.empty())
        errs.invalid(child(idx, "subPathExpr"), subPathExpr, "not allowed in image volume sources");
    }
    // Kubernetes reports sub-path problems on the list path, not the item's.
    if (!subPath.empty()) validateLocalDescendingPath(subPath, child(path, "subPath"), errs);
    if (!subPathExpr.empty()) {
      if (!subPath.empty())
        errs.invalid(child(idx, "subPathExpr"), subPathExpr, "subPathExpr and subPath are mutually exclusive");
      validateLocalDescendingPath(subPathExpr, child(path, "subPathExpr"), errs);
    }
    if (const Json* prop = get(m, "mountPropagation")) {
      std::string p = prop->is_string() ? prop->get<std::string>() : "";
      if (p != "Bidirectional" && p != "HostToContainer" && p != "None")
        errs.notSupported(child(path, "mountPropagation"), *prop,
                          {"Bidirectional", "HostToContainer", "None"});
      if (p == "Bidirectional" && !privileged)
        errs.forbidden(child(path, "mountPropagation"),
                       "Bidirectional mount propagation is available only to privileged containers");
    }
    if (const Json* rro = get(m, "recursiveReadOnly")) {
      std::string v = rro->is_string() ? rro->get<std::string>() : "";
      std::string rp = child(path, "recursiveReadOnly");
      if (v == "Enabled" || v == "IfPossible") {
        if (!truthy(m, "readOnly")) errs.forbidden(rp, "may only be specified when readOnly is true");
        std::string prop = str(m, "mountPropagation");
        if (!prop.empty() && prop != "None")
          errs.forbidden(rp, "may only be specified when mountPropagation is None or not specified");
      } else if (v != "Disabled") {
        errs.notSupported(rp, *rro, {"Disabled", "Enabled", "IfPossible"});
      }
    }
  }
  std::string dpath = child(cpath, "volumeDevices");
  std::set<std::string> deviceNames, devicePathSet;
  std::set<std::string> mountNames, mountPathSet;
  for (const Json& m : mounts) {
    mountNames.insert(str(m, "name"));
    mountPathSet.insert(str(m, "mountPath"));
  }
  for (size_t i = 0; i < devices.size(); ++i) {
    const Json& d = devices[i];
    std::string idx = index(dpath, i);
    std::string name = str(d, "name");
    std::string devicePath = str(d, "devicePath");
    auto vol = volumes.find(name);
    if (name.empty()) errs.required(child(idx, "name"));
    if (!deviceNames.insert(name).second) errs.invalid(child(idx, "name"), name, "must be unique");
    if (vol != volumes.end() && vol->second.source != "persistentVolumeClaim" &&
        vol->second.source != "ephemeral")
      errs.invalid(child(idx, "name"), name,
                   "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode");
    if (vol == volumes.end() && !extraVolumes.count(name)) errs.notFound(child(idx, "name"), name);
    if (devicePath.empty()) errs.required(child(idx, "devicePath"));
    if (devicePathSet.count(devicePath))
      errs.invalid(child(idx, "devicePath"), devicePath, "must be unique");
    if (!devicePath.empty() && hasBacksteps(devicePath)) {
      errs.invalid(child(idx, "devicePath"), devicePath, "can not contain backsteps ('..')");
    } else {
      devicePathSet.insert(devicePath);
    }
    if (mountNames.count(name))
      errs.invalid(child(idx, "name"), name, "must not already exist in volumeMounts");
    if (mountPathSet.count(devicePath))
      errs.invalid(child(idx, "devicePath"), devicePath, "must not already exist as a path in volumeMounts");
  }
}

void validateSeccompProfile(const Json& sp, const std::string& path, FieldErrors& errs) {
  std::string type = str(sp, "type");
  if (type.empty()) {
    errs.required(child(path, "type"));
  } else if (type != "Localhost" && type != "RuntimeDefault" && type != "Unconfined") {
    errs.notSupported(child(path, "type"), type, {"Localhost", "RuntimeDefault", "Unconfined"});
  }
  const Json* profile = get(sp, "localhostProfile");
  if (type == "Localhost") {
    if (profile == nullptr) {
      errs.required(child(path, "localhostProfile"), "must be set when seccomp type is Localhost");
    } else {
      validateLocalDescendingPath(str(sp, "localhostProfile"), child(path, "localhostProfile"), errs);
    }
  } else if (profile != nullptr) {
    errs.invalid(child(path, "localhostProfile"), sp, "can only be set when seccomp type is Localhost");
  }
}

void validateAppArmorProfile(const Json& ap, const std::string& path, FieldErrors& errs) {
  std::string type = str(ap, "type");
  if (type.empty()) {
    errs.required(child(path, "type"));
  } else if (type != "Localhost" && type != "RuntimeDefault" && type != "Unconfined") {
    errs.notSupported(child(path, "type"), type, {"Localhost", "RuntimeDefault", "Unconfined"});
  }
  const Json* profile = get(ap, "localhostProfile");
  if (type == "Localhost") {
    if (profile == nullptr || str(ap, "localhostProfile").empty())
      errs.required(child(path, "localhostProfile"), "must be set when AppArmor type is Localhost");
  } else if (profile != nullptr) {
    errs.invalid(child(path, "localhostProfile"), ap, "can only be set when AppArmor type is Localhost");
  }
}

void validateId(const Json& obj, std::string_view key, const std::string& path, FieldErrors& errs) {
  const Json* v = get(obj, key);
  if (v == nullptr) return;
  invalidEach(errs, child(path, key), *v, isInRange(intValue(*v), 0, 0xffffffffLL));
}

void validateContainerSecurityContext(const Json& sc, const std::string& path, FieldErrors& errs) {
  validateId(sc, "runAsUser", path, errs);
  validateId(sc, "runAsGroup", path, errs);
  if (const Json* pm = get(sc, "procMount")) {
    std::string v = pm->is_string() ? pm->get<std::string>() : "";
    if (v != "Default" && v != "Unmasked")
      errs.notSupported(child(path, "procMount"), *pm, {"Default", "Unmasked"});
  }
  if (const Json* sp = getObject(sc, "seccompProfile")) validateSeccompProfile(*sp, child(path, "seccompProfile"), errs);
  if (const Json* ap = getObject(sc, "appArmorProfile")) validateAppArmorProfile(*ap, child(path, "appArmorProfile"), errs);
  if (const Json* ape = get(sc, "allowPrivilegeEscalation"); ape != nullptr && ape->is_boolean() && !ape->get<bool>()) {
    if (truthy(sc, "privileged"))
      errs.invalid(path, sc, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true");
    for (const Json& cap : arrayOf(objectOf(sc, "capabilities"), "add"))
      if (cap == "CAP_SYS_ADMIN")
        errs.invalid(path, sc,
                     "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN");
  }
}

bool isNativeResource(std::string_view name) {
  return name.find('/') == std::string_view::npos || name.find("kubernetes.io/") != std::string_view::npos;
}
bool isHugePages(std::string_view name) { return startsWith(name, "hugepages-"); }
bool overcommitAllowed(std::string_view name) { return isNativeResource(name) && !isHugePages(name); }

void validateContainerResourceName(const std::string& name, const std::string& path, FieldErrors& errs) {
  std::vector<std::string> msgs = isQualifiedName(name);
  if (!msgs.empty()) {
    invalidEach(errs, path, name, msgs);
    return;
  }
  if (name.find('/') == std::string::npos) {
    static const std::set<std::string_view> kStandard = {"cpu", "memory", "ephemeral-storage",
                                                         "storage", "pods", "services"};
    if (!isHugePages(name) && !kStandard.count(name) && !startsWith(name, "requests.") &&
        !startsWith(name, "limits.")) {
      errs.invalid(path, name, "must be a standard resource type or fully qualified");
      return;
    }
    if (name != "cpu" && name != "memory" && name != "ephemeral-storage" && !isHugePages(name))
      errs.invalid(path, name, "must be a standard resource for containers");
  } else if (!isNativeResource(name)) {
    if (startsWith(name, "requests.") || !isQualifiedName("requests." + name).empty())
      errs.invalid(path, name, "doesn't follow extended resource name standard");
  }
}

void validateQuantityValue(const std::string& name, const Json& value, const std::string& path,
                           FieldErrors& errs, std::optional<Quantity>& out) {
  out = parseQuantity(value);
  if (!out) {
    errs.invalid(path, value, std::string(kQuantityRegexError));
    return;
  }
  if (out->isNegative()) errs.invalid(path, out->toString(), std::string(kNegative));
  // Extended resources are counted in whole units.
  if (!isNativeResource(name) && out->nanos % 1000000000 != 0)
    errs.invalid(path, out->toString(), "must be an integer");
}

void validateContainer(const Json& c, const VolumeMap& volumes, const std::set<std::string>& extra,
                       const std::string& path, FieldErrors& errs) {
  std::string name = str(c, "name");
  if (name.empty()) {
    errs.required(child(path, "name"));
  } else {
    invalidEach(errs, child(path, "name"), name, isDns1123Label(name));
  }
  if (str(c, "image").empty()) errs.required(child(path, "image"));
  std::string tmp = str(c, "terminationMessagePolicy");
  if (tmp.empty()) {
    errs.required(child(path, "terminationMessagePolicy"));
  } else if (tmp != "File" && tmp != "FallbackToLogsOnError") {
    errs.notSupported(child(path, "terminationMessagePolicy"), tmp, {"File", "FallbackToLogsOnError"});
  }
  validateContainerPorts(arrayOf(c, "ports"), child(path, "ports"), errs);
  validateEnv(arrayOf(c, "env"), child(path, "env"), errs);
  validateEnvFrom(arrayOf(c, "envFrom"), child(path, "envFrom"), errs);
  validateVolumeMounts(c, volumes, extra, path, errs);
  std::string pull = str(c, "imagePullPolicy");
  if (pull.empty()) {
    errs.required(child(path, "imagePullPolicy"));
  } else if (pull != "Always" && pull != "IfNotPresent" && pull != "Never") {
    errs.notSupported(child(path, "imagePullPolicy"), pull, {"Always", "IfNotPresent", "Never"});
  }
  validateResourceRequirements(objectOf(c, "resources"), child(path, "resources"), errs);
  const Json& resize = arrayOf(c, "resizePolicy");
  std::set<std::string> resizeSeen;
  for (size_t i = 0; i < resize.size(); ++i) {
    std::string rp = child(path, "resizePolicy");
    std::string rn = str(resize[i], "resourceName");
    if (!resizeSeen.insert(rn).second) errs.duplicate(index(rp, i), rn);
    if (rn.empty()) {
      errs.required(rp);
    } else if (rn != "cpu" && rn != "memory") {
      errs.notSupported(rp, rn, {"cpu", "memory"});
    }
    std::string policy = str(resize[i], "restartPolicy");
    if (policy.empty()) {
      errs.required(rp);
    } else if (policy != "NotRequired" && policy != "RestartContainer") {
      errs.notSupported(rp, policy, {"NotRequired", "RestartContainer"});
    }
  }
  if (const Json* sc = getObject(c, "securityContext"))
    validateContainerSecurityContext(*sc, child(path, "securityContext"), errs);
}

void checkHostPortConflicts(const Json& containers, const std::string& path, FieldErrors& errs) {
  std::set<std::string> seen;
  for (size_t ci = 0; ci < containers.size(); ++ci) {
    const Json& ports = arrayOf(containers[ci], "ports");
    for (size_t pi = 0; pi < ports.size(); ++pi) {
      int64_t hostPort = optInt(ports[pi], "hostPort").value_or(0);
      if (hostPort == 0) continue;
      std::string key = str(ports[pi], "protocol") + "/" + str(ports[pi], "hostIP") + "/" +
                        std::to_string(hostPort);
      if (!seen.insert(key).second)
        errs.duplicate(child(index(child(index(path, ci), "ports"), pi), "hostPort"), key);
    }
  }
}

void validatePodAffinityTerm(const Json& term, const std::string& path, FieldErrors& errs) {
  validateLabelSelector(memberOrNull(term, "labelSelector"), child(path, "labelSelector"), errs);
  validateLabelSelector(memberOrNull(term, "namespaceSelector"), child(path, "namespaceSelector"), errs);
  for (const Json& ns : arrayOf(term, "namespaces"))
    if (ns.is_string())
      invalidEach(errs, child(path, "namespace"), ns, isDns1123Label(ns.get<std::string>()));
  std::string key = str(term, "topologyKey");
  if (key.empty()) errs.required(child(path, "topologyKey"), "can not be empty");
  validateLabelName(key, child(path, "topologyKey"), errs);
}

void validatePodAffinity(const Json& affinity, const std::string& path, FieldErrors& errs) {
  const Json& required = arrayOf(affinity, "requiredDuringSchedulingIgnoredDuringExecution");
  for (size_t i = 0; i < required.size(); ++i)
    validatePodAffinityTerm(required[i],
                            index(child(path, "requiredDuringSchedulingIgnoredDuringExecution"), i), errs);
  const Json& preferred = arrayOf(affinity, "preferredDuringSchedulingIgnoredDuringExecution");
  for (size_t i = 0; i < preferred.size(); ++i) {
    std::string p = index(child(path, "preferredDuringSchedulingIgnoredDuringExecution"), i);
    int64_t weight = optInt(preferred[i], "weight").value_or(0);
    if (weight <= 0 || weight > 100) errs.invalid(child(p, "weight"), weight, "must be in the range 1-100");
    validatePodAffinityTerm(objectOf(preferred[i], "podAffinityTerm"), child(p, "podAffinityTerm"), errs);
  }
}

void validateAffinity(const Json& affinity, const std::string& path, FieldErrors& errs) {
  if (const Json* na = getObject(affinity, "nodeAffinity")) {
    std::string p = child(path, "nodeAffinity");
    if (const Json* req = getObject(*na, "requiredDuringSchedulingIgnoredDuringExecution"))
      validateNodeSelector(*req, child(p, "requiredDuringSchedulingIgnoredDuringExecution"), errs);
    const Json& preferred = arrayOf(*na, "preferredDuringSchedulingIgnoredDuringExecution");
    for (size_t i = 0; i < preferred.size(); ++i) {
      std::string pp = index(child(p, "preferredDuringSchedulingIgnoredDuringExecution"), i);
      int64_t weight = optInt(preferred[i], "weight").value_or(0);
      if (weight <= 0 || weight > 100) errs.invalid(child(pp, "weight"), weight, "must be in the range 1-100");
      const Json& pref = objectOf(preferred[i], "preference");
      const Json& exprs = arrayOf(pref, "matchExpressions");
      for (size_t j = 0; j < exprs.size(); ++j) {
        std::string ep = index(child(child(pp, "preference"), "matchExpressions"), j);
        std::string op = str(exprs[j], "operator");
        if (op != "In" && op != "NotIn" && op != "Exists" && op != "DoesNotExist" && op != "Gt" && op != "Lt")
          errs.invalid(child(ep, "operator"), op, "not a valid selector operator");
        validateLabelName(str(exprs[j], "key"), child(ep, "key"), errs);
      }
    }
  }
  if (const Json* pa = getObject(affinity, "podAffinity")) validatePodAffinity(*pa, child(path, "podAffinity"), errs);
  if (const Json* pa = getObject(affinity, "podAntiAffinity"))
    validatePodAffinity(*pa, child(path, "podAntiAffinity"), errs);
}

void validateTopologySpread(const Json& constraints, const std::string& path, FieldErrors& errs) {
  for (size_t i = 0; i < constraints.size(); ++i) {
    const Json& c = constraints[i];
    std::string p = index(path, i);
    int64_t maxSkew = optInt(c, "maxSkew").value_or(0);
    if (maxSkew <= 0) errs.invalid(child(p, "maxSkew"), maxSkew, "must be greater than zero");
    std::string key = str(c, "topologyKey");
    if (key.empty()) errs.required(child(p, "topologyKey"), "can not be empty");
    std::string when = str(c, "whenUnsatisfiable");
    if (when != "DoNotSchedule" && when != "ScheduleAnyway")
      errs.notSupported(child(p, "whenUnsatisfiable"), when, {"DoNotSchedule", "ScheduleAnyway"});
    for (size_t j = i + 1; j < constraints.size(); ++j) {
      if (str(constraints[j], "topologyKey") == key && str(constraints[j], "whenUnsatisfiable") == when) {
        errs.duplicate(child(p, "{topologyKey, whenUnsatisfiable}"), "{" + key + ", " + when + "}");
        break;
      }
    }
    if (const Json* md = get(c, "minDomains")) {
      if (intValue(*md) <= 0) errs.invalid(child(p, "minDomains"), *md, "must be greater than zero");
      if (when != "DoNotSchedule")
        errs.invalid(child(p, "minDomains"), *md,
                     "can only use minDomains if whenUnsatisfiable=DoNotSchedule, not " + when);
    }
    for (std::string_view policyKey : {"nodeAffinityPolicy", "nodeTaintsPolicy"}) {
      if (const Json* pol = get(c, policyKey); pol != nullptr && *pol != "Honor" && *pol != "Ignore")
        errs.notSupported(child(p, policyKey), *pol, {"Honor", "Ignore"});
    }
    validateLabelSelector(memberOrNull(c, "labelSelector"), child(p, "labelSelector"), errs);
  }
}

void validateDnsConfig(const Json& spec, const std::string& path, FieldErrors& errs) {
  const Json* cfg = getObject(spec, "dnsConfig");
  std::string p = child(path, "dnsConfig");
  if (str(spec, "dnsPolicy") == "None") {
    if (cfg == nullptr) {
      errs.required(p, "must provide `dnsConfig` when `dnsPolicy` is None");
      return;
    }
    if (arrayOf(*cfg, "nameservers").empty()) {
      errs.required(child(p, "nameservers"), "must provide at least one DNS nameserver when `dnsPolicy` is None");
      return;
    }
  }
  if (cfg == nullptr) return;
  const Json& ns = arrayOf(*cfg, "nameservers");
  if (ns.size() > 3) errs.invalid(child(p, "nameservers"), ns, "must not have more than 3 nameservers");
  for (size_t i = 0; i < ns.size(); ++i) validateIp(ns[i], index(child(p, "nameservers"), i), errs);
  const Json& searches = arrayOf(*cfg, "searches");
  if (searches.size() > 32) errs.invalid(child(p, "searches"), searches, "must not have more than 32 search paths");
  size_t total = 0;
  for (size_t i = 0; i < searches.size(); ++i) {
    if (!searches[i].is_string()) continue;
    std::string s = searches[i].get<std::string>();
    total += s.size() + (i ? 1 : 0);
    if (s == ".") continue;
    if (!s.empty() && s.back() == '.') s.pop_back();
    // The relaxed (1.32+) rule: underscores allowed.
    std::string check = s;
    for (char& ch : check)
      if (ch == '_') ch = 'a';
    if (!isDns1123Subdomain(check).empty() || s.empty())
      errs.invalid(index(child(p, "searches"), i), s,
                   "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                   "characters, '_', '-' or '.', and must start and end with an alphanumeric "
                   "character (e.g. 'example.com', regex used for validation is "
                   "'_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?(\\._?[a-z0-9]([-_a-z0-9]*[a-z0-9])?)*')");
  }
  if (total > 2048)
    errs.invalid(child(p, "searches"), searches,
                 "must not have more than 2048 characters (including spaces) in the search list");
  const Json& options = arrayOf(*cfg, "options");
  for (size_t i = 0; i < options.size(); ++i)
    if (str(options[i], "name").empty()) errs.required(index(child(p, "options"), i), "must not be empty");
}

void validatePodSecurityContext(const Json& spec, const std::string& path, FieldErrors& errs) {
  const Json* sc = getObject(spec, "securityContext");
  if (sc == nullptr) return;
  std::string p = child(path, "securityContext");
  validateId(*sc, "fsGroup", p, errs);
  validateId(*sc, "runAsUser", p, errs);
  validateId(*sc, "runAsGroup", p, errs);
  const Json& groups = arrayOf(*sc, "supplementalGroups");
  for (size_t i = 0; i < groups.size(); ++i)
    invalidEach(errs, index(child(p, "supplementalGroups"), i), groups[i],
                isInRange(intValue(groups[i]), 0, 0xffffffffLL));
  if (truthy(spec, "hostPID") && truthy(spec, "shareProcessNamespace"))
    errs.invalid(child(p, "shareProcessNamespace"), true,
                 "ShareProcessNamespace and HostPID cannot both be enabled");
  const Json& sysctls = arrayOf(*sc, "sysctls");
  std::set<std::string> names;
  for (size_t i = 0; i < sysctls.size(); ++i) {
    std::string sp = index(child(p, "sysctls"), i);
    std::string name = str(sysctls[i], "name");
    if (name.empty()) {
      errs.required(child(sp, "name"));
      continue;
    }
    // Each segment is [a-z0-9]([-_a-z0-9]*[a-z0-9])?, separated by '.' or '/'.
    bool ok = name.size() <= 253;
    size_t start = 0;
    while (ok) {
      size_t sep = name.find_first_of("./", start);
      std::string seg = name.substr(start, sep == std::string::npos ? std::string::npos : sep - start);
      std::string check = seg;
      for (char& ch : check)
        if (ch == '_') ch = '-';
      if (!isDns1123LabelFormat(check) || (!seg.empty() && seg.back() == '_')) ok = false;
      if (sep == std::string::npos) break;
      start = sep + 1;
    }
    if (!ok)
      errs.invalid(child(sp, "name"), name,
                   "must have at most 253 characters and match regex "
                   "([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?");
    if (!names.insert(name).second) errs.duplicate(child(sp, "name"), name);
  }
  if (const Json* policy = get(*sc, "fsGroupChangePolicy"); policy != nullptr && *policy != "OnRootMismatch" &&
                                                           *policy != "Always")
    errs.notSupported(child(p, "fsGroupChangePolicy"), *policy, {"Always", "OnRootMismatch"});
  if (const Json* sp = getObject(*sc, "seccompProfile")) validateSeccompProfile(*sp, child(p, "seccompProfile"), errs);
  if (const Json* ap = getObject(*sc, "appArmorProfile")) validateAppArmorProfile(*ap, child(p, "appArmorProfile"), errs);
}

}  // namespace

void validateNodeSelector(const Json& selector, const std::string& path, FieldErrors& errs) {
  const Json& terms = arrayOf(selector, "nodeSelectorTerms");
  std::string tp = child(path, "nodeSelectorTerms");
  if (terms.empty()) {
    errs.required(tp, "must have at least one node selector term");
    return;
  }
  for (size_t i = 0; i < terms.size(); ++i) {
    std::string p = index(tp, i);
    const Json& exprs = arrayOf(terms[i], "matchExpressions");
    for (size_t j = 0; j < exprs.size(); ++j) {
      const Json& rq = exprs[j];
      std::string ep = index(child(p, "matchExpressions"), j);
      std::string op = str(rq, "operator");
      const Json& values = arrayOf(rq, "values");
      if (op == "In" || op == "NotIn") {
        if (values.empty()) errs.required(child(ep, "values"), "must be specified when `operator` is 'In' or 'NotIn'");
      } else if (op == "Exists" || op == "DoesNotExist") {
        if (!values.empty())
          errs.forbidden(child(ep, "values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
      } else if (op == "Gt" || op == "Lt") {
        if (values.size() != 1)
          errs.required(child(ep, "values"), "must be specified single value when `operator` is 'Lt' or 'Gt'");
      } else {
        errs.invalid(child(ep, "operator"), op, "not a valid selector operator");
      }
      validateLabelName(str(rq, "key"), child(ep, "key"), errs);
      for (size_t k = 0; k < values.size(); ++k)
        if (values[k].is_string())
          invalidEach(errs, index(child(ep, "values"), k), values[k], isValidLabelValue(values[k].get<std::string>()));
    }
    const Json& fields = arrayOf(terms[i], "matchFields");
    for (size_t j = 0; j < fields.size(); ++j) {
      std::string fp = index(child(p, "matchFields"), j);
      std::string op = str(fields[j], "operator");
      if (op == "In" || op == "NotIn") {
        if (arrayOf(fields[j], "values").size() != 1)
          errs.required(child(fp, "values"),
                        "must be only one value when `operator` is 'In' or 'NotIn' for node field selector");
      } else {
        errs.invalid(child(fp, "operator"), op, "not a valid selector operator");
      }
      if (str(fields[j], "key") != "metadata.name")
        errs.invalid(child(fp, "key"), str(fields[j], "key"), "not a valid field selector key");
    }
  }
}

void validateTolerations(const Json& tolerations, const std::string& path, FieldErrors& errs) {
  for (size_t i = 0; i < tolerations.size(); ++i) {
    const Json& t = tolerations[i];
    std::string p = index(path, i);
    std::string key = str(t, "key");
    std::string op = str(t, "operator");
    std::string value = str(t, "value");
    std::string effect = str(t, "effect");
    if (!key.empty()) validateLabelName(key, child(p, "key"), errs);
    if (key.empty() && op != "Exists")
      errs.invalid(child(p, "operator"), op,
                   "operator must be Exists when `key` is empty, which means \"match all values and all keys\"");
    if (get(t, "tolerationSeconds") != nullptr && effect != "NoExecute")
      errs.invalid(child(p, "effect"), effect, "effect must be 'NoExecute' when `tolerationSeconds` is set");
    if (op == "Equal" || op.empty()) {
      std::vector<std::string> msgs = isValidLabelValue(value);
      if (!msgs.empty()) {
        std::string joined;
        for (size_t k = 0; k < msgs.size(); ++k) joined += (k ? ";" : "") + msgs[k];
        errs.invalid(child(p, "operator"), value, joined);
      }
    } else if (op == "Exists") {
      if (!value.empty()) errs.invalid(child(p, "operator"), value, "value must be empty when `operator` is 'Exists'");
    } else {
      errs.notSupported(child(p, "operator"), op, {"Equal", "Exists"});
    }
    if (!effect.empty() && effect != "NoSchedule" && effect != "PreferNoSchedule" && effect != "NoExecute")
      errs.notSupported(child(p, "effect"), effect, {"NoSchedule", "PreferNoSchedule", "NoExecute"});
  }
}

void validateResourceRequirements(const Json& resources, const std::string& path, FieldErrors& errs) {
  std::string limPath = child(path, "limits");
  std::string reqPath = child(path, "requests");
  const Json& limits = objectOf(resources, "limits");
  const Json& requests = objectOf(resources, "requests");
  bool cpuOrMemory = false, hugePages = false;
  std::map<std::string, Quantity> limitValues;
  for (auto it = limits.begin(); it != limits.end(); ++it) {
    std::string p = key(limPath, it.key());
    validateContainerResourceName(it.key(), p, errs);
    std::optional<Quantity> q;
    validateQuantityValue(it.key(), *it, p, errs, q);
    if (q) limitValues[it.key()] = *q;
    if (isHugePages(it.key())) hugePages = true;
    if (it.key() == "cpu" || it.key() == "memory") cpuOrMemory = true;
  }
  for (auto it = requests.begin(); it != requests.end(); ++it) {
    std::string p = key(reqPath, it.key());
    validateContainerResourceName(it.key(), p, errs);
    std::optional<Quantity> q;
    validateQuantityValue(it.key(), *it, p, errs, q);
    auto limit = limitValues.find(it.key());
    if (q && limit != limitValues.end()) {
      int cmp = q->compare(limit->second);
      if (cmp != 0 && !overcommitAllowed(it.key())) {
        errs.invalid(reqPath, q->toString(),
                     "must be equal to " + it.key() + " limit of " + limit->second.toString());
      } else if (cmp > 0) {
        errs.invalid(reqPath, q->toString(),
                     "must be less than or equal to " + it.key() + " limit of " + limit->second.toString());
      }
    } else if (limit == limitValues.end() && !overcommitAllowed(it.key())) {
      errs.required(limPath, "Limit must be set for non overcommitable resources");
    }
    if (isHugePages(it.key())) hugePages = true;
    if (it.key() == "cpu" || it.key() == "memory") cpuOrMemory = true;
  }
  if (hugePages && !cpuOrMemory) errs.forbidden(path, "HugePages require cpu or memory");
}

void validatePodSpec(const Json& spec, const std::string& path, const PodSpecOptions& opts,
                     FieldErrors& errs) {
  const Json* grace = get(spec, "terminationGracePeriodSeconds");
  if (grace == nullptr) errs.required(child(path, "terminationGracePeriodSeconds"));
  std::set<std::string> extra(opts.extraVolumeNames.begin(), opts.extraVolumeNames.end());
  VolumeMap vols = validateVolumes(arrayOf(spec, "volumes"), child(path, "volumes"), errs);

  const Json& containers = arrayOf(spec, "containers");
  std::string cpath = child(path, "containers");
  if (containers.empty()) {
    errs.required(cpath);
  } else {
    std::set<std::string> names;
    for (size_t i = 0; i < containers.size(); ++i) {
      const Json& c = containers[i];
      std::string p = index(cpath, i);
      validateContainer(c, vols, extra, p, errs);
      if (!names.insert(str(c, "name")).second) errs.duplicate(child(p, "name"), str(c, "name"));
      if (const Json* lc = getObject(c, "lifecycle")) validateLifecycle(*lc, grace, child(p, "lifecycle"), errs);
      validateProbe(c, "livenessProbe", grace, p, errs);
      validateProbe(c, "readinessProbe", grace, p, errs);
      validateProbe(c, "startupProbe", grace, p, errs);
      if (get(c, "restartPolicy") != nullptr)
        errs.forbidden(child(p, "restartPolicy"), "may not be set for non-init containers");
    }
    checkHostPortConflicts(containers, cpath, errs);
  }

  const Json& inits = arrayOf(spec, "initContainers");
  std::string ipath = child(path, "initContainers");
  std::set<std::string> allNames;
  for (const Json& c : containers) allNames.insert(str(c, "name"));
  for (size_t i = 0; i < inits.size(); ++i) {
    const Json& c = inits[i];
    std::string p = index(ipath, i);
    validateContainer(c, vols, extra, p, errs);
    bool restartAlways = false;
    if (const Json* rp = get(c, "restartPolicy")) {
      if (*rp != "Always") errs.notSupported(child(p, "restartPolicy"), *rp, {"Always"});
      restartAlways = *rp == "Always";
    }
    std::string name = str(c, "name");
    if (allNames.count(name)) {
      errs.duplicate(child(p, "name"), name);
    } else if (!name.empty()) {
      allNames.insert(name);
    }
    checkHostPortConflicts(Json::array({c}), ipath, errs);
    if (restartAlways) {
      if (const Json* lc = getObject(c, "lifecycle")) validateLifecycle(*lc, grace, child(p, "lifecycle"), errs);
      validateProbe(c, "livenessProbe", grace, p, errs);
      validateProbe(c, "readinessProbe", grace, p, errs);
      validateProbe(c, "startupProbe", grace, p, errs);
    } else {
      for (std::string_view k : {"lifecycle", "livenessProbe", "readinessProbe", "startupProbe"})
        if (get(c, k) != nullptr)
          errs.forbidden(child(p, k), "may not be set for init containers without restartPolicy=Always");
    }
  }

  const Json& ephemeral = arrayOf(spec, "ephemeralContainers");
  if (!ephemeral.empty()) {
    if (!opts.isPod) {
      errs.forbidden(child(path, "ephemeralContainers"), "ephemeral containers not allowed in pod template");
    } else {
      std::string epath = child(path, "ephemeralContainers");
      for (size_t i = 0; i < ephemeral.size(); ++i) {
        const Json& c = ephemeral[i];
        std::string p = index(epath, i);
        validateContainer(c, vols, extra, p, errs);
        std::string name = str(c, "name");
        if (!allNames.insert(name).second) errs.duplicate(child(p, "name"), name);
        std::string target = str(c, "targetContainerName");
        bool found = false;
        for (const Json& other : containers) found = found || str(other, "name") == target;
        for (const Json& other : inits) found = found || str(other, "name") == target;
        if (!target.empty() && !found) errs.notFound(child(p, "targetContainerName"), target);
        for (std::string_view k : {"ports", "resources", "lifecycle", "livenessProbe", "readinessProbe", "startupProbe"})
          if (isSet(c, k)) errs.forbidden(child(p, k), "cannot be set for an Ephemeral Container");
      }
    }
  }

  if (truthy(spec, "hostNetwork")) {
    for (size_t i = 0; i < containers.size(); ++i) {
      const Json& ports = arrayOf(containers[i], "ports");
      for (size_t j = 0; j < ports.size(); ++j) {
        int64_t hp = optInt(ports[j], "hostPort").value_or(0);
        int64_t cp = optInt(ports[j], "containerPort").value_or(0);
        if ((opts.isPod || hp != 0) && hp != cp)
          errs.invalid(child(index(child(index(cpath, i), "ports"), j), "hostPort"), hp,
                       "must match `containerPort` when `hostNetwork` is true");
      }
    }
  }

  std::string restart = str(spec, "restartPolicy");
  if (restart.empty()) {
    errs.required(child(path, "restartPolicy"));
  } else if (restart != "Always" && restart != "OnFailure" && restart != "Never") {
    errs.notSupported(child(path, "restartPolicy"), restart, {"Always", "OnFailure", "Never"});
  }
  std::string dns = str(spec, "dnsPolicy");
  if (dns.empty()) {
    errs.required(child(path, "dnsPolicy"));
  } else if (dns != "ClusterFirstWithHostNet" && dns != "ClusterFirst" && dns != "Default" && dns != "None") {
    errs.notSupported(child(path, "dnsPolicy"), dns, {"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"});
  }
  validateLabels(memberOrNull(spec, "nodeSelector"), child(path, "nodeSelector"), errs);
  validatePodSecurityContext(spec, path, errs);
  const Json& pullSecrets = arrayOf(spec, "imagePullSecrets");
  for (size_t i = 0; i < pullSecrets.size(); ++i) {
    const Json& s = pullSecrets[i];
    if (!s.is_object() || s.size() > 1 || (s.size() == 1 && !s.contains("name")))
      errs.invalid(index(child(path, "imagePullSecrets"), i), s, "only name may be set");
  }
  if (const Json* affinity = getObject(spec, "affinity")) validateAffinity(*affinity, child(path, "affinity"), errs);
  validateDnsConfig(spec, path, errs);
  const Json& gates = arrayOf(spec, "readinessGates");
  for (size_t i = 0; i < gates.size(); ++i)
    validateQualifiedName(memberOrNull(gates[i], "conditionType"),
                          child(index(child(path, "readinessGates"), i), "conditionType"), errs);
  const Json& sgates = arrayOf(spec, "schedulingGates");
  std::set<std::string> seenGates;
  for (size_t i = 0; i < sgates.size(); ++i) {
    std::string p = index(child(path, "schedulingGates"), i);
    validateQualifiedName(memberOrNull(sgates[i], "name"), p, errs);
    if (!seenGates.insert(str(sgates[i], "name")).second) errs.duplicate(p, str(sgates[i], "name"));
  }
  validateTopologySpread(arrayOf(spec, "topologySpreadConstraints"), child(path, "topologySpreadConstraints"), errs);
  if (std::string sa = str(spec, "serviceAccountName"); !sa.empty())
    invalidEach(errs, child(path, "serviceAccountName"), sa, isDns1123Subdomain(sa));
  if (std::string node = str(spec, "nodeName"); !node.empty())
    invalidEach(errs, child(path, "nodeName"), node, isDns1123Subdomain(node));
  if (const Json* ads = get(spec, "activeDeadlineSeconds")) {
    int64_t v = intValue(*ads);
    if (v < 1 || v > 2147483647) errs.invalid(child(path, "activeDeadlineSeconds"), v, inclusiveRangeError(1, 2147483647));
  }
  if (std::string h = str(spec, "hostname"); !h.empty()) invalidEach(errs, child(path, "hostname"), h, isDns1123Label(h));
  if (std::string s = str(spec, "subdomain"); !s.empty()) invalidEach(errs, child(path, "subdomain"), s, isDns1123Label(s));
  validateTolerations(arrayOf(spec, "tolerations"), child(path, "tolerations"), errs);
  const Json& aliases = arrayOf(spec, "hostAliases");
  for (size_t i = 0; i < aliases.size(); ++i) {
    std::string p = index(child(path, "hostAliases"), i);
    validateIp(memberOrNull(aliases[i], "ip"), child(p, "ip"), errs);
    const Json& hostnames = arrayOf(aliases[i], "hostnames");
    for (size_t j = 0; j < hostnames.size(); ++j)
      if (hostnames[j].is_string())
        invalidEach(errs, index(child(p, "hostnames"), j), hostnames[j], isDns1123Subdomain(hostnames[j].get<std::string>()));
  }
  if (std::string pc = str(spec, "priorityClassName"); !pc.empty())
    invalidEach(errs, child(path, "priorityClassName"), pc, isDns1123Subdomain(pc));
  if (const Json* rc = get(spec, "runtimeClassName"); rc != nullptr && rc->is_string())
    invalidEach(errs, child(path, "runtimeClassName"), *rc, isDns1123Subdomain(rc->get<std::string>()));
  if (const Json* pp = get(spec, "preemptionPolicy")) {
    if (*pp == "") {
      errs.required(child(path, "preemptionPolicy"));
    } else if (*pp != "PreemptLowerPriority" && *pp != "Never") {
      errs.notSupported(child(path, "preemptionPolicy"), *pp, {"PreemptLowerPriority", "Never"});
    }
  }
  if (const Json* overhead = getObject(spec, "overhead")) {
    Json res = {{"limits", *overhead}};
    validateResourceRequirements(res, child(path, "overhead"), errs);
  }
  if (const Json* os = getObject(spec, "os")) {
    std::string name = str(*os, "name");
    if (name.empty()) {
      errs.required(child(child(path, "os"), "name"), "cannot be empty");
    } else if (name != "linux" && name != "windows") {
      errs.notSupported(child(path, "os"), name, {"linux", "windows"});
    }
  }
}

void validatePodTemplateSpec(const Json& templ, const std::string& path, const PodSpecOptions& opts,
                             FieldErrors& errs) {
  const Json& meta = objectOf(templ, "metadata");
  // Kubernetes reports template labels as "<path>.labels", without "metadata".
  validateLabels(memberOrNull(meta, "labels"), child(path, "labels"), errs);
  validateAnnotations(memberOrNull(meta, "annotations"), child(path, "annotations"), errs);
  validatePodSpec(objectOf(templ, "spec"), child(path, "spec"), opts, errs);
}

}  // namespace nave::validation::detail
