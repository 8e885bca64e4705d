"""Watches: kubectl get -w (table and JSON), raw watch semantics."""

import json
import time

from harness import ClusterTestCase, json_stream
from manifests import configmap


def watch_established(w):
    """Waits until a `kubectl ... -v=6` watcher has its watch response (headers) back."""
    w.wait_for(lambda t: any("watch=true" in l and "200 OK" in l for l in t.splitlines()),
               stream="err", what="the watch request to be answered")


def events_of(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class WatchTest(ClusterTestCase):

    def test_get_watch_shows_changes_from_another_client(self):
        ns = self.create_namespace("watch-table")
        self.cluster.apply(configmap("pre", ns))
        w = self.cluster.spawn_kubectl("get", "configmaps", "-n", ns, "-w")
        text = w.wait_for(lambda t: "pre" in t, what="the initial list")
        self.assertTrue(text.splitlines()[0].split() == ["NAME", "DATA", "AGE"], text)

        self.create_configmap("live", ns, {"a": "1"})
        w.wait_for(lambda t: any(l.split()[:2] == ["live", "1"] for l in t.splitlines()),
                   what="the created object")
        self.k("patch", "configmap", "live", "-n", ns, "--type=merge",
               "-p", '{"data":{"b":"2"}}')
        w.wait_for(lambda t: any(l.split()[:2] == ["live", "2"] for l in t.splitlines()),
                   what="the modified object (DATA 2)")
        w.stop()

    def test_get_watch_json_events(self):
        ns = self.create_namespace("watch-json")
        self.cluster.apply(configmap("pre", ns))
        w = self.cluster.spawn_kubectl("get", "configmaps", "-n", ns, "-w", "-o", "json",
                                       "--output-watch-events")
        w.wait_for(lambda t: len(json_stream(t)) >= 1, what="the initial ADDED event")
        self.create_configmap("w2", ns, {"k": "v1"})
        self.k("patch", "configmap", "w2", "-n", ns, "--type=merge", "-p",
               '{"data":{"k":"v2"}}')
        self.k("delete", "configmap", "w2", "-n", ns)
        text = w.wait_for(lambda t: any(e.get("type") == "DELETED" for e in json_stream(t)),
                          what="the DELETED event")
        w.stop()
        events = [(e["type"], e["object"]["metadata"]["name"], e["object"].get("data"))
                  for e in json_stream(text)]
        self.assertEqual(events, [
            ("ADDED", "pre", {"key": "value"}),
            ("ADDED", "w2", {"k": "v1"}),
            ("MODIFIED", "w2", {"k": "v2"}),
            ("DELETED", "w2", {"k": "v2"}),
        ], text)
        for e in json_stream(text):
            self.assertEqual(e["object"]["kind"], "ConfigMap")
            self.assertEqual(e["object"]["apiVersion"], "v1")

    def test_get_watch_only_json_objects(self):
        ns = self.create_namespace("watch-only")
        w = self.cluster.spawn_kubectl("get", "configmaps", "-n", ns, "--watch-only", "-o",
                                       "json", "-v=6")
        watch_established(w)  # --watch-only prints nothing until a change
        self.create_configmap("x", ns, {"a": "b"})
        text = w.wait_for(lambda t: len(json_stream(t)) >= 1, what="the created object")
        w.stop()
        obj = json_stream(text)[0]
        self.assertEqual((obj["kind"], obj["metadata"]["name"], obj["data"]),
                         ("ConfigMap", "x", {"a": "b"}))

    def test_watch_from_resource_version_replays_later_changes(self):
        ns = self.create_namespace("watch-rv")
        a = self.create_configmap("a", ns)
        rv = a["metadata"]["resourceVersion"]
        self.create_configmap("b", ns)
        self.k("label", "configmap", "b", "-n", ns, "x=y")
        self.k("delete", "configmap", "a", "-n", ns)
        t0 = time.monotonic()
        r = self.k("get", "--raw",
                   f"/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion={rv}"
                   "&timeoutSeconds=2")
        elapsed = time.monotonic() - t0
        events = events_of(r.out)
        self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in events],
                         [("ADDED", "b"), ("MODIFIED", "b"), ("DELETED", "a")], r.out)
        rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
        self.assertEqual(rvs, sorted(rvs), "events come in resourceVersion order")
        self.assertGreater(rvs[0], int(rv))
        self.assertLess(elapsed, 10, "timeoutSeconds=2 ends the watch")
        self.assertGreaterEqual(elapsed, 1.5, "the watch stays open until timeoutSeconds")

    def test_object_leaving_a_selector_is_deleted_for_the_watcher(self):
        ns = self.create_namespace("watch-sel")
        self.cluster.apply(configmap("m", ns, labels={"app": "x"}))
        rv = self.cluster.get_json("cm", "m", "-n", ns)["metadata"]["resourceVersion"]
        self.k("label", "configmap", "m", "-n", ns, "app=y", "--overwrite")
        self.k("label", "configmap", "m", "-n", ns, "app=x", "--overwrite")
        r = self.k("get", "--raw",
                   f"/api/v1/namespaces/{ns}/configmaps?watch=1&labelSelector=app%3Dx"
                   f"&resourceVersion={rv}&timeoutSeconds=1")
        # Kubernetes' DELETED carries the last state that matched, with the event's version.
        self.assertEqual([(e["type"], e["object"]["metadata"]["labels"]["app"])
                          for e in events_of(r.out)],
                         [("DELETED", "x"), ("ADDED", "x")], r.out)

    def test_watch_with_field_selector(self):
        ns = self.create_namespace("watch-field")
        rv = self.k("get", "--raw", f"/api/v1/namespaces/{ns}/configmaps").json()[
            "metadata"]["resourceVersion"]
        self.create_configmap("one", ns)
        self.create_configmap("two", ns)
        r = self.k("get", "--raw",
                   f"/api/v1/namespaces/{ns}/configmaps?watch=1&fieldSelector="
                   f"metadata.name%3Dtwo&resourceVersion={rv}&timeoutSeconds=1")
        self.assertEqual([(e["type"], e["object"]["metadata"]["name"])
                          for e in events_of(r.out)], [("ADDED", "two")], r.out)

    def test_watch_all_namespaces(self):
        ns1 = self.create_namespace("watch-all-1")
        ns2 = self.create_namespace("watch-all-2")
        w = self.cluster.spawn_kubectl("get", "configmaps", "-A", "--watch-only", "-o", "name",
                                       "-v=6")
        watch_established(w)
        self.create_configmap("c1", ns1)
        self.create_configmap("c2", ns2)
        w.wait_for(lambda t: "configmap/c1" in t and "configmap/c2" in t,
                   what="objects from both namespaces")
        w.stop()

    def test_initial_events_of_a_watch_without_resource_version(self):
        ns = self.create_namespace("watch-initial")
        for n in ["x1", "x2"]:
            self.create_configmap(n, ns)
        r = self.k("get", "--raw", f"/api/v1/namespaces/{ns}/configmaps?watch=1"
                                   "&timeoutSeconds=1")
        self.assertEqual(sorted((e["type"], e["object"]["metadata"]["name"])
                                for e in events_of(r.out)),
                         [("ADDED", "x1"), ("ADDED", "x2")], r.out)

    def test_send_initial_events_is_complete_or_refused(self):
        ns = self.create_namespace("watch-sie")
        self.create_configmap("s1", ns)
        self.create_configmap("s2", ns)
        resp = self.cluster.request(
            "GET", f"/api/v1/namespaces/{ns}/configmaps?watch=1&sendInitialEvents=true"
                   "&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"
                   "&timeoutSeconds=2")
        if 400 <= resp.status < 500:
            self.assertEqual(resp.json().get("kind"), "Status", str(resp))
            return
        self.assertEqual(resp.status, 200, str(resp))
        events = events_of(resp.body)
        self.assertEqual(sorted((e["type"], e["object"]["metadata"]["name"])
                                for e in events if e["type"] == "ADDED"),
                         [("ADDED", "s1"), ("ADDED", "s2")], resp.body)
        marks = [e for e in events if e["type"] == "BOOKMARK"]
        self.assertTrue(marks, f"sendInitialEvents ends the initial events with a bookmark\n"
                               f"{resp.body}")
        self.assertEqual(marks[0]["object"]["metadata"].get("annotations", {}).get(
            "k8s.io/initial-events-end"), "true", resp.body)
        self.assertLess(events.index(marks[0]), len(events))
        adds = [i for i, e in enumerate(events) if e["type"] == "ADDED"]
        self.assertLess(max(adds), events.index(marks[0]))

    def test_watch_with_bookmarks_allowed(self):
        ns = self.create_namespace("watch-bm")
        resp = self.cluster.request(
            "GET", f"/api/v1/namespaces/{ns}/configmaps?watch=1&allowWatchBookmarks=true"
                   "&timeoutSeconds=1")
        self.assertEqual(resp.status, 200, str(resp))
        for e in events_of(resp.body):
            self.assertIn(e["type"], ["ADDED", "MODIFIED", "DELETED", "BOOKMARK"])
            if e["type"] == "BOOKMARK":
                self.assertTrue(e["object"]["metadata"]["resourceVersion"].isdigit())
