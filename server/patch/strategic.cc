// Strategic merge patch, applied the way Kubernetes' apiserver applies it
// (strategicpatch.StrategicMergeMapPatch): lists whose field has patchStrategy "merge" merge by
// their patchMergeKey (or as sets of scalars), other lists are replaced, maps merge, null
// deletes, and the directives $patch, $retainKeys, $setElementOrder/ and
// $deleteFromPrimitiveList/ are honoured. Where Kubernetes keeps directives or nulls inside new
// values and lets the typed decoding drop them, they are dropped here, since the result is
// stored as it is.
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "server/patch/go_format.h"
#include "server/patch/patch.h"

namespace nave::patch {
namespace {

using detail::goTypeName;
using detail::goValue;
using detail::scalarKey;
using schema::Node;
using schema::SchemaSet;

constexpr std::string_view kDirectiveMarker = "$patch";
constexpr std::string_view kRetainKeysDirective = "$retainKeys";
constexpr std::string_view kDeleteFromPrimitiveListPrefix = "$deleteFromPrimitiveList";
constexpr std::string_view kSetElementOrderPrefix = "$setElementOrder";
constexpr int kMaxRecursion = 1024;

Error badRequest(std::string message) {
  return Error(ErrorCode::kBadRequest, std::move(message));
}

// mergepatch's error values.
Error errBadArgType(std::string_view expected, const Json& actual) {
  return badRequest("expected a " + std::string(expected) + ", but received a " +
                    goTypeName(actual));
}
Error errNoMergeKey(const Json& map, std::string_view key) {
  return badRequest("map: " + goValue(map) +
                    " does not contain declared merge key: " + std::string(key));
}
Error errBadPatchType(const Json& type, const Json& map) {
  std::string t = type.is_string() ? type.get<std::string>()
                  : type.is_null() ? "%!s(<nil>)"
                                   : "%!s(" + goTypeName(type) + "=" + goValue(type) + ")";
  return badRequest("unknown patch type: " + t + " in map: " + goValue(map));
}
Error errBadPrimitiveList() {
  return badRequest("invalid patch format of primitive list");
}
Error errBadRetainKeys() {
  return badRequest("invalid patch format of retainKeys");
}
Error errBadSetElementOrder() {
  return badRequest("invalid patch format of setElementOrder list");
}

constexpr std::string_view kMapType = "map[string]interface {}";
constexpr std::string_view kSliceType = "[]interface {}";

// "$setElementOrder/containers" -> "containers".
Result<std::string> extractKey(std::string_view key, std::string_view prefix) {
  size_t slash = key.find('/');
  if (slash == std::string_view::npos || key.substr(0, slash) != prefix) {
    if (prefix == kDeleteFromPrimitiveListPrefix) return errBadPrimitiveList();
    return errBadSetElementOrder();
  }
  return std::string(key.substr(slash + 1));
}

// What the schema says about one field: its patch strategy and merge key, and the schema of
// its value (nullptr when the field is unknown: it then merges like JSON merge patch).
struct FieldMeta {
  std::string strategy;  // "merge", "replace" or empty; retainKeys only matters to clients
  std::string mergeKey;
  const Node* node = nullptr;
};

class Merger {
 public:
  explicit Merger(const SchemaSet& set) : set_(set) {}

  // Merges `patch` into `original` (both objects) under the object or map schema `schema`.
  Result<Json> mergeMap(Json original, Json patch, const Node* schema, int depth) {
    if (depth > kMaxRecursion) return badRequest("patch is nested too deeply");
    if (auto it = patch.find(kDirectiveMarker); it != patch.end()) {
      if (*it == "replace") {
        patch.erase(it);
        return cleaned(std::move(patch)).value_or(Json::object());
      }
      if (*it == "delete") return Json::object();
      return errBadPatchType(*it, patch);
    }
    if (!original.is_object()) original = Json::object();

    TRY(applyRetainKeys(original, patch));
    TRY(applySetElementOrders(original, patch, schema, depth));

    // Deletions from primitive lists first, so that additions of the same patch stay.
    for (int pass = 0; pass < 2; ++pass) {
      for (auto& [rawKey, patchValue] : patch.items()) {
        bool isDeleteList = std::string_view(rawKey).starts_with(kDeleteFromPrimitiveListPrefix);
        if (isDeleteList != (pass == 0)) continue;
        std::string key =
            isDeleteList ? TRY(extractKey(rawKey, kDeleteFromPrimitiveListPrefix)) : rawKey;
        TRY(mergeField(original, key, std::move(patchValue), isDeleteList, schema, depth));
      }
    }
    return original;
  }

 private:
  Result<void> mergeField(Json& original, const std::string& key, Json patchValue,
                          bool isDeleteList, const Node* schema, int depth) {
    if (patchValue.is_null()) {
      original.erase(key);
      return {};
    }
    auto cur = original.find(key);
    if (cur == original.end() || !sameGoType(*cur, patchValue)) {
      if (!isDeleteList) {
        if (auto v = cleaned(std::move(patchValue))) {
          original[key] = std::move(*v);
        } else {
          original.erase(key);
        }
      }
      return {};
    }
    FieldMeta meta = lookup(schema, key);
    if (cur->is_object()) {
      if (meta.strategy == "replace") {
        if (auto v = cleaned(std::move(patchValue))) {
          *cur = std::move(*v);
        } else {
          original.erase(cur);
        }
        return {};
      }
      *cur = TRY(mergeMap(std::move(*cur), std::move(patchValue), meta.node, depth + 1));
      return {};
    }
    if (cur->is_array()) {
      if (meta.strategy == "merge" || isDeleteList) {
        *cur = TRY(mergeSlice(std::move(*cur), std::move(patchValue), elementOf(meta),
                              meta.mergeKey, isDeleteList, depth));
      } else {
        *cur = cleaned(std::move(patchValue)).value_or(Json::array());
      }
      return {};
    }
    *cur = std::move(patchValue);
    return {};
  }

  // Go compares reflect types: maps, slices, strings, bools, int64 and float64 differ.
  static bool sameGoType(const Json& a, const Json& b) { return goTypeName(a) == goTypeName(b); }

  FieldMeta lookup(const Node* schema, std::string_view key) const {
    FieldMeta meta;
    const Node* resolved = schema::resolveNode(&set_, schema);
    if (resolved == nullptr) return meta;
    const Node* prop = resolved->type == schema::Type::kMap
                           ? schema::mapValueSchema(&set_, resolved)
                           : schema::childProperty(&set_, resolved, key);
    if (prop == nullptr) return meta;
    meta.node = prop;
    // Markers sit on the property node; a named type may carry them on its definition.
    const Node* def = schema::resolveNode(&set_, prop);
    std::string_view strategies = !prop->patchStrategy.empty() ? prop->patchStrategy
                                  : def != nullptr             ? def->patchStrategy
                                                               : std::string_view();
    meta.mergeKey = !prop->patchMergeKey.empty() ? prop->patchMergeKey
                    : def != nullptr             ? def->patchMergeKey
                                                 : std::string();
    for (size_t start = 0; start <= strategies.size();) {
      size_t comma = strategies.find(',', start);
      std::string_view s =
          strategies.substr(start, comma == std::string_view::npos ? comma : comma - start);
      if (s != "retainKeys" && !s.empty()) meta.strategy = s;
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    return meta;
  }

  const Node* elementOf(const FieldMeta& meta) const {
    return meta.node != nullptr ? schema::elementSchema(&set_, meta.node) : nullptr;
  }

  // Kubernetes' discardNullValuesFromPatch + removeDirectives for a value taken from the patch
  // as it is: null members go, a map holding $patch goes entirely, other directive keys go.
  // nullopt when the value itself is such a map.
  std::optional<Json> cleaned(Json v, int depth = 0) {
    if (depth > kMaxRecursion) return v;
    if (v.is_object()) {
      if (v.contains(kDirectiveMarker)) return std::nullopt;
      for (auto it = v.begin(); it != v.end();) {
        std::string_view k = it.key();
        if (it->is_null() || k == kRetainKeysDirective || k.starts_with(kSetElementOrderPrefix) ||
            k.starts_with(kDeleteFromPrimitiveListPrefix)) {
          it = v.erase(it);
          continue;
        }
        if (auto c = cleaned(std::move(*it), depth + 1)) {
          *it = std::move(*c);
          ++it;
        } else {
          it = v.erase(it);
        }
      }
      return v;
    }
    if (v.is_array()) {
      Json out = Json::array();
      for (Json& e : v)
        if (auto c = cleaned(std::move(e), depth + 1)) out.push_back(std::move(*c));
      return out;
    }
    return v;
  }

  // $retainKeys: members of `original` not listed are cleared; every non-null member of the
  // patch must be listed.
  Result<void> applyRetainKeys(Json& original, Json& patch) {
    auto it = patch.find(kRetainKeysDirective);
    if (it == patch.end()) return {};
    Json list = std::move(*it);
    patch.erase(it);
    if (!list.is_array()) return errBadRetainKeys();
    std::unordered_set<std::string> keep;
    for (const Json& k : list)
      if (k.is_string()) keep.insert(k.get<std::string>());
    for (const auto& [k, v] : patch.items()) {
      std::string_view key = k;
      if (v.is_null() || key.starts_with(kDeleteFromPrimitiveListPrefix) ||
          key.starts_with(kSetElementOrderPrefix))
        continue;
      if (!keep.contains(k)) return errBadRetainKeys();
    }
    for (auto o = original.begin(); o != original.end();) {
      if (keep.contains(o.key())) {
        ++o;
      } else {
        o = original.erase(o);
      }
    }
    return {};
  }

  // $setElementOrder/FIELD: merges FIELD (if patched) and orders the result: the listed items
  // in the listed order, the others where they were relative to them.
  Result<void> applySetElementOrders(Json& original, Json& patch, const Node* schema, int depth) {
    std::vector<std::string> directives;
    for (const auto& [k, v] : patch.items())
      if (std::string_view(k).starts_with(kSetElementOrderPrefix)) directives.push_back(k);
    for (const std::string& directive : directives) {
      Json order = std::move(patch[directive]);
      patch.erase(directive);
      if (!order.is_array()) return errBadArgType(kSliceType, order);
      std::string key = TRY(extractKey(directive, kSetElementOrderPrefix));

      auto origIt = original.find(key);
      auto patchIt = patch.find(key);
      bool foundOriginal = origIt != original.end();
      bool foundPatch = patchIt != patch.end();
      if (foundOriginal && !origIt->is_array()) return errBadArgType(kSliceType, *origIt);
      if (foundPatch && !patchIt->is_array()) return errBadArgType(kSliceType, *patchIt);
      if (!foundOriginal && !foundPatch) continue;

      FieldMeta meta = lookup(schema, key);
      const Json empty = Json::array();
      const Json& patchList = foundPatch ? *patchIt : empty;
      TRY(validateOrder(patchList, order, meta.mergeKey));
      Json originalList = foundOriginal ? *origIt : Json::array();
      Json merged;
      if (!foundPatch) {
        merged = originalList;
      } else if (!foundOriginal) {
        merged = cleaned(*patchIt).value_or(Json::array());
      } else if (meta.strategy == "merge") {
        merged =
            TRY(mergeSlice(originalList, *patchIt, elementOf(meta), meta.mergeKey, false, depth));
      } else {
        merged = cleaned(*patchIt).value_or(Json::array());
      }
      if (merged.empty() && originalList.empty() && patchList.empty()) {
        original[key] = std::move(merged);
      } else {
        bool maps = TRY(elementsAreMaps(originalList, patchList));
        auto [patchItems, serverOnly] = TRY(partition(merged, order, meta.mergeKey));
        original[key] = TRY(normalizeElementOrder(std::move(patchItems), std::move(serverOnly),
                                                  order, originalList, meta.mergeKey, maps));
      }
      if (foundPatch) patch.erase(key);
    }
    return {};
  }

  // The order of the patch's items (deletions aside) must agree with the order list, which
  // must mention each of them.
  Result<void> validateOrder(const Json& patchList, const Json& order,
                             const std::string& mergeKey) {
    if (order.empty() || patchList.empty()) return {};
    std::vector<const Json*> items;
    for (const Json& item : patchList) {
      if (!mergeKey.empty()) {
        if (!item.is_object()) return errBadArgType(kMapType, item);
        if (auto d = item.find(kDirectiveMarker); d != item.end() && *d == "delete") continue;
      }
      items.push_back(&item);
    }
    // Keys are computed once per item: an item may be compared with many order entries.
    std::vector<std::optional<std::string>> itemKeys(items.size());
    size_t p = 0, s = 0;
    while (p < items.size() && s < order.size()) {
      const Json& item = *items[p];
      if (item.is_object() && item.contains(kDirectiveMarker)) {
        ++p;
        continue;
      }
      if (!itemKeys[p]) {
        if (mergeKey.empty()) {
          itemKeys[p] = scalarKey(item);
        } else {
          if (!item.is_object()) return errBadArgType(kMapType, item);
          auto a = item.find(mergeKey);
          if (a == item.end()) return errNoMergeKey(item, mergeKey);
          itemKeys[p] = scalarKey(*a);
        }
      }
      std::string orderKey;
      if (mergeKey.empty()) {
        orderKey = scalarKey(order[s]);
      } else {
        if (!order[s].is_object()) return errBadArgType(kMapType, order[s]);
        auto b = order[s].find(mergeKey);
        if (b == order[s].end()) return errNoMergeKey(order[s], mergeKey);
        orderKey = scalarKey(*b);
      }
      if (*itemKeys[p] == orderKey) ++p;
      ++s;
    }
    if (p < items.size()) {
      return badRequest("the order in patch list:\n" + goValue(patchList) + "\n doesn't match " +
                        std::string(kSetElementOrderPrefix) + " list:\n" + goValue(order));
    }
    return {};
  }

  // sliceElementType: every element of the lists has one Go type, which is not a list; true
  // when they are maps.
  Result<bool> elementsAreMaps(const Json& a, const Json& b) {
    std::string type;
    for (const Json* list : {&a, &b}) {
      for (const Json& e : *list) {
        std::string t = goTypeName(e);
        if (type.empty()) {
          type = t;
          if (e.is_array()) return Error(ErrorCode::kInvalid, "lists of lists are not supported");
        } else if (t != type) {
          return badRequest("list element types are not identical: [" + goValue(a) + " " +
                            goValue(b) + "]");
        }
      }
    }
    if (type.empty()) return badRequest("no elements in any of the given slices");
    return type == kMapType;
  }

  // The merge key's value of a list item, as a comparable key.
  static std::string itemKey(const Json& item, const std::string& mergeKey, bool maps) {
    if (!maps) return scalarKey(item);
    if (!item.is_object()) return "n";
    auto it = item.find(mergeKey);
    return it == item.end() ? "n" : scalarKey(*it);
  }

  // Items of `merged` that `by` mentions (by merge key for maps), and the others.
  Result<std::pair<Json, Json>> partition(const Json& merged, const Json& by,
                                          const std::string& mergeKey) {
    Json in = Json::array(), out = Json::array();
    std::unordered_set<std::string> keys;
    if (mergeKey.empty()) {
      for (const Json& v : by) keys.insert(scalarKey(v));
      for (const Json& v : merged) (keys.contains(scalarKey(v)) ? in : out).push_back(v);
      return std::pair{std::move(in), std::move(out)};
    }
    for (size_t i = 0; i < by.size(); ++i) {
      if (!by[i].is_object())
        return badRequest("value for key " + std::to_string(i) + " is not a map");
      if (auto it = by[i].find(mergeKey); it != by[i].end()) keys.insert(scalarKey(*it));
    }
    for (const Json& v : merged) {
      if (!v.is_object()) return errBadArgType(kMapType, v);
      auto it = v.find(mergeKey);
      if (it == v.end()) return errNoMergeKey(v, mergeKey);
      (keys.contains(scalarKey(*it)) ? in : out).push_back(v);
    }
    return std::pair{std::move(in), std::move(out)};
  }

  // Index of each item's key in `order` (first occurrence).
  static std::unordered_map<std::string, size_t> positions(const Json& order,
                                                           const std::string& mergeKey, bool maps) {
    std::unordered_map<std::string, size_t> pos;
    for (size_t i = 0; i < order.size(); ++i) pos.emplace(itemKey(order[i], mergeKey, maps), i);
    return pos;
  }

  // Sorts `items` by their position in `order` (deletion items last, for maps).
  Result<Json> normalizeSliceOrder(Json items, const Json& order, const std::string& mergeKey,
                                   bool maps) {
    Json toDelete = Json::array();
    if (maps) {
      for (const Json* list : {static_cast<const Json*>(&items), &order}) {
        for (const Json& v : *list) {
          if (!v.is_object()) return errBadArgType(kMapType, v);
          if (!v.contains(mergeKey)) return errNoMergeKey(v, mergeKey);
        }
      }
      Json keep = Json::array();
      for (Json& v : items) {
        auto d = v.find(kDirectiveMarker);
        (d != v.end() && *d == "delete" ? toDelete : keep).push_back(std::move(v));
      }
      items = std::move(keep);
    }
    auto pos = positions(order, mergeKey, maps);
    std::vector<std::pair<size_t, size_t>> keyed;  // (position in order, index in items)
    keyed.reserve(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      auto it = pos.find(itemKey(items[i], mergeKey, maps));
      keyed.emplace_back(it == pos.end() ? SIZE_MAX : it->second, i);
    }
    std::stable_sort(keyed.begin(), keyed.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    Json out = Json::array();
    for (const auto& [p, i] : keyed) out.push_back(std::move(items[i]));
    for (Json& v : toDelete) out.push_back(std::move(v));
    return out;
  }

  // Interleaves server-only items with patch items: a server-only item goes first when the
  // server's order puts it before the patch item at hand.
  Result<Json> normalizeElementOrder(Json patchItems, Json serverOnly, const Json& patchOrder,
                                     const Json& serverOrder, const std::string& mergeKey,
                                     bool maps) {
    Json right = TRY(normalizeSliceOrder(std::move(patchItems), patchOrder, mergeKey, maps));
    Json left = TRY(normalizeSliceOrder(std::move(serverOnly), serverOrder, mergeKey, maps));
    auto pos = positions(serverOrder, mergeKey, maps);
    auto where = [&](const Json& list) {
      std::vector<std::optional<size_t>> out;
      out.reserve(list.size());
      for (const Json& v : list) {
        auto it = pos.find(itemKey(v, mergeKey, maps));
        out.push_back(it == pos.end() ? std::optional<size_t>() : it->second);
      }
      return out;
    };
    std::vector<std::optional<size_t>> leftAt = where(left), rightAt = where(right);
    Json out = Json::array();
    size_t i = 0, j = 0;
    while (i < left.size() || j < right.size()) {
      if (i >= left.size()) {
        out.push_back(std::move(right[j++]));
      } else if (j >= right.size()) {
        out.push_back(std::move(left[i++]));
      } else {
        const auto& li = leftAt[i];
        const auto& ri = rightAt[j];
        if (li && ri && *li < *ri) {
          out.push_back(std::move(left[i++]));
        } else {
          out.push_back(std::move(right[j++]));
        }
      }
    }
    return out;
  }

  Result<Json> mergeSlice(Json original, Json patch, const Node* elemSchema,
                          const std::string& mergeKey, bool isDeleteList, int depth) {
    if (original.empty() && patch.empty()) return original;
    bool maps = TRY(elementsAreMaps(original, patch));
    Json merged;
    Json patchOrder;
    if (!maps) {
      if (isDeleteList) {
        std::unordered_set<std::string> drop;
        for (const Json& v : patch) drop.insert(scalarKey(v));
        Json out = Json::array();
        for (Json& v : original)
          if (!drop.contains(scalarKey(v))) out.push_back(std::move(v));
        return out;
      }
      merged = Json::array();
      std::unordered_set<std::string> seen;
      for (const Json* list : {&original, &patch})
        for (const Json& v : *list)
          if (seen.insert(scalarKey(v)).second) merged.push_back(v);
      patchOrder = std::move(patch);
    } else {
      if (mergeKey.empty()) {
        return badRequest("cannot merge lists without merge key for " +
                          (elemSchema != nullptr && !elemSchema->ref.empty()
                               ? elemSchema->ref.substr(elemSchema->ref.rfind('.') + 1)
                               : std::string("type struct")));
      }
      TRY(applySpecialElements(original, patch, mergeKey));
      merged = TRY(mergeWithoutSpecialElements(original, patch, mergeKey, elemSchema, depth));
      patchOrder = std::move(patch);
    }
    auto [patchItems, serverOnly] =
        TRY(partition(merged, patchOrder, maps ? mergeKey : std::string()));
    return normalizeElementOrder(std::move(patchItems), std::move(serverOnly), patchOrder, original,
                                 maps ? mergeKey : std::string(), maps);
  }

  // Items with $patch: "delete" remove every original item with their merge key; "replace"
  // makes the other patch items the whole list. Leaves the plain items in `patch`.
  Result<void> applySpecialElements(Json& original, Json& patch, const std::string& mergeKey) {
    Json plain = Json::array();
    std::unordered_set<std::string> deleted;
    bool replace = false;
    for (Json& v : patch) {
      auto d = v.find(kDirectiveMarker);
      if (d == v.end()) {
        plain.push_back(std::move(v));
      } else if (*d == "delete") {
        auto k = v.find(mergeKey);
        if (k == v.end()) return errNoMergeKey(v, mergeKey);
        deleted.insert(scalarKey(*k));
      } else if (*d == "replace") {
        replace = true;
      } else if (*d == "merge") {
        return badRequest("merging lists cannot yet be specified in the patch");
      } else {
        return errBadPatchType(*d, v);
      }
    }
    if (replace) {
      original = std::move(plain);
      patch = Json::array();
      return {};
    }
    if (!deleted.empty()) {
      Json kept = Json::array();
      for (Json& v : original) {
        auto k = v.find(mergeKey);
        if (k != v.end() && deleted.contains(scalarKey(*k))) continue;
        kept.push_back(std::move(v));
      }
      original = std::move(kept);
    }
    patch = std::move(plain);
    return {};
  }

  // Merges each patch item into the original item with its merge key, or appends it.
  Result<Json> mergeWithoutSpecialElements(const Json& original, const Json& patch,
                                           const std::string& mergeKey, const Node* elemSchema,
                                           int depth) {
    Json out = original;
    std::unordered_map<std::string, size_t> index;
    for (size_t i = 0; i < out.size(); ++i)
      if (auto k = out[i].find(mergeKey); k != out[i].end()) index.emplace(scalarKey(*k), i);
    for (const Json& v : patch) {
      auto k = v.find(mergeKey);
      if (k == v.end()) return errNoMergeKey(v, mergeKey);
      std::string key = scalarKey(*k);
      if (auto at = index.find(key); at != index.end()) {
        out[at->second] = TRY(mergeMap(std::move(out[at->second]), v, elemSchema, depth + 1));
      } else if (auto c = cleaned(v)) {
        index.emplace(key, out.size());
        out.push_back(std::move(*c));
      }
    }
    return out;
  }

  const SchemaSet& set_;
};

}  // namespace

Result<Json> applyStrategicMergePatch(const Json& document, const Json& patch,
                                      const schema::SchemaSet& set, const schema::Node& schema) {
  if (!patch.is_object() && !patch.is_null())
    return badRequest(std::string("json: cannot unmarshal ") +
                      (patch.is_array()     ? "array"
                       : patch.is_string()  ? "string"
                       : patch.is_boolean() ? "bool"
                                            : "number") +
                      " into Go value of type map[string]interface {}");
  if (patch.is_null()) return document;  // Kubernetes decodes it as an empty patch
  if (!document.is_object()) return badRequest("invalid JSON document");
  Merger merger(set);
  return merger.mergeMap(document, patch, &schema, 0);
}

}  // namespace nave::patch
