#include "server/apply/typed.h"

#include <map>
#include <optional>
#include <set>

namespace nave::apply {
namespace {

using schema::Node;

constexpr std::string_view kRawExtension = "io.k8s.apimachinery.pkg.runtime.RawExtension";

enum class AtomKind { kScalar, kStruct, kMap, kList, kDeduced, kUntyped };
enum class ListKind { kAtomic, kSet, kKeyed };

// A schema node as structured-merge-diff sees it.
struct Atom {
  AtomKind kind = AtomKind::kDeduced;
  bool atomic = false;  // kStruct/kMap: x-kubernetes-map-type atomic
  ListKind list = ListKind::kAtomic;
  std::vector<std::string> keys;
  const Node* node = nullptr;  // the resolved node
};

// How a value is walked: as one leaf, as map entries, or as list items.
enum class Shape { kLeaf, kMap, kList };

class Walker {
 public:
  explicit Walker(const schema::SchemaSet* set) : set_(set) {}

  Atom resolve(const Node* prop) const {
    Atom a;
    if (prop == nullptr) return a;
    if (prop->ref == kRawExtension) {
      a.kind = AtomKind::kUntyped;
      return a;
    }
    const Node* r = schema::resolveNode(set_, prop);
    if (r == nullptr) return a;
    a.node = r;
    // Markers on the property win over those on the definition it refers to.
    auto marker = [&](const std::string Node::*m) -> const std::string& {
      return (prop->*m).empty() ? r->*m : prop->*m;
    };
    switch (r->type) {
      case schema::Type::kObject:
      case schema::Type::kMap:
        a.kind = r->type == schema::Type::kObject ? AtomKind::kStruct : AtomKind::kMap;
        a.atomic = marker(&Node::mapType) == "atomic";
        break;
      case schema::Type::kArray: {
        a.kind = AtomKind::kList;
        const std::string& listType = marker(&Node::listType);
        if (listType == "map") {
          a.keys = prop->listMapKeys.empty() ? r->listMapKeys : prop->listMapKeys;
          a.list = a.keys.empty() ? ListKind::kSet : ListKind::kKeyed;
        } else if (listType == "set") {
          a.list = ListKind::kSet;
        } else if (listType.empty()) {
          const std::string& strategy = marker(&Node::patchStrategy);
          if (strategy == "merge" || strategy == "merge,retainKeys") {
            const std::string& key = marker(&Node::patchMergeKey);
            a.list = key.empty() ? ListKind::kSet : ListKind::kKeyed;
            if (!key.empty()) a.keys = {key};
          }
        }
        break;
      }
      case schema::Type::kAny:
        a.kind = AtomKind::kDeduced;
        break;
      default:
        a.kind = AtomKind::kScalar;
    }
    return a;
  }

  // The type of field `name` of a struct or map; nullptr means deduced. `declared` tells a
  // struct's own field from a map entry or an unknown field.
  const Node* fieldType(const Atom& a, const std::string& name, bool& declared) const {
    declared = false;
    if (a.node == nullptr) return nullptr;
    if (a.kind == AtomKind::kStruct) {
      const Node* p = a.node->property(name);
      declared = p != nullptr;
      return p;
    }
    if (a.kind == AtomKind::kMap) return a.node->additionalProperties.get();
    return nullptr;
  }

  const Node* elementType(const Atom& a) const {
    return a.kind == AtomKind::kList && a.node != nullptr ? a.node->items.get() : nullptr;
  }

  Shape shape(const Atom& a, const Json& v) const {
    switch (a.kind) {
      case AtomKind::kStruct:
      case AtomKind::kMap:
        return (v.is_object() || v.is_null()) && !a.atomic ? Shape::kMap : Shape::kLeaf;
      case AtomKind::kList:
        return (v.is_array() || v.is_null()) && a.list != ListKind::kAtomic ? Shape::kList
                                                                            : Shape::kLeaf;
      case AtomKind::kDeduced:
        return v.is_object() || v.is_null() ? Shape::kMap : Shape::kLeaf;
      default:
        return Shape::kLeaf;
    }
  }

  // The path element of a list item, or an error message.
  std::optional<PathElement> itemElement(const Atom& a, size_t index, const Json& item,
                                         std::string& error) const {
    switch (a.list) {
      case ListKind::kKeyed: {
        if (item.is_null()) {
          error = "associative list with keys may not have a null element";
          return std::nullopt;
        }
        if (!item.is_object()) {
          error = "associative list with keys may not have non-map elements";
          return std::nullopt;
        }
        std::vector<std::pair<std::string, Json>> fields;
        for (const std::string& k : a.keys) {
          if (auto it = item.find(k); it != item.end()) {
            fields.emplace_back(k, *it);
          } else if (const Json* def = keyDefault(a, k)) {
            fields.emplace_back(k, *def);
          } else {
            error = "associative list with keys has an element that omits key field \"" + k +
                    "\" (and doesn't have default value)";
            return std::nullopt;
          }
        }
        return PathElement::keyed(std::move(fields));
      }
      case ListKind::kSet:
        if (item.is_object()) {
          error = "associative list without keys has an element that's a map type";
          return std::nullopt;
        }
        if (item.is_array()) {
          error = "not supported: associative list with lists as elements";
          return std::nullopt;
        }
        if (item.is_null()) {
          error = "associative list without keys has an element that's an explicit null";
          return std::nullopt;
        }
        return PathElement::setValue(item);
      case ListKind::kAtomic:
        return PathElement::at(static_cast<int64_t>(index));
    }
    return std::nullopt;
  }

  // --- toFieldSet ---

  void toFieldSet(const Json& v, const Node* type, Path& path, FieldSet& out, bool strict,
                  std::string& error) const {
    if (!error.empty()) return;
    Atom a = resolve(type);
    if (strict && !shapeFits(a, v)) {
      error = prefixed(path, "expected " + expectedName(a) + ", got " + typeName(v));
      return;
    }
    if (shape(a, v) == Shape::kLeaf) {
      out.insert(path);
      return;
    }
    if (v.is_null()) return;
    if (v.is_object()) {
      for (const auto& [k, child] : v.items()) {
        bool declared = false;
        const Node* ct = fieldType(a, k, declared);
        path.push_back(PathElement::fieldName(k));
        toFieldSet(child, ct, path, out, strict, error);
        // Map entries are owned themselves; so are empty or null struct fields, which have no
        // leaves to be owned through.
        if (!declared || child.is_null() || (child.is_object() && child.empty())) out.insert(path);
        path.pop_back();
      }
      return;
    }
    std::set<PathElement> seen;
    for (size_t i = 0; i < v.size(); ++i) {
      std::string msg;
      auto pe = itemElement(a, i, v[i], msg);
      if (!pe) {
        if (strict) {
          error = prefixed(path, "element " + std::to_string(i) + ": " + msg);
          return;
        }
        continue;
      }
      if (strict && !seen.insert(*pe).second) {
        error = prefixed(path, "duplicate entries for key " + pe->toString());
        return;
      }
      path.push_back(std::move(*pe));
      toFieldSet(v[i], elementType(a), path, out, strict, error);
      out.insert(path);
      path.pop_back();
    }
  }

  // --- compare ---

  void compare(const Json* lhs, const Json* rhs, const Node* type, Path& path,
               Comparison& c) const {
    Atom a = resolve(type);
    bool inLeaf = false;
    if (rhs == nullptr) {
      handle(shape(a, *lhs), a, lhs, rhs, path, c, inLeaf);
    } else if (lhs == nullptr || shape(a, *lhs) == shape(a, *rhs)) {
      handle(shape(a, *rhs), a, lhs, rhs, path, c, inLeaf);
    } else {
      // The value changed shape (possible for deduced fields): the old one goes away in full.
      bool scratch = false;
      handle(shape(a, *lhs), a, lhs, rhs, path, c, scratch);
      handle(shape(a, *rhs), a, lhs, rhs, path, c, inLeaf);
    }
    if (!inLeaf) {
      if (lhs == nullptr)
        c.added.insert(path);
      else if (rhs == nullptr)
        c.removed.insert(path);
    }
  }

  void handle(Shape s, const Atom& a, const Json* lhs, const Json* rhs, Path& path, Comparison& c,
              bool& inLeaf) const {
    const Json* lc = lhs != nullptr && containerFits(s, *lhs) ? lhs : nullptr;
    const Json* rc = rhs != nullptr && containerFits(s, *rhs) ? rhs : nullptr;
    if (s == Shape::kLeaf || (isEmpty(lc) && isEmpty(rc))) {
      if (inLeaf) return;
      inLeaf = true;
      if (lhs == nullptr)
        c.added.insert(path);
      else if (rhs == nullptr)
        c.removed.insert(path);
      else if (*lhs != *rhs)
        c.modified.insert(path);
      return;
    }
    if (s == Shape::kMap) {
      std::set<std::string> keys;
      if (lc != nullptr && lc->is_object())
        for (const auto& [k, v] : lc->items()) keys.insert(k);
      if (rc != nullptr && rc->is_object())
        for (const auto& [k, v] : rc->items()) keys.insert(k);
      for (const std::string& k : keys) {
        bool declared = false;
        const Node* ct = fieldType(a, k, declared);
        path.push_back(PathElement::fieldName(k));
        compare(member(lc, k), member(rc, k), ct, path, c);
        path.pop_back();
      }
      return;
    }
    compareItems(a, lc, rc, path, c);
  }

  void compareItems(const Atom& a, const Json* lhs, const Json* rhs, Path& path,
                    Comparison& c) const {
    // Items grouped by element, remembering duplicates (which are compared as a whole).
    std::map<PathElement, std::vector<const Json*>> left, right;
    auto index = [&](const Json* list, std::map<PathElement, std::vector<const Json*>>& into) {
      if (list == nullptr || !list->is_array()) return;
      for (size_t i = 0; i < list->size(); ++i) {
        std::string msg;
        auto pe = itemElement(a, i, (*list)[i], msg);
        if (!pe) continue;
        into[*pe].push_back(&(*list)[i]);
      }
    };
    index(lhs, left);
    index(rhs, right);
    std::set<PathElement> all;
    for (const auto& [pe, v] : left) all.insert(pe);
    for (const auto& [pe, v] : right) all.insert(pe);
    const Node* et = elementType(a);
    for (const PathElement& pe : all) {
      auto l = left.find(pe);
      auto r = right.find(pe);
      size_t ln = l == left.end() ? 0 : l->second.size();
      size_t rn = r == right.end() ? 0 : r->second.size();
      path.push_back(pe);
      if (ln <= 1 && rn <= 1) {
        compare(ln ? l->second[0] : nullptr, rn ? r->second[0] : nullptr, et, path, c);
      } else if (ln >= 2 && rn >= 2) {
        bool equal = ln == rn;
        for (size_t i = 0; equal && i < ln; ++i) equal = *l->second[i] == *r->second[i];
        if (!equal) c.modified.insert(path);
      } else if (ln >= 2) {
        if (rn != 0) compare(nullptr, r->second[0], et, path, c);
        c.removed.insert(path);
      } else {
        if (ln != 0) compare(l->second[0], nullptr, et, path, c);
        c.added.insert(path);
      }
      path.pop_back();
    }
  }

  // --- merge ---

  std::optional<Json> merge(const Json* lhs, const Json* rhs, const Node* type) const {
    Atom a = resolve(type);
    Shape s = shape(a, rhs != nullptr ? *rhs : *lhs);
    const Json* lc = lhs != nullptr && containerFits(s, *lhs) ? lhs : nullptr;
    const Json* rc = rhs != nullptr && containerFits(s, *rhs) ? rhs : nullptr;
    if (s == Shape::kLeaf || (isEmpty(lc) && isEmpty(rc))) return rhs != nullptr ? *rhs : *lhs;
    if (s == Shape::kMap) {
      Json out = Json::object();
      auto mergeKey = [&](const std::string& k) {
        bool declared = false;
        const Node* ct = fieldType(a, k, declared);
        if (auto m = merge(member(lc, k), member(rc, k), ct)) out[k] = std::move(*m);
      };
      if (lc != nullptr && lc->is_object())
        for (const auto& [k, v] : lc->items()) mergeKey(k);
      if (rc != nullptr && rc->is_object())
        for (const auto& [k, v] : rc->items())
          if (lc == nullptr || !lc->is_object() || !lc->contains(k)) mergeKey(k);
      if (out.empty()) return std::nullopt;
      return out;
    }
    return mergeItems(a, lc, rc);
  }

  // Items named by the applied list come in its order; the live list's other items keep their
  // position relative to them.
  std::optional<Json> mergeItems(const Atom& a, const Json* lhs, const Json* rhs) const {
    struct Item {
      std::optional<PathElement> pe;
      const Json* value;
    };
    std::vector<Item> left, right;
    std::map<PathElement, const Json*> rightIndex, leftFirst;
    std::map<PathElement, int> leftCount;
    if (lhs != nullptr && lhs->is_array()) {
      for (size_t i = 0; i < lhs->size(); ++i) {
        std::string msg;
        auto pe = itemElement(a, i, (*lhs)[i], msg);
        if (pe) {
          if (leftCount[*pe]++ == 0) leftFirst[*pe] = &(*lhs)[i];
        }
        left.push_back({std::move(pe), &(*lhs)[i]});
      }
    }
    if (rhs != nullptr && rhs->is_array()) {
      for (size_t i = 0; i < rhs->size(); ++i) {
        std::string msg;
        auto pe = itemElement(a, i, (*rhs)[i], msg);
        if (pe && !rightIndex.emplace(*pe, &(*rhs)[i]).second) continue;  // duplicate
        right.push_back({std::move(pe), &(*rhs)[i]});
      }
    }
    std::vector<PathElement> shared;
    for (const Item& r : right)
      if (r.pe && leftCount.count(*r.pe)) shared.push_back(*r.pe);
    size_t nextShared = 0;
    auto lhsFor = [&](const PathElement& pe) -> const Json* {
      auto n = leftCount.find(pe);
      return n != leftCount.end() && n->second == 1 ? leftFirst[pe] : nullptr;
    };
    const Node* et = elementType(a);
    Json out = Json::array();
    std::set<PathElement> mergedRight;
    auto emit = [&](const Json* l, const Json* r) {
      if (auto m = merge(l, r, et)) out.push_back(std::move(*m));
    };
    size_t li = 0, ri = 0;
    while (li < left.size() || ri < right.size()) {
      if (li < left.size() && ri < right.size()) {
        const auto& lpe = left[li].pe;
        if (lpe && right[ri].pe && *lpe == *right[ri].pe) {
          mergedRight.insert(*lpe);
          emit(lhsFor(*lpe), right[ri].value);
          ++li, ++ri;
          ++nextShared;
          continue;
        }
        if (lpe && rightIndex.count(*lpe) && nextShared < shared.size() &&
            !(shared[nextShared] == *lpe)) {
          ++li;  // a shared item, but not the one due now
          continue;
        }
      }
      if (li < left.size()) {
        const auto& lpe = left[li].pe;
        if (!lpe || !rightIndex.count(*lpe)) {
          out.push_back(*left[li].value);
          ++li;
          continue;
        }
        if (mergedRight.count(*lpe)) {
          ++li;
          continue;
        }
      }
      if (ri < right.size()) {
        const Item& r = right[ri++];
        if (!r.pe) {
          out.push_back(*r.value);
          continue;
        }
        mergedRight.insert(*r.pe);
        emit(lhsFor(*r.pe), r.value);
        if (nextShared < shared.size() && shared[nextShared] == *r.pe) ++nextShared;
      }
    }
    if (out.empty()) return std::nullopt;
    return out;
  }

  // --- removeItems ---

  // A map, list or struct the removal empties disappears (nullopt), like the empty values Go
  // omits, except a struct whose path is in `preserve`, which stays as {}.
  std::optional<Json> removeItems(const Json& v, const FieldSet& toRemove, const Node* type,
                                  const FieldSet* preserve, Path& path) const {
    Atom a = resolve(type);
    Shape s = shape(a, v);
    if (s == Shape::kLeaf || v.is_null() || v.empty()) return v;
    Json out = s == Shape::kMap ? Json::object() : Json::array();
    if (s == Shape::kMap) {
      for (const auto& [k, child] : v.items()) {
        PathElement pe = PathElement::fieldName(k);
        if (toRemove.has(Path{pe})) continue;
        if (!toRemove.hasPrefix(pe)) {
          out[k] = child;
          continue;
        }
        bool declared = false;
        const Node* ct = fieldType(a, k, declared);
        path.push_back(pe);
        if (auto r = removeItems(child, toRemove.withPrefix(pe), ct, preserve, path))
          out[k] = std::move(*r);
        path.pop_back();
      }
    } else {
      for (size_t i = 0; i < v.size(); ++i) {
        std::string msg;
        auto pe = itemElement(a, i, v[i], msg);
        if (!pe || !toRemove.hasPrefix(*pe)) {
          out.push_back(v[i]);
          continue;
        }
        if (toRemove.has(Path{*pe})) continue;
        FieldSet sub = toRemove.withPrefix(*pe);
        path.push_back(std::move(*pe));
        if (auto r = removeItems(v[i], sub, elementType(a), preserve, path))
          out.push_back(std::move(*r));
        path.pop_back();
      }
    }
    bool keepEmpty = a.kind == AtomKind::kStruct && preserve != nullptr && preserve->has(path);
    if (out.empty() && !keepEmpty) return std::nullopt;
    return out;
  }

  // --- ensureNamedFieldsAreMembers ---

  void addNamedPrefixes(const Path& p, const Node* root, FieldSet& out) const {
    Atom a = resolve(root);
    Path prefix;
    for (size_t i = 0; i + 1 < p.size(); ++i) {
      const PathElement& pe = p[i];
      prefix.push_back(pe);
      const Node* next = nullptr;
      if (pe.kind == PathElement::Kind::kField) {
        bool declared = false;
        next = fieldType(a, pe.field, declared);
        if (declared) out.insert(prefix);
      } else {
        next = elementType(a);
      }
      a = resolve(next);
    }
  }

 private:
  static bool isEmpty(const Json* v) { return v == nullptr || v->is_null() || v->empty(); }

  static bool containerFits(Shape s, const Json& v) {
    if (s == Shape::kMap) return v.is_object();
    if (s == Shape::kList) return v.is_array();
    return true;
  }

  static const Json* member(const Json* obj, const std::string& k) {
    if (obj == nullptr || !obj->is_object()) return nullptr;
    auto it = obj->find(k);
    return it == obj->end() ? nullptr : &*it;
  }

  static bool shapeFits(const Atom& a, const Json& v) {
    switch (a.kind) {
      case AtomKind::kStruct:
      case AtomKind::kMap:
        return v.is_object() || v.is_null();
      case AtomKind::kList:
        return v.is_array() || v.is_null();
      case AtomKind::kScalar:
        return !v.is_object() && !v.is_array();
      default:
        return true;
    }
  }

  static std::string expectedName(const Atom& a) {
    switch (a.kind) {
      case AtomKind::kStruct:
      case AtomKind::kMap:
        return "map";
      case AtomKind::kList:
        return "list";
      default:
        return "scalar";
    }
  }

  static std::string typeName(const Json& v) {
    if (v.is_object()) return "map";
    if (v.is_array()) return "list";
    if (v.is_string()) return "string";
    if (v.is_boolean()) return "bool";
    if (v.is_number()) return "number";
    return "null";
  }

  static std::string prefixed(const Path& path, const std::string& msg) {
    return path.empty() ? msg : pathString(path) + ": " + msg;
  }

  // The default of a list item's key field (ports' protocol defaults to TCP).
  const Json* keyDefault(const Atom& list, const std::string& key) const {
    const Node* elem = schema::resolveNode(set_, elementType(list));
    if (elem == nullptr || elem->type != schema::Type::kObject) return nullptr;
    const Node* field = elem->property(key);
    if (field == nullptr) return nullptr;
    if (field->defaultValue) return &*field->defaultValue;
    const Node* resolved = schema::resolveNode(set_, field);
    return resolved != nullptr && resolved->defaultValue ? &*resolved->defaultValue : nullptr;
  }

  const schema::SchemaSet* set_;
};

}  // namespace

Result<FieldSet> TypedOps::toFieldSet(const Json& value, bool strict) const {
  Walker w(set_);
  FieldSet out;
  Path path;
  std::string error;
  w.toFieldSet(value, root_, path, out, strict, error);
  if (!error.empty()) return Error(ErrorCode::kBadRequest, error);
  return out;
}

Comparison TypedOps::compare(const Json& lhs, const Json& rhs) const {
  Walker w(set_);
  Comparison c;
  Path path;
  w.compare(&lhs, &rhs, root_, path, c);
  return c;
}

Json TypedOps::merge(const Json& lhs, const Json& rhs) const {
  Walker w(set_);
  auto out = w.merge(&lhs, &rhs, root_);
  return out ? std::move(*out) : Json::object();
}

Json TypedOps::removeItems(const Json& value, const FieldSet& toRemove,
                           const FieldSet* preserveEmptied) const {
  if (toRemove.empty()) return value;
  Walker w(set_);
  Path path;
  auto out = w.removeItems(value, toRemove, root_, preserveEmptied, path);
  return out ? std::move(*out) : Json::object();
}

FieldSet TypedOps::ensureNamedFieldsAreMembers(const FieldSet& set) const {
  Walker w(set_);
  FieldSet out = set;
  for (const Path& p : set.paths()) w.addNamedPrefixes(p, root_, out);
  return out;
}

}  // namespace nave::apply
