// apiextensions.k8s.io/v1 CustomResourceDefinition: defaults, spec validation and the basic
// structural-schema rules (types everywhere, an object at the root, metadata left alone).
#include <set>

#include "common/strings.h"
#include "server/validation/internal.h"

namespace nave::validation::detail {
namespace {

bool preservesOrIntOrString(const Json& schema) {
  return truthy(schema, "x-kubernetes-preserve-unknown-fields") || truthy(schema, "x-kubernetes-int-or-string");
}

void validateStructural(const Json& schema, const std::string& path, bool root, FieldErrors& errs, int depth) {
  if (depth > 64 || !schema.is_object()) return;
  if (const Json* p = get(schema, "x-kubernetes-preserve-unknown-fields"); p != nullptr && *p != true)
    errs.invalid(child(path, "x-kubernetes-preserve-unknown-fields"), *p, "must be true or undefined");
  std::string type = str(schema, "type");
  if (root) {
    if (type.empty() && !preservesOrIntOrString(schema)) {
      errs.required(child(path, "type"), "must not be empty at the root");
    } else if (!type.empty() && type != "object") {
      errs.invalid(child(path, "type"), type, "must be object at the root");
    }
  }
  static const std::set<std::string> kTypes = {"array", "boolean", "integer", "number", "object", "string"};
  if (!type.empty() && !kTypes.count(type))
    errs.notSupported(child(path, "type"), type, {"array", "boolean", "integer", "number", "object", "string"});
  if (get(schema, "properties") != nullptr && get(schema, "additionalProperties") != nullptr &&
      schema["additionalProperties"] != false)
    errs.forbidden(child(path, "additionalProperties"), "additionalProperties and properties are mutual exclusive");
  const Json& props = objectOf(schema, "properties");
  for (auto it = props.begin(); it != props.end(); ++it) {
    std::string p = key(child(path, "properties"), it.key());
    if (!it->is_object()) continue;
    if (str(*it, "type").empty() && !preservesOrIntOrString(*it))
      errs.required(child(p, "type"), "must not be empty for specified object fields");
    if (root && it.key() == "metadata") {
      const Json& metaProps = objectOf(*it, "properties");
      for (auto m = metaProps.begin(); m != metaProps.end(); ++m)
        if (m.key() != "name" && m.key() != "generateName")
          errs.forbidden(p, "must not specify anything other than name and generateName, but metadata is implicitly specified");
      if (const Json* t = get(*it, "type"); t != nullptr && *t != "object")
        errs.invalid(child(p, "type"), *t, "must be object");
      continue;
    }
    validateStructural(*it, p, false, errs, depth + 1);
  }
  if (const Json* items = get(schema, "items")) {
    std::string p = child(path, "items");
    if (items->is_array()) {
      errs.forbidden(p, "items must be a schema object and not an array");
    } else if (items->is_object()) {
      if (str(*items, "type").empty() && !preservesOrIntOrString(*items))
        errs.required(child(p, "type"), "must not be empty for specified array items");
      validateStructural(*items, p, false, errs, depth + 1);
    }
  } else if (type == "array") {
    errs.required(child(path, "items"), "must be specified");
  }
  if (const Json* ap = getObject(schema, "additionalProperties"))
    validateStructural(*ap, child(path, "additionalProperties"), false, errs, depth + 1);
}

void validateNames(const Json& names, const std::string& path, FieldErrors& errs) {
  for (std::string_view k : {"plural", "singular"}) {
    std::string v = str(names, k);
    if (!v.empty()) {
      std::vector<std::string> msgs = isDns1035Label(v);
      if (!msgs.empty()) errs.invalid(child(path, k), v, join(msgs, ","));
    }
  }
  for (std::string_view k : {"kind", "listKind"}) {
    std::string v = str(names, k);
    if (!v.empty()) {
      std::vector<std::string> msgs = isDns1035Label(toLower(v));
      if (!msgs.empty())
        errs.invalid(child(path, k), v, "may have mixed case, but should otherwise match: " + join(msgs, ","));
    }
  }
  for (std::string_view list : {"shortNames", "categories"}) {
    const Json& values = arrayOf(names, list);
    std::set<std::string> seen;
    for (size_t i = 0; i < values.size(); ++i) {
      std::string v = values[i].is_string() ? values[i].get<std::string>() : "";
      std::vector<std::string> msgs = isDns1035Label(v);
      if (!msgs.empty()) errs.invalid(index(child(path, list), i), v, join(msgs, ","));
      if (!seen.insert(v).second) errs.duplicate(index(child(path, list), i), v);
    }
  }
  if (str(names, "kind") == str(names, "listKind") && !str(names, "kind").empty())
    errs.invalid(child(path, "listKind"), str(names, "listKind"), "kind and listKind may not be the same");
}

void validatePrinterColumns(const Json& columns, const std::string& path, FieldErrors& errs) {
  static const std::set<std::string> kTypes = {"integer", "number", "string", "boolean", "date"};
  static const std::set<std::string> kFormats = {"int32", "int64", "float", "double", "byte", "date",
                                                 "date-time", "password"};
  for (size_t i = 0; i < columns.size(); ++i) {
    std::string p = index(path, i);
    if (str(columns[i], "name").empty()) errs.required(child(p, "name"));
    std::string type = str(columns[i], "type");
    if (type.empty()) {
      errs.required(child(p, "type"), "must be one of integer, number, string, boolean, date");
    } else if (!kTypes.count(type)) {
      errs.notSupported(child(p, "type"), type, {"boolean", "date", "integer", "number", "string"});
    }
    std::string format = str(columns[i], "format");
    if (!format.empty() && !kFormats.count(format))
      errs.notSupported(child(p, "format"), format, {"byte", "date", "date-time", "double", "float", "int32", "int64", "password"});
    if (str(columns[i], "jsonPath").empty()) errs.required(child(p, "jsonPath"));
  }
}

void validateSubresources(const Json& sub, const std::string& path, FieldErrors& errs) {
  const Json* scale = getObject(sub, "scale");
  if (scale == nullptr) return;
  std::string p = child(path, "scale");
  std::string spec = str(*scale, "specReplicasPath");
  if (spec.empty()) {
    errs.required(child(p, "specReplicasPath"));
  } else if (spec.rfind(".spec.", 0) != 0) {
    errs.invalid(child(p, "specReplicasPath"), spec, "should be a json path under .spec");
  }
  std::string status = str(*scale, "statusReplicasPath");
  if (status.empty()) {
    errs.required(child(p, "statusReplicasPath"));
  } else if (status.rfind(".status.", 0) != 0) {
    errs.invalid(child(p, "statusReplicasPath"), status, "should be a json path under .status");
  }
  if (const Json* sel = get(*scale, "labelSelectorPath"); sel != nullptr && sel->is_string()) {
    std::string v = sel->get<std::string>();
    if (v.rfind(".spec.", 0) != 0 && v.rfind(".status.", 0) != 0)
      errs.invalid(child(p, "labelSelectorPath"), v, "should be a json path under either .spec or .status");
  }
}

}  // namespace

void defaultCustomResourceDefinition(Json& o) {
  Json* spec = mutObject(o, "spec");
  if (spec == nullptr) return;
  if (Json* names = mutObject(*spec, "names")) {
    std::string kind = str(*names, "kind");
    defaultIfZero(*names, "singular", toLower(kind));
    if (!kind.empty()) defaultIfZero(*names, "listKind", kind + "List");
  }
  if (get(*spec, "conversion") == nullptr) (*spec)["conversion"] = {{"strategy", "None"}};
  if (Json* conversion = mutObject(*spec, "conversion"))
    if (Json* webhook = mutObject(*conversion, "webhook"))
      if (Json* cc = mutObject(*webhook, "clientConfig"))
        if (Json* service = mutObject(*cc, "service")) defaultIfAbsent(*service, "port", 443);
}

void validateCustomResourceDefinition(const Json& o, const Json* old, Operation op, FieldErrors& errs) {
  if (op == Operation::kStatusUpdate) return;
  const Json& spec = objectOf(o, "spec");
  const Json& names = objectOf(spec, "names");
  std::string group = str(spec, "group");
  std::string name = str(objectOf(o, "metadata"), "name");
  if (!name.empty() && name != str(names, "plural") + "." + group)
    errs.invalid("metadata.name", name, "must be spec.names.plural+\".\"+spec.group");
  if (group.empty()) {
    errs.required("spec.group");
  } else if (std::vector<std::string> msgs = isDns1123Subdomain(group); !msgs.empty()) {
    errs.invalid("spec.group", group, join(msgs, ","));
  } else if (group.find('.') == std::string::npos) {
    errs.invalid("spec.group", group, "should be a domain with at least one dot");
  }
  std::string scope = str(spec, "scope");
  if (scope.empty()) {
    errs.required("spec.scope");
  } else if (scope != "Cluster" && scope != "Namespaced") {
    errs.notSupported("spec.scope", scope, {"Cluster", "Namespaced"});
  }
  const Json& versions = arrayOf(spec, "versions");
  int storage = 0;
  bool served = false;
  bool unique = true;
  std::set<std::string> seen;
  for (size_t i = 0; i < versions.size(); ++i) {
    const Json& v = versions[i];
    std::string p = index("spec.versions", i);
    std::string vname = str(v, "name");
    if (truthy(v, "storage")) ++storage;
    if (truthy(v, "served")) served = true;
    if (!seen.insert(vname).second) unique = false;
    if (std::vector<std::string> msgs = isDns1035Label(vname); !msgs.empty())
      errs.invalid(child(p, "name"), vname, join(msgs, ","));
    const Json* schema = getObject(objectOf(v, "schema"), "openAPIV3Schema");
    if (schema == nullptr) {
      errs.required(child(child(p, "schema"), "openAPIV3Schema"), "schemas are required");
    } else {
      validateStructural(*schema, child(child(p, "schema"), "openAPIV3Schema"), true, errs, 0);
    }
    validateSubresources(objectOf(v, "subresources"), child(p, "subresources"), errs);
    validatePrinterColumns(arrayOf(v, "additionalPrinterColumns"), child(p, "additionalPrinterColumns"), errs);
  }
  if (!unique) errs.invalid("spec.versions", versions, "must contain unique version names");
  if (storage != 1) errs.invalid("spec.versions", versions, "must have exactly one version marked as storage version");
  if (!versions.empty() && !served)
    errs.invalid("spec.versions", versions, "must have at least one version marked as served");
  for (std::string_view k : {"plural", "singular", "kind", "listKind"})
    if (str(names, k).empty()) errs.required(child("spec.names", k));
  validateNames(names, "spec.names", errs);
  const Json& conversion = objectOf(spec, "conversion");
  std::string strategy = str(conversion, "strategy");
  if (strategy.empty()) {
    errs.required("spec.conversion.strategy");
  } else if (strategy != "None" && strategy != "Webhook") {
    errs.notSupported("spec.conversion.strategy", strategy, {"None", "Webhook"});
  } else if (strategy == "Webhook") {
    const Json* webhook = getObject(conversion, "webhook");
    const Json* cc = webhook != nullptr ? getObject(*webhook, "clientConfig") : nullptr;
    if (webhook == nullptr) {
      errs.required("spec.conversion.webhook", "must be set when strategy is set to Webhook");
    } else if (cc == nullptr) {
      errs.required("spec.conversion.webhook.clientConfig", "required when strategy is set to Webhook");
    } else if ((get(*cc, "url") == nullptr) == (get(*cc, "service") == nullptr)) {
      errs.required("spec.conversion.webhook.clientConfig", "exactly one of url or service is required");
    }
    if (webhook != nullptr && arrayOf(*webhook, "conversionReviewVersions").empty())
      errs.required("spec.conversion.webhook.conversionReviewVersions",
                    "must include at least one of v1, v1beta1");
  } else if (get(conversion, "webhook") != nullptr) {
    errs.forbidden("spec.conversion.webhook", "should not be set when strategy is not set to Webhook");
  }
  if (op == Operation::kUpdate && old != nullptr) {
    const Json& oldSpec = objectOf(*old, "spec");
    bool established = false;
    for (const Json& c : arrayOf(objectOf(*old, "status"), "conditions"))
      if (str(c, "type") == "Established" && str(c, "status") == "True") established = true;
    if (established) {
      immutableField(spec, oldSpec, "scope", "spec.scope", errs);
      if (str(names, "kind") != str(objectOf(oldSpec, "names"), "kind"))
        errs.invalid("spec.names.kind", str(names, "kind"), std::string(kImmutable));
    }
    immutableField(spec, oldSpec, "group", "spec.group", errs);
    if (str(names, "plural") != str(objectOf(oldSpec, "names"), "plural"))
      errs.invalid("spec.names.plural", str(names, "plural"), std::string(kImmutable));
  }
}

}  // namespace nave::validation::detail
