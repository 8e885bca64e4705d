"""CustomResourceDefinitions and their custom resources, served dynamically."""

import time

from harness import ClusterTestCase, parse_table

SCHEMA = """\
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1, maximum: 10}
              color: {type: string, enum: [red, blue]}
              replicas: {type: integer}
          status:
            type: object
            properties:
              replicas: {type: integer}
              labelSelector: {type: string}
"""

CRD = f"""\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.e2e.nave.dev
spec:
  group: e2e.nave.dev
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
    shortNames: [wg]
    categories: [all]
  versions:
  - name: v1
    served: true
    storage: true
    schema:
{SCHEMA}    subresources:
      status: {{}}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
        labelSelectorPath: .status.labelSelector
    additionalPrinterColumns:
    - {{name: Size, type: integer, jsonPath: .spec.size}}
    - {{name: Color, type: string, jsonPath: .spec.color}}
    - {{name: Age, type: date, jsonPath: .metadata.creationTimestamp}}
  # A second served version. Kubernetes prefers the highest version (v1 over v1beta1, v2 over
  # v1), and kubectl uses the preferred one.
  - name: v1beta1
    served: true
    storage: false
    schema:
{SCHEMA}"""


def widget(name, size=3, color="red", extra=""):
    return f"""\
apiVersion: e2e.nave.dev/v1
kind: Widget
metadata: {{name: {name}, namespace: default}}
spec:
  size: {size}
  color: {color}
  replicas: 1
{extra}"""


def wait_served(cluster, path="/apis/e2e.nave.dev/v1", timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        r = cluster.kubectl("get", "--raw", path, check=False)
        if r.rc == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the custom resources are not served {timeout}s after the "
                                 f"CRD was created\n{r}")
        time.sleep(0.2)


class CustomResourceTest(ClusterTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cluster.apply(CRD)
        wait_served(cls.cluster)

    def test_crd_becomes_established(self):
        r = self.k("wait", "--for=condition=Established", "crd/widgets.e2e.nave.dev",
                   "--timeout=10s")
        self.assertContains(r.out, "condition met")
        crd = self.cluster.get_json("crd", "widgets.e2e.nave.dev")
        conds = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        self.assertEqual((conds.get("NamesAccepted"), conds.get("Established")),
                         ("True", "True"))
        self.assertEqual(crd["status"]["acceptedNames"]["kind"], "Widget")
        self.assertEqual(crd["status"]["storedVersions"], ["v1"])

    def test_discovery_lists_the_new_type(self):
        r = self.k("api-resources", "--api-group=e2e.nave.dev")
        _, rows = parse_table(r.out)
        self.assertEqual([(x["NAME"], x["SHORTNAMES"], x["APIVERSION"], x["NAMESPACED"],
                           x["KIND"]) for x in rows],
                         [("widgets", "wg", "e2e.nave.dev/v1", "true", "Widget")], r.out)
        self.assertIn("e2e.nave.dev/v1beta1", self.k("api-versions").lines())

    def test_create_get_with_printer_columns(self):
        r = self.cluster.apply(widget("w1", size=4, color="blue"))
        self.assertEqual(r.out.strip(), "widget.e2e.nave.dev/w1 created")
        r = self.k("get", "widgets", "w1")
        headers, rows = parse_table(r.out)
        self.assertEqual(headers, ["NAME", "SIZE", "COLOR", "AGE"])
        self.assertEqual((rows[0]["NAME"], rows[0]["SIZE"], rows[0]["COLOR"]),
                         ("w1", "4", "blue"))
        self.assertEqual(self.k("get", "wg", "-o", "name").lines().count(
            "widget.e2e.nave.dev/w1"), 1)
        self.assertIn("widget.e2e.nave.dev/w1", self.k("get", "all", "-o", "name").lines())
        r = self.cluster.apply(widget("w1", size=4, color="blue"))
        self.assertEqual(r.out.strip(), "widget.e2e.nave.dev/w1 unchanged")

    def test_schema_validation(self):
        r = self.k_fail("apply", "-f", "-", input=widget("big", size=20))
        self.assertEqual(r.err.strip(), 'The Widget "big" is invalid: spec.size: Invalid value: '
                                        '20: spec.size in body should be less than or equal '
                                        'to 10')
        r = self.k_fail("apply", "-f", "-", input=widget("green", color="green"))
        self.assertEqual(r.err.strip(), 'The Widget "green" is invalid: spec.color: Unsupported '
                                        'value: "green": supported values: "red", "blue"')
        r = self.k_fail("create", "-f", "-", input="""\
apiVersion: e2e.nave.dev/v1
kind: Widget
metadata: {name: nosize, namespace: default}
spec: {color: red}
""")
        self.assertEqual(r.err.strip(), 'The Widget "nosize" is invalid: spec.size: Required '
                                        'value')
        for name in ["big", "green", "nosize"]:
            self.assertFalse(self.cluster.exists("widget", name))

    def test_unknown_fields_strict_and_pruned(self):
        manifest = widget("shaped", extra="  shape: round\n")
        r = self.k_fail("apply", "-f", "-", input=manifest)
        self.assertContains(r.err, 'unknown field "spec.shape"')
        self.k("apply", "--validate=false", "-f", "-", input=manifest)
        obj = self.cluster.get_json("widget", "shaped")
        self.assertNotIn("shape", obj["spec"], "unknown fields are pruned")

    def test_status_and_scale_subresources(self):
        self.cluster.apply(widget("ws"))
        r = self.k("patch", "widget", "ws", "--type=merge", "-p",
                   '{"status":{"replicas":5}}')
        self.assertEqual(r.out.strip(), "widget.e2e.nave.dev/ws patched (no change)",
                         "the main resource ignores status")
        r = self.k("patch", "widget", "ws", "--subresource=status", "--type=merge", "-p",
                   '{"status":{"replicas":5,"labelSelector":"app=ws"}}')
        self.assertEqual(r.out.strip(), "widget.e2e.nave.dev/ws patched")
        obj = self.cluster.get_json("widget", "ws")
        self.assertEqual(obj["status"]["replicas"], 5)

        r = self.k("scale", "widget", "ws", "--replicas=3")
        self.assertEqual(r.out.strip(), "widget.e2e.nave.dev/ws scaled")
        self.assertEqual(self.cluster.get_json("widget", "ws")["spec"]["replicas"], 3)
        scale = self.k("get", "--raw",
                       "/apis/e2e.nave.dev/v1/namespaces/default/widgets/ws/scale").json()
        self.assertEqual((scale["kind"], scale["spec"]["replicas"], scale["status"]["replicas"],
                          scale["status"]["selector"]), ("Scale", 3, 5, "app=ws"))

    def test_versions_share_storage(self):
        self.cluster.apply(widget("wv", size=7))
        v2 = self.cluster.get_json("widgets.v1beta1.e2e.nave.dev", "wv")
        self.assertEqual(v2["apiVersion"], "e2e.nave.dev/v1beta1")
        self.assertEqual(v2["spec"]["size"], 7)
        v1 = self.cluster.get_json("widgets.v1.e2e.nave.dev", "wv")
        self.assertEqual(v1["metadata"]["uid"], v2["metadata"]["uid"])

    def test_watch_custom_resources(self):
        rv = self.k("get", "--raw", "/apis/e2e.nave.dev/v1/namespaces/default/widgets").json()[
            "metadata"]["resourceVersion"]
        self.cluster.apply(widget("ww"))
        r = self.k("get", "--raw", "/apis/e2e.nave.dev/v1/namespaces/default/widgets?watch=1"
                                   f"&resourceVersion={rv}&timeoutSeconds=1")
        self.assertIn('"type":"ADDED"', r.out.replace(" ", ""))
        self.assertIn('"name":"ww"', r.out.replace(" ", ""))


class CustomResourceDeletionTest(ClusterTestCase):

    def test_deleting_the_crd_removes_its_objects(self):
        self.cluster.apply(CRD)
        wait_served(self.cluster)
        self.cluster.apply(widget("doomed"))
        self.k("delete", "crd", "widgets.e2e.nave.dev", timeout=60)
        r = self.k_fail("get", "widgets")
        # With kubectl's discovery cache still naming widgets, the list itself gets a 404.
        self.assertRegex(r.err, r'the server doesn\'t have a resource type "widgets"|'
                                r'the server could not find the requested resource')
        # Re-creating the definition does not bring the old objects back.
        self.cluster.apply(CRD)
        wait_served(self.cluster)
        self.assertEqual(self.k("get", "widgets", "-o", "name").out, "")
