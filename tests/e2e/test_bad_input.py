"""Bad input over raw HTTPS: every request gets a 4xx Status, the server keeps serving, and
nothing stored changes."""

import json
import re
import socket
import time

from harness import ClusterTestCase

NS = "badinput"
CM_PATH = f"/api/v1/namespaces/{NS}/configmaps"


def cm_body(name="fresh", **extra):
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
           "data": {"a": "b"}}
    obj.update(extra)
    return json.dumps(obj)


class BadInputTest(ClusterTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cluster.create_namespace(NS)
        cls.cluster.create_configmap("existing", NS, {"k": "v"})

    def setUp(self):
        self.before = self.snapshot()

    def tearDown(self):
        super().tearDown()
        if self.cluster.alive():
            ready = self.cluster.request("GET", "/readyz")
            self.assertEqual((ready.status, ready.body.strip()), (200, "ok"),
                             "the server keeps serving")
            self.assertEqual(self.snapshot(), self.before, "nothing stored changed")

    def snapshot(self):
        """Every object in the test namespace with its resourceVersion."""
        out = {}
        for res in ["configmaps", "secrets", "pods"]:
            doc = self.cluster.request("GET", f"/api/v1/namespaces/{NS}/{res}").json()
            for item in doc["items"]:
                out[(res, item["metadata"]["name"])] = item["metadata"]["resourceVersion"]
        return out

    def assertStatus(self, resp, codes, reason=None):
        codes = codes if isinstance(codes, (list, tuple)) else [codes]
        self.assertIn(resp.status, codes, str(resp))
        try:
            st = resp.json()
        except ValueError:
            self.fail(f"the body is not a JSON Status\n{resp}")
        self.assertEqual((st.get("kind"), st.get("apiVersion"), st.get("status")),
                         ("Status", "v1", "Failure"), str(resp))
        self.assertEqual(st.get("code"), resp.status, str(resp))
        if reason:
            self.assertEqual(st.get("reason"), reason, str(resp))
        return st

    def post(self, body, path=CM_PATH, ctype="application/json", **kw):
        return self.cluster.request("POST", path, body=body, headers={"Content-Type": ctype},
                                    **kw)

    def test_malformed_json(self):
        for body in ['{"apiVersion":"v1","kind":"ConfigMap",', "{]", "not json", "",
                     '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}} trailing',
                     '[1,2,3]', '"string"', "null"]:
            with self.subTest(body=body):
                self.assertStatus(self.post(body), [400, 422])

    def test_malformed_yaml(self):
        for body in ["apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n",
                     "a: b\n  c: d\n\t- e\n", "- - - -\n"]:
            with self.subTest(body=body):
                self.assertStatus(self.post(body, ctype="application/yaml"), [400, 422])

    def test_invalid_utf8(self):
        body = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"utf"},' \
               b'"data":{"k":"\xff\xfe\xc3"}}'
        self.assertStatus(self.post(body), [400, 422])
        body = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"utf\xc0\xaf"}}'
        self.assertStatus(self.post(body), [400, 422])

    def test_deeply_nested_json(self):
        depth = 10000
        body = ('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep"},"data":'
                + "[" * depth + "]" * depth + "}")
        self.assertStatus(self.post(body), [400, 422])
        body = ('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep",'
                '"annotations":' + '{"a":' * depth + "1" + "}" * depth + "}}")
        self.assertStatus(self.post(body), [400, 422])

    def test_deeply_nested_yaml(self):
        body = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata: " + \
               "[" * 10000 + "]" * 10000 + "\n"
        self.assertStatus(self.post(body, ctype="application/yaml"), [400, 422])

    def test_wrong_kind_for_the_endpoint(self):
        secret = json.dumps({"apiVersion": "v1", "kind": "Secret",
                             "metadata": {"name": "wrongkind"}, "data": {}})
        self.assertStatus(self.post(secret), 400, "BadRequest")
        dep = json.dumps({"apiVersion": "apps/v1", "kind": "Deployment",
                          "metadata": {"name": "wronggroup"}})
        self.assertStatus(self.post(dep), 400, "BadRequest")
        self.assertStatus(self.post(cm_body(apiVersion="v2")), 400, "BadRequest")

    def test_namespace_mismatch(self):
        body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "elsewhere", "namespace": "default"}})
        st = self.assertStatus(self.post(body), 400, "BadRequest")
        self.assertIn("the namespace of the provided object does not match the namespace sent "
                      "on the request", st["message"])

    def test_name_mismatch_on_update(self):
        obj = self.cluster.get_json("cm", "existing", "-n", NS)
        obj["metadata"]["name"] = "other"
        resp = self.cluster.request("PUT", f"{CM_PATH}/existing", body=json.dumps(obj))
        self.assertStatus(resp, 400, "BadRequest")

    def exchange(self, head, body=b"", chunk=65536):
        """Sends head and then body in chunks on a raw TLS connection, stopping early when the
        server closes it; returns (status code or None, response text)."""
        sock = self.cluster.tls_socket()
        try:
            sock.sendall(head)
            for i in range(0, len(body), chunk):
                try:
                    sock.sendall(body[i:i + chunk])
                except OSError:  # the server answered early and closed
                    break
            text = self.read_response(sock)
        finally:
            sock.close()
        m = re.match(r"HTTP/1\.[01] (\d{3}) ", text)
        return (int(m.group(1)) if m else None), text

    def read_response(self, sock, timeout=15):
        sock.settimeout(timeout)
        data = b""
        try:
            while True:
                end = data.find(b"\r\n\r\n")
                if end >= 0:
                    m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", data[:end])
                    if m is None or len(data) - end - 4 >= int(m.group(1)):
                        break
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, OSError):
            pass
        return data.decode("utf-8", "replace")

    def post_head(self, length, ctype="application/json"):
        return (f"POST {CM_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {length}\r\n\r\n").encode()

    def test_body_over_3_mib(self):
        body = cm_body(name="big", data={"blob": "x" * (3 * 1024 * 1024 + 100)}).encode()
        status, text = self.exchange(self.post_head(len(body)), body)
        self.assertEqual(status, 413, text[:2000])
        self.assertIn('"reason":"RequestEntityTooLarge"', text.replace(" ", ""))

    def test_huge_declared_length(self):
        """A declared 1 GiB body: refused with 413 at the latest after 3 MiB have arrived."""
        body = b'{"apiVersion":"v1","kind":"ConfigMap","data":{"x":"' + b"y" * (4 << 20)
        status, text = self.exchange(self.post_head(1 << 30), body)
        self.assertEqual(status, 413, text[:2000])

    def test_configmap_over_1_mib_is_invalid(self):
        body = cm_body(name="big2", data={"blob": "x" * (2 * 1024 * 1024)}).encode()
        status, text = self.exchange(self.post_head(len(body)), body)
        self.assertEqual(status, 422, text[:2000])
        self.assertRegex(text, "Too long: (must have at most|may not be more than) 1048576 bytes")

    def test_unsupported_media_type(self):
        self.assertStatus(self.post(cm_body(), ctype="text/plain"), 415,
                          "UnsupportedMediaType")
        resp = self.cluster.request("PATCH", f"{CM_PATH}/existing", body='{"data":{"a":"1"}}',
                                    headers={"Content-Type": "application/json"})
        self.assertStatus(resp, 415, "UnsupportedMediaType")

    def test_invalid_label_selectors(self):
        for sel in ["a in (b", "a=(b)", "!", "a b", "a==b==c", "a in b", "x=" + "v" * 100]:
            with self.subTest(selector=sel):
                from urllib.parse import quote
                resp = self.cluster.request("GET", f"{CM_PATH}?labelSelector={quote(sel)}")
                self.assertStatus(resp, 400, "BadRequest")

    def test_invalid_field_selectors(self):
        from urllib.parse import quote
        for sel in ["data.a=b", "metadata.name", "metadata.name=a=b=c"]:
            with self.subTest(selector=sel):
                resp = self.cluster.request("GET", f"{CM_PATH}?fieldSelector={quote(sel)}")
                self.assertStatus(resp, 400, "BadRequest")

    def test_bad_resource_versions(self):
        for query in ["resourceVersion=abc", "resourceVersion=-5",
                      "resourceVersion=1&resourceVersionMatch=Bogus",
                      "resourceVersionMatch=Exact",
                      "watch=1&resourceVersion=abc", "limit=abc", "limit=2&continue=garbage",
                      "timeoutSeconds=abc&watch=1"]:
            with self.subTest(query=query):
                resp = self.cluster.request("GET", f"{CM_PATH}?{query}", timeout=10)
                self.assertStatus(resp, [400, 410, 422])
        obj = self.cluster.get_json("cm", "existing", "-n", NS)
        for rv in ["abc", "-1", "99999999999999999999999"]:
            with self.subTest(update_rv=rv):
                obj["metadata"]["resourceVersion"] = rv
                resp = self.cluster.request("PUT", f"{CM_PATH}/existing", body=json.dumps(obj))
                self.assertStatus(resp, [400, 409, 422])

    def test_bad_patches(self):
        cases = [
            ("application/json-patch+json", "not json"),
            ("application/json-patch+json", '{"op":"add"}'),
            ("application/json-patch+json", '[{"op":"frobnicate","path":"/data/a"}]'),
            ("application/json-patch+json", '[{"op":"add","path":"no-slash","value":1}]'),
            ("application/json-patch+json", '[{"op":"remove","path":"/data/nokey"}]'),
            ("application/json-patch+json", '[{"op":"test","path":"/data/k","value":"x"}]'),
            ("application/json-patch+json", '[{"op":"replace","path":"/metadata/name",'
                                            '"value":"renamed"}]'),
            ("application/merge-patch+json", "[1,2]"),
            ("application/merge-patch+json", '{"data":'),
            ("application/merge-patch+json", '{"data":{"k":5}}'),
            ("application/merge-patch+json", '{"metadata":{"name":"Bad_Name"}}'),
            ("application/strategic-merge-patch+json", '{"data":{"$patch":"frobnicate"}}'),
            ("application/strategic-merge-patch+json", '{"metadata":{"$retainKeys":7}}'),
            ("application/strategic-merge-patch+json", "[]"),
            ("application/apply-patch+yaml", "kind: ConfigMap\n"),
            ("application/apply-patch+yaml", "{{{"),
        ]
        for ctype, body in cases:
            with self.subTest(content_type=ctype, body=body):
                path = f"{CM_PATH}/existing"
                if ctype == "application/apply-patch+yaml":
                    path += "?fieldManager=e2e"
                resp = self.cluster.request("PATCH", path, body=body,
                                            headers={"Content-Type": ctype})
                self.assertStatus(resp, [400, 409, 415, 422])

    def test_invalid_query_parameters(self):
        for query in ["dryRun=Maybe", "fieldValidation=Sometimes", "fieldManager=" + "m" * 200]:
            with self.subTest(query=query):
                self.assertStatus(self.post(cm_body("q"), path=f"{CM_PATH}?{query}"),
                                  [400, 422])

    def test_dropped_connection_mid_body(self):
        body = cm_body(name="dropped").encode()
        for cut in [0, 1, len(body) // 2, len(body) - 1]:
            with self.subTest(sent=cut):
                sock = self.cluster.tls_socket()
                sock.sendall((f"POST {CM_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Content-Type: application/json\r\n"
                              f"Content-Length: {len(body)}\r\n\r\n").encode() + body[:cut])
                sock.close()
        # Also a connection dropped in the middle of the headers.
        sock = self.cluster.tls_socket()
        sock.sendall(f"POST {CM_PATH} HTTP/1.1\r\nHost: 127.0".encode())
        sock.close()
        time.sleep(0.5)
        self.assertFalse(self.cluster.exists("cm", "dropped", "-n", NS))

    def test_garbage_and_malformed_http(self):
        for raw in [b"\x16\x03\x01garbage\r\n\r\n", b"GET\r\n\r\n",
                    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
                    b"POST " + CM_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Length: -1\r\n\r\n",
                    b"POST " + CM_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\nZZZ\r\n"]:
            with self.subTest(raw=raw[:30]):
                sock = self.cluster.tls_socket()
                try:
                    sock.sendall(raw)
                    head = self.read_response(sock, timeout=5)
                finally:
                    sock.close()
                if head:
                    self.assertRegex(head, r"^HTTP/1\.[01] 4\d\d ")

    def test_plain_http_on_the_tls_port(self):
        def probe():
            s = socket.create_connection(self.cluster.server_address(), 5)
            s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(5)
            try:
                return s.recv(1024)
            except OSError:
                return b""
            finally:
                s.close()
        from harness import run_in_netns
        reply = run_in_netns(self.cluster.ns, probe)
        self.assertNotRegex(reply.decode("latin-1"), r"^HTTP/1\.1 5\d\d")

    def test_unacceptable_accept_header(self):
        resp = self.cluster.request("GET", CM_PATH, headers={"Accept": "text/html"})
        self.assertStatus(resp, 406, "NotAcceptable")

    def test_no_credentials_is_401(self):
        resp = self.cluster.request("GET", CM_PATH, client_cert=False)
        self.assertStatus(resp, 401, "Unauthorized")

    def test_unknown_paths_and_methods(self):
        self.assertStatus(self.cluster.request("GET", "/api/v1/nosuchresources"), 404,
                          "NotFound")
        self.assertStatus(self.cluster.request("GET", "/apis/nosuch.group/v1/things"), 404,
                          "NotFound")
        self.assertStatus(self.cluster.request("GET", f"{CM_PATH}/existing/nosub"), 404)
        resp = self.cluster.request("POST", f"{CM_PATH}/existing", body=cm_body("existing"))
        self.assertStatus(resp, 405, "MethodNotAllowed")
        resp = self.cluster.request("DELETE", "/api/v1/namespaces", body=None)
        self.assertStatus(resp, 405, "MethodNotAllowed")

    def test_invalid_names_in_paths(self):
        for name in ["UPPER", "a_b", "a" * 300, "..", "%2e%2e"]:
            with self.subTest(name=name):
                resp = self.cluster.request("GET", f"{CM_PATH}/{name}")
                self.assertIn(resp.status, [400, 404, 422], str(resp))

    def test_many_bad_requests_in_a_row(self):
        """A burst of junk on parallel connections leaves the server healthy."""
        import threading
        errors = []

        def hammer():
            try:
                for i in range(20):
                    r = self.post('{"broken": ' + "[" * (i * 50))
                    if not 400 <= r.status < 500:
                        errors.append(r.status)
            except Exception as e:  # reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
