"""kubectl get: Kubernetes' columns, output formats, selectors, -A and chunking."""

import yaml

from harness import ClusterTestCase, parse_table
from manifests import app_manifest, configmap, pod

# Headers of `kubectl get TYPE` (and -o wide) as Kubernetes 1.32 prints them for a namespaced
# listing (no NAMESPACE column).
COLUMNS = {
    "pods": (["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
             ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"]),
    "deployments": (["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
                    ["CONTAINERS", "IMAGES", "SELECTOR"]),
    "replicasets": (["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
                    ["CONTAINERS", "IMAGES", "SELECTOR"]),
    "statefulsets": (["NAME", "READY", "AGE"], ["CONTAINERS", "IMAGES"]),
    "daemonsets": (["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE",
                    "NODE SELECTOR", "AGE"], ["CONTAINERS", "IMAGES", "SELECTOR"]),
    "jobs": (["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
             ["CONTAINERS", "IMAGES", "SELECTOR"]),
    "cronjobs": (["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"],
                 ["CONTAINERS", "IMAGES", "SELECTOR"]),
    "services": (["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
                 ["SELECTOR"]),
    "ingresses": (["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"], []),
    "configmaps": (["NAME", "DATA", "AGE"], []),
    "secrets": (["NAME", "TYPE", "DATA", "AGE"], []),
    "serviceaccounts": (["NAME", "SECRETS", "AGE"], []),
    "events": (["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
               # -o wide interleaves its columns for events
               ["LAST SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE", "MESSAGE",
                "FIRST SEEN", "COUNT", "NAME"]),
    "endpoints": (["NAME", "ENDPOINTS", "AGE"], []),
    "leases": (["NAME", "HOLDER", "AGE"], []),
    "roles": (["NAME", "CREATED AT"], []),
    "rolebindings": (["NAME", "ROLE", "AGE"], ["USERS", "GROUPS", "SERVICEACCOUNTS"]),
    "networkpolicies": (["NAME", "POD-SELECTOR", "AGE"], []),
    "poddisruptionbudgets": (["NAME", "MIN AVAILABLE", "MAX UNAVAILABLE",
                              "ALLOWED DISRUPTIONS", "AGE"], []),
    "horizontalpodautoscalers": (["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS",
                                  "REPLICAS", "AGE"], []),
    "persistentvolumeclaims": (["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES",
                                "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "AGE"],
                               ["VOLUMEMODE"]),
    "resourcequotas": (["NAME", "AGE", "REQUEST", "LIMIT"], []),
    "limitranges": (["NAME", "CREATED AT"], []),
}

CLUSTER_COLUMNS = {
    "namespaces": ["NAME", "STATUS", "AGE"],
    "storageclasses": ["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE",
                       "ALLOWVOLUMEEXPANSION", "AGE"],
    "priorityclasses": ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"],
    "clusterroles": ["NAME", "CREATED AT"],
    "ingressclasses": ["NAME", "CONTROLLER", "PARAMETERS", "AGE"],
}

EXTRA_OBJECTS = """\
apiVersion: v1
kind: ServiceAccount
metadata: {name: builder, namespace: NS}
---
apiVersion: v1
kind: Endpoints
metadata: {name: manual, namespace: NS}
subsets:
- addresses: [{ip: 10.42.0.5}]
  ports: [{port: 8080}]
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: lock, namespace: NS}
spec: {holderIdentity: node-a}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader, namespace: NS}
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: read, namespace: NS}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects:
- {kind: ServiceAccount, name: builder, namespace: NS}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: NS}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: NS}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: web}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: NS}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 5
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: NS}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: quota, namespace: NS}
spec:
  hard: {pods: "10"}
---
apiVersion: v1
kind: LimitRange
metadata: {name: limits, namespace: NS}
spec:
  limits:
  - type: Container
    default: {cpu: 500m}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs, namespace: NS}
spec:
  replicas: 2
  selector: {matchLabels: {app: rs}}
  template:
    metadata: {labels: {app: rs}}
    spec:
      containers: [{name: c, image: busybox:1.36}]
---
apiVersion: v1
kind: Event
metadata: {name: web-pod.1, namespace: NS}
involvedObject: {kind: Pod, name: web-pod, namespace: NS}
reason: Scheduled
message: assigned to node-a
type: Normal
firstTimestamp: "2024-01-01T00:00:00Z"
lastTimestamp: "2024-01-01T00:00:00Z"
count: 1
---
apiVersion: v1
kind: Event
metadata: {name: web.1, namespace: NS}
involvedObject: {kind: Deployment, name: web, namespace: NS}
reason: ScalingReplicaSet
message: scaled up
type: Normal
firstTimestamp: "2024-01-01T00:00:00Z"
lastTimestamp: "2024-01-01T00:00:00Z"
count: 1
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: e2e-local}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: e2e-high}
value: 1000
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: e2e-viewer}
rules: []
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: e2e-nginx}
spec: {controller: example.com/ingress}
"""

SELECTOR_LABELS = {
    "a": {"app": "web", "tier": "fe"},
    "b": {"app": "db", "tier": "be"},
    "c": {"app": "cache"},
    "d": {"tier": "fe"},
}


class GetTest(ClusterTestCase):
    NS = "get"
    # The fixtures are hand-made: a pod that stays unscheduled, with hand-written events. The
    # scheduler would add its own condition and FailedScheduling events (there is no node).
    server_args = ("--disable-scheduler",)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.cluster
        c.apply(app_manifest(cls.NS, replicas=3))
        c.apply(EXTRA_OBJECTS.replace("NS", cls.NS))
        # The workload controllers add pods of their own to NS: tests about web-pod select it
        # by its "standalone" label.
        c.apply(pod("web-pod", cls.NS, labels={"app": "web", "standalone": "yes"}))
        c.create_namespace("sel")
        for name, labels in SELECTOR_LABELS.items():
            c.apply(configmap(name, "sel", labels=labels))
        c.create_namespace("chunks")
        c.apply("---\n".join(configmap(f"cm-{i:02d}", "chunks") for i in range(10)))

    def names(self, *args):
        return sorted(self.k("get", *args, "-o", "name").lines())

    def test_namespaced_columns(self):
        for resource, (cols, wide) in COLUMNS.items():
            with self.subTest(resource=resource):
                r = self.k("get", resource, "-n", self.NS)
                headers, rows = parse_table(r.out)
                self.assertEqual(headers, cols, r.out)
                self.assertTrue(rows, f"no {resource} listed\n{r.out}")
                r = self.k("get", resource, "-n", self.NS, "-o", "wide")
                headers, _ = parse_table(r.out)
                want = wide if wide[:1] == cols[:1] else cols + wide
                self.assertEqual(headers, want, r.out)

    def test_cluster_scoped_columns(self):
        for resource, cols in CLUSTER_COLUMNS.items():
            with self.subTest(resource=resource):
                r = self.k("get", resource)
                headers, rows = parse_table(r.out)
                self.assertEqual(headers, cols, r.out)
                self.assertTrue(rows, r.out)

    def test_cell_values(self):
        _, rows = parse_table(self.k("get", "pods", "-n", self.NS, "-l", "standalone", "-o", "wide").out)
        self.assertEqual(rows[0]["NAME"], "web-pod")
        self.assertEqual(rows[0]["READY"], "0/1")
        self.assertEqual(rows[0]["STATUS"], "Pending")
        self.assertEqual(rows[0]["RESTARTS"], "0")
        self.assertEqual(rows[0]["IP"], "<none>")
        self.assertEqual(rows[0]["NODE"], "<none>")
        self.assertEqual(rows[0]["NOMINATED NODE"], "<none>")
        self.assertEqual(rows[0]["READINESS GATES"], "<none>")

        _, rows = parse_table(self.k("get", "deployments", "-n", self.NS, "-o", "wide").out)
        self.assertEqual(rows[0]["NAME"], "web")
        self.assertRegex(rows[0]["READY"], r"^\d/3$")
        self.assertEqual(rows[0]["CONTAINERS"], "web")
        self.assertEqual(rows[0]["IMAGES"], "nginx:1.25")
        self.assertEqual(rows[0]["SELECTOR"], "app=web")

        _, rows = parse_table(self.k("get", "services", "-n", self.NS, "-o", "wide").out)
        self.assertEqual(rows[0]["TYPE"], "ClusterIP")
        self.assertRegex(rows[0]["CLUSTER-IP"], r"^10\.43\.\d+\.\d+$")
        self.assertEqual(rows[0]["EXTERNAL-IP"], "<none>")
        self.assertEqual(rows[0]["PORT(S)"], "80/TCP")
        self.assertEqual(rows[0]["SELECTOR"], "app=web")

        _, rows = parse_table(self.k("get", "configmaps", "-n", self.NS).out)
        self.assertEqual({r["NAME"]: r["DATA"] for r in rows}.get("app-config"), "2")
        _, rows = parse_table(self.k("get", "secrets", "-n", self.NS).out)
        row = [r for r in rows if r["NAME"] == "app-secret"][0]
        self.assertEqual((row["TYPE"], row["DATA"]), ("Opaque", "1"))
        _, rows = parse_table(self.k("get", "cronjobs", "-n", self.NS).out)
        self.assertEqual((rows[0]["SCHEDULE"], rows[0]["TIMEZONE"], rows[0]["SUSPEND"],
                          rows[0]["ACTIVE"], rows[0]["LAST SCHEDULE"]),
                         ("0 3 * * *", "<none>", "False", "0", "<none>"))
        _, rows = parse_table(self.k("get", "ingresses", "-n", self.NS).out)
        self.assertEqual((rows[0]["CLASS"], rows[0]["HOSTS"], rows[0]["PORTS"]),
                         ("<none>", "web.example.com", "80"))
        _, rows = parse_table(self.k("get", "endpoints", "manual", "-n", self.NS).out)
        self.assertEqual(rows[0]["ENDPOINTS"], "10.42.0.5:8080")
        _, rows = parse_table(self.k("get", "leases", "-n", self.NS).out)
        self.assertEqual(rows[0]["HOLDER"], "node-a")
        _, rows = parse_table(self.k("get", "rolebindings", "-n", self.NS).out)
        self.assertEqual(rows[0]["ROLE"], "Role/reader")
        _, rows = parse_table(self.k("get", "pdb", "-n", self.NS).out)
        self.assertEqual((rows[0]["MIN AVAILABLE"], rows[0]["MAX UNAVAILABLE"]), ("1", "N/A"))
        _, rows = parse_table(self.k("get", "hpa", "-n", self.NS).out)
        self.assertEqual((rows[0]["REFERENCE"], rows[0]["MINPODS"], rows[0]["MAXPODS"]),
                         ("Deployment/web", "1", "5"))
        _, rows = parse_table(self.k("get", "pvc", "-n", self.NS).out)
        self.assertEqual(rows[0]["STATUS"], "Pending")
        _, rows = parse_table(self.k("get", "events", "-n", self.NS).out)
        # The controllers add their own events (ScalingReplicaSet) about the same objects.
        self.assertIn("Scheduled", [r["REASON"] for r in rows if r["OBJECT"] == "pod/web-pod"])
        self.assertIn("scaled up", [r["MESSAGE"] for r in rows if r["OBJECT"] == "deployment/web"])
        _, rows = parse_table(self.k("get", "storageclass", "e2e-local").out)
        self.assertEqual((rows[0]["PROVISIONER"], rows[0]["RECLAIMPOLICY"],
                          rows[0]["VOLUMEBINDINGMODE"], rows[0]["ALLOWVOLUMEEXPANSION"]),
                         ("kubernetes.io/no-provisioner", "Delete", "WaitForFirstConsumer",
                          "false"))

    def test_short_names_and_kind_forms(self):
        for form in ["deploy", "deployment", "deployments", "deployments.apps",
                     "deployment.v1.apps", "Deployment"]:
            with self.subTest(form=form):
                self.assertEqual(self.names(form, "-n", self.NS), ["deployment.apps/web"])
        self.assertEqual(self.names("cm", "app-config", "-n", self.NS),
                         ["configmap/app-config"])
        self.assertEqual(self.names("hpa.v1.autoscaling", "-n", self.NS),
                         ["horizontalpodautoscaler.autoscaling/web"])

    def test_output_formats(self):
        r = self.k("get", "cm", "-n", "sel", "-o", "json")
        doc = r.json()
        self.assertEqual(doc["kind"], "List")
        self.assertEqual(sorted(i["metadata"]["name"] for i in doc["items"]),
                         ["a", "b", "c", "d"])
        self.assertEqual({i["kind"] for i in doc["items"]}, {"ConfigMap"})
        one = self.k("get", "cm", "a", "-n", "sel", "-o", "json").json()
        self.assertEqual((one["apiVersion"], one["kind"]), ("v1", "ConfigMap"))
        self.assertEqual(one["metadata"]["labels"], SELECTOR_LABELS["a"])

        y = yaml.safe_load(self.k("get", "cm", "a", "-n", "sel", "-o", "yaml").out)
        self.assertEqual(y["metadata"]["name"], "a")
        self.assertEqual(y["data"], {"key": "value"})

        self.assertEqual(self.names("cm", "-n", "sel"),
                         ["configmap/a", "configmap/b", "configmap/c", "configmap/d"])
        r = self.k("get", "cm", "-n", "sel", "-o", "jsonpath={.items[*].metadata.name}")
        self.assertEqual(r.out, "a b c d")
        r = self.k("get", "cm", "a", "-n", "sel", "-o", "jsonpath={.metadata.labels.app}")
        self.assertEqual(r.out, "web")
        r = self.k("get", "cm", "-n", "sel", "-o",
                   "custom-columns=NAME:.metadata.name,APP:.metadata.labels.app")
        _, rows = parse_table(r.out)
        self.assertEqual([(x["NAME"], x["APP"]) for x in rows],
                         [("a", "web"), ("b", "db"), ("c", "cache"), ("d", "<none>")])
        r = self.k("get", "cm", "-n", "sel", "--show-labels")
        headers, rows = parse_table(r.out)
        self.assertEqual(headers, ["NAME", "DATA", "AGE", "LABELS"])
        self.assertEqual(rows[0]["LABELS"], "app=web,tier=fe")
        r = self.k("get", "cm", "-n", "sel", "--no-headers")
        self.assertEqual(len(r.lines()), 4)
        self.assertTrue(r.lines()[0].startswith("a "))
        r = self.k("get", "cm", "-n", "sel", "-L", "app")
        headers, rows = parse_table(r.out)
        self.assertEqual(headers, ["NAME", "DATA", "AGE", "APP"])

    def test_label_selectors(self):
        cases = [
            ("app=web", ["a"]),
            ("app==web", ["a"]),
            ("app!=web", ["b", "c", "d"]),
            ("app in (web,db)", ["a", "b"]),
            ("app notin (web,db)", ["c", "d"]),
            ("app", ["a", "b", "c"]),
            ("!app", ["d"]),
            ("tier=fe,app", ["a"]),
            ("tier=fe,!app", ["d"]),
            ("app in (web),tier notin (be)", ["a"]),
            ("app=nothing", []),
        ]
        for selector, want in cases:
            with self.subTest(selector=selector):
                got = self.names("cm", "-n", "sel", "-l", selector)
                self.assertEqual(got, [f"configmap/{n}" for n in want])

    def test_invalid_label_selector_is_refused(self):
        r = self.k_fail("get", "cm", "-n", "sel", "-l", "app in (web")
        self.assertRegex(r.err, r"unable to parse requirement|found '', expected")

    def test_field_selectors(self):
        self.assertEqual(self.names("cm", "-n", "sel", "--field-selector", "metadata.name=b"),
                         ["configmap/b"])
        self.assertEqual(self.names("cm", "-n", "sel", "--field-selector", "metadata.name!=b"),
                         ["configmap/a", "configmap/c", "configmap/d"])
        self.assertEqual(self.names("cm", "-A", "--field-selector",
                                    "metadata.namespace=sel,metadata.name=c"),
                         ["configmap/c"])
        self.assertEqual(self.names("pods", "-n", self.NS, "-l", "standalone", "--field-selector",
                                    "status.phase=Pending"), ["pod/web-pod"])
        self.assertEqual(self.names("pods", "-n", self.NS, "-l", "standalone", "--field-selector",
                                    "status.phase=Running"), [])
        self.assertEqual(self.names("pods", "-n", self.NS, "-l", "standalone", "--field-selector",
                                    "spec.nodeName="), ["pod/web-pod"])
        self.assertEqual(self.names("events", "-n", self.NS, "--field-selector",
                                    "involvedObject.kind=Pod"), ["event/web-pod.1"])
        # With the Deployment controller's own events (ScalingReplicaSet) about it.
        about_web = self.names("events", "-n", self.NS, "--field-selector",
                               "involvedObject.kind=Deployment,involvedObject.name=web")
        self.assertIn("event/web.1", about_web)
        self.assertNotIn("event/web-pod.1", about_web)
        self.assertEqual(self.names("secrets", "-n", self.NS, "--field-selector",
                                    "type=Opaque"), ["secret/app-secret"])
        self.assertEqual(self.names("ns", "--field-selector", "status.phase=Active",
                                    "-l", "kubernetes.io/metadata.name=sel"), ["namespace/sel"])

    def test_unknown_field_selector_is_refused(self):
        r = self.k_fail("get", "cm", "-n", "sel", "--field-selector", "data.key=value")
        self.assertContains(r.err, '"data.key" is not a known field selector')

    def test_all_namespaces(self):
        r = self.k("get", "cm", "-A")
        headers, rows = parse_table(r.out)
        self.assertEqual(headers, ["NAMESPACE", "NAME", "DATA", "AGE"])
        pairs = {(x["NAMESPACE"], x["NAME"]) for x in rows}
        for want in [("sel", "a"), ("chunks", "cm-09"), (self.NS, "app-config")]:
            self.assertIn(want, pairs, r.out)
        r = self.k("get", "pods", "-A", "-o", "wide")
        headers, _ = parse_table(r.out)
        self.assertEqual(headers, ["NAMESPACE"] + COLUMNS["pods"][0] + COLUMNS["pods"][1])

    def test_get_all_category(self):
        names = set(self.k("get", "all", "-n", self.NS, "-o", "name").lines())
        for want in ["pod/web-pod", "service/web", "deployment.apps/web",
                     "statefulset.apps/db", "daemonset.apps/agent", "replicaset.apps/rs",
                     "job.batch/once", "cronjob.batch/nightly",
                     "horizontalpodautoscaler.autoscaling/web"]:
            self.assertIn(want, names)
        self.assertNotIn("configmap/app-config", names)

    def test_chunked_list_returns_everything(self):
        r = self.k("get", "cm", "-n", "chunks", "--chunk-size=2", "-o", "name", "-v=6")
        self.assertEqual(sorted(r.lines()), [f"configmap/cm-{i:02d}" for i in range(10)])
        requests = [l for l in r.err.splitlines() if "/namespaces/chunks/configmaps?" in l]
        self.assertEqual(len(requests), 5, "kubectl pages through 10 objects 2 at a time:\n"
                         + "\n".join(requests))
        self.assertEqual(sum("continue=" in l for l in requests), 4, "\n".join(requests))

        r = self.k("get", "cm", "-n", "chunks", "--chunk-size=3")
        _, rows = parse_table(r.out)
        self.assertEqual(len(rows), 10, r.out)

    def test_server_pages_with_continue_tokens(self):
        seen, token, pages = [], None, 0
        while True:
            path = "/api/v1/namespaces/chunks/configmaps?limit=2"
            if token:
                path += "&continue=" + token
            page = self.k("get", "--raw", path).json()
            pages += 1
            self.assertLessEqual(len(page["items"]), 2)
            seen += [i["metadata"]["name"] for i in page["items"]]
            token = page["metadata"].get("continue")
            if pages == 1:
                self.assertTrue(token, f"first page must carry a continue token: {page}")
                self.assertEqual(page["metadata"].get("remainingItemCount"), 8)
            if not token:
                break
            self.assertLess(pages, 10, "pagination does not end")
        self.assertEqual(seen, [f"cm-{i:02d}" for i in range(10)])
        self.assertEqual(pages, 5)

    def test_json_list_resource_version_is_consistent(self):
        doc = self.k("get", "--raw", "/api/v1/namespaces/sel/configmaps").json()
        list_rv = int(doc["metadata"]["resourceVersion"])
        for item in doc["items"]:
            self.assertLessEqual(int(item["metadata"]["resourceVersion"]), list_rv)

    def test_not_found_message(self):
        r = self.k_fail("get", "cm", "missing", "-n", "sel")
        self.assertContains(r.err, 'Error from server (NotFound): configmaps "missing" not found')
        r = self.k_fail("get", "deploy", "missing", "-n", "sel")
        self.assertContains(r.err,
                            'Error from server (NotFound): deployments.apps "missing" not found')
        r = self.k("get", "cm", "-n", "nonexistent-ns")
        self.assertEqual(r.out, "")
        self.assertContains(r.err, "No resources found in nonexistent-ns namespace.")


class ResourceVersionTest(ClusterTestCase):
    """List semantics of resourceVersion and resourceVersionMatch over the store's history."""

    def test_exact_and_not_older_than(self):
        ns = self.create_namespace("rvm")
        a = self.create_configmap("a", ns, {"v": "1"})
        rv_a = a["metadata"]["resourceVersion"]
        self.create_configmap("b", ns)
        self.k("patch", "cm", "a", "-n", ns, "--type=merge", "-p", '{"data":{"v":"2"}}')
        base = f"/api/v1/namespaces/{ns}/configmaps"

        exact = self.k("get", "--raw",
                       f"{base}?resourceVersion={rv_a}&resourceVersionMatch=Exact").json()
        self.assertEqual(exact["metadata"]["resourceVersion"], rv_a)
        self.assertEqual([(i["metadata"]["name"], i["data"]) for i in exact["items"]],
                         [("a", {"v": "1"})], "the list as it was at that revision")

        now = self.k("get", "--raw", f"{base}?resourceVersion={rv_a}"
                                     "&resourceVersionMatch=NotOlderThan").json()
        self.assertEqual(sorted(i["metadata"]["name"] for i in now["items"]), ["a", "b"])
        self.assertGreater(int(now["metadata"]["resourceVersion"]), int(rv_a))
        any_rv = self.k("get", "--raw", f"{base}?resourceVersion=0").json()
        self.assertEqual(sorted(i["metadata"]["name"] for i in any_rv["items"]), ["a", "b"])

    def test_paging_is_consistent_at_the_first_page_revision(self):
        ns = self.create_namespace("rv-pages")
        for i in range(4):
            self.create_configmap(f"p{i}", ns)
        first = self.k("get", "--raw", f"/api/v1/namespaces/{ns}/configmaps?limit=2").json()
        self.create_configmap("p9", ns)  # written after the first page
        self.k("delete", "cm", "p3", "-n", ns)
        rest = self.k("get", "--raw", f"/api/v1/namespaces/{ns}/configmaps?limit=10&continue="
                                      + first["metadata"]["continue"]).json()
        names = [i["metadata"]["name"] for i in first["items"] + rest["items"]]
        self.assertEqual(names, ["p0", "p1", "p2", "p3"],
                         "continued pages show the snapshot of the first page")
        self.assertEqual(rest["metadata"]["resourceVersion"], first["metadata"]["resourceVersion"])
