#include "server/validation/field_errors.h"

#include <cmath>

namespace nave::validation {
namespace {

std::string_view typeText(FieldErrorType t) {
  switch (t) {
    case FieldErrorType::kNotFound: return "Not found";
    case FieldErrorType::kRequired: return "Required value";
    case FieldErrorType::kDuplicate: return "Duplicate value";
    case FieldErrorType::kInvalid: return "Invalid value";
    case FieldErrorType::kNotSupported: return "Unsupported value";
    case FieldErrorType::kForbidden: return "Forbidden";
    case FieldErrorType::kTooLong: return "Too long";
    case FieldErrorType::kTooMany: return "Too many";
    case FieldErrorType::kInternal: return "Internal error";
    case FieldErrorType::kTypeInvalid: return "Invalid value";
  }
  return "Invalid value";
}

bool allStrings(const Json& v) {
  for (const Json& e : v)
    if (!e.is_string()) return false;
  return true;
}

// Go's %#v of a map[string]string: keys sorted, as fmt prints maps.
std::string goStringMap(const Json& m) {
  if (m.empty()) return "map[string]string(nil)";
  std::string s = "map[string]string{";
  bool first = true;
  for (auto it = m.begin(); it != m.end(); ++it) {
    if (!first) s += ", ";
    first = false;
    s += Json(it.key()).dump() + ":" + it->dump();
  }
  return s + "}";
}

std::string goStringSlice(const Json& a) {
  if (a.empty()) return "[]string(nil)";
  std::string s = "[]string{";
  for (size_t i = 0; i < a.size(); ++i) s += (i ? ", " : "") + a[i].dump();
  return s + "}";
}

// A metav1.LabelSelector: an object holding only matchLabels and matchExpressions.
bool isLabelSelector(const Json& v) {
  if (!v.is_object() || v.empty()) return false;
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (it.key() == "matchLabels" && (it->is_object() || it->is_null()) && allStrings(*it)) continue;
    if (it.key() == "matchExpressions" && (it->is_array() || it->is_null())) continue;
    return false;
  }
  return true;
}

std::string goLabelSelector(const Json& v) {
  auto m = v.find("matchLabels");
  std::string s = "v1.LabelSelector{MatchLabels:" +
                  goStringMap(m != v.end() && m->is_object() ? *m : Json::object()) + ", MatchExpressions:";
  auto e = v.find("matchExpressions");
  if (e == v.end() || !e->is_array() || e->empty()) return s + "[]v1.LabelSelectorRequirement(nil)}";
  s += "[]v1.LabelSelectorRequirement{";
  for (size_t i = 0; i < e->size(); ++i) {
    const Json& r = (*e)[i];
    auto field = [&](const char* k) {
      auto f = r.find(k);
      return f != r.end() && f->is_string() ? f->dump() : std::string("\"\"");
    };
    auto values = r.find("values");
    s += std::string(i ? ", " : "") + "v1.LabelSelectorRequirement{Key:" + field("key") +
         ", Operator:" + field("operator") + ", Values:" +
         goStringSlice(values != r.end() && values->is_array() && allStrings(*values) ? *values
                                                                                       : Json::array()) +
         "}";
  }
  return s + "}}";
}

// Go's rendering of a bad value: %q for strings, %v for numbers and booleans, %#v for the maps,
// slices and label selectors Kubernetes reports most; JSON for other structures.
std::string formatValue(const Json& v) {
  if (v.is_null()) return "\"null\"";
  if (v.is_string()) return v.dump();
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::floor(d) == d && std::fabs(d) < 1e15) return std::to_string(static_cast<int64_t>(d));
  }
  if (v.is_object() && allStrings(v)) return goStringMap(v);
  if (v.is_array() && !v.empty() && allStrings(v)) return goStringSlice(v);
  if (isLabelSelector(v)) return goLabelSelector(v);
  return dumpJson(v);
}

}  // namespace

std::string FieldError::body() const {
  std::string s;
  switch (type) {
    case FieldErrorType::kRequired:
    case FieldErrorType::kForbidden:
    case FieldErrorType::kTooLong:
    case FieldErrorType::kInternal:
      s = typeText(type);
      break;
    default:
      s = typeText(type);
      if (hasBadValue) s += ": " + formatValue(badValue);
  }
  if (!detail.empty()) s += ": " + detail;
  return s;
}

std::string FieldError::toString() const { return field + ": " + body(); }

std::string_view FieldError::reason() const {
  switch (type) {
    case FieldErrorType::kNotFound: return "FieldValueNotFound";
    case FieldErrorType::kRequired: return "FieldValueRequired";
    case FieldErrorType::kDuplicate: return "FieldValueDuplicate";
    case FieldErrorType::kInvalid: return "FieldValueInvalid";
    case FieldErrorType::kNotSupported: return "FieldValueNotSupported";
    case FieldErrorType::kForbidden: return "FieldValueForbidden";
    case FieldErrorType::kTooLong: return "FieldValueTooLong";
    case FieldErrorType::kTooMany: return "FieldValueTooMany";
    case FieldErrorType::kInternal: return "InternalError";
    case FieldErrorType::kTypeInvalid: return "FieldValueTypeInvalid";
  }
  return "FieldValueInvalid";
}

void FieldErrors::notFound(std::string field, Json value) {
  add({FieldErrorType::kNotFound, std::move(field), std::move(value), true, ""});
}
void FieldErrors::required(std::string field, std::string detail) {
  add({FieldErrorType::kRequired, std::move(field), "", false, std::move(detail)});
}
void FieldErrors::duplicate(std::string field, Json value) {
  add({FieldErrorType::kDuplicate, std::move(field), std::move(value), true, ""});
}
void FieldErrors::invalid(std::string field, Json value, std::string detail) {
  add({FieldErrorType::kInvalid, std::move(field), std::move(value), true, std::move(detail)});
}
void FieldErrors::notSupported(std::string field, Json value,
                               const std::vector<std::string>& supported) {
  std::string detail;
  if (!supported.empty()) {
    detail = "supported values: ";
    for (size_t i = 0; i < supported.size(); ++i) {
      if (i) detail += ", ";
      detail += Json(supported[i]).dump();
    }
  }
  add({FieldErrorType::kNotSupported, std::move(field), std::move(value), true, std::move(detail)});
}
void FieldErrors::forbidden(std::string field, std::string detail) {
  add({FieldErrorType::kForbidden, std::move(field), "", false, std::move(detail)});
}
void FieldErrors::tooLong(std::string field, Json value, size_t maxLength) {
  add({FieldErrorType::kTooLong, std::move(field), std::move(value), true,
       "may not be more than " + std::to_string(maxLength) + " bytes"});
}
void FieldErrors::tooMany(std::string field, size_t actual, size_t max) {
  add({FieldErrorType::kTooMany, std::move(field), Json(actual), true,
       "must have at most " + std::to_string(max) + " items"});
}
void FieldErrors::typeInvalid(std::string field, Json value, std::string detail) {
  add({FieldErrorType::kTypeInvalid, std::move(field), std::move(value), true, std::move(detail)});
}
void FieldErrors::internal(std::string field, std::string detail) {
  add({FieldErrorType::kInternal, std::move(field), "", false, std::move(detail)});
}

std::string child(std::string_view path, std::string_view name) {
  if (path.empty()) return std::string(name);
  std::string out(path);
  out += '.';
  out += name;
  return out;
}
std::string index(std::string_view path, size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}
std::string key(std::string_view path, std::string_view k) {
  return std::string(path) + "[" + std::string(k) + "]";
}

Error invalidError(std::string_view group, std::string_view kind, std::string_view name,
                   const FieldErrors& errors) {
  std::string qualified(kind);
  if (!group.empty()) qualified += "." + std::string(group);
  std::string list;
  const auto& errs = errors.errors();
  if (errs.size() == 1) {
    list = errs[0].toString();
  } else {
    list = "[";
    for (size_t i = 0; i < errs.size(); ++i) {
      if (i) list += ", ";
      list += errs[i].toString();
    }
    list += "]";
  }
  Error e(ErrorCode::kInvalid, qualified + " \"" + std::string(name) + "\" is invalid: " + list);
  e.detailGroup = std::string(group);
  e.detailKind = std::string(kind);
  e.detailName = std::string(name);
  for (const FieldError& fe : errs)
    e.causes.push_back(ErrorCause{std::string(fe.reason()), fe.body(), fe.field});
  return e;
}

}  // namespace nave::validation
