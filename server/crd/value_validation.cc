// The schema validator of kube-openapi (pkg/validation/validate) as apiextensions-apiserver uses
// it for custom resources, and the conversion of its results to field errors
// (kubeOpenAPIResultToFieldErrors). Paths inside messages are kube-openapi's ("spec.items[0]",
// map values as "spec.labels.key"); field paths are Kubernetes' field.Path.
#include "server/crd/value_validation.h"

#include <algorithm>
#include <cmath>

#include "server/crd/internal.h"
#include "server/validation/validation.h"

namespace nave::crd {
namespace {

using detail::goFloat;
using schema::Node;
using schema::Type;
using validation::FieldErrors;

enum class Code {
  kInvalidType,
  kRequired,
  kTooLong,
  kTooShort,
  kPattern,
  kEnum,
  kMultipleOf,
  kMax,
  kMin,
  kUnique,
  kMaxItems,
  kMinItems,
  kTooFewProperties,
  kTooManyProperties,
  kMultipleOfMustBePositive,
  kComposite,  // anyOf/oneOf/allOf/not: not a *Validation in kube-openapi, reported on no field
};

struct OpenApiError {
  Code code;
  std::string name;  // the value's path, kube-openapi style
  std::string message;
  Json value;                // null when kube-openapi records none
  std::vector<Json> values;  // the enum
  int64_t valid = -1;        // the bound of TooLong, MaxItems, TooManyProperties
};

struct Outcome {
  std::vector<OpenApiError> errors;
  int matchCount = 0;  // how many checks applied: picks the closest anyOf/oneOf alternative

  bool valid() const { return errors.empty(); }
  void merge(Outcome&& o) {
    for (auto& e : o.errors) errors.push_back(std::move(e));
    matchCount += o.matchCount;
  }
  void add(OpenApiError e) { errors.push_back(std::move(e)); }
};

std::string quote(std::string_view s) {
  return Json(std::string(s)).dump();
}
std::string inBody(const std::string& name) {
  return name + " in body";
}

std::vector<std::string> typeNames(const Node& s) {
  switch (s.type) {
    case Type::kObject:
    case Type::kMap:
      return {"object"};
    case Type::kArray:
      return {"array"};
    case Type::kString:
      return {"string"};
    case Type::kInteger:
      return {"integer"};
    case Type::kNumber:
      return {"number"};
    case Type::kBoolean:
      return {"boolean"};
    case Type::kIntOrString:
      return {"integer", "string"};
    case Type::kAny:
      return {};
  }
  return {};
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string joinTypes(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& t : v) out += (out.empty() ? "" : ",") + t;
  return out;
}

OpenApiError invalidType(const std::string& name, const std::string& typeName,
                         const std::string& value) {
  return {Code::kInvalidType,
          name,
          inBody(name) + " must be of type " + typeName + ": " + quote(value),
          Json(value),
          {}};
}

// Unicode code points in a UTF-8 string (Go's utf8.RuneCountInString).
int64_t runeCount(std::string_view s) {
  int64_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

bool isFloat64Integer(double d) {
  return std::isfinite(d) && std::floor(d) == d;
}

class Validator {
 public:
  Outcome validate(const Node& s, const Json& v, const std::string& path) {
    Outcome out;
    if (v.is_null()) {
      out.merge(typeCheck(s, v, path));
      out.merge(enumCheck(s, v, path));
      return out;
    }
    out.merge(typeCheck(s, v, path));
    out.merge(schemaProps(s, v, path));
    if (v.is_string()) {
      out.merge(stringCheck(s, v.get_ref<const std::string&>(), path));
      out.merge(formatCheck(s, v.get_ref<const std::string&>(), path));
    }
    if (v.is_number()) out.merge(numberCheck(s, v, path));
    if (v.is_array()) out.merge(sliceCheck(s, v, path));
    out.merge(enumCheck(s, v, path));
    if (v.is_object()) out.merge(objectCheck(s, v, path));
    out.matchCount++;
    return out;
  }

 private:
  Outcome typeCheck(const Node& s, const Json& v, const std::string& path) {
    Outcome out;
    std::vector<std::string> types = typeNames(s);
    std::string format = s.type == Type::kIntOrString ? "" : detail::supportedFormat(s.format);
    if (types.empty() && format.empty()) return out;
    out.matchCount++;
    if (v.is_null()) {
      if (!types.empty() && !s.nullable) out.add(invalidType(path, joinTypes(types), "null"));
      return out;
    }
    std::string schType, goFormat;
    if (v.is_string())
      schType = "string";
    else if (v.is_number_integer())
      schType = "integer", goFormat = "int64";
    else if (v.is_number_float())
      schType = "number", goFormat = "float64";
    else if (v.is_boolean())
      schType = "boolean";
    else if (v.is_array())
      schType = "array";
    else
      schType = "object";
    bool isFloatInt =
        schType == "number" && isFloat64Integer(v.get<double>()) && contains(types, "integer");
    bool isIntFloat = schType == "integer" && contains(types, "number");
    bool stringOrArray = v.is_string() || v.is_array();
    if (!stringOrArray && !format.empty() &&
        !(contains(types, schType) || goFormat == format || isFloatInt || isIntFloat)) {
      out.add(invalidType(path, format, goFormat));
      return out;
    }
    if (!(contains(types, "number") || contains(types, "integer")) && !format.empty() &&
        stringOrArray)
      return out;
    if (!(contains(types, schType) || isFloatInt || isIntFloat))
      out.add(invalidType(path, joinTypes(types), schType));
    return out;
  }

  Outcome schemaProps(const Node& s, const Json& v, const std::string& path) {
    Outcome out;
    if (s.anyOf.empty() && s.oneOf.empty() && s.allOf.empty() && !s.notSchema) return out;
    if (!s.anyOf.empty()) {
      std::optional<Outcome> best;
      bool succeeded = false;
      for (const auto& alt : s.anyOf) {
        Outcome r = validate(*alt, v, path);
        if (r.valid()) {
          succeeded = true;
          best.reset();
          out.merge(std::move(r));
          break;
        }
        if (!best || r.matchCount > best->matchCount) best = std::move(r);
      }
      if (!succeeded)
        out.add({Code::kComposite,
                 path,
                 quote(path) + " must validate at least one schema (anyOf)",
                 nullptr,
                 {}});
      if (best) out.merge(std::move(*best));
    }
    if (!s.oneOf.empty()) {
      std::optional<Outcome> best;
      std::optional<Outcome> firstSuccess;
      int validated = 0;
      for (const auto& alt : s.oneOf) {
        Outcome r = validate(*alt, v, path);
        if (r.valid()) {
          ++validated;
          best.reset();
          if (!firstSuccess) firstSuccess = std::move(r);
          continue;
        }
        if (validated == 0 && (!best || r.matchCount > best->matchCount)) best = std::move(r);
      }
      if (validated != 1) {
        std::string more = validated == 0
                               ? "Found none valid"
                               : "Found " + std::to_string(validated) + " valid alternatives";
        out.add({Code::kComposite,
                 path,
                 quote(path) + " must validate one and only one schema (oneOf). " + more,
                 nullptr,
                 {}});
        if (best) out.merge(std::move(*best));
      } else if (firstSuccess) {
        out.merge(std::move(*firstSuccess));
      }
    }
    if (!s.allOf.empty()) {
      size_t validated = 0;
      for (const auto& part : s.allOf) {
        Outcome r = validate(*part, v, path);
        if (r.valid()) ++validated;
        out.merge(std::move(r));
      }
      if (validated != s.allOf.size())
        out.add({Code::kComposite,
                 path,
                 quote(path) + " must validate all the schemas (allOf)" +
                     (validated == 0 ? ". None validated" : ""),
                 nullptr,
                 {}});
    }
    if (s.notSchema && validate(*s.notSchema, v, path).valid())
      out.add({Code::kComposite,
               path,
               quote(path) + " must not validate the schema (not)",
               nullptr,
               {}});
    out.matchCount++;
    return out;
  }

  Outcome stringCheck(const Node& s, const std::string& data, const std::string& path) {
    Outcome out;
    out.matchCount++;
    int64_t n = runeCount(data);
    if (s.maxLength && n > *s.maxLength) {
      OpenApiError e{
          Code::kTooLong,
          path,
          inBody(path) + " should be at most " + std::to_string(*s.maxLength) + " chars long",
          Json(data),
          {}};
      e.valid = *s.maxLength;
      out.add(std::move(e));
      return out;
    }
    if (s.minLength && n < *s.minLength) {
      out.add({Code::kTooShort,
               path,
               inBody(path) + " should be at least " + std::to_string(*s.minLength) + " chars long",
               Json(data),
               {}});
      return out;
    }
    if (!s.pattern.empty()) {
      std::string why;
      std::optional<bool> m = detail::patternMatches(s.pattern, data, &why);
      // A pattern std::regex cannot read (RE2-only syntax) is not held against the value.
      if (m.has_value() && !*m)
        out.add({Code::kPattern,
                 path,
                 inBody(path) + " should match '" + s.pattern + "'",
                 Json(data),
                 {}});
    }
    return out;
  }

  Outcome formatCheck(const Node& s, const std::string& data, const std::string& path) {
    Outcome out;
    if (s.type == Type::kIntOrString) return out;
    std::string format = detail::supportedFormat(s.format);
    if (format.empty()) return out;
    out.matchCount++;
    if (!formatMatches(format, data)) out.add(invalidType(path, format, data));
    return out;
  }

  Outcome numberCheck(const Node& s, const Json& v, const std::string& path) {
    Outcome out;
    out.matchCount++;
    bool isInt = v.is_number_integer();
    double d = v.get<double>();
    auto bound = [&](double b) {
      return isInt ? std::to_string(static_cast<int64_t>(b)) : goFloat(b);
    };
    if (s.multipleOf) {
      double f = *s.multipleOf;
      bool intPath = isInt && f >= 1 && isFloat64Integer(f);
      if (f < 0) {
        out.add({Code::kMultipleOfMustBePositive,
                 path,
                 "factor MultipleOf declared for " + path + " must be positive: " + bound(f),
                 Json(f),
                 {}});
      } else if (intPath) {
        int64_t factor = static_cast<int64_t>(f);
        int64_t x = v.get<int64_t>();
        if (factor != 0 && x % factor != 0)
          out.add({Code::kMultipleOf,
                   path,
                   inBody(path) + " should be a multiple of " + std::to_string(factor),
                   v,
                   {}});
      } else if (f > 0) {
        double mult = f < 1 ? 1 / f * d : d / f;
        if (!isFloat64Integer(mult))
          out.add({Code::kMultipleOf,
                   path,
                   inBody(path) + " should be a multiple of " + goFloat(f),
                   v,
                   {}});
      }
    }
    if (s.minimum) {
      double m = *s.minimum;
      bool fail;
      if (isInt) {
        int64_t x = v.get<int64_t>(), b = static_cast<int64_t>(m);
        fail = s.exclusiveMinimum ? x <= b : x < b;
      } else {
        fail = s.exclusiveMinimum ? d <= m : d < m;
      }
      if (fail)
        out.add({Code::kMin,
                 path,
                 inBody(path) +
                     (s.exclusiveMinimum ? " should be greater than "
                                         : " should be greater than or equal to ") +
                     bound(m),
                 v,
                 {}});
    }
    if (s.maximum) {
      double m = *s.maximum;
      bool fail;
      if (isInt) {
        int64_t x = v.get<int64_t>(), b = static_cast<int64_t>(m);
        fail = s.exclusiveMaximum ? x >= b : x > b;
      } else {
        fail = s.exclusiveMaximum ? d >= m : d > m;
      }
      if (fail)
        out.add({Code::kMax,
                 path,
                 inBody(path) +
                     (s.exclusiveMaximum ? " should be less than "
                                         : " should be less than or equal to ") +
                     bound(m),
                 v,
                 {}});
    }
    return out;
  }

  Outcome sliceCheck(const Node& s, const Json& v, const std::string& path) {
    Outcome out;
    out.matchCount++;
    if (s.items) {
      for (size_t i = 0; i < v.size(); ++i)
        out.merge(validate(*s.items, v[i], path + "[" + std::to_string(i) + "]"));
    }
    int64_t size = static_cast<int64_t>(v.size());
    if (s.minItems && size < *s.minItems)
      out.add({Code::kMinItems,
               path,
               inBody(path) + " should have at least " + std::to_string(*s.minItems) + " items",
               Json(size),
               {}});
    if (s.maxItems && size > *s.maxItems) {
      OpenApiError e{
          Code::kMaxItems,
          path,
          inBody(path) + " should have at most " + std::to_string(*s.maxItems) + " items",
          Json(size),
          {}};
      e.valid = *s.maxItems;
      out.add(std::move(e));
    }
    if (s.uniqueItems) {
      for (size_t i = 1; i < v.size(); ++i) {
        bool dup = false;
        for (size_t j = 0; j < i && !dup; ++j) dup = v[i] == v[j];
        if (dup) {
          out.add(
              {Code::kUnique, path, inBody(path) + " shouldn't contain duplicates", nullptr, {}});
          break;
        }
      }
    }
    return out;
  }

  Outcome enumCheck(const Node& s, const Json& v, const std::string& path) {
    Outcome out;
    out.matchCount++;
    if (s.enumValues.empty()) return out;
    for (const Json& e : s.enumValues)
      if (!v.is_null() && v == e) return out;
    out.add({Code::kEnum, path, inBody(path) + " should be one of the enum", v, s.enumValues});
    return out;
  }

  Outcome objectCheck(const Node& s, const Json& v, const std::string& path) {
    Outcome out;
    out.matchCount++;
    int64_t n = static_cast<int64_t>(v.size());
    if (s.minProperties && n < *s.minProperties) {
      out.add({Code::kTooFewProperties,
               path,
               inBody(path) + " should have at least " + std::to_string(*s.minProperties) +
                   " properties",
               Json(n),
               {}});
      return out;
    }
    if (s.maxProperties && n > *s.maxProperties) {
      OpenApiError e{
          Code::kTooManyProperties,
          path,
          inBody(path) + " should have at most " + std::to_string(*s.maxProperties) + " properties",
          Json(n),
          {}};
      e.valid = *s.maxProperties;
      out.add(std::move(e));
      return out;
    }
    for (auto it = v.begin(); it != v.end(); ++it) {
      const Node* prop = s.property(it.key());
      if (prop == nullptr && s.additionalProperties)
        out.merge(validate(*s.additionalProperties, it.value(), path + "." + it.key()));
    }
    for (auto it = v.begin(); it != v.end(); ++it) {
      const Node* prop = s.property(it.key());
      if (prop != nullptr)
        out.merge(validate(*prop, it.value(), path.empty() ? it.key() : path + "." + it.key()));
    }
    for (const std::string& r : s.required)
      if (!v.contains(r))
        out.add({Code::kRequired,
                 path + "." + r,
                 inBody(path + "." + r) + " is required",
                 nullptr,
                 {}});
    return out;
  }
};

std::string childPath(std::string_view base, std::string_view name) {
  if (base.empty()) return std::string(name);
  return validation::child(base, name);
}

// kubeOpenAPIResultToFieldErrors.
FieldErrors toFieldErrors(std::string_view base, const std::vector<OpenApiError>& errors) {
  FieldErrors out;
  std::string nilPath = base.empty() ? "<nil>" : std::string(base);
  for (const OpenApiError& e : errors) {
    if (e.code == Code::kComposite) {
      out.invalid(nilPath, "", e.message);
      continue;
    }
    std::string field = nilPath;
    std::string_view name = e.name;
    if (!name.empty() && name != ".") {
      if (name.front() == '.') name.remove_prefix(1);
      field = childPath(base, name);
    }
    Json value = e.value.is_null() ? Json("") : e.value;
    switch (e.code) {
      case Code::kRequired:
        out.required(field);
        break;
      case Code::kEnum: {
        std::vector<std::string> values;
        for (const Json& a : e.values)
          values.push_back(a.is_string() ? a.get<std::string>() : dumpJson(a));
        out.notSupported(field, e.value, values);
        break;
      }
      case Code::kTooLong:
        out.tooLong(field, value, static_cast<size_t>(std::max<int64_t>(e.valid, 0)));
        break;
      case Code::kMaxItems:
      case Code::kTooManyProperties:
        out.tooMany(field, static_cast<size_t>(value.get<int64_t>()),
                    static_cast<size_t>(std::max<int64_t>(e.valid, 0)));
        break;
      case Code::kInvalidType:
        out.typeInvalid(field, value, e.message);
        break;
      default:
        out.invalid(field, value, e.message);
    }
  }
  return out;
}

// --- list sets and maps ------------------------------------------------------------------------

void listSetsAndMaps(const Node* s, const Json& v, const std::string& path, FieldErrors& errs);

void listSetsAndMapsObject(const Node* s, const Json& obj, const std::string& path,
                           FieldErrors& errs) {
  if (s == nullptr) return;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (const Node* prop = s->property(it.key()); prop != nullptr)
      listSetsAndMaps(prop, it.value(), childPath(path, it.key()), errs);
    else if (s->additionalProperties)
      listSetsAndMaps(s->additionalProperties.get(), it.value(), validation::key(path, it.key()),
                      errs);
  }
}

// The indices of the first repetition of each duplicated value.
std::vector<size_t> duplicates(const std::vector<Json>& values) {
  std::vector<size_t> out;
  for (size_t i = 0; i < values.size(); ++i) {
    size_t seen = 0;
    for (size_t j = 0; j < i; ++j)
      if (values[j] == values[i]) ++seen;
    if (seen == 1) out.push_back(i);
  }
  return out;
}

void listSetsAndMaps(const Node* s, const Json& v, const std::string& path, FieldErrors& errs) {
  if (s == nullptr) return;
  if (v.is_object()) return listSetsAndMapsObject(s, v, path, errs);
  if (!v.is_array()) return;
  if (s->listType == "set") {
    std::vector<Json> items(v.begin(), v.end());
    for (size_t i : duplicates(items)) errs.duplicate(validation::index(path, i), v[i]);
  } else if (s->listType == "map") {
    bool objects = true;
    for (size_t i = 0; i < v.size() && objects; ++i) {
      if (!v[i].is_null() && !v[i].is_object()) {
        errs.invalid(validation::index(path, i), v[i],
                     "must be an object for an array of list-type map");
        objects = false;
      }
    }
    if (objects && v.size() > 1) {
      // An item without a key field has an "unspecified" key, distinct from null.
      std::vector<Json> keys;
      for (const Json& item : v) {
        Json key = Json::object();
        if (item.is_object())
          for (const std::string& k : s->listMapKeys)
            if (item.contains(k)) key[k] = item[k];
        keys.push_back(std::move(key));
      }
      for (size_t i : duplicates(keys)) errs.duplicate(validation::index(path, i), keys[i]);
    }
  }
  if (s->items)
    for (size_t i = 0; i < v.size(); ++i)
      listSetsAndMaps(s->items.get(), v[i], validation::index(path, i), errs);
}

// --- embedded resources ------------------------------------------------------------------------

// schema.ParseGroupVersion: "v1", "group/version"; more than one slash is an error.
std::optional<std::string> groupVersionError(const std::string& gv) {
  size_t slash = gv.find('/');
  if (slash == std::string::npos) return std::nullopt;
  if (gv.find('/', slash + 1) != std::string::npos) return "unexpected GroupVersion string: " + gv;
  return std::nullopt;
}

void embeddedResource(const Json& x, const std::string& path, FieldErrors& errs) {
  if (!x.contains("apiVersion")) errs.required(childPath(path, "apiVersion"), "must not be empty");
  if (!x.contains("kind")) errs.required(childPath(path, "kind"), "must not be empty");
  for (auto it = x.begin(); it != x.end(); ++it) {
    const Json& v = it.value();
    if (it.key() == "apiVersion") {
      std::string p = childPath(path, "apiVersion");
      if (!v.is_string())
        errs.invalid(p, v, "must be a string");
      else if (v.get_ref<const std::string&>().empty())
        errs.invalid(p, v, "must not be empty");
      else if (auto e = groupVersionError(v.get<std::string>()))
        errs.invalid(p, v, *e);
    } else if (it.key() == "kind") {
      std::string p = childPath(path, "kind");
      if (!v.is_string()) {
        errs.invalid(p, v, "must be a string");
      } else if (v.get_ref<const std::string&>().empty()) {
        errs.invalid(p, v, "must not be empty");
      } else {
        std::string lower = v.get<std::string>();
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        auto problems = detail::dns1035LabelErrors(lower);
        if (!problems.empty()) {
          std::string msg = "may have mixed case, but should otherwise match: ";
          for (size_t i = 0; i < problems.size(); ++i) msg += (i ? "," : "") + problems[i];
          errs.invalid(p, v, msg);
        }
      }
    } else if (it.key() == "metadata") {
      std::string p = childPath(path, "metadata");
      if (!v.is_object()) {
        errs.invalid(p, v, "must be an object");
        continue;
      }
      Json meta = v;
      if (getString(meta, "name").empty()) meta["name"] = "fakename";
      Json wrapper = {{"metadata", meta}};
      FieldErrors inner;
      validation::validateObjectMeta(wrapper, !getString(meta, "namespace").empty(), false, inner);
      for (validation::FieldError e : inner.errors()) {
        e.field = path.empty() ? e.field : path + "." + e.field;
        errs.add(std::move(e));
      }
    }
  }
}

void embedded(const Node* s, const Json& v, const std::string& path, FieldErrors& errs) {
  if (s == nullptr) return;
  if (v.is_object()) {
    if (s->embeddedResource) embeddedResource(v, path, errs);
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (const Node* prop = s->property(it.key()); prop != nullptr)
        embedded(prop, it.value(), childPath(path, it.key()), errs);
      else if (s->additionalProperties)
        embedded(s->additionalProperties.get(), it.value(), validation::key(path, it.key()), errs);
    }
  } else if (v.is_array()) {
    for (size_t i = 0; i < v.size(); ++i)
      embedded(s->items.get(), v[i], validation::index(path, i), errs);
  }
}

}  // namespace

FieldErrors validateValue(const Node& schema, const Json& value, std::string_view fieldPath) {
  Validator v;
  Outcome r = v.validate(schema, value, "");
  return toFieldErrors(fieldPath, r.errors);
}

FieldErrors validateListSetsAndMaps(const Node& schema, const Json& object,
                                    std::string_view fieldPath) {
  FieldErrors errs;
  listSetsAndMaps(&schema, object, std::string(fieldPath), errs);
  return errs;
}

FieldErrors validateEmbeddedResources(const Node& schema, const Json& object,
                                      std::string_view fieldPath) {
  FieldErrors errs;
  // The object's own root is validated as a resource elsewhere; only nested ones here.
  if (object.is_object()) {
    for (auto it = object.begin(); it != object.end(); ++it) {
      if (const Node* prop = schema.property(it.key()); prop != nullptr)
        embedded(prop, it.value(), childPath(fieldPath, it.key()), errs);
      else if (schema.additionalProperties)
        embedded(schema.additionalProperties.get(), it.value(),
                 validation::key(std::string(fieldPath), it.key()), errs);
    }
  }
  return errs;
}

}  // namespace nave::crd
