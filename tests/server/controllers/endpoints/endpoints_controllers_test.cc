// The Endpoints and EndpointSlice controllers on a real API stack: named ports resolved per pod,
// readiness and terminating pods, publishNotReadyAddresses, headless Services, Services without
// a selector, slices of at most 100 endpoints, and clean-up when the Service goes.
#include <gtest/gtest.h>

#include "common/log.h"
#include "server/controllers/endpoints/endpoints_controller.h"
#include "server/controllers/endpoints/endpointslice_controller.h"
#include "tests/server/controllers/controller_fixture.h"

namespace nave::controllers {
namespace {

using testing::waitFor;

const client::Resource kServicesR{"", "v1", "services"};
const client::Resource kPodsR{"", "v1", "pods"};
const client::Resource kNodesR{"", "v1", "nodes"};
const client::Resource kEndpointsR{"", "v1", "endpoints"};
const client::Resource kSlicesR{"discovery.k8s.io", "v1", "endpointslices"};

class EndpointsControllersTest : public ::testing::Test, public testing::ControllerFixture {
 protected:
  void SetUp() override {
    log::setVerbosity(0);
    run<EndpointsController, EndpointSliceController>();
  }

  Json makeService(const std::string& name, Json spec) {
    Json svc = {{"apiVersion", "v1"},
                {"kind", "Service"},
                {"metadata", {{"name", name}, {"labels", {{"team", "a"}}}}},
                {"spec", spec}};
    auto r = client().create(kServicesR, "default", svc);
    EXPECT_TRUE(r.ok()) << r.error().message();
    return r.ok() ? *r : Json();
  }
  // A pod with `labels`, a container port named http, and (when ip is set) a Running status.
  void makePod(const std::string& name, Json labels, const std::string& ip, bool ready,
               int httpPort = 8080, const std::string& node = "n1",
               const std::string& phase = "Running") {
    Json pod = {{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata", {{"name", name}, {"labels", labels}}},
                {"spec",
                 {{"nodeName", node},
                  {"containers",
                   {{{"name", "c"},
                     {"image", "busybox"},
                     {"ports", {{{"name", "http"}, {"containerPort", httpPort}}}}}}}}}};
    auto r = client().create(kPodsR, "default", pod);
    ASSERT_TRUE(r.ok()) << r.error().message();
    if (ip.empty()) return;
    Json updated = *r;
    updated["status"]["phase"] = phase;
    updated["status"]["podIP"] = ip;
    updated["status"]["podIPs"] = {{{"ip", ip}}};
    updated["status"]["conditions"] = {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}};
    auto s = client().update(kPodsR, "default", updated, {}, "status");
    ASSERT_TRUE(s.ok()) << s.error().message();
  }
  void setReady(const std::string& name, bool ready) {
    auto pod = client().get(kPodsR, "default", name);
    ASSERT_TRUE(pod.ok());
    (*pod)["status"]["conditions"] = {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}};
    ASSERT_TRUE(client().update(kPodsR, "default", *pod, {}, "status").ok());
  }
  Json endpoints(const std::string& name) {
    auto r = client().get(kEndpointsR, "default", name);
    return r.ok() ? *r : Json();
  }
  std::vector<Json> slices(const std::string& service) {
    api::ListOptions o;
    o.labelSelector = "kubernetes.io/service-name=" + service;
    auto r = client().list(kSlicesR, "default", o);
    std::vector<Json> out;
    if (r.ok())
      for (const Json& s : (*r)["items"]) out.push_back(s);
    return out;
  }
  // The slices' endpoints by address.
  std::map<std::string, Json> sliceEndpoints(const std::string& service) {
    std::map<std::string, Json> out;
    for (const Json& s : slices(service))
      for (const Json& e : s.value("endpoints", Json::array())) {
        Json copy = e;
        copy["ports"] = s.value("ports", Json::array());
        out[e["addresses"][0]] = copy;
      }
    return out;
  }
  static size_t readyCount(const Json& ep) {
    size_t n = 0;
    for (const Json& subset : ep.value("subsets", Json::array()))
      n += subset.value("addresses", Json::array()).size();
    return n;
  }
  static std::vector<std::string> ips(const Json& subset, const char* list) {
    std::vector<std::string> out;
    for (const Json& a : subset.value(list, Json::array())) out.push_back(a["ip"]);
    return out;
  }
};

const Json kWebPorts = Json::array({{{"name", "http"}, {"port", 80}, {"targetPort", "http"}},
                                    {{"name", "metrics"}, {"port", 9000}, {"targetPort", 9090}}});

TEST_F(EndpointsControllersTest, EndpointsResolveNamedPortsPerPodAndSplitByReadiness) {
  makeService("web", {{"selector", {{"app", "web"}}}, {"ports", kWebPorts}});
  makePod("a", {{"app", "web"}}, "10.42.0.2", true, 8080);
  makePod("b", {{"app", "web"}}, "10.42.0.3", false, 8081);
  makePod("c", {{"app", "web"}}, "10.42.0.4", true, 8080);
  makePod("no-ip", {{"app", "web"}}, "", false);
  makePod("done", {{"app", "web"}}, "10.42.0.9", false, 8080, "n1", "Succeeded");
  makePod("other", {{"app", "db"}}, "10.42.0.5", true);
  ASSERT_TRUE(
      waitFor([&] { return endpoints("web").value("subsets", Json::array()).size() == 2; }));
  Json ep = endpoints("web");
  Json subsets = ep["subsets"];
  // a and c serve http on 8080, b on 8081: two subsets.
  EXPECT_EQ(ips(subsets[0], "addresses"), (std::vector<std::string>{"10.42.0.2", "10.42.0.4"}));
  EXPECT_EQ(subsets[0]["ports"][0], (Json{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}));
  EXPECT_EQ(subsets[0]["ports"][1],
            (Json{{"name", "metrics"}, {"port", 9090}, {"protocol", "TCP"}}));
  EXPECT_EQ(ips(subsets[1], "notReadyAddresses"), (std::vector<std::string>{"10.42.0.3"}));
  EXPECT_EQ(subsets[1]["ports"][0]["port"], 8081);
  Json a = subsets[0]["addresses"][0];
  EXPECT_EQ(a["nodeName"], "n1");
  EXPECT_EQ(a["targetRef"]["kind"], "Pod");
  EXPECT_EQ(a["targetRef"]["name"], "a");
  EXPECT_EQ(ep["metadata"]["labels"]["team"], "a");
  EXPECT_EQ(ep["metadata"]["labels"]["endpointslice.kubernetes.io/skip-mirror"], "true");
  EXPECT_TRUE(
      ep["metadata"]["annotations"].contains("endpoints.kubernetes.io/last-change-trigger-time"));

  // b becomes ready; a starts terminating and leaves.
  setReady("b", true);
  ASSERT_TRUE(
      waitFor([&] { return ips(endpoints("web")["subsets"][1], "addresses").size() == 1; }));
  ASSERT_TRUE(client().remove(kPodsR, "default", "a").ok());
  EXPECT_TRUE(waitFor([&] {
    Json ep = endpoints("web");
    for (const Json& subset : ep.value("subsets", Json::array()))
      if (subset["ports"][0]["port"] == 8080)
        return ips(subset, "addresses") == std::vector<std::string>{"10.42.0.4"};
    return false;
  })) << endpoints("web").dump();
}

TEST_F(EndpointsControllersTest, SlicesCarryConditionsZonesAndOwners) {
  Json node = {
      {"apiVersion", "v1"},
      {"kind", "Node"},
      {"metadata", {{"name", "n1"}, {"labels", {{"topology.kubernetes.io/zone", "zone-a"}}}}}};
  ASSERT_TRUE(client().create(kNodesR, "", node).ok());
  Json svc = makeService("web", {{"selector", {{"app", "web"}}}, {"ports", kWebPorts}});
  makePod("a", {{"app", "web"}}, "10.42.0.2", true, 8080);
  makePod("b", {{"app", "web"}}, "10.42.0.3", false, 8080);
  makePod("c", {{"app", "web"}}, "10.42.0.4", true, 8081);
  ASSERT_TRUE(waitFor([&] { return sliceEndpoints("web").size() == 3; }));
  auto eps = sliceEndpoints("web");
  EXPECT_EQ(eps["10.42.0.2"]["conditions"],
            (Json{{"ready", true}, {"serving", true}, {"terminating", false}}));
  EXPECT_EQ(eps["10.42.0.3"]["conditions"],
            (Json{{"ready", false}, {"serving", false}, {"terminating", false}}));
  EXPECT_EQ(eps["10.42.0.2"]["zone"], "zone-a");
  EXPECT_EQ(eps["10.42.0.2"]["nodeName"], "n1");
  EXPECT_EQ(eps["10.42.0.2"]["targetRef"]["name"], "a");
  EXPECT_EQ(eps["10.42.0.4"]["ports"][0],
            (Json{{"name", "http"}, {"port", 8081}, {"protocol", "TCP"}}));
  auto all = slices("web");
  ASSERT_EQ(all.size(), 2u);  // one per port set
  for (const Json& s : all) {
    EXPECT_EQ(s["addressType"], "IPv4");
    EXPECT_TRUE(s["metadata"]["name"].get<std::string>().starts_with("web-"));
    EXPECT_EQ(s["metadata"]["name"].get<std::string>().size(), 9u);
    EXPECT_EQ(s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
              "endpointslice-controller.k8s.io");
    EXPECT_EQ(s["metadata"]["ownerReferences"][0]["uid"], svc["metadata"]["uid"]);
    EXPECT_EQ(s["metadata"]["ownerReferences"][0]["controller"], true);
  }
  // A terminating pod stays, serving as it was, not ready.
  ASSERT_TRUE(client().remove(kPodsR, "default", "a").ok());
  EXPECT_TRUE(waitFor([&] {
    return sliceEndpoints("web")["10.42.0.2"].value("conditions", Json()) ==
           Json{{"ready", false}, {"serving", true}, {"terminating", true}};
  }));
  // The Service goes, and its slices and Endpoints with it.
  ASSERT_TRUE(client().remove(kServicesR, "default", "web").ok());
  EXPECT_TRUE(waitFor([&] { return slices("web").empty() && endpoints("web").is_null(); }));
}

TEST_F(EndpointsControllersTest, PublishNotReadyAddressesAndHeadless) {
  makeService(
      "peers",
      {{"selector", {{"app", "db"}}}, {"clusterIP", "None"}, {"publishNotReadyAddresses", true}});
  makePod("db-0", {{"app", "db"}}, "10.42.0.7", false);
  ASSERT_TRUE(waitFor([&] {
    Json subsets = endpoints("peers").value("subsets", Json::array());
    return subsets.size() == 1 && ips(subsets[0], "addresses").size() == 1;
  }));
  Json ep = endpoints("peers");
  EXPECT_FALSE(ep["subsets"][0].contains("ports"));
  EXPECT_EQ(ep["metadata"]["labels"]["service.kubernetes.io/headless"], "");
  ASSERT_TRUE(waitFor([&] { return sliceEndpoints("peers").size() == 1; }));
  EXPECT_EQ(sliceEndpoints("peers")["10.42.0.7"]["conditions"],
            (Json{{"ready", true}, {"serving", false}, {"terminating", false}}));
  EXPECT_EQ(slices("peers")[0]["metadata"]["labels"]["service.kubernetes.io/headless"], "");
}

TEST_F(EndpointsControllersTest, ServicesWithoutSelectorAreLeftAlone) {
  makeService("external", {{"ports", {{{"port", 443}}}}});
  Json ep = {{"apiVersion", "v1"},
             {"kind", "Endpoints"},
             {"metadata", {{"name", "external"}}},
             {"subsets", {{{"addresses", {{{"ip", "192.0.2.1"}}}}, {"ports", {{{"port", 443}}}}}}}};
  ASSERT_TRUE(client().create(kEndpointsR, "default", ep).ok());
  // A Service with endpoints, to know the controllers have run past this one.
  makeService("empty", {{"selector", {{"app", "none"}}}, {"ports", {{{"port", 80}}}}});
  ASSERT_TRUE(
      waitFor([&] { return slices("empty").size() == 1 && !endpoints("empty").is_null(); }));
  // No endpoints: one placeholder slice, without ports.
  EXPECT_TRUE(slices("empty")[0]["endpoints"].empty());
  EXPECT_FALSE(slices("empty")[0].contains("ports"));
  EXPECT_EQ(endpoints("external")["subsets"][0]["addresses"][0]["ip"], "192.0.2.1");
  EXPECT_TRUE(slices("external").empty());
  // Turned into an ExternalName Service, it loses its slices.
  auto svc = client().get(kServicesR, "default", "empty");
  ASSERT_TRUE(svc.ok());
  (*svc)["spec"] = {
      {"type", "ExternalName"}, {"externalName", "example.com"}, {"selector", {{"app", "none"}}}};
  auto updated = client().update(kServicesR, "default", *svc);
  ASSERT_TRUE(updated.ok()) << updated.error().message();
  EXPECT_TRUE(waitFor([&] { return slices("empty").empty(); }));
}

TEST_F(EndpointsControllersTest, SlicesHoldAtMostAHundredEndpoints) {
  makeService("big", {{"selector", {{"app", "big"}}}, {"ports", {{{"port", 80}}}}});
  for (int i = 0; i < 150; ++i)
    makePod("p" + std::to_string(i), {{"app", "big"}},
            "10.42." + std::to_string(1 + i / 200) + "." + std::to_string(i % 200 + 1), true);
  ASSERT_TRUE(waitFor(
      [&] { return sliceEndpoints("big").size() == 150 && readyCount(endpoints("big")) == 150; },
      std::chrono::seconds(60)));
  auto all = slices("big");
  ASSERT_EQ(all.size(), 2u);
  size_t largest = std::max(all[0]["endpoints"].size(), all[1]["endpoints"].size());
  EXPECT_EQ(largest, 100u);
  EXPECT_EQ(endpoints("big")["subsets"][0]["addresses"].size(), 150u);
}

TEST(EndpointsTruncation, KeepsAThousandAddressesReadyFirst) {
  auto addresses = [](int n, int base) {
    Json list = Json::array();
    for (int i = 0; i < n; ++i)
      list.push_back(
          {{"ip", "10.0." + std::to_string(base + i / 250) + "." + std::to_string(i % 250)}});
    return list;
  };
  Json subsets =
      Json::array({{{"addresses", addresses(600, 0)}, {"notReadyAddresses", addresses(300, 10)}},
                   {{"addresses", addresses(300, 20)}}});
  EXPECT_TRUE(EndpointsController::truncateSubsets(subsets));
  ASSERT_EQ(subsets.size(), 2u);
  EXPECT_EQ(subsets[0]["addresses"].size() + subsets[1]["addresses"].size(), 900u);
  EXPECT_EQ(subsets[0]["notReadyAddresses"].size(), 100u);
  Json small = Json::array({{{"addresses", addresses(3, 0)}}});
  EXPECT_FALSE(EndpointsController::truncateSubsets(small));
  EXPECT_EQ(small[0]["addresses"].size(), 3u);
}

}  // namespace
}  // namespace nave::controllers
