"""The node agent end to end: `nave server` with its agent in a test network namespace, the
busybox test image imported from DATA/agent/images at start, pods driven with real kubectl."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import harness

POD_TIMEOUT = 90


def busybox_archive():
    return [harness.busybox_images()["docker"]]


class AgentTestCase(harness.ClusterTestCase):
    agent = True
    images = busybox_archive

    def apply(self, manifest, ns="default"):
        return self.k("apply", "-n", ns, "-f", "-", input=manifest)

    def pod(self, name, ns="default"):
        return json.loads(self.k("get", "pod", name, "-n", ns, "-o", "json").out)

    def wait_pod(self, name, predicate, what, ns="default", timeout=POD_TIMEOUT):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            r = self.k("get", "pod", name, "-n", ns, "-o", "json", check=False)
            if r.rc == 0:
                last = json.loads(r.out)
                if predicate(last):
                    return last
            time.sleep(0.3)
        events = self.k("get", "events", "-n", ns, check=False).out
        self.fail(f"pod {name} did not become {what}:\n"
                  f"{json.dumps(last.get('status') if last else None, indent=1)}\n{events}\n"
                  f"{self.cluster.log_tail()}")

    def wait_ready(self, name, ns="default"):
        def ready(p):
            return any(c["type"] == "Ready" and c["status"] == "True"
                       for c in p.get("status", {}).get("conditions", []))
        return self.wait_pod(name, ready, "Ready", ns)

    def container_status(self, pod, name):
        for s in pod.get("status", {}).get("containerStatuses", []):
            if s["name"] == name:
                return s
        return None

    def node_name(self):
        return "node-" + self.cluster.name.lower()[:40]


class NodeTest(AgentTestCase):
    def test_node_registers_ready_with_capacity_and_lease(self):
        deadline = time.monotonic() + 30
        node = None
        while time.monotonic() < deadline:
            r = self.k("get", "node", self.node_name(), "-o", "json", check=False)
            if r.rc == 0:
                node = json.loads(r.out)
                conds = {c["type"]: c["status"] for c in node["status"].get("conditions", [])}
                if conds.get("Ready") == "True":
                    break
            time.sleep(0.2)
        self.assertIsNotNone(node, "the node was not registered")
        status = node["status"]
        conds = {c["type"]: c for c in status["conditions"]}
        self.assertEqual(conds["Ready"]["status"], "True")
        self.assertEqual(conds["Ready"]["reason"], "KubeletReady")
        for t in ("MemoryPressure", "DiskPressure", "PIDPressure"):
            self.assertEqual(conds[t]["status"], "False", t)
        self.assertEqual(status["capacity"]["pods"], "110")
        self.assertIn("cpu", status["allocatable"])
        self.assertIn("ephemeral-storage", status["capacity"])
        self.assertEqual(status["nodeInfo"]["containerRuntimeVersion"].split(":")[0], "nave")
        self.assertIn({"type": "InternalIP", "address": self.cluster.node_ip}, status["addresses"])
        self.assertTrue(any("busybox" in n for i in status["images"] for n in i["names"]),
                        "the airgap image is listed")
        self.assertEqual(node["spec"]["podCIDR"], "10.42.0.0/24")
        labels = node["metadata"]["labels"]
        self.assertEqual(labels["kubernetes.io/hostname"], self.node_name())
        self.assertEqual(labels["node-role.kubernetes.io/control-plane"], "true")
        lease = json.loads(self.k("get", "lease", self.node_name(), "-n", "kube-node-lease",
                                  "-o", "json").out)
        self.assertEqual(lease["spec"]["holderIdentity"], self.node_name())
        out = self.k("get", "nodes").out
        self.assertRegex(out, rf"{self.node_name()}\s+Ready\s+control-plane")


FULL_POD = """
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data: {GREETING: hello, index.html: "<h1>served</h1>"}
---
apiVersion: v1
kind: Secret
metadata: {name: app-secret}
stringData: {PASSWORD: s3cret}
---
apiVersion: v1
kind: Pod
metadata: {name: full}
spec:
  nodeName: NODE
  terminationGracePeriodSeconds: 5
  volumes:
  - {name: shared, emptyDir: {}}
  - name: web
    configMap: {name: app-config, items: [{key: index.html, path: index.html}]}
  initContainers:
  - name: prepare
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo prepared-by-init > /shared/state"]
    volumeMounts: [{name: shared, mountPath: /shared}]
  containers:
  - name: main
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "cat /shared/state; echo greeting=$GREETING password=$PASSWORD; exec httpd -f -p 8080 -h /www"]
    env:
    - name: GREETING
      valueFrom: {configMapKeyRef: {name: app-config, key: GREETING}}
    - name: PASSWORD
      valueFrom: {secretKeyRef: {name: app-secret, key: PASSWORD}}
    ports: [{containerPort: 8080, name: http}]
    volumeMounts:
    - {name: shared, mountPath: /shared}
    - {name: web, mountPath: /www}
    readinessProbe:
      httpGet: {path: /index.html, port: http}
      periodSeconds: 1
    livenessProbe:
      exec: {command: ["cat", "/shared/state"]}
      periodSeconds: 2
"""


class PodLifecycleTest(AgentTestCase):
    def test_a_full_pod_becomes_ready_and_reports_status(self):
        self.apply(FULL_POD.replace("NODE", self.node_name()))
        pod = self.wait_ready("full")
        status = pod["status"]
        self.assertEqual(status["phase"], "Running")
        self.assertTrue(status["podIP"].startswith("10.42.0."), status.get("podIP"))
        self.assertEqual(status["hostIP"], self.cluster.node_ip)
        self.assertEqual(status["qosClass"], "BestEffort")
        conds = {c["type"]: c["status"] for c in status["conditions"]}
        for t in ("PodScheduled", "PodReadyToStartContainers", "Initialized", "ContainersReady",
                  "Ready"):
            self.assertEqual(conds.get(t), "True", t)
        init = status["initContainerStatuses"][0]
        self.assertEqual(init["state"]["terminated"]["reason"], "Completed")
        main = self.container_status(pod, "main")
        self.assertTrue(main["ready"])
        self.assertTrue(main["started"])
        self.assertEqual(main["restartCount"], 0)
        self.assertTrue(main["containerID"].startswith("nave://"))
        self.assertEqual(main["image"], "docker.io/library/busybox:latest")
        self.assertIn("running", main["state"])
        out = self.k("get", "pod", "full").out
        self.assertRegex(out, r"full\s+1/1\s+Running\s+0")
        # The container's output, through the node API.
        logs = self.k("logs", "full", "-c", "main").out
        self.assertIn("prepared-by-init", logs)
        self.assertIn("greeting=hello password=s3cret", logs)
        # The pod IP answers from the node.
        r = self.cluster.run(["curl", "-s", "-m", "10", f"http://{status['podIP']}:8080/index.html"],
                             check=False)
        self.assertIn("<h1>served</h1>", r.out, r.err)
        events = self.k("get", "events", "--field-selector", "involvedObject.name=full").out
        for reason in ("Pulled", "Created", "Started"):
            self.assertIn(reason, events)

    def test_restart_policy_crash_loop_and_oom(self):
        node = self.node_name()
        self.apply(f"""
apiVersion: v1
kind: Pod
metadata: {{name: crasher}}
spec:
  nodeName: {node}
  containers:
  - name: c
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo dying; exit 3"]
---
apiVersion: v1
kind: Pod
metadata: {{name: hog}}
spec:
  nodeName: {node}
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M count=1"]
    resources: {{limits: {{memory: 32Mi}}}}
""")
        def crash_looping(p):
            s = self.container_status(p, "c")
            return (s is not None and s["restartCount"] >= 2 and
                    s["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff")
        pod = self.wait_pod("crasher", crash_looping, "CrashLoopBackOff")
        s = self.container_status(pod, "c")
        self.assertEqual(s["lastState"]["terminated"]["exitCode"], 3)
        self.assertEqual(s["lastState"]["terminated"]["reason"], "Error")
        self.assertIn("back-off", s["state"]["waiting"]["message"])
        self.assertEqual(pod["status"]["phase"], "Running")
        self.assertIn("dying", self.k("logs", "crasher", "--previous").out)
        self.assertRegex(self.k("get", "pod", "crasher").out, r"crasher\s+0/1\s+CrashLoopBackOff")

        pod = self.wait_pod("hog", lambda p: p["status"].get("phase") == "Failed", "Failed")
        s = self.container_status(pod, "c")
        self.assertEqual(s["state"]["terminated"]["reason"], "OOMKilled")
        self.assertEqual(s["state"]["terminated"]["exitCode"], 137)
        self.assertRegex(self.k("get", "pod", "hog").out, r"hog\s+0/1\s+OOMKilled")

    def test_delete_ends_processes_and_leaves_nothing(self):
        self.apply(f"""
apiVersion: v1
kind: Pod
metadata: {{name: sleeper}}
spec:
  nodeName: {self.node_name()}
  terminationGracePeriodSeconds: 30
  containers:
  - name: c
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
""")
        pod = self.wait_ready("sleeper")
        cid = self.container_status(pod, "c")["containerID"].split("//")[1]
        uid = pod["metadata"]["uid"]
        self.assertTrue(self.processes_of(cid), "the container's shim runs")
        t0 = time.monotonic()
        self.k("delete", "pod", "sleeper", "--wait=true", timeout=60)
        self.assertLess(time.monotonic() - t0, 30, "ended within the grace period")
        self.assertEqual(self.processes_of(cid), [])
        with open("/proc/self/mountinfo") as f:
            mounts = [l.split()[4] for l in f if cid in l or uid in l]
        self.assertEqual(mounts, [])
        left = []
        for root, dirs, _ in os.walk("/sys/fs/cgroup"):
            left += [os.path.join(root, d) for d in dirs if d == cid]
            if root.count("/") > 5:
                dirs[:] = []
        self.assertEqual(left, [])
        self.assertFalse(os.path.exists(os.path.join(self.cluster.data_dir, "agent", "pods", uid)))

    def processes_of(self, cid):
        r = subprocess.run(["pgrep", "-f", f"shim.*{cid}"], capture_output=True, text=True)
        return r.stdout.split()


class PodSpecTest(AgentTestCase):
    """More of the container spec, with pods started side by side."""

    def test_spec_features(self):
        node = self.node_name()
        ip = self.cluster.node_ip
        self.apply(f"""
apiVersion: v1
kind: Pod
metadata: {{name: hostnet}}
spec:
  nodeName: {node}
  hostNetwork: true
  containers:
  - {{name: c, image: busybox, imagePullPolicy: IfNotPresent, command: ["sleep", "3600"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: hostport}}
spec:
  nodeName: {node}
  containers:
  - name: c
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "mkdir /www && echo via-hostport > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports: [{{containerPort: 80, hostPort: 30080}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: unhealthy}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 1  # sleep as PID 1 ignores SIGTERM
  containers:
  - name: c
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    livenessProbe:
      exec: {{command: ["test", "-e", "/nonexistent"]}}
      periodSeconds: 1
      failureThreshold: 2
---
apiVersion: v1
kind: Pod
metadata: {{name: sidecar}}
spec:
  nodeName: {node}
  initContainers:
  - {{name: helper, image: busybox, imagePullPolicy: IfNotPresent, restartPolicy: Always, command: ["sleep", "3600"]}}
  - {{name: once, image: busybox, imagePullPolicy: IfNotPresent, command: ["true"]}}
  containers:
  - {{name: main, image: busybox, imagePullPolicy: IfNotPresent, command: ["sleep", "3600"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: neverpull}}
spec:
  nodeName: {node}
  containers:
  - {{name: c, image: "example.invalid/nothing:1", imagePullPolicy: Never}}
---
apiVersion: v1
kind: Pod
metadata: {{name: nonroot}}
spec:
  nodeName: {node}
  securityContext: {{runAsNonRoot: true}}
  containers:
  - {{name: c, image: busybox, imagePullPolicy: IfNotPresent, command: ["sleep", "3600"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: message}}
spec:
  nodeName: {node}
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo first; echo last words; exit 2"]
    terminationMessagePolicy: FallbackToLogsOnError
---
apiVersion: v1
kind: Pod
metadata: {{name: user}}
spec:
  nodeName: {node}
  restartPolicy: Never
  securityContext: {{runAsUser: 65534, runAsGroup: 65534, supplementalGroups: [1234]}}
  containers:
  - name: c
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "id -u; id -G; cat /etc/resolv.conf; cat /etc/hostname"]
""")
        pod = self.wait_ready("hostnet")
        self.assertEqual(pod["status"]["podIP"], ip)
        self.wait_ready("hostport")
        r = self.cluster.run(["curl", "-s", "-m", "10", f"http://{ip}:30080/index.html"], check=False)
        self.assertIn("via-hostport", r.out, r.err)

        def restarted(p):
            s = self.container_status(p, "c")
            return s is not None and s["restartCount"] >= 1
        self.wait_pod("unhealthy", restarted, "restarted by its liveness probe")
        events = self.k("get", "events", "--field-selector", "involvedObject.name=unhealthy").out
        self.assertIn("Liveness probe failed", events)
        self.assertIn("failed liveness probe, will be restarted", events)

        pod = self.wait_ready("sidecar")
        inits = {s["name"]: s for s in pod["status"]["initContainerStatuses"]}
        self.assertIn("running", inits["helper"]["state"])
        self.assertEqual(inits["once"]["state"]["terminated"]["reason"], "Completed")

        def waiting(reason):
            def check(p):
                s = self.container_status(p, "c")
                return s is not None and s["state"].get("waiting", {}).get("reason") == reason
            return check
        pod = self.wait_pod("neverpull", waiting("ErrImageNeverPull"), "ErrImageNeverPull")
        self.assertIn("is not present with pull policy of Never",
                      self.container_status(pod, "c")["state"]["waiting"]["message"])
        pod = self.wait_pod("nonroot", waiting("CreateContainerConfigError"), "refused")
        self.assertIn("runAsNonRoot and image will run as root",
                      self.container_status(pod, "c")["state"]["waiting"]["message"])

        pod = self.wait_pod("message", lambda p: p["status"].get("phase") == "Failed", "Failed")
        term = self.container_status(pod, "c")["state"]["terminated"]
        self.assertEqual(term["exitCode"], 2)
        self.assertEqual(term["message"], "first\nlast words\n")

        self.wait_pod("user", lambda p: p["status"].get("phase") == "Succeeded", "Succeeded")
        out = self.k("logs", "user").out.splitlines()
        self.assertEqual(out[0], "65534")
        self.assertIn("1234", out[1].split())
        self.assertIn("nameserver 10.43.0.10", out)
        self.assertIn("search default.svc.cluster.local svc.cluster.local cluster.local", out)
        self.assertIn("options ndots:5", out)
        self.assertEqual(out[-1], "user")


VERSIONS = ("1.27", "1.33")  # SPDY, and WebSocket (with SPDY tunnelled for port-forward)


class StreamingTest(AgentTestCase):
    """exec, attach, cp, port-forward and logs reach real containers through the node API."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        node = "node-" + cls.cluster.name.lower()[:40]
        cls.cluster.kubectl("apply", "-f", "-", input=f"""
apiVersion: v1
kind: Pod
metadata: {{name: web}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "mkdir -p /www && echo '<p>forwarded</p>' > /www/index.html && echo serving && exec httpd -f -p 8080 -h /www"]
  - name: talker
    image: busybox
    imagePullPolicy: IfNotPresent
    stdin: true
    command: ["sh", "-c", "while read line; do echo heard:$line; [ $line = bye ] && exit 0; done"]
""")

    def setUp(self):
        self.wait_ready("web")

    def kv(self, version, *args, **kw):
        return self.cluster.kubectl(*args, version=version, **kw)

    def test_exec(self):
        for v in VERSIONS:
            with self.subTest(kubectl=v):
                self.assertEqual(self.kv(v, "exec", "web", "-c", "httpd", "--", "hostname").out, "web\n")
                r = self.kv(v, "exec", "web", "-c", "httpd", "--", "sh", "-c", "echo out; echo err >&2; exit 3",
                            check=False)
                self.assertEqual(r.rc, 3, str(r))
                self.assertEqual(r.out, "out\n")
                self.assertIn("err", r.err)
                r = self.kv(v, "exec", "-i", "web", "-c", "httpd", "--", "sh", "-c", "tr a-z A-Z",
                            input="piped through\n")
                self.assertEqual(r.out, "PIPED THROUGH\n")
                r = self.kv(v, "exec", "web", "-c", "httpd", "--", "ps", "-o", "pid,args")
                self.assertIn("httpd -f -p 8080", r.out)
                self.assertNotIn("sleep", r.out, "only the pod's processes are seen")

    def test_cp_both_ways(self):
        local = tempfile.mkdtemp(prefix="nave-e2e-cp-")
        self.addCleanup(shutil.rmtree, local, True)
        payload = "".join(f"line {i}\n" for i in range(5000))
        with open(os.path.join(local, "up.txt"), "w") as f:
            f.write(payload)
        for v in VERSIONS:
            with self.subTest(kubectl=v):
                self.kv(v, "cp", "-c", "httpd", os.path.join(local, "up.txt"), f"default/web:/tmp/up-{v}.txt")
                self.assertEqual(self.kv(v, "exec", "web", "-c", "httpd", "--", "cat", f"/tmp/up-{v}.txt").out, payload)
                self.kv(v, "cp", "-c", "httpd", "default/web:/www/index.html", os.path.join(local, f"down-{v}.html"))
                with open(os.path.join(local, f"down-{v}.html")) as f:
                    self.assertEqual(f.read(), "<p>forwarded</p>\n")

    def test_port_forward_reaches_busybox_httpd(self):
        for i, v in enumerate(VERSIONS):
            with self.subTest(kubectl=v):
                local = 19080 + i
                pf = self.cluster.spawn_kubectl("port-forward", "pod/web", f"{local}:8080", version=v)
                pf.wait_for(lambda out: f"Forwarding from 127.0.0.1:{local}" in out,
                            what="port-forward to listen")

                def get():
                    s = socket.create_connection(("127.0.0.1", local), 20)
                    with s:
                        s.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
                        data = b""
                        while True:
                            chunk = s.recv(65536)
                            if not chunk:
                                return data.decode()
                            data += chunk

                self.assertIn("<p>forwarded</p>", harness.run_in_netns(self.cluster.ns, get))
                self.assertIn("<p>forwarded</p>", harness.run_in_netns(self.cluster.ns, get))
                pf.stop()

    def test_attach_and_logs(self):
        for v in VERSIONS:
            with self.subTest(kubectl=v):
                self.wait_ready("web")
                # "bye" ends the container, which ends the attachment (kubectl attach waits for
                # the container's output to end, not for its own stdin to).
                r = self.kv(v, "attach", "-i", "web", "-c", "talker", input=f"hello-{v}\nbye\n",
                            timeout=60)
                self.assertIn(f"heard:hello-{v}", r.out)
        self.wait_ready("web")
        logs = self.k("logs", "web", "-c", "talker", "--previous").out
        self.assertIn("heard:hello-1.33", logs)
        self.assertEqual(self.k("logs", "web", "-c", "httpd", "--tail=1").out, "serving\n")
        stamped = self.k("logs", "web", "-c", "httpd", "--timestamps").out
        self.assertRegex(stamped, r"^\d{4}-\d\d-\d\dT[\d:.]+Z serving\n$")
        r = self.k("logs", "web")
        self.assertIn('Defaulted container "httpd" out of: httpd, talker', r.err)


class RestartTest(AgentTestCase):
    def test_pods_survive_a_kill_and_restart_of_the_server(self):
        self.apply(f"""
apiVersion: v1
kind: Pod
metadata: {{name: survivor}}
spec:
  nodeName: {self.node_name()}
  containers:
  - name: c
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo up; sleep 1000"]
""")
        pod = self.wait_ready("survivor")
        before = self.container_status(pod, "c")
        shims = self.shims_of(before)
        self.assertTrue(shims)
        self.cluster.kill9()
        self.cluster.restart()
        pod = self.wait_ready("survivor")
        after = self.container_status(pod, "c")
        self.assertEqual(after["containerID"], before["containerID"])
        self.assertEqual(after["restartCount"], 0)
        self.assertEqual(self.shims_of(before), shims, "the same processes")
        # A pod deleted while no agent runs (the server alone, then force-deleted) is stopped
        # when the agent returns.
        self.cluster.kill9()
        self.cluster.agent = False
        try:
            self.cluster.restart()
            self.k("delete", "pod", "survivor", "--grace-period=0", "--force")
            self.cluster.stop_server()
        finally:
            self.cluster.agent = True
        self.cluster.restart()
        deadline = time.monotonic() + 30
        while self.shims_of(before) and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertEqual(self.shims_of(before), [])

    def shims_of(self, status):
        cid = status["containerID"].split("//")[1]
        return subprocess.run(["pgrep", "-f", "shim.*" + cid], capture_output=True,
                              text=True).stdout.split()

if __name__ == "__main__":
    unittest.main()
