"""Deployments and ReplicaSets end to end: `nave server` with its agent running the pods, driven
by the real kubectl's rollout, scale, set image and set env."""

import time
import unittest

import harness

ROLLOUT_TIMEOUT = 180


def busybox_archive():
    return [harness.busybox_images()["docker"]]


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: NAME
  annotations: {kubernetes.io/change-cause: "first version"}
spec:
  replicas: 3
  selector: {matchLabels: {app: NAME}}
  template:
    metadata: {labels: {app: NAME}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: busybox
        imagePullPolicy: IfNotPresent
        command: ["httpd", "-f", "-p", "8080"]
"""


class WorkloadsTest(harness.ClusterTestCase):
    agent = True
    images = busybox_archive

    def node_name(self):
        return "node-" + self.cluster.name.lower()[:40]

    def create_deployment(self, name):
        manifest = DEPLOYMENT.replace("NAME", name).replace("NODE", self.node_name())
        self.k("apply", "-f", "-", input=manifest)

    def rollout_status(self, name):
        r = self.k("rollout", "status", f"deployment/{name}", f"--timeout={ROLLOUT_TIMEOUT}s",
                   timeout=ROLLOUT_TIMEOUT + 30, check=False)
        if r.rc != 0:
            self.fail(f"rollout of {name} did not finish:\n{r}\n{self.describe(name)}")
        self.assertContains(r.out, f'deployment "{name}" successfully rolled out')
        return r.out

    def describe(self, name):
        out = self.k("describe", "deployment", name, check=False).out
        rs = self.k("get", "rs,pods", "-o", "wide", check=False).out
        return f"{out}\n{rs}\n{self.cluster.log_tail()}"

    def deployment(self, name):
        return self.k("get", "deployment", name, "-o", "json").json()

    def replicasets(self, name):
        items = self.k("get", "rs", "-l", f"app={name}", "-o", "json").json()["items"]
        return {rs["metadata"]["name"]: rs for rs in items}

    def pods(self, name):
        items = self.k("get", "pods", "-l", f"app={name}", "-o", "json").json()["items"]
        return [p for p in items if not p["metadata"].get("deletionTimestamp")]

    def ready_pods(self, name):
        return [p for p in self.pods(name)
                if any(c["type"] == "Ready" and c["status"] == "True"
                       for c in p.get("status", {}).get("conditions", []))]

    def wait(self, predicate, what, timeout=ROLLOUT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.5)
        self.fail(f"{what}: timed out")

    def image_of(self, name):
        return self.deployment(name)["spec"]["template"]["spec"]["containers"][0]["image"]

    def test_deployment_becomes_available(self):
        self.create_deployment("web")
        self.rollout_status("web")
        d = self.deployment("web")
        status = d["status"]
        self.assertEqual(status["availableReplicas"], 3)
        self.assertEqual(status["readyReplicas"], 3)
        self.assertEqual(status["updatedReplicas"], 3)
        conds = {c["type"]: c for c in status["conditions"]}
        self.assertEqual(conds["Available"]["reason"], "MinimumReplicasAvailable")
        self.assertEqual(conds["Progressing"]["reason"], "NewReplicaSetAvailable")
        self.assertEqual(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "1")
        sets = self.replicasets("web")
        self.assertEqual(len(sets), 1)
        (rs_name, rs), = sets.items()
        hash_ = rs["metadata"]["labels"]["pod-template-hash"]
        self.assertEqual(rs_name, f"web-{hash_}")
        self.assertEqual(rs["metadata"]["annotations"]["kubernetes.io/change-cause"], "first version")
        pods = self.ready_pods("web")
        self.assertEqual(len(pods), 3)
        for p in pods:
            self.assertTrue(p["metadata"]["name"].startswith(rs_name + "-"), p["metadata"]["name"])
            self.assertEqual(p["status"]["phase"], "Running")
        # kubectl's READY column and the events kubectl describe shows.
        _, table = harness.parse_table(self.k("get", "deployment", "web").out)
        self.assertEqual(table[0]["READY"], "3/3")
        self.assertEqual(table[0]["UP-TO-DATE"], "3")
        self.assertEqual(table[0]["AVAILABLE"], "3")
        described = self.k("describe", "deployment", "web").out
        self.assertContains(described, f"Scaled up replica set {rs_name} to 3 from 0")
        self.assertContains(described, f"NewReplicaSet:   {rs_name} (3/3 replicas created)")
        self.assertContains(described, "Replicas:               3 desired | 3 updated | 3 total | 3 available | 0 unavailable")
        _, rs_table = harness.parse_table(self.k("get", "rs", rs_name).out)
        self.assertEqual((rs_table[0]["DESIRED"], rs_table[0]["CURRENT"], rs_table[0]["READY"]),
                         ("3", "3", "3"))
        self.assertContains(self.k("describe", "rs", rs_name).out, "Created pod: ")

    def test_set_image_history_and_undo(self):
        self.create_deployment("app")
        self.rollout_status("app")
        first = self.image_of("app")
        self.k("set", "image", "deployment/app", "web=docker.io/library/busybox:latest")
        self.k("annotate", "deployment/app", "kubernetes.io/change-cause=new image", "--overwrite")
        self.rollout_status("app")
        self.assertEqual(len(self.replicasets("app")), 2)
        self.assertEqual(
            {p["spec"]["containers"][0]["image"] for p in self.ready_pods("app")},
            {"docker.io/library/busybox:latest"})

        self.k("set", "env", "deployment/app", "GREETING=hello")
        self.rollout_status("app")
        pods = self.ready_pods("app")
        self.assertEqual(len(pods), 3)
        for p in pods:
            self.assertIn({"name": "GREETING", "value": "hello"}, p["spec"]["containers"][0]["env"])

        history = self.k("rollout", "history", "deployment/app").out
        _, rows = harness.parse_table(history.split("\n", 1)[1])
        self.assertEqual([r["REVISION"] for r in rows], ["1", "2", "3"], history)
        self.assertEqual(rows[0]["CHANGE-CAUSE"], "first version", history)
        self.assertEqual(rows[1]["CHANGE-CAUSE"], "new image", history)

        # Undo: back to revision 2's template (no env), renumbered 4.
        self.k("rollout", "undo", "deployment/app")
        self.rollout_status("app")
        c = self.deployment("app")["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual(c["image"], "docker.io/library/busybox:latest")
        self.assertNotIn("env", c)
        self.assertEqual(self.deployment("app")["metadata"]["annotations"]
                         ["deployment.kubernetes.io/revision"], "4")
        history = self.k("rollout", "history", "deployment/app").out
        _, rows = harness.parse_table(history.split("\n", 1)[1])
        self.assertEqual([r["REVISION"] for r in rows], ["1", "3", "4"], history)

        # Undo to revision 1: the first image again.
        self.k("rollout", "undo", "deployment/app", "--to-revision=1")
        self.rollout_status("app")
        self.assertEqual(self.image_of("app"), first)
        self.assertEqual(len(self.ready_pods("app")), 3)

    def test_deleted_pod_is_replaced_and_scale(self):
        self.create_deployment("scaled")
        self.rollout_status("scaled")
        victim = self.ready_pods("scaled")[0]["metadata"]["name"]
        self.k("delete", "pod", victim, "--wait=false")
        self.wait(lambda: len(self.ready_pods("scaled")) == 3 and
                  victim not in [p["metadata"]["name"] for p in self.pods("scaled")],
                  "the deleted pod was not replaced")

        self.k("scale", "deployment/scaled", "--replicas=0")
        self.wait(lambda: not self.pods("scaled"), "pods remain after scaling to 0")
        self.wait(lambda: self.deployment("scaled")["status"].get("replicas", 0) == 0,
                  "status.replicas is not 0")
        self.k("scale", "deployment/scaled", "--replicas=3")
        self.rollout_status("scaled")
        self.assertEqual(len(self.ready_pods("scaled")), 3)
        self.assertEqual(len(self.replicasets("scaled")), 1)

    def test_restart_pause_and_resume(self):
        self.create_deployment("paused")
        self.rollout_status("paused")
        self.k("rollout", "pause", "deployment/paused")
        self.k("set", "env", "deployment/paused", "MODE=paused")
        time.sleep(2)
        self.assertEqual(len(self.replicasets("paused")), 1, "a paused deployment rolled out")
        conds = {c["type"]: c for c in self.deployment("paused")["status"]["conditions"]}
        self.assertEqual(conds["Progressing"]["reason"], "DeploymentPaused")
        self.k("rollout", "resume", "deployment/paused")
        self.rollout_status("paused")
        self.assertEqual(len(self.replicasets("paused")), 2)

        self.k("rollout", "restart", "deployment/paused")
        self.rollout_status("paused")
        d = self.deployment("paused")
        self.assertIn("kubectl.kubernetes.io/restartedAt", d["spec"]["template"]["metadata"]["annotations"])
        self.assertEqual(len(self.replicasets("paused")), 3)
        for p in self.ready_pods("paused"):
            self.assertIn("kubectl.kubernetes.io/restartedAt", p["metadata"]["annotations"])

    def test_deleting_the_deployment_removes_its_replicasets_and_pods(self):
        self.create_deployment("doomed")
        self.rollout_status("doomed")
        self.assertEqual(len(self.replicasets("doomed")), 1)
        self.k("delete", "deployment", "doomed")  # background propagation: the garbage collector
        self.wait(lambda: not self.replicasets("doomed") and not self.k(
            "get", "pods", "-l", "app=doomed", "-o", "name").out.strip(),
            "the ReplicaSet and the pods removed")

    def test_foreground_deletion_removes_pods_before_the_deployment(self):
        self.create_deployment("fg")
        self.rollout_status("fg")
        self.k("delete", "deployment", "fg", "--cascade=foreground", "--wait=true",
               timeout=ROLLOUT_TIMEOUT)
        self.assertEqual(self.replicasets("fg"), {}, "dependents gone before the owner")
        self.assertEqual(self.k("get", "pods", "-l", "app=fg", "-o", "name").out.strip(), "")

    def test_progress_deadline_fails_rollout_status(self):
        manifest = (DEPLOYMENT.replace("NAME", "stuck").replace("NODE", self.node_name())
                    .replace("image: busybox", "image: example.invalid/nothing:1")
                    .replace("imagePullPolicy: IfNotPresent", "imagePullPolicy: Never")
                    .replace("  replicas: 3\n", "  replicas: 2\n  progressDeadlineSeconds: 3\n"))
        self.k("apply", "-f", "-", input=manifest)
        r = self.k("rollout", "status", "deployment/stuck", "--timeout=120s", timeout=150,
                   check=False)
        self.assertNotEqual(r.rc, 0, str(r))
        self.assertContains(r.err, 'deployment "stuck" exceeded its progress deadline')
        conds = {c["type"]: c for c in self.deployment("stuck")["status"]["conditions"]}
        self.assertEqual(conds["Progressing"]["status"], "False")
        self.assertEqual(conds["Progressing"]["reason"], "ProgressDeadlineExceeded")
        self.assertEqual(conds["Available"]["reason"], "MinimumReplicasUnavailable")


if __name__ == "__main__":
    unittest.main()
