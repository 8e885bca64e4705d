#include "server/crd/crd_validation.h"

#include <algorithm>
#include <set>

#include "server/crd/internal.h"
#include "server/crd/schema_convert.h"
#include "server/validation/validation.h"

namespace nave::crd {
namespace {

using validation::child;
using validation::FieldErrors;
using validation::index;

const Json& member(const Json& s, std::string_view k) {
  static const Json kNull;
  const Json* v = findMember(s, k);
  return v ? *v : kNull;
}

std::string joinErrors(const std::vector<std::string>& errs) {
  std::string out;
  for (size_t i = 0; i < errs.size(); ++i) out += (i ? "," : "") + errs[i];
  return out;
}

// validateSimpleJSONPath.
void simpleJsonPath(const std::string& s, const std::string& path, FieldErrors& errs) {
  if (s.empty())
    errs.invalid(path, s, "must not be empty");
  else if (s[0] != '.')
    errs.invalid(path, s, "must be a simple json path starting with .");
}

void validateScale(const Json& scale, const std::string& path, FieldErrors& errs) {
  if (!scale.is_object()) return;
  std::string spec = getString(scale, "specReplicasPath");
  std::string specPath = child(path, "scale.specReplicasPath");
  if (spec.empty()) {
    errs.required(specPath);
  } else if (spec[0] != '.') {
    simpleJsonPath(spec, specPath, errs);
  } else if (!spec.starts_with(".spec.")) {
    errs.invalid(specPath, spec, "should be a json path under .spec");
  }
  std::string status = getString(scale, "statusReplicasPath");
  std::string statusPath = child(path, "scale.statusReplicasPath");
  if (status.empty()) {
    errs.required(statusPath);
  } else if (status[0] != '.') {
    simpleJsonPath(status, statusPath, errs);
  } else if (!status.starts_with(".status.")) {
    errs.invalid(statusPath, status, "should be a json path under .status");
  }
  std::string selector = getString(scale, "labelSelectorPath");
  std::string selectorPath = child(path, "scale.labelSelectorPath");
  if (!selector.empty()) {
    if (selector[0] != '.')
      simpleJsonPath(selector, selectorPath, errs);
    else if (!selector.starts_with(".spec.") && !selector.starts_with(".status."))
      errs.invalid(selectorPath, selector, "should be a json path under either .spec or .status");
  }
}

void validateColumn(const Json& col, const std::string& path, FieldErrors& errs) {
  static const std::vector<std::string> kTypes = {"boolean", "date", "integer", "number", "string"};
  static const std::vector<std::string> kFormats = {"byte",  "date",  "date-time", "double",
                                                    "float", "int32", "int64",     "password"};
  auto joined = [](const std::vector<std::string>& v) {
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + v[i];
    return out;
  };
  if (getString(col, "name").empty()) errs.required(child(path, "name"));
  std::string type = getString(col, "type");
  if (type.empty())
    errs.required(child(path, "type"), "must be one of " + joined(kTypes));
  else if (std::find(kTypes.begin(), kTypes.end(), type) == kTypes.end())
    errs.invalid(child(path, "type"), type, "must be one of " + joined(kTypes));
  std::string format = getString(col, "format");
  if (!format.empty() && std::find(kFormats.begin(), kFormats.end(), format) == kFormats.end())
    errs.invalid(child(path, "format"), format, "must be one of " + joined(kFormats));
  std::string jsonPath = getString(col, "jsonPath");
  if (jsonPath.empty())
    errs.required(child(path, "JSONPath"));
  else
    simpleJsonPath(jsonPath, child(path, "JSONPath"), errs);
}

// A selectable field's path (".spec.color") must lead through object properties to a string,
// boolean or integer field outside metadata. Returns the schema type found, or an error text.
std::string selectableFieldProblem(const schema::Node& root, std::string_view p,
                                   std::string* normalized) {
  if (p.empty() || p.front() != '.') return "is an invalid path: must start with '.'";
  std::string_view rest = p.substr(1);
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = rest.find('.', start);
    std::string part(rest.substr(start, dot == rest.npos ? rest.npos : dot - start));
    if (part.empty() || part.find('[') != std::string::npos)
      return "is an invalid path: " +
             std::string(part.empty() ? "empty field name" : "array notation is not allowed");
    parts.push_back(part);
    if (dot == rest.npos) break;
    start = dot + 1;
  }
  *normalized = std::string(rest);
  if (parts.front() == "metadata") return "must not point to fields in metadata";
  const schema::Node* cur = &root;
  for (const std::string& part : parts) {
    const schema::Node* next = cur->property(part);
    if (next == nullptr && cur->additionalProperties) next = cur->additionalProperties.get();
    if (next == nullptr) {
      normalized->clear();
      return "is an invalid path: does not refer to a valid field";
    }
    cur = next;
  }
  if (cur->type != schema::Type::kString && cur->type != schema::Type::kBoolean &&
      cur->type != schema::Type::kInteger)
    return "must point to a field of type string, boolean or integer. Enum string fields and "
           "strings with formats are allowed.";
  return "";
}

void validateSelectableFields(const Json& fields, const Json& schema, const std::string& path,
                              FieldErrors& errs) {
  if (!fields.is_array() || fields.empty()) return;
  if (!schema.is_object()) {
    errs.invalid(path, "",
                 "selectableFields may only be set when version.schema.openAPIV3Schema is not "
                 "included");
    return;
  }
  schema::NodePtr root = convertSchema(schema);
  std::set<std::string> unique;
  for (size_t i = 0; i < fields.size(); ++i) {
    std::string p = getString(fields[i], "jsonPath");
    std::string at = child(index(path, i), "jsonPath");
    if (p.empty()) {
      errs.required(at);
      continue;
    }
    std::string normalized;
    std::string problem = selectableFieldProblem(*root, p, &normalized);
    if (!problem.empty() && normalized.empty()) {
      errs.invalid(at, p, problem);
      continue;
    }
    if (!problem.empty()) errs.invalid(at, p, problem);
    if (!unique.insert(normalized).second) errs.duplicate(at, p);
  }
  if (unique.size() > 8) errs.tooMany(path, unique.size(), 8);
}

void validateDeprecationWarning(const Json& version, const std::string& path, FieldErrors& errs) {
  const Json* warning = findMember(version, "deprecationWarning");
  if (warning == nullptr || !warning->is_string()) return;
  const std::string& w = warning->get_ref<const std::string&>();
  std::string at = child(path, "deprecationWarning");
  if (!getBool(version, "deprecated"))
    errs.invalid(at, w, "can only be set for deprecated versions");
  if (w.size() > 256) errs.invalid(at, w, "must be <= 256 characters long");
  if (w.empty()) errs.invalid(at, w, "must not be an empty string");
  for (size_t i = 0; i < w.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(w[i]);
    if (c < 0x20 || c == 0x7f) {
      errs.invalid(at, w,
                   "must only contain printable UTF-8 characters; control character found at "
                   "index " +
                       std::to_string(i));
      break;
    }
  }
}

void validateNames(const Json& names, const std::string& path, FieldErrors& errs) {
  if (!names.is_object()) return;
  auto dns = [&](std::string_view field, bool mixedCase) {
    std::string v = getString(names, field);
    if (v.empty()) return;
    std::string lower = v;
    if (mixedCase)
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto problems = detail::dns1035LabelErrors(lower);
    if (problems.empty()) return;
    std::string msg = joinErrors(problems);
    if (mixedCase) msg = "may have mixed case, but should otherwise match: " + msg;
    errs.invalid(child(path, field), v, msg);
  };
  dns("plural", false);
  dns("singular", false);
  dns("kind", true);
  dns("listKind", true);
  for (const char* list : {"shortNames", "categories"}) {
    const Json& items = member(names, list);
    if (!items.is_array()) continue;
    for (size_t i = 0; i < items.size(); ++i) {
      std::string v = items[i].is_string() ? items[i].get<std::string>() : "";
      auto problems = detail::dns1035LabelErrors(v);
      if (!problems.empty()) errs.invalid(index(child(path, list), i), v, joinErrors(problems));
    }
  }
  std::string kind = getString(names, "kind");
  if (!kind.empty() && kind == getString(names, "listKind"))
    errs.invalid(child(path, "listKind"), kind, "kind and listKind may not be the same");
}

void validateConversion(const Json& conversion, const std::string& path, FieldErrors& errs) {
  if (!conversion.is_object()) return;
  std::string strategy = getString(conversion, "strategy");
  std::string at = child(path, "strategy");
  if (strategy.empty())
    errs.required(at);
  else if (strategy != "None" && strategy != "Webhook")
    errs.notSupported(at, strategy, {"None", "Webhook"});
  const Json& webhook = member(conversion, "webhook");
  if (strategy == "Webhook") {
    const Json& cc = member(webhook, "clientConfig");
    if (!cc.is_object()) {
      errs.required(child(path, "webhookClientConfig"), "required when strategy is set to Webhook");
    } else if (cc.contains("url") == cc.contains("service")) {
      errs.required(child(path, "webhookClientConfig"),
                    "exactly one of url or service is required");
    }
    const Json& versions = member(webhook, "conversionReviewVersions");
    if (!versions.is_array() || versions.empty())
      errs.required(child(path, "conversionReviewVersions"));
  } else if (webhook.is_object()) {
    if (webhook.contains("clientConfig"))
      errs.forbidden(child(path, "webhookClientConfig"),
                     "should not be set when strategy is not set to Webhook");
    if (const Json& v = member(webhook, "conversionReviewVersions"); v.is_array() && !v.empty())
      errs.forbidden(child(path, "conversionReviewVersions"),
                     "should not be set when strategy is not set to Webhook");
  }
}

void validateStoredVersions(const Json& crd, FieldErrors& errs) {
  const Json& stored = member(member(crd, "status"), "storedVersions");
  const Json& versions = member(member(crd, "spec"), "versions");
  std::string path = "status.storedVersions";
  Json storedList = stored.is_array() ? stored : Json::array();
  if (storedList.empty()) {
    errs.invalid(path, storedList, "must have at least one stored version");
    return;
  }
  std::vector<std::string> remaining;
  for (const Json& s : storedList) remaining.push_back(s.is_string() ? s.get<std::string>() : "");
  if (versions.is_array()) {
    for (const Json& v : versions) {
      std::string name = getString(v, "name");
      auto it = std::find(remaining.begin(), remaining.end(), name);
      if (getBool(v, "storage") && it == remaining.end())
        errs.invalid(path, storedList, "must have the storage version " + name);
      if (it != remaining.end()) remaining.erase(it);
    }
  }
  for (const std::string& v : remaining) {
    size_t i = 0;
    for (; i < storedList.size(); ++i)
      if (storedList[i] == v) break;
    errs.invalid(index(path, i), v,
                 "missing from spec.versions; " + v +
                     " was previously a storage version, and must remain in spec.versions until "
                     "a storage migration ensures no data remains persisted in " +
                     v + " and removes " + v + " from status.storedVersions");
  }
}

bool establishedTrue(const Json& crd) {
  const Json& conditions = member(member(crd, "status"), "conditions");
  if (!conditions.is_array()) return false;
  for (const Json& c : conditions)
    if (getString(c, "type") == "Established") return getString(c, "status") == "True";
  return false;
}

void immutable(const Json& now, const Json& before, const std::string& path, FieldErrors& errs) {
  if (now != before) errs.invalid(path, now, "field is immutable");
}

}  // namespace

FieldErrors validateCrdSchemas(const Json& crd) {
  FieldErrors errs;
  const Json& versions = member(member(crd, "spec"), "versions");
  if (!versions.is_array()) return errs;
  for (size_t i = 0; i < versions.size(); ++i) {
    const Json& v = versions[i];
    std::string path = index("spec.versions", i);
    validateDeprecationWarning(v, path, errs);
    const Json& subresources = member(v, "subresources");
    bool status = subresources.is_object() && subresources.contains("status") &&
                  !subresources["status"].is_null();
    const Json& schema = member(member(v, "schema"), "openAPIV3Schema");
    if (!schema.is_object())
      errs.required(child(child(path, "schema"), "openAPIV3Schema"), "schemas are required");
    else
      errs.append(
          validateOpenApiV3Schema(schema, child(child(path, "schema"), "openAPIV3Schema"), status));
    validateScale(member(subresources, "scale"), child(path, "subresources"), errs);
    const Json& columns = member(v, "additionalPrinterColumns");
    if (columns.is_array())
      for (size_t c = 0; c < columns.size(); ++c)
        validateColumn(columns[c], index(child(path, "additionalPrinterColumns"), c), errs);
    validateSelectableFields(member(v, "selectableFields"), schema, child(path, "selectableFields"),
                             errs);
  }
  return errs;
}

FieldErrors validateCrdStatus(const Json& crd) {
  FieldErrors errs;
  validateNames(member(member(crd, "status"), "acceptedNames"), "status.acceptedNames", errs);
  return errs;
}

FieldErrors validateCrd(const Json& crd, const Json* old) {
  FieldErrors errs;
  const Json& spec = member(crd, "spec");
  const Json& names = member(spec, "names");
  std::string group = getString(spec, "group");
  std::string plural = getString(names, "plural");

  std::string name = getString(member(crd, "metadata"), "name");
  if (!name.empty() && name != plural + "." + group)
    errs.invalid("metadata.name", name, "must be spec.names.plural+\".\"+spec.group");

  if (group.empty()) {
    errs.required("spec.group");
  } else if (auto problems = validation::isDns1123Subdomain(group); !problems.empty()) {
    errs.invalid("spec.group", group, joinErrors(problems));
  } else if (group.find('.') == std::string::npos) {
    errs.invalid("spec.group", group, "should be a domain with at least one dot");
  }

  std::string scope = getString(spec, "scope");
  if (scope.empty())
    errs.required("spec.scope");
  else if (scope != "Cluster" && scope != "Namespaced")
    errs.notSupported("spec.scope", scope, {"Cluster", "Namespaced"});

  const Json& versions = member(spec, "versions");
  int storage = 0;
  std::set<std::string> seen;
  bool unique = true;
  if (versions.is_array()) {
    for (size_t i = 0; i < versions.size(); ++i) {
      const Json& v = versions[i];
      if (getBool(v, "storage")) ++storage;
      std::string vname = getString(v, "name");
      if (!seen.insert(vname).second) unique = false;
      if (auto problems = detail::dns1035LabelErrors(vname); !problems.empty())
        errs.invalid(child(index("spec.versions", i), "name"), vname, joinErrors(problems));
    }
  }
  errs.append(validateCrdSchemas(crd));
  Json versionsValue = versions.is_array() ? versions : Json::array();
  if (!unique) errs.invalid("spec.versions", versionsValue, "must contain unique version names");
  if (storage != 1)
    errs.invalid("spec.versions", versionsValue,
                 "must have exactly one version marked as storage version");

  for (const char* required : {"plural", "singular", "kind", "listKind"})
    if (getString(names, required).empty()) errs.required(child("spec.names", required));
  validateNames(names, "spec.names", errs);

  validateConversion(member(spec, "conversion"), "spec.conversion", errs);
  if (getBool(spec, "preserveUnknownFields") &&
      (old == nullptr || !getBool(member(*old, "spec"), "preserveUnknownFields")))
    errs.invalid("spec.preserveUnknownFields", true,
                 "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in "
                 "spec.versions[*].schema instead");

  errs.append(validateCrdStatus(crd));
  validateStoredVersions(crd, errs);

  if (old != nullptr) {
    const Json& oldSpec = member(*old, "spec");
    if (establishedTrue(*old)) {
      immutable(member(spec, "scope"), member(oldSpec, "scope"), "spec.scope", errs);
      immutable(member(names, "kind"), member(member(oldSpec, "names"), "kind"), "spec.names.kind",
                errs);
    }
    immutable(member(spec, "group"), member(oldSpec, "group"), "spec.group", errs);
    immutable(member(names, "plural"), member(member(oldSpec, "names"), "plural"),
              "spec.names.plural", errs);
  }
  return errs;
}

}  // namespace nave::crd
