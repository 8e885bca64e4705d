"""kubectl's typed-client commands (create namespace/configmap/secret/deployment/..., run).
Unlike `create -f` and `apply`, these send protobuf request bodies
(application/vnd.kubernetes.protobuf), as real clients such as controllers do."""

import base64

from harness import ClusterTestCase, parse_table


class GeneratorsTest(ClusterTestCase):

    def test_create_namespace(self):
        r = self.k("create", "namespace", "gen-ns")
        self.assertEqual(r.out.strip(), "namespace/gen-ns created")
        ns = self.cluster.get_json("namespace", "gen-ns")
        self.assertEqual(ns["status"]["phase"], "Active")
        self.assertEqual(ns["metadata"]["labels"], {"kubernetes.io/metadata.name": "gen-ns"})

    def test_create_configmap(self):
        r = self.k("create", "configmap", "gen-cm", "--from-literal=a=1", "--from-literal=b=2")
        self.assertEqual(r.out.strip(), "configmap/gen-cm created")
        self.assertEqual(self.cluster.get_json("cm", "gen-cm")["data"], {"a": "1", "b": "2"})
        r = self.k_fail("create", "configmap", "gen-cm")
        self.assertContains(r.err, 'configmaps "gen-cm" already exists')
        r = self.k_fail("create", "configmap", "x", "-n", "no-such-ns")
        self.assertContains(r.err, 'namespaces "no-such-ns" not found')

    def test_create_secret(self):
        r = self.k("create", "secret", "generic", "gen-secret", "--from-literal=password=pw")
        self.assertEqual(r.out.strip(), "secret/gen-secret created")
        s = self.cluster.get_json("secret", "gen-secret")
        self.assertEqual(s["type"], "Opaque")
        self.assertEqual(base64.b64decode(s["data"]["password"]), b"pw")

    def test_create_deployment_and_service(self):
        r = self.k("create", "deployment", "gen-dep", "--image=nginx:1.25", "--replicas=2",
                   "--port=80")
        self.assertEqual(r.out.strip(), "deployment.apps/gen-dep created")
        d = self.cluster.get_json("deployment", "gen-dep")
        self.assertEqual(d["spec"]["replicas"], 2)
        self.assertEqual(d["spec"]["selector"], {"matchLabels": {"app": "gen-dep"}})
        self.assertEqual(d["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.25")
        r = self.k("expose", "deployment", "gen-dep", "--port=8080", "--target-port=80")
        self.assertEqual(r.out.strip(), "service/gen-dep exposed")
        _, rows = parse_table(self.k("get", "svc", "gen-dep").out)
        self.assertEqual(rows[0]["PORT(S)"], "8080/TCP")
        r = self.k("create", "service", "clusterip", "gen-svc", "--tcp=5678:8080")
        self.assertEqual(r.out.strip(), "service/gen-svc created")

    def test_create_job_and_cronjob(self):
        r = self.k("create", "cronjob", "gen-cron", "--image=busybox:1.36",
                   "--schedule=*/5 * * * *", "--", "true")
        self.assertEqual(r.out.strip(), "cronjob.batch/gen-cron created")
        r = self.k("create", "job", "gen-job", "--from=cronjob/gen-cron")
        self.assertEqual(r.out.strip(), "job.batch/gen-job created")
        job = self.cluster.get_json("job", "gen-job")
        self.assertEqual(job["metadata"]["ownerReferences"][0]["kind"], "CronJob")

    def test_run(self):
        r = self.k("run", "gen-pod", "--image=nginx:1.25", "--labels=app=gen")
        self.assertEqual(r.out.strip(), "pod/gen-pod created")
        p = self.cluster.get_json("pod", "gen-pod")
        self.assertEqual(p["metadata"]["labels"], {"app": "gen"})
        self.assertEqual(p["status"]["phase"], "Pending")
        self.assertEqual(p["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent")

    def test_create_rbac_objects(self):
        r = self.k("create", "role", "gen-role", "--verb=get,list", "--resource=pods")
        self.assertEqual(r.out.strip(), "role.rbac.authorization.k8s.io/gen-role created")
        r = self.k("create", "rolebinding", "gen-rb", "--role=gen-role", "--user=alice")
        self.assertEqual(r.out.strip(), "rolebinding.rbac.authorization.k8s.io/gen-rb created")
        r = self.k("create", "serviceaccount", "gen-sa")
        self.assertEqual(r.out.strip(), "serviceaccount/gen-sa created")
        r = self.k("create", "priorityclass", "gen-pc", "--value=100")
        self.assertEqual(r.out.strip(), "priorityclass.scheduling.k8s.io/gen-pc created")
