"""kube-controller-manager's generic controllers, through kubectl: leader election Leases, the
default ServiceAccount of every namespace, and the garbage collector's background, foreground
and orphan propagation (kubectl delete --cascade=...)."""

import json
import time

import harness
from harness import ClusterTestCase


def wait_until(check, timeout=30, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class ControllerManagerTest(ClusterTestCase):

    def exists(self, kind, name, ns="default"):
        return self.k("get", kind, name, "-n", ns, "--ignore-not-found", "-o", "name").out.strip() != ""

    def owned_configmap(self, name, owner, block=True):
        uid = self.k("get", "configmap", owner, "-o", "jsonpath={.metadata.uid}").out.strip()
        manifest = {"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": name, "ownerReferences": [
                        {"apiVersion": "v1", "kind": "ConfigMap", "name": owner, "uid": uid,
                         "blockOwnerDeletion": block}]}}
        self.k("create", "-f", "-", input=json.dumps(manifest))

    def test_leader_lease_is_held(self):
        def held():
            r = self.k("get", "lease", "kube-controller-manager", "-n", "kube-system",
                       "-o", "jsonpath={.spec.holderIdentity}", check=False)
            return r.rc == 0 and r.out.strip() != ""
        wait_until(held, what="the kube-controller-manager Lease")

    def test_every_namespace_gets_a_default_service_account(self):
        self.k("create", "namespace", "sa-e2e")
        wait_until(lambda: self.exists("serviceaccount", "default", "sa-e2e"),
                   what="serviceaccount default in sa-e2e")
        self.k("delete", "serviceaccount", "default", "-n", "sa-e2e")
        wait_until(lambda: self.exists("serviceaccount", "default", "sa-e2e"),
                   what="serviceaccount default made again")

    def test_background_cascade(self):
        self.create_configmap("bg-owner")
        self.owned_configmap("bg-child", "bg-owner")
        self.owned_configmap("bg-grandchild", "bg-child")
        self.k("delete", "configmap", "bg-owner")  # --cascade=background is kubectl's default
        wait_until(lambda: not self.exists("configmap", "bg-child")
                   and not self.exists("configmap", "bg-grandchild"), what="dependents removed")

    def test_foreground_cascade_removes_dependents_before_the_owner(self):
        self.create_configmap("fg-owner")
        self.owned_configmap("fg-child", "fg-owner")
        self.owned_configmap("fg-grandchild", "fg-child")
        self.k("delete", "configmap", "fg-owner", "--cascade=foreground", "--wait=true", timeout=60)
        self.assertFalse(self.exists("configmap", "fg-child"), "dependents are gone before the owner")
        self.assertFalse(self.exists("configmap", "fg-grandchild"))

    def test_orphan_cascade_keeps_dependents(self):
        self.create_configmap("or-owner")
        self.owned_configmap("or-child", "or-owner")
        self.k("delete", "configmap", "or-owner", "--cascade=orphan", "--wait=true", timeout=60)
        refs = self.k("get", "configmap", "or-child", "-o", "jsonpath={.metadata.ownerReferences}").out
        self.assertEqual(refs.strip(), "", "the reference to the deleted owner is removed")


def busybox_archive():
    return [harness.busybox_images()["docker"]]


class TaintEvictionTest(ClusterTestCase):
    """`kubectl taint nodes N k=v:NoExecute` on a real node evicts the pods that do not
    tolerate it; a tolerating pod stays."""
    agent = True
    images = busybox_archive

    def test_no_execute_taint_evicts_non_tolerating_pods(self):
        node = "node-" + type(self).__name__.lower()[:40]
        pods = ""
        for name, tolerate in (("intolerant", False), ("tolerant", True)):
            pods += f"""---
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 1
  containers: [{{name: c, image: busybox, imagePullPolicy: IfNotPresent, command: [sleep, "3600"]}}]
"""
            if tolerate:
                pods += "  tolerations: [{key: e2e, operator: Exists, effect: NoExecute}]\n"
        self.k("apply", "-f", "-", input=pods)
        self.k("wait", "--for=condition=Ready", "pod/intolerant", "pod/tolerant", "--timeout=90s", timeout=100)
        self.k("taint", "nodes", node, "e2e=yes:NoExecute")
        try:
            wait_until(lambda: not self.k("get", "pod", "intolerant", "--ignore-not-found",
                                          "-o", "name").out.strip(), timeout=60,
                       what="the intolerant pod evicted")
            events = self.k("get", "events", "--field-selector", "reason=TaintManagerEviction").out
            self.assertIn("Marking for deletion Pod default/intolerant", events)
            self.assertEqual(self.k("get", "pod", "tolerant", "-o", "jsonpath={.status.phase}").out, "Running")
        finally:
            self.k("taint", "nodes", node, "e2e=yes:NoExecute-")


class DrainTest(ClusterTestCase):
    """cordon, uncordon, and drain through the eviction subresource, held back by a
    PodDisruptionBudget until the budget allows it."""
    agent = True
    images = busybox_archive

    def test_cordon_and_drain_respect_a_disruption_budget(self):
        node = "node-" + type(self).__name__.lower()[:40]
        pods = ""
        for i in range(2):
            pods += f"""---
apiVersion: v1
kind: Pod
metadata: {{name: db-{i}, labels: {{app: db}}}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 1
  containers: [{{name: c, image: busybox, imagePullPolicy: IfNotPresent, command: [sleep, "3600"]}}]
"""
        pods += """---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: db}
spec:
  minAvailable: 2
  selector: {matchLabels: {app: db}}
"""
        self.k("apply", "-f", "-", input=pods)
        self.k("wait", "--for=condition=Ready", "pod/db-0", "pod/db-1", "--timeout=90s", timeout=100)
        wait_until(lambda: self.k("get", "pdb", "db", "-o",
                                  "jsonpath={.status.currentHealthy}").out == "2", what="PDB status")
        out = self.k("get", "pdb", "db").out
        self.assertIn("MIN AVAILABLE", out)

        self.k("cordon", node)
        self.assertEqual(self.k("get", "node", node, "-o", "jsonpath={.spec.unschedulable}").out, "true")
        blocked = self.k("drain", node, "--force", "--timeout=12s", check=False, timeout=60)
        self.assertNotEqual(blocked.rc, 0)
        self.assertIn("Cannot evict pod as it would violate the pod's disruption budget", blocked.err)
        self.assertEqual(self.k("get", "pods", "-o", "name").out.split(), ["pod/db-0", "pod/db-1"])

        self.k("patch", "pdb", "db", "--type=merge", "-p", '{"spec":{"minAvailable":0}}')
        wait_until(lambda: self.k("get", "pdb", "db", "-o",
                                  "jsonpath={.status.disruptionsAllowed}").out == "2", what="PDB allows 2")
        self.k("drain", node, "--force", "--timeout=60s", timeout=90)
        self.assertEqual(self.k("get", "pods", "-o", "name").out.strip(), "")
        self.k("uncordon", node)
        self.assertEqual(self.k("get", "node", node, "-o", "jsonpath={.spec.unschedulable}").out, "")
