"""The official Python client (Debian's python3-kubernetes), run inside the cluster's namespace.

Each scenario is a small script run by /usr/bin/python3; it prints one JSON document that the
test checks."""

import json
import textwrap

from harness import ClusterTestCase

PRELUDE = textwrap.dedent("""\
    import json, sys, threading, time
    from kubernetes import client, config, watch
    from kubernetes.client.rest import ApiException
    config.load_kube_config()
    v1 = client.CoreV1Api()
    apps = client.AppsV1Api()
    def out(doc):
        print(json.dumps(doc))
    """)


class PythonClientTest(ClusterTestCase):

    def py(self, body, timeout=60):
        r = self.cluster.python(PRELUDE + textwrap.dedent(body), timeout=timeout)
        try:
            return json.loads(r.out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            self.fail(f"the script printed no JSON\n{r}")

    def test_list_namespaces(self):
        got = self.py("""\
            nss = v1.list_namespace()
            out({"names": sorted(n.metadata.name for n in nss.items),
                 "phases": sorted({n.status.phase for n in nss.items}),
                 "rv": nss.metadata.resource_version})
            """)
        for ns in ["default", "kube-node-lease", "kube-public", "kube-system"]:
            self.assertIn(ns, got["names"])
        self.assertEqual(got["phases"], ["Active"])
        self.assertTrue(got["rv"].isdigit(), got)

    def test_configmap_lifecycle(self):
        got = self.py("""\
            ns = "py-crud"
            v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
            cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cfg", labels={"a": "b"}),
                                    data={"k": "v"})
            created = v1.create_namespaced_config_map(ns, cm)
            read = v1.read_namespaced_config_map("cfg", ns)
            patched = v1.patch_namespaced_config_map("cfg", ns, {"data": {"k2": "v2"}})
            listed = v1.list_namespaced_config_map(ns, label_selector="a=b")
            status = v1.delete_namespaced_config_map("cfg", ns)
            try:
                v1.read_namespaced_config_map("cfg", ns)
                gone = None
            except ApiException as e:
                gone = {"status": e.status, "reason": json.loads(e.body)["reason"]}
            out({"created": [created.metadata.name, created.metadata.uid is not None,
                             created.metadata.resource_version],
                 "read": [read.metadata.name, read.data],
                 "patched": [patched.data, patched.metadata.resource_version],
                 "listed": [i.metadata.name for i in listed.items],
                 "deleted": status.status if hasattr(status, "status") else str(status),
                 "gone": gone})
            """)
        self.assertEqual(got["created"][:2], ["cfg", True])
        self.assertEqual(got["read"], ["cfg", {"k": "v"}])
        self.assertEqual(got["patched"][0], {"k": "v", "k2": "v2"})
        self.assertGreater(int(got["patched"][1]), int(got["created"][2]))
        self.assertEqual(got["listed"], ["cfg"])
        self.assertEqual(got["gone"], {"status": 404, "reason": "NotFound"})

    def test_duplicate_create_is_409(self):
        got = self.py("""\
            body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="dup"), data={"a": "1"})
            v1.create_namespaced_config_map("default", body)
            try:
                v1.create_namespaced_config_map("default", body)
                out({"error": None})
            except ApiException as e:
                st = json.loads(e.body)
                out({"status": e.status, "reason": st["reason"], "message": st["message"],
                     "kind": st["kind"], "details": st.get("details")})
            """)
        self.assertEqual(got["status"], 409, got)
        self.assertEqual(got["reason"], "AlreadyExists")
        self.assertEqual(got["kind"], "Status")
        self.assertEqual(got["message"], 'configmaps "dup" already exists')
        self.assertEqual(got["details"], {"name": "dup", "kind": "configmaps"})

    def test_stale_update_is_409(self):
        got = self.py("""\
            body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="upd"), data={"a": "1"})
            first = v1.create_namespaced_config_map("default", body)
            first.data = {"a": "2"}
            v1.replace_namespaced_config_map("upd", "default", first)
            first.data = {"a": "3"}  # still carries the old resourceVersion
            try:
                v1.replace_namespaced_config_map("upd", "default", first)
                out({"error": None})
            except ApiException as e:
                out({"status": e.status, "reason": json.loads(e.body)["reason"],
                     "data": v1.read_namespaced_config_map("upd", "default").data})
            """)
        self.assertEqual(got, {"status": 409, "reason": "Conflict", "data": {"a": "2"}})

    def test_watch_module(self):
        got = self.py("""\
            ns = "py-watch"
            v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
            v1.create_namespaced_config_map(ns, client.V1ConfigMap(
                metadata=client.V1ObjectMeta(name="before")))
            started = threading.Event()
            def writer():
                started.wait(30)  # the watch has delivered the existing object
                v1.create_namespaced_config_map(ns, client.V1ConfigMap(
                    metadata=client.V1ObjectMeta(name="during"), data={"n": "1"}))
                v1.patch_namespaced_config_map("during", ns, {"data": {"n": "2"}})
                v1.delete_namespaced_config_map("during", ns)
            threading.Thread(target=writer, daemon=True).start()
            w = watch.Watch()
            events = []
            for ev in w.stream(v1.list_namespaced_config_map, ns, timeout_seconds=20):
                o = ev["object"]
                events.append([ev["type"], o.metadata.name, o.data, o.kind])
                if o.metadata.name == "before":
                    started.set()
                if ev["type"] == "DELETED":
                    w.stop()
            out({"events": events, "rv": w.resource_version})
            """)
        self.assertEqual(got["events"], [
            ["ADDED", "before", None, "ConfigMap"],
            ["ADDED", "during", {"n": "1"}, "ConfigMap"],
            ["MODIFIED", "during", {"n": "2"}, "ConfigMap"],
            ["DELETED", "during", {"n": "2"}, "ConfigMap"],
        ])

    def test_watch_resumes_from_resource_version(self):
        got = self.py("""\
            ns = "py-resume"
            v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
            lst = v1.list_namespaced_config_map(ns)
            for n in ["r1", "r2"]:
                v1.create_namespaced_config_map(ns, client.V1ConfigMap(
                    metadata=client.V1ObjectMeta(name=n)))
            w = watch.Watch()
            seen = []
            for ev in w.stream(v1.list_namespaced_config_map, ns,
                               resource_version=lst.metadata.resource_version,
                               timeout_seconds=5):
                seen.append([ev["type"], ev["object"].metadata.name])
                if len(seen) == 2:
                    w.stop()
            out({"seen": seen})
            """)
        self.assertEqual(got["seen"], [["ADDED", "r1"], ["ADDED", "r2"]])

    def test_deployment_and_scale(self):
        got = self.py("""\
            ns = "default"
            dep = client.V1Deployment(
                metadata=client.V1ObjectMeta(name="pydep"),
                spec=client.V1DeploymentSpec(
                    replicas=1,
                    selector=client.V1LabelSelector(match_labels={"app": "pydep"}),
                    template=client.V1PodTemplateSpec(
                        metadata=client.V1ObjectMeta(labels={"app": "pydep"}),
                        spec=client.V1PodSpec(containers=[
                            client.V1Container(name="c", image="nginx:1.25")]))))
            created = apps.create_namespaced_deployment(ns, dep)
            apps.patch_namespaced_deployment_scale("pydep", ns, {"spec": {"replicas": 4}})
            scale = apps.read_namespaced_deployment_scale("pydep", ns)
            d = apps.read_namespaced_deployment("pydep", ns)
            out({"strategy": created.spec.strategy.type,
                 "scale": scale.spec.replicas, "replicas": d.spec.replicas,
                 "generation": d.metadata.generation})
            """)
        self.assertEqual(got, {"strategy": "RollingUpdate", "scale": 4, "replicas": 4,
                               "generation": 2})

    def test_list_pagination(self):
        got = self.py("""\
            ns = "py-pages"
            v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
            for i in range(7):
                v1.create_namespaced_config_map(ns, client.V1ConfigMap(
                    metadata=client.V1ObjectMeta(name=f"p{i}")))
            names, token, pages = [], None, 0
            while True:
                page = v1.list_namespaced_config_map(ns, limit=3, _continue=token)
                pages += 1
                names += [i.metadata.name for i in page.items]
                token = page.metadata._continue
                if not token:
                    break
            out({"names": names, "pages": pages})
            """)
        self.assertEqual(got, {"names": [f"p{i}" for i in range(7)], "pages": 3})
