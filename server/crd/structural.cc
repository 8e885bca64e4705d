// The checks of a CRD version's openAPIV3Schema: apiextensions' OpenAPI subset
// (ValidateCustomResourceDefinitionOpenAPISchema), structural schemas (ValidateStructural with
// its completeness rule) and defaults (ValidateDefaults).
#include <algorithm>
#include <set>

#include "server/crd/crd_validation.h"
#include "server/crd/internal.h"
#include "server/crd/pruning.h"
#include "server/crd/schema_convert.h"
#include "server/crd/value_validation.h"

namespace nave::crd {
namespace {

using validation::child;
using validation::FieldErrors;
using validation::index;
using validation::key;

// "Zero" JSON values count as unset, as Go's zero values do.
bool isSet(const Json* v) {
  if (v == nullptr || v->is_null()) return false;
  if (v->is_boolean()) return v->get<bool>();
  if (v->is_string() || v->is_array() || v->is_object()) return !v->empty();
  return true;
}
bool isSet(const Json& s, std::string_view k) {
  return isSet(findMember(s, k));
}
bool flag(const Json& s, std::string_view k) {
  const Json* v = findMember(s, k);
  return v != nullptr && v->is_boolean() && v->get<bool>();
}
const Json& member(const Json& s, std::string_view k) {
  static const Json kNull;
  const Json* v = findMember(s, k);
  return v ? *v : kNull;
}
bool has(const Json& s, std::string_view k) {
  const Json* v = findMember(s, k);
  return v != nullptr && !v->is_null();
}

std::string properties(const std::string& path, std::string_view k) {
  return key(child(path, "properties"), k);
}

// ---- the OpenAPI subset ---------------------------------------------------------------------

struct Context {
  bool allowDefaults = true;
  std::string disallowDefaultsReason;
  bool insideResourceMeta = false;

  Context withForbiddenDefaults(std::string reason) const {
    Context c = *this;
    c.allowDefaults = false;
    c.disallowDefaultsReason = std::move(reason);
    return c;
  }
};

bool isMetaField(std::string_view k) {
  return k == "metadata" || k == "kind" || k == "apiVersion";
}

bool hasNewlines(std::string_view s) {
  return s.find('\n') != std::string_view::npos || s.find('\r') != std::string_view::npos;
}

std::string trimSpace(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

void standardChecks(const Json& s, const std::string& path, const Context& ctx, FieldErrors& errs) {
  static const std::vector<std::string> kTypes = {"array",  "boolean", "integer",
                                                  "number", "object",  "string"};
  std::string type = getString(s, "type");
  if (!type.empty() && std::find(kTypes.begin(), kTypes.end(), type) == kTypes.end())
    errs.notSupported(child(path, "type"), type, kTypes);
  if (has(s, "default") && !ctx.allowDefaults) {
    std::string detail = "must not be set";
    if (!ctx.disallowDefaultsReason.empty()) detail += " " + ctx.disallowDefaultsReason;
    errs.forbidden(child(path, "default"), detail);
  }
  if (isSet(s, "id")) errs.forbidden(child(path, "id"), "id is not supported");
  if (has(s, "additionalItems"))
    errs.forbidden(child(path, "additionalItems"), "additionalItems is not supported");
  if (isSet(s, "patternProperties"))
    errs.forbidden(child(path, "patternProperties"), "patternProperties is not supported");
  if (isSet(s, "definitions"))
    errs.forbidden(child(path, "definitions"), "definitions is not supported");
  if (has(s, "dependencies"))
    errs.forbidden(child(path, "dependencies"), "dependencies is not supported");
  if (has(s, "$ref")) errs.forbidden(child(path, "$ref"), "$ref is not supported");
  if (type == "null")
    errs.forbidden(child(path, "type"),
                   "type cannot be set to null, use nullable as an alternative");
  if (const Json& items = member(s, "items"); items.is_array() && !items.empty())
    errs.forbidden(child(path, "items"), "items must be a schema object and not an array");
  if (ctx.insideResourceMeta && flag(s, "x-kubernetes-embedded-resource"))
    errs.forbidden(child(path, "x-kubernetes-embedded-resource"),
                   "must not be used inside of resource meta");
}

void listAndMapChecks(const Json& s, const std::string& path, FieldErrors& errs) {
  std::string type = getString(s, "type");
  const Json* mapType = findMember(s, "x-kubernetes-map-type");
  const Json* listType = findMember(s, "x-kubernetes-list-type");
  if (mapType && mapType->is_null()) mapType = nullptr;
  if (listType && listType->is_null()) listType = nullptr;
  std::string mapTypeValue = mapType && mapType->is_string() ? mapType->get<std::string>() : "";
  std::string listTypeValue = listType && listType->is_string() ? listType->get<std::string>() : "";

  if (mapType && type != "object") {
    if (type.empty())
      errs.required(child(path, "type"), "must be object if x-kubernetes-map-type is specified");
    else
      errs.invalid(child(path, "type"), type,
                   "must be object if x-kubernetes-map-type is specified");
  }
  if (mapType && mapTypeValue != "atomic" && mapTypeValue != "granular")
    errs.notSupported(child(path, "x-kubernetes-map-type"), *mapType, {"atomic", "granular"});

  const Json& items = member(s, "items");
  if (listType && type != "array") {
    if (type.empty())
      errs.required(child(path, "type"), "must be array if x-kubernetes-list-type is specified");
    else
      errs.invalid(child(path, "type"), type,
                   "must be array if x-kubernetes-list-type is specified");
  } else if (listTypeValue == "set" && items.is_object()) {
    std::string itemType = getString(items, "type");
    const Json* itemListType = findMember(items, "x-kubernetes-list-type");
    const Json* itemMapType = findMember(items, "x-kubernetes-map-type");
    if (itemType == "array" && itemListType && !itemListType->is_null() &&
        *itemListType != "atomic")
      errs.invalid(child(child(path, "items"), "x-kubernetes-list-type"), *itemListType,
                   "must be atomic as item of a list with x-kubernetes-list-type=set");
    if (itemType == "object" && (!itemMapType || *itemMapType != "atomic"))
      errs.invalid(child(child(path, "items"), "x-kubernetes-map-type"),
                   itemListType ? *itemListType : Json(nullptr),
                   "must be atomic as item of a list with x-kubernetes-list-type=set");
  }
  if (listType && listTypeValue != "atomic" && listTypeValue != "set" && listTypeValue != "map")
    errs.notSupported(child(path, "x-kubernetes-list-type"), *listType, {"atomic", "set", "map"});

  const Json& keys = member(s, "x-kubernetes-list-map-keys");
  bool hasKeys = keys.is_array() && !keys.empty();
  if (hasKeys) {
    if (!listType)
      errs.required(child(path, "x-kubernetes-list-type"),
                    "must be map if x-kubernetes-list-map-keys is non-empty");
    else if (listTypeValue != "map")
      errs.invalid(child(path, "x-kubernetes-list-type"), *listType,
                   "must be map if x-kubernetes-list-map-keys is non-empty");
  }
  if (listTypeValue == "map") {
    if (!hasKeys)
      errs.required(child(path, "x-kubernetes-list-map-keys"),
                    "must not be empty if x-kubernetes-list-type is map");
    if (items.is_null())
      errs.required(child(path, "items"), "must have a schema if x-kubernetes-list-type is map");
    if (items.is_array())
      errs.invalid(child(path, "items"), items,
                   "must only have a single schema if x-kubernetes-list-type is map");
    if (items.is_object() && getString(items, "type") != "object")
      errs.invalid(child(child(path, "items"), "type"), getString(items, "type"),
                   "must be object if parent array's x-kubernetes-list-type is map");
    if (items.is_object() && getString(items, "type") == "object" && hasKeys) {
      std::set<std::string> seen;
      const Json& props = member(items, "properties");
      for (const Json& k : keys) {
        std::string name = k.is_string() ? k.get<std::string>() : "";
        const Json* p = props.is_object() ? findMember(props, name) : nullptr;
        if (p != nullptr) {
          std::string pt = getString(*p, "type");
          if (pt == "array" || pt == "object")
            errs.invalid(child(properties(child(path, "items"), name), "type"), "object",
                         "must be a scalar type if parent array's x-kubernetes-list-type is map");
        } else {
          errs.invalid(child(path, "x-kubernetes-list-map-keys"), keys,
                       "entries must all be names of item properties");
        }
        if (!seen.insert(name).second)
          errs.invalid(child(path, "x-kubernetes-list-map-keys"), keys,
                       "must not contain duplicate entries");
      }
    }
  }

  // Set and map items are never nullable; map keys are required or defaulted, never nullable.
  if (items.is_object() && (listTypeValue == "set" || listTypeValue == "map")) {
    if (flag(items, "nullable"))
      errs.forbidden(child(child(path, "items"), "nullable"),
                     "cannot be nullable when x-kubernetes-list-type is " + listTypeValue);
    if (listTypeValue == "map" && keys.is_array()) {
      const Json& props = member(items, "properties");
      const Json& required = member(items, "required");
      for (const Json& k : keys) {
        std::string name = k.is_string() ? k.get<std::string>() : "";
        const Json* p = props.is_object() ? findMember(props, name) : nullptr;
        if (p == nullptr) continue;
        bool isRequired = required.is_array() &&
                          std::find(required.begin(), required.end(), Json(name)) != required.end();
        std::string prop = properties(child(path, "items"), name);
        if (!isRequired && !has(*p, "default"))
          errs.required(child(prop, "default"),
                        "this property is in x-kubernetes-list-map-keys, so it must have a "
                        "default or be a required property");
        if (flag(*p, "nullable"))
          errs.forbidden(
              child(prop, "nullable"),
              "this property is in x-kubernetes-list-map-keys, so it cannot be nullable");
      }
    }
  }
}

void celRuleChecks(const Json& s, const std::string& path, FieldErrors& errs) {
  const Json& rules = member(s, "x-kubernetes-validations");
  if (!rules.is_array()) return;
  for (size_t i = 0; i < rules.size(); ++i) {
    const Json& r = rules[i];
    std::string base = index(child(path, "x-kubernetes-validations"), i);
    std::string rule = getString(r, "rule"), message = getString(r, "message");
    std::string trimmedRule = trimSpace(rule), trimmedMessage = trimSpace(message);
    if (trimmedRule.empty())
      errs.required(child(base, "rule"), "rule is not specified");
    else if (!message.empty() && trimmedMessage.empty())
      errs.invalid(child(base, "message"), message, "message must be non-empty if specified");
    else if (hasNewlines(trimmedMessage))
      errs.invalid(child(base, "message"), message, "message must not contain line breaks");
    else if (hasNewlines(trimmedRule) && trimmedMessage.empty())
      errs.required(child(base, "message"),
                    "message must be specified if rule contains line breaks");
    std::string messageExpression = getString(r, "messageExpression");
    if (!messageExpression.empty() && trimSpace(messageExpression).empty())
      errs.required(child(base, "messageExpression"),
                    "messageExpression must be non-empty if specified");
    if (const Json* reason = findMember(r, "reason"); reason && !reason->is_null()) {
      static const std::vector<std::string> kReasons = {
          "FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired"};
      if (!reason->is_string() ||
          std::find(kReasons.begin(), kReasons.end(), reason->get<std::string>()) == kReasons.end())
        errs.notSupported(child(base, "reason"), *reason, kReasons);
    }
    std::string fieldPath = getString(r, "fieldPath");
    if (!fieldPath.empty() && trimSpace(fieldPath).empty())
      errs.invalid(child(base, "fieldPath"), fieldPath, "fieldPath must be non-empty if specified");
    if (hasNewlines(fieldPath))
      errs.invalid(child(base, "fieldPath"), fieldPath, "fieldPath must not contain line breaks");
  }
}

void openApiChecks(const Json& s, const std::string& path, const Context& ctx, bool isRoot,
                   FieldErrors& errs) {
  if (!s.is_object()) return;
  standardChecks(s, path, ctx, errs);
  if (flag(s, "uniqueItems"))
    errs.forbidden(child(path, "uniqueItems"),
                   "uniqueItems cannot be set to true since the runtime complexity becomes "
                   "quadratic");
  const Json& props = member(s, "properties");
  bool hasProps = props.is_object() && !props.empty();
  if (const Json& ap = member(s, "additionalProperties"); !ap.is_null()) {
    if (hasProps && (ap.is_object() || (ap.is_boolean() && !ap.get<bool>())))
      errs.forbidden(child(path, "additionalProperties"),
                     "additionalProperties and properties are mutual exclusive");
    Context sub = ctx.insideResourceMeta ? ctx.withForbiddenDefaults(
                                               "inside additionalProperties applying to "
                                               "object metadata")
                                         : ctx;
    if (ap.is_object()) openApiChecks(ap, child(path, "additionalProperties"), sub, false, errs);
  }
  if (hasProps) {
    for (auto it = props.begin(); it != props.end(); ++it) {
      Context sub = ctx;
      if ((isRoot || flag(s, "x-kubernetes-embedded-resource")) && isMetaField(it.key())) {
        sub.insideResourceMeta = true;
        if (isRoot) sub = sub.withForbiddenDefaults("in top-level " + it.key());
      }
      openApiChecks(it.value(), properties(path, it.key()), sub, false, errs);
    }
  }
  openApiChecks(member(s, "not"), child(path, "not"), ctx, false, errs);
  for (const char* junctor : {"allOf", "oneOf", "anyOf"}) {
    const Json& list = member(s, junctor);
    if (!list.is_array()) continue;
    for (size_t i = 0; i < list.size(); ++i)
      openApiChecks(list[i], index(child(path, junctor), i), ctx, false, errs);
  }
  if (const Json& defs = member(s, "definitions"); defs.is_object())
    for (auto it = defs.begin(); it != defs.end(); ++it)
      openApiChecks(it.value(), key(child(path, "definitions"), it.key()), ctx, false, errs);
  if (const Json& items = member(s, "items"); items.is_object()) {
    openApiChecks(items, child(path, "items"), ctx, false, errs);
  } else if (items.is_array()) {
    for (size_t i = 0; i < items.size(); ++i)
      openApiChecks(items[i], index(child(path, "items"), i), ctx, false, errs);
  }
  if (const Json& deps = member(s, "dependencies"); deps.is_object())
    for (auto it = deps.begin(); it != deps.end(); ++it)
      if (it.value().is_object())
        openApiChecks(it.value(), key(child(path, "dependencies"), it.key()), ctx, false, errs);
  if (const Json* p = findMember(s, "x-kubernetes-preserve-unknown-fields");
      p && p->is_boolean() && !p->get<bool>())
    errs.invalid(child(path, "x-kubernetes-preserve-unknown-fields"), false,
                 "must be true or undefined");
  listAndMapChecks(s, path, errs);
  celRuleChecks(s, path, errs);
}

// ---- structural schemas ---------------------------------------------------------------------

enum class Level { kRoot, kItem, kField };

// {type: integer} exactly (no other non-zero field).
bool onlyType(const Json& s, std::string_view type) {
  if (!s.is_object() || getString(s, "type") != type) return false;
  for (auto it = s.begin(); it != s.end(); ++it)
    if (it.key() != "type" && isSet(&it.value())) return false;
  return true;
}

bool intOrStringAnyOf(const Json& anyOf) {
  return anyOf.is_array() && anyOf.size() == 2 && onlyType(anyOf[0], "integer") &&
         onlyType(anyOf[1], "string");
}

void valueValidationChecks(const Json& s, bool skipAnyOf, bool skipFirstAllOfAnyOf, Level level,
                           const std::string& path, FieldErrors& errs);

void nestedChecks(const Json& v, bool skipAnyOf, Level level, const std::string& path,
                  FieldErrors& errs) {
  if (!v.is_object()) return;
  valueValidationChecks(v, skipAnyOf, false, level, path, errs);
  nestedChecks(member(v, "items"), false, level, child(path, "items"), errs);
  if (const Json& props = member(v, "properties"); props.is_object())
    for (auto it = props.begin(); it != props.end(); ++it)
      nestedChecks(it.value(), false, Level::kField, properties(path, it.key()), errs);
  if (isSet(v, "type")) errs.forbidden(child(path, "type"), "must be empty to be structural");
  if (has(v, "additionalProperties"))
    errs.forbidden(child(path, "additionalProperties"), "must be undefined to be structural");
  if (has(v, "default"))
    errs.forbidden(child(path, "default"), "must be undefined to be structural");
  if (isSet(v, "title")) errs.forbidden(child(path, "title"), "must be empty to be structural");
  if (isSet(v, "description"))
    errs.forbidden(child(path, "description"), "must be empty to be structural");
  if (flag(v, "nullable"))
    errs.forbidden(child(path, "nullable"), "must be false to be structural");
  for (const char* x : {"x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
                        "x-kubernetes-int-or-string"})
    if (flag(v, x)) errs.forbidden(child(path, x), "must be false to be structural");
  if (isSet(v, "x-kubernetes-list-map-keys"))
    errs.forbidden(child(path, "x-kubernetes-list-map-keys"), "must be empty to be structural");
  if (has(v, "x-kubernetes-list-type"))
    errs.forbidden(child(path, "x-kubernetes-list-type"), "must be undefined to be structural");
  if (has(v, "x-kubernetes-map-type"))
    errs.forbidden(child(path, "x-kubernetes-map-type"), "must be undefined to be structural");
  if (isSet(v, "x-kubernetes-validations"))
    errs.forbidden(child(path, "x-kubernetes-validations"), "must be empty to be structural");
  if (const Json& props = member(v, "properties"); props.is_object() && props.contains("metadata"))
    errs.forbidden(properties(path, "metadata"), "must not be specified in a nested context");
}

void valueValidationChecks(const Json& s, bool skipAnyOf, bool skipFirstAllOfAnyOf, Level level,
                           const std::string& path, FieldErrors& errs) {
  if (const Json& anyOf = member(s, "anyOf"); anyOf.is_array() && !skipAnyOf)
    for (size_t i = 0; i < anyOf.size(); ++i)
      nestedChecks(anyOf[i], false, level, index(child(path, "anyOf"), i), errs);
  if (const Json& allOf = member(s, "allOf"); allOf.is_array())
    for (size_t i = 0; i < allOf.size(); ++i)
      nestedChecks(allOf[i], skipFirstAllOfAnyOf && i == 0, level, index(child(path, "allOf"), i),
                   errs);
  if (const Json& oneOf = member(s, "oneOf"); oneOf.is_array())
    for (size_t i = 0; i < oneOf.size(); ++i)
      nestedChecks(oneOf[i], false, level, index(child(path, "oneOf"), i), errs);
  nestedChecks(member(s, "not"), false, level, child(path, "not"), errs);
  std::string pattern = getString(s, "pattern");
  if (!pattern.empty()) {
    std::string why;
    // RE2 syntax std::regex does not know (\p{..}, inline flags) is not held against the CRD.
    bool re2Only = pattern.find("\\p") != std::string::npos ||
                   pattern.find("\\P") != std::string::npos ||
                   pattern.find("(?") != std::string::npos;
    if (!detail::patternMatches(pattern, "", &why).has_value() && !re2Only)
      errs.invalid(child(path, "pattern"), pattern,
                   "must be a valid regular expression, but isn't: " + why);
  }
}

void metadataInvariants(const Json& m, bool checkMetadata, Level level, const std::string& path,
                        FieldErrors& errs) {
  if (!m.is_object()) return;
  std::string type = getString(m, "type");
  if (checkMetadata && type != "object") errs.invalid(child(path, "type"), type, "must be object");
  if (level != Level::kRoot) return;
  // Only name and generateName may be restricted: anything else specified is refused.
  bool other = false;
  for (auto it = m.begin(); it != m.end(); ++it) {
    const std::string& k = it.key();
    if (k == "type" || k == "default" || k == "example" || k == "externalDocs" || k == "id" ||
        k == "$schema" || !isSet(&it.value()))
      continue;
    if (k == "properties" && it.value().is_object()) {
      bool onlyNames = true;
      for (auto p = it.value().begin(); p != it.value().end(); ++p)
        if (p.key() != "name" && p.key() != "generateName") onlyNames = false;
      if (onlyNames) continue;
    }
    other = true;
  }
  if (other)
    errs.forbidden(path,
                   "must not specify anything other than name and generateName, but metadata "
                   "is implicitly specified");
}

void invariants(const Json& s, Level level, const std::string& path, FieldErrors& errs) {
  if (!s.is_object()) return;
  std::string type = getString(s, "type");
  bool intOrString = flag(s, "x-kubernetes-int-or-string");
  bool preserve = flag(s, "x-kubernetes-preserve-unknown-fields");
  bool embedded = flag(s, "x-kubernetes-embedded-resource");
  const Json& items = member(s, "items");
  if (type == "array" && items.is_null()) errs.required(child(path, "items"), "must be specified");
  if (items.is_object()) invariants(items, Level::kItem, child(path, "items"), errs);
  const Json& props = member(s, "properties");
  if (props.is_object())
    for (auto it = props.begin(); it != props.end(); ++it)
      invariants(it.value(), Level::kField, properties(path, it.key()), errs);
  const Json& ap = member(s, "additionalProperties");
  if (!ap.is_null()) {
    if (level == Level::kRoot)
      errs.forbidden(child(path, "additionalProperties"), "must not be used at the root");
    if (ap.is_object()) invariants(ap, Level::kField, child(path, "additionalProperties"), errs);
  }
  if (intOrString && preserve)
    errs.invalid(child(path, "x-kubernetes-preserve-unknown-fields"), true,
                 "must be false if x-kubernetes-int-or-string is true");
  if (intOrString && embedded)
    errs.invalid(child(path, "x-kubernetes-embedded-resource"), true,
                 "must be false if x-kubernetes-int-or-string is true");

  bool skipAnyOf = intOrStringAnyOf(member(s, "anyOf"));
  const Json& allOf = member(s, "allOf");
  bool skipFirstAllOfAnyOf =
      allOf.is_array() && !allOf.empty() && intOrStringAnyOf(member(allOf[0], "anyOf"));
  valueValidationChecks(s, skipAnyOf, skipFirstAllOfAnyOf, level, path, errs);

  bool checkMetadata = level == Level::kRoot || embedded;
  if (embedded && type != "object") {
    if (type.empty())
      errs.required(child(path, "type"),
                    "must be object if x-kubernetes-embedded-resource is true");
    else
      errs.invalid(child(path, "type"), type,
                   "must be object if x-kubernetes-embedded-resource is true");
  } else if (type.empty() && !intOrString && !preserve) {
    const char* detail = level == Level::kRoot   ? "must not be empty at the root"
                         : level == Level::kItem ? "must not be empty for specified array items"
                                                 : "must not be empty for specified object fields";
    errs.required(child(path, "type"), detail);
  }
  if (embedded && !ap.is_null())
    errs.forbidden(child(path, "additionalProperties"),
                   "must not be used if x-kubernetes-embedded-resource is set");
  if (level == Level::kRoot && !type.empty() && type != "object")
    errs.invalid(child(path, "type"), type, "must be object at the root");
  if (props.is_object() && checkMetadata) {
    for (const char* k : {"kind", "apiVersion"}) {
      const Json* p = findMember(props, k);
      if (p != nullptr && getString(*p, "type") != "string")
        errs.invalid(child(properties(path, k), "type"), getString(*p, "type"), "must be string");
    }
  }
  if (props.is_object() && props.contains("metadata"))
    metadataInvariants(props["metadata"], checkMetadata, level, properties(path, "metadata"), errs);
  if (embedded && !preserve && (!props.is_object() || props.empty()))
    errs.required(child(path, "properties"),
                  "must not be empty if x-kubernetes-embedded-resource is true without "
                  "x-kubernetes-preserve-unknown-fields");
}

void nestedCompleteness(const Json& v, const Json* s, const std::string& sPath,
                        const std::string& vPath, FieldErrors& errs);

void valueValidationCompleteness(const Json& v, const Json* s, const std::string& sPath,
                                 const std::string& vPath, FieldErrors& errs) {
  if (s == nullptr) {
    errs.required(sPath, "because it is defined in " + vPath);
    return;
  }
  if (const Json& no = member(v, "not"); no.is_object())
    nestedCompleteness(no, s, sPath, child(vPath, "not"), errs);
  for (const char* junctor : {"allOf", "anyOf", "oneOf"}) {
    const Json& list = member(v, junctor);
    if (!list.is_array()) continue;
    for (size_t i = 0; i < list.size(); ++i)
      if (list[i].is_object())
        nestedCompleteness(list[i], s, sPath, index(child(vPath, junctor), i), errs);
  }
}

void nestedCompleteness(const Json& v, const Json* s, const std::string& sPath,
                        const std::string& vPath, FieldErrors& errs) {
  if (s == nullptr || !s->is_object()) {
    errs.required(sPath, "because it is defined in " + vPath);
    return;
  }
  valueValidationCompleteness(v, s, sPath, vPath, errs);
  if (const Json& items = member(v, "items"); items.is_object()) {
    const Json& sItems = member(*s, "items");
    nestedCompleteness(items, sItems.is_object() ? &sItems : nullptr, child(sPath, "items"),
                       child(vPath, "items"), errs);
  }
  if (const Json& props = member(v, "properties"); props.is_object()) {
    const Json& sProps = member(*s, "properties");
    for (auto it = props.begin(); it != props.end(); ++it) {
      const Json* sp = sProps.is_object() ? findMember(sProps, it.key()) : nullptr;
      if (sp == nullptr)
        errs.required(properties(sPath, it.key()),
                      "because it is defined in " + properties(vPath, it.key()));
      else if (it.value().is_object())
        nestedCompleteness(it.value(), sp, properties(sPath, it.key()), properties(vPath, it.key()),
                           errs);
    }
  }
}

// ---- defaults -----------------------------------------------------------------------------

// ValidateDefaults; the root counts as an embedded resource.
void defaultChecks(const Json& s, const std::string& path, bool insideMeta, bool root,
                   FieldErrors& errs) {
  if (!s.is_object()) return;
  bool embedded = root || flag(s, "x-kubernetes-embedded-resource");
  if (embedded) insideMeta = false;
  if (const Json* d = findMember(s, "default"); d != nullptr && !d->is_null()) {
    schema::NodePtr node = convertSchema(s);
    std::string at = child(path, "default");
    if (!insideMeta) {
      Json pruned = *d;
      pruneUnknownFields(pruned, node.get(), embedded);
      if (pruned != *d) errs.invalid(at, *d, "must not have unknown fields");
    }
    errs.append(validateValue(*node, *d, at));
  }
  if (const Json& items = member(s, "items"); items.is_object())
    defaultChecks(items, child(path, "items"), insideMeta, false, errs);
  if (const Json& props = member(s, "properties"); props.is_object())
    for (auto it = props.begin(); it != props.end(); ++it)
      defaultChecks(it.value(), properties(path, it.key()),
                    insideMeta || (embedded && isMetaField(it.key())), false, errs);
}

bool structurallyConvertible(const Json& s) {
  // NewStructural refuses items given as a list of schemas anywhere in the tree.
  if (!s.is_object()) return true;
  if (member(s, "items").is_array()) return false;
  for (const char* k : {"items", "not", "additionalProperties"})
    if (!structurallyConvertible(member(s, k))) return false;
  for (const char* k : {"properties", "allOf", "anyOf", "oneOf"}) {
    const Json& m = member(s, k);
    if (m.is_object() || m.is_array())
      for (const Json& e : m)
        if (!structurallyConvertible(e)) return false;
  }
  return true;
}

// The JSONSchemaProps fields allowed at the root when the status subresource is on.
bool allowedAtRootWithStatus(std::string_view k) {
  static const std::set<std::string, std::less<>> kAllowed = {
      "description",
      "type",
      "format",
      "title",
      "maximum",
      "exclusiveMaximum",
      "minimum",
      "exclusiveMinimum",
      "maxLength",
      "minLength",
      "pattern",
      "maxItems",
      "minItems",
      "uniqueItems",
      "multipleOf",
      "required",
      "items",
      "properties",
      "externalDocs",
      "example",
      "x-kubernetes-preserve-unknown-fields",
      "x-kubernetes-validations"};
  return kAllowed.contains(k);
}

}  // namespace

FieldErrors validateOpenApiV3Schema(const Json& schema, const std::string& path,
                                    bool statusSubresource) {
  FieldErrors errs;
  if (!schema.is_object()) return errs;
  std::string schemaPath = path;  // "...schema.openAPIV3Schema"
  if (statusSubresource) {
    for (auto it = schema.begin(); it != schema.end(); ++it) {
      if (!isSet(&it.value())) continue;
      if (it.key() == "type") {
        if (it.value() != "object") {
          errs.invalid(child(schemaPath, "type"), it.value(),
                       "only \"object\" is allowed as the type at the root of the schema if the "
                       "status subresource is enabled");
          break;
        }
        continue;
      }
      if (!allowedAtRootWithStatus(it.key())) {
        errs.invalid(schemaPath, schema,
                     "only [Description Type Format Title Maximum ExclusiveMaximum Minimum "
                     "ExclusiveMinimum MaxLength MinLength Pattern MaxItems MinItems UniqueItems "
                     "MultipleOf Required Items Properties ExternalDocs Example "
                     "XPreserveUnknownFields XValidations] fields are allowed at the root of the "
                     "schema if the status subresource is enabled");
        break;
      }
    }
  }
  if (flag(schema, "nullable"))
    errs.forbidden(child(schemaPath, "nullable"), "nullable cannot be true at the root");

  FieldErrors structural;
  bool convertible = structurallyConvertible(schema);
  if (convertible) {
    invariants(schema, Level::kRoot, schemaPath, structural);
    valueValidationCompleteness(schema, &schema, schemaPath, schemaPath, structural);
    std::vector<validation::FieldError> sorted = structural.errors();
    std::sort(sorted.begin(), sorted.end(),
              [](const auto& a, const auto& b) { return a.toString() < b.toString(); });
    for (auto& e : sorted) errs.add(std::move(e));
    if (structural.empty()) defaultChecks(schema, schemaPath, false, true, errs);
  }
  openApiChecks(schema, schemaPath, Context{}, true, errs);
  if (errs.empty() && !convertible)
    errs.invalid(schemaPath, "", "OpenAPIV3Schema 'items' must be a schema, but is an array");
  return errs;
}

}  // namespace nave::crd
