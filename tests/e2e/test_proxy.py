"""The nftables service proxy end to end on `nave server` with its agent (a single node in its
own network namespace): ClusterIP from a pod and from the node, NodePort and a ServiceLB
LoadBalancer on the node's address, a service without endpoints refused, a deleted service
gone, and the table `ip nave` built of maps."""

import json
import time

from test_agent import AgentTestCase

TIMEOUT = 90


class ProxyTest(AgentTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.web_started = False

    def wait(self, predicate, what, timeout=TIMEOUT, interval=0.3):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        table = self.cluster.run(["nft", "list", "table", "ip", "nave"], check=False)
        self.fail(f"timed out waiting for {what}\n{table.out}{table.err}\n{self.cluster.log_tail()}")

    def apply(self, manifest, ns="default"):
        return self.k("apply", "-n", ns, "-f", "-", input=manifest)

    def get_json(self, *args):
        r = self.k("get", *args, "-o", "json", check=False)
        return json.loads(r.out) if r.rc == 0 else None

    def curl(self, url):
        """From the node itself (the server's namespace): (exit code, body or error)."""
        r = self.cluster.run(["curl", "-sS", "--max-time", "3", url], check=False)
        return r.rc, r.out if r.rc == 0 else r.err

    def from_pod(self, url):
        r = self.k("exec", "client", "--", "timeout", "5", "wget", "-qO-", url, check=False)
        return r.rc, r.out if r.rc == 0 else r.err

    def start_web(self):
        if ProxyTest.web_started:
            return
        node = self.node_name()
        self.apply(f"""
apiVersion: v1
kind: Pod
metadata: {{name: web, labels: {{app: web}}}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: [{{containerPort: 8080, name: http}}]
    readinessProbe:
      tcpSocket: {{port: http}}
      periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {{name: client}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
""")
        self.wait_ready("web")
        self.wait_ready("client")
        ProxyTest.web_started = True

    def service(self, name, spec):
        self.apply(f"""
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec: {json.dumps(spec)}
""")
        return self.get_json("service", name)

    def test_cluster_ip_node_port_and_load_balancer(self):
        self.start_web()
        web = self.service("web", {"selector": {"app": "web"},
                                   "ports": [{"name": "http", "port": 80, "targetPort": "http"}]})
        ip = web["spec"]["clusterIP"]
        body = "hello-from-web\n"
        self.wait(lambda: self.from_pod(f"http://{ip}/") == (0, body), "the ClusterIP from a pod")
        self.assertEqual(self.curl(f"http://{ip}/"), (0, body))

        np = self.service("web-np", {"type": "NodePort", "selector": {"app": "web"},
                                     "ports": [{"name": "http", "port": 80, "targetPort": "http"}]})
        node_port = np["spec"]["ports"][0]["nodePort"]
        node_ip = self.cluster.node_ip
        self.wait(lambda: self.curl(f"http://{node_ip}:{node_port}/") == (0, body),
                  "the NodePort on the node's address")
        self.assertEqual(self.from_pod(f"http://{node_ip}:{node_port}/"), (0, body))

        # externalTrafficPolicy Local: the service gets chains, reached through the verdict maps.
        self.service("web-lb", {"type": "LoadBalancer", "selector": {"app": "web"},
                                "externalTrafficPolicy": "Local",
                                "ports": [{"name": "http", "port": 8081, "targetPort": "http"}]})
        ingress = self.wait(lambda: self.get_json("service", "web-lb")["status"]
                            .get("loadBalancer", {}).get("ingress"), "the LoadBalancer's status")
        self.assertEqual(ingress, [{"ip": node_ip, "ipMode": "VIP"}])
        self.wait(lambda: self.curl(f"http://{node_ip}:8081/") == (0, body),
                  "the LoadBalancer address and port")
        self.assertEqual(self.from_pod(f"http://{node_ip}:8081/"), (0, body))
        # The API server's own Service, from a pod.
        r = self.k("exec", "client", "--", "sh", "-c", "echo | timeout 5 nc 10.43.0.1 443", check=False)
        self.assertNotContains(r.err, "can't connect")
        self.assertEqual(r.rc, 0, r)

        pod_ip = self.get_json("pod", "web")["status"]["podIP"]
        table = self.cluster.run(["nft", "list", "table", "ip", "nave"]).out
        for needle in ("map service-ips", "map service-nodeports", "set no-endpoint-services",
                       "ip daddr . meta l4proto . th dport vmap @service-ips",
                       "meta l4proto . th dport vmap @service-nodeports",
                       # ClusterIP and NodePort services are map elements, one map per
                       # endpoint count, looked up with the endpoint slot from numgen.
                       f"{ip} . tcp . 80 . 0x00000000 : {pod_ip} . 8080",
                       f"tcp . {node_port} . 0x00000000 : {pod_ip} . 8080",
                       "ip daddr . meta l4proto . th dport . numgen random mod 1 map @ips-1",
                       f"{node_ip} . tcp . 8081 : goto external-default/web-lb/tcp/http",
                       "chain external-default/web-lb/tcp/http"):
            self.assertContains(table, needle)
        for name in ("web", "web-np", "web-lb"):
            self.k("delete", "service", name)

    def test_service_without_endpoints_is_refused(self):
        self.start_web()
        svc = self.service("nobody", {"selector": {"app": "nobody"}, "ports": [{"port": 80}]})
        ip = svc["spec"]["clusterIP"]

        def refused():
            # 7: curl could not connect (refused at once; a timeout would be 28).
            return self.curl(f"http://{ip}/")[0] == 7
        self.wait(refused, "the ClusterIP without endpoints to be refused")
        rc, err = self.from_pod(f"http://{ip}/")
        self.assertNotEqual(rc, 0)
        self.assertContains(err, "refused")
        refused = self.cluster.run(["nft", "list", "set", "ip", "nave", "no-endpoint-services"]).out
        self.assertContains(refused, f"{ip} . tcp . 80")
        self.k("delete", "service", "nobody")

    def test_deleted_service_stops_answering(self):
        self.start_web()
        svc = self.service("short", {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]})
        ip = svc["spec"]["clusterIP"]
        self.wait(lambda: self.curl(f"http://{ip}/")[0] == 0, "the service to answer")
        self.assertContains(self.cluster.run(["nft", "list", "table", "ip", "nave"]).out, f"{ip} . tcp . 80")
        self.k("delete", "service", "short")
        deleted = time.monotonic()

        def gone():
            return f"{ip} . tcp" not in self.cluster.run(["nft", "list", "table", "ip", "nave"]).out
        self.wait(gone, "the deleted service to leave the maps", interval=0.05)
        # Reported, not asserted: how long the deletion took to reach the kernel (from kubectl's
        # return to a table without it, polled with `nft`).
        print(f"\n  the deleted service left the kernel's maps {time.monotonic() - deleted:.2f} s after kubectl returned")
        self.assertNotEqual(self.curl(f"http://{ip}/")[0], 0)
        table = self.cluster.run(["nft", "list", "table", "ip", "nave"]).out
        self.assertNotContains(table, f"{ip} . tcp")


class ProxyDisabledTest(AgentTestCase):
    """`--disable-kube-proxy` and `--disable servicelb`: no table, no load balancer addresses."""
    server_args = ("--disable-kube-proxy", "--disable", "servicelb")

    def test_no_table_and_no_load_balancer_status(self):
        node = self.node_name()

        def ready():
            r = self.k("get", "node", node, "-o", "json", check=False)
            return r.rc == 0 and any(c["type"] == "Ready" and c["status"] == "True"
                                     for c in json.loads(r.out)["status"].get("conditions", []))
        deadline = time.monotonic() + TIMEOUT
        while not ready() and time.monotonic() < deadline:
            time.sleep(0.3)
        # A Ready node: ServiceLB, were it on, would give the service its address.
        self.assertTrue(ready(), self.cluster.log_tail())
        self.assertNotEqual(self.cluster.run(["nft", "list", "table", "ip", "nave"], check=False).rc, 0)
        self.k("apply", "-f", "-", input="""
apiVersion: v1
kind: Service
metadata: {name: lb}
spec:
  type: LoadBalancer
  ports: [{port: 80}]
""")
        # ServiceLB would fill the status within moments; give it a few seconds to show it is off.
        time.sleep(3)
        status = json.loads(self.k("get", "service", "lb", "-o", "json").out)["status"]
        self.assertEqual(status.get("loadBalancer", {}).get("ingress"), None)


if __name__ == "__main__":
    import unittest
    unittest.main()
