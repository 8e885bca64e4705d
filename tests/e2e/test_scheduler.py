"""The scheduler end to end: `nave server` with its agent (one real node) plus fake Node
objects created with kubectl; pods without spec.nodeName are placed by the scheduler."""

import json
import time

import harness

TIMEOUT = 90


def fake_node(name, cpu="4", labels=None):
    labels = dict(labels or {})
    labels["kubernetes.io/hostname"] = name
    return json.dumps({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "status": {
            "capacity": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "fake node"}],
        },
    })


class SchedulerTest(harness.ClusterTestCase):
    agent = True

    @staticmethod
    def images():
        return [harness.busybox_images()["docker"]]

    def node_name(self):
        return "node-" + self.cluster.name.lower()[:40]

    def wait(self, what, fn, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = fn()
            if last:
                return last
            time.sleep(0.3)
        events = self.k("get", "events", "-A", check=False).out
        self.fail(f"timed out waiting for {what}: {last}\n{events}\n{self.cluster.log_tail()}")

    def pod(self, name):
        r = self.k("get", "pod", name, "-o", "json", check=False)
        return json.loads(r.out) if r.rc == 0 else None

    def condition(self, pod, type_):
        for c in (pod or {}).get("status", {}).get("conditions", []):
            if c["type"] == type_:
                return c
        return None

    def wait_real_node_ready(self):
        def ready():
            r = self.k("get", "node", self.node_name(), "-o", "json", check=False)
            if r.rc != 0:
                return None
            c = self.condition(json.loads(r.out), "Ready")
            return c and c["status"] == "True"
        self.wait("the agent's node to be Ready", ready)

    def create_fake_nodes(self):
        for name, labels in (("fake-ssd", {"disk": "ssd"}), ("fake-hdd", {"disk": "hdd"})):
            self.k("create", "-f", "-", input=fake_node(name, labels=labels))
            node = json.loads(self.k("get", "node", name, "-o", "json").out)
            if node.get("status", {}).get("allocatable", {}).get("cpu") != "4":
                # The status did not come with the create: set it through the subresource.
                status = json.loads(fake_node(name))["status"]
                self.k("patch", "node", name, "--subresource=status", "--type=merge",
                       "-p", json.dumps({"status": status}))

    def test_1_pod_without_node_name_is_scheduled_and_runs(self):
        self.wait_real_node_ready()
        self.k("apply", "-f", "-", input="""
apiVersion: v1
kind: Pod
metadata: {name: plain}
spec:
  containers:
  - name: c
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
""")
        def ready():
            p = self.pod("plain")
            c = self.condition(p, "Ready")
            return p if c and c["status"] == "True" else None
        p = self.wait("pod plain to be Ready", ready)
        self.assertEqual(p["spec"]["nodeName"], self.node_name())
        self.assertEqual(self.condition(p, "PodScheduled")["status"], "True")
        events = self.k("get", "events", "--field-selector", "involvedObject.name=plain", "-o", "json").json()
        scheduled = [e for e in events["items"] if e["reason"] == "Scheduled"]
        self.assertEqual(len(scheduled), 1, events)
        self.assertEqual(scheduled[0]["message"],
                         f"Successfully assigned default/plain to {self.node_name()}")
        self.assertEqual(scheduled[0]["source"]["component"], "default-scheduler")
        self.k("delete", "pod", "plain", "--grace-period=1", timeout=TIMEOUT)

    def test_2_fake_nodes_take_part(self):
        self.wait_real_node_ready()
        self.create_fake_nodes()
        self.addCleanup(self.k, "delete", "node", "fake-ssd", "fake-hdd", "--wait=false", check=False)

        # nodeSelector: only the matching fake node will do.
        self.k("apply", "-f", "-", input="""
apiVersion: v1
kind: Pod
metadata: {name: wants-ssd}
spec:
  nodeSelector: {disk: ssd}
  containers:
  - {name: c, image: busybox, command: ["sleep", "3600"]}
""")
        self.addCleanup(self.k, "delete", "pod", "wants-ssd", "--grace-period=0", "--force",
                        "--wait=false", check=False)
        p = self.wait("wants-ssd to be bound",
                      lambda: (lambda p: p if p and p["spec"].get("nodeName") else None)(self.pod("wants-ssd")))
        self.assertEqual(p["spec"]["nodeName"], "fake-ssd")

        # 1000 CPUs: nothing fits; the reason is on the pod and in its events.
        self.k("apply", "-f", "-", input="""
apiVersion: v1
kind: Pod
metadata: {name: huge}
spec:
  containers:
  - name: c
    image: busybox
    command: ["sleep", "3600"]
    resources: {requests: {cpu: "1000"}}
""")
        self.addCleanup(self.k, "delete", "pod", "huge", "--wait=false", check=False)

        def unschedulable():
            c = self.condition(self.pod("huge"), "PodScheduled")
            return c if c and c["status"] == "False" else None
        c = self.wait("huge to be Unschedulable", unschedulable)
        self.assertEqual(c["reason"], "Unschedulable")
        self.assertEqual(c["message"],
                         "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are "
                         "available: 3 No preemption victims found for incoming pod.")
        describe = self.wait("FailedScheduling in describe", lambda: (
            lambda out: out if "FailedScheduling" in out else None)(self.k("describe", "pod", "huge").out))
        self.assertContains(describe, "0/3 nodes are available: 3 Insufficient cpu.")
        self.assertContains(describe, "default-scheduler")
        get = self.k("get", "pod", "huge").out
        self.assertContains(get, "Pending")


if __name__ == "__main__":
    import unittest
    unittest.main()
