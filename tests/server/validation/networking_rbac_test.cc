#include <gtest/gtest.h>

#include "server/validation/validation.h"
#include "tests/server/validation/test_util.h"

namespace nave::validation {
namespace {

using testing::create;
using testing::describe;
using testing::findError;
using testing::hasError;
using testing::update;
using testing::yaml;

TEST(Networking, IngressValid) {
  Json ing = yaml(R"(
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  annotations: {nginx.ingress.kubernetes.io/rewrite-target: /}
spec:
  ingressClassName: nginx
  tls: [{hosts: [example.com, "*.example.com"], secretName: example-tls}]
  defaultBackend: {service: {name: fallback, port: {number: 8080}}}
  rules:
  - host: example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
      - {path: /api, pathType: Exact, backend: {service: {name: api, port: {name: http}}}}
      - {path: "/static/.*", pathType: ImplementationSpecific, backend: {resource: {apiGroup: k8s.example.com, kind: StorageBucket, name: static}}}
  - host: "*.example.com"
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
)");
  EXPECT_NO_FIELD_ERRORS(create(ing));
}

TEST(Networking, IngressInvalid) {
  Json ing = yaml(R"(
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules:
  - host: 10.0.0.1
    http:
      paths:
      - {path: /, backend: {service: {name: web, port: {number: 80}}}}
      - {path: api, pathType: Prefix, backend: {service: {name: web, port: {number: 80, name: http}}}}
      - {path: /a//b, pathType: Exact, backend: {}}
      - {path: /, pathType: Regex, backend: {service: {name: Web}}}
  - host: "foo.*.com"
    http: {paths: []}
)");
  FieldErrors errs = create(ing);
  EXPECT_EQ(findError(errs, "spec.rules[0].host")->detail, "must be a DNS name, not an IP address");
  EXPECT_EQ(findError(errs, "spec.rules[0].http.paths[0].pathType")->toString(),
            "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified");
  EXPECT_EQ(findError(errs, "spec.rules[0].http.paths[1].path")->detail, "must be an absolute path");
  EXPECT_EQ(findError(errs, "spec.rules[0].http.paths[1].backend")->detail, "cannot set both port name & port number");
  EXPECT_EQ(findError(errs, "spec.rules[0].http.paths[2].path")->detail, "must not contain '//'");
  EXPECT_EQ(findError(errs, "spec.rules[0].http.paths[2].backend")->detail, "resource or service backend is required");
  EXPECT_EQ(findError(errs, "spec.rules[0].http.paths[3].pathType")->toString(),
            "spec.rules[0].http.paths[3].pathType: Unsupported value: \"Regex\": supported values: \"Exact\", "
            "\"ImplementationSpecific\", \"Prefix\"");
  EXPECT_FIELD_ERROR(errs, "spec.rules[1].host", FieldErrorType::kInvalid);
  EXPECT_FIELD_ERROR(errs, "spec.rules[1].http.paths", FieldErrorType::kRequired);

  Json empty = yaml("{apiVersion: networking.k8s.io/v1, kind: Ingress, metadata: {name: e}, spec: {}}");
  EXPECT_EQ(findError(create(empty), "spec")->detail, "either `defaultBackend` or `rules` must be specified");
}

TEST(Networking, IngressClass) {
  Json ic = yaml(R"(
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: nginx
  annotations: {ingressclass.kubernetes.io/is-default-class: "true"}
spec: {controller: k8s.io/ingress-nginx}
)");
  EXPECT_NO_FIELD_ERRORS(create(ic));
  Json old = ic;
  old["metadata"]["resourceVersion"] = "1";
  Json changed = old;
  changed["spec"]["controller"] = "example.com/other";
  EXPECT_EQ(findError(update(changed, old), "spec.controller")->detail, "field is immutable");
  Json bad = yaml("{apiVersion: networking.k8s.io/v1, kind: IngressClass, metadata: {name: x}, spec: {controller: nginx}}");
  EXPECT_EQ(findError(create(bad), "spec.controller")->detail, "must be a domain-prefixed path (such as \"acme.io/foo\")");
}

TEST(Networking, NetworkPolicy) {
  Json np = yaml(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db}
spec:
  podSelector: {matchLabels: {role: db}}
  ingress:
  - from:
    - ipBlock: {cidr: 172.17.0.0/16, except: [172.17.1.0/24]}
    - namespaceSelector: {matchLabels: {project: myproject}}
      podSelector: {matchLabels: {role: frontend}}
    ports: [{port: 6379}, {port: 32000, endPort: 32768}]
  egress:
  - to: [{ipBlock: {cidr: 10.0.0.0/24}}]
    ports: [{protocol: UDP, port: dns}]
)");
  EXPECT_NO_FIELD_ERRORS(create(np));
  EXPECT_EQ(np["spec"]["policyTypes"], Json::array({"Ingress", "Egress"}));
  EXPECT_EQ(np["spec"]["ingress"][0]["ports"][0]["protocol"], "TCP");
  EXPECT_EQ(np["spec"]["egress"][0]["ports"][0]["protocol"], "UDP");

  Json denyAll = yaml("{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: deny}, spec: {podSelector: {}}}");
  EXPECT_NO_FIELD_ERRORS(create(denyAll));
  EXPECT_EQ(denyAll["spec"]["policyTypes"], Json::array({"Ingress"}));

  Json bad = yaml(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad}
spec:
  podSelector: {}
  policyTypes: [Ingress, Sideways]
  ingress:
  - from:
    - {}
    - ipBlock: {cidr: 10.0.0.0/24, except: [10.1.0.0/24]}
      podSelector: {}
    ports: [{port: http, endPort: 90}, {port: 100, endPort: 80}, {protocol: ICMP}]
)");
  FieldErrors errs = create(bad);
  EXPECT_EQ(findError(errs, "spec.ingress[0].from[0]")->toString(), "spec.ingress[0].from[0]: Required value: must specify a peer");
  EXPECT_EQ(findError(errs, "spec.ingress[0].from[1].ipBlock.except[0]")->detail, "must be a strict subset of `cidr`");
  EXPECT_EQ(findError(errs, "spec.ingress[0].from[1]")->detail, "may not specify both ipBlock and another peer");
  EXPECT_EQ(findError(errs, "spec.ingress[0].ports[0].endPort")->detail, "may not be specified when `port` is non-numeric");
  EXPECT_EQ(findError(errs, "spec.ingress[0].ports[1].endPort")->detail, "must be greater than or equal to `port`");
  EXPECT_FIELD_ERROR(errs, "spec.ingress[0].ports[2].protocol", FieldErrorType::kNotSupported);
  EXPECT_FIELD_ERROR(errs, "spec.policyTypes[1]", FieldErrorType::kNotSupported);
}

TEST(Rbac, ValidObjectsAndDefaults) {
  Json role = yaml(R"(
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader}
rules:
- apiGroups: [""]
  resources: [pods, pods/log]
  verbs: [get, watch, list]
)");
  EXPECT_NO_FIELD_ERRORS(create(role));
  Json clusterRole = yaml(R"(
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:metrics-reader"}
rules:
- nonResourceURLs: [/metrics, /healthz/*]
  verbs: [get]
- apiGroups: [apps, extensions]
  resources: ["*"]
  resourceNames: [web]
  verbs: ["*"]
)");
  EXPECT_NO_FIELD_ERRORS(create(clusterRole));
  Json aggregated = yaml(R"(
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: monitoring}
aggregationRule:
  clusterRoleSelectors: [{matchLabels: {rbac.example.com/aggregate-to-monitoring: "true"}}]
rules: []
)");
  EXPECT_NO_FIELD_ERRORS(create(aggregated));

  Json binding = yaml(R"(
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: read-pods}
subjects:
- {kind: User, name: jane}
- {kind: ServiceAccount, name: default, namespace: kube-system}
- {kind: Group, name: "system:authenticated", apiGroup: rbac.authorization.k8s.io}
roleRef: {kind: Role, name: pod-reader}
)");
  EXPECT_NO_FIELD_ERRORS(create(binding));
  EXPECT_EQ(binding["roleRef"]["apiGroup"], "rbac.authorization.k8s.io");
  EXPECT_EQ(binding["subjects"][0]["apiGroup"], "rbac.authorization.k8s.io");
  EXPECT_EQ(binding["subjects"][1]["apiGroup"], "");

  Json crb = yaml(R"(
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:monitoring"}
subjects: [{kind: ServiceAccount, name: prometheus, namespace: monitoring}]
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: monitoring}
)");
  EXPECT_NO_FIELD_ERRORS(create(crb));
}

TEST(Rbac, Invalid) {
  Json role = yaml(R"(
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r}
rules:
- {apiGroups: [""], resources: [pods]}
- {verbs: [get]}
- {nonResourceURLs: [/metrics], verbs: [get]}
)");
  FieldErrors errs = create(role);
  EXPECT_EQ(findError(errs, "rules[0].verbs")->toString(), "rules[0].verbs: Required value: verbs must contain at least one value");
  EXPECT_EQ(findError(errs, "rules[1].apiGroups")->detail, "resource rules must supply at least one api group");
  EXPECT_EQ(findError(errs, "rules[1].resources")->detail, "resource rules must supply at least one resource");
  EXPECT_EQ(findError(errs, "rules[2].nonResourceURLs")->detail, "namespaced rules cannot apply to non-resource URLs");

  Json crb = yaml(R"(
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: b}
subjects: [{kind: ServiceAccount, name: sa}, {kind: Robot, name: r2}]
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: x}
)");
  FieldErrors b = create(crb);
  EXPECT_FIELD_ERROR(b, "subjects[0].namespace", FieldErrorType::kRequired);
  EXPECT_FIELD_ERROR(b, "subjects[1].kind", FieldErrorType::kNotSupported);
  EXPECT_EQ(findError(b, "roleRef.kind")->toString(),
            "roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\"");
}

TEST(Rbac, RoleRefIsImmutable) {
  Json rb = yaml(R"(
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb, resourceVersion: "1"}
subjects: [{kind: User, name: jane}]
roleRef: {kind: Role, name: pod-reader}
)");
  ASSERT_TRUE(create(rb).empty());
  Json changed = rb;
  changed["roleRef"]["name"] = "admin";
  FieldErrors errs = update(changed, rb);
  ASSERT_EQ(errs.size(), 1u) << describe(errs);
  EXPECT_EQ(errs.errors()[0].field, "roleRef");
  EXPECT_EQ(errs.errors()[0].detail, "cannot change roleRef");
  Json moreSubjects = rb;
  moreSubjects["subjects"].push_back({{"kind", "Group"}, {"name", "devs"}});
  EXPECT_NO_FIELD_ERRORS(update(moreSubjects, rb));
}

}  // namespace
}  // namespace nave::validation
