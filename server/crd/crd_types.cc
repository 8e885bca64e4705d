#include "server/crd/crd_types.h"

#include <algorithm>
#include <climits>
#include <functional>
#include <set>

#include "server/crd/crd_validation.h"
#include "server/crd/internal.h"
#include "server/crd/jsonpath.h"
#include "server/crd/printer.h"
#include "server/crd/pruning.h"
#include "server/crd/schema_convert.h"
#include "server/crd/value_validation.h"

namespace nave::crd {
namespace {

using registry::ResourceType;
using validation::FieldErrors;

const Json& member(const Json& s, std::string_view k) {
  static const Json kNull;
  const Json* v = findMember(s, k);
  return v ? *v : kNull;
}

std::vector<std::string> stringList(const Json& v) {
  std::vector<std::string> out;
  if (v.is_array())
    for (const Json& e : v)
      if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A kube-like version: v<major>[(alpha|beta)<minor>].
struct KubeVersion {
  bool kubeLike = false;
  int stage = 0;  // 2 GA, 1 beta, 0 alpha
  long major = 0, minor = 0;
};

KubeVersion parseVersion(std::string_view v) {
  KubeVersion out;
  if (v.size() < 2 || v[0] != 'v') return out;
  size_t i = 1;
  auto number = [&](long& into) {
    size_t start = i;
    while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) ++i;
    if (i == start || i - start > 9 || v[start] == '0') return false;
    into = std::stol(std::string(v.substr(start, i - start)));
    return true;
  };
  if (!number(out.major)) return out;
  if (i == v.size()) {
    out.kubeLike = true;
    out.stage = 2;
    return out;
  }
  std::string_view rest = v.substr(i);
  if (rest.starts_with("alpha")) {
    out.stage = 0;
    i += 5;
  } else if (rest.starts_with("beta")) {
    out.stage = 1;
    i += 4;
  } else {
    return out;
  }
  if (!number(out.minor) || i != v.size()) return out;
  out.kubeLike = true;
  return out;
}

// ValidateScaleSpec / ValidateScaleStatus: the replica counts must be int32s.
void scaleReplicas(const Json& obj, const std::string& path, bool nonNegative, FieldErrors& errs) {
  const Json* v = lookupSimplePath(obj, path);
  if (v == nullptr || v->is_null()) return;
  if (!v->is_number_integer()) {
    errs.invalid(path, 0,
                 path + " accessor error: " + detail::goValue(*v) + " is of the type " +
                     detail::goTypeName(*v) + ", expected int64");
    return;
  }
  int64_t n = v->get<int64_t>();
  if (nonNegative && n < 0)
    errs.invalid(path, n, "should be a non-negative integer");
  else if (n > INT32_MAX)
    errs.invalid(path, n, "should be less than or equal to 2147483647");
}

void scaleSelector(const Json& obj, const std::string& path, FieldErrors& errs) {
  if (path.empty()) return;
  const Json* v = lookupSimplePath(obj, path);
  if (v == nullptr || v->is_null() || v->is_string()) return;
  errs.invalid(path, *v,
               path + " accessor error: " + detail::goValue(*v) + " is of the type " +
                   detail::goTypeName(*v) + ", expected string");
}

// Everything of an object but metadata (and status, with a status subresource).
bool contentChanged(const Json& a, const Json& b, bool ignoreStatus) {
  auto strip = [ignoreStatus](Json j) {
    if (j.is_object()) {
      j.erase("metadata");
      if (ignoreStatus) j.erase("status");
    }
    return j;
  };
  return strip(a) != strip(b);
}

}  // namespace

std::string storageVersionOf(const Json& crd) {
  const Json& versions = member(member(crd, "spec"), "versions");
  if (versions.is_array())
    for (const Json& v : versions)
      if (getBool(v, "storage")) return getString(v, "name");
  return "";
}

bool hasValidationRules(const Json& crd) {
  std::function<bool(const Json&)> walk = [&](const Json& s) -> bool {
    if (s.is_object()) {
      if (const Json* r = findMember(s, "x-kubernetes-validations");
          r != nullptr && r->is_array() && !r->empty())
        return true;
      for (const Json& c : s)
        if (walk(c)) return true;
    } else if (s.is_array()) {
      for (const Json& c : s)
        if (walk(c)) return true;
    }
    return false;
  };
  const Json& versions = member(member(crd, "spec"), "versions");
  if (!versions.is_array()) return false;
  for (const Json& v : versions)
    if (walk(member(member(v, "schema"), "openAPIV3Schema"))) return true;
  return false;
}

int compareVersionPriority(std::string_view a, std::string_view b) {
  KubeVersion x = parseVersion(a), y = parseVersion(b);
  if (x.kubeLike && y.kubeLike) {
    if (x.stage != y.stage) return x.stage > y.stage ? -1 : 1;
    if (x.major != y.major) return x.major > y.major ? -1 : 1;
    if (x.minor != y.minor) return x.minor > y.minor ? -1 : 1;
    return 0;
  }
  if (x.kubeLike) return -1;
  if (y.kubeLike) return 1;
  return a < b ? -1 : (a == b ? 0 : 1);
}

Result<std::vector<registry::ResourceTypePtr>> typesForCrd(const Json& crd) {
  const Json& spec = member(crd, "spec");
  std::string group = getString(spec, "group");
  const Json& accepted = member(member(crd, "status"), "acceptedNames");
  const Json& names = getString(accepted, "plural").empty() ? member(spec, "names") : accepted;
  std::string plural = getString(names, "plural");
  std::string kind = getString(names, "kind");
  std::string storageVersion = storageVersionOf(crd);
  std::string crdName = getString(member(crd, "metadata"), "name");
  if (group.empty() || plural.empty() || kind.empty())
    return Error(ErrorCode::kInvalid,
                 "CustomResourceDefinition " + crdName + " has no group, plural or kind to serve");
  if (storageVersion.empty())
    return Error(ErrorCode::kInvalid,
                 "CustomResourceDefinition " + crdName + " has no storage version");
  std::string singular = getString(names, "singular");
  if (singular.empty()) singular = lower(kind);
  bool namespaced = getString(spec, "scope") != "Cluster";
  std::string storageApiVersion = group + "/" + storageVersion;

  std::vector<std::shared_ptr<ResourceType>> out;
  const Json& versions = member(spec, "versions");
  if (!versions.is_array()) return std::vector<registry::ResourceTypePtr>{};
  for (const Json& v : versions) {
    if (!getBool(v, "served")) continue;
    auto t = std::make_shared<ResourceType>();
    t->group = group;
    t->version = getString(v, "name");
    t->kind = kind;
    t->plural = plural;
    t->singular = singular;
    t->namespaced = namespaced;
    t->shortNames = stringList(member(names, "shortNames"));
    t->categories = stringList(member(names, "categories"));
    t->storageGroup = group;
    t->storagePlural = plural;
    t->storageVersion = storageVersion;
    t->isCustomResource = true;
    t->tracksGeneration = true;

    const Json& subresources = member(v, "subresources");
    t->statusSubresource = subresources.is_object() && subresources.contains("status") &&
                           !subresources["status"].is_null();
    if (const Json& scale = member(subresources, "scale"); scale.is_object()) {
      registry::ScaleSubresource s;
      s.specReplicasPath = getString(scale, "specReplicasPath");
      s.statusReplicasPath = getString(scale, "statusReplicasPath");
      s.labelSelectorPath = getString(scale, "labelSelectorPath");
      t->scale = s;
    }

    const Json& openApi = member(member(v, "schema"), "openAPIV3Schema");
    t->ownedSchema = resourceSchema(openApi, {group, t->version, kind});
    t->schema = t->ownedSchema.get();
    // Validation, pruning and defaulting use the CRD's schema as written (its metadata
    // restrictions included); the resource tree above is for OpenAPI and field management.
    schema::NodePtr raw = openApi.is_object() ? convertSchema(openApi) : t->ownedSchema;

    auto printer = printerForColumns(member(v, "additionalPrinterColumns"));
    if (!printer.ok()) printer = printerForColumns(Json());
    t->ownedPrinter = *printer;
    t->printer = t->ownedPrinter.get();

    if (const Json& fields = member(v, "selectableFields"); fields.is_array()) {
      for (const Json& f : fields) {
        std::string p = getString(f, "jsonPath");
        if (!p.empty() && p.front() == '.') p.erase(0, 1);
        if (!p.empty()) t->selectableFields.push_back(p);
      }
    }

    t->defaulter = [raw](Json& obj) {
      pruneNonNullableNulls(obj, raw.get());
      applyDefaults(obj, raw.get());
    };
    bool status = t->statusSubresource;
    std::optional<registry::ScaleSubresource> scale = t->scale;
    t->validator = [raw, namespaced, scale](const Json& obj, const Json* old,
                                            validation::Operation) {
      FieldErrors errs;
      validation::validateObjectMeta(obj, namespaced, false, errs);
      if (old != nullptr) validation::validateObjectMetaUpdate(obj, *old, errs);
      errs.append(validateValue(*raw, obj));
      if (scale) {
        scaleReplicas(obj, scale->specReplicasPath, true, errs);
        scaleReplicas(obj, scale->statusReplicasPath, false, errs);
        scaleSelector(obj, scale->labelSelectorPath, errs);
      }
      errs.append(validateEmbeddedResources(*raw, obj));
      errs.append(validateListSetsAndMaps(*raw, obj));
      return errs;
    };
    bool terminating = [&] {
      const Json* ts = findMember(member(crd, "metadata"), "deletionTimestamp");
      return ts != nullptr && !ts->is_null();
    }();
    t->prepareForCreate = [status, terminating](Json& obj) -> Result<void> {
      if (terminating)
        return Error(ErrorCode::kMethodNotAllowed,
                     "create not allowed while custom resource definition is terminating");
      // With a status subresource, status is written through it only.
      if (status && obj.is_object()) obj.erase("status");
      return {};
    };
    if (!status) {
      // Without a status subresource every change but metadata is a new generation.
      t->prepareForUpdate = [](Json& obj, const Json& old) -> Result<void> {
        if (contentChanged(obj, old, false)) {
          int64_t generation = getInt(member(old, "metadata"), "generation", 0);
          obj["metadata"]["generation"] = generation + 1;
        }
        return {};
      };
    }
    t->toStorage = [storageApiVersion](const Json& served) {
      Json out = served;
      if (out.is_object()) out["apiVersion"] = storageApiVersion;
      return out;
    };
    out.push_back(std::move(t));
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return compareVersionPriority(a->version, b->version) < 0;
  });
  return std::vector<registry::ResourceTypePtr>(out.begin(), out.end());
}

std::vector<std::string> pruneCustomResourceFields(const ResourceType& type, Json& object) {
  if (type.schema == nullptr) return {};
  return pruneCustomResource(object, *type.schema);
}

// ---- the customresourcedefinitions type --------------------------------------------------------

namespace {

void defaultCrd(Json& crd) {
  if (!crd.is_object()) return;
  Json& spec = crd["spec"];
  if (!spec.is_object()) return;
  if (spec.contains("names") && spec["names"].is_object()) {
    Json& names = spec["names"];
    std::string kind = getString(names, "kind");
    if (getString(names, "singular").empty() && !kind.empty()) names["singular"] = lower(kind);
    if (getString(names, "listKind").empty() && !kind.empty()) names["listKind"] = kind + "List";
  }
  if (!spec.contains("conversion") || spec["conversion"].is_null())
    spec["conversion"] = {{"strategy", "None"}};
}

void addStoredVersion(Json& crd) {
  std::string storage = storageVersionOf(crd);
  if (storage.empty()) return;
  Json& status = crd["status"];
  if (!status.is_object()) status = Json::object();
  Json& stored = status["storedVersions"];
  if (!stored.is_array()) stored = Json::array();
  if (std::find(stored.begin(), stored.end(), Json(storage)) == stored.end())
    stored.push_back(storage);
}

}  // namespace

void attachCrdStrategy(ResourceType& t) {
  if (t.deletionFinalizer == kCleanupFinalizer) return;
  t.deletionFinalizer = std::string(kCleanupFinalizer);

  auto defaulter = t.defaulter;
  t.defaulter = [defaulter](Json& crd) {
    if (defaulter) defaulter(crd);
    defaultCrd(crd);
  };
  auto create = t.prepareForCreate;
  t.prepareForCreate = [create](Json& crd) -> Result<void> {
    if (create) TRY(create(crd));
    crd["status"] = {{"acceptedNames", {{"plural", ""}, {"kind", ""}}},
                     {"storedVersions", Json::array()}};
    addStoredVersion(crd);
    return {};
  };
  auto update = t.prepareForUpdate;
  t.prepareForUpdate = [update](Json& crd, const Json& old) -> Result<void> {
    if (update) TRY(update(crd, old));
    addStoredVersion(crd);
    return {};
  };
  auto validator = t.validator;
  t.validator = [validator](const Json& crd, const Json* old, validation::Operation op) {
    FieldErrors errs;
    if (validator) {
      // CRDs get apimachinery's metadata rules, not core's: finalizer names need no domain
      // prefix (customresourcecleanup.apiextensions.k8s.io has none).
      FieldErrors existing = validator(crd, old, op);
      for (const auto& e : existing.errors())
        if (!(e.field.starts_with("metadata.finalizers[") &&
              e.detail == "name is neither a standard finalizer name nor is it fully qualified"))
          errs.add(e);
    }
    FieldErrors mine = op == validation::Operation::kStatusUpdate
                           ? validateCrdStatus(crd)
                           : validateCrd(crd, op == validation::Operation::kUpdate ? old : nullptr);
    // The validation module checks names, versions and the basic schema rules too: a field it
    // already reports on is not reported twice.
    std::set<std::string> reported;
    for (const auto& k : errs.errors()) reported.insert(k.field);
    for (const auto& e : mine.errors())
      if (!reported.contains(e.field)) errs.add(e);
    return errs;
  };
}

void installCrdStrategy(registry::TypeRegistry& types) {
  auto current = types.find("apiextensions.k8s.io", "v1", "customresourcedefinitions");
  if (!current || current->deletionFinalizer == kCleanupFinalizer) return;
  auto t = std::make_shared<ResourceType>(*current);
  attachCrdStrategy(*t);
  types.add(std::move(t));
}

}  // namespace nave::crd
