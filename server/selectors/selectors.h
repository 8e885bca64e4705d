// Label and field selectors with Kubernetes' grammar, semantics and error messages.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/result.h"

namespace nave::selectors {

enum class Operator { kEquals, kDoubleEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist, kGreaterThan, kLessThan };

struct LabelRequirement {
  std::string key;
  Operator op;
  std::vector<std::string> values;  // sorted, as Kubernetes keeps them
};

// A parsed label selector: "app=web,tier in (a,b),!legacy,env!=prod,track".
class LabelSelector {
 public:
  // An empty string selects everything. kBadRequest with Kubernetes' message for syntax errors
  // and invalid keys or values (e.g. "unable to parse requirement: ...").
  static Result<LabelSelector> parse(std::string_view text);
  // From a metav1.LabelSelector object ({matchLabels, matchExpressions}); null selects
  // everything. kInvalid-style message on bad operators or values.
  static Result<LabelSelector> fromObject(const Json& selector);

  // Whether a labels map (a JSON object of strings, or null) satisfies every requirement.
  bool matches(const Json& labels) const;
  bool empty() const { return requirements_.empty(); }
  const std::vector<LabelRequirement>& requirements() const { return requirements_; }
  // Canonical text, as kubectl shows it in `describe` ("app=web,tier in (a,b)").
  std::string toString() const;

 private:
  std::vector<LabelRequirement> requirements_;
};

struct FieldRequirement {
  std::string field;  // "spec.nodeName"
  Operator op;        // kEquals, kDoubleEquals or kNotEquals
  std::string value;
};

// A parsed field selector: "metadata.name=foo,status.phase!=Running" (with \, \= and \!
// escapes as in Kubernetes' fields package).
class FieldSelector {
 public:
  static Result<FieldSelector> parse(std::string_view text);

  // `valueOf(field)` returns the object's value for a field, or nullopt when the field is not
  // supported (the caller validates field names up front with requirements()).
  bool matches(const std::function<std::optional<std::string>(std::string_view)>& valueOf) const;
  bool empty() const { return requirements_.empty(); }
  const std::vector<FieldRequirement>& requirements() const { return requirements_; }
  // The value of an exact "field=value" requirement, if there is one (watch by name).
  std::optional<std::string> exactValue(std::string_view field) const;
  std::string toString() const;

 private:
  std::vector<FieldRequirement> requirements_;
};

}  // namespace nave::selectors
