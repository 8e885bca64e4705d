#include "network/dns/zone.h"

#include <gtest/gtest.h>

namespace nave::dns {
namespace {

Question question(const std::string& name, uint16_t type) {
  return Question{name, lowercase(name), type, kClassIn};
}

Json service(const std::string& ns, const std::string& name, const std::string& clusterIp,
             Json ports = Json::array()) {
  return {{"metadata", {{"namespace", ns}, {"name", name}}},
          {"spec", {{"clusterIP", clusterIp}, {"clusterIPs", {clusterIp}}, {"ports", ports}}}};
}

Json slice(const std::string& ns, const std::string& svc, Json endpoints,
           Json ports = Json::array()) {
  return {{"metadata",
           {{"namespace", ns},
            {"name", svc + "-abc"},
            {"labels", {{"kubernetes.io/service-name", svc}}}}},
          {"addressType", "IPv4"},
          {"endpoints", endpoints},
          {"ports", ports}};
}

Json endpoint(const std::string& ip, bool ready, const std::string& hostname = "") {
  Json e = {{"addresses", {ip}}, {"conditions", {{"ready", ready}}}};
  if (!hostname.empty()) e["hostname"] = hostname;
  return e;
}

std::vector<std::string> rdatas(const std::vector<Record>& records) {
  std::vector<std::string> out;
  for (const Record& r : records) out.push_back(r.rdata);
  return out;
}

class ClusterZoneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Json web = service("default", "web", "10.43.0.20",
                       Json::array({{{"name", "http"}, {"port", 80}, {"protocol", "TCP"}}}));
    zone_.setService("default/web", &web);
    Json db = service("default", "db", "None", Json::array({{{"name", "pg"}, {"port", 5432}}}));
    zone_.setService("default/db", &db);
    Json s = slice("default", "db",
                   Json::array({endpoint("10.42.0.5", true, "db-0"), endpoint("10.42.0.6", true),
                                endpoint("10.42.0.7", false, "db-2")}),
                   Json::array({{{"name", "pg"}, {"port", 5433}, {"protocol", "TCP"}}}));
    zone_.setEndpointSlice("default/db-abc", &s);
    Json ext = {{"metadata", {{"namespace", "other"}, {"name", "ext"}}},
                {"spec", {{"type", "ExternalName"}, {"externalName", "Example.COM"}}}};
    zone_.setService("other/ext", &ext);
  }
  Answer look(const std::string& name, uint16_t type) {
    auto a = zone_.lookup(question(name, type));
    EXPECT_TRUE(a.has_value()) << name;
    return a.value_or(Answer{});
  }
  ClusterZone zone_{"cluster.local", "10.43.0.10"};
};

TEST_F(ClusterZoneTest, ServiceHasItsClusterIp) {
  Answer a = look("web.default.svc.cluster.local", kTypeA);
  EXPECT_EQ(a.rcode, kNoError);
  EXPECT_TRUE(a.authoritative);
  ASSERT_EQ(a.answer.size(), 1u);
  EXPECT_EQ(a.answer[0].rdata, rdataA(0x0a2b0014));
  EXPECT_EQ(a.answer[0].ttl, 5u);
  // Case-insensitive, the owner as asked.
  a = look("WEB.Default.svc.Cluster.Local", kTypeA);
  ASSERT_EQ(a.answer.size(), 1u);
  EXPECT_EQ(a.answer[0].name, "WEB.Default.svc.Cluster.Local");
}

TEST_F(ClusterZoneTest, NoDataAndNxDomainCarryTheSoa) {
  Answer a = look("web.default.svc.cluster.local", kTypeAaaa);
  EXPECT_EQ(a.rcode, kNoError);
  EXPECT_TRUE(a.answer.empty());
  ASSERT_EQ(a.authority.size(), 1u);
  EXPECT_EQ(a.authority[0].type, kTypeSoa);
  EXPECT_EQ(look("nope.default.svc.cluster.local", kTypeA).rcode, kNxDomain);
  EXPECT_EQ(look("nope.default.svc.cluster.local", kTypeA).authority.size(), 1u);
  // Names that exist only as prefixes of others.
  EXPECT_EQ(look("default.svc.cluster.local", kTypeA).rcode, kNoError);
  EXPECT_EQ(look("svc.cluster.local", kTypeA).rcode, kNoError);
  EXPECT_EQ(look("_tcp.web.default.svc.cluster.local", kTypeA).rcode, kNoError);
  EXPECT_EQ(look("nons.svc.cluster.local", kTypeA).rcode, kNxDomain);
  EXPECT_EQ(look("a.web.default.svc.cluster.local", kTypeA).rcode, kNxDomain);
  EXPECT_EQ(look("x.y.web.default.svc.cluster.local", kTypeA).rcode, kNxDomain);
  EXPECT_EQ(look("foo.cluster.local", kTypeA).rcode, kNxDomain);
  // Outside the zone: not ours.
  EXPECT_FALSE(zone_.lookup(question("example.com", kTypeA)));
  EXPECT_FALSE(zone_.lookup(question("notcluster.local", kTypeA)));
}

TEST_F(ClusterZoneTest, HeadlessServiceHasItsReadyEndpoints) {
  Answer a = look("db.default.svc.cluster.local", kTypeA);
  EXPECT_EQ(rdatas(a.answer), (std::vector<std::string>{rdataA(0x0a2a0005), rdataA(0x0a2a0006)}));
  a = look("db-0.db.default.svc.cluster.local", kTypeA);
  EXPECT_EQ(rdatas(a.answer), std::vector<std::string>{rdataA(0x0a2a0005)});
  a = look("10-42-0-6.db.default.svc.cluster.local", kTypeA);
  EXPECT_EQ(rdatas(a.answer), std::vector<std::string>{rdataA(0x0a2a0006)});
  EXPECT_EQ(look("db-2.db.default.svc.cluster.local", kTypeA).rcode, kNxDomain);  // not ready

  Json db = service("default", "db", "None", Json::array({{{"name", "pg"}, {"port", 5432}}}));
  db["spec"]["publishNotReadyAddresses"] = true;
  zone_.setService("default/db", &db);
  EXPECT_EQ(look("db.default.svc.cluster.local", kTypeA).answer.size(), 3u);
  EXPECT_EQ(look("db-2.db.default.svc.cluster.local", kTypeA).answer.size(), 1u);

  // Without endpoints a headless Service has no records, and CoreDNS answers NXDOMAIN.
  zone_.setEndpointSlice("default/db-abc", nullptr);
  EXPECT_EQ(look("db.default.svc.cluster.local", kTypeA).rcode, kNxDomain);
  EXPECT_EQ(look("_pg._tcp.db.default.svc.cluster.local", kTypeSrv).rcode, kNxDomain);
}

TEST_F(ClusterZoneTest, EndpointsOfClusterIpServicesHaveNamesAndPtrs) {
  Json s = slice("default", "web", Json::array({endpoint("10.42.0.30", true)}));
  s["metadata"]["name"] = "web-abc";
  zone_.setEndpointSlice("default/web-abc", &s);
  EXPECT_EQ(rdatas(look("web.default.svc.cluster.local", kTypeA).answer),
            std::vector<std::string>{rdataA(0x0a2b0014)});
  EXPECT_EQ(rdatas(look("10-42-0-30.web.default.svc.cluster.local", kTypeA).answer),
            std::vector<std::string>{rdataA(0x0a2a001e)});
  EXPECT_EQ(rdatas(look("30.0.42.10.in-addr.arpa", kTypePtr).answer),
            std::vector<std::string>{rdataName("10-42-0-30.web.default.svc.cluster.local")});
}

TEST_F(ClusterZoneTest, NamespacesExistWithTheirObjectOrTheirServices) {
  EXPECT_EQ(look("empty.svc.cluster.local", kTypeA).rcode, kNxDomain);
  EXPECT_EQ(look("10-42-0-9.empty.pod.cluster.local", kTypeA).rcode, kNxDomain);
  zone_.setNamespace("empty", true);
  EXPECT_EQ(look("empty.svc.cluster.local", kTypeA).rcode, kNoError);
  EXPECT_EQ(look("empty.pod.cluster.local", kTypeA).rcode, kNoError);
  EXPECT_EQ(look("10-42-0-9.empty.pod.cluster.local", kTypeA).answer.size(), 1u);
  zone_.setNamespace("empty", false);
  EXPECT_EQ(look("empty.pod.cluster.local", kTypeA).rcode, kNxDomain);
}

TEST_F(ClusterZoneTest, HeadlessEndpointsComeFromEverySliceOfTheService) {
  Json second = slice("default", "db", Json::array({endpoint("10.42.1.8", true)}));
  second["metadata"]["name"] = "db-def";
  zone_.setEndpointSlice("default/db-def", &second);
  EXPECT_EQ(look("db.default.svc.cluster.local", kTypeA).answer.size(), 3u);
  // The slice moves to another Service (its label changed): db loses its endpoint.
  second["metadata"]["labels"]["kubernetes.io/service-name"] = "web";
  zone_.setEndpointSlice("default/db-def", &second);
  EXPECT_EQ(look("db.default.svc.cluster.local", kTypeA).answer.size(), 2u);
  EXPECT_EQ(look("10-42-1-8.db.default.svc.cluster.local", kTypeA).rcode, kNxDomain);
  EXPECT_EQ(rdatas(look("8.1.42.10.in-addr.arpa", kTypePtr).answer),
            std::vector<std::string>{rdataName("10-42-1-8.web.default.svc.cluster.local")});
}

TEST_F(ClusterZoneTest, SrvForNamedPorts) {
  Answer a = look("_http._tcp.web.default.svc.cluster.local", kTypeSrv);
  ASSERT_EQ(a.answer.size(), 1u);
  EXPECT_EQ(a.answer[0].rdata, rdataSrv(0, 100, 80, "web.default.svc.cluster.local"));
  ASSERT_EQ(a.additional.size(), 1u);
  EXPECT_EQ(a.additional[0].rdata, rdataA(0x0a2b0014));
  EXPECT_EQ(look("_http._udp.web.default.svc.cluster.local", kTypeSrv).rcode, kNxDomain);
  EXPECT_EQ(look("_http._tcp.web.default.svc.cluster.local", kTypeA).rcode, kNoError);

  // Headless: one per endpoint, its own port, its name as target.
  a = look("_pg._tcp.db.default.svc.cluster.local", kTypeSrv);
  EXPECT_EQ(
      rdatas(a.answer),
      (std::vector<std::string>{rdataSrv(0, 50, 5433, "db-0.db.default.svc.cluster.local"),
                                rdataSrv(0, 50, 5433, "10-42-0-6.db.default.svc.cluster.local")}));
  EXPECT_EQ(a.additional.size(), 2u);
  // SRV at the service's own name: every named port.
  EXPECT_EQ(look("web.default.svc.cluster.local", kTypeSrv).answer.size(), 1u);
}

TEST_F(ClusterZoneTest, PtrForClusterIpsAndHeadlessEndpoints) {
  Answer a = look("20.0.43.10.in-addr.arpa", kTypePtr);
  EXPECT_EQ(rdatas(a.answer), std::vector<std::string>{rdataName("web.default.svc.cluster.local")});
  a = look("5.0.42.10.in-addr.arpa", kTypePtr);
  EXPECT_EQ(rdatas(a.answer),
            std::vector<std::string>{rdataName("db-0.db.default.svc.cluster.local")});
  EXPECT_FALSE(zone_.lookup(question("9.9.9.9.in-addr.arpa", kTypePtr)));  // forwarded
  zone_.setService("default/web", nullptr);
  EXPECT_FALSE(zone_.lookup(question("20.0.43.10.in-addr.arpa", kTypePtr)));
  EXPECT_EQ(look("web.default.svc.cluster.local", kTypeA).rcode, kNxDomain);
}

TEST_F(ClusterZoneTest, ExternalNameIsACname) {
  Answer a = look("ext.other.svc.cluster.local", kTypeA);
  ASSERT_EQ(a.answer.size(), 1u);
  EXPECT_EQ(a.answer[0].type, kTypeCname);
  EXPECT_EQ(a.answer[0].rdata, rdataName("example.com"));
}

TEST_F(ClusterZoneTest, PodRecordsAndTheZoneApex) {
  Answer a = look("10-42-0-9.default.pod.cluster.local", kTypeA);
  EXPECT_EQ(rdatas(a.answer), std::vector<std::string>{rdataA(0x0a2a0009)});
  EXPECT_EQ(look("10-42-0-9.default.pod.cluster.local", kTypeAaaa).rcode, kNoError);
  EXPECT_EQ(look("10-42-0-999.default.pod.cluster.local", kTypeA).rcode, kNxDomain);
  EXPECT_EQ(look("default.pod.cluster.local", kTypeA).rcode, kNoError);
  a = look("cluster.local", kTypeSoa);
  ASSERT_EQ(a.answer.size(), 1u);
  EXPECT_EQ(a.answer[0].type, kTypeSoa);
  a = look("cluster.local", kTypeNs);
  EXPECT_EQ(rdatas(a.answer), std::vector<std::string>{rdataName("ns.dns.cluster.local")});
  EXPECT_EQ(rdatas(a.additional), std::vector<std::string>{rdataA(0x0a2b000a)});
  EXPECT_EQ(rdatas(look("ns.dns.cluster.local", kTypeA).answer),
            std::vector<std::string>{rdataA(0x0a2b000a)});
}

TEST_F(ClusterZoneTest, NodeNamesResolveAsK3sNodeHosts) {
  Json node = {
      {"metadata", {{"name", "node-a"}}},
      {"status",
       {{"addresses", Json::array({{{"type", "Hostname"}, {"address", "node-a"}},
                                   {{"type", "InternalIP"}, {"address", "192.168.5.4"}}})}}}};
  zone_.setNode("node-a", &node);
  Answer a = look("Node-A", kTypeA);
  ASSERT_EQ(a.answer.size(), 1u);
  EXPECT_EQ(a.answer[0].rdata, rdataA(0xc0a80504));
  EXPECT_EQ(a.answer[0].ttl, 60u);
  EXPECT_TRUE(look("node-a", kTypeAaaa).answer.empty());
  EXPECT_EQ(rdatas(look("4.5.168.192.in-addr.arpa", kTypePtr).answer),
            std::vector<std::string>{rdataName("node-a")});
  zone_.setNode("node-a", nullptr);
  EXPECT_FALSE(zone_.lookup(question("node-a", kTypeA)));
}

TEST(ParseIpv4, AcceptsDottedQuadsOnly) {
  EXPECT_EQ(parseIpv4("10.43.0.10"), 0x0a2b000au);
  for (const char* bad :
       {"", "10.43.0", "10.43.0.256", "10.43.0.1.2", "a.b.c.d", "01.2.3.4", "1..2.3"})
    EXPECT_FALSE(parseIpv4(bad)) << bad;
}

}  // namespace
}  // namespace nave::dns
