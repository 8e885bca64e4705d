"""StatefulSets and DaemonSets end to end: `nave server` with its agent, the busybox test image,
real kubectl. The test plays the two components this branch lacks: the PersistentVolume binder
(it binds each claim the StatefulSet makes to a hostPath PersistentVolume it creates) and, for
one DaemonSet pod, the scheduler (a pods/binding)."""

import json
import time

import harness

TIMEOUT = 120


def busybox_archive():
    return [harness.busybox_images()["docker"]]


class SetsTestCase(harness.ClusterTestCase):
    agent = True
    images = busybox_archive

    def node_name(self):
        return "node-" + self.cluster.name.lower()[:40]

    def get(self, *args):
        r = self.k("get", *args, "-o", "json", check=False)
        return json.loads(r.out) if r.rc == 0 else None

    def wait(self, what, fn, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = fn()
            if v:
                return v
            time.sleep(0.5)
        events = self.k("get", "events", "-A", check=False).out
        self.fail(f"timed out waiting for {what}\n{events}\n{self.cluster.log_tail()}")

    @staticmethod
    def ready(pod):
        return pod is not None and any(c["type"] == "Ready" and c["status"] == "True"
                                       for c in pod.get("status", {}).get("conditions", []))


STATEFULSET = """
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 3
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: busybox
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "exec sleep 3600"]
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
"""


class StatefulSetTest(SetsTestCase):
    def wait_ready_binding(self, name):
        # The claims get the default class (local-path): provisioned on the pod's node and
        # bound by the volume controllers.
        def ready():
            pod = self.get("pod", name)
            return pod if self.ready(pod) else None
        return self.wait(f"pod {name} Ready", ready)

    def test_ordered_pods_with_claims_keep_their_data(self):
        self.k("apply", "-f", "-", input=STATEFULSET.replace("NODE", self.node_name()))
        pods = [self.wait_ready_binding(f"db-{i}") for i in range(3)]

        # In order: each pod was created no earlier than its predecessor became Ready.
        def ready_at(pod):
            return next(c["lastTransitionTime"] for c in pod["status"]["conditions"]
                        if c["type"] == "Ready")
        for before, after in zip(pods, pods[1:]):
            self.assertGreaterEqual(after["metadata"]["creationTimestamp"], ready_at(before),
                                    f"{after['metadata']['name']} made before its predecessor was Ready")
        for i, pod in enumerate(pods):
            self.assertEqual(pod["spec"]["hostname"], f"db-{i}")
            self.assertEqual(pod["spec"]["subdomain"], "db")
            self.assertEqual(pod["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"], f"db-{i}")
            claims = [v["persistentVolumeClaim"]["claimName"] for v in pod["spec"]["volumes"]
                      if "persistentVolumeClaim" in v]
            self.assertEqual(claims, [f"data-db-{i}"])
        pvcs = {p["metadata"]["name"]: p["status"]["phase"] for p in self.get("pvc")["items"]}
        self.assertEqual(pvcs, {"data-db-0": "Bound", "data-db-1": "Bound", "data-db-2": "Bound"})
        for pvc in self.get("pvc")["items"]:
            self.assertEqual(pvc["spec"]["storageClassName"], "local-path")
            pv = self.get("pv", pvc["spec"]["volumeName"])
            self.assertEqual(pv["metadata"]["name"], "pvc-" + pvc["metadata"]["uid"])
            self.assertEqual(pv["spec"]["storageClassName"], "local-path")

        # Status, rollout status and history through kubectl.
        sts = self.wait("status readyReplicas 3", lambda: (lambda s: s if s and s.get("status", {}).get(
            "readyReplicas") == 3 else None)(self.get("sts", "db")))
        self.assertEqual(sts["status"]["currentRevision"], sts["status"]["updateRevision"])
        r = self.k("rollout", "status", "sts/db", "--timeout=60s")
        self.assertContains(r.out, "partitioned roll out complete: 3 new pods have been updated")
        self.assertContains(self.k("rollout", "history", "sts/db").out, "1 ")
        events = self.k("get", "events", "--field-selector", "involvedObject.name=db").out
        self.assertContains(events, "create Claim data-db-0 Pod db-0 in StatefulSet db success")
        self.assertContains(events, "create Pod db-2 in StatefulSet db successful")

        # Data written by db-0 survives the pod: it comes back with the same claim.
        self.k("exec", "db-0", "--", "sh", "-c", "echo kept-by-db-0 > /data/state")
        old_uid = pods[0]["metadata"]["uid"]
        self.k("delete", "pod", "db-0", "--wait=false")
        again = self.wait("db-0 back", lambda: (lambda p: p if p and p["metadata"]["uid"] != old_uid
                                                and self.ready(p) else None)(self.get("pod", "db-0")))
        self.assertEqual([v["persistentVolumeClaim"]["claimName"] for v in again["spec"]["volumes"]
                          if "persistentVolumeClaim" in v], ["data-db-0"])
        self.assertEqual(self.k("exec", "db-0", "--", "cat", "/data/state").out, "kept-by-db-0\n")

        # A template change rolls from db-2 down; undo brings revision 1 back as revision 3.
        self.k("set", "env", "sts/db", "MODE=two")
        for name in ("db-2", "db-1", "db-0"):
            self.wait(f"{name} updated", lambda name=name: (lambda p: p if p and self.ready(p) and any(
                e.get("name") == "MODE" for e in p["spec"]["containers"][0].get("env", []))
                else None)(self.get("pod", name)))
        self.k("rollout", "status", "sts/db", "--timeout=60s")
        self.k("rollout", "undo", "sts/db")
        self.wait("db-0 rolled back", lambda: (lambda p: p if p and self.ready(p) and not p["spec"][
            "containers"][0].get("env") else None)(self.get("pod", "db-0")))
        history = self.k("rollout", "history", "sts/db").out
        self.assertContains(history, "2 ")
        self.assertContains(history, "3 ")
        self.assertNotContains(history, "\n1 ")
        # kubectl compares the revision's bytes with its own encoding of the template.
        r = self.k("rollout", "undo", "sts/db", "--to-revision=3")
        self.assertContains(r.out, "skipped rollback (current template already matches revision 3)")


DAEMONSET = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - {name: main, image: busybox, imagePullPolicy: IfNotPresent, command: ["sleep", "3600"]}
"""


class DaemonSetTest(SetsTestCase):
    def test_one_pod_per_node_including_an_api_only_node(self):
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        # A node with no agent behind it, Ready as its kubelet would have said (the node
        # lifecycle controller marks it unreachable 40 s later).
        node = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": "api-only", "labels": {"kubernetes.io/hostname": "api-only"}},
                "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                           "lastHeartbeatTime": now, "lastTransitionTime": now}]}}
        self.k("create", "-f", "-", input=json.dumps(node))
        self.wait("the agent's node", lambda: self.get("node", self.node_name()))
        self.k("apply", "-f", "-", input=DAEMONSET)

        def pods_by_node():
            pods = self.get("pods", "-l", "app=agent") or {"items": []}
            out = {}
            for p in pods["items"]:
                terms = p["spec"]["affinity"]["nodeAffinity"][
                    "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
                self.assertEqual(len(terms), 1)
                self.assertEqual(terms[0]["matchFields"][0]["key"], "metadata.name")
                self.assertEqual(terms[0]["matchFields"][0]["operator"], "In")
                out[terms[0]["matchFields"][0]["values"][0]] = p
            return out
        by_node = self.wait("a pod per node", lambda: (lambda m: m if set(m) == {
            "api-only", self.node_name()} else None)(pods_by_node()))
        for p in by_node.values():
            self.assertEqual(p["metadata"]["ownerReferences"][0]["kind"], "DaemonSet")
            self.assertIn({"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                           "effect": "NoExecute"}, p["spec"]["tolerations"])
        events = self.k("get", "events", "--field-selector", "involvedObject.name=agent").out
        self.assertContains(events, "Created pod: " + by_node["api-only"]["metadata"]["name"])

        # The scheduler binds the real node's pod (its node affinity names the node), and it runs.
        mine = by_node[self.node_name()]["metadata"]["name"]
        self.wait("the daemon pod bound by the scheduler",
                  lambda: self.get("pod", mine)["spec"].get("nodeName") == self.node_name())
        self.wait("the bound daemon pod Ready", lambda: self.ready(self.get("pod", mine)))
        ds = self.wait("status", lambda: (lambda d: d if d and d.get("status", {}).get(
            "numberReady") == 1 else None)(self.get("ds", "agent")))
        self.assertEqual(ds["status"]["desiredNumberScheduled"], 2)
        self.assertEqual(ds["status"]["currentNumberScheduled"], 2)
        r = self.k("rollout", "status", "ds/agent", "--timeout=2s", check=False)
        self.assertContains(r.out + r.err, "1 of 2 updated pods are available")

        # The API-only node removed: its pod goes, and the rollout is complete.
        self.k("delete", "node", "api-only")
        self.wait("the pod of the removed node gone", lambda: set(pods_by_node()) == {self.node_name()})
        r = self.k("rollout", "status", "ds/agent", "--timeout=60s")
        self.assertContains(r.out, 'daemon set "agent" successfully rolled out')
        self.assertContains(self.k("rollout", "history", "ds/agent").out, "1 ")
        r = self.k("rollout", "undo", "ds/agent", "--to-revision=1")
        self.assertContains(r.out, "skipped rollback (current template already matches revision 1)")
