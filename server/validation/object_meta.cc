// ObjectMeta validation (apimachinery's ValidateObjectMeta / ValidateObjectMetaUpdate) and the
// label, annotation and finalizer rules it uses.
#include <set>

#include "common/strings.h"
#include "server/validation/internal.h"

namespace nave::validation {
namespace detail {
namespace {

constexpr size_t kTotalAnnotationSizeLimit = 256 * 1024;

// The finalizers that need no domain prefix.
bool isStandardFinalizerName(std::string_view name) {
  return name == "kubernetes" || name == "orphan" || name == "foregroundDeletion";
}

void validateKubeFinalizers(const Json& finalizers, const std::string& path, FieldErrors& errs) {
  if (!finalizers.is_array()) return;
  for (size_t i = 0; i < finalizers.size(); ++i) {
    if (!finalizers[i].is_string()) continue;
    const std::string& f = finalizers[i].get_ref<const std::string&>();
    if (f.find('/') == std::string::npos && !isStandardFinalizerName(f))
      errs.invalid(index(path, i), f,
                   "name is neither a standard finalizer name nor is it fully qualified");
  }
}

void validateFinalizers(const Json& finalizers, const std::string& path, FieldErrors& errs) {
  if (finalizers.is_null()) return;
  if (!finalizers.is_array()) {
    errs.invalid(path, finalizers, "must be a list of strings");
    return;
  }
  bool orphan = false, foreground = false;
  for (const Json& f : finalizers) {
    if (!f.is_string()) {
      errs.invalid(path, f, "must be a string");
      continue;
    }
    const std::string& name = f.get_ref<const std::string&>();
    invalidEach(errs, path, f, isQualifiedName(name));
    orphan = orphan || name == "orphan";
    foreground = foreground || name == "foregroundDeletion";
  }
  if (orphan && foreground)
    errs.invalid(path, finalizers, "finalizer orphan and foregroundDeletion cannot be both set");
}

// schema.FromAPIVersionAndKind: the version of "group/version" or "version".
std::string versionOf(std::string_view apiVersion) {
  size_t slash = apiVersion.find('/');
  if (slash == std::string_view::npos) return std::string(apiVersion);
  std::string_view rest = apiVersion.substr(slash + 1);
  if (rest.find('/') != std::string_view::npos) return "";  // unparsable group/version
  return std::string(rest);
}

void validateOwnerReferences(const Json& refs, const std::string& path, FieldErrors& errs) {
  if (refs.is_null()) return;
  if (!refs.is_array()) {
    errs.invalid(path, refs, "must be a list of owner references");
    return;
  }
  std::string firstController;
  for (const Json& ref : refs) {
    std::string apiVersion = str(ref, "apiVersion");
    std::string kind = str(ref, "kind");
    if (versionOf(apiVersion).empty())
      errs.invalid(child(path, "apiVersion"), apiVersion, "version must not be empty");
    if (kind.empty()) errs.invalid(child(path, "kind"), kind, "must not be empty");
    if (str(ref, "name").empty()) errs.invalid(child(path, "name"), "", "must not be empty");
    if (str(ref, "uid").empty()) errs.invalid(child(path, "uid"), "", "must not be empty");
    if (apiVersion == "v1" && kind == "Event")
      errs.invalid(path, ref, "/v1, Kind=Event is disallowed from being an owner");
    if (truthy(ref, "controller")) {
      std::string current = kind + "/" + str(ref, "name");
      if (!firstController.empty()) {
        errs.invalid(path, refs,
                     "Only one reference can have Controller set to true. Found \"true\" in "
                     "references for " +
                         firstController + " and " + current);
      } else {
        firstController = current;
      }
    }
  }
}

void validateManagedFields(const Json& fields, const std::string& path, FieldErrors& errs) {
  if (!fields.is_array()) return;
  for (size_t i = 0; i < fields.size(); ++i) {
    const Json& f = fields[i];
    std::string p = index(path, i);
    std::string op = str(f, "operation");
    if (op != "Apply" && op != "Update")
      errs.invalid(child(p, "operation"), op, "must be `Apply` or `Update`");
    std::string type = str(f, "fieldsType");
    if (!type.empty() && type != "FieldsV1")
      errs.invalid(child(p, "fieldsType"), type, "must be `FieldsV1`");
  }
}

void validateCommon(const Json& meta, const std::string& path, FieldErrors& errs) {
  if (const Json* g = get(meta, "generation"); g != nullptr && g->is_number() && g->get<double>() < 0)
    errs.invalid(child(path, "generation"), *g, std::string(kNegative));
  validateLabels(memberOrNull(meta, "labels"), child(path, "labels"), errs);
  validateAnnotations(memberOrNull(meta, "annotations"), child(path, "annotations"), errs);
  validateOwnerReferences(memberOrNull(meta, "ownerReferences"), child(path, "ownerReferences"),
                          errs);
  validateFinalizers(memberOrNull(meta, "finalizers"), child(path, "finalizers"), errs);
  validateManagedFields(memberOrNull(meta, "managedFields"), child(path, "managedFields"), errs);
}

}  // namespace

void validateLabelName(std::string_view key, const std::string& path, FieldErrors& errs) {
  invalidEach(errs, path, Json(std::string(key)), isQualifiedName(key));
}

void validateQualifiedName(const Json& value, const std::string& path, FieldErrors& errs) {
  if (!value.is_string()) {
    errs.invalid(path, value, "must be a string");
    return;
  }
  invalidEach(errs, path, value, isQualifiedName(value.get_ref<const std::string&>()));
}

void validateLabels(const Json& labels, const std::string& path, FieldErrors& errs) {
  if (labels.is_null()) return;
  if (!labels.is_object()) {
    errs.invalid(path, labels, "must be a map of strings");
    return;
  }
  for (auto it = labels.begin(); it != labels.end(); ++it) {
    validateLabelName(it.key(), path, errs);
    if (!it->is_string()) {
      errs.invalid(path, *it, "must be a string");
      continue;
    }
    invalidEach(errs, path, *it, isValidLabelValue(it->get_ref<const std::string&>()));
  }
}

void validateAnnotations(const Json& annotations, const std::string& path, FieldErrors& errs) {
  if (annotations.is_null()) return;
  if (!annotations.is_object()) {
    errs.invalid(path, annotations, "must be a map of strings");
    return;
  }
  size_t total = 0;
  for (auto it = annotations.begin(); it != annotations.end(); ++it) {
    // Keys follow the qualified-name rule, but case does not matter.
    invalidEach(errs, path, it.key(), isQualifiedName(toLower(it.key())));
    total += it.key().size();
    if (it->is_string()) total += it->get_ref<const std::string&>().size();
  }
  if (total > kTotalAnnotationSizeLimit) errs.tooLong(path, "", kTotalAnnotationSizeLimit);
}

void validateMeta(const Json& object, bool namespaced, NameFn nameFn, bool kubeFinalizers,
                  FieldErrors& errs) {
  const Json& meta = objectOf(object, "metadata");
  const std::string path = "metadata";
  std::string name = str(meta, "name");
  std::string generateName = str(meta, "generateName");
  if (!generateName.empty()) {
    for (const std::string& m : nameFn(generateName, true))
      errs.invalid(child(path, "generateName"), generateName, m);
  }
  if (name.empty()) {
    // The API server generates the name from generateName before storing.
    if (generateName.empty())
      errs.required(child(path, "name"), "name or generateName is required");
  } else {
    for (const std::string& m : nameFn(name, false)) errs.invalid(child(path, "name"), name, m);
  }
  std::string ns = str(meta, "namespace");
  if (namespaced) {
    if (ns.empty()) {
      errs.required(child(path, "namespace"));
    } else {
      for (const std::string& m : nameIsDnsLabel(ns, false))
        errs.invalid(child(path, "namespace"), ns, m);
    }
  } else if (!ns.empty()) {
    errs.forbidden(child(path, "namespace"), "not allowed on this type");
  }
  validateCommon(meta, path, errs);
  if (kubeFinalizers)
    validateKubeFinalizers(memberOrNull(meta, "finalizers"), child(path, "finalizers"), errs);
}

void validateMetaUpdate(const Json& object, const Json& old, bool kubeFinalizers,
                        FieldErrors& errs) {
  const Json& meta = objectOf(object, "metadata");
  const Json& oldMeta = objectOf(old, "metadata");
  const std::string path = "metadata";

  if (isSet(oldMeta, "deletionTimestamp")) {
    std::set<std::string> oldSet;
    for (const Json& f : arrayOf(oldMeta, "finalizers"))
      if (f.is_string()) oldSet.insert(f.get<std::string>());
    std::set<std::string> extra;
    for (const Json& f : arrayOf(meta, "finalizers"))
      if (f.is_string() && !oldSet.count(f.get<std::string>())) extra.insert(f.get<std::string>());
    if (!extra.empty()) {
      std::string list = "[]string{";
      bool first = true;
      for (const std::string& e : extra) {
        if (!first) list += ", ";
        first = false;
        list += Json(e).dump();
      }
      list += "}";
      errs.forbidden(child(path, "finalizers"),
                     "no new finalizers can be added if the object is being deleted, found new "
                     "finalizers " +
                         list);
    }
  }

  // Generation is owned by the server; compare only when the client sent one.
  std::optional<int64_t> gen = optInt(meta, "generation");
  std::optional<int64_t> oldGen = optInt(oldMeta, "generation");
  if (gen && oldGen && *gen < *oldGen)
    errs.invalid(child(path, "generation"), *gen, "must not be decremented");

  for (std::string_view key : {"name", "namespace"}) {
    std::string a = str(meta, key), b = str(oldMeta, key);
    if (a != b) errs.invalid(child(path, key), a, std::string(kImmutable));
  }
  // The server keeps uid and the timestamps of the stored object when a client leaves them out
  // (kubectl replace with a hand-written manifest), so only a different value is an error.
  for (std::string_view key : {"uid", "creationTimestamp", "deletionTimestamp"}) {
    const Json* a = get(meta, key);
    if (a != nullptr && !jsonEqual(*a, memberOrNull(oldMeta, key)))
      errs.invalid(child(path, key), *a, std::string(kImmutable));
  }
  const Json* grace = get(meta, "deletionGracePeriodSeconds");
  const Json* oldGrace = get(oldMeta, "deletionGracePeriodSeconds");
  if (grace != nullptr && (oldGrace == nullptr || *grace != *oldGrace))
    errs.invalid(child(path, "deletionGracePeriodSeconds"), *grace, std::string(kImmutable));

  validateCommon(meta, path, errs);
  if (kubeFinalizers)
    validateKubeFinalizers(memberOrNull(meta, "finalizers"), child(path, "finalizers"), errs);
}

}  // namespace detail

void validateObjectMeta(const Json& object, bool namespaced, bool nameIsDns1123Label,
                        FieldErrors& errors) {
  detail::validateMeta(object, namespaced,
                       nameIsDns1123Label ? detail::nameIsDnsLabel : detail::nameIsDnsSubdomain,
                       false, errors);
}

void validateObjectMetaUpdate(const Json& object, const Json& old, FieldErrors& errors) {
  detail::validateMetaUpdate(object, old, false, errors);
}

}  // namespace nave::validation
