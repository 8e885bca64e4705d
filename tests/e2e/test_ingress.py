"""The built-in ingress controller end to end on `nave server` with its agent: two busybox httpd
pods behind two Services, an Ingress routing two hosts and a path to them on the node's port
80, TLS from a kubernetes.io/tls Secret chosen by SNI on 443, 404 for unknown hosts, the
node's address in `kubectl get ingress`; and `--disable ingress` leaving port 80 free."""

import os
import subprocess
import tempfile
import time

from harness import parse_table
from test_agent import AgentTestCase

TIMEOUT = 90


def httpd_pod(name, node, site):
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{app: {name}}}}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "mkdir -p /www/api && echo {site} > /www/index.html && echo api-{site} > /www/api/index.html && exec httpd -f -p 8080 -h /www"]
    readinessProbe: {{tcpSocket: {{port: 8080}}, periodSeconds: 1}}
"""


class IngressTest(AgentTestCase):
    def wait(self, predicate, what, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(0.5)
        self.fail(f"timed out waiting for {what} (last: {last})\n{self.cluster.log_tail()}")

    def curl(self, *args):
        """curl inside the node's namespace; returns (exit code, body)."""
        r = self.cluster.run(["curl", "-sS", "--max-time", "10", *args], check=False)
        return r.rc, r.out

    def http(self, host, path="/", port=80):
        ip = self.cluster.node_ip
        return self.curl("--resolve", f"{host}:{port}:{ip}", f"http://{host}:{port}{path}")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.certs = tempfile.mkdtemp(prefix="nave-e2e-ingress-certs-")

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["rm", "-rf", cls.certs])
        super().tearDownClass()

    def certificate(self, name):
        """A self-signed certificate for secure.test: (key path, certificate path)."""
        key, crt = os.path.join(self.certs, name + ".key"), os.path.join(self.certs, name + ".crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=secure.test",
                        "-addext", "subjectAltName=DNS:secure.test"], check=True, capture_output=True)
        return key, crt

    def test_routes_hosts_paths_and_tls_to_services(self):
        cls = self.k("get", "ingressclass", "nave", "-o", "json").json()
        self.assertEqual(cls["spec"]["controller"], "nave.io/ingress-controller")
        self.assertEqual(cls["metadata"]["annotations"]["ingressclass.kubernetes.io/is-default-class"], "true")

        node = self.node_name()
        self.apply(httpd_pod("web-a", node, "site-a") + "---" + httpd_pod("web-b", node, "site-b"))
        self.apply("""
apiVersion: v1
kind: Service
metadata: {name: svc-a}
spec:
  selector: {app: web-a}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: svc-b}
spec:
  selector: {app: web-b}
  ports: [{name: web, port: 8000, targetPort: 8080}]
""")
        key, crt = self.certificate("1")
        self.k("create", "secret", "tls", "site-tls", "--cert", crt, "--key", key)
        # No ingressClassName: nave is the default class.
        self.apply("""
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: sites}
spec:
  tls: [{hosts: [secure.test], secretName: site-tls}]
  rules:
  - host: a.test
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: svc-a, port: {number: 80}}}}]
  - host: b.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: svc-b, port: {name: web}}}}
      - {path: /api, pathType: Prefix, backend: {service: {name: svc-a, port: {name: http}}}}
  - host: secure.test
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: svc-b, port: {number: 8000}}}}]
""")
        self.wait_ready("web-a")
        self.wait_ready("web-b")

        self.wait(lambda: self.http("a.test") == (0, "site-a\n"), "a.test routed to svc-a")
        self.assertEqual(self.http("b.test"), (0, "site-b\n"))
        self.assertEqual(self.http("b.test", "/api/"), (0, "api-site-a\n"))  # the path rule
        rc, out = self.curl("-o", "/dev/null", "-w", "%{http_code}", "--resolve",
                            f"nothing.test:80:{self.cluster.node_ip}", "http://nothing.test/")
        self.assertEqual((rc, out), (0, "404"))

        # TLS on 443: the Secret's certificate for its host (verified against itself as CA).
        ip = self.cluster.node_ip
        rc, out = self.curl("--cacert", crt, "--resolve", f"secure.test:443:{ip}", "https://secure.test/")
        self.assertEqual((rc, out), (0, "site-b\n"))
        # Another name gets the default certificate, which that CA does not vouch for.
        rc, _ = self.curl("--cacert", crt, "--resolve", f"a.test:443:{ip}", "https://a.test/")
        self.assertNotEqual(rc, 0)
        self.assertEqual(self.curl("-k", "--resolve", f"a.test:443:{ip}", "https://a.test/"), (0, "site-a\n"))

        # A new certificate in the Secret is served without a restart.
        key2, crt2 = self.certificate("2")
        self.apply(self.k("create", "secret", "tls", "site-tls", "--cert", crt2, "--key", key2,
                          "--dry-run=client", "-o", "yaml").out)
        self.wait(lambda: self.curl("--cacert", crt2, "--resolve", f"secure.test:443:{ip}",
                                    "https://secure.test/") == (0, "site-b\n"), "the renewed certificate")

        # ADDRESS: the node's InternalIP.
        def address():
            _, rows = parse_table(self.k("get", "ingress", "sites").out)
            return rows[0]["ADDRESS"] if rows and rows[0]["ADDRESS"] else None
        self.assertEqual(self.wait(address, "the Ingress's address"), ip)
        _, rows = parse_table(self.k("get", "ingress", "sites").out)
        self.assertEqual(rows[0]["PORTS"], "80, 443")

        # A Service without ready endpoints answers 503; deleting the Ingress leaves 404.
        self.k("delete", "pod", "web-b", "--wait=true")
        self.wait(lambda: self.curl("-o", "/dev/null", "-w", "%{http_code}", "--resolve",
                                    f"b.test:80:{ip}", "http://b.test/") == (0, "503"), "503 without endpoints")
        self.k("delete", "ingress", "sites")
        self.wait(lambda: self.curl("-o", "/dev/null", "-w", "%{http_code}", "--resolve",
                                    f"a.test:80:{ip}", "http://a.test/") == (0, "404"), "404 once deleted")


class IngressDisabledTest(AgentTestCase):
    server_args = ("--disable", "ingress")

    def test_nothing_listens_on_80_and_no_ingress_class(self):
        # The agent is up (its node Ready), yet nothing listens on the node's port 80.
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and " Ready " not in self.k("get", "node", check=False).out:
            time.sleep(0.5)
        self.assertIn(" Ready ", self.k("get", "node").out)
        r = self.cluster.run(["curl", "-sS", "--max-time", "5", f"http://{self.cluster.node_ip}/"], check=False)
        self.assertEqual(r.rc, 7, r)  # connection refused
        self.assertEqual(self.k("get", "ingressclass", "-o", "name").out.strip(), "")
