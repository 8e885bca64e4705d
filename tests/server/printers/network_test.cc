#include <gtest/gtest.h>

#include "tests/server/printers/print_testing.h"

namespace nave::printers {
namespace {

using testing::columns;
using testing::json;
using testing::row;
using Names = std::vector<std::string>;

TEST(ServicePrinter, ClusterIPService) {
  EXPECT_EQ(columns("", "Service"),
            (Names{"Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector*"}));
  EXPECT_EQ(row("", "Service", json(R"({
    "metadata":{"name":"kubernetes","namespace":"default","creationTimestamp":"2025-01-03T12:00:00Z"},
    "spec":{"type":"ClusterIP","clusterIP":"10.43.0.1","clusterIPs":["10.43.0.1"],
      "ports":[{"name":"https","port":443,"protocol":"TCP","targetPort":6443}]}})")),
            json(R"(["kubernetes","ClusterIP","10.43.0.1","<none>","443/TCP","7d","<none>"])"));
}

TEST(ServicePrinter, NodePortWithSelector) {
  EXPECT_EQ(row("", "Service", json(R"({"metadata":{"name":"dns"},
    "spec":{"type":"NodePort","clusterIPs":["10.43.0.10","fd00:43::a"],
      "externalIPs":["192.0.2.1","192.0.2.2"],
      "selector":{"k8s-app":"kube-dns","tier":"system"},
      "ports":[{"port":80,"nodePort":30080,"protocol":"TCP"},{"port":53,"protocol":"UDP"},
               {"port":9153}]}})")),
            json(R"(["dns","NodePort","10.43.0.10","192.0.2.1,192.0.2.2",
                     "80:30080/TCP,53/UDP,9153/TCP","<unknown>","k8s-app=kube-dns,tier=system"])"));
}

TEST(ServicePrinter, LoadBalancerAddresses) {
  auto external = [](std::string_view spec, std::string_view status) {
    Json svc = json(R"({"metadata":{"name":"lb"}})");
    svc["spec"] = json(spec);
    svc["status"] = json(status);
    return row("", "Service", svc)[3].get<std::string>();
  };
  EXPECT_EQ(external(R"({"type":"LoadBalancer"})", "{}"), "<pending>");
  // Sorted, de-duplicated, and never clipped: the server prints as for -o wide.
  EXPECT_EQ(external(R"({"type":"LoadBalancer"})", R"({"loadBalancer":{"ingress":[
    {"ip":"203.0.113.9"},{"hostname":"lb.example.com"},{"ip":"198.51.100.2"},
    {"ip":"203.0.113.9"}]}})"),
            "198.51.100.2,203.0.113.9,lb.example.com");
  EXPECT_EQ(external(R"({"type":"LoadBalancer","externalIPs":["192.0.2.10"]})",
                     R"({"loadBalancer":{"ingress":[{"ip":"203.0.113.9"}]}})"),
            "203.0.113.9,192.0.2.10");
  EXPECT_EQ(external(R"({"type":"LoadBalancer","externalIPs":["192.0.2.10"]})", "{}"),
            "192.0.2.10");
  EXPECT_EQ(external(R"({"type":"Bogus"})", "{}"), "<unknown>");
}

TEST(ServicePrinter, ExternalNameAndHeadless) {
  EXPECT_EQ(row("", "Service", json(R"({"metadata":{"name":"db"},
    "spec":{"type":"ExternalName","externalName":"db.example.com"}})")),
            json(R"(["db","ExternalName","<none>","db.example.com","<none>","<unknown>","<none>"])"));
  Json headless = row("", "Service", json(R"({"metadata":{"name":"h"},
    "spec":{"clusterIP":"None","clusterIPs":["None"],"selector":{"app":"db"}}})"));
  EXPECT_EQ(headless[1], "ClusterIP");
  EXPECT_EQ(headless[2], "None");
  EXPECT_EQ(headless[3], "<none>");
}

TEST(EndpointsPrinter, ListsUpToThreeThenCounts) {
  EXPECT_EQ(columns("", "Endpoints"), (Names{"Name", "Endpoints", "Age"}));
  EXPECT_EQ(row("", "Endpoints", json(R"({
    "metadata":{"name":"web","creationTimestamp":"2025-01-10T11:00:00Z"},
    "subsets":[{"addresses":[{"ip":"10.42.0.5"},{"ip":"10.42.0.6"}],
                "ports":[{"name":"http","port":8080},{"name":"metrics","port":9090}]}]})")),
            json(R"(["web","10.42.0.5:8080,10.42.0.6:8080,10.42.0.5:9090 + 1 more...","60m"])"));
  auto endpoints = [](std::string_view subsets) {
    Json e = json(R"({"metadata":{"name":"e"}})");
    e["subsets"] = json(subsets);
    return row("", "Endpoints", e)[1].get<std::string>();
  };
  EXPECT_EQ(endpoints("[]"), "<none>");
  EXPECT_EQ(endpoints(R"([{"addresses":[{"ip":"10.0.0.1"},{"ip":"10.0.0.2"}]}])"),
            "10.0.0.1,10.0.0.2");
  EXPECT_EQ(endpoints(R"([{"addresses":[{"ip":"fd00::1"}],"ports":[{"port":80}]}])"),
            "[fd00::1]:80");
  EXPECT_EQ(endpoints(R"([{"addresses":[{"ip":"a"},{"ip":"b"}]},
    {"addresses":[{"ip":"c"},{"ip":"d"},{"ip":"e"}],"ports":[{"port":1}]}])"),
            "a,b,c:1 + 2 more...");
  EXPECT_EQ(endpoints(R"([{"notReadyAddresses":[{"ip":"10.0.0.9"}],"ports":[{"port":80}]}])"),
            "");
}

TEST(EndpointSlicePrinter, PortsAndAddresses) {
  EXPECT_EQ(columns("discovery.k8s.io", "EndpointSlice"),
            (Names{"Name", "AddressType", "Ports", "Endpoints", "Age"}));
  EXPECT_EQ(row("discovery.k8s.io", "EndpointSlice", json(R"({
    "metadata":{"name":"web-x7k2p","creationTimestamp":"2025-01-10T11:58:00Z"},
    "addressType":"IPv4",
    "ports":[{"name":"http","port":80,"protocol":"TCP"},{"name":"named"},{}],
    "endpoints":[{"addresses":["10.42.0.5"],"conditions":{"ready":true}},
                 {"addresses":["10.42.0.6"]}]})")),
            json(R"(["web-x7k2p","IPv4","80,named,*","10.42.0.5,10.42.0.6","2m"])"));
  EXPECT_EQ(row("discovery.k8s.io", "EndpointSlice", json(R"({"metadata":{"name":"s"},
    "addressType":"IPv6","endpoints":[{"addresses":["a"]},{"addresses":["b","c","d","e"]}],
    "ports":[{"port":1},{"port":2},{"port":3},{"port":4}]})")),
            json(R"(["s","IPv6","1,2,3 + 1 more...","a,b,c + 2 more...","<unknown>"])"));
  EXPECT_EQ(row("discovery.k8s.io", "EndpointSlice", json(R"({"metadata":{"name":"s"}})")),
            json(R"(["s","","<unset>","<unset>","<unknown>"])"));
}

TEST(IngressPrinter, HostsAddressPorts) {
  EXPECT_EQ(columns("networking.k8s.io", "Ingress"),
            (Names{"Name", "Class", "Hosts", "Address", "Ports", "Age"}));
  EXPECT_EQ(row("networking.k8s.io", "Ingress", json(R"({
    "metadata":{"name":"web","creationTimestamp":"2025-01-09T11:00:00Z"},
    "spec":{"ingressClassName":"nginx","tls":[{"hosts":["a.example.com"],"secretName":"tls"}],
      "rules":[{"host":"a.example.com"},{"host":"b.example.com"},{"http":{}},
               {"host":"c.example.com"},{"host":"d.example.com"}]},
    "status":{"loadBalancer":{"ingress":[{"ip":"192.168.1.10"}]}}})")),
            json(R"(["web","nginx","a.example.com,b.example.com,c.example.com + 2 more...",
                     "192.168.1.10","80, 443","25h"])"));
  EXPECT_EQ(row("networking.k8s.io", "Ingress", json(R"({"metadata":{"name":"i"},
    "spec":{"defaultBackend":{"service":{"name":"web","port":{"number":80}}}}})")),
            json(R"(["i","<none>","*","","80","<unknown>"])"));
}

TEST(IngressClassPrinter, ParametersReference) {
  EXPECT_EQ(columns("networking.k8s.io", "IngressClass"),
            (Names{"Name", "Controller", "Parameters", "Age"}));
  EXPECT_EQ(row("networking.k8s.io", "IngressClass", json(R"({
    "metadata":{"name":"nginx","creationTimestamp":"2025-01-10T11:00:00Z"},
    "spec":{"controller":"k8s.io/ingress-nginx","parameters":{"apiGroup":"k8s.example.com",
      "kind":"IngressParameters","name":"external-lb"}}})")),
            json(R"(["nginx","k8s.io/ingress-nginx","IngressParameters.k8s.example.com/external-lb",
                     "60m"])"));
  EXPECT_EQ(row("networking.k8s.io", "IngressClass", json(R"({"metadata":{"name":"c"},
    "spec":{"controller":"nave.io/ingress","parameters":{"kind":"ConfigMap","name":"cfg"}}})"))[2],
            "ConfigMap/cfg");
  EXPECT_EQ(row("networking.k8s.io", "IngressClass",
                json(R"({"metadata":{"name":"c"},"spec":{"controller":"x"}})"))[2],
            "<none>");
}

TEST(NetworkPolicyPrinter, PodSelector) {
  EXPECT_EQ(columns("networking.k8s.io", "NetworkPolicy"), (Names{"Name", "Pod-Selector", "Age"}));
  EXPECT_EQ(row("networking.k8s.io", "NetworkPolicy", json(R"({
    "metadata":{"name":"db-access","creationTimestamp":"2025-01-10T11:59:59Z"},
    "spec":{"podSelector":{"matchLabels":{"role":"db"}},"policyTypes":["Ingress"]}})")),
            json(R"(["db-access","role=db","1s"])"));
  EXPECT_EQ(row("networking.k8s.io", "NetworkPolicy",
                json(R"({"metadata":{"name":"deny-all"},"spec":{"podSelector":{}}})"))[1],
            "<none>");
}

}  // namespace
}  // namespace nave::printers
