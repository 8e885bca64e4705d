#include "server/printers/format.h"

#include <algorithm>
#include <chrono>

namespace nave::printers {

namespace {

const Json kNull;
const Json kEmptyArray = Json::array();
const Json kEmptyObject = Json::object();

bool isAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// The name part of a qualified name, also the shape of a non-empty label value.
bool isLabelName(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!isAlnum(s.front()) || !isAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return isAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

bool isDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view label = s.substr(start, dot == std::string_view::npos ? dot : dot - start);
    auto lowerAlnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (label.empty() || !lowerAlnum(label.front()) || !lowerAlnum(label.back())) return false;
    for (char c : label) {
      if (!lowerAlnum(c) && c != '-') return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool isLabelKey(std::string_view key) {
  size_t slash = key.find('/');
  if (slash == std::string_view::npos) return isLabelName(key);
  std::string_view prefix = key.substr(0, slash);
  std::string_view rest = key.substr(slash + 1);
  if (rest.find('/') != std::string_view::npos) return false;
  return isDnsSubdomain(prefix) && isLabelName(rest);
}

bool isLabelValue(std::string_view v) { return v.empty() || isLabelName(v); }

}  // namespace

const Json& at(const Json& v, std::initializer_list<std::string_view> keys) {
  const Json* cur = &v;
  for (std::string_view key : keys) {
    const Json* next = findMember(*cur, key);
    if (next == nullptr) return kNull;
    cur = next;
  }
  return *cur;
}

const Json& arrayOf(const Json& v) { return v.is_array() ? v : kEmptyArray; }
const Json& objectOf(const Json& v) { return v.is_object() ? v : kEmptyObject; }

std::string str(const Json& v) { return v.is_string() ? v.get<std::string>() : std::string(); }

int64_t integer(const Json& v, int64_t fallback) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_unsigned()) return static_cast<int64_t>(v.get<uint64_t>());
  return fallback;
}

bool boolean(const Json& v, bool fallback) { return v.is_boolean() ? v.get<bool>() : fallback; }

int64_t count(const Json& v) {
  return v.is_array() || v.is_object() ? static_cast<int64_t>(v.size()) : 0;
}

std::string name(const Json& object) { return str(at(object, {"metadata", "name"})); }

std::string quantity(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return v.dump();
  return "<nil>";
}

std::string intOrString(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer() || v.is_number_unsigned()) return std::to_string(integer(v));
  return "";
}

std::optional<WallTime> timestamp(const Json& v) {
  if (!v.is_string()) return std::nullopt;
  return parseRfc3339(v.get<std::string>());
}

std::string since(WallTime t, const PrintContext& context) {
  return between(t, context.now);
}

std::string sinceTimestamp(const Json& v, const PrintContext& context) {
  auto t = timestamp(v);
  return t ? since(*t, context) : "<unknown>";
}

std::string between(WallTime a, WallTime b) {
  return humanDuration(std::chrono::duration_cast<std::chrono::seconds>(b - a));
}

std::string formatLabels(const Json& labels) {
  // nlohmann keeps object members sorted by key, the order labels.Set.String() uses.
  std::vector<std::string> parts;
  for (const auto& [key, value] : objectOf(labels).items()) parts.push_back(key + "=" + str(value));
  return parts.empty() ? "<none>" : joinStrings(parts, ",");
}

std::optional<std::string> selectorString(const Json& selector) {
  if (selector.is_null()) return std::string();
  if (!selector.is_object()) return std::nullopt;
  const Json& matchLabels = at(selector, {"matchLabels"});
  const Json& matchExpressions = at(selector, {"matchExpressions"});
  if ((!matchLabels.is_null() && !matchLabels.is_object()) ||
      (!matchExpressions.is_null() && !matchExpressions.is_array()))
    return std::nullopt;
  // (key, text) of each requirement; the selector prints them ordered by key.
  std::vector<std::pair<std::string, std::string>> requirements;
  for (const auto& [key, value] : objectOf(matchLabels).items()) {
    if (!value.is_string() || !isLabelKey(key) || !isLabelValue(value.get<std::string>()))
      return std::nullopt;
    requirements.emplace_back(key, key + "=" + value.get<std::string>());
  }
  for (const Json& expr : arrayOf(matchExpressions)) {
    std::string key = str(at(expr, {"key"}));
    std::string op = str(at(expr, {"operator"}));
    const Json& rawValues = at(expr, {"values"});
    if (!rawValues.is_null() && !rawValues.is_array()) return std::nullopt;
    std::vector<std::string> values;
    for (const Json& v : arrayOf(rawValues)) {
      if (!v.is_string() || !isLabelValue(v.get<std::string>())) return std::nullopt;
      values.push_back(v.get<std::string>());
    }
    if (!isLabelKey(key)) return std::nullopt;
    if (op == "In" || op == "NotIn") {
      if (values.empty()) return std::nullopt;
      std::sort(values.begin(), values.end());
      std::string text = key + (op == "In" ? " in (" : " notin (") + joinStrings(values, ",") + ")";
      requirements.emplace_back(key, std::move(text));
    } else if (op == "Exists" || op == "DoesNotExist") {
      if (!values.empty()) return std::nullopt;
      requirements.emplace_back(key, op == "Exists" ? key : "!" + key);
    } else {
      return std::nullopt;
    }
  }
  std::stable_sort(requirements.begin(), requirements.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> texts;
  for (auto& r : requirements) texts.push_back(std::move(r.second));
  return joinStrings(texts, ",");
}

std::string formatLabelSelector(const Json& selector) {
  auto text = selectorString(selector);
  if (!text) return "<error>";
  return text->empty() ? "<none>" : *text;
}

ContainerCells containerCells(const Json& containers) {
  std::vector<std::string> names;
  std::vector<std::string> images;
  for (const Json& c : arrayOf(containers)) {
    names.push_back(str(at(c, {"name"})));
    images.push_back(str(at(c, {"image"})));
  }
  return {joinStrings(names, ","), joinStrings(images, ",")};
}

std::string accessModes(const Json& modes) {
  auto has = [&](std::string_view mode) {
    for (const Json& m : arrayOf(modes)) {
      if (m.is_string() && m.get<std::string>() == mode) return true;
    }
    return false;
  };
  std::vector<std::string> out;
  if (has("ReadWriteOnce")) out.push_back("RWO");
  if (has("ReadOnlyMany")) out.push_back("ROX");
  if (has("ReadWriteMany")) out.push_back("RWX");
  if (has("ReadWriteOncePod")) out.push_back("RWOP");
  return joinStrings(out, ",");
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string trimSpace(std::string_view s) {
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
  };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return std::string(s);
}

std::string joinStrings(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += sep;
    out += parts[i];
  }
  return out;
}

Column nameColumn() {
  return {"Name", "string", "name", "The object's name, unique among objects of its kind and scope.",
          0};
}

Column ageColumn() { return {"Age", "string", "", "How long ago the object was created.", 0}; }

Column column(std::string name, std::string type, std::string description, int priority) {
  return {std::move(name), std::move(type), "", std::move(description), priority};
}

Column containersColumn() {
  return column("Containers", "string", "The container names of the pod template.", 1);
}

Column imagesColumn() {
  return column("Images", "string", "The container images of the pod template.", 1);
}

std::string printerKey(std::string_view group, std::string_view kind) {
  std::string key(group);
  key += '/';
  key += kind;
  return key;
}

TablePrinter createdAtPrinter() {
  return {{nameColumn(),
           column("Created At", "date", "When the object was created, in RFC 3339 (UTC).")},
          [](const Json& obj, const PrintContext&) -> std::vector<Json> {
            auto created = timestamp(at(obj, {"metadata", "creationTimestamp"}));
            // Go formats a zero metav1.Time as the first instant of year 1.
            return {name(obj), created ? formatRfc3339(*created) : "0001-01-01T00:00:00Z"};
          }};
}

}  // namespace nave::printers
