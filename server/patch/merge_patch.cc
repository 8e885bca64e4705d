// JSON Merge Patch (RFC 7386) as evanphx/json-patch's MergePatch applies it for Kubernetes:
// objects merge member by member, null removes a member, anything else replaces; nulls inside
// newly added objects (also within arrays) are dropped.
#include "server/patch/patch.h"

namespace nave::patch {
namespace {

constexpr int kMaxRecursion = 1024;

// Removes null members from objects, recursing into arrays (whose null elements stay).
void pruneNulls(Json& v, int depth) {
  if (depth > kMaxRecursion) return;
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end();) {
      if (it->is_null()) {
        it = v.erase(it);
      } else {
        pruneNulls(*it, depth + 1);
        ++it;
      }
    }
  } else if (v.is_array()) {
    for (Json& e : v) pruneNulls(e, depth + 1);
  }
}

Result<void> mergeObjects(Json& doc, const Json& patch, int depth) {
  if (depth > kMaxRecursion) return Error(ErrorCode::kBadRequest, "patch is nested too deeply");
  for (const auto& [key, value] : patch.items()) {
    if (value.is_null()) {
      doc.erase(key);
      continue;
    }
    auto cur = doc.find(key);
    if (cur == doc.end() || cur->is_null() || !cur->is_object()) {
      Json v = value;
      pruneNulls(v, depth + 1);
      doc[key] = std::move(v);
    } else if (!value.is_object()) {
      *cur = value;  // the library does not prune a non-object replacing an object
    } else {
      TRY(mergeObjects(*cur, value, depth + 1));
    }
  }
  return {};
}

}  // namespace

Result<Json> applyMergePatch(const Json& document, const Json& patch) {
  if (!patch.is_object()) return Error(ErrorCode::kBadRequest, "Invalid JSON Patch");
  if (!document.is_object()) {
    Json out = patch;
    pruneNulls(out, 0);
    return out;
  }
  Json out = document;
  TRY(mergeObjects(out, patch, 0));
  return out;
}

}  // namespace nave::patch
