// structured-merge-diff's operations on objects typed by nave's schema model: the set of fields
// an object (or an applied configuration) sets, the difference between two objects, the merge
// of an applied configuration into a live object, and the removal of fields.
//
// How the schema maps onto structured-merge-diff's types (kube-openapi's schemaconv):
//  - objects are structs, granular unless x-kubernetes-map-type atomic; fields the schema does
//    not declare are "deduced";
//  - maps (additionalProperties) are granular unless atomic;
//  - lists with x-kubernetes-list-type map are keyed by x-kubernetes-list-map-keys, set are sets
//    of scalars, atomic are atomic; without a list type, patch strategy merge (or
//    merge,retainKeys) makes them keyed by the patch merge key (a set when there is none), and
//    anything else is atomic;
//  - any / preserve-unknown values are deduced: maps granular, lists atomic; RawExtension is
//    atomic; scalars, int-or-string and quantities are leaves.
#pragma once

#include "common/json.h"
#include "common/result.h"
#include "server/apply/fieldpath.h"
#include "server/schema/schema.h"

namespace nave::apply {

// What changed between two objects (structured-merge-diff's typed.Comparison). A map or list
// item that appears or disappears as a whole is listed itself as well as its fields.
struct Comparison {
  FieldSet removed, modified, added;
  bool same() const { return removed.empty() && modified.empty() && added.empty(); }
};

// Operations over values of the type `root` (a kind's schema node). `set` resolves refs and
// may be null for self-contained trees. Cheap to construct; holds no copy of the schema.
//
// Only toFieldSet(strict) reports malformed values. Everything else is lenient, because stored
// objects must never make a write fail: values the schema cannot place are treated as opaque
// leaves, and list items whose key cannot be computed are kept but not tracked.
class TypedOps {
 public:
  TypedOps(const schema::SchemaSet* set, const schema::Node* root) : set_(set), root_(root) {}

  // The fields `value` sets: leaves, map entries, list items, atomic values and empty structs,
  // but not the struct fields that merely lead to them. With `strict`, kBadRequest for a value of
  // the wrong shape, a keyed list item without its keys, or duplicate list items.
  Result<FieldSet> toFieldSet(const Json& value, bool strict) const;

  Comparison compare(const Json& lhs, const Json& rhs) const;

  // `rhs` (an applied configuration) merged into `lhs`: granular maps and keyed lists merge
  // item by item, leaves and atomic values are replaced. List order follows `rhs` for the
  // items it names, other items keep their place.
  Json merge(const Json& lhs, const Json& rhs) const;

  // `value` without the fields and items that are members of `toRemove`. Maps, lists and
  // structs left empty by the removal disappear, except structs at a path of `preserveEmptied`.
  Json removeItems(const Json& value, const FieldSet& toRemove,
                   const FieldSet* preserveEmptied = nullptr) const;

  // `set` plus, as members, every struct field one of its paths goes through (maps' keys and
  // list items are not added).
  FieldSet ensureNamedFieldsAreMembers(const FieldSet& set) const;

 private:
  const schema::SchemaSet* set_;
  const schema::Node* root_;
};

}  // namespace nave::apply
