"""NetworkPolicy enforcement end to end on `nave server` with its agent: a busybox httpd server
pod and client pods in two namespaces; policies applied with kubectl change which clients'
new connections reach the server (the agent programs the nftables table inet nave-netpol in
the node's network namespace), the node itself always reaches it, and deleting the policies
restores everything. Enforcement follows the API asynchronously, so each expected state is
waited for; a state that must not change is checked once the state it comes with is there."""

import time

from test_agent import AgentTestCase

TIMEOUT = 60


def pod(name, ns, labels, command, extra=""):
    label_text = ", ".join(f"{k}: {v}" for k, v in labels.items())
    return f"""
---
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {ns}, labels: {{{label_text}}}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", {command!r}]
{extra}"""


SERVER_PORTS = """    ports: [{containerPort: 8080, name: http}]
    readinessProbe:
      tcpSocket: {port: http}
      periodSeconds: 1
"""


class NetworkPolicyTest(AgentTestCase):
    def wait(self, predicate, what, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.5)
        table = self.cluster.run(["nft", "list", "table", "inet", "nave-netpol"], check=False)
        self.fail(f"timed out waiting for {what}\n{table.out}{table.err}\n{self.cluster.log_tail()}")

    def reaches(self, client, ns="default"):
        """Whether `client` fetches the server's page over a new connection (a refused or lost
        one fails within the timeout's bound)."""
        r = self.k("exec", "-n", ns, client, "--", "timeout", "5", "wget", "-q", "-O", "-",
                   f"http://{self.server_ip}:8080/", check=False, timeout=30)
        return r.rc == 0 and r.out == "served\n"

    def reachable(self, expected):
        """Waits until each client's reachability is as given: {(name, ns): bool}."""
        def matches():
            return all(self.reaches(c, ns) == want for (c, ns), want in expected.items())
        self.wait(matches, f"reachability {expected}")

    def policy(self, name, spec, ns="default"):
        self.apply(f"""
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: {name}, namespace: {ns}}}
spec:
{spec}
""", ns=ns)

    def test_policies_decide_which_clients_reach_the_server(self):
        self.k("create", "namespace", "np-other")
        self.k("label", "namespace", "np-other", "team=other")
        sleep = "exec sleep 3600"
        self.k("apply", "-f", "-", input=
            pod("server", "default", {"app": "server"},
                "mkdir -p /www && echo served > /www/index.html && exec httpd -f -p 8080 -h /www",
                SERVER_PORTS)
            + pod("client-a", "default", {"app": "client", "role": "a"}, sleep)
            + pod("client-b", "default", {"app": "client", "role": "b"}, sleep)
            + pod("client-c", "np-other", {"app": "client"}, sleep))
        self.server_ip = self.wait_ready("server")["status"]["podIP"]
        for name, ns in (("client-a", "default"), ("client-b", "default"), ("client-c", "np-other")):
            self.wait_ready(name, ns)
        a, b, c = ("client-a", "default"), ("client-b", "default"), ("client-c", "np-other")
        self.reachable({a: True, b: True, c: True})
        table = self.cluster.run(["nft", "list", "table", "inet", "nave-netpol"]).out
        self.assertContains(table, "ip daddr vmap @ingress-pods")

        # Default deny for the server's namespace: no client gets in; the node still does.
        self.policy("deny", "  podSelector: {}\n  policyTypes: [Ingress]")
        self.reachable({a: False, b: False, c: False})
        node = self.cluster.run(["curl", "-s", "-m", "10", f"http://{self.server_ip}:8080/"], check=False)
        self.assertEqual((node.rc, node.out), (0, "served\n"), node)

        # A podSelector rule admits exactly client-a.
        self.policy("allow-a", """  podSelector: {matchLabels: {app: server}}
  ingress: [{from: [{podSelector: {matchLabels: {role: a}}}], ports: [{port: http}]}]""")
        self.reachable({a: True})
        self.assertFalse(self.reaches(*b))
        self.assertFalse(self.reaches(*c))

        # A namespaceSelector rule admits the other namespace's client.
        self.policy("allow-other", """  podSelector: {matchLabels: {app: server}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: other}}}]}]""")
        self.reachable({c: True})
        self.assertTrue(self.reaches(*a))
        self.assertFalse(self.reaches(*b))

        # Egress deny for client-a: it reaches nothing, whatever the server allows.
        self.policy("a-no-egress", "  podSelector: {matchLabels: {role: a}}\n  policyTypes: [Egress]")
        self.reachable({a: False})
        self.assertTrue(self.reaches(*c))

        table = self.cluster.run(["nft", "list", "table", "inet", "nave-netpol"]).out
        for needle in ("chain ingress", "chain egress", "ip saddr vmap @egress-pods",
                       "set in_default/allow-a_0", "set in_default/allow-other_0",
                       "tcp dport 8080 accept"):
            self.assertContains(table, needle)

        # Deleting the policies restores every client, and leaves no pod chain behind.
        self.k("delete", "networkpolicy", "--all", "-n", "default")
        self.reachable({a: True, b: True, c: True})
        table = self.cluster.run(["nft", "list", "table", "inet", "nave-netpol"]).out
        self.assertNotContains(table, "chain in-")
        self.assertNotContains(table, "chain out-")
        self.assertEqual(self.pod("server")["status"]["podIP"], self.server_ip)
        log = self.cluster.log_tail(5000)
        self.assertContains(log, "NetworkPolicy enforcement is on")
        self.assertNotContains(log, "cannot be filtered")  # bridge-nf-call-iptables is on
        self.assertNotContains(log, "NetworkPolicy rules not applied")
        for name, ns in (("server", "default"), ("client-a", "default"), ("client-b", "default"),
                         ("client-c", "np-other")):
            self.k("delete", "pod", name, "-n", ns, "--wait=true", timeout=90)
