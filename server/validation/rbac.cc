// rbac.authorization.k8s.io/v1: Role, ClusterRole, RoleBinding, ClusterRoleBinding
// (pkg/apis/rbac/v1/defaults.go and pkg/apis/rbac/validation).
#include "server/validation/internal.h"

namespace nave::validation::detail {
namespace {

constexpr std::string_view kRbacGroup = "rbac.authorization.k8s.io";

void validatePolicyRule(const Json& rule, bool namespaced, const std::string& path, FieldErrors& errs) {
  if (arrayOf(rule, "verbs").empty()) errs.required(child(path, "verbs"), "verbs must contain at least one value");
  const Json& urls = arrayOf(rule, "nonResourceURLs");
  if (!urls.empty()) {
    if (namespaced)
      errs.invalid(child(path, "nonResourceURLs"), urls, "namespaced rules cannot apply to non-resource URLs");
    if (!arrayOf(rule, "apiGroups").empty() || !arrayOf(rule, "resources").empty() ||
        !arrayOf(rule, "resourceNames").empty())
      errs.invalid(child(path, "nonResourceURLs"), urls,
                   "rules cannot apply to both regular resources and non-resource URLs");
    return;
  }
  if (arrayOf(rule, "apiGroups").empty())
    errs.required(child(path, "apiGroups"), "resource rules must supply at least one api group");
  if (arrayOf(rule, "resources").empty())
    errs.required(child(path, "resources"), "resource rules must supply at least one resource");
}

void validateRules(const Json& o, bool namespaced, FieldErrors& errs) {
  const Json& rules = arrayOf(o, "rules");
  for (size_t i = 0; i < rules.size(); ++i) validatePolicyRule(rules[i], namespaced, index("rules", i), errs);
}

void validateSubject(const Json& subject, bool clusterBinding, const std::string& path, FieldErrors& errs) {
  std::string name = str(subject, "name");
  std::string kind = str(subject, "kind");
  std::string group = str(subject, "apiGroup");
  if (name.empty()) errs.required(child(path, "name"));
  if (kind == "ServiceAccount") {
    if (!name.empty()) invalidEach(errs, child(path, "name"), name, isDns1123Subdomain(name));
    if (!group.empty()) errs.notSupported(child(path, "apiGroup"), group, {""});
    if (clusterBinding && str(subject, "namespace").empty()) errs.required(child(path, "namespace"));
  } else if (kind == "User" || kind == "Group") {
    if (group != kRbacGroup) errs.notSupported(child(path, "apiGroup"), group, {std::string(kRbacGroup)});
  } else {
    errs.notSupported(child(path, "kind"), kind, {"ServiceAccount", "User", "Group"});
  }
}

void validateBinding(const Json& o, const Json* old, Operation op, bool cluster, FieldErrors& errs) {
  if (op == Operation::kStatusUpdate) return;
  const Json& ref = objectOf(o, "roleRef");
  std::string group = str(ref, "apiGroup");
  if (group != kRbacGroup) errs.notSupported("roleRef.apiGroup", group, {std::string(kRbacGroup)});
  std::string kind = str(ref, "kind");
  if (cluster) {
    if (kind != "ClusterRole") errs.notSupported("roleRef.kind", kind, {"ClusterRole"});
  } else if (kind != "Role" && kind != "ClusterRole") {
    errs.notSupported("roleRef.kind", kind, {"Role", "ClusterRole"});
  }
  std::string name = str(ref, "name");
  if (name.empty()) {
    errs.required("roleRef.name");
  } else {
    invalidEach(errs, "roleRef.name", name, nameIsPathSegment(name, false));
  }
  const Json& subjects = arrayOf(o, "subjects");
  for (size_t i = 0; i < subjects.size(); ++i) validateSubject(subjects[i], cluster, index("subjects", i), errs);
  if (op == Operation::kUpdate && old != nullptr && !jsonEqual(ref, objectOf(*old, "roleRef")))
    errs.invalid("roleRef", ref, "cannot change roleRef");
}

}  // namespace

void defaultRoleBinding(Json& o) {
  if (Json* ref = mutObject(o, "roleRef")) defaultIfZero(*ref, "apiGroup", std::string(kRbacGroup));
  if (Json* subjects = mutArray(o, "subjects")) {
    for (Json& s : *subjects) {
      if (!s.is_object() || isSet(s, "apiGroup")) continue;
      std::string kind = str(s, "kind");
      if (kind == "ServiceAccount") s["apiGroup"] = "";
      else if (kind == "User" || kind == "Group") s["apiGroup"] = std::string(kRbacGroup);
    }
  }
}

void validateRole(const Json& o, const Json*, Operation op, FieldErrors& errs) {
  if (op != Operation::kStatusUpdate) validateRules(o, true, errs);
}

void validateClusterRole(const Json& o, const Json*, Operation op, FieldErrors& errs) {
  if (op == Operation::kStatusUpdate) return;
  validateRules(o, false, errs);
  if (const Json* agg = getObject(o, "aggregationRule")) {
    const Json& selectors = arrayOf(*agg, "clusterRoleSelectors");
    if (selectors.empty())
      errs.required("aggregationRule.clusterRoleSelectors",
                    "at least one clusterRoleSelector required if aggregationRule is non-nil");
    for (size_t i = 0; i < selectors.size(); ++i)
      validateLabelSelector(selectors[i], index("aggregationRule.clusterRoleSelectors", i), errs);
  }
}

void validateRoleBinding(const Json& o, const Json* old, Operation op, FieldErrors& errs) {
  validateBinding(o, old, op, false, errs);
}

void validateClusterRoleBinding(const Json& o, const Json* old, Operation op, FieldErrors& errs) {
  validateBinding(o, old, op, true, errs);
}

}  // namespace nave::validation::detail
