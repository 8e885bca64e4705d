"""kubectl exec, attach, cp, port-forward and logs through a real `nave server` to a node API.

The node is nave-fake-kubelet (tests/e2e/fake_kubelet): the real node API server
(runtime/agent/streaming) with a fake backend, started in the cluster's network namespace and
registered as a Node whose InternalIP is the namespace's address. Its exec runs commands on
this host (in a scratch directory), attach echoes, port-forward reaches 127.0.0.1 in the
namespace, and logs are canned lines. Each kubectl version speaks its own protocols: 1.27
SPDY for everything, 1.32 and 1.33 WebSocket (v5.channel.k8s.io) for exec/attach and SPDY
tunnelled in WebSocket for port-forward."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import ClusterTestCase

VERSIONS = ["1.27", "1.32", "1.33"]
NODE = "node1"
KUBELET_PORT = 10250


def fake_kubelet_path():
    path = os.environ.get("NAVE_E2E_FAKE_KUBELET") or os.path.join(
        os.path.dirname(harness.NAVE), "nave-fake-kubelet")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise AssertionError(f"nave-fake-kubelet not found at {path} (build the target "
                             "nave-fake-kubelet beside nave, or set NAVE_E2E_FAKE_KUBELET)")
    return path


def pod_manifest(name, containers, node=NODE):
    spec = {"containers": [{"name": c, "image": "busybox", "stdin": True} for c in containers]}
    if node:
        spec["nodeName"] = node
    return json.dumps({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": name, "namespace": "default"}, "spec": spec})


class EchoServer:
    """A TCP echo server on 127.0.0.1 inside the cluster's namespace."""

    def __init__(self, ns):
        self.sock = harness.run_in_netns(ns, lambda: socket.create_server(("127.0.0.1", 0)))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn):
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                conn.sendall(data)

    def close(self):
        self.sock.close()


class StreamingTestBase(ClusterTestCase):
    """A cluster with the fake node registered and a few pods bound to it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.cluster
        cls.workdir = tempfile.mkdtemp(prefix="nave-e2e-streaming-")
        cls.addClassCleanup(shutil.rmtree, cls.workdir, True)
        tls = os.path.join(c.data_dir, "server", "tls")
        cls.kubelet = c.spawn([fake_kubelet_path(), "--ca-cert", os.path.join(tls, "ca.crt"),
                               "--ca-key", os.path.join(tls, "ca.key"), "--node-name", NODE,
                               "--address", c.node_ip, "--port", str(KUBELET_PORT),
                               "--workdir", cls.workdir])
        cls.kubelet.wait_for(lambda out: "listening on port" in out, what="the fake kubelet")
        c.kubectl("create", "-f", "-", input=json.dumps(
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}}))
        c.kubectl("patch", "node", NODE, "--subresource=status", "--type=merge", "-p", json.dumps(
            {"status": {"addresses": [{"type": "InternalIP", "address": c.node_ip},
                                      {"type": "Hostname", "address": NODE}],
                        "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}}}}))
        for name, containers, node in [("web", ["main"], NODE), ("multi", ["a", "b"], NODE),
                                       ("web2", ["main", "crashy"], NODE),
                                       ("pending", ["main"], None)]:
            c.kubectl("create", "-f", "-", input=pod_manifest(name, containers, node))
            c.kubectl("patch", "pod", name, "--subresource=status", "--type=merge", "-p",
                      json.dumps({"status": {"phase": "Running" if node else "Pending"}}))

    def kv(self, version, *args, **kw):
        return self.cluster.kubectl(*args, version=version, **kw)

    def kv_fail(self, version, *args, **kw):
        r = self.cluster.kubectl(*args, version=version, check=False, **kw)
        if r.rc == 0:
            self.fail(f"expected kubectl {version} to fail\n{r}")
        return r


class ExecTest(StreamingTestBase):

    def test_exec_stdout_stderr_and_exit_codes(self):
        for v in VERSIONS:
            with self.subTest(kubectl=v):
                r = self.kv(v, "exec", "web", "--", "sh", "-c", "echo out; echo err >&2")
                self.assertEqual(r.out, "out\n")
                self.assertEqual(r.err, "err\n")
                r = self.kv(v, "exec", "web", "--", "sh", "-c", "echo before; exit 3", check=False)
                self.assertEqual((r.rc, r.out), (3, "before\n"), str(r))
                r = self.kv(v, "exec", "web", "--", "sh", "-c", "exit 255", check=False)
                self.assertEqual(r.rc, 255, str(r))
                r = self.kv(v, "exec", "web", "--", "true")
                self.assertEqual((r.rc, r.out), (0, ""))

    def test_exec_stdin(self):
        for v in VERSIONS:
            with self.subTest(kubectl=v):
                r = self.kv(v, "exec", "-i", "web", "--", "tr", "a-z", "A-Z",
                            input="hello\nworld\n")
                self.assertEqual(r.out, "HELLO\nWORLD\n")
                # stdin closes: wc sees the end of its input.
                text = "x" * 100000 + "\n"
                r = self.kv(v, "exec", "-i", "web", "--", "wc", "-c", input=text * 5)
                self.assertEqual(r.out.strip(), str(len(text) * 5))

    def test_exec_large_output(self):
        for v in VERSIONS:
            with self.subTest(kubectl=v):
                r = self.kv(v, "exec", "web", "--", "seq", "1", "200000")
                lines = r.out.splitlines()
                self.assertEqual(len(lines), 200000)
                self.assertEqual(lines[-1], "200000")

    def test_exec_tty_with_resize(self):
        # kubectl needs a terminal for -t: run it on a pseudo-terminal sized 33x101 and let the
        # command wait until the resize kubectl sends has reached its own terminal.
        script = r"""
import os, pty, fcntl, termios, struct, subprocess, sys
m, s = pty.openpty()
fcntl.ioctl(s, termios.TIOCSWINSZ, struct.pack('HHHH', 33, 101, 0, 0))
cmd = 'for i in $(seq 100); do s=$(stty size); [ "$s" = "33 101" ] && break; sleep 0.1; done; ' \
      'echo "size=$s tty=$(test -t 0 && echo yes)"; exit 7'
p = subprocess.Popen([sys.argv[1], 'exec', '-it', 'web', '--', 'sh', '-c', cmd],
                     stdin=s, stdout=s, stderr=s, start_new_session=True)
os.close(s)
out = b''
while True:
    try:
        d = os.read(m, 4096)
    except OSError:
        break
    if not d:
        break
    out += d
print('rc=%d' % p.wait())
print(out.decode(errors='replace'))
"""
        for v in VERSIONS:
            with self.subTest(kubectl=v):
                r = self.cluster.python(script, args=[harness.kubectl_path(v)], timeout=90)
                self.assertIn("rc=7", r.out)
                self.assertIn("size=33 101 tty=yes", r.out)

    def test_cp_both_ways(self):
        for v in VERSIONS:
            with self.subTest(kubectl=v):
                remote = os.path.join(self.workdir, f"cp-{v}")
                os.makedirs(remote, exist_ok=True)
                local = tempfile.mkdtemp(prefix="nave-e2e-cp-")
                self.addCleanup(shutil.rmtree, local, True)
                payload = "".join(f"line {i}\n" for i in range(20000))
                with open(os.path.join(local, "up.txt"), "w") as f:
                    f.write(payload)
                self.kv(v, "cp", os.path.join(local, "up.txt"), f"default/web:{remote}/up.txt")
                with open(os.path.join(remote, "up.txt")) as f:
                    self.assertEqual(f.read(), payload)
                os.makedirs(os.path.join(remote, "dir", "sub"))
                with open(os.path.join(remote, "dir", "sub", "down.txt"), "w") as f:
                    f.write("downloaded\n")
                self.kv(v, "cp", f"default/web:{remote}/dir", os.path.join(local, "dir"))
                with open(os.path.join(local, "dir", "sub", "down.txt")) as f:
                    self.assertEqual(f.read(), "downloaded\n")

    def test_exec_errors(self):
        for v in VERSIONS:
            with self.subTest(kubectl=v):
                r = self.kv_fail(v, "exec", "web", "-c", "nope", "--", "true")
                self.assertIn("container nope is not valid for pod web", r.err)
                r = self.kv_fail(v, "exec", "pending", "--", "true")
                self.assertIn("pod pending does not have a host assigned", r.err)
                r = self.kv_fail(v, "exec", "nopod", "--", "true")
                self.assertIn('pods "nopod" not found', r.err)
                # kubectl picks the first container of a pod with several.
                r = self.kv(v, "exec", "multi", "--", "echo", "hi")
                self.assertEqual(r.out, "hi\n")
                self.assertIn('Defaulted container "a" out of: a, b', r.err)
                r = self.kv(v, "exec", "multi", "-c", "b", "--", "echo", "hi")
                self.assertEqual(r.out, "hi\n")

    def test_python_client_over_websocket_channels(self):
        # The official Python client speaks v4.channel.k8s.io (exec) and the WebSocket channel
        # protocol with ports in the query (port-forward).
        echo = EchoServer(self.cluster.ns)
        self.addCleanup(echo.close)
        script = r"""
import json, sys
from kubernetes import client, config
from kubernetes.stream import stream, portforward
config.load_kube_config()
api = client.CoreV1Api()
r = stream(api.connect_get_namespaced_pod_exec, "web", "default",
           command=["sh", "-c", "echo py-out; echo py-err >&2; exit 4"],
           stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
r.run_forever(timeout=30)
result = {"stdout": r.read_stdout(), "stderr": r.read_stderr(), "rc": r.returncode}
port = int(sys.argv[1])
pf = portforward(api.connect_get_namespaced_pod_portforward, "web", "default", ports=str(port))
sock = pf.socket(port)
sock.setblocking(True)
sock.sendall(b"py-ping")
got = b""
while len(got) < 7:
    got += sock.recv(100)
result["pf"] = got.decode()
sock.close()
print(json.dumps(result))
"""
        r = self.cluster.python(script, args=[str(echo.port)])
        result = json.loads(r.out.strip().splitlines()[-1])
        self.assertEqual(result, {"stdout": "py-out\n", "stderr": "py-err\n", "rc": 4, "pf": "py-ping"})

    def test_client_going_away_ends_the_exec(self):
        for i, v in enumerate(["1.27", "1.32"]):
            with self.subTest(kubectl=v):
                marker = str(987650 + i)
                proc = self.cluster.spawn_kubectl("exec", "web", "--", "sh", "-c",
                                                  f"echo started; exec sleep {marker}", version=v)
                proc.wait_for(lambda out: "started" in out, what="the command to start")
                self.assertTrue(self.sleeping(marker))
                proc.stop()
                deadline = time.monotonic() + 30
                while self.sleeping(marker) and time.monotonic() < deadline:
                    time.sleep(0.1)
                self.assertFalse(self.sleeping(marker), "the exec'd process outlived its client")

    @staticmethod
    def sleeping(marker):
        r = subprocess.run(["pgrep", "-f", f"^sleep {marker}$"], capture_output=True)
        return r.returncode == 0

    def test_api_errors_are_kubernetes_statuses(self):
        c = self.cluster
        r = c.request("POST", "/api/v1/namespaces/default/pods/multi/exec?command=true&stdout=true")
        self.assertEqual(r.status, 400, str(r))
        self.assertEqual(r.json()["message"],
                         "a container name must be specified for pod multi, choose one of: [a b]")
        r = c.request("POST", "/api/v1/namespaces/default/pods/web/exec?command=true&stdout=true")
        self.assertEqual((r.status, r.json()["message"]), (400, "Upgrade request required"))
        r = c.request("POST", "/api/v1/namespaces/default/pods/ghost/attach?stdout=true")
        self.assertEqual((r.status, r.json()["reason"]), (404, "NotFound"))
        r = c.request("PUT", "/api/v1/namespaces/default/pods/web/exec")
        self.assertEqual(r.status, 405, str(r))
        r = c.request("GET", "/api/v1/namespaces/default/pods/web/log?tailLines=-1")
        self.assertEqual(r.status, 422, str(r))
        self.assertEqual(r.json()["message"], 'PodLogOptions "web" is invalid: tailLines: Invalid '
                                              'value: -1: must be greater than or equal to 0')
        r = c.request("GET", "/api/v1/namespaces/default/pods/web/log?sinceSeconds=5&"
                             "sinceTime=2024-01-01T00:00:00Z")
        self.assertEqual(r.status, 422, str(r))
        self.assertIn("at most one of `sinceTime` or `sinceSeconds` may be specified",
                      r.json()["message"])
        r = c.request("GET", "/api/v1/namespaces/default/pods/multi/log")
        self.assertEqual(r.json()["message"],
                         "a container name must be specified for pod multi, choose one of: [a b]")

    def test_discovery_lists_the_subresources(self):
        api = json.loads(self.k("get", "--raw", "/api/v1").out)
        resources = {r["name"]: r for r in api["resources"]}
        self.assertEqual(resources["pods/exec"]["kind"], "PodExecOptions")
        self.assertEqual(resources["pods/exec"]["verbs"], ["create", "get"])
        self.assertEqual(resources["pods/attach"]["kind"], "PodAttachOptions")
        self.assertEqual(resources["pods/portforward"]["kind"], "PodPortForwardOptions")
        self.assertEqual((resources["pods/log"]["kind"], resources["pods/log"]["verbs"]),
                         ("Pod", ["get"]))

    def test_node_without_an_address(self):
        c = self.cluster
        c.kubectl("create", "-f", "-", input=json.dumps(
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "bare"}}))
        c.kubectl("create", "-f", "-", input=pod_manifest("onbare", ["main"], "bare"))
        r = self.kv_fail("1.32", "exec", "onbare", "--", "true")
        self.assertIn("no preferred addresses found; known addresses: []", r.err)
        c.kubectl("create", "-f", "-", input=pod_manifest("onghost", ["main"], "ghost"))
        r = self.kv_fail("1.32", "logs", "onghost")
        self.assertIn('nodes "ghost" not found', r.err)


class AttachTest(StreamingTestBase):

    def test_attach_output(self):
        for v in VERSIONS:
            with self.subTest(kubectl=v):
                r = self.kv(v, "attach", "web", "-c", "main")
                self.assertIn("attached to default/web/main\nattach line 1\nattach line 2\n"
                              "attach line 3\n", r.out)

    def test_attach_stdin(self):
        for v in VERSIONS:
            with self.subTest(kubectl=v):
                r = self.kv(v, "attach", "-i", "web", "-c", "main", input="one\ntwo\n")
                self.assertIn("echo: one\necho: two\n", r.out)


class PortForwardTest(StreamingTestBase):

    def test_port_forward_two_connections(self):
        echo = EchoServer(self.cluster.ns)
        self.addCleanup(echo.close)
        for i, v in enumerate(VERSIONS):
            with self.subTest(kubectl=v):
                local = 18080 + i
                pf = self.cluster.spawn_kubectl("port-forward", "pod/web", f"{local}:{echo.port}",
                                                version=v)
                pf.wait_for(lambda out: f"Forwarding from 127.0.0.1:{local}" in out,
                            what="port-forward to listen")
                ns = self.cluster.ns

                def exchange(payload):
                    s = harness.run_in_netns(
                        ns, lambda: socket.create_connection(("127.0.0.1", local), 20))
                    with s:
                        s.sendall(payload)
                        got = b""
                        while len(got) < len(payload):
                            data = s.recv(65536)
                            if not data:
                                break
                            got += data
                        return got

                first = harness.run_in_netns(
                    ns, lambda: socket.create_connection(("127.0.0.1", local), 20))
                with first:
                    first.sendall(b"ping one\n")
                    self.assertEqual(first.recv(100), b"ping one\n")
                    # A second connection while the first is open, with a large payload.
                    big = os.urandom(1 << 20)
                    self.assertEqual(exchange(big), big)
                    first.sendall(b"ping again\n")
                    self.assertEqual(first.recv(100), b"ping again\n")
                pf.stop()
                self.assertGreaterEqual(echo.connections, 2 * (i + 1))

    def test_port_forward_to_a_closed_port_reports_the_error(self):
        for i, v in enumerate(VERSIONS):
            with self.subTest(kubectl=v):
                local = 18180 + i
                pf = self.cluster.spawn_kubectl("port-forward", "pod/web", f"{local}:1", version=v)
                pf.wait_for(lambda out: f"Forwarding from 127.0.0.1:{local}" in out,
                            what="port-forward to listen")
                s = harness.run_in_netns(
                    self.cluster.ns, lambda: socket.create_connection(("127.0.0.1", local), 20))
                with s:
                    s.sendall(b"x")
                    pf.wait_for(lambda err: "error forwarding port 1 to pod web" in err,
                                what="the forwarding error", stream="err")
                pf.stop()


class LogsTest(StreamingTestBase):

    def lines(self, text):
        return text.splitlines()

    def test_logs_options(self):
        for v in VERSIONS:
            with self.subTest(kubectl=v):
                r = self.kv(v, "logs", "web")
                self.assertEqual(self.lines(r.out), [f"main line {i}" for i in range(1, 6)])
                r = self.kv(v, "logs", "web", "--tail=2")
                self.assertEqual(self.lines(r.out), ["main line 4", "main line 5"])
                r = self.kv(v, "logs", "web", "--timestamps", "--tail=1")
                self.assertEqual(r.out, "2024-01-01T00:00:05.000000000Z main line 5\n")
                r = self.kv(v, "logs", "web", "--since-time=2024-01-01T00:00:04Z")
                self.assertEqual(self.lines(r.out), ["main line 4", "main line 5"])
                r = self.kv(v, "logs", "web", "--since=1h")
                self.assertEqual(r.out, "")
                r = self.kv(v, "logs", "web", "--limit-bytes=9")
                self.assertEqual(r.out, "main line")
                r = self.kv(v, "logs", "pending")
                self.assertEqual(r.out, "")

    def test_logs_follow(self):
        for v in VERSIONS:
            with self.subTest(kubectl=v):
                r = self.kv(v, "logs", "-f", "web", "--tail=1")
                self.assertEqual(self.lines(r.out),
                                 ["main line 5", "main follow 1", "main follow 2", "main follow 3"])

    def test_logs_containers_and_previous(self):
        for v in VERSIONS:
            with self.subTest(kubectl=v):
                r = self.kv(v, "logs", "web2", "-c", "crashy", "--previous")
                self.assertEqual(self.lines(r.out), [f"previous line {i}" for i in range(1, 6)])
                r = self.kv_fail(v, "logs", "web", "--previous")
                self.assertIn('previous terminated container "main" in pod "web" not found', r.err)
                r = self.kv_fail(v, "logs", "web", "-c", "nope")
                self.assertIn("container nope is not valid for pod web", r.err)
                r = self.kv(v, "logs", "multi", "-c", "b", "--tail=1")
                self.assertEqual(r.out, "b line 5\n")
                r = self.kv(v, "logs", "multi", "--tail=1")
                self.assertEqual(r.out, "a line 5\n")


if __name__ == "__main__":
    unittest.main()
