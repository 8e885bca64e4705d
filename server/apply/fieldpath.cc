#include "server/apply/fieldpath.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "common/strings.h"

namespace nave::apply {
namespace {

int sign(double d) {
  return d < 0 ? -1 : (d > 0 ? 1 : 0);
}

int compareIntegers(const Json& a, const Json& b) {
  auto wide = [](const Json& v) -> __int128 {
    return v.is_number_unsigned() ? static_cast<__int128>(v.get<uint64_t>())
                                  : static_cast<__int128>(v.get<int64_t>());
  };
  __int128 x = wide(a), y = wide(b);
  return x < y ? -1 : (x > y ? 1 : 0);
}

// Rank of a value's type in structured-merge-diff's ordering (numbers handled apart).
int typeRank(const Json& v) {
  if (v.is_number()) return 0;
  if (v.is_string()) return 1;
  if (v.is_boolean()) return 2;
  if (v.is_array()) return 3;
  if (v.is_object()) return 4;
  return 5;  // null
}

// JSON text as Go's encoding/json writes it: like ours, but with <, > and & escaped.
std::string goJson(const Json& v) {
  std::string s = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '<')
      out += "\\u003c";
    else if (c == '>')
      out += "\\u003e";
    else if (c == '&')
      out += "\\u0026";
    else
      out += c;
  }
  return out;
}

// structured-merge-diff's value.ToString.
std::string valueToString(const Json& v) {
  if (v.is_null()) return "null";
  if (v.is_string()) return goQuote(v.get_ref<const std::string&>());
  if (v.is_array()) {
    std::vector<std::string> parts;
    for (const Json& e : v) parts.push_back(valueToString(e));
    return "[" + join(parts, ",") + "]";
  }
  if (v.is_object()) {
    std::string out;
    for (const auto& [k, e] : v.items()) out += k + "=" + valueToString(e);
    return out;
  }
  return v.dump();
}

bool isTreeLess(const Path& a, const Path& b) {
  for (size_t i = 0;; ++i) {
    if (i >= a.size() || i >= b.size()) return a.size() < b.size();
    bool aLast = i + 1 == a.size(), bLast = i + 1 == b.size();
    if (aLast != bLast) return aLast;  // members of a level come before its children
    int c = compare(a[i], b[i]);
    if (c != 0) return c < 0;
    if (aLast) return false;
  }
}

// Writes the paths of [begin, end), which share their first `depth` elements, as a trie.
Json toTrie(std::set<Path, PathLess>::const_iterator begin,
            std::set<Path, PathLess>::const_iterator end, size_t depth) {
  Json out = Json::object();
  auto it = begin;
  while (it != end) {
    const PathElement& pe = (*it)[depth];
    bool member = false;
    auto groupEnd = it;
    while (groupEnd != end && groupEnd->size() > depth && (*groupEnd)[depth] == pe) {
      if (groupEnd->size() == depth + 1) member = true;
      ++groupEnd;
    }
    auto childBegin = member ? std::next(it) : it;
    Json node = childBegin == groupEnd ? Json::object() : toTrie(childBegin, groupEnd, depth + 1);
    if (member && childBegin != groupEnd) node["."] = Json::object();
    out[pe.serialize()] = std::move(node);
    it = groupEnd;
  }
  return out;
}

struct TrieRead {
  bool member = false;
  bool nonEmpty = false;
};

Result<TrieRead> readTrie(const Json& node, Path& prefix, FieldSet& out) {
  if (!node.is_object())
    return Error(ErrorCode::kBadRequest, "FieldsV1 nodes must be objects, got " + node.dump());
  TrieRead r;
  bool dot = false;
  for (const auto& [k, v] : node.items()) {
    if (k == ".") {
      dot = true;
      continue;
    }
    bool unknown = false;
    auto pe = PathElement::parse(k, unknown);
    if (!pe.ok()) return std::move(pe).error();
    if (unknown) continue;
    prefix.push_back(std::move(*pe));
    auto child = readTrie(v, prefix, out);
    if (!child.ok()) return std::move(child).error();
    if (child->member) out.insert(prefix);
    if (child->member || child->nonEmpty) r.nonEmpty = true;
    prefix.pop_back();
  }
  r.member = dot || !r.nonEmpty;
  return r;
}

}  // namespace


int compareValues(const Json& a, const Json& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_number_float() || b.is_number_float()) return sign(a.get<double>() - b.get<double>());
    return compareIntegers(a, b);
  }
  int ra = typeRank(a), rb = typeRank(b);
  if (ra != rb) return ra < rb ? -1 : 1;
  if (a.is_string()) {
    int c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_boolean()) return a.get<bool>() == b.get<bool>() ? 0 : (a.get<bool>() ? 1 : -1);
  if (a.is_array()) {
    for (size_t i = 0; i < a.size() && i < b.size(); ++i)
      if (int c = compareValues(a[i], b[i]); c != 0) return c;
    return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
  }
  if (a.is_object()) {
    auto ia = a.begin(), ib = b.begin();  // keys iterate sorted
    for (; ia != a.end() && ib != b.end(); ++ia, ++ib) {
      if (int c = ia.key().compare(ib.key()); c != 0) return c < 0 ? -1 : 1;
      if (int c = compareValues(ia.value(), ib.value()); c != 0) return c;
    }
    return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
  }
  return 0;
}

PathElement PathElement::fieldName(std::string name) {
  PathElement pe;
  pe.kind = Kind::kField;
  pe.field = std::move(name);
  return pe;
}

PathElement PathElement::keyed(std::vector<std::pair<std::string, Json>> fields) {
  std::stable_sort(fields.begin(), fields.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  PathElement pe;
  pe.kind = Kind::kKey;
  pe.key = std::move(fields);
  return pe;
}

PathElement PathElement::setValue(Json v) {
  PathElement pe;
  pe.kind = Kind::kValue;
  pe.value = std::move(v);
  return pe;
}

PathElement PathElement::at(int64_t i) {
  PathElement pe;
  pe.kind = Kind::kIndex;
  pe.index = i;
  return pe;
}

std::string PathElement::serialize() const {
  switch (kind) {
    case Kind::kField:
      return "f:" + field;
    case Kind::kKey: {
      std::string out = "k:{";
      for (size_t i = 0; i < key.size(); ++i) {
        if (i > 0) out += ',';
        out += goJson(Json(key[i].first)) + ":" + goJson(key[i].second);
      }
      return out + "}";
    }
    case Kind::kValue:
      return "v:" + goJson(value);
    case Kind::kIndex:
      return "i:" + std::to_string(index);
  }
  return {};
}

Result<PathElement> PathElement::parse(std::string_view s, bool& unknown) {
  unknown = false;
  if (s.size() < 2)
    return Error(ErrorCode::kBadRequest, "key must be 2 characters long: " + std::string(s));
  if (s[1] != ':') return Error(ErrorCode::kBadRequest, "missing colon: " + std::string(s));
  std::string_view rest = s.substr(2);
  switch (s[0]) {
    case 'f':
      return fieldName(std::string(rest));
    case 'v': {
      auto j = parseJson(rest);
      if (!j.ok()) return Error(ErrorCode::kBadRequest, "invalid value in " + std::string(s));
      return setValue(std::move(j->value));
    }
    case 'k': {
      auto j = parseJson(rest);
      if (!j.ok() || !j->value.is_object())
        return Error(ErrorCode::kBadRequest, "invalid key in " + std::string(s));
      std::vector<std::pair<std::string, Json>> fields;
      for (auto& [k, v] : j->value.items()) fields.emplace_back(k, v);
      return keyed(std::move(fields));
    }
    case 'i': {
      int64_t i = 0;
      auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), i);
      if (ec != std::errc() || ptr != rest.data() + rest.size())
        return Error(ErrorCode::kBadRequest, "invalid index in " + std::string(s));
      return at(i);
    }
    default:
      unknown = true;
      return PathElement{};
  }
}

std::string PathElement::toString() const {
  switch (kind) {
    case Kind::kField:
      return "." + field;
    case Kind::kKey: {
      std::vector<std::string> parts;
      for (const auto& [k, v] : key) parts.push_back(k + "=" + valueToString(v));
      return "[" + join(parts, ",") + "]";
    }
    case Kind::kValue:
      return "[=" + valueToString(value) + "]";
    case Kind::kIndex:
      return "[" + std::to_string(index) + "]";
  }
  return {};
}

int compare(const PathElement& a, const PathElement& b) {
  if (a.kind != b.kind) return static_cast<int>(a.kind) < static_cast<int>(b.kind) ? -1 : 1;
  switch (a.kind) {
    case PathElement::Kind::kField: {
      int c = a.field.compare(b.field);
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    case PathElement::Kind::kKey:
      for (size_t i = 0; i < a.key.size() && i < b.key.size(); ++i) {
        if (int c = a.key[i].first.compare(b.key[i].first); c != 0) return c < 0 ? -1 : 1;
        if (int c = compareValues(a.key[i].second, b.key[i].second); c != 0) return c;
      }
      return a.key.size() < b.key.size() ? -1 : (a.key.size() > b.key.size() ? 1 : 0);
    case PathElement::Kind::kValue:
      return compareValues(a.value, b.value);
    case PathElement::Kind::kIndex:
      return a.index < b.index ? -1 : (a.index > b.index ? 1 : 0);
  }
  return 0;
}

std::string pathString(const Path& p) {
  std::string out;
  for (const PathElement& pe : p) out += pe.toString();
  return out;
}

bool PathLess::operator()(const Path& a, const Path& b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
}

FieldSet FieldSet::unionWith(const FieldSet& o) const {
  FieldSet out = *this;
  out.paths_.insert(o.paths_.begin(), o.paths_.end());
  return out;
}

FieldSet FieldSet::intersection(const FieldSet& o) const {
  FieldSet out;
  std::set_intersection(paths_.begin(), paths_.end(), o.paths_.begin(), o.paths_.end(),
                        std::inserter(out.paths_, out.paths_.end()), PathLess());
  return out;
}

FieldSet FieldSet::difference(const FieldSet& o) const {
  FieldSet out;
  std::set_difference(paths_.begin(), paths_.end(), o.paths_.begin(), o.paths_.end(),
                      std::inserter(out.paths_, out.paths_.end()), PathLess());
  return out;
}

FieldSet FieldSet::recursiveDifference(const FieldSet& o) const {
  FieldSet out;
  for (const Path& p : paths_) {
    bool covered = false;
    Path prefix;
    for (const PathElement& pe : p) {
      prefix.push_back(pe);
      if (o.has(prefix)) {
        covered = true;
        break;
      }
    }
    if (!covered) out.paths_.insert(out.paths_.end(), p);
  }
  return out;
}

FieldSet FieldSet::withPrefix(const PathElement& pe) const {
  FieldSet out;
  for (auto it = paths_.lower_bound(Path{pe}); it != paths_.end() && (*it)[0] == pe; ++it)
    if (it->size() > 1) out.paths_.insert(out.paths_.end(), Path(it->begin() + 1, it->end()));
  return out;
}

bool FieldSet::hasPrefix(const PathElement& pe) const {
  auto it = paths_.lower_bound(Path{pe});
  return it != paths_.end() && (*it)[0] == pe;
}

std::vector<Path> FieldSet::iterationOrder() const {
  std::vector<Path> out(paths_.begin(), paths_.end());
  std::stable_sort(out.begin(), out.end(), isTreeLess);
  return out;
}

Json FieldSet::toFieldsV1() const {
  // The empty path (the object itself) has no FieldsV1 form; it never reaches a stored set.
  auto begin = paths_.begin();
  if (begin != paths_.end() && begin->empty()) ++begin;
  return toTrie(begin, paths_.end(), 0);
}

Result<FieldSet> FieldSet::fromFieldsV1(const Json& fields) {
  FieldSet out;
  Path prefix;
  auto r = readTrie(fields, prefix, out);
  if (!r.ok()) return std::move(r).error();
  return out;
}

bool FieldSet::operator==(const FieldSet& o) const {
  return paths_.size() == o.paths_.size() &&
         std::equal(
             paths_.begin(), paths_.end(), o.paths_.begin(),
             [](const Path& a, const Path& b) { return !PathLess()(a, b) && !PathLess()(b, a); });
}

}  // namespace nave::apply
