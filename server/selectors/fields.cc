// Field selectors as Kubernetes' fields.ParseSelector reads them: comma-separated terms, each
// "field=value", "field==value" or "field!=value"; in values, ',', '=' and '\' are escaped with
// a backslash.
#include <algorithm>

#include "server/selectors/selectors.h"

namespace nave::selectors {
namespace {

// Splits on commas that are not escaped; escapes stay in the terms.
std::vector<std::string> splitTerms(std::string_view s) {
  std::vector<std::string> terms;
  if (s.empty()) return terms;
  size_t start = 0;
  bool inSlash = false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (inSlash) {
      inSlash = false;
    } else if (s[i] == '\\') {
      inSlash = true;
    } else if (s[i] == ',') {
      terms.emplace_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  terms.emplace_back(s.substr(start));
  return terms;
}

// The first operator in the term splits it; the field part has no escapes.
bool splitTerm(std::string_view term, std::string& lhs, Operator& op, std::string& rhs) {
  for (size_t i = 0; i < term.size(); ++i) {
    std::string_view rest = term.substr(i);
    size_t len = 0;
    if (rest.starts_with("!=")) {
      op = Operator::kNotEquals;
      len = 2;
    } else if (rest.starts_with("==")) {
      op = Operator::kEquals;
      len = 2;
    } else if (rest.starts_with("=")) {
      op = Operator::kEquals;
      len = 1;
    } else {
      continue;
    }
    lhs = term.substr(0, i);
    rhs = term.substr(i + len);
    return true;
  }
  return false;
}

// Length of the UTF-8 sequence starting at s[i], 1 for an invalid byte.
size_t runeLength(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 1;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 1;
  return n;
}

Result<std::string> unescapeValue(std::string_view s) {
  if (s.find_first_of("\\,=") == std::string_view::npos) return std::string(s);
  std::string out;
  out.reserve(s.size());
  bool inSlash = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (inSlash) {
      if (c != '\\' && c != ',' && c != '=') {
        size_t n = runeLength(s, i);
        // Go decodes an invalid byte as U+FFFD before printing it.
        std::string rune = n == 1 && static_cast<unsigned char>(c) >= 0x80
                               ? "\xEF\xBF\xBD"
                               : std::string(s.substr(i, n));
        return Error(ErrorCode::kBadRequest,
                     "invalid field selector: invalid escape sequence: \\" + rune);
      }
      out += c;
      inSlash = false;
      continue;
    }
    if (c == '\\') {
      inSlash = true;
    } else if (c == ',' || c == '=') {
      // Kubernetes prints the rune with %v, that is as its code point.
      return Error(ErrorCode::kBadRequest,
                   "invalid field selector: unescaped character in value: " +
                       std::to_string(static_cast<int>(c)));
    } else {
      out += c;
    }
  }
  if (inSlash)
    return Error(ErrorCode::kBadRequest, "invalid field selector: invalid escape sequence: \\");
  return out;
}

std::string escapeValue(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\' || c == ',' || c == '=') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

Result<FieldSelector> FieldSelector::parse(std::string_view text) {
  std::vector<std::string> parts = splitTerms(text);
  std::sort(parts.begin(), parts.end());
  FieldSelector s;
  for (const std::string& part : parts) {
    if (part.empty()) continue;
    FieldRequirement r;
    std::string rhs;
    if (!splitTerm(part, r.field, r.op, rhs)) {
      return Error(ErrorCode::kBadRequest, "invalid selector: '" + std::string(text) +
                                               "'; can't understand '" + part + "'");
    }
    r.value = TRY(unescapeValue(rhs));
    s.requirements_.push_back(std::move(r));
  }
  return s;
}

bool FieldSelector::matches(
    const std::function<std::optional<std::string>(std::string_view)>& valueOf) const {
  for (const FieldRequirement& r : requirements_) {
    std::string have = valueOf(r.field).value_or("");
    bool equal = have == r.value;
    if (r.op == Operator::kNotEquals ? equal : !equal) return false;
  }
  return true;
}

std::optional<std::string> FieldSelector::exactValue(std::string_view field) const {
  for (const FieldRequirement& r : requirements_)
    if (r.field == field && r.op != Operator::kNotEquals) return r.value;
  return std::nullopt;
}

std::string FieldSelector::toString() const {
  std::string out;
  for (const FieldRequirement& r : requirements_) {
    if (!out.empty()) out += ',';
    out += r.field;
    out += r.op == Operator::kNotEquals ? "!=" : "=";
    out += escapeValue(r.value);
  }
  return out;
}

}  // namespace nave::selectors
