"""Durability: every write the server acknowledged survives kill -9 and a restart."""

import os
import textwrap
import time

from harness import PYTHON, ClusterTestCase

# Four threads of the official Python client create ConfigMaps as fast as they can and print the
# name of each creation the server acknowledged (201), until the server goes away.
WRITER = textwrap.dedent("""\
    import sys, threading
    from kubernetes import client, config
    config.load_kube_config()
    ns, prefix = sys.argv[1], sys.argv[2]
    lock = threading.Lock()
    def loop(t):
        v1 = client.CoreV1Api(client.ApiClient())
        i = 0
        while True:
            name = f"{prefix}-{t}-{i}"
            body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name),
                                      data={"payload": "x" * 512, "i": str(i)})
            try:
                v1.create_namespaced_config_map(ns, body, _request_timeout=10)
            except Exception as e:
                with lock:
                    print(f"STOP {t} {type(e).__name__}", flush=True)
                return
            with lock:
                print(f"ACK {name}", flush=True)
            i += 1
    threads = [threading.Thread(target=loop, args=(t,)) for t in range(4)]
    for th in threads: th.start()
    for th in threads: th.join()
    """)


class DurabilityTest(ClusterTestCase):

    def acked(self, text):
        return [l.split()[1] for l in text.splitlines() if l.startswith("ACK ")]

    def kill_during_writes(self, ns, prefix, min_acks):
        script = self.cluster.write_file(f"writer-{prefix}.py", WRITER)
        w = self.cluster.spawn([PYTHON, script, ns, prefix])
        w.wait_for(lambda t: len(self.acked(t)) >= min_acks, timeout=60,
                   what=f"{min_acks} acknowledged creates")
        self.expect_server_down = True
        self.cluster.kill9()
        killed_at = time.monotonic()
        w.wait_for(lambda t: t.count("STOP ") == 4, timeout=30, what="the writers to stop")
        w.stop()
        acked = self.acked(w.out)
        self.cluster.restart()
        self.expect_server_down = False
        return acked, time.monotonic() - killed_at

    def stored_names(self, ns):
        doc = self.k("get", "configmaps", "-n", ns, "-o", "json", timeout=120).json()
        return {i["metadata"]["name"]: i for i in doc["items"]}

    def test_acknowledged_writes_survive_kill_9(self):
        ns = self.create_namespace("durable")
        acked, _ = self.kill_during_writes(ns, "a", min_acks=200)
        stored = self.stored_names(ns)
        missing = [n for n in acked if n not in stored]
        self.assertEqual(missing, [], f"{len(missing)} of {len(acked)} acknowledged creates "
                                      "were lost after kill -9")
        for name in acked[:20]:
            self.assertEqual(stored[name]["data"]["payload"], "x" * 512)

        # The restarted server keeps working, and a second crash loses nothing either.
        acked2, _ = self.kill_during_writes(ns, "b", min_acks=100)
        stored = self.stored_names(ns)
        missing = [n for n in acked + acked2 if n not in stored]
        self.assertEqual(missing, [], f"{len(missing)} acknowledged creates lost after the "
                                      "second kill -9")

    def test_resource_versions_keep_growing_across_restarts(self):
        ns = self.create_namespace("rv-restart")
        before = self.create_configmap("before", ns)
        self.expect_server_down = True
        self.cluster.kill9()
        self.cluster.restart()
        self.expect_server_down = False
        after = self.create_configmap("after", ns)
        self.assertGreater(int(after["metadata"]["resourceVersion"]),
                           int(before["metadata"]["resourceVersion"]))
        again = self.cluster.get_json("cm", "before", "-n", ns)
        self.assertEqual(again["metadata"]["uid"], before["metadata"]["uid"])
        self.assertEqual(again["metadata"]["resourceVersion"],
                         before["metadata"]["resourceVersion"])

    def test_clean_stop_and_restart(self):
        ns = self.create_namespace("clean-restart")
        self.create_configmap("kept", ns, {"a": "b"})
        self.expect_server_down = True
        rc = self.cluster.stop_server()
        self.assertEqual(rc, 0, f"SIGTERM ends the server cleanly\n{self.cluster.log_tail()}")
        self.cluster.restart()
        self.expect_server_down = False
        self.assertEqual(self.cluster.get_json("cm", "kept", "-n", ns)["data"], {"a": "b"})
        # The same CA and admin credentials are reused on the same data dir.
        self.k("get", "ns")

    def test_restart_keeps_the_kubeconfig_valid(self):
        with open(self.cluster.kubeconfig) as f:
            before = f.read()
        self.expect_server_down = True
        self.cluster.kill9()
        self.cluster.restart()
        self.expect_server_down = False
        with open(self.cluster.kubeconfig) as f:
            after = f.read()
        self.assertEqual(before, after, "the kubeconfig (CA, client cert) is stable")
        self.assertEqual(oct(os.stat(self.cluster.kubeconfig).st_mode & 0o777), "0o600")
