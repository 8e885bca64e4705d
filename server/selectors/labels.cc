// Label selectors: the string grammar of labels.Parse, metav1.LabelSelector conversion, matching
// and the canonical text. Error texts follow Kubernetes' field.Error and aggregate formatting so
// clients that match on them keep working.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <set>

#include "server/selectors/selectors.h"

#include "common/strings.h"

namespace nave::selectors {
namespace {

// ---- Kubernetes' qualified-name and label-value validation ----

constexpr size_t kQualifiedNameMaxLength = 63;
constexpr size_t kLabelValueMaxLength = 63;
constexpr size_t kDnsSubdomainMaxLength = 253;

constexpr std::string_view kQualifiedNameMsg =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character";
constexpr std::string_view kQualifiedNameFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
constexpr std::string_view kLabelValueMsg =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character";
constexpr std::string_view kLabelValueFmt = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
constexpr std::string_view kSubdomainMsg =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character";
constexpr std::string_view kSubdomainFmt =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";

bool isAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool isLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], i.e. non-empty, alphanumeric at both ends.
bool matchesQualifiedName(std::string_view s) {
  if (s.empty() || !isAlnum(s.front()) || !isAlnum(s.back())) return false;
  for (char c : s)
    if (!isAlnum(c) && c != '-' && c != '_' && c != '.') return false;
  return true;
}

// One or more DNS labels ([a-z0-9]([-a-z0-9]*[a-z0-9])?) joined by dots.
bool matchesSubdomain(std::string_view s) {
  if (s.empty()) return false;
  size_t start = 0;
  for (;;) {
    size_t dot = s.find('.', start);
    std::string_view label = s.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (label.empty() || !isLowerAlnum(label.front()) || !isLowerAlnum(label.back())) return false;
    for (char c : label)
      if (!isLowerAlnum(c) && c != '-') return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::string regexError(std::string_view msg, std::string_view fmt,
                       std::initializer_list<std::string_view> examples) {
  std::string out(msg);
  out += " (e.g. ";
  bool first = true;
  for (std::string_view e : examples) {
    if (!first) out += " or ";
    first = false;
    out += "'";
    out += e;
    out += "', ";
  }
  out += "regex used for validation is '";
  out += fmt;
  out += "')";
  return out;
}

std::string maxLenError(size_t n) {
  return "must be no more than " + std::to_string(n) + " characters";
}

std::vector<std::string> qualifiedNameErrors(std::string_view value) {
  std::vector<std::string> errs;
  std::string_view name = value;
  size_t slashes = std::count(value.begin(), value.end(), '/');
  if (slashes > 1) {
    errs.push_back(
        "a qualified name " +
        regexError(kQualifiedNameMsg, kQualifiedNameFmt, {"MyName", "my.name", "123-abc"}) +
        " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
    return errs;
  }
  if (slashes == 1) {
    size_t slash = value.find('/');
    std::string_view prefix = value.substr(0, slash);
    name = value.substr(slash + 1);
    if (prefix.empty()) {
      errs.push_back("prefix part must be non-empty");
    } else {
      if (prefix.size() > kDnsSubdomainMaxLength)
        errs.push_back("prefix part " + maxLenError(kDnsSubdomainMaxLength));
      if (!matchesSubdomain(prefix))
        errs.push_back("prefix part " + regexError(kSubdomainMsg, kSubdomainFmt, {"example.com"}));
    }
  }
  if (name.empty()) {
    errs.push_back("name part must be non-empty");
  } else if (name.size() > kQualifiedNameMaxLength) {
    errs.push_back("name part " + maxLenError(kQualifiedNameMaxLength));
  }
  if (!matchesQualifiedName(name)) {
    errs.push_back("name part " + regexError(kQualifiedNameMsg, kQualifiedNameFmt,
                                             {"MyName", "my.name", "123-abc"}));
  }
  return errs;
}

std::vector<std::string> labelValueErrors(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > kLabelValueMaxLength) errs.push_back(maxLenError(kLabelValueMaxLength));
  if (!value.empty() && !matchesQualifiedName(value))
    errs.push_back(regexError(kLabelValueMsg, kLabelValueFmt, {"MyValue", "my_value", "12345"}));
  return errs;
}

// ---- Go-compatible formatting of error values ----

// Go's %q for a string: printable text as is, escapes for quotes, backslashes and controls.

// Go's %#v for a []string; `isNil` distinguishes a nil slice from an empty one.
std::string goStringSlice(const std::vector<std::string>& values, bool isNil) {
  if (isNil) return "[]string(nil)";
  std::string out = "[]string{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ", ";
    out += goQuote(values[i]);
  }
  return out + "}";
}

// A field.Error of type Invalid: "<path>: Invalid value: <value>: <detail>".
std::string invalidValue(std::string_view path, std::string_view formattedValue,
                         std::string_view detail) {
  std::string out(path);
  out += ": Invalid value: ";
  out += formattedValue;
  if (!detail.empty()) {
    out += ": ";
    out += detail;
  }
  return out;
}

// utilerrors.Aggregate over a field.ErrorList: duplicates dropped, several errors bracketed.
std::string aggregate(const std::vector<std::string>& errs) {
  std::vector<std::string> unique;
  std::set<std::string> seen;
  for (const std::string& e : errs)
    if (seen.insert(e).second) unique.push_back(e);
  if (unique.size() == 1) return unique[0];
  std::string out = "[";
  for (size_t i = 0; i < unique.size(); ++i) {
    if (i) out += ", ";
    out += unique[i];
  }
  return out + "]";
}

// strconv.ParseInt(s, 10, 64): optional sign, decimal digits, no spaces, in range.
bool parseInt64(std::string_view s, int64_t& out) {
  if (s.empty()) return false;
  size_t i = 0;
  bool negative = false;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    i = 1;
  }
  if (i == s.size()) return false;
  uint64_t magnitude = 0;
  const uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    uint64_t digit = static_cast<uint64_t>(s[i] - '0');
    if (magnitude > (limit - digit) / 10) return false;
    magnitude = magnitude * 10 + digit;
  }
  out = negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
  return true;
}

// labels.NewRequirement. `keyPath` is where a bad key is reported ("key" for API objects);
// values are reported under "values[i][key]". `valuesNil` mirrors a nil Go slice in messages.
Result<LabelRequirement> newRequirement(std::string key, Operator op,
                                        std::vector<std::string> values, bool valuesNil) {
  std::vector<std::string> errs;
  if (auto keyErrs = qualifiedNameErrors(key); !keyErrs.empty())
    errs.push_back(invalidValue("key", goQuote(key), join(keyErrs, "; ")));
  switch (op) {
    case Operator::kIn:
    case Operator::kNotIn:
      if (values.empty())
        errs.push_back(invalidValue("values", goStringSlice(values, valuesNil),
                                    "for 'in', 'notin' operators, values set can't be empty"));
      break;
    case Operator::kEquals:
    case Operator::kDoubleEquals:
    case Operator::kNotEquals:
      if (values.size() != 1)
        errs.push_back(invalidValue("values", goStringSlice(values, valuesNil),
                                    "exact-match compatibility requires one single value"));
      break;
    case Operator::kExists:
    case Operator::kDoesNotExist:
      if (!values.empty())
        errs.push_back(invalidValue("values", goStringSlice(values, valuesNil),
                                    "values set must be empty for exists and does not exist"));
      break;
    case Operator::kGreaterThan:
    case Operator::kLessThan:
      if (values.size() != 1)
        errs.push_back(invalidValue("values", goStringSlice(values, valuesNil),
                                    "for 'Gt', 'Lt' operators, exactly one value is required"));
      for (size_t i = 0; i < values.size(); ++i) {
        int64_t ignored;
        if (!parseInt64(values[i], ignored))
          errs.push_back(invalidValue("values[" + std::to_string(i) + "]", goQuote(values[i]),
                                      "for 'Gt', 'Lt' operators, the value must be an integer"));
      }
      break;
  }
  for (size_t i = 0; i < values.size(); ++i) {
    if (auto valErrs = labelValueErrors(values[i]); !valErrs.empty()) {
      errs.push_back(invalidValue("values[" + std::to_string(i) + "][" + key + "]",
                                  goQuote(values[i]), join(valErrs, "; ")));
    }
  }
  if (!errs.empty()) return Error(ErrorCode::kBadRequest, aggregate(errs));
  std::sort(values.begin(), values.end());
  return LabelRequirement{std::move(key), op, std::move(values)};
}

// ---- The selector grammar (labels.Parse) ----

enum class Token {
  kError,
  kEndOfString,
  kClosedPar,
  kComma,
  kDoesNotExist,
  kDoubleEquals,
  kEquals,
  kGreaterThan,
  kIdentifier,
  kIn,
  kLessThan,
  kNotEquals,
  kNotIn,
  kOpenPar,
};

struct ScannedItem {
  Token tok;
  std::string literal;
};

bool isWhitespace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
bool isSpecialSymbol(char c) {
  return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

std::optional<Token> literalToken(std::string_view s) {
  if (s == ")") return Token::kClosedPar;
  if (s == ",") return Token::kComma;
  if (s == "!") return Token::kDoesNotExist;
  if (s == "==") return Token::kDoubleEquals;
  if (s == "=") return Token::kEquals;
  if (s == ">") return Token::kGreaterThan;
  if (s == "in") return Token::kIn;
  if (s == "<") return Token::kLessThan;
  if (s == "!=") return Token::kNotEquals;
  if (s == "notin") return Token::kNotIn;
  if (s == "(") return Token::kOpenPar;
  return std::nullopt;
}

// Kubernetes' lexer reads bytes and treats a NUL byte like the end of the input.
class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  ScannedItem lex() {
    char c = read();
    while (isWhitespace(c)) c = read();
    if (c == 0) return {Token::kEndOfString, ""};
    unread();
    return isSpecialSymbol(c) ? scanSpecialSymbol() : scanIdOrKeyword();
  }

 private:
  char read() { return pos_ < s_.size() ? s_[pos_++] : '\0'; }
  void unread() { --pos_; }

  ScannedItem scanIdOrKeyword() {
    std::string buffer;
    for (;;) {
      char c = read();
      if (c == 0) break;
      if (isSpecialSymbol(c) || isWhitespace(c)) {
        unread();
        break;
      }
      buffer += c;
    }
    if (auto t = literalToken(buffer)) return {*t, buffer};
    return {Token::kIdentifier, buffer};
  }

  // The longest run of special symbols that still forms an operator ("!=", "==", ...).
  ScannedItem scanSpecialSymbol() {
    std::string buffer;
    std::optional<ScannedItem> last;
    for (;;) {
      char c = read();
      if (c == 0) break;
      if (!isSpecialSymbol(c)) {
        unread();
        break;
      }
      buffer += c;
      if (auto t = literalToken(buffer)) {
        last = ScannedItem{*t, buffer};
      } else if (last) {
        unread();
        break;
      }
    }
    if (!last) return {Token::kError, "error expected: keyword found '" + buffer + "'"};
    return *last;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

enum class Context { kKeyAndOperator, kValues };

class Parser {
 public:
  explicit Parser(std::string_view text) {
    Lexer lexer(text);
    for (;;) {
      items_.push_back(lexer.lex());
      if (items_.back().tok == Token::kEndOfString) break;
    }
  }

  Result<std::vector<LabelRequirement>> parse() {
    std::vector<LabelRequirement> reqs;
    for (;;) {
      auto [tok, lit] = lookahead(Context::kValues);
      switch (tok) {
        case Token::kIdentifier:
        case Token::kDoesNotExist: {
          auto r = parseRequirement();
          if (!r.ok())
            return Error(ErrorCode::kBadRequest,
                         "unable to parse requirement: " + r.error().message());
          reqs.push_back(std::move(*r));
          auto [t, l] = consume(Context::kValues);
          if (t == Token::kEndOfString) return reqs;
          if (t != Token::kComma)
            return Error(ErrorCode::kBadRequest,
                         "found '" + l + "', expected: ',' or 'end of string'");
          auto [t2, l2] = lookahead(Context::kValues);
          if (t2 != Token::kIdentifier && t2 != Token::kDoesNotExist)
            return Error(ErrorCode::kBadRequest,
                         "found '" + l2 + "', expected: identifier after ','");
          break;
        }
        case Token::kEndOfString:
          return reqs;
        default:
          return Error(ErrorCode::kBadRequest,
                       "found '" + lit + "', expected: !, identifier, or 'end of string'");
      }
    }
  }

 private:
  static Token inContext(Token t, Context ctx) {
    if (ctx == Context::kValues && (t == Token::kIn || t == Token::kNotIn))
      return Token::kIdentifier;
    return t;
  }
  std::pair<Token, std::string> lookahead(Context ctx) const {
    const ScannedItem& it = items_[pos_];
    return {inContext(it.tok, ctx), it.literal};
  }
  std::pair<Token, std::string> consume(Context ctx) {
    const ScannedItem& it = items_[pos_];
    if (pos_ + 1 < items_.size()) ++pos_;  // the end token repeats
    return {inContext(it.tok, ctx), it.literal};
  }

  Result<LabelRequirement> parseRequirement() {
    auto [tok, key] = consume(Context::kValues);
    std::optional<Operator> op;
    if (tok == Token::kDoesNotExist) {
      op = Operator::kDoesNotExist;
      std::tie(tok, key) = consume(Context::kValues);
    }
    if (tok != Token::kIdentifier)
      return Error(ErrorCode::kBadRequest, "found '" + key + "', expected: identifier");
    if (auto errs = qualifiedNameErrors(key); !errs.empty())
      return Error(ErrorCode::kBadRequest, invalidValue("<nil>", goQuote(key), join(errs, "; ")));
    if (Token t = lookahead(Context::kValues).first;
        t == Token::kEndOfString || t == Token::kComma) {
      if (!op) op = Operator::kExists;
    }
    if (op) return newRequirement(std::move(key), *op, {}, false);

    auto [opTok, opLit] = consume(Context::kKeyAndOperator);
    Operator binary;
    switch (opTok) {
      case Token::kIn:
        binary = Operator::kIn;
        break;
      case Token::kEquals:
        binary = Operator::kEquals;
        break;
      case Token::kDoubleEquals:
        binary = Operator::kDoubleEquals;
        break;
      case Token::kGreaterThan:
        binary = Operator::kGreaterThan;
        break;
      case Token::kLessThan:
        binary = Operator::kLessThan;
        break;
      case Token::kNotIn:
        binary = Operator::kNotIn;
        break;
      case Token::kNotEquals:
        binary = Operator::kNotEquals;
        break;
      default:
        return Error(ErrorCode::kBadRequest,
                     "found '" + opLit + "', expected: in, notin, =, ==, !=, gt, lt");
    }
    std::set<std::string> values;
    if (binary == Operator::kIn || binary == Operator::kNotIn) {
      TRY(parseValues(values));
    } else {
      TRY(parseExactValue(values));
    }
    return newRequirement(std::move(key), binary, {values.begin(), values.end()}, false);
  }

  Result<void> parseValues(std::set<std::string>& out) {
    auto [tok, lit] = consume(Context::kValues);
    if (tok != Token::kOpenPar)
      return Error(ErrorCode::kBadRequest, "found '" + lit + "' expected: '('");
    std::tie(tok, lit) = lookahead(Context::kValues);
    switch (tok) {
      case Token::kIdentifier:
      case Token::kComma: {
        TRY(parseIdentifiersList(out));
        if (consume(Context::kValues).first != Token::kClosedPar)
          return Error(ErrorCode::kBadRequest, "found '" + lit + "', expected: ')'");
        return {};
      }
      case Token::kClosedPar:
        consume(Context::kValues);
        out.insert("");
        return {};
      default:
        return Error(ErrorCode::kBadRequest,
                     "found '" + lit + "', expected: ',', ')' or identifier");
    }
  }

  // A comma-separated list in which empty items stand for the empty value: "(,a)", "(a,)".
  Result<void> parseIdentifiersList(std::set<std::string>& out) {
    for (;;) {
      auto [tok, lit] = consume(Context::kValues);
      if (tok == Token::kIdentifier) {
        out.insert(lit);
        auto [t2, l2] = lookahead(Context::kValues);
        if (t2 == Token::kComma) continue;
        if (t2 == Token::kClosedPar) return {};
        return Error(ErrorCode::kBadRequest, "found '" + l2 + "', expected: ',' or ')'");
      }
      if (tok == Token::kComma) {
        if (out.empty()) out.insert("");
        auto t2 = lookahead(Context::kValues).first;
        if (t2 == Token::kClosedPar) {
          out.insert("");
          return {};
        }
        if (t2 == Token::kComma) out.insert("");
        continue;
      }
      return Error(ErrorCode::kBadRequest, "found '" + lit + "', expected: ',', or identifier");
    }
  }

  Result<void> parseExactValue(std::set<std::string>& out) {
    auto t = lookahead(Context::kValues).first;
    if (t == Token::kEndOfString || t == Token::kComma) {
      out.insert("");
      return {};
    }
    auto [tok, lit] = consume(Context::kValues);
    if (tok != Token::kIdentifier)
      return Error(ErrorCode::kBadRequest, "found '" + lit + "', expected: identifier");
    out.insert(lit);
    return {};
  }

  std::vector<ScannedItem> items_;
  size_t pos_ = 0;
};

void sortByKey(std::vector<LabelRequirement>& reqs) {
  std::stable_sort(
      reqs.begin(), reqs.end(),
      [](const LabelRequirement& a, const LabelRequirement& b) { return a.key < b.key; });
}

bool requirementMatches(const LabelRequirement& r, const Json& labels) {
  const Json* v = findMember(labels, r.key);
  bool exists = v != nullptr;
  auto hasValue = [&] {
    if (v == nullptr || !v->is_string()) return false;
    const std::string& s = v->get_ref<const std::string&>();
    return std::binary_search(r.values.begin(), r.values.end(), s);
  };
  switch (r.op) {
    case Operator::kIn:
    case Operator::kEquals:
    case Operator::kDoubleEquals:
      return exists && hasValue();
    case Operator::kNotIn:
    case Operator::kNotEquals:
      return !exists || !hasValue();
    case Operator::kExists:
      return exists;
    case Operator::kDoesNotExist:
      return !exists;
    case Operator::kGreaterThan:
    case Operator::kLessThan: {
      if (!exists || !v->is_string() || r.values.size() != 1) return false;
      int64_t have, want;
      if (!parseInt64(v->get_ref<const std::string&>(), have) || !parseInt64(r.values[0], want))
        return false;
      return r.op == Operator::kGreaterThan ? have > want : have < want;
    }
  }
  return false;
}

std::string requirementString(const LabelRequirement& r) {
  std::string out;
  if (r.op == Operator::kDoesNotExist) out += '!';
  out += r.key;
  switch (r.op) {
    case Operator::kExists:
    case Operator::kDoesNotExist:
      return out;
    case Operator::kEquals:
      out += "=";
      break;
    case Operator::kDoubleEquals:
      out += "==";
      break;
    case Operator::kNotEquals:
      out += "!=";
      break;
    case Operator::kIn:
      out += " in (";
      break;
    case Operator::kNotIn:
      out += " notin (";
      break;
    case Operator::kGreaterThan:
      out += ">";
      break;
    case Operator::kLessThan:
      out += "<";
      break;
  }
  out += join(r.values, ",");
  if (r.op == Operator::kIn || r.op == Operator::kNotIn) out += ")";
  return out;
}

}  // namespace

Result<LabelSelector> LabelSelector::parse(std::string_view text) {
  Parser parser(text);
  LabelSelector s;
  s.requirements_ = TRY(parser.parse());
  sortByKey(s.requirements_);
  return s;
}

Result<LabelSelector> LabelSelector::fromObject(const Json& selector) {
  LabelSelector s;
  if (selector.is_null()) return s;
  if (!selector.is_object())
    return Error(ErrorCode::kInvalid, "a label selector must be an object");
  if (const Json* ml = findMember(selector, "matchLabels"); ml != nullptr && !ml->is_null()) {
    if (!ml->is_object()) return Error(ErrorCode::kInvalid, "matchLabels must be an object");
    for (const auto& [k, v] : ml->items()) {
      if (!v.is_string())
        return Error(ErrorCode::kInvalid, "matchLabels[" + k + "] must be a string");
      auto r = newRequirement(k, Operator::kEquals, {v.get<std::string>()}, false);
      if (!r.ok()) return Error(ErrorCode::kInvalid, r.error().message());
      s.requirements_.push_back(std::move(*r));
    }
  }
  if (const Json* me = findMember(selector, "matchExpressions"); me != nullptr && !me->is_null()) {
    if (!me->is_array()) return Error(ErrorCode::kInvalid, "matchExpressions must be an array");
    for (const Json& expr : *me) {
      if (!expr.is_object())
        return Error(ErrorCode::kInvalid, "a matchExpressions item must be an object");
      std::string opName = getString(expr, "operator");
      Operator op;
      if (opName == "In")
        op = Operator::kIn;
      else if (opName == "NotIn")
        op = Operator::kNotIn;
      else if (opName == "Exists")
        op = Operator::kExists;
      else if (opName == "DoesNotExist")
        op = Operator::kDoesNotExist;
      else
        return Error(ErrorCode::kInvalid,
                     goQuote(opName) + " is not a valid pod selector operator");
      std::vector<std::string> values;
      const Json* vals = findMember(expr, "values");
      if (vals != nullptr && !vals->is_null()) {
        if (!vals->is_array())
          return Error(ErrorCode::kInvalid, "values must be an array of strings");
        for (const Json& v : *vals) {
          if (!v.is_string())
            return Error(ErrorCode::kInvalid, "values must be an array of strings");
          values.push_back(v.get<std::string>());
        }
      }
      // Kubernetes copies the values with append([]string(nil), ...): none gives a nil slice.
      bool valuesNil = values.empty();
      auto r = newRequirement(getString(expr, "key"), op, std::move(values), valuesNil);
      if (!r.ok()) return Error(ErrorCode::kInvalid, r.error().message());
      s.requirements_.push_back(std::move(*r));
    }
  }
  sortByKey(s.requirements_);
  return s;
}

bool LabelSelector::matches(const Json& labels) const {
  for (const LabelRequirement& r : requirements_)
    if (!requirementMatches(r, labels)) return false;
  return true;
}

std::string LabelSelector::toString() const {
  std::vector<std::string> parts;
  parts.reserve(requirements_.size());
  for (const LabelRequirement& r : requirements_) parts.push_back(requirementString(r));
  return join(parts, ",");
}

}  // namespace nave::selectors
