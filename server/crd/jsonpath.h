// JSONPath as Kubernetes evaluates it for CRD printer columns (client-go's jsonpath with
// missing keys allowed), and the simple dotted paths of the scale subresource.
//
// Supported: fields (.a.b, ['a.b'], ["a"]), the root ($), wildcards (.* and [*]), recursive
// descent (..name), indexes and slices ([0], [-1], [1:3], [::2]), unions ([0,2], ['a','b']) and
// filters ([?(@.type=="Ready")], with ==, !=, <, <=, >, >= against strings, numbers, booleans
// or other paths, and [?(@.field)] for presence).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/result.h"

namespace nave::crd {

class JsonPath {
 public:
  // Parses ".spec.replicas" or "{.spec.replicas}". kBadRequest with the reason when invalid.
  static Result<JsonPath> parse(std::string_view expression);

  // The values the path selects in `root`, in document order; empty when nothing matches
  // (missing keys, out-of-range indexes). Pointers into `root`.
  std::vector<const Json*> find(const Json& root) const;

  const std::string& expression() const { return expression_; }

  struct Step;  // defined in jsonpath.cc

 private:
  std::string expression_;
  std::shared_ptr<const std::vector<Step>> steps_;
};

// The value at a simple dotted path (".spec.replicas"), or nullptr. A leading dot is optional.
const Json* lookupSimplePath(const Json& root, std::string_view path);
// Sets the value at a simple dotted path, creating intermediate objects (and replacing
// non-objects on the way). No-op for an empty path.
void setSimplePath(Json& root, std::string_view path, Json value);

}  // namespace nave::crd
