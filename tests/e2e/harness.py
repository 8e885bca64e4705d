"""End-to-end harness: a real `nave server` in its own network namespace, driven by real kubectl,
the official Python client and raw HTTPS.

Every process the harness starts is recorded and ended by its pid; every namespace and temporary
folder it creates is removed at teardown, also when a test fails or the run is interrupted
(run.py calls cleanup_all() on the way out).
"""

import base64
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

NAVE = os.environ.get("NAVE_E2E_BINARY")  # set by run.py --nave
KEEP = os.environ.get("NAVE_E2E_KEEP") == "1"  # keep temp dirs of failed clusters
PYTHON = "/usr/bin/python3"  # the interpreter that has python3-kubernetes
SERVER_VERSION = "v1.32.0+nave"
KUBECTL = {
    "1.32": "/usr/bin/kubectl",
    "1.27": "/usr/lib/google-cloud-sdk/bin/kubectl.1.27",
    "1.33": "/usr/lib/google-cloud-sdk/bin/kubectl.1.33",
}
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
CLONE_NEWNET = 0x40000000

_live = []  # clusters not yet destroyed
_live_lock = threading.Lock()
_counter = [0]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def require_environment():
    """Fails loudly when the machine cannot run these tests; returns the nave path."""
    if not NAVE:
        raise SystemExit("e2e: no nave binary given (run.py --nave PATH or NAVE_E2E_BINARY)")
    if not (os.path.isfile(NAVE) and os.access(NAVE, os.X_OK)):
        raise SystemExit(f"e2e: nave binary not found or not executable: {NAVE}")
    if os.geteuid() != 0:
        raise SystemExit("e2e: network namespaces need root")
    if shutil.which("ip") is None:
        raise SystemExit("e2e: the `ip` command (iproute2) is missing")
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"e2e: `ip netns` does not work here: {r.stderr.strip()}")
    if not os.path.exists(KUBECTL["1.32"]):
        raise SystemExit(f"e2e: the system kubectl {KUBECTL['1.32']} is missing")
    return NAVE


def kubectl_path(version):
    """The kubectl binary of a version, or None (with the reason printed by the caller)."""
    path = KUBECTL.get(version)
    if path and os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    return None


class CommandResult:
    def __init__(self, args, rc, out, err):
        self.args, self.rc, self.out, self.err = args, rc, out, err

    def __str__(self):
        return (f"command: {' '.join(self.args)}\nexit code: {self.rc}\n"
                f"--- stdout ---\n{self.out}--- stderr ---\n{self.err}")

    def json(self):
        return json.loads(self.out)

    def lines(self):
        return [l for l in self.out.splitlines() if l.strip()]


class CommandFailed(AssertionError):
    pass


def parse_table(text):
    """Parses kubectl's column output into (headers, rows of dicts) using header offsets, so
    that empty cells (e.g. an empty SHORTNAMES) stay in their column."""
    lines = [l for l in text.splitlines() if l.strip()]
    if not lines:
        return [], []
    header = lines[0]
    starts = [m.start() for m in re.finditer(r"(?:(?<=\s\s)|^)\S", header)]
    names = [header[s:e].strip() for s, e in zip(starts, starts[1:] + [None])]
    rows = []
    for line in lines[1:]:
        cells = [line[s:e].strip() if s < len(line) else "" for s, e in
                 zip(starts, starts[1:] + [None])]
        rows.append(dict(zip(names, cells)))
    return names, rows


def json_stream(text):
    """Decodes concatenated JSON documents (kubectl -w -o json)."""
    dec = json.JSONDecoder()
    out, i = [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        try:
            obj, i = dec.raw_decode(text, i)
        except json.JSONDecodeError:
            return out  # an incomplete trailing document
        out.append(obj)


class Background:
    """A process started inside the cluster's namespace, its output collected by a thread."""

    def __init__(self, args, env):
        self.args = args
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        self._out, self._err = [], []
        self._cond = threading.Condition()
        self._threads = [threading.Thread(target=self._pump, args=(self.proc.stdout, self._out),
                                          daemon=True),
                         threading.Thread(target=self._pump, args=(self.proc.stderr, self._err),
                                          daemon=True)]
        for t in self._threads:
            t.start()

    def _pump(self, stream, sink):
        for chunk in iter(lambda: stream.readline(), b""):
            with self._cond:
                sink.append(chunk.decode("utf-8", "replace"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def out(self):
        with self._cond:
            return "".join(self._out)

    @property
    def err(self):
        with self._cond:
            return "".join(self._err)

    def wait_for(self, predicate, timeout=20.0, what="output", stream="out"):
        """Waits until predicate(stdout text) is true (stderr with stream="err"); raises with
        the output on timeout."""
        deadline = time.monotonic() + timeout
        sink = self._out if stream == "out" else self._err
        with self._cond:
            while True:
                text = "".join(sink)
                if predicate(text):
                    return text
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and
                                 all(not t.is_alive() for t in self._threads)):
                    raise CommandFailed(
                        f"timed out after {timeout}s waiting for {what}\n"
                        f"command: {' '.join(self.args)}\nexit code: {self.proc.poll()}\n"
                        f"--- stdout ---\n{text}--- stderr ---\n{''.join(self._err)}")
                self._cond.wait(min(left, 0.2))

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
        for t in self._threads:
            t.join(2)


_libc = ctypes.CDLL(None, use_errno=True)


def run_in_netns(ns, fn):
    """Runs fn() on a fresh thread that has joined the network namespace ns (setns affects only
    the calling thread), so sockets it creates live in ns; returns fn's result."""
    box = {}

    def body():
        try:
            fd = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns {ns}: {os.strerror(err)}")
            finally:
                os.close(fd)
            box["value"] = fn()
        except BaseException as e:  # handed back to the caller
            box["error"] = e

    t = threading.Thread(target=body)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


class HttpResponse:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def __str__(self):
        return f"HTTP {self.status}\n{self.body[:2000]!r}"


class Cluster:
    """One nave server in its own network namespace, with its own data dir and kubeconfig."""

    def __init__(self, name, extra_args=(), config_yaml=None, agent=False, images=(),
                 underlay=None):
        with _live_lock:
            _counter[0] += 1
            n = _counter[0]
        self.name = name
        self.ns = f"nave-e2e-{os.getpid()}-{n}"
        # On an underlay (multi-node tests) the host's eth0 is a veth onto its bridge.
        self.underlay = underlay
        self.node_ip = (underlay.reserve() if underlay
                        else f"10.{100 + n % 150}.{os.getpid() % 250 + 1}.1")
        self.tmp = tempfile.mkdtemp(prefix=f"nave-e2e-{name}-")
        self.data_dir = os.path.join(self.tmp, "data")
        self.kubeconfig = os.path.join(self.tmp, "kubeconfig.yaml")
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(self.home)
        self.log_path = os.path.join(self.tmp, "server.log")
        self.proc = None
        self.ns_created = False
        self.background = []
        self.failed = False
        self._ssl = None
        self.starts = 0
        self.extra_args = list(extra_args)
        # With the agent the server is also a node: it runs pods, so it is entered with nsenter
        # (`ip netns exec` remounts /sys, hiding the cgroup hierarchies), and `images` (archive
        # paths) are placed in DATA/agent/images for the airgap import at start.
        self.agent = agent
        self.images = list(images)
        if config_yaml is not None:
            self.extra_args += ["--config", self.write_file("config.yaml", config_yaml)]
        with _live_lock:
            _live.append(self)

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self):
        self._create_netns()
        self._place_images()
        self._start_server()

    def _ip(self, *args):
        r = subprocess.run(["ip", *args], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"ip {' '.join(args)}: {r.stderr.strip()}")

    def _create_netns(self):
        self._ip("netns", "add", self.ns)
        self.ns_created = True
        self._ip("-n", self.ns, "link", "set", "lo", "up")
        if self.underlay:
            self.underlay.attach(self.ns, self.node_ip)
            return
        # TESTING.md's recipe uses a dummy device; kernels without the dummy driver get a veth
        # pair whose peer stays inside the namespace, which gives the same node IP and route.
        r = subprocess.run(["ip", "-n", self.ns, "link", "add", "eth0", "type", "dummy"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self._ip("-n", self.ns, "link", "add", "eth0", "type", "veth", "peer", "name",
                     "eth0peer")
            self._ip("-n", self.ns, "link", "set", "eth0peer", "up")
        self._ip("-n", self.ns, "addr", "add", f"{self.node_ip}/24", "dev", "eth0")
        self._ip("-n", self.ns, "link", "set", "eth0", "up")
        self._ip("-n", self.ns, "route", "add", "default", "dev", "eth0")

    def server_args(self):
        if self.agent:
            return ["nsenter", f"--net=/run/netns/{self.ns}", NAVE, "server",
                    "--node-name", "node-" + self.name.lower()[:40],
                    "--data-dir", self.data_dir, "--write-kubeconfig", self.kubeconfig,
                    *self.extra_args]
        return ["ip", "netns", "exec", self.ns, NAVE, "server", "--disable-agent",
                "--data-dir", self.data_dir, "--write-kubeconfig", self.kubeconfig,
                *self.extra_args]

    def _place_images(self):
        if not self.images:
            return
        target = os.path.join(self.data_dir, "agent", "images")
        os.makedirs(target, exist_ok=True)
        for path in self.images:
            shutil.copy(path, target)

    def remove_agent_leftovers(self):
        if self.agent:
            remove_node_leftovers(self.data_dir)

    def token(self):
        """The cluster's secure join token (K10<CA hash>::server:<secret>)."""
        with open(os.path.join(self.data_dir, "server", "token")) as f:
            return f.read().strip()

    def _start_server(self):
        self.starts += 1
        self._ssl = None
        t0 = time.monotonic()
        with open(self.log_path, "ab") as logf:
            logf.write(f"==== start {self.starts}: {' '.join(self.server_args())}\n".encode())
            logf.flush()
            # `ip netns exec` execs the command, so this pid is the server's.
            self.proc = subprocess.Popen(self.server_args(), stdout=logf, stderr=logf,
                                         stdin=subprocess.DEVNULL, env=self.env())
        deadline = t0 + READY_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.failed = True
                raise RuntimeError(f"[{self.name}] nave server exited with code "
                                   f"{self.proc.returncode} before it was ready\n"
                                   f"{self.log_tail()}")
            if os.path.exists(self.kubeconfig):
                last = self.kubectl("get", "--raw", "/readyz", check=False, timeout=5)
                if last.rc == 0 and last.out.strip() == "ok":
                    self.ready_seconds = time.monotonic() - t0
                    log(f"    [{self.name}] server ready in {self.ready_seconds:.2f}s "
                        f"(netns {self.ns}, pid {self.proc.pid})")
                    return
            time.sleep(0.1)
        self.failed = True
        raise RuntimeError(f"[{self.name}] nave server not ready after {READY_TIMEOUT}s\n"
                           f"last readyz: {last}\n{self.log_tail()}")

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError as e:
            return f"(no server log: {e})"
        tail = text.splitlines()[-lines:]
        return f"--- server log tail ({self.log_path}) ---\n" + "\n".join(tail)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop_server(self, timeout=STOP_TIMEOUT):
        """SIGTERM, then SIGKILL after timeout; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"    [{self.name}] server did not stop within {timeout}s of SIGTERM; "
                    "sending SIGKILL")
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode

    def kill9(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def restart(self):
        """Starts the server again on the same data dir (after stop_server or kill9)."""
        if self.alive():
            self.stop_server()
        self._start_server()

    def destroy(self):
        for b in self.background:
            try:
                b.stop()
            except OSError:
                pass
        self.background = []
        try:
            self.stop_server()
        finally:
            try:
                self.remove_agent_leftovers()
            except Exception as e:  # keep cleaning
                log(f"    [{self.name}] removing the agent's leftovers failed: {e}")
            if self.ns_created:
                subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
                self.ns_created = False
            if self.failed and KEEP:
                log(f"    [{self.name}] kept {self.tmp}")
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
            with _live_lock:
                if self in _live:
                    _live.remove(self)

    # ---- clients ---------------------------------------------------------------------------

    def env(self, extra=None):
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": self.home,  # kubectl's discovery cache, kept per cluster
            "KUBECONFIG": self.kubeconfig,
            "LANG": "C.UTF-8",
        }
        if extra:
            env.update(extra)
        return env

    def in_ns(self, args):
        return ["ip", "netns", "exec", self.ns, *args]

    def run(self, args, input=None, timeout=60, check=True, env=None):
        full = self.in_ns(args)
        try:
            extra = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
            p = subprocess.run(full, capture_output=True, text=True, timeout=timeout,
                               env=self.env(env), **extra)
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
            raise CommandFailed(f"timed out after {timeout}s\n"
                                f"{CommandResult(args, None, out, err)}")
        r = CommandResult(args, p.returncode, p.stdout, p.stderr)
        if check and r.rc != 0:
            raise CommandFailed(f"command failed\n{r}")
        return r

    def kubectl(self, *args, version="1.32", input=None, timeout=60, check=True, env=None):
        path = kubectl_path(version)
        if path is None:
            raise unittest.SkipTest(f"kubectl {version} not installed ({KUBECTL.get(version)})")
        return self.run([path, *args], input=input, timeout=timeout, check=check, env=env)

    def kubectl_fails(self, *args, **kw):
        """Runs kubectl expecting a non-zero exit; returns the result (stderr in .err)."""
        r = self.kubectl(*args, check=False, **kw)
        if r.rc == 0:
            raise CommandFailed(f"expected kubectl to fail\n{r}")
        return r

    def apply(self, manifest, *args, **kw):
        return self.kubectl("apply", "-f", "-", *args, input=manifest, **kw)

    def get_json(self, *args, **kw):
        return self.kubectl("get", *args, "-o", "json", **kw).json()

    def exists(self, *args):
        r = self.kubectl("get", *args, "-o", "name", check=False)
        if r.rc == 0:
            return True
        if "NotFound" in r.err or "not found" in r.err:
            return False
        raise CommandFailed(f"unexpected failure checking existence\n{r}")

    def create_namespace(self, name):
        """Creates a namespace with `kubectl create -f` (JSON), not the typed generator."""
        self.kubectl("create", "-f", "-", input=json.dumps(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
        return name

    def create_configmap(self, name, ns="default", data=None, labels=None, *args):
        """Creates a ConfigMap with `kubectl create -f -o json`; returns the stored object."""
        meta = {"name": name, "namespace": ns}
        if labels:
            meta["labels"] = labels
        obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}
        if data is not None:
            obj["data"] = data
        return self.kubectl("create", "-f", "-", "-o", "json", *args,
                            input=json.dumps(obj)).json()

    def python(self, script, timeout=60, check=True, args=()):
        return self.run([PYTHON, "-c", script, *args], timeout=timeout, check=check)

    def spawn(self, args, env=None):
        """Starts a process in the namespace (e.g. `kubectl get -w`); ended at teardown."""
        b = Background(self.in_ns(args), self.env(env))
        self.background.append(b)
        return b

    def spawn_kubectl(self, *args, version="1.32"):
        path = kubectl_path(version)
        if path is None:
            raise unittest.SkipTest(f"kubectl {version} not installed")
        return self.spawn([path, *args])

    def write_file(self, name, content):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(content)
        return path

    # ---- raw HTTPS ---------------------------------------------------------------------------

    def _kubeconfig_creds(self):
        try:
            import yaml
            cfg = yaml.safe_load(open(self.kubeconfig))
        except ImportError:
            cfg = self.kubectl("config", "view", "--raw", "-o", "json").json()
        cluster = cfg["clusters"][0]["cluster"]
        user = cfg["users"][0]["user"]
        return (cluster["server"], base64.b64decode(cluster["certificate-authority-data"]),
                base64.b64decode(user["client-certificate-data"]),
                base64.b64decode(user["client-key-data"]))

    def ssl_context(self, client_cert=True):
        """TLS contexts trusting the cluster CA, with or without the admin client certificate;
        built once per server start (the kubeconfig may change on restart)."""
        with _live_lock:
            if self._ssl is None:
                server, ca, cert, key = self._kubeconfig_creds()
                anonymous = ssl.create_default_context(cadata=ca.decode())
                admin = ssl.create_default_context(cadata=ca.decode())
                cert_path = self.write_file("client.crt", cert.decode())
                key_path = self.write_file("client.key", "")
                os.chmod(key_path, 0o600)
                with open(key_path, "wb") as f:
                    f.write(key)
                admin.load_cert_chain(cert_path, key_path)
                m = re.match(r"https://([^:/]+|\[[^\]]+\]):(\d+)", server)
                self._ssl = {"admin": admin, "anonymous": anonymous,
                             "address": (m.group(1).strip("[]"), int(m.group(2)))}
            return self._ssl["admin" if client_cert else "anonymous"]

    def server_address(self):
        self.ssl_context()
        return self._ssl["address"]

    def tls_socket(self, client_cert=True, timeout=20):
        """A TLS connection to the API server, opened inside the namespace."""
        host, port = self.server_address()
        raw = run_in_netns(self.ns, lambda: socket.create_connection((host, port), timeout))
        return self.ssl_context(client_cert).wrap_socket(raw, server_hostname=host)

    def request(self, method, path, body=None, headers=None, client_cert=True, timeout=30):
        """One HTTP/1.1 request on a fresh connection; returns HttpResponse."""
        import http.client
        sock = self.tls_socket(client_cert, timeout)
        # A plain HTTPConnection on the TLS socket: HTTPSConnection would build (and load the
        # system CA store into) a context of its own for every request.
        conn = http.client.HTTPConnection("127.0.0.1", timeout=timeout)
        conn.sock = sock
        try:
            hdrs = {"Accept": "application/json"}
            if body is not None:
                hdrs["Content-Type"] = "application/json"
            hdrs.update(headers or {})
            if isinstance(body, str):
                body = body.encode()
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return HttpResponse(resp.status, dict(resp.getheaders()),
                                data.decode("utf-8", "replace"))
        finally:
            conn.close()


def remove_node_leftovers(data_dir):
    """Pods outlive the agent by design: after it stopped, remove their containers (shims,
    cgroups, overlays) and every mount left under the data dir (namespace files, tmpfs
    volumes)."""
    if not os.path.isdir(data_dir):
        return
    ps = subprocess.run([NAVE, "ps", "-a", "-q", "--data-dir", data_dir],
                        capture_output=True, text=True, timeout=60)
    for cid in ps.stdout.split():
        subprocess.run([NAVE, "rm", "-f", "--data-dir", data_dir, cid],
                       capture_output=True, timeout=60)
    for _ in range(3):
        with open("/proc/self/mountinfo") as f:
            mounts = [l.split()[4] for l in f if data_dir in l.split()[4]]
        if not mounts:
            break
        for m in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)


class Underlay:
    """The L2 segment of a multi-node test: a network namespace with a bridge, onto which each
    host namespace gets a veth pair (its eth0). The bridge's own address plays the outside
    world: servers started in this namespace are "outside the cluster"."""

    def __init__(self, name):
        with _live_lock:
            _counter[0] += 1
            n = _counter[0]
        self.name = name
        self.ns = f"nave-e2e-{os.getpid()}-u{n}"
        self.prefix = f"172.{16 + n % 16}.{os.getpid() % 250 + 1}"
        self.outside_ip = self.prefix + ".254"
        self.hosts = 0
        self.created = False
        with _live_lock:
            _live.append(self)

    def _ip(self, *args):
        r = subprocess.run(["ip", *args], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"ip {' '.join(args)}: {r.stderr.strip()}")

    def create(self):
        self._ip("netns", "add", self.ns)
        self.created = True
        self._ip("-n", self.ns, "link", "set", "lo", "up")
        self._ip("-n", self.ns, "link", "add", "br0", "type", "bridge")
        self._ip("-n", self.ns, "addr", "add", f"{self.outside_ip}/24", "dev", "br0")
        self._ip("-n", self.ns, "link", "set", "br0", "up")
        return self

    def reserve(self):
        """The next host address on the segment."""
        self.hosts += 1
        return f"{self.prefix}.{self.hosts}"

    def attach(self, host_ns, ip):
        """Gives `host_ns` an eth0 on the bridge with address `ip` and a default route through
        the outside world."""
        peer = f"vh{ip.rsplit('.', 1)[1]}"
        self._ip("-n", self.ns, "link", "add", peer, "type", "veth", "peer", "name", "eth0",
                 "netns", host_ns)
        self._ip("-n", self.ns, "link", "set", peer, "master", "br0", "up")
        self._ip("-n", host_ns, "addr", "add", f"{ip}/24", "dev", "eth0")
        self._ip("-n", host_ns, "link", "set", "eth0", "up")
        self._ip("-n", host_ns, "route", "add", "default", "via", self.outside_ip)

    def run(self, args, timeout=30, check=True, input=None):
        r = subprocess.run(["ip", "netns", "exec", self.ns, *args], capture_output=True,
                           text=True, timeout=timeout, input=input)
        res = CommandResult(args, r.returncode, r.stdout, r.stderr)
        if check and r.returncode != 0:
            raise CommandFailed(str(res))
        return res

    def spawn(self, args):
        """A background process in the outside world (ended at destroy)."""
        return Background(["ip", "netns", "exec", self.ns, *args], env=None)

    def destroy(self):
        if self.created:
            subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
            self.created = False
        with _live_lock:
            if self in _live:
                _live.remove(self)


class Agent:
    """`nave agent` on its own host namespace on an underlay, joined to `cluster`."""

    def __init__(self, cluster, name, underlay, extra_args=()):
        self.cluster = cluster
        self.name = name
        self.node_name = "node-" + name.lower()[:40]
        self.underlay = underlay
        with _live_lock:
            _counter[0] += 1
            n = _counter[0]
        self.ns = f"nave-e2e-{os.getpid()}-a{n}"
        self.node_ip = underlay.reserve()
        self.tmp = tempfile.mkdtemp(prefix=f"nave-e2e-agent-{name}-")
        self.data_dir = os.path.join(self.tmp, "data")
        self.log_path = os.path.join(self.tmp, "agent.log")
        self.extra_args = list(extra_args)
        self.proc = None
        self.ns_created = False
        with _live_lock:
            _live.append(self)

    def args(self, token=None):
        return ["nsenter", f"--net=/run/netns/{self.ns}", NAVE, "agent",
                "--server", f"https://{self.cluster.node_ip}:6443",
                "--token", token or self.cluster.token(), "--node-name", self.node_name,
                "--node-ip", self.node_ip, "--data-dir", self.data_dir, *self.extra_args]

    def start(self, token=None, images=()):
        if not self.ns_created:
            subprocess.run(["ip", "netns", "add", self.ns], check=True, capture_output=True)
            self.ns_created = True
            subprocess.run(["ip", "-n", self.ns, "link", "set", "lo", "up"], check=True)
            self.underlay.attach(self.ns, self.node_ip)
        if images:
            target = os.path.join(self.data_dir, "agent", "images")
            os.makedirs(target, exist_ok=True)
            for path in images:
                shutil.copy(path, target)
        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen(self.args(token), stdout=logf, stderr=logf,
                                         stdin=subprocess.DEVNULL,
                                         env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout=30):
        return self.proc.wait(timeout)

    def stop(self, timeout=STOP_TIMEOUT):
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def kill9(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def run(self, args, timeout=30, check=True):
        """A command on this host (its network namespace)."""
        r = subprocess.run(["ip", "netns", "exec", self.ns, *args], capture_output=True,
                           text=True, timeout=timeout)
        res = CommandResult(args, r.returncode, r.stdout, r.stderr)
        if check and r.returncode != 0:
            raise CommandFailed(str(res))
        return res

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError as e:
            return f"(no agent log: {e})"
        return (f"--- agent log tail ({self.log_path}) ---\n" +
                "\n".join(text.splitlines()[-lines:]))

    def destroy(self):
        try:
            self.stop()
        finally:
            try:
                remove_node_leftovers(self.data_dir)
            except Exception as e:
                log(f"    [{self.name}] removing the agent's leftovers failed: {e}")
            if self.ns_created:
                subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
                self.ns_created = False
            if not KEEP:
                shutil.rmtree(self.tmp, ignore_errors=True)
            with _live_lock:
                if self in _live:
                    _live.remove(self)


_busybox = {}


def busybox_images():
    """The busybox test images (docker-archive, OCI archive, OCI layout), built once per run by
    umoci and skopeo from Debian's busybox-static (tests/runtime/testdata/make-busybox-image.sh)."""
    with _live_lock:
        if _busybox:
            return dict(_busybox)
    out = tempfile.mkdtemp(prefix="nave-e2e-images-")
    register_cleanup(lambda: shutil.rmtree(out, ignore_errors=True))
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "runtime", "testdata",
                          "make-busybox-image.sh")
    r = subprocess.run(["sh", script, out], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise AssertionError(f"building the test image failed:\n{r.stdout}\n{r.stderr}")
    with _live_lock:
        _busybox.update(docker=os.path.join(out, "busybox-docker.tar"),
                        oci=os.path.join(out, "busybox-oci.tar"),
                        layout=os.path.join(out, "layout"))
        return dict(_busybox)


_cleanups = []  # functions registered by tests for things outside clusters


def register_cleanup(fn):
    """Runs `fn` when the run ends (normally or interrupted), after the clusters are gone."""
    with _live_lock:
        _cleanups.append(fn)


def cleanup_all():
    """Destroys every cluster still alive (interrupted runs), then runs registered cleanups."""
    with _live_lock:
        clusters = list(_live)
        cleanups = list(reversed(_cleanups))
        _cleanups.clear()
    for c in clusters:
        try:
            c.destroy()
        except Exception as e:  # keep cleaning the others
            log(f"cleanup of {c.name} failed: {e}")
    for fn in cleanups:
        try:
            fn()
        except Exception as e:
            log(f"cleanup failed: {e}")


class ClusterTestCase(unittest.TestCase):
    """One cluster per test class, started in setUpClass and destroyed in class cleanup. After
    each test the server must still be running (a crash fails the test that caused it)."""

    maxDiff = None
    cluster = None
    expect_server_down = False
    server_args = ()  # extra `nave server` flags for this class
    server_config = None  # YAML for --config, if any
    agent = False  # run the server with its agent (a node that runs pods)
    images = ()  # archives for DATA/agent/images (with agent), or a callable returning them

    @classmethod
    def setUpClass(cls):
        require_environment()
        images = cls.images() if callable(cls.images) else cls.images
        cls.cluster = Cluster(cls.__name__, cls.server_args, cls.server_config, cls.agent, images)
        cls.addClassCleanup(cls.cluster.destroy)
        cls.cluster.start()

    def tearDown(self):
        c = self.cluster
        if c is not None and not self.expect_server_down and not c.alive():
            c.failed = True
            self.fail(f"the nave server died during this test (exit code "
                      f"{c.proc.returncode})\n{c.log_tail()}")

    # ---- shortcuts -------------------------------------------------------------------------

    def k(self, *args, **kw):
        return self.cluster.kubectl(*args, **kw)

    def k_fail(self, *args, **kw):
        return self.cluster.kubectl_fails(*args, **kw)

    def create_namespace(self, name):
        return self.cluster.create_namespace(name)

    def create_configmap(self, name, ns="default", data=None, labels=None):
        return self.cluster.create_configmap(name, ns, data, labels)

    def assertContains(self, text, needle, msg=None):
        if needle not in text:
            self.fail(f"{msg + ': ' if msg else ''}expected to find\n  {needle!r}\nin\n{text}")

    def assertNotContains(self, text, needle, msg=None):
        if needle in text:
            self.fail(f"{msg + ': ' if msg else ''}did not expect\n  {needle!r}\nin\n{text}")
