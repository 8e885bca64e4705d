"""What kubectl prints when the server refuses: Kubernetes' Status objects, reasons and messages."""

import json

import yaml

from harness import ClusterTestCase
from manifests import configmap, pod

RFC1123_SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")

NGINX_POD_ERROR = ('The Pod "nginx_pod" is invalid: metadata.name: Invalid value: "nginx_pod": '
                   + RFC1123_SUBDOMAIN)

UNKNOWN_FIELD_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: NAME
  namespace: NS
spec:
  replicas: 1
  selector:
    matchLabels: {app: NAME}
  template:
    metadata:
      labels: {app: NAME}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        imagePullPolicyy: Always
"""


class ErrorsTest(ClusterTestCase):

    def test_invalid_pod_name_with_kubectl_run(self):
        # kubectl run also names the container after the pod, which is a second error.
        r = self.k_fail("run", "nginx_pod", "--image=nginx")
        self.assertEqual(r.err.strip(), NGINX_POD_ERROR.replace(
            ": metadata.name:", ": \n* metadata.name:") + "\n* spec.containers[0].name: Invalid "
            "value: \"nginx_pod\": a lowercase RFC 1123 label must consist of lower case "
            "alphanumeric characters or '-', and must start and end with an alphanumeric "
            "character (e.g. 'my-name',  or '123-abc', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")

    def test_invalid_pod_name_with_create_and_apply(self):
        for verb in ["create", "apply"]:
            with self.subTest(verb=verb):
                r = self.k_fail(verb, "-f", "-", input=pod("nginx_pod"))
                self.assertEqual(r.err.strip(), NGINX_POD_ERROR)
        self.assertFalse(self.cluster.exists("pods", "nginx_pod"))

    def test_invalid_status_object(self):
        body = json.dumps(yaml.safe_load(pod("nginx_pod")))
        resp = self.cluster.request("POST", "/api/v1/namespaces/default/pods", body=body)
        self.assertEqual(resp.status, 422, str(resp))
        st = resp.json()
        self.assertEqual((st["kind"], st["apiVersion"], st["status"], st["reason"], st["code"]),
                         ("Status", "v1", "Failure", "Invalid", 422))
        self.assertEqual(st["message"], NGINX_POD_ERROR.replace("The Pod", "Pod", 1))
        self.assertEqual((st["details"]["name"], st["details"]["kind"]), ("nginx_pod", "Pod"))
        self.assertEqual(st["details"]["causes"],
                         [{"reason": "FieldValueInvalid",
                           "message": 'Invalid value: "nginx_pod": ' + RFC1123_SUBDOMAIN,
                           "field": "metadata.name"}])

    def test_required_fields(self):
        r = self.k_fail("create", "-f", "-", input="""\
apiVersion: v1
kind: Service
metadata: {name: noports}
spec:
  selector: {app: x}
""")
        self.assertEqual(r.err.strip(), 'The Service "noports" is invalid: spec.ports: '
                                        'Required value')
        r = self.k_fail("create", "-f", "-", input="""\
apiVersion: v1
kind: Pod
metadata: {name: noimage}
spec:
  containers: [{name: c}]
""")
        self.assertEqual(r.err.strip(), 'The Pod "noimage" is invalid: '
                                        'spec.containers[0].image: Required value')

    def test_several_causes_are_listed(self):
        r = self.k_fail("create", "-f", "-", input="""\
apiVersion: v1
kind: Pod
metadata: {name: two-errors}
spec:
  restartPolicy: Sometimes
  containers: [{name: c}]
""")
        self.assertTrue(r.err.startswith('The Pod "two-errors" is invalid: \n* '), r.err)
        self.assertContains(r.err, "* spec.containers[0].image: Required value")
        self.assertContains(r.err, '* spec.restartPolicy: Unsupported value: "Sometimes": '
                                   'supported values: "Always", "OnFailure", "Never"')

    def test_immutable_field(self):
        self.cluster.apply("""\
apiVersion: v1
kind: ConfigMap
metadata: {name: frozen}
immutable: true
data: {a: "1"}
""")
        r = self.k_fail("patch", "configmap", "frozen", "--type=merge",
                        "-p", '{"data":{"a":"2"}}')
        self.assertEqual(r.err.strip(), 'The ConfigMap "frozen" is invalid: data: Forbidden: '
                                        'field is immutable when `immutable` is set')

    def test_stale_replace_is_a_conflict(self):
        self.cluster.apply(configmap("stale", data={"v": "1"}))
        saved = yaml.safe_load(self.k("get", "cm", "stale", "-o", "yaml").out)
        self.k("label", "configmap", "stale", "changed=yes")  # someone else writes
        saved["data"] = {"v": "2"}
        path = self.cluster.write_file("stale.yaml", yaml.safe_dump(saved))
        r = self.k_fail("replace", "-f", path)
        self.assertEqual(r.err.strip(),
                         f'Error from server (Conflict): error when replacing "{path}": '
                         'Operation cannot be fulfilled on configmaps "stale": the object has '
                         'been modified; please apply your changes to the latest version and '
                         'try again')
        got = self.cluster.get_json("cm", "stale")
        self.assertEqual(got["data"], {"v": "1"})
        self.assertEqual(got["metadata"]["labels"], {"changed": "yes"})

    def test_conflict_status_over_http(self):
        self.cluster.apply(configmap("stale-http"))
        obj = self.cluster.get_json("cm", "stale-http")
        self.k("annotate", "configmap", "stale-http", "x=y")
        resp = self.cluster.request("PUT", "/api/v1/namespaces/default/configmaps/stale-http",
                                    body=json.dumps(obj))
        self.assertEqual(resp.status, 409, str(resp))
        st = resp.json()
        self.assertEqual((st["reason"], st["code"], st["details"]["name"],
                          st["details"]["kind"]),
                         ("Conflict", 409, "stale-http", "configmaps"))

    def test_unknown_field_is_refused_by_default(self):
        for verb in ["create", "apply"]:
            with self.subTest(verb=verb):
                name = f"unknown-{verb}"
                manifest = UNKNOWN_FIELD_DEPLOYMENT.replace("NAME", name).replace(
                    "NS", "default")
                r = self.k_fail(verb, "-f", "-", input=manifest)
                self.assertContains(r.err, "Error from server (BadRequest)")
                self.assertContains(r.err, 'strict decoding error: unknown field '
                                           '"spec.template.spec.containers[0].imagePullPolicyy"')
                self.assertFalse(self.cluster.exists("deployment", name))

    def test_unknown_field_on_an_existing_object(self):
        name = "unknown-update"
        manifest = UNKNOWN_FIELD_DEPLOYMENT.replace("NAME", name).replace("NS", "default")
        good = manifest.replace("        imagePullPolicyy: Always\n", "")
        self.cluster.apply(good)
        # The generation, not the resourceVersion: the Deployment controller writes the status.
        gen = self.cluster.get_json("deployment", name)["metadata"]["generation"]
        r = self.k_fail("apply", "-f", "-", input=manifest.replace("replicas: 1", "replicas: 2"))
        self.assertContains(r.err, 'unknown field "spec.template.spec.containers[0].'
                                   'imagePullPolicyy"')
        got = self.cluster.get_json("deployment", name)
        self.assertEqual((got["spec"]["replicas"], got["metadata"]["generation"]), (1, gen))

    def test_unknown_field_with_server_side_apply(self):
        manifest = UNKNOWN_FIELD_DEPLOYMENT.replace("NAME", "unknown-ssa").replace(
            "NS", "default")
        r = self.k_fail("apply", "--server-side", "-f", "-", input=manifest)
        # Kubernetes words it ".spec...imagePullPolicyy: field not declared in schema".
        self.assertRegex(r.err, r"spec\.template\.spec\.containers\[0\]\.imagePullPolicyy\b")
        self.assertFalse(self.cluster.exists("deployment", "unknown-ssa"))

    def test_unknown_field_accepted_without_validation(self):
        manifest = UNKNOWN_FIELD_DEPLOYMENT.replace("NAME", "lenient").replace("NS", "default")
        r = self.k("apply", "--validate=false", "-f", "-", input=manifest)
        self.assertEqual(r.out.strip(), "deployment.apps/lenient created")
        c = self.cluster.get_json("deployment", "lenient")["spec"]["template"]["spec"][
            "containers"][0]
        self.assertNotIn("imagePullPolicyy", c, "unknown fields are pruned")
        self.assertEqual(c["image"], "nginx:1.25")

        manifest = UNKNOWN_FIELD_DEPLOYMENT.replace("NAME", "warned").replace("NS", "default")
        r = self.k("apply", "--validate=warn", "-f", "-", input=manifest)
        self.assertEqual(r.out.strip(), "deployment.apps/warned created")
        self.assertContains(r.err, 'Warning: unknown field '
                                   '"spec.template.spec.containers[0].imagePullPolicyy"')

    def test_unknown_top_level_field(self):
        r = self.k_fail("create", "-f", "-", input="""\
apiVersion: v1
kind: ConfigMap
metadata: {name: withspec}
spec: {a: b}
""")
        self.assertContains(r.err, 'strict decoding error: unknown field "spec"')

    def test_already_exists(self):
        self.create_configmap("twice")
        r = self.k_fail("create", "-f", "-", input=configmap("twice"))
        self.assertEqual(r.err.strip(), 'Error from server (AlreadyExists): error when creating '
                                        '"STDIN": configmaps "twice" already exists')

    def test_missing_namespace(self):
        r = self.k_fail("create", "-f", "-", input=configmap("x", "no-such-ns"))
        self.assertContains(r.err, 'namespaces "no-such-ns" not found')

    def test_unknown_kind_and_resource(self):
        r = self.k_fail("apply", "-f", "-", input="apiVersion: v1\nkind: ConfigMapp\n"
                                                  "metadata: {name: x}\n")
        self.assertContains(r.err, 'no matches for kind "ConfigMapp" in version "v1"')
        r = self.k_fail("get", "foos")
        self.assertContains(r.err, 'the server doesn\'t have a resource type "foos"')

    def test_generate_name(self):
        r = self.k("create", "-f", "-", "-o", "name", input="""\
apiVersion: v1
kind: ConfigMap
metadata: {generateName: gen-}
""")
        self.assertRegex(r.out.strip(), r"^configmap/gen-[a-z0-9]{5}$")
        self.assertTrue(self.cluster.exists(r.out.strip()))
