// Tolerant JSON accessors and small shared checks. Objects reach validation after decoding but
// possibly before schema checks, so every accessor accepts members of the wrong type.
#include <cmath>

#include "server/validation/internal.h"

namespace nave::validation::detail {
namespace {

const Json& emptyArray() {
  static const Json kEmpty = Json::array();
  return kEmpty;
}
const Json& emptyObject() {
  static const Json kEmpty = Json::object();
  return kEmpty;
}
const Json& nullJson() {
  static const Json kNull;
  return kNull;
}

// Go's zero value: absent from JSON output with omitempty, and equal to "unset" when compared.
bool isZeroValue(const Json& v) {
  if (v.is_null()) return true;
  if (v.is_string()) return v.get_ref<const std::string&>().empty();
  if (v.is_array() || v.is_object()) return v.empty();
  if (v.is_boolean()) return !v.get<bool>();
  if (v.is_number()) return v.get<double>() == 0;
  return false;
}

}  // namespace

const Json* get(const Json& obj, std::string_view key) {
  const Json* m = findMember(obj, key);
  return m != nullptr && !m->is_null() ? m : nullptr;
}
const Json* getObject(const Json& obj, std::string_view key) {
  const Json* m = findMember(obj, key);
  return m != nullptr && m->is_object() ? m : nullptr;
}
const Json* getArray(const Json& obj, std::string_view key) {
  const Json* m = findMember(obj, key);
  return m != nullptr && m->is_array() ? m : nullptr;
}
const Json& arrayOf(const Json& obj, std::string_view key) {
  const Json* m = getArray(obj, key);
  return m != nullptr ? *m : emptyArray();
}
const Json& objectOf(const Json& obj, std::string_view key) {
  const Json* m = getObject(obj, key);
  return m != nullptr ? *m : emptyObject();
}
std::string str(const Json& obj, std::string_view key) { return getString(obj, key, ""); }

bool isInteger(const Json& v) {
  if (v.is_number_integer()) return true;
  if (v.is_number_float()) {
    double d = v.get<double>();
    return std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.2e18;
  }
  return false;
}

int64_t intValue(const Json& v) {
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    return u > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  if (isInteger(v)) return static_cast<int64_t>(v.get<double>());
  return 0;
}

std::optional<int64_t> optInt(const Json& obj, std::string_view key) {
  const Json* m = get(obj, key);
  if (m == nullptr || !isInteger(*m)) return std::nullopt;
  return intValue(*m);
}

bool truthy(const Json& obj, std::string_view key) { return getBool(obj, key, false); }

bool isSet(const Json& obj, std::string_view key) {
  const Json* m = findMember(obj, key);
  return m != nullptr && !isZeroValue(*m);
}

void defaultIfAbsent(Json& obj, std::string_view key, Json value) {
  if (!obj.is_object()) return;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) obj[std::string(key)] = std::move(value);
}

void defaultIfZero(Json& obj, std::string_view key, Json value) {
  if (!obj.is_object()) return;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null() || (it->is_string() && it->get_ref<const std::string&>().empty()) ||
      (it->is_number() && it->get<double>() == 0))
    obj[std::string(key)] = std::move(value);
}

Json* ensureObject(Json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    Json& m = obj[std::string(key)];
    m = Json::object();
    return &m;
  }
  return it->is_object() ? &*it : nullptr;
}

Json* mutObject(Json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it != obj.end() && it->is_object() ? &*it : nullptr;
}

Json* mutArray(Json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it != obj.end() && it->is_array() ? &*it : nullptr;
}

const Json& memberOrNull(const Json& obj, std::string_view key) {
  const Json* m = findMember(obj, key);
  return m != nullptr ? *m : nullJson();
}

// Semantic equality in the spirit of apimachinery's equality.Semantic: nil and empty are the
// same, and so are an absent member and its zero value.
bool jsonEqual(const Json& a, const Json& b) {
  if (isZeroValue(a) && isZeroValue(b)) return true;
  if (a.is_object() && b.is_object()) {
    for (auto it = a.begin(); it != a.end(); ++it) {
      auto other = b.find(it.key());
      if (other == b.end()) {
        if (!isZeroValue(*it)) return false;
      } else if (!jsonEqual(*it, *other)) {
        return false;
      }
    }
    for (auto it = b.begin(); it != b.end(); ++it)
      if (a.find(it.key()) == a.end() && !isZeroValue(*it)) return false;
    return true;
  }
  if (a.is_array() && b.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (a.is_number() && b.is_number()) return a.get<double>() == b.get<double>();
  return a == b;
}

void nonNegative(const Json& obj, std::string_view key, const std::string& path,
                 FieldErrors& errs) {
  const Json* m = get(obj, key);
  if (m != nullptr && m->is_number() && m->get<double>() < 0)
    errs.invalid(path, *m, std::string(kNegative));
}

void immutableField(const Json& obj, const Json& old, std::string_view key,
                    const std::string& path, FieldErrors& errs) {
  const Json& a = memberOrNull(obj, key);
  if (!jsonEqual(a, memberOrNull(old, key))) errs.invalid(path, a, std::string(kImmutable));
}

std::optional<int64_t> intOrPercent(const Json& value) {
  if (isInteger(value)) return intValue(value);
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    if (!isValidPercent(s).empty()) return std::nullopt;
    int64_t n = 0;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      n = n * 10 + (s[i] - '0');
      if (n > 1000000000) return n;
    }
    return n;
  }
  return std::nullopt;
}

// ValidatePositiveIntOrPercent: a percent string or an integer >= 0.
void validatePositiveIntOrPercent(const Json& value, const std::string& path, FieldErrors& errs) {
  if (value.is_string()) {
    for (const std::string& m : isValidPercent(value.get<std::string>()))
      errs.invalid(path, value, m);
  } else if (isInteger(value)) {
    if (intValue(value) < 0) errs.invalid(path, value, std::string(kNegative));
  } else if (!value.is_null()) {
    errs.invalid(path, value, "must be an integer or percentage (e.g '5%')");
  }
}

void validateNotMoreThan100Percent(const Json& value, const std::string& path,
                                   FieldErrors& errs) {
  if (!value.is_string()) return;
  std::optional<int64_t> v = intOrPercent(value);
  if (v && *v > 100) errs.invalid(path, value, "must not be greater than 100%");
}

}  // namespace nave::validation::detail
