// metav1.LabelSelector: validation (ValidateLabelSelector) and matching against a labels map.
// Matching lives here rather than in server/selectors so that validation does not need a parsed
// selector object for the common "selector must match template labels" rule.
#include "server/validation/internal.h"

namespace nave::validation::detail {

void validateLabelSelector(const Json& selector, const std::string& path, FieldErrors& errs) {
  if (selector.is_null()) return;
  if (!selector.is_object()) {
    errs.invalid(path, selector, "must be a label selector object");
    return;
  }
  validateLabels(memberOrNull(selector, "matchLabels"), child(path, "matchLabels"), errs);
  const Json& exprs = arrayOf(selector, "matchExpressions");
  for (size_t i = 0; i < exprs.size(); ++i) {
    const Json& e = exprs[i];
    std::string p = index(child(path, "matchExpressions"), i);
    std::string op = str(e, "operator");
    const Json& values = arrayOf(e, "values");
    if (op == "In" || op == "NotIn") {
      if (values.empty())
        errs.required(child(p, "values"), "must be specified when `operator` is 'In' or 'NotIn'");
    } else if (op == "Exists" || op == "DoesNotExist") {
      if (!values.empty())
        errs.forbidden(child(p, "values"),
                       "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
    } else {
      errs.invalid(child(p, "operator"), op, "not a valid selector operator");
    }
    validateLabelName(str(e, "key"), child(p, "key"), errs);
    for (size_t j = 0; j < values.size(); ++j) {
      if (!values[j].is_string()) continue;
      invalidEach(errs, index(child(p, "values"), j), values[j],
                  isValidLabelValue(values[j].get_ref<const std::string&>()));
    }
  }
}

bool selectorIsEmpty(const Json& selector) {
  return objectOf(selector, "matchLabels").empty() && arrayOf(selector, "matchExpressions").empty();
}

bool selectorMatches(const Json& selector, const Json& labels) {
  if (!selector.is_object()) return false;
  auto labelValue = [&](const std::string& key) -> const Json* {
    const Json* v = findMember(labels, key);
    return v != nullptr && v->is_string() ? v : nullptr;
  };
  const Json& matchLabels = objectOf(selector, "matchLabels");
  for (auto it = matchLabels.begin(); it != matchLabels.end(); ++it) {
    const Json* v = labelValue(it.key());
    if (v == nullptr || *v != *it) return false;
  }
  for (const Json& e : arrayOf(selector, "matchExpressions")) {
    std::string key = str(e, "key");
    std::string op = str(e, "operator");
    const Json* v = labelValue(key);
    const Json& values = arrayOf(e, "values");
    bool inValues = false;
    if (v != nullptr)
      for (const Json& candidate : values)
        if (candidate == *v) inValues = true;
    if (op == "In") {
      if (!inValues) return false;
    } else if (op == "NotIn") {
      if (inValues) return false;
    } else if (op == "Exists") {
      if (v == nullptr) return false;
    } else if (op == "DoesNotExist") {
      if (v != nullptr) return false;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace nave::validation::detail
