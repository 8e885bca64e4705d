"""patch, label, annotate, edit, replace, scale, delete and the namespace cascade."""

import json
import os
import time

import yaml

from harness import ClusterTestCase, parse_table
from manifests import configmap, deployment


class MutateTest(ClusterTestCase):

    def containers(self, ns, name):
        d = self.cluster.get_json("deployment", name, "-n", ns)
        return {c["name"]: c for c in d["spec"]["template"]["spec"]["containers"]}

    def test_patch_strategic_merge(self):
        ns = self.create_namespace("patch-smp")
        self.cluster.apply(deployment("d", ns, containers=[("web", "nginx:1.25", 80),
                                                           ("sidecar", "busybox:1.36", 9000)]))
        r = self.k("patch", "deployment", "d", "-n", ns, "-p",
                   '{"spec":{"template":{"spec":{"containers":'
                   '[{"name":"web","image":"nginx:1.26"}]}}}}')
        self.assertEqual(r.out.strip(), "deployment.apps/d patched")
        cs = self.containers(ns, "d")
        self.assertEqual(set(cs), {"web", "sidecar"}, "containers merge by name")
        self.assertEqual(cs["web"]["image"], "nginx:1.26")
        self.assertEqual(cs["web"]["ports"][0]["containerPort"], 80, "other fields are kept")
        self.assertEqual(cs["sidecar"]["image"], "busybox:1.36")

        self.k("patch", "deployment", "d", "-n", ns, "--type=strategic", "-p",
               '{"spec":{"template":{"spec":{"containers":'
               '[{"name":"sidecar","$patch":"delete"}]}}}}')
        self.assertEqual(set(self.containers(ns, "d")), {"web"})

        r = self.k("patch", "deployment", "d", "-n", ns, "-p",
                   '{"spec":{"template":{"spec":{"containers":'
                   '[{"name":"web","image":"nginx:1.26"}]}}}}')
        self.assertEqual(r.out.strip(), "deployment.apps/d patched (no change)")

    def test_patch_merge_replaces_lists(self):
        ns = self.create_namespace("patch-merge")
        self.cluster.apply(deployment("d", ns, containers=[("web", "nginx:1.25", 80),
                                                           ("sidecar", "busybox:1.36", 9000)]))
        r = self.k("patch", "deployment", "d", "-n", ns, "--type=merge", "-p",
                   '{"metadata":{"labels":{"tier":"fe"}},"spec":{"template":{"spec":'
                   '{"containers":[{"name":"web","image":"nginx:1.27"}]}}}}')
        self.assertEqual(r.out.strip(), "deployment.apps/d patched")
        cs = self.containers(ns, "d")
        self.assertEqual(list(cs), ["web"], "a merge patch replaces the whole list")
        self.assertNotIn("ports", cs["web"])
        self.assertEqual(cs["web"]["image"], "nginx:1.27")
        d = self.cluster.get_json("deployment", "d", "-n", ns)
        self.assertEqual(d["metadata"]["labels"], {"tier": "fe"})
        self.k("patch", "deployment", "d", "-n", ns, "--type=merge", "-p",
               '{"metadata":{"labels":{"tier":null}}}')
        d = self.cluster.get_json("deployment", "d", "-n", ns)
        self.assertNotIn("tier", d["metadata"].get("labels", {}), "null removes a key")

    def test_patch_json(self):
        ns = self.create_namespace("patch-json")
        self.cluster.apply(deployment("d", ns))
        r = self.k("patch", "deployment", "d", "-n", ns, "--type=json", "-p",
                   '[{"op":"replace","path":"/spec/replicas","value":4},'
                   '{"op":"add","path":"/metadata/labels","value":{"patched":"yes"}},'
                   '{"op":"add","path":"/spec/template/spec/containers/0/env",'
                   '"value":[{"name":"A","value":"1"}]}]')
        self.assertEqual(r.out.strip(), "deployment.apps/d patched")
        d = self.cluster.get_json("deployment", "d", "-n", ns)
        self.assertEqual(d["spec"]["replicas"], 4)
        self.assertEqual(d["metadata"]["labels"], {"patched": "yes"})
        self.assertEqual(d["spec"]["template"]["spec"]["containers"][0]["env"],
                         [{"name": "A", "value": "1"}])
        # Not the resourceVersion: the Deployment controller writes the status meanwhile.
        before = (d["metadata"]["generation"], d["metadata"]["labels"], d["spec"])

        r = self.k_fail("patch", "deployment", "d", "-n", ns, "--type=json", "-p",
                        '[{"op":"test","path":"/spec/replicas","value":99},'
                        '{"op":"replace","path":"/spec/replicas","value":5}]')
        self.assertContains(r.err, "test")
        r = self.k_fail("patch", "deployment", "d", "-n", ns, "--type=json", "-p",
                        '[{"op":"remove","path":"/spec/nosuchfield"}]')
        d = self.cluster.get_json("deployment", "d", "-n", ns)
        self.assertEqual((d["metadata"]["generation"], d["metadata"]["labels"], d["spec"]), before,
                         "a failed patch changes nothing")
        self.assertEqual(d["spec"]["replicas"], 4)

    def test_patch_that_makes_the_object_invalid_is_refused(self):
        ns = self.create_namespace("patch-invalid")
        self.cluster.apply(deployment("d", ns))
        r = self.k_fail("patch", "deployment", "d", "-n", ns, "--type=merge", "-p",
                        '{"spec":{"replicas":-1}}')
        self.assertContains(r.err, 'The Deployment "d" is invalid: spec.replicas: Invalid '
                                   'value: -1: must be greater than or equal to 0')

    def test_label_and_annotate(self):
        ns = self.create_namespace("label")
        self.cluster.apply(configmap("l", ns))
        r = self.k("label", "configmap", "l", "-n", ns, "env=prod")
        self.assertEqual(r.out.strip(), "configmap/l labeled")
        r = self.k_fail("label", "configmap", "l", "-n", ns, "env=dev")
        self.assertContains(r.err, "'env' already has a value (prod), and --overwrite is false")
        self.k("label", "configmap", "l", "-n", ns, "env=dev", "--overwrite")
        self.assertEqual(self.cluster.get_json("cm", "l", "-n", ns)["metadata"]["labels"],
                         {"env": "dev"})
        r = self.k("label", "configmap", "l", "-n", ns, "env-")
        self.assertEqual(r.out.strip(), "configmap/l unlabeled")
        self.assertFalse(self.cluster.get_json("cm", "l", "-n", ns)["metadata"].get("labels"))

        r = self.k("annotate", "configmap", "l", "-n", ns, "note=first")
        self.assertEqual(r.out.strip(), "configmap/l annotated")
        r = self.k_fail("annotate", "configmap", "l", "-n", ns, "note=second")
        self.assertContains(r.err, "'note' already has a value (first)")
        self.k("annotate", "configmap", "l", "-n", ns, "note=second", "--overwrite")
        ann = self.cluster.get_json("cm", "l", "-n", ns)["metadata"]["annotations"]
        self.assertEqual(ann.get("note"), "second")

        self.cluster.apply(configmap("cm-m", ns, labels={"group": "g"}))
        self.cluster.apply(configmap("cm-n", ns, labels={"group": "g"}))
        r = self.k("label", "configmap", "-n", ns, "-l", "group=g", "batch=1")
        self.assertEqual(sorted(r.lines()), ["configmap/cm-m labeled", "configmap/cm-n labeled"])

        r = self.k_fail("patch", "configmap", "l", "-n", ns, "--type=merge", "-p",
                        '{"metadata":{"labels":{"key":"-bad-"}}}')
        self.assertContains(r.err, 'The ConfigMap "l" is invalid: metadata.labels: Invalid '
                                   'value: "-bad-": a valid label must be an empty string or '
                                   'consist of alphanumeric characters')

    def test_edit(self):
        ns = self.create_namespace("edit")
        self.cluster.apply(configmap("e", ns, {"color": "blue"}))
        editor = self.cluster.write_file(
            "editor.sh", "#!/bin/sh\nsed -i 's/color: blue/color: green/' \"$1\"\n")
        os.chmod(editor, 0o755)
        r = self.k("edit", "configmap", "e", "-n", ns, env={"KUBE_EDITOR": editor})
        self.assertEqual(r.out.strip(), "configmap/e edited")
        self.assertEqual(self.cluster.get_json("cm", "e", "-n", ns)["data"], {"color": "green"})

        # Nothing to change the second time: kubectl cancels without writing.
        rv = self.cluster.get_json("cm", "e", "-n", ns)["metadata"]["resourceVersion"]
        r = self.k("edit", "configmap", "e", "-n", ns, env={"EDITOR": editor})
        self.assertContains(r.out + r.err, "Edit cancelled, no changes made.")
        self.assertEqual(self.cluster.get_json("cm", "e", "-n", ns)["metadata"]
                         ["resourceVersion"], rv)

        # An edit that makes the object invalid is refused by the server (kubectl reopens
        # the editor, which changes nothing more, and gives up).
        bad = self.cluster.write_file(
            "bad-editor.sh",
            "#!/bin/sh\ngrep -q 'bad key' \"$1\" || "
            "sed -i 's/^  color: green$/  color: green\\n  bad key: x/' \"$1\"\n")
        os.chmod(bad, 0o755)
        r = self.k("edit", "configmap", "e", "-n", ns, env={"KUBE_EDITOR": bad}, check=False)
        self.assertNotEqual(r.rc, 0, str(r))
        self.assertContains(r.out + r.err, 'configmaps "e" is invalid')
        self.assertEqual(self.cluster.get_json("cm", "e", "-n", ns)["data"], {"color": "green"})

    def test_replace(self):
        ns = self.create_namespace("replace")
        self.cluster.apply(configmap("r", ns, {"a": "1"}))
        obj = yaml.safe_load(self.k("get", "cm", "r", "-n", ns, "-o", "yaml").out)
        obj["data"] = {"b": "2"}
        path = self.cluster.write_file("replace.yaml", yaml.safe_dump(obj))
        r = self.k("replace", "-f", path)
        self.assertEqual(r.out.strip(), "configmap/r replaced")
        got = self.cluster.get_json("cm", "r", "-n", ns)
        self.assertEqual(got["data"], {"b": "2"}, "replace sets the whole object")
        self.assertNotEqual(got["metadata"]["resourceVersion"],
                            obj["metadata"]["resourceVersion"])

        # Without a resourceVersion, replace is unconditional.
        del obj["metadata"]["resourceVersion"]
        obj["data"] = {"c": "3"}
        r = self.k("replace", "-f", "-", input=json.dumps(obj))
        self.assertEqual(self.cluster.get_json("cm", "r", "-n", ns)["data"], {"c": "3"})

        r = self.k_fail("replace", "-f", "-", input=configmap("missing", ns))
        self.assertContains(r.err, 'configmaps "missing" not found')

    def test_scale(self):
        ns = self.create_namespace("scale")
        self.cluster.apply(deployment("d", ns, replicas=1))
        r = self.k("scale", "deployment", "d", "-n", ns, "--replicas=3")
        self.assertEqual(r.out.strip(), "deployment.apps/d scaled")
        d = self.cluster.get_json("deployment", "d", "-n", ns)
        self.assertEqual(d["spec"]["replicas"], 3)
        self.assertEqual(d["metadata"]["generation"], 2)
        scale = self.k("get", "--raw",
                       f"/apis/apps/v1/namespaces/{ns}/deployments/d/scale").json()
        self.assertEqual((scale["apiVersion"], scale["kind"]), ("autoscaling/v1", "Scale"))
        self.assertEqual(scale["spec"]["replicas"], 3)
        self.assertEqual(scale["status"]["selector"], "app=d")

        r = self.k_fail("scale", "deployment", "d", "-n", ns, "--current-replicas=1",
                        "--replicas=5")
        self.assertContains(r.err, "Expected replicas to be 1, was 3")
        self.assertEqual(self.cluster.get_json("deployment", "d", "-n", ns)["spec"]
                         ["replicas"], 3)

    def test_scale_statefulset_and_replicaset(self):
        ns = self.create_namespace("scale-sts")
        self.cluster.apply(f"""\
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: s, namespace: {ns}}}
spec:
  serviceName: s
  replicas: 1
  selector: {{matchLabels: {{app: s}}}}
  template:
    metadata: {{labels: {{app: s}}}}
    spec:
      containers: [{{name: c, image: busybox:1.36}}]
""")
        r = self.k("scale", "statefulset", "s", "-n", ns, "--replicas=2")
        self.assertEqual(r.out.strip(), "statefulset.apps/s scaled")
        self.assertEqual(self.cluster.get_json("sts", "s", "-n", ns)["spec"]["replicas"], 2)

    def test_delete_by_name_selector_file_and_all(self):
        ns = self.create_namespace("delete")
        for name, tier in [("a", "fe"), ("b", "fe"), ("c", "be"), ("d", "be"), ("e", "x")]:
            self.cluster.apply(configmap(name, ns, labels={"tier": tier}))
        r = self.k("delete", "configmap", "a", "-n", ns)
        self.assertEqual(r.out.strip(), 'configmap "a" deleted')
        self.assertFalse(self.cluster.exists("cm", "a", "-n", ns))

        r = self.k("delete", "configmap", "-n", ns, "-l", "tier=be")
        self.assertEqual(sorted(r.lines()), ['configmap "c" deleted', 'configmap "d" deleted'])

        path = self.cluster.write_file("delete.yaml", configmap("b", ns))
        r = self.k("delete", "-f", path)
        self.assertEqual(r.out.strip(), 'configmap "b" deleted')

        self.cluster.apply(configmap("f", ns))
        r = self.k("delete", "configmap", "--all", "-n", ns)
        self.assertEqual(sorted(r.lines()), ['configmap "e" deleted', 'configmap "f" deleted'])
        self.assertEqual(self.k("get", "cm", "-n", ns, "-o", "name").out, "")

        r = self.k_fail("delete", "configmap", "a", "-n", ns)
        self.assertContains(r.err, 'Error from server (NotFound): configmaps "a" not found')
        r = self.k("delete", "configmap", "a", "-n", ns, "--ignore-not-found")
        self.assertEqual(r.out, "")

    def test_delete_with_precondition_and_grace(self):
        ns = self.create_namespace("delete-pre")
        self.cluster.apply(configmap("p", ns))
        obj = self.cluster.get_json("cm", "p", "-n", ns)
        r = self.cluster.request(
            "DELETE", f"/api/v1/namespaces/{ns}/configmaps/p",
            body=json.dumps({"kind": "DeleteOptions", "apiVersion": "v1",
                             "preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}}))
        self.assertEqual(r.status, 409, str(r))
        self.assertContains(r.body, "Precondition failed: UID in precondition")
        self.assertTrue(self.cluster.exists("cm", "p", "-n", ns))
        r = self.cluster.request(
            "DELETE", f"/api/v1/namespaces/{ns}/configmaps/p",
            body=json.dumps({"preconditions": {"uid": obj["metadata"]["uid"],
                                               "resourceVersion":
                                                   obj["metadata"]["resourceVersion"]}}))
        self.assertEqual(r.status, 200, str(r))
        self.assertFalse(self.cluster.exists("cm", "p", "-n", ns))

    def test_finalizers_hold_deletion(self):
        ns = self.create_namespace("finalizers")
        self.cluster.apply(f"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: held
  namespace: {ns}
  finalizers: [e2e.nave.dev/hold]
""")
        self.k("delete", "configmap", "held", "-n", ns, "--wait=false")
        obj = self.cluster.get_json("cm", "held", "-n", ns)
        self.assertTrue(obj["metadata"].get("deletionTimestamp"), obj["metadata"])
        self.k("patch", "configmap", "held", "-n", ns, "--type=json", "-p",
               '[{"op":"remove","path":"/metadata/finalizers"}]')
        self.poll_gone("cm", "held", "-n", ns)

    def poll_gone(self, *args, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.cluster.exists(*args):
                return
            time.sleep(0.2)
        self.fail(f"{args} still exists after {timeout}s:\n"
                  f"{self.k('get', *args, '-o', 'yaml', check=False)}")

    def test_namespace_deletion_cascades(self):
        ns = self.create_namespace("doomed")
        self.cluster.apply(configmap("c1", ns))
        self.cluster.apply(configmap("c2", ns))
        self.cluster.apply(deployment("d", ns))
        self.cluster.apply(f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s, namespace: {ns}}}\n"
                           "data: {a: Yg==}\n")
        self.cluster.apply(f"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: held
  namespace: {ns}
  finalizers: [e2e.nave.dev/hold]
""")
        r = self.k("delete", "namespace", ns, "--wait=false")
        self.assertEqual(r.out.strip(), f'namespace "{ns}" deleted')

        # The finalizer on "held" keeps the namespace Terminating while the rest goes.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            left = self.k("get", "cm,deploy,secret", "-n", ns, "-o", "name").lines()
            if left == ["configmap/held"]:
                break
            time.sleep(0.2)
        else:
            self.fail(f"namespace content not deleted: {left}")
        nsobj = self.cluster.get_json("namespace", ns)
        self.assertEqual(nsobj["status"]["phase"], "Terminating")
        self.assertTrue(nsobj["metadata"].get("deletionTimestamp"))
        out = self.k("get", "namespace", ns).out
        self.assertRegex(out, rf"\n{ns}\s+Terminating\s")
        r = self.k_fail("create", "-f", "-", input=configmap("late", ns))
        self.assertContains(r.err, f'unable to create new content in namespace {ns} because '
                                   'it is being terminated')

        self.k("patch", "configmap", "held", "-n", ns, "--type=json", "-p",
               '[{"op":"remove","path":"/metadata/finalizers"}]')
        self.poll_gone("namespace", ns)
        r = self.k_fail("get", "namespace", ns)
        self.assertContains(r.err, f'namespaces "{ns}" not found')

    def test_namespace_deletion_waits_by_default(self):
        ns = self.create_namespace("doomed-wait")
        self.cluster.apply(configmap("c", ns))
        r = self.k("delete", "namespace", ns, timeout=60)
        self.assertEqual(r.out.strip(), f'namespace "{ns}" deleted')
        self.assertFalse(self.cluster.exists("namespace", ns))
        self.assertEqual(self.k("get", "cm", "-A", "--field-selector",
                                f"metadata.namespace={ns}", "-o", "name").out, "")

    def test_builtin_namespaces_cannot_be_deleted(self):
        for ns in ["default", "kube-system", "kube-public"]:
            with self.subTest(namespace=ns):
                r = self.k_fail("delete", "namespace", ns)
                self.assertContains(r.err, "Forbidden")
                self.assertContains(r.err, "this namespace may not be deleted")

    def test_delete_collection(self):
        ns = self.create_namespace("delete-collection")
        for name, tier in [("x1", "fe"), ("x2", "fe"), ("x3", "be")]:
            self.cluster.apply(configmap(name, ns, labels={"tier": tier}))
        resp = self.cluster.request(
            "DELETE", f"/api/v1/namespaces/{ns}/configmaps?labelSelector=tier%3Dfe")
        self.assertEqual(resp.status, 200, str(resp))
        self.assertEqual(self.k("get", "cm", "-n", ns, "-o", "name").lines(), ["configmap/x3"])

    def test_status_subresource_of_a_deployment(self):
        ns = self.create_namespace("status-sub")
        self.cluster.apply(deployment("d", ns, replicas=2))
        r = self.k("patch", "deployment", "d", "-n", ns, "--type=merge", "-p",
                   '{"status":{"replicas":7}}')
        self.assertEqual(r.out.strip(), "deployment.apps/d patched (no change)",
                         "the main resource ignores status")
        r = self.k("patch", "deployment", "d", "-n", ns, "--subresource=status",
                   "--type=merge", "-p", '{"status":{"replicas":7},"spec":{"replicas":5}}')
        self.assertEqual(r.out.strip(), "deployment.apps/d patched")
        # What the patch stored (the Deployment controller rewrites the status right after).
        d = self.k("patch", "deployment", "d", "-n", ns, "--subresource=status", "--type=merge",
                   "-p", '{"status":{"replicas":8},"spec":{"replicas":5}}', "-o", "json").json()
        self.assertEqual((d["status"].get("replicas"), d["spec"]["replicas"]), (8, 2),
                         "the status subresource ignores spec")
        self.assertEqual(d["metadata"]["generation"], 1, "status writes keep the generation")

    def test_pod_deletion_grace(self):
        ns = self.create_namespace("pod-grace")
        # An unscheduled pod has no kubelet to wait for: it goes at once.
        self.cluster.apply(pod_manifest("unscheduled", ns))
        self.k("delete", "pod", "unscheduled", "-n", ns, "--wait=false")
        self.assertFalse(self.cluster.exists("pod", "unscheduled", "-n", ns))

        # A pod bound to a node waits for that node's kubelet for its grace period.
        self.cluster.apply(pod_manifest("bound", ns, node="ghost-node"))
        self.k("delete", "pod", "bound", "-n", ns, "--wait=false")
        p = self.cluster.get_json("pod", "bound", "-n", ns)
        self.assertTrue(p["metadata"].get("deletionTimestamp"), p["metadata"])
        self.assertEqual(p["metadata"].get("deletionGracePeriodSeconds"), 30)
        _, rows = parse_table(self.k("get", "pod", "bound", "-n", ns).out)
        self.assertEqual(rows[0]["STATUS"], "Terminating")
        r = self.k("delete", "pod", "bound", "-n", ns, "--grace-period=0", "--force")
        self.assertContains(r.out, 'pod "bound" force deleted')
        self.assertFalse(self.cluster.exists("pod", "bound", "-n", ns))


def pod_manifest(name, ns, node=None):
    node_line = f"  nodeName: {node}\n" if node else ""
    return (f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}}}\n"
            f"spec:\n{node_line}  containers: [{{name: c, image: busybox:1.36}}]\n")


class ConcurrencyTest(ClusterTestCase):
    """Optimistic concurrency under parallel writers."""

    def test_parallel_updates_with_the_same_resource_version(self):
        import threading
        ns = self.create_namespace("race")
        obj = self.create_configmap("race", ns, {"n": "0"})
        results = []

        def put(i):
            body = json.loads(json.dumps(obj))
            body["data"] = {"n": str(i)}
            r = self.cluster.request("PUT", f"/api/v1/namespaces/{ns}/configmaps/race",
                                     body=json.dumps(body))
            results.append((r.status, i))

        threads = [threading.Thread(target=put, args=(i,)) for i in range(1, 9)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = sorted(c for c, _ in results)
        self.assertEqual(codes, [200] + [409] * 7, "exactly one writer wins")
        winner = [i for c, i in results if c == 200][0]
        got = self.cluster.get_json("cm", "race", "-n", ns)
        self.assertEqual(got["data"], {"n": str(winner)})

    def test_parallel_patches_all_apply(self):
        import threading
        ns = self.create_namespace("patches")
        self.create_configmap("target", ns, {})
        errors = []

        def patch(i):
            r = self.cluster.request(
                "PATCH", f"/api/v1/namespaces/{ns}/configmaps/target",
                body=json.dumps({"data": {f"k{i}": str(i)}}),
                headers={"Content-Type": "application/merge-patch+json"})
            if r.status != 200:
                errors.append(str(r))

        threads = [threading.Thread(target=patch, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [], "patches without a resourceVersion retry on conflicts")
        data = self.cluster.get_json("cm", "target", "-n", ns)["data"]
        self.assertEqual(data, {f"k{i}": str(i) for i in range(16)})

    def test_parallel_creates_of_one_name(self):
        import threading
        ns = self.create_namespace("creates")
        results = []

        def create(i):
            r = self.cluster.request(
                "POST", f"/api/v1/namespaces/{ns}/configmaps",
                body=json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                 "metadata": {"name": "one"}, "data": {"by": str(i)}}))
            results.append(r.status)

        threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(results), [201] + [409] * 7)
