// Field paths and field sets as structured-merge-diff defines them, and their FieldsV1
// serialization (the trie stored in metadata.managedFields[].fieldsV1).
//
// A path is a sequence of elements: a field name ("f:spec"), the key fields of an item of an
// associative list ("k:{\"name\":\"c\"}"), the value of an item of a set ("v:\"x\""), or the
// position of an item of an atomic list ("i:0"). A FieldSet holds paths; a path that is in the
// set is a "member", and paths may be members and prefixes of other members at once (FieldsV1
// writes "." for the former in that case).
#pragma once

#include "common/strings.h"

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/json.h"
#include "common/result.h"

namespace nave::apply {

// Total order on JSON values, as structured-merge-diff's value.Compare: numbers (integers and
// floats compared numerically) < strings < booleans < lists < maps < null.
int compareValues(const Json& a, const Json& b);

using nave::goQuote;

struct PathElement {
  enum class Kind { kField, kKey, kValue, kIndex };

  Kind kind = Kind::kField;
  std::string field;                              // kField
  std::vector<std::pair<std::string, Json>> key;  // kKey, sorted by name
  Json value;                                     // kValue
  int64_t index = 0;                              // kIndex

  static PathElement fieldName(std::string name);
  static PathElement keyed(std::vector<std::pair<std::string, Json>> fields);  // sorts them
  static PathElement setValue(Json v);
  static PathElement at(int64_t i);

  // The FieldsV1 key: f:name, k:{"a":1,"b":"x"}, v:"x", i:3.
  std::string serialize() const;
  // Parses a FieldsV1 key. kBadRequest for malformed keys; `unknown` is set (and the result
  // meaningless) for a well-formed key of a type this version does not know, which readers skip.
  static Result<PathElement> parse(std::string_view s, bool& unknown);
  // Human form used in conflict messages: .name, [name="c"], [="x"], [3].
  std::string toString() const;
};

int compare(const PathElement& a, const PathElement& b);
inline bool operator==(const PathElement& a, const PathElement& b) {
  return compare(a, b) == 0;
}
inline bool operator<(const PathElement& a, const PathElement& b) {
  return compare(a, b) < 0;
}

using Path = std::vector<PathElement>;

// ".spec.template.spec.containers[name=\"app\"].image"
std::string pathString(const Path& p);

struct PathLess {
  bool operator()(const Path& a, const Path& b) const;
};

class FieldSet {
 public:
  void insert(Path p) { paths_.insert(std::move(p)); }
  bool has(const Path& p) const { return paths_.count(p) != 0; }
  bool empty() const { return paths_.empty(); }
  size_t size() const { return paths_.size(); }
  const std::set<Path, PathLess>& paths() const { return paths_; }

  FieldSet unionWith(const FieldSet& o) const;
  FieldSet intersection(const FieldSet& o) const;
  // Paths of this set that are not members of `o` (descendants of o's members stay).
  FieldSet difference(const FieldSet& o) const;
  // Like difference, but also drops every path below a member of `o`.
  FieldSet recursiveDifference(const FieldSet& o) const;
  // The paths that start with `pe`, without it.
  FieldSet withPrefix(const PathElement& pe) const;
  // True when some member starts with `pe` (is it or lies below it).
  bool hasPrefix(const PathElement& pe) const;

  // Members in structured-merge-diff's iteration order: at each level the members first, then
  // the children, each in element order.
  std::vector<Path> iterationOrder() const;

  // {"f:spec":{"f:replicas":{}}}; "." marks a path that is both a member and a prefix.
  Json toFieldsV1() const;
  // kBadRequest when `fields` is not a FieldsV1 trie.
  static Result<FieldSet> fromFieldsV1(const Json& fields);

  bool operator==(const FieldSet& o) const;

 private:
  std::set<Path, PathLess> paths_;
};

}  // namespace nave::apply
