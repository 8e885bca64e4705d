// writePodFiles and podHostname: /etc/hosts, /etc/hostname and /etc/resolv.conf of a pod.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <filesystem>

#include "runtime/agent/pod/pod_spec.h"
#include "tests/runtime/agent/pod/test_support.h"

namespace nave::agent {
namespace {

using testing::basePod;
using testing::modeOf;
using testing::readFile;
using testing::ScratchDir;
using testing::writeFile;

constexpr const char* kLocalhostEntries =
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "fe00::0\tip6-mcastprefix\n"
    "fe00::1\tip6-allnodes\n"
    "fe00::2\tip6-allrouters\n";

class PodFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pod_ = basePod();
    facts_.hostIp = "192.168.1.10";
    facts_.podIps = {"10.42.0.5"};
    dns_.clusterDns = "10.43.0.10";
    dns_.clusterDomain = "cluster.local";
    dns_.hostResolvConf = scratch_ / "host-resolv.conf";
    dns_.hostHosts = scratch_ / "host-hosts";
    writeFile(dns_.hostResolvConf,
              "# the node's\nnameserver 8.8.8.8\nsearch example.com. corp.example.com\n"
              "nameserver\t1.1.1.1\noptions timeout:1 rotate\n");
    writeFile(dns_.hostHosts, "127.0.0.1 localhost\n192.168.1.10 node-a\n");
  }

  PodFilePaths write() {
    auto r = writePodFiles(scratch_ / "pods", pod_, facts_, dns_);
    EXPECT_TRUE(r.ok()) << r.error().message();
    return r.ok() ? *r : PodFilePaths{};
  }
  std::string error() {
    auto r = writePodFiles(scratch_ / "pods", pod_, facts_, dns_);
    EXPECT_FALSE(r.ok());
    return r.ok() ? "" : r.error().message();
  }
  std::string resolv() { return readFile(write().resolvConf); }

  ScratchDir scratch_;
  Json pod_;
  PodFacts facts_;
  DnsSettings dns_;
};

TEST_F(PodFilesTest, ManagedHostsFile) {
  PodFilePaths paths = write();
  std::string podDir = scratch_ / "pods/uid-1";
  EXPECT_EQ(paths.podDir, podDir);
  EXPECT_EQ(paths.hosts, podDir + "/etc-hosts");
  EXPECT_EQ(paths.hostname, podDir + "/etc-hostname");
  EXPECT_EQ(paths.resolvConf, podDir + "/resolv.conf");
  EXPECT_EQ(readFile(paths.hosts), std::string("# Kubernetes-managed hosts file.\n") +
                                       kLocalhostEntries + "10.42.0.5\tweb\n");
  EXPECT_EQ(modeOf(paths.hosts), 0644u);
  EXPECT_EQ(modeOf(podDir), 0750u);
}

TEST_F(PodFilesTest, HostsFileWithSubdomainDualStackAndAliases) {
  pod_["spec"]["hostname"] = "db-0";
  pod_["spec"]["subdomain"] = "db";
  pod_["spec"]["hostAliases"] =
      Json::parse(R"([{"ip": "1.2.3.4", "hostnames": ["foo.local", "bar.local"]},
                                                {"ip": "::5", "hostnames": ["six"]}])");
  facts_.podIps = {"10.42.0.5", "fd00::5"};
  EXPECT_EQ(readFile(write().hosts), std::string("# Kubernetes-managed hosts file.\n") +
                                         kLocalhostEntries +
                                         "10.42.0.5\tdb-0.db.ns1.svc.cluster.local\tdb-0\n"
                                         "fd00::5\tdb-0.db.ns1.svc.cluster.local\tdb-0\n"
                                         "\n# Entries added by HostAliases.\n"
                                         "1.2.3.4\tfoo.local\tbar.local\n"
                                         "::5\tsix\n");
}

TEST_F(PodFilesTest, HostNetworkPodsGetTheNodesHostsFile) {
  pod_["spec"]["hostNetwork"] = true;
  pod_["spec"]["hostAliases"] = Json::parse(R"([{"ip": "1.2.3.4", "hostnames": ["foo"]}])");
  facts_.podIps = {""};
  PodFilePaths paths = write();
  EXPECT_EQ(readFile(paths.hosts),
            "# Kubernetes-managed hosts file (host network).\n"
            "127.0.0.1 localhost\n192.168.1.10 node-a\n"
            "\n# Entries added by HostAliases.\n1.2.3.4\tfoo\n");
  char host[HOST_NAME_MAX + 1] = {};
  ::gethostname(host, sizeof host - 1);
  EXPECT_EQ(readFile(paths.hostname), std::string(host) + "\n");
  EXPECT_EQ(*podHostname(pod_, dns_), host);
}

TEST_F(PodFilesTest, NoHostsFileBeforeThePodHasAnIp) {
  facts_.podIps = {""};
  PodFilePaths paths = write();
  EXPECT_TRUE(paths.hosts.empty());
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "pods/uid-1/etc-hosts"));
  EXPECT_EQ(readFile(paths.hostname), "web\n");
  pod_["status"] = {{"podIP", "10.9.9.9"}};
  facts_.podIps.clear();
  EXPECT_NE(readFile(write().hosts).find("10.9.9.9\tweb\n"), std::string::npos)
      << "the status' IP when the facts have none";
}

TEST_F(PodFilesTest, Hostnames) {
  EXPECT_EQ(*podHostname(pod_, dns_), "web");
  pod_["spec"]["hostname"] = "db-0";
  EXPECT_EQ(readFile(write().hostname), "db-0\n");
  pod_["spec"]["subdomain"] = "db";
  EXPECT_EQ(*podHostname(pod_, dns_), "db-0") << "the short name unless setHostnameAsFQDN";
  pod_["spec"]["setHostnameAsFQDN"] = true;
  EXPECT_EQ(*podHostname(pod_, dns_), "db-0.db.ns1.svc.cluster.local");
  EXPECT_EQ(readFile(write().hostname), "db-0.db.ns1.svc.cluster.local\n");

  pod_["spec"]["hostname"] = std::string(40, 'h');
  auto tooLong = podHostname(pod_, dns_);
  ASSERT_FALSE(tooLong.ok());
  EXPECT_EQ(tooLong.error().message(),
            "failed to construct FQDN from pod hostname and cluster domain, FQDN " +
                std::string(40, 'h') +
                ".db.ns1.svc.cluster.local is too long (64 characters is "
                "the max, 65 characters requested)");

  pod_["spec"] = {{"containers", Json::array()}};
  pod_["metadata"]["name"] = std::string(61, 'a') + "-.cdef";
  EXPECT_EQ(*podHostname(pod_, dns_), std::string(61, 'a'))
      << "63 characters, no trailing '-' or '.'";
  pod_["metadata"]["name"] = std::string(60, 'a') + "-b.-cdef";
  EXPECT_EQ(*podHostname(pod_, dns_), std::string(60, 'a') + "-b");
  pod_["spec"]["hostname"] = "Not_A_Label";
  EXPECT_TRUE(
      podHostname(pod_, dns_)
          .error()
          .message()
          .starts_with(
              "pod Hostname \"Not_A_Label\" is not a valid DNS label: a lowercase RFC 1123 label"));
  pod_["spec"]["hostname"] = "ok";
  pod_["spec"]["subdomain"] = "-bad";
  EXPECT_NE(error().find("pod Subdomain \"-bad\" is not a valid DNS label"), std::string::npos);
}

TEST_F(PodFilesTest, ResolvConfClusterFirst) {
  EXPECT_EQ(resolv(),
            "search ns1.svc.cluster.local svc.cluster.local cluster.local example.com "
            "corp.example.com\n"
            "nameserver 10.43.0.10\n"
            "options ndots:5\n");
  pod_["spec"]["hostNetwork"] = true;
  pod_["spec"]["dnsPolicy"] = "ClusterFirstWithHostNet";
  EXPECT_NE(resolv().find("nameserver 10.43.0.10\n"), std::string::npos);
  dns_.clusterDns = "10.43.0.10, fd00:43::a";
  EXPECT_NE(resolv().find("nameserver 10.43.0.10\nnameserver fd00:43::a\n"), std::string::npos);
}

TEST_F(PodFilesTest, ResolvConfFromTheNode) {
  const std::string node =
      "search example.com corp.example.com\n"
      "nameserver 8.8.8.8\nnameserver 1.1.1.1\n"
      "options timeout:1 rotate\n";
  pod_["spec"]["dnsPolicy"] = "Default";
  EXPECT_EQ(resolv(), node);
  pod_["spec"]["dnsPolicy"] = "ClusterFirst";
  pod_["spec"]["hostNetwork"] = true;
  EXPECT_EQ(resolv(), node) << "ClusterFirst on the host network falls back to Default";
  pod_["spec"].erase("hostNetwork");
  dns_.clusterDns.clear();
  EXPECT_EQ(resolv(), node) << "no cluster DNS server: Default";
  dns_.hostResolvConf.clear();
  EXPECT_EQ(resolv(), "search .\nnameserver 127.0.0.1\n") << "no node file: the local resolver";
  facts_.hostIp = "fd00::1";
  EXPECT_EQ(resolv(), "search .\nnameserver ::1\n");
}

TEST_F(PodFilesTest, ResolvConfNoneAndDnsConfig) {
  pod_["spec"]["dnsPolicy"] = "None";
  pod_["spec"]["dnsConfig"] =
      Json::parse(R"({"nameservers": ["1.2.3.4", "1.2.3.4"], "searches": ["a.b"],
      "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]})");
  EXPECT_EQ(resolv(), "search a.b\nnameserver 1.2.3.4\noptions ndots:2 edns0\n");
  pod_["spec"]["dnsPolicy"] = "ClusterFirst";
  pod_["spec"]["dnsConfig"] =
      Json::parse(R"({"nameservers": ["9.9.9.9"], "searches": ["ns1.svc.cluster.local", "x.y"],
      "options": [{"name": "ndots", "value": "1"}, {"name": "single-request"}]})");
  EXPECT_EQ(resolv(),
            "search ns1.svc.cluster.local svc.cluster.local cluster.local example.com "
            "corp.example.com x.y\n"
            "nameserver 10.43.0.10\nnameserver 9.9.9.9\n"
            "options ndots:1 single-request\n");
}

TEST_F(PodFilesTest, ResolvConfLimits) {
  pod_["spec"]["dnsPolicy"] = "None";
  Json searches = Json::array();
  for (int i = 0; i < 40; ++i) searches.push_back("s" + std::to_string(i) + ".example");
  pod_["spec"]["dnsConfig"] = {{"nameservers", {"1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"}},
                               {"searches", searches}};
  std::string content = resolv();
  EXPECT_NE(content.find("nameserver 3.3.3.3\n"), std::string::npos);
  EXPECT_EQ(content.find("4.4.4.4"), std::string::npos) << "at most 3 nameservers";
  EXPECT_NE(content.find(" s31.example\n"), std::string::npos);
  EXPECT_EQ(content.find("s32.example"), std::string::npos) << "at most 32 search paths";

  std::string longName(254, 'l');
  Json big = Json::array({longName});
  for (int i = 0; i < 12; ++i) big.push_back(std::string(200, static_cast<char>('a' + i)));
  pod_["spec"]["dnsConfig"] = {{"nameservers", {"1.1.1.1"}}, {"searches", big}};
  content = resolv();
  std::string searchLine = content.substr(0, content.find('\n'));
  EXPECT_EQ(searchLine.find(longName), std::string::npos) << "over 253 characters: dropped";
  EXPECT_LE(searchLine.size() - 7, 2048u);
  EXPECT_NE(searchLine.find(std::string(200, 'j')), std::string::npos);
  EXPECT_EQ(searchLine.find(std::string(200, 'k')), std::string::npos)
      << "cut from the end to 2048 characters";
}

TEST_F(PodFilesTest, ResolvConfEdgeCases) {
  writeFile(dns_.hostResolvConf, "# nothing here\n");
  pod_["spec"]["dnsPolicy"] = "Default";
  EXPECT_EQ(resolv(), "# nothing here\n") << "nothing to write: the node's file, as containerd";
  writeFile(dns_.hostResolvConf, "nameserver\n");
  EXPECT_EQ(error(), "nameserver list is empty ");
  dns_.hostResolvConf = scratch_ / "missing";
  EXPECT_NE(error().find("missing"), std::string::npos);
}

TEST_F(PodFilesTest, RewritesInPlaceOnlyWhenChanged) {
  PodFilePaths paths = write();
  struct stat before {
  }, after{};
  ::stat(paths.hosts.c_str(), &before);
  write();
  facts_.podIps = {"10.42.0.6"};
  write();
  ::stat(paths.hosts.c_str(), &after);
  EXPECT_EQ(before.st_ino, after.st_ino) << "containers bind-mount the file";
  EXPECT_NE(readFile(paths.hosts).find("10.42.0.6\tweb"), std::string::npos);
  pod_["metadata"]["uid"] = "";
  EXPECT_NE(error().find("pod has no usable metadata.uid"), std::string::npos);
}

}  // namespace
}  // namespace nave::agent
