"""The nave command line: help, version, flag errors, --config, and `nave kubectl`."""

import os
import subprocess
import unittest

import harness
from harness import SERVER_VERSION, ClusterTestCase, parse_table

K3S_SERVER_FLAGS = ["--data-dir", "--write-kubeconfig", "--write-kubeconfig-mode",
                    "--https-listen-port", "--bind-address", "--advertise-address", "--tls-san",
                    "--node-name", "--cluster-cidr", "--service-cidr", "--cluster-dns",
                    "--cluster-domain", "--disable-agent", "--token", "--config"]


def nave(*args, timeout=20):
    harness.require_environment()
    return subprocess.run([harness.NAVE, *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


class CommandLineTest(unittest.TestCase):

    def test_help(self):
        r = nave("--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        for word in ["server", "kubectl", "version"]:
            self.assertIn(word, r.stdout)

    def test_server_help_has_k3s_flag_names(self):
        r = nave("server", "--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        for flag in K3S_SERVER_FLAGS:
            self.assertIn(flag, r.stdout)
        for default in ["/var/lib/nave", "/etc/nave/nave.yaml", "6443", "10.42.0.0/16",
                        "10.43.0.0/16", "10.43.0.10", "cluster.local"]:
            self.assertIn(default, r.stdout)

    def test_agent_help_and_required_flags(self):
        r = nave("agent", "--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        for flag in ["--server", "--token", "--token-file", "--node-name", "--node-ip",
                     "--data-dir", "--node-label"]:
            self.assertIn(flag, r.stdout)
        r = nave("agent")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--server and --token", r.stderr)
        r = nave("agent", "--server", "https://127.0.0.1:1", "--token", "K10nothex::server:x")
        self.assertEqual(r.returncode, 2)
        self.assertIn("malformed token", r.stderr)
        r = nave("agent", "--server", "http://127.0.0.1:1", "--token", "x")
        self.assertEqual(r.returncode, 2)
        self.assertIn("https://", r.stderr)

    def test_server_rejects_an_unknown_flannel_backend(self):
        r = nave("server", "--flannel-backend", "wireguard")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown backend", r.stderr)

    def test_version(self):
        r = nave("version")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(SERVER_VERSION, r.stdout)

    def test_bad_flags_exit_2(self):
        for args in [["server", "--no-such-flag"], ["server", "--https-listen-port", "abc"],
                     ["server", "--https-listen-port"], ["server", "--disable-agent=maybe"],
                     ["no-such-command"]]:
            with self.subTest(args=args):
                r = nave(*args)
                self.assertEqual(r.returncode, 2, f"{r.stdout}\n{r.stderr}")
                self.assertTrue(r.stderr.strip(), "a message says what is wrong")


class ConfiguredServerTest(ClusterTestCase):
    """Flags from --config (YAML with the flag names as keys) and on the command line."""

    server_config = ("https-listen-port: 7443\n"
                     "tls-san:\n  - nave.example.test\n  - 10.99.0.7\n"
                     "cluster-domain: example.local\n")
    server_args = ("--write-kubeconfig-mode", "0640")

    def test_config_file_port_and_kubeconfig(self):
        import yaml
        with open(self.cluster.kubeconfig) as f:
            cfg = yaml.safe_load(f)
        self.assertEqual(cfg["clusters"][0]["cluster"]["server"], "https://127.0.0.1:7443")
        self.assertEqual(oct(os.stat(self.cluster.kubeconfig).st_mode & 0o777), "0o640")
        _, rows = parse_table(self.k("get", "ns").out)
        self.assertIn("kube-system", [r["NAME"] for r in rows])

    def test_serving_certificate_names(self):
        sock = self.cluster.tls_socket()
        try:
            cert = sock.getpeercert()
        finally:
            sock.close()
        sans = {v for _, v in cert.get("subjectAltName", ())}
        for name in ["localhost", "127.0.0.1", "nave.example.test", "10.99.0.7",
                     self.cluster.node_ip]:
            self.assertIn(name, sans)

    def test_log_says_where_the_kubeconfig_is(self):
        with open(self.cluster.log_path) as f:
            self.assertIn(self.cluster.kubeconfig, f.read())

    def test_nave_kubectl(self):
        r = self.cluster.run([harness.NAVE, "kubectl", "get", "ns", "default", "-o", "name"])
        self.assertEqual(r.out.strip(), "namespace/default")
