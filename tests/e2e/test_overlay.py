"""Node IPAM and pod routes on one node: the server's Node gets its pod CIDR from the node IPAM
controller, its pods their addresses from it, and the node routes to the pod CIDRs of other
Nodes (objects made here, standing for remote nodes) with host-gw or vxlan, removing the routes of
Nodes deleted meanwhile, also while it was down. The lead's multi-node tests carry real traffic."""

import json
import re
import time

import harness
from test_agent import AgentTestCase

FLANNEL = "flannel.alpha.coreos.com/"


class OverlayTestCase(AgentTestCase):
    def node(self, name):
        return json.loads(self.k("get", "node", name, "-o", "json").out)

    def wait_node(self, name, predicate, what, timeout=30):
        deadline = time.monotonic() + timeout
        node = None
        while time.monotonic() < deadline:
            r = self.k("get", "node", name, "-o", "json", check=False)
            if r.rc == 0:
                node = json.loads(r.out)
                if predicate(node):
                    return node
            time.sleep(0.2)
        self.fail(f"node {name} did not get {what}: {json.dumps(node, indent=1)}\n"
                  f"{self.cluster.log_tail()}")

    def remote_node(self, name, annotations):
        """A Node of another (imagined) machine on the node's network, as its agent leaves it."""
        self.apply(json.dumps({"apiVersion": "v1", "kind": "Node",
                               "metadata": {"name": name, "annotations": annotations}}))
        return self.wait_node(name, lambda n: n["spec"].get("podCIDR"), "a pod CIDR")

    def peer_ip(self, last):
        return self.cluster.node_ip.rsplit(".", 1)[0] + f".{last}"

    def netns(self, *args):
        return self.cluster.run(list(args)).out

    def wait_netns(self, args, predicate, what, timeout=30):
        deadline = time.monotonic() + timeout
        out = None
        while time.monotonic() < deadline:
            out = self.netns(*args)
            if predicate(out):
                return out
            time.sleep(0.2)
        self.fail(f"{' '.join(args)}: no {what}:\n{out}\n{self.cluster.log_tail()}")

    def run_pod(self, name):
        self.apply(f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  nodeName: {self.node_name()}
  containers:
  - name: c
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "sleep 1000"]
""")
        return self.wait_ready(name)


class HostGwTest(OverlayTestCase):
    def test_node_ipam_pod_addresses_and_routes_to_other_nodes(self):
        node = self.wait_node(self.node_name(), lambda n: n["spec"].get("podCIDR"), "a pod CIDR")
        self.assertEqual(node["spec"]["podCIDR"], "10.42.0.0/24")
        self.assertEqual(node["spec"]["podCIDRs"], ["10.42.0.0/24"])
        node = self.wait_node(self.node_name(),
                              lambda n: FLANNEL + "backend-type" in n["metadata"]["annotations"],
                              "flannel annotations")
        a = node["metadata"]["annotations"]
        self.assertEqual(a[FLANNEL + "backend-type"], "host-gw")
        self.assertEqual(a[FLANNEL + "public-ip"], self.cluster.node_ip)
        self.assertEqual(a[FLANNEL + "kube-subnet-manager"], "true")
        pod = self.run_pod("p1")
        self.assertTrue(pod["status"]["podIP"].startswith("10.42.0."), pod["status"]["podIP"])

        # Two more Nodes get the next /24s and routes through their addresses.
        two = self.remote_node("remote-2", {FLANNEL + "public-ip": self.peer_ip(2)})
        three = self.remote_node("remote-3", {FLANNEL + "public-ip": self.peer_ip(3)})
        self.assertEqual(two["spec"]["podCIDR"], "10.42.1.0/24")
        self.assertEqual(three["spec"]["podCIDR"], "10.42.2.0/24")
        self.wait_netns(["ip", "route"], lambda out:
                        f"10.42.1.0/24 via {self.peer_ip(2)} dev eth0 proto 78" in out and
                        f"10.42.2.0/24 via {self.peer_ip(3)} dev eth0 proto 78" in out,
                        "routes to both")
        self.k("delete", "node", "remote-2")
        self.wait_netns(["ip", "route"], lambda out: "10.42.1.0/24" not in out, "route removed")

        # A Node deleted while the agent is down: its route goes when the agent is back. The
        # node and its pod keep their CIDR and address.
        self.cluster.kill9()
        self.cluster.agent = False
        try:
            self.cluster.restart()
            self.k("delete", "node", "remote-3")
            self.cluster.stop_server()
        finally:
            self.cluster.agent = True
        self.assertIn("10.42.2.0/24", self.netns("ip", "route"))
        self.cluster.restart()
        self.wait_netns(["ip", "route"], lambda out: "10.42.2.0/24" not in out,
                        "stale route removed after the restart")
        self.assertEqual(self.node(self.node_name())["spec"]["podCIDR"], "10.42.0.0/24")
        pod = self.wait_ready("p1")
        self.assertTrue(pod["status"]["podIP"].startswith("10.42.0."), pod["status"]["podIP"])
        log = open(self.cluster.log_path).read()
        self.assertRegex(log, r'"The node\'s pod CIDR" podCIDR="10.42.0.0/24"')


class VxlanTest(OverlayTestCase):
    server_args = ("--flannel-backend", "vxlan")

    def test_vxlan_device_annotations_pod_mtu_and_entries(self):
        node = self.wait_node(self.node_name(),
                              lambda n: FLANNEL + "backend-data" in n["metadata"]["annotations"],
                              "flannel annotations")
        a = node["metadata"]["annotations"]
        self.assertEqual(a[FLANNEL + "backend-type"], "vxlan")
        data = json.loads(a[FLANNEL + "backend-data"])
        self.assertEqual(data["VNI"], 1)
        link = self.netns("ip", "-d", "link", "show", "flannel.1")
        self.assertIn(f"link/ether {data['VtepMAC']}", link)
        self.assertIn("mtu 1450", link)
        self.assertIn(f"vxlan id 1 local {self.cluster.node_ip} dev eth0", link)
        self.assertIn("dstport 8472 nolearning", link)
        self.assertIn("inet 10.42.0.0/32", self.netns("ip", "addr", "show", "flannel.1"))
        self.run_pod("p1")
        self.assertEqual(self.k("exec", "p1", "--", "cat", "/sys/class/net/eth0/mtu").out.strip(),
                         "1450")

        mac = "0a:58:0a:2a:01:00"
        self.remote_node("remote-2", {
            FLANNEL + "backend-type": "vxlan",
            FLANNEL + "backend-data": json.dumps({"VNI": 1, "VtepMAC": mac}),
            FLANNEL + "public-ip": "192.0.2.7"})
        self.wait_netns(["ip", "route"], lambda out:
                        "10.42.1.0/24 via 10.42.1.0 dev flannel.1 proto 78 onlink" in out,
                        "the vxlan route")
        self.assertIn(f"10.42.1.0 lladdr {mac} PERMANENT",
                      self.netns("ip", "neigh", "show", "dev", "flannel.1"))
        self.assertIn(f"{mac} dst 192.0.2.7 self permanent",
                      self.netns("bridge", "fdb", "show", "dev", "flannel.1"))
        self.k("delete", "node", "remote-2")
        self.wait_netns(["bridge", "fdb", "show", "dev", "flannel.1"],
                        lambda out: mac not in out, "forwarding entry removed")
        self.assertNotIn("10.42.1.0", self.netns("ip", "route"))
        self.assertNotIn("10.42.1.0", self.netns("ip", "neigh", "show", "dev", "flannel.1"))


if __name__ == "__main__":
    import unittest
    unittest.main()
