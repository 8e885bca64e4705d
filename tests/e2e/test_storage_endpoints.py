"""Volumes and endpoints end to end on `nave server` with its agent: the built-in local-path
StorageClass provisions a directory for a claim's first pod and removes it when the claim goes;
a Service's Endpoints and EndpointSlice list its pods' addresses. Pods carry nodeName (the
scheduler is not needed: a pod on a node is a WaitForFirstConsumer claim's first consumer)."""

import json
import os
import time

import harness
from harness import parse_table
from test_agent import AgentTestCase

TIMEOUT = 90


class StorageEndpointsTest(AgentTestCase):
    def wait(self, predicate, what, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.5)
        events = self.k("get", "events", "-A", check=False).out
        self.fail(f"timed out waiting for {what}\n{events}\n{self.cluster.log_tail()}")

    def get_json(self, *args):
        r = self.k("get", *args, "-o", "json", check=False)
        return json.loads(r.out) if r.rc == 0 else None

    def test_local_path_volume_is_provisioned_and_removed(self):
        _, rows = parse_table(self.wait(lambda: self.k("get", "storageclass", check=False).out.strip() or None,
                                        "the local-path StorageClass"))
        self.assertEqual(rows[0]["NAME"], "local-path (default)")
        self.assertEqual((rows[0]["PROVISIONER"], rows[0]["RECLAIMPOLICY"], rows[0]["VOLUMEBINDINGMODE"]),
                         ("rancher.io/local-path", "Delete", "WaitForFirstConsumer"))

        self.apply("""
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 64Mi}}
""")
        claim = self.get_json("pvc", "data")
        self.assertEqual(claim["spec"]["storageClassName"], "local-path")
        self.wait(lambda: "waiting for first consumer" in self.k("describe", "pvc", "data").out,
                  "the WaitForFirstConsumer event")
        self.assertEqual(self.get_json("pvc", "data")["status"]["phase"], "Pending")

        self.apply(f"""
apiVersion: v1
kind: Pod
metadata: {{name: writer}}
spec:
  nodeName: {self.node_name()}
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo written-by-pod > /data/hello; exec sleep 3600"]
    volumeMounts: [{{name: data, mountPath: /data}}]
  volumes:
  - name: data
    persistentVolumeClaim: {{claimName: data}}
""")
        self.wait_ready("writer")
        claim = self.get_json("pvc", "data")
        self.assertEqual(claim["status"]["phase"], "Bound")
        volume = claim["spec"]["volumeName"]
        self.assertEqual(volume, "pvc-" + claim["metadata"]["uid"])
        _, rows = parse_table(self.k("get", "pvc", "data").out)
        self.assertEqual((rows[0]["STATUS"], rows[0]["VOLUME"], rows[0]["CAPACITY"], rows[0]["STORAGECLASS"]),
                         ("Bound", volume, "64Mi", "local-path"))
        _, rows = parse_table(self.k("get", "pv", volume).out)
        self.assertEqual((rows[0]["STATUS"], rows[0]["CLAIM"], rows[0]["RECLAIM POLICY"]),
                         ("Bound", "default/data", "Delete"))
        directory = os.path.join(self.cluster.data_dir, "storage", f"{volume}_default_data")
        self.wait(lambda: os.path.exists(os.path.join(directory, "hello")), "the file in the volume")
        with open(os.path.join(directory, "hello")) as f:
            self.assertEqual(f.read(), "written-by-pod\n")

        self.k("delete", "pod", "writer", "--wait=true", timeout=TIMEOUT)
        self.k("delete", "pvc", "data", "--wait=true", timeout=TIMEOUT)
        self.wait(lambda: self.k("get", "pv", volume, check=False).rc != 0, "the volume to be deleted")
        self.assertFalse(os.path.exists(directory))

    def test_service_endpoints_and_slices_list_both_pods(self):
        pods = "".join(f"""
---
apiVersion: v1
kind: Pod
metadata: {{name: web-{i}, labels: {{app: web}}}}
spec:
  nodeName: {self.node_name()}
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "mkdir -p /www && echo web-{i} > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: [{{containerPort: 8080, name: http}}]
    readinessProbe:
      tcpSocket: {{port: http}}
      periodSeconds: 1
""" for i in range(2))
        self.apply("""
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
""" + pods)
        ips = sorted(self.wait_ready(f"web-{i}")["status"]["podIP"] for i in range(2))

        def endpoints():
            _, rows = parse_table(self.k("get", "endpoints", "web").out)
            listed = sorted(rows[0]["ENDPOINTS"].split(","))
            return rows if listed == [f"{ip}:8080" for ip in ips] else None
        self.wait(endpoints, "the Endpoints of both pods")

        def slices():
            _, rows = parse_table(self.k("get", "endpointslices", "-l", "kubernetes.io/service-name=web").out)
            if len(rows) != 1 or sorted(rows[0]["ENDPOINTS"].split(",")) != ips:
                return None
            return rows
        rows = self.wait(slices, "an EndpointSlice with both pods")
        self.assertTrue(rows[0]["NAME"].startswith("web-"))
        self.assertEqual((rows[0]["ADDRESSTYPE"], rows[0]["PORTS"]), ("IPv4", "8080"))
        service_uid = self.get_json("service", "web")["metadata"]["uid"]
        slice_ = self.get_json("endpointslice", rows[0]["NAME"])
        self.assertEqual(slice_["metadata"]["ownerReferences"][0]["uid"], service_uid)
        for e in slice_["endpoints"]:
            self.assertEqual(e["conditions"], {"ready": True, "serving": True, "terminating": False})
            self.assertEqual(e["nodeName"], self.node_name())
        # The API server's own Service keeps its endpoints, and has a slice of them.
        self.assertEqual(len(self.get_json("endpoints", "kubernetes")["subsets"][0]["addresses"]), 1)
        _, rows = parse_table(self.k("get", "endpointslice", "kubernetes").out)
        self.assertEqual((rows[0]["ADDRESSTYPE"], rows[0]["PORTS"], rows[0]["ENDPOINTS"]),
                         ("IPv4", "6443", self.cluster.node_ip))

        self.k("delete", "pod", "web-1", "--wait=true", timeout=TIMEOUT)
        self.wait(lambda: parse_table(self.k("get", "endpoints", "web").out)[1][0]["ENDPOINTS"] ==
                  self.get_json("pod", "web-0")["status"]["podIP"] + ":8080", "web-1 to leave the Endpoints")
        self.k("delete", "service", "web")
        self.wait(lambda: self.k("get", "endpointslices", "-l", "kubernetes.io/service-name=web",
                                 "-o", "name").out.strip() == "", "the slices to go with the Service")
        self.k("delete", "pod", "web-0", "--wait=true", timeout=TIMEOUT)


if __name__ == "__main__":
    import unittest
    unittest.main()


class LocalStorageDisabledTest(harness.ClusterTestCase):
    """`--disable local-storage`: no local-path provisioner, so no local-path StorageClass."""
    server_args = ("--disable", "local-storage")

    def test_no_local_path_storage_class(self):
        # The controller manager's other controllers run: the default ServiceAccount appears
        # once it leads, and the provisioner would have made its class by then.
        deadline = time.monotonic() + 30
        while self.k("get", "serviceaccount", "default", check=False).rc != 0:
            self.assertLess(time.monotonic(), deadline, self.cluster.log_tail())
            time.sleep(0.3)
        time.sleep(2)
        self.assertEqual(self.k("get", "storageclass", "-o", "name").out.strip(), "")
