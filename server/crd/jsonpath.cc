#include "server/crd/jsonpath.h"

#include <charconv>
#include <optional>

namespace nave::crd {

struct JsonPathFilter;

// One selector of a step (types with external linkage: JsonPath::Step holds them).
struct JsonPathSelector {
  enum class Kind { kField, kWildcard, kIndex, kSlice, kFilter };
  Kind kind = Kind::kField;
  std::string name;
  int64_t index = 0;
  std::optional<int64_t> start, end;
  int64_t step = 1;
  std::shared_ptr<const JsonPathFilter> filter;
};

struct JsonPath::Step {
  bool recursive = false;
  std::vector<JsonPathSelector> selectors;
};

struct JsonPathOperand {
  bool isPath = false;
  bool fromRoot = false;  // $ rather than @
  std::vector<JsonPath::Step> path;
  Json literal;
};

struct JsonPathFilter {
  JsonPathOperand left;
  std::string op;  // empty: presence test
  JsonPathOperand right;
};

namespace {

using Steps = std::vector<JsonPath::Step>;

Error parseError(std::string_view expr, std::string_view why) {
  return Error(ErrorCode::kBadRequest,
               "invalid JSONPath " + Json(std::string(expr)).dump() + ": " + std::string(why));
}

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  // Steps until the end or a character in `stop` at the top level.
  Result<Steps> steps(std::string_view stop) {
    Steps out;
    while (i_ < s_.size() && stop.find(s_[i_]) == std::string_view::npos) {
      JsonPath::Step step;
      if (s_[i_] == '.') {
        ++i_;
        if (i_ < s_.size() && s_[i_] == '.') {
          step.recursive = true;
          ++i_;
        }
        if (i_ >= s_.size() || stop.find(s_[i_]) != std::string_view::npos) {
          if (step.recursive) return err("recursive descent needs a field");
          break;  // "." alone: the current value
        }
        if (s_[i_] == '[') {
          if (!step.recursive) return err("unexpected '[' after '.'");
          auto b = bracket();
          if (!b.ok()) return std::move(b).error();
          step.selectors = std::move(*b);
        } else if (s_[i_] == '*') {
          ++i_;
          step.selectors.push_back({JsonPathSelector::Kind::kWildcard});
        } else {
          std::string name = fieldName(stop);
          if (name.empty()) return err("empty field name");
          JsonPathSelector sel;
          sel.name = std::move(name);
          step.selectors.push_back(std::move(sel));
        }
      } else if (s_[i_] == '[') {
        auto b = bracket();
        if (!b.ok()) return std::move(b).error();
        step.selectors = std::move(*b);
      } else if (s_[i_] == '$' && out.empty() && i_ == start_) {
        ++i_;
        continue;
      } else {
        return err(std::string("unexpected character '") + s_[i_] + "'");
      }
      out.push_back(std::move(step));
    }
    return out;
  }

  size_t pos() const { return i_; }
  void setStart(size_t p) {
    i_ = p;
    start_ = p;
  }
  std::string_view text() const { return s_; }

 private:
  Error err(std::string_view why) const { return parseError(s_, why); }

  std::string fieldName(std::string_view stop) {
    std::string name;
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == '\\' && i_ + 1 < s_.size()) {  // "\." escapes a dot inside a name
        name += s_[i_ + 1];
        i_ += 2;
        continue;
      }
      if (c == '.' || c == '[' || stop.find(c) != std::string_view::npos || c == ' ' || c == '=' ||
          c == '!' || c == '<' || c == '>' || c == ')')
        break;
      name += c;
      ++i_;
    }
    return name;
  }

  static std::string_view trimmed(std::string_view v) {
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    return v;
  }

  static std::optional<int64_t> integer(std::string_view v) {
    v = trimmed(v);
    if (v.empty()) return std::nullopt;
    int64_t out = 0;
    auto r = std::from_chars(v.data(), v.data() + v.size(), out);
    if (r.ec != std::errc() || r.ptr != v.data() + v.size()) return std::nullopt;
    return out;
  }

  // The selectors of "[...]"; i_ is at '['.
  Result<std::vector<JsonPathSelector>> bracket() {
    ++i_;
    std::vector<JsonPathSelector> out;
    if (i_ + 1 < s_.size() && s_[i_] == '?' && s_[i_ + 1] == '(') {
      i_ += 2;
      auto f = filter();
      if (!f.ok()) return std::move(f).error();
      while (i_ < s_.size() && s_[i_] == ' ') ++i_;
      if (i_ >= s_.size() || s_[i_] != ')') return err("unclosed filter");
      ++i_;
      if (i_ >= s_.size() || s_[i_] != ']') return err("unclosed '['");
      ++i_;
      JsonPathSelector sel;
      sel.kind = JsonPathSelector::Kind::kFilter;
      sel.filter = std::make_shared<const JsonPathFilter>(std::move(*f));
      out.push_back(std::move(sel));
      return out;
    }
    // Comma-separated entries up to the closing bracket, honouring quotes.
    std::vector<std::string> parts;
    std::string cur;
    char quote = 0;
    bool closed = false;
    for (; i_ < s_.size(); ++i_) {
      char c = s_[i_];
      if (quote != 0) {
        cur += c;
        if (c == quote) quote = 0;
        continue;
      }
      if (c == '\'' || c == '"') {
        quote = c;
        cur += c;
      } else if (c == ',') {
        parts.push_back(cur);
        cur.clear();
      } else if (c == ']') {
        closed = true;
        ++i_;
        break;
      } else {
        cur += c;
      }
    }
    if (!closed) return err("unclosed '['");
    parts.push_back(cur);
    for (const std::string& raw : parts) {
      std::string_view p = trimmed(raw);
      JsonPathSelector sel;
      if (p == "*") {
        sel.kind = JsonPathSelector::Kind::kWildcard;
      } else if (p.size() >= 2 && (p.front() == '\'' || p.front() == '"') &&
                 p.back() == p.front()) {
        sel.kind = JsonPathSelector::Kind::kField;
        sel.name = std::string(p.substr(1, p.size() - 2));
      } else if (p.find(':') != std::string_view::npos) {
        sel.kind = JsonPathSelector::Kind::kSlice;
        std::vector<std::string_view> fields;
        size_t start = 0;
        while (true) {
          size_t colon = p.find(':', start);
          fields.push_back(p.substr(start, colon == p.npos ? p.npos : colon - start));
          if (colon == p.npos) break;
          start = colon + 1;
        }
        if (fields.size() > 3) return err("too many ':' in a slice");
        auto part = [&](size_t k, std::optional<int64_t>& into) -> bool {
          if (k >= fields.size() || trimmed(fields[k]).empty()) return true;
          into = integer(fields[k]);
          return into.has_value();
        };
        std::optional<int64_t> step;
        if (!part(0, sel.start) || !part(1, sel.end) || !part(2, step))
          return err("invalid array slice");
        if (step) {
          if (*step <= 0) return err("the step of a slice must be positive");
          sel.step = *step;
        }
      } else if (auto n = integer(p)) {
        sel.kind = JsonPathSelector::Kind::kIndex;
        sel.index = *n;
      } else {
        return err("invalid array index " + Json(std::string(p)).dump());
      }
      out.push_back(std::move(sel));
    }
    return out;
  }

  Result<JsonPathOperand> operand() {
    while (i_ < s_.size() && s_[i_] == ' ') ++i_;
    JsonPathOperand o;
    if (i_ >= s_.size()) return err("missing operand in filter");
    char c = s_[i_];
    if (c == '@' || c == '$') {
      o.isPath = true;
      o.fromRoot = c == '$';
      ++i_;
      auto p = steps(" =!<>)");
      if (!p.ok()) return std::move(p).error();
      o.path = std::move(*p);
      return o;
    }
    if (c == '\'' || c == '"') {
      size_t close = s_.find(c, i_ + 1);
      if (close == std::string_view::npos) return err("unterminated string in filter");
      o.literal = std::string(s_.substr(i_ + 1, close - i_ - 1));
      i_ = close + 1;
      return o;
    }
    size_t start = i_;
    while (i_ < s_.size() && s_[i_] != ' ' && s_[i_] != ')') ++i_;
    std::string_view word = s_.substr(start, i_ - start);
    if (word == "true" || word == "false") {
      o.literal = word == "true";
      return o;
    }
    if (word == "null" || word == "nil") {
      o.literal = nullptr;
      return o;
    }
    if (auto n = integer(word)) {
      o.literal = *n;
      return o;
    }
    double d = 0;
    auto r = std::from_chars(word.data(), word.data() + word.size(), d);
    if (r.ec == std::errc() && r.ptr == word.data() + word.size()) {
      o.literal = d;
      return o;
    }
    return err("invalid literal " + Json(std::string(word)).dump() + " in filter");
  }

  Result<JsonPathFilter> filter() {
    JsonPathFilter f;
    auto left = operand();
    if (!left.ok()) return std::move(left).error();
    f.left = std::move(*left);
    while (i_ < s_.size() && s_[i_] == ' ') ++i_;
    for (std::string_view op : {"==", "!=", "<=", ">=", "<", ">"}) {
      if (s_.substr(i_, op.size()) == op) {
        f.op = std::string(op);
        i_ += op.size();
        break;
      }
    }
    if (!f.op.empty()) {
      auto right = operand();
      if (!right.ok()) return std::move(right).error();
      f.right = std::move(*right);
    }
    return f;
  }

  std::string_view s_;
  size_t i_ = 0;
  size_t start_ = 0;
};

void descendants(const Json* v, std::vector<const Json*>& out) {
  out.push_back(v);
  if (v->is_object() || v->is_array())
    for (const Json& c : *v) descendants(&c, out);
}

std::vector<const Json*> evaluate(const Steps& steps, const Json& start, const Json& root);

bool compare(const Json& a, const std::string& op, const Json& b) {
  if (a.is_number() && b.is_number()) {
    double x = a.get<double>(), y = b.get<double>();
    if (op == "==") return x == y;
    if (op == "!=") return x != y;
    if (op == "<") return x < y;
    if (op == "<=") return x <= y;
    if (op == ">") return x > y;
    return x >= y;
  }
  if (a.is_string() && b.is_string()) {
    const auto& x = a.get_ref<const std::string&>();
    const auto& y = b.get_ref<const std::string&>();
    if (op == "==") return x == y;
    if (op == "!=") return x != y;
    if (op == "<") return x < y;
    if (op == "<=") return x <= y;
    if (op == ">") return x > y;
    return x >= y;
  }
  if (op == "==") return a == b;
  if (op == "!=") return a != b;
  return false;
}

std::vector<Json> operandValues(const JsonPathOperand& o, const Json& current, const Json& root) {
  std::vector<Json> out;
  if (!o.isPath) {
    out.push_back(o.literal);
    return out;
  }
  for (const Json* v : evaluate(o.path, o.fromRoot ? root : current, root)) out.push_back(*v);
  return out;
}

bool passes(const JsonPathFilter& f, const Json& item, const Json& root) {
  std::vector<Json> lefts = operandValues(f.left, item, root);
  if (f.op.empty()) return !lefts.empty();
  std::vector<Json> rights = operandValues(f.right, item, root);
  for (const Json& l : lefts)
    for (const Json& r : rights)
      if (compare(l, f.op, r)) return true;
  return false;
}

void select(const JsonPathSelector& sel, const Json* v, const Json& root,
            std::vector<const Json*>& out) {
  switch (sel.kind) {
    case JsonPathSelector::Kind::kField:
      if (v->is_object()) {
        auto it = v->find(sel.name);
        if (it != v->end()) out.push_back(&*it);
      }
      return;
    case JsonPathSelector::Kind::kWildcard:
      if (v->is_object() || v->is_array())
        for (const Json& c : *v) out.push_back(&c);
      return;
    case JsonPathSelector::Kind::kIndex: {
      if (!v->is_array()) return;
      int64_t n = static_cast<int64_t>(v->size());
      int64_t i = sel.index < 0 ? sel.index + n : sel.index;
      if (i >= 0 && i < n) out.push_back(&(*v)[static_cast<size_t>(i)]);
      return;
    }
    case JsonPathSelector::Kind::kSlice: {
      if (!v->is_array()) return;
      int64_t n = static_cast<int64_t>(v->size());
      auto clamp = [n](int64_t i) {
        if (i < 0) i += n;
        return std::max<int64_t>(0, std::min(i, n));
      };
      int64_t from = sel.start ? clamp(*sel.start) : 0;
      int64_t to = sel.end ? clamp(*sel.end) : n;
      for (int64_t i = from; i < to; i += sel.step) out.push_back(&(*v)[static_cast<size_t>(i)]);
      return;
    }
    case JsonPathSelector::Kind::kFilter:
      if (!v->is_array()) return;
      for (const Json& item : *v)
        if (passes(*sel.filter, item, root)) out.push_back(&item);
      return;
  }
}

std::vector<const Json*> evaluate(const Steps& steps, const Json& start, const Json& root) {
  std::vector<const Json*> current = {&start};
  for (const JsonPath::Step& step : steps) {
    std::vector<const Json*> next;
    for (const Json* v : current) {
      std::vector<const Json*> candidates;
      if (step.recursive)
        descendants(v, candidates);
      else
        candidates.push_back(v);
      for (const Json* c : candidates)
        for (const JsonPathSelector& sel : step.selectors) select(sel, c, root, next);
    }
    current = std::move(next);
    if (current.empty()) break;
  }
  return current;
}

}  // namespace

Result<JsonPath> JsonPath::parse(std::string_view expression) {
  std::string_view e = expression;
  while (!e.empty() && e.front() == ' ') e.remove_prefix(1);
  while (!e.empty() && e.back() == ' ') e.remove_suffix(1);
  if (e.size() >= 2 && e.front() == '{' && e.back() == '}') e = e.substr(1, e.size() - 2);
  if (e.empty()) return parseError(expression, "empty path");
  Parser p(e);
  p.setStart(0);
  auto steps = p.steps("");
  if (!steps.ok()) return std::move(steps).error();
  if (p.pos() != e.size()) return parseError(expression, "unexpected trailing characters");
  JsonPath out;
  out.expression_ = std::string(expression);
  out.steps_ = std::make_shared<const Steps>(std::move(*steps));
  return out;
}

std::vector<const Json*> JsonPath::find(const Json& root) const {
  if (!steps_) return {};
  return evaluate(*steps_, root, root);
}

const Json* lookupSimplePath(const Json& root, std::string_view path) {
  if (!path.empty() && path.front() == '.') path.remove_prefix(1);
  const Json* cur = &root;
  if (path.empty()) return cur;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string_view part = path.substr(start, dot == path.npos ? path.npos : dot - start);
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(part);
    if (it == cur->end()) return nullptr;
    cur = &*it;
    if (dot == path.npos) return cur;
    start = dot + 1;
  }
}

void setSimplePath(Json& root, std::string_view path, Json value) {
  if (!path.empty() && path.front() == '.') path.remove_prefix(1);
  if (path.empty()) return;
  Json* cur = &root;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part(path.substr(start, dot == path.npos ? path.npos : dot - start));
    if (!cur->is_object()) *cur = Json::object();
    if (dot == path.npos) {
      (*cur)[part] = std::move(value);
      return;
    }
    cur = &(*cur)[part];
    start = dot + 1;
  }
}

}  // namespace nave::crd
