"""`nave uninstall` on a stopped node: containers, network setup, mounts and data are gone, and
nothing that is not nave's is touched."""

import os
import subprocess
import unittest

import harness


def busybox_archive():
    return [harness.busybox_images()["docker"]]


class UninstallTest(harness.ClusterTestCase):
    agent = True
    images = busybox_archive
    expect_server_down = True  # the test stops it

    def sleepers(self):
        """Processes running the pod's unusual command line."""
        found = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if f.read() == b"sleep\x0036013\x00":
                        found.append(pid)
            except OSError:
                continue
        return found

    def test_uninstall_removes_what_the_node_set_up(self):
        c = self.cluster
        node = "node-" + c.name.lower()[:40]
        self.k("run", "sleeper", "--image=busybox", "--image-pull-policy=IfNotPresent",
               f"--overrides={{\"spec\": {{\"nodeName\": \"{node}\"}}}}", "--", "sleep", "36013")
        self.k("wait", "--for=condition=Ready", "pod/sleeper", "--timeout=120s", timeout=130)
        self.assertTrue(self.sleepers())
        # Something of another program's in the same namespace stays.
        c.run(["nft", "add", "table", "ip", "someone-else"])
        c.run(["ip", "link", "add", "other0", "type", "bridge"])
        self.assertIn("nave0", c.run(["ip", "link", "show"]).out)

        c.stop_server()
        r = subprocess.run(["nsenter", f"--net=/run/netns/{c.ns}", harness.NAVE, "uninstall",
                            "--data-dir", c.data_dir], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)

        tables = c.run(["nft", "list", "tables"]).out
        self.assertNotIn("nave", tables)
        self.assertIn("someone-else", tables)
        links = c.run(["ip", "link", "show"]).out
        self.assertNotIn("nave0", links)
        self.assertIn("other0", links)
        with open("/proc/self/mountinfo") as f:
            self.assertFalse([l for l in f if c.data_dir in l])
        self.assertFalse(os.path.exists(c.data_dir))
        self.assertEqual(self.sleepers(), [])


if __name__ == "__main__":
    unittest.main()
