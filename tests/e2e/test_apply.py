"""kubectl apply (client-side and server-side), diff and server dry-run."""

import json

from harness import ClusterTestCase
from manifests import APP_OBJECTS, app_manifest, configmap

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def flatten(obj, prefix=""):
    out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.update(flatten(v, f"{prefix}[{i}]"))
    else:
        out[prefix] = obj
    return out


def changed_paths(before, after):
    a, b = flatten(before), flatten(after)
    return {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}


def comparable(obj):
    """An object without what every write changes (resourceVersion, managedFields' times, the
    last-applied annotation that carries the whole manifest), without status and without the
    Deployment controller's revision annotation."""
    obj = json.loads(json.dumps(obj))
    meta = obj["metadata"]
    meta.pop("resourceVersion", None)
    meta.pop("managedFields", None)
    ann = meta.get("annotations", {})
    ann.pop(LAST_APPLIED, None)
    ann.pop("deployment.kubernetes.io/revision", None)
    if not ann:
        meta.pop("annotations", None)
    obj.pop("status", None)
    return obj


class ApplyTest(ClusterTestCase):

    def expected_lines(self, ns, verb):
        out = []
        for kind, name in APP_OBJECTS:
            out.append(f"{kind}/{name or ns} {verb}")
        return out

    def snapshot(self, ns):
        objs = {}
        for kind, name in APP_OBJECTS[1:]:
            objs[kind] = self.cluster.get_json(kind, name, "-n", ns)
        objs["namespace"] = self.cluster.get_json("namespace", ns)
        return objs

    def test_apply_created_unchanged_configured(self):
        ns = "apply-cycle"
        r = self.cluster.apply(app_manifest(ns))
        self.assertEqual(r.lines(), self.expected_lines(ns, "created"), str(r))

        r = self.cluster.apply(app_manifest(ns))
        self.assertEqual(r.lines(), self.expected_lines(ns, "unchanged"), str(r))

        before = self.snapshot(ns)
        r = self.cluster.apply(app_manifest(ns, replicas=3))
        want = self.expected_lines(ns, "unchanged")
        want[4] = "deployment.apps/web configured"
        self.assertEqual(r.lines(), want, str(r))
        after = self.snapshot(ns)

        dep_changes = changed_paths(comparable(before["deployment.apps"]),
                                    comparable(after["deployment.apps"]))
        self.assertEqual(dep_changes, {"spec.replicas": (1, 3),
                                       "metadata.generation": (1, 2)},
                         "only spec.replicas (and the generation that counts spec changes) "
                         "may change")
        last = json.loads(after["deployment.apps"]["metadata"]["annotations"][LAST_APPLIED])
        self.assertEqual(last["spec"]["replicas"], 3)
        for kind in before:
            if kind == "deployment.apps":
                continue
            self.assertEqual(before[kind]["metadata"]["resourceVersion"],
                             after[kind]["metadata"]["resourceVersion"],
                             f"{kind} was rewritten although unchanged")

    def test_apply_sets_defaults_and_metadata(self):
        ns = "apply-defaults"
        self.cluster.apply(app_manifest(ns))
        dep = self.cluster.get_json("deployment", "web", "-n", ns, "--show-managed-fields")
        meta = dep["metadata"]
        self.assertRegex(meta["uid"], r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                                      r"[0-9a-f]{12}$")
        self.assertRegex(meta["creationTimestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(meta["generation"], 1)
        self.assertEqual(dep["spec"]["strategy"],
                         {"type": "RollingUpdate",
                          "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
        self.assertEqual(dep["spec"]["revisionHistoryLimit"], 10)
        self.assertEqual(dep["spec"]["progressDeadlineSeconds"], 600)
        pod_spec = dep["spec"]["template"]["spec"]
        self.assertEqual(pod_spec["restartPolicy"], "Always")
        self.assertEqual(pod_spec["dnsPolicy"], "ClusterFirst")
        self.assertEqual(pod_spec["terminationGracePeriodSeconds"], 30)
        self.assertEqual(pod_spec["schedulerName"], "default-scheduler")
        c = pod_spec["containers"][0]
        self.assertEqual(c["imagePullPolicy"], "IfNotPresent")  # tagged, not :latest
        self.assertEqual(c["ports"][0]["protocol"], "TCP")
        managers = {(m["manager"], m["operation"]) for m in meta["managedFields"]}
        self.assertIn(("kubectl-client-side-apply", "Update"), managers)
        svc = self.cluster.get_json("service", "web", "-n", ns)
        self.assertEqual(svc["spec"]["type"], "ClusterIP")
        self.assertEqual(svc["spec"]["ports"][0]["protocol"], "TCP")
        self.assertRegex(svc["spec"]["clusterIP"], r"^10\.43\.\d+\.\d+$")
        self.k("apply", "-f", "-", input=f"""\
apiVersion: v1
kind: Secret
metadata: {{name: strings, namespace: {ns}}}
stringData: {{password: s3cr3t}}
""")
        secret = self.cluster.get_json("secret", "strings", "-n", ns)
        self.assertEqual(secret["data"], {"password": "czNjcjN0"})  # base64("s3cr3t")
        self.assertNotIn("stringData", secret)
        self.assertEqual(secret["type"], "Opaque")

    def test_server_side_apply_and_conflicts(self):
        ns = self.create_namespace("ssa")
        cm = configmap("ssa", ns, {"a": "1", "b": "2"})
        r = self.k("apply", "--server-side", "-f", "-", input=cm)
        self.assertEqual(r.out.strip(), "configmap/ssa serverside-applied")
        obj = self.cluster.get_json("cm", "ssa", "-n", ns, "--show-managed-fields")
        entries = {(m["manager"], m["operation"]): m for m in obj["metadata"]["managedFields"]}
        self.assertIn(("kubectl", "Apply"), entries, obj["metadata"]["managedFields"])
        owned = entries[("kubectl", "Apply")]["fieldsV1"]
        self.assertEqual(set(owned["f:data"]), {"f:a", "f:b"})

        # Re-applying the same manifest is a no-op that keeps the resourceVersion.
        rv = obj["metadata"]["resourceVersion"]
        self.k("apply", "--server-side", "-f", "-", input=cm)
        self.assertEqual(self.cluster.get_json("cm", "ssa", "-n", ns)["metadata"]
                         ["resourceVersion"], rv)

        other = configmap("ssa", ns, {"a": "9"})
        r = self.k_fail("apply", "--server-side", "--field-manager=other", "-f", "-",
                        input=other)
        self.assertContains(r.err, 'Apply failed with 1 conflict: conflict with "kubectl": '
                                   '.data.a')
        self.assertEqual(self.cluster.get_json("cm", "ssa", "-n", ns)["data"],
                         {"a": "1", "b": "2"})

        r = self.k("apply", "--server-side", "--field-manager=other", "--force-conflicts",
                   "-f", "-", input=other)
        self.assertEqual(r.out.strip(), "configmap/ssa serverside-applied")
        obj = self.cluster.get_json("cm", "ssa", "-n", ns, "--show-managed-fields")
        self.assertEqual(obj["data"], {"a": "9", "b": "2"})
        entries = {(m["manager"], m["operation"]): m for m in obj["metadata"]["managedFields"]}
        self.assertEqual(set(entries[("other", "Apply")]["fieldsV1"]["f:data"]), {"f:a"})
        self.assertEqual(set(entries[("kubectl", "Apply")]["fieldsV1"]["f:data"]), {"f:b"})

    def test_server_side_apply_conflict_with_an_update_manager(self):
        ns = self.create_namespace("ssa-update")
        self.k("apply", "--server-side", "-f", "-",
               input=configmap("cm", ns, {"a": "1", "b": "2"}))
        self.k("patch", "configmap", "cm", "-n", ns, "--type=merge",
               "-p", '{"data":{"b":"patched"}}')
        r = self.k_fail("apply", "--server-side", "-f", "-",
                        input=configmap("cm", ns, {"a": "1", "b": "3"}))
        self.assertContains(r.err, 'conflict with "kubectl-patch" using v1')
        self.assertContains(r.err, ".data.b")

    def test_server_side_apply_creates_and_removes_owned_fields(self):
        ns = self.create_namespace("ssa-prune")
        self.k("apply", "--server-side", "-f", "-",
               input=configmap("cm", ns, {"a": "1", "b": "2"}))
        self.k("apply", "--server-side", "-f", "-", input=configmap("cm", ns, {"a": "1"}))
        self.assertEqual(self.cluster.get_json("cm", "cm", "-n", ns)["data"], {"a": "1"},
                         "a field the applier stops setting is removed")

    def test_diff(self):
        ns = self.create_namespace("diff")
        self.cluster.apply(configmap("cm", ns, {"key": "old"}))
        changed = configmap("cm", ns, {"key": "new"})
        r = self.k("diff", "-f", "-", input=changed, check=False)
        self.assertEqual(r.rc, 1, f"diff exits 1 when there are differences\n{r}")
        self.assertRegex(r.out, r"\n-\s+key: old\n")
        self.assertRegex(r.out, r"\n\+\s+key: new\n")
        self.assertEqual(self.cluster.get_json("cm", "cm", "-n", ns)["data"], {"key": "old"},
                         "diff must not change anything")
        self.cluster.apply(changed)
        r = self.k("diff", "-f", "-", input=changed, check=False)
        self.assertEqual((r.rc, r.out), (0, ""), f"no differences after apply\n{r}")

        self.k("apply", "--server-side", "-f", "-", input=configmap("ssd", ns, {"key": "1"}))
        r = self.k("diff", "--server-side", "-f", "-",
                   input=configmap("ssd", ns, {"key": "3"}), check=False)
        self.assertEqual(r.rc, 1, str(r))
        self.assertRegex(r.out, r"\n-\s+key: \"1\"\n")
        self.assertRegex(r.out, r"\n\+\s+key: \"3\"\n")
        self.assertEqual(self.cluster.get_json("cm", "ssd", "-n", ns)["data"], {"key": "1"})

    def test_create_dry_run_server_stores_nothing(self):
        ns = self.create_namespace("dry")
        r = self.k("create", "-f", "-", "--dry-run=server", input=configmap("dry", ns))
        self.assertEqual(r.out.strip(), "configmap/dry created (server dry run)")
        self.assertFalse(self.cluster.exists("cm", "dry", "-n", ns))

        r = self.k("create", "-f", "-", "--dry-run=server", "-o", "json",
                   input=configmap("dry2", ns, {"a": "b"}))
        obj = r.json()
        self.assertEqual(obj["data"], {"a": "b"})
        self.assertTrue(obj["metadata"].get("creationTimestamp"),
                        "the server fills in what it would store")
        self.assertFalse(self.cluster.exists("cm", "dry2", "-n", ns))

    def test_apply_dry_run_server_stores_nothing(self):
        ns = self.create_namespace("dry-apply")
        r = self.cluster.apply(configmap("new", ns), "--dry-run=server")
        self.assertEqual(r.out.strip(), "configmap/new created (server dry run)")
        self.assertFalse(self.cluster.exists("cm", "new", "-n", ns))

        self.cluster.apply(configmap("old", ns, {"key": "v1"}))
        rv = self.cluster.get_json("cm", "old", "-n", ns)["metadata"]["resourceVersion"]
        r = self.cluster.apply(configmap("old", ns, {"key": "v2"}), "--dry-run=server")
        self.assertEqual(r.out.strip(), "configmap/old configured (server dry run)")
        r = self.cluster.apply(configmap("old", ns, {"key": "v2"}), "--server-side",
                               "--dry-run=server")
        self.assertEqual(r.out.strip(), "configmap/old serverside-applied (server dry run)")
        obj = self.cluster.get_json("cm", "old", "-n", ns)
        self.assertEqual(obj["data"], {"key": "v1"})
        self.assertEqual(obj["metadata"]["resourceVersion"], rv)

        r = self.k("delete", "cm", "old", "-n", ns, "--dry-run=server")
        self.assertEqual(r.out.strip(), 'configmap "old" deleted (server dry run)')
        self.assertTrue(self.cluster.exists("cm", "old", "-n", ns))
