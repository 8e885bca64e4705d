"""The container runtime's CLI end to end: `nave images`, `nave run`, `ps`, `logs`, `exec`, `rm`,
with images built by third-party tools (umoci, skopeo) from Debian's busybox-static, and a pull
through a registries.yaml mirror from Debian's docker-registry on loopback inside a network
namespace the test creates. Every data dir is the test's own and is removed afterwards, with
no mounts, cgroups or processes left behind."""

import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import harness



def test_images():
    return harness.busybox_images()


class RuntimeCliTest(unittest.TestCase):
    def setUp(self):
        self.data = tempfile.mkdtemp(prefix="nave-e2e-rt-")
        self.background = []

    def tearDown(self):
        for b in self.background:
            b.stop()
        # Remove whatever containers the test left, then check nothing remains.
        ps = self.nave("ps", "-a", check=False)
        for line in ps.stdout.splitlines()[1:]:
            self.nave("rm", "-f", line.split()[0], check=False)
        leftovers = self.leftovers()
        # The state tmpfs stays mounted by design (as /run/containerd): it ends with a reboot.
        subprocess.run(["umount", os.path.join(self.data, "agent", "run")], capture_output=True)
        shutil.rmtree(self.data, ignore_errors=True)
        self.assertEqual(leftovers, [], "the runtime left things behind")

    def leftovers(self):
        found = []
        with open("/proc/self/mountinfo") as f:
            for line in f:
                point = line.split()[4]
                if self.data in line and point != os.path.join(self.data, "agent", "run"):
                    found.append("mount: " + point)
        for root, dirs, _ in os.walk("/sys/fs/cgroup"):
            for d in dirs:
                p = os.path.join(root, d)
                if "/nave/" in p + "/" and os.path.basename(p).startswith("e2e-"):
                    found.append("cgroup: " + p)
            if root.count("/") > 6:
                dirs[:] = []
        r = subprocess.run(["pgrep", "-f", f"shim.*{self.data}"], capture_output=True, text=True)
        found += ["shim: " + p for p in r.stdout.split()]
        return found

    def nave(self, *args, check=True, timeout=120, input=None, ns=None):
        cmd = [harness.NAVE, *args]
        if args and args[0] in ("images",):
            cmd = [harness.NAVE, args[0], args[1], "--data-dir", self.data, *args[2:]]
        elif args:
            cmd = [harness.NAVE, args[0], "--data-dir", self.data, *args[1:]]
        if ns:
            # nsenter, not `ip netns exec`: that one remounts /sys, hiding the cgroup hierarchies.
            cmd = ["nsenter", f"--net=/run/netns/{ns}"] + cmd
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input)
        if check and r.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r

    def import_busybox(self):
        self.nave("images", "import", test_images()["docker"])

    def test_import_both_archive_formats(self):
        r = self.nave("images", "import", test_images()["docker"])
        self.assertIn("docker.io/library/busybox:latest", r.stdout)
        r = self.nave("images", "import", test_images()["oci"])
        ls = self.nave("images", "ls").stdout
        self.assertIn("docker.io/library/busybox", ls)
        inspect = json.loads(self.nave("images", "inspect", "busybox").stdout)
        self.assertTrue(inspect["id"].startswith("sha256:"))
        self.assertEqual(inspect["os"], "linux")

    def test_run_prints_output_and_exit_codes(self):
        self.import_busybox()
        r = self.nave("run", "--rm", "busybox", "echo", "hi")
        self.assertEqual(r.stdout, "hi\n")
        r = self.nave("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
        self.assertEqual(r.returncode, 3)
        self.assertEqual(r.stdout, "out\n")
        self.assertIn("err", r.stderr)
        r = self.nave("run", "--rm", "-e", "FOO=bar", "--user", "65534", "busybox", "sh", "-c",
                      "echo $FOO $(id -u) $(hostname) $$")
        foo, uid, hostname, pid = r.stdout.split()
        self.assertEqual((foo, uid, pid), ("bar", "65534", "1"))
        self.assertNotEqual(hostname, os.uname().nodename)
        self.assertEqual(self.nave("ps", "-a").stdout.splitlines()[1:], [], "--rm removed them")

    def test_rm_and_gc_free_blobs_and_unpacked_layers(self):
        self.import_busybox()
        self.nave("run", "--rm", "busybox", "true")
        layers = os.path.join(self.data, "agent", "snapshots", "layers")
        self.assertTrue(os.listdir(layers), "running unpacked the image's layer")
        self.nave("images", "rm", "busybox")
        r = self.nave("images", "gc")
        self.assertRegex(r.stdout, r"removed [1-9]\d* blobs .* and [1-9]\d* unpacked layers")
        self.assertEqual(os.listdir(layers), [])
        self.assertEqual(self.nave("images", "ls").stdout.splitlines()[1:], [])

    def test_memory_limit_oom_kills(self):
        self.import_busybox()
        r = self.nave("run", "--rm", "--memory", "32m", "busybox", "sh", "-c",
                      "dd if=/dev/zero of=/dev/null bs=128M count=1", check=False)
        self.assertEqual(r.returncode, 137, r.stderr)
        self.assertIn("OOM", r.stderr)

    def test_ps_logs_exec_rm_on_a_running_container(self):
        self.import_busybox()
        run = harness.Background([harness.NAVE, "run", "--data-dir", self.data, "--name",
                                  "e2e-long", "busybox", "sh", "-c", "echo started; sleep 300"],
                                 env=dict(os.environ))
        self.background.append(run)
        run.wait_for(lambda out: "started" in out, timeout=30, what="the container's first line")
        ps = self.nave("ps").stdout
        self.assertIn("e2e-long", ps)
        self.assertIn("Up", ps)
        self.assertEqual(self.nave("logs", "e2e-long").stdout, "started\n")
        r = self.nave("exec", "e2e-long", "sh", "-c", "echo inside; cat /proc/1/cmdline | tr '\\0' ' '")
        self.assertEqual(r.stdout.splitlines()[0], "inside")
        self.assertIn("sleep 300", r.stdout)
        r = self.nave("exec", "-i", "e2e-long", "cat", input="piped stdin\n")
        self.assertEqual(r.stdout, "piped stdin\n")
        self.assertEqual(self.nave("exec", "e2e-long", "sh", "-c", "exit 5", check=False).returncode, 5)
        r = self.nave("rm", "e2e-long", check=False)
        self.assertNotEqual(r.returncode, 0, "a running container is not removed without -f")
        self.nave("rm", "-f", "e2e-long")
        self.assertNotIn("e2e-long", self.nave("ps", "-a").stdout)

    def test_pull_through_a_registries_yaml_mirror(self):
        ns = f"nave-e2e-reg-{os.getpid()}"
        subprocess.run(["ip", "netns", "add", ns], check=True)
        self.addCleanup(subprocess.run, ["ip", "netns", "del", ns], capture_output=True)
        harness.register_cleanup(lambda: subprocess.run(["ip", "netns", "del", ns], capture_output=True))
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        store = os.path.join(self.data, "registry")
        os.makedirs(store)
        config = os.path.join(self.data, "registry.yml")
        with open(config, "w") as f:
            f.write("version: 0.1\nstorage: {filesystem: {rootdirectory: %s}}\n"
                    "http: {addr: 127.0.0.1:5000}\n" % store)
        registry = harness.Background(["ip", "netns", "exec", ns, "docker-registry", "serve", config],
                                      env=dict(os.environ))
        self.background.append(registry)
        deadline = time.time() + 20
        while True:
            r = subprocess.run(["ip", "netns", "exec", ns, "curl", "-sf", "http://127.0.0.1:5000/v2/"],
                               capture_output=True)
            if r.returncode == 0:
                break
            if time.time() > deadline:
                self.fail("docker-registry did not start: " + registry.err())
            time.sleep(0.2)
        subprocess.run(["ip", "netns", "exec", ns, "skopeo", "copy", "--dest-tls-verify=false",
                        "oci:" + test_images()["layout"] + ":latest",
                        "docker://127.0.0.1:5000/library/busybox:1.0"],
                       check=True, capture_output=True, timeout=120)
        registries = os.path.join(self.data, "registries.yaml")
        with open(registries, "w") as f:
            f.write('mirrors:\n  docker.io:\n    endpoint:\n      - "http://127.0.0.1:5000"\n')
        r = self.nave("images", "pull", "busybox:1.0", "--private-registry", registries, ns=ns)
        self.assertIn("docker.io/library/busybox:1.0", r.stdout)
        r = self.nave("run", "--rm", "--private-registry", registries, "busybox:1.0", "echo",
                      "mirrored", ns=ns)
        self.assertEqual(r.stdout, "mirrored\n")


if __name__ == "__main__":
    unittest.main()
