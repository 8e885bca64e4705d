"""Discovery, OpenAPI and version, as kubectl 1.27, 1.32 and 1.33 see them."""

import re

from harness import SERVER_VERSION, ClusterTestCase, kubectl_path, parse_table
from manifests import app_manifest, configmap

VERSIONS = ["1.27", "1.32", "1.33"]

# (name, shortnames, apiVersion, namespaced, kind) as `kubectl api-resources` prints them for
# Kubernetes 1.32 (only each group's preferred version is listed: autoscaling/v2).
EXPECTED_RESOURCES = [
    ("configmaps", "cm", "v1", "true", "ConfigMap"),
    ("endpoints", "ep", "v1", "true", "Endpoints"),
    ("events", "ev", "v1", "true", "Event"),
    ("limitranges", "limits", "v1", "true", "LimitRange"),
    ("namespaces", "ns", "v1", "false", "Namespace"),
    ("nodes", "no", "v1", "false", "Node"),
    ("persistentvolumeclaims", "pvc", "v1", "true", "PersistentVolumeClaim"),
    ("persistentvolumes", "pv", "v1", "false", "PersistentVolume"),
    ("pods", "po", "v1", "true", "Pod"),
    ("resourcequotas", "quota", "v1", "true", "ResourceQuota"),
    ("secrets", "", "v1", "true", "Secret"),
    ("serviceaccounts", "sa", "v1", "true", "ServiceAccount"),
    ("services", "svc", "v1", "true", "Service"),
    ("customresourcedefinitions", "crd,crds", "apiextensions.k8s.io/v1", "false",
     "CustomResourceDefinition"),
    ("controllerrevisions", "", "apps/v1", "true", "ControllerRevision"),
    ("daemonsets", "ds", "apps/v1", "true", "DaemonSet"),
    ("deployments", "deploy", "apps/v1", "true", "Deployment"),
    ("replicasets", "rs", "apps/v1", "true", "ReplicaSet"),
    ("statefulsets", "sts", "apps/v1", "true", "StatefulSet"),
    ("horizontalpodautoscalers", "hpa", "autoscaling/v2", "true", "HorizontalPodAutoscaler"),
    ("cronjobs", "cj", "batch/v1", "true", "CronJob"),
    ("jobs", "", "batch/v1", "true", "Job"),
    ("leases", "", "coordination.k8s.io/v1", "true", "Lease"),
    ("endpointslices", "", "discovery.k8s.io/v1", "true", "EndpointSlice"),
    ("events", "ev", "events.k8s.io/v1", "true", "Event"),
    ("ingressclasses", "", "networking.k8s.io/v1", "false", "IngressClass"),
    ("ingresses", "ing", "networking.k8s.io/v1", "true", "Ingress"),
    ("networkpolicies", "netpol", "networking.k8s.io/v1", "true", "NetworkPolicy"),
    ("poddisruptionbudgets", "pdb", "policy/v1", "true", "PodDisruptionBudget"),
    ("clusterrolebindings", "", "rbac.authorization.k8s.io/v1", "false", "ClusterRoleBinding"),
    ("clusterroles", "", "rbac.authorization.k8s.io/v1", "false", "ClusterRole"),
    ("rolebindings", "", "rbac.authorization.k8s.io/v1", "true", "RoleBinding"),
    ("roles", "", "rbac.authorization.k8s.io/v1", "true", "Role"),
    ("priorityclasses", "pc", "scheduling.k8s.io/v1", "false", "PriorityClass"),
    ("storageclasses", "sc", "storage.k8s.io/v1", "false", "StorageClass"),
]

EXPECTED_GROUP_VERSIONS = [
    "v1", "apps/v1", "batch/v1", "autoscaling/v1", "autoscaling/v2", "coordination.k8s.io/v1",
    "discovery.k8s.io/v1", "events.k8s.io/v1", "networking.k8s.io/v1", "storage.k8s.io/v1",
    "rbac.authorization.k8s.io/v1", "policy/v1", "scheduling.k8s.io/v1",
    "apiextensions.k8s.io/v1",
]

BUILTIN_NAMESPACES = ["default", "kube-node-lease", "kube-public", "kube-system"]


class DiscoveryTest(ClusterTestCase):

    def need(self, version):
        """Inside a subTest: a missing kubectl binary is a visible skip of that version."""
        if kubectl_path(version) is None:
            self.skipTest(f"kubectl {version} is not installed")

    def test_get_namespaces(self):
        for v in VERSIONS:
            with self.subTest(kubectl=v):
                self.need(v)
                r = self.k("get", "ns", version=v)
                headers, rows = parse_table(r.out)
                self.assertEqual(headers, ["NAME", "STATUS", "AGE"], r.out)
                got = {row["NAME"]: row["STATUS"] for row in rows}
                for ns in BUILTIN_NAMESPACES:
                    self.assertEqual(got.get(ns), "Active", f"namespace {ns} in\n{r.out}")
                for row in rows:
                    self.assertRegex(row["AGE"], r"^\d+[smhd]", r.out)

    def test_api_resources(self):
        for v in VERSIONS:
            with self.subTest(kubectl=v):
                self.need(v)
                r = self.k("api-resources", version=v)
                headers, rows = parse_table(r.out)
                self.assertEqual(headers,
                                 ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"],
                                 r.out)
                got = {(row["NAME"], row["APIVERSION"]):
                       (row["NAME"], row["SHORTNAMES"], row["APIVERSION"], row["NAMESPACED"],
                        row["KIND"]) for row in rows}
                missing = [e for e in EXPECTED_RESOURCES if got.get((e[0], e[2])) != e]
                self.assertEqual(missing, [],
                                 "rows missing or different (expected name, shortnames, "
                                 "apiVersion, namespaced, kind):\n"
                                 + "\n".join(f"  want {e}\n  got  {got.get((e[0], e[2]))}"
                                             for e in missing)
                                 + f"\n--- kubectl {v} api-resources ---\n{r.out}")

    def test_api_resources_wide_verbs_and_categories(self):
        r = self.k("api-resources", "-o", "wide")
        headers, rows = parse_table(r.out)
        self.assertEqual(headers, ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND",
                                   "VERBS", "CATEGORIES"], r.out)
        by = {(row["NAME"], row["APIVERSION"]): row for row in rows}
        cm = by[("configmaps", "v1")]
        self.assertEqual(cm["VERBS"],
                         "create,delete,deletecollection,get,list,patch,update,watch", r.out)
        self.assertEqual(by[("pods", "v1")]["CATEGORIES"], "all", r.out)
        self.assertEqual(by[("deployments", "apps/v1")]["CATEGORIES"], "all", r.out)
        self.assertEqual(by[("namespaces", "v1")]["VERBS"],
                         "create,delete,get,list,patch,update,watch", r.out)

    def test_api_resources_filters(self):
        r = self.k("api-resources", "--namespaced=false", "-o", "name")
        names = set(r.lines())
        self.assertIn("namespaces", names)
        self.assertIn("clusterroles.rbac.authorization.k8s.io", names)
        self.assertNotIn("pods", names)
        r = self.k("api-resources", "--api-group=apps", "-o", "name")
        self.assertEqual(sorted(r.lines()),
                         ["controllerrevisions.apps", "daemonsets.apps", "deployments.apps",
                          "replicasets.apps", "statefulsets.apps"], r.out)

    def test_api_versions(self):
        for v in VERSIONS:
            with self.subTest(kubectl=v):
                self.need(v)
                r = self.k("api-versions", version=v)
                got = set(r.lines())
                missing = [gv for gv in EXPECTED_GROUP_VERSIONS if gv not in got]
                self.assertEqual(missing, [], r.out)

    def test_explain_deployment_strategy(self):
        for v in VERSIONS:
            with self.subTest(kubectl=v):
                self.need(v)
                r = self.k("explain", "deployment.spec.strategy", version=v)
                self.assertRegex(r.out, r"KIND:\s+Deployment\n")
                self.assertRegex(r.out, r"VERSION:\s+v1\n")
                self.assertRegex(r.out, r"FIELD:\s+strategy\s+<DeploymentStrategy>")
                self.assertRegex(r.out, r"\n\s+rollingUpdate\s+<RollingUpdateDeployment>\n")
                self.assertRegex(r.out, r"\n\s+type\s+<string>\n")

    def test_explain_pod_container_image(self):
        for v in VERSIONS:
            with self.subTest(kubectl=v):
                self.need(v)
                r = self.k("explain", "pod.spec.containers.image", version=v)
                self.assertRegex(r.out, r"KIND:\s+Pod\n")
                self.assertRegex(r.out, r"FIELD:\s+image\s+<string>")
                self.assertRegex(r.out, r"DESCRIPTION:\n\s+\S")

    def test_explain_recursive_lists_nested_fields(self):
        r = self.k("explain", "deployment.spec", "--recursive")
        for field in ["replicas", "selector", "template", "strategy", "rollingUpdate",
                      "maxSurge", "maxUnavailable", "containers", "image"]:
            self.assertRegex(r.out, rf"\n\s+{field}\s+<", f"field {field}")

    def test_explain_unknown_field_is_an_error(self):
        r = self.k_fail("explain", "deployment.spec.nosuchfield")
        self.assertContains(r.err, 'field "nosuchfield" does not exist')

    def test_version(self):
        for v in VERSIONS:
            with self.subTest(kubectl=v):
                self.need(v)
                r = self.k("version", "-o", "json", version=v)
                info = r.json()["serverVersion"]
                self.assertEqual(info["gitVersion"], SERVER_VERSION, r.out)
                self.assertEqual(info["major"], "1", r.out)
                self.assertEqual(info["minor"], "32", r.out)
                plain = self.k("version", version=v).out
                self.assertRegex(plain, r"Server Version: .*" + re.escape(SERVER_VERSION))

    def test_raw_discovery_documents(self):
        api = self.cluster.kubectl("get", "--raw", "/api").json()
        self.assertEqual(api["kind"], "APIVersions")
        self.assertEqual(api["versions"], ["v1"])
        groups = self.cluster.kubectl("get", "--raw", "/apis").json()
        self.assertEqual(groups["kind"], "APIGroupList")
        names = {g["name"]: g for g in groups["groups"]}
        self.assertEqual(names["autoscaling"]["preferredVersion"]["groupVersion"],
                         "autoscaling/v2")
        rl = self.cluster.kubectl("get", "--raw", "/apis/autoscaling/v1").json()
        self.assertEqual(rl["kind"], "APIResourceList")
        self.assertIn("horizontalpodautoscalers", [r["name"] for r in rl["resources"]])
        core = self.cluster.kubectl("get", "--raw", "/api/v1").json()
        sub = {r["name"] for r in core["resources"]}
        for s in ["pods", "pods/status", "namespaces/status", "services/status"]:
            self.assertIn(s, sub)
        apps = self.cluster.kubectl("get", "--raw", "/apis/apps/v1").json()
        self.assertIn("deployments/scale", {r["name"] for r in apps["resources"]})

    def test_aggregated_discovery_content_types(self):
        for accept, ctype in [
            ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
             "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"),
            ("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
             "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"),
        ]:
            with self.subTest(accept=accept):
                resp = self.cluster.request("GET", "/apis", headers={"Accept": accept})
                self.assertEqual(resp.status, 200, str(resp))
                self.assertEqual(resp.headers.get("Content-Type", "").replace(" ", ""), ctype)
                doc = resp.json()
                self.assertEqual(doc["kind"], "APIGroupDiscoveryList")
                groups = {g["metadata"]["name"] for g in doc["items"]}
                self.assertIn("apps", groups)
                self.assertIn("rbac.authorization.k8s.io", groups)

    def test_openapi_v3(self):
        idx = self.cluster.kubectl("get", "--raw", "/openapi/v3").json()
        paths = idx["paths"]
        for gv in ["api/v1", "apis/apps/v1", "apis/batch/v1", "apis/networking.k8s.io/v1"]:
            self.assertIn(gv, paths)
        doc = self.cluster.kubectl("get", "--raw", paths["apis/apps/v1"]["serverRelativeURL"]
                                   ).json()
        schemas = doc["components"]["schemas"]
        dep = [s for s in schemas.values()
               if {"group": "apps", "version": "v1", "kind": "Deployment"}
               in s.get("x-kubernetes-group-version-kind", [])]
        self.assertEqual(len(dep), 1, "one schema carries the Deployment GVK")
        patch_op = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
        params = [p.get("name") for p in patch_op.get("parameters", [])]
        params += [p.get("name") for p in
                   doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
                   .get("parameters", [])]
        self.assertIn("fieldValidation", params)

    def test_health_endpoints(self):
        for path in ["/healthz", "/livez", "/readyz"]:
            r = self.k("get", "--raw", path)
            self.assertEqual(r.out.strip(), "ok", path)

    def test_basic_workflow_with_each_kubectl(self):
        for v in VERSIONS:
            with self.subTest(kubectl=v):
                self.need(v)
                ns = "wf-" + v.replace(".", "-")
                manifest = app_manifest(ns)
                r = self.k("apply", "-f", "-", input=manifest, version=v)
                self.assertEqual(len(r.lines()), 10, r.out)
                self.assertTrue(all(l.endswith(" created") for l in r.lines()), r.out)
                r = self.k("apply", "-f", "-", input=manifest, version=v)
                self.assertTrue(all(l.endswith(" unchanged") for l in r.lines()), r.out)
                headers, rows = parse_table(self.k("get", "deploy", "-n", ns, version=v).out)
                self.assertEqual(headers, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"])
                r = self.k("apply", "--server-side", "-f", "-", version=v,
                           input=configmap("ssa", ns, {"a": "1"}))
                self.assertEqual(r.out.strip(), "configmap/ssa serverside-applied")
                r = self.k("delete", "namespace", ns, version=v, timeout=60)
                self.assertEqual(r.out.strip(), f'namespace "{ns}" deleted')
