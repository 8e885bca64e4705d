#include "network/ingress/routes.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

namespace nave::ingress {
namespace {

std::shared_ptr<Upstream> named(const std::string& name) {
  auto u = std::make_shared<Upstream>();
  u->name = name;
  return u;
}

std::string matchName(const RouteTable& t, std::string_view host, std::string_view path) {
  const Upstream* u = t.match(host, path);
  return u ? u->name : "404";
}

struct Rule {
  std::string host, path;
  PathType type;
  std::string backend;
};
struct Case {
  std::string host, path, want;
};

TEST(RouteTable, MatchesHostsAndPathsAsTheIngressApiSays) {
  std::vector<Rule> rules = {
      {"foo.example.com", "/", PathType::kPrefix, "foo-root"},
      {"foo.example.com", "/api", PathType::kPrefix, "foo-api"},
      {"foo.example.com", "/api/v2/", PathType::kPrefix, "foo-api-v2"},
      {"foo.example.com", "/exact", PathType::kExact, "foo-exact"},
      {"foo.example.com", "/same", PathType::kPrefix, "foo-same-prefix"},
      {"foo.example.com", "/same", PathType::kExact, "foo-same-exact"},
      {"*.example.com", "/", PathType::kPrefix, "wild"},
      {"bar.example.com", "/only", PathType::kExact, "bar-only"},
      {"", "/shared", PathType::kPrefix, "any-shared"},
      {"Upper.Example.com", "/", PathType::kPrefix, "upper"},
  };
  RouteTable t;
  for (const Rule& r : rules) ASSERT_TRUE(t.addPath(r.host, r.path, r.type, named(r.backend)));
  t.finish();
  std::vector<Case> cases = {
      {"foo.example.com", "/", "foo-root"},
      {"foo.example.com", "/anything", "foo-root"},
      {"foo.example.com", "/api", "foo-api"},
      {"foo.example.com", "/api/", "foo-api"},
      {"foo.example.com", "/api/users", "foo-api"},
      {"foo.example.com", "/apix", "foo-root"},  // element-wise, not string prefix
      {"foo.example.com", "/api/v2", "foo-api-v2"},  // the rule's trailing '/' is ignored
      {"foo.example.com", "/api/v2/x", "foo-api-v2"},
      {"foo.example.com", "/api/v20", "foo-api"},
      {"foo.example.com", "/exact", "foo-exact"},
      {"foo.example.com", "/exact/", "foo-root"},  // Exact is exact
      {"foo.example.com", "/same", "foo-same-exact"},  // Exact beats Prefix of equal length
      {"foo.example.com", "/same/x", "foo-same-prefix"},
      {"FOO.example.com:8080", "/api", "foo-api"},  // port and case do not matter
      {"foo.example.com.", "/api", "foo-api"},
      {"baz.example.com", "/x", "wild"},  // one label under the wildcard
      {"a.b.example.com", "/x", "404"},   // not two
      {"example.com", "/x", "404"},       // nor none
      {"bar.example.com", "/only", "bar-only"},
      {"bar.example.com", "/other", "wild"},  // no path of the exact host: the wildcard's
      {"other.org", "/shared/x", "any-shared"},
      {"", "/shared", "any-shared"},
      {"upper.example.com", "/", "upper"},
  };
  for (const Case& c : cases) EXPECT_EQ(matchName(t, c.host, c.path), c.want) << c.host << c.path;
}

TEST(RouteTable, DefaultBackendServesWhatNoRuleMatches) {
  RouteTable t;
  t.addPath("a.test", "/x", PathType::kPrefix, named("a"));
  t.setDefaultBackend(named("default"));
  t.setDefaultBackend(named("later"));  // the first one stays
  t.finish();
  EXPECT_EQ(matchName(t, "a.test", "/x"), "a");
  EXPECT_EQ(matchName(t, "a.test", "/y"), "default");
  EXPECT_EQ(matchName(t, "b.test", "/x"), "default");
}

TEST(RouteTable, FirstAddedWinsOnConflicts) {
  RouteTable t;
  EXPECT_TRUE(t.addPath("a.test", "/x", PathType::kPrefix, named("old")));
  EXPECT_FALSE(t.addPath("a.test", "/x/", PathType::kPrefix, named("new")));
  EXPECT_TRUE(t.addPath("a.test", "/x", PathType::kExact, named("exact")));
  t.finish();
  EXPECT_EQ(matchName(t, "a.test", "/x/y"), "old");
  EXPECT_EQ(t.pathCount(), 2u);
}

TEST(Upstream, PicksEndpointsRoundRobin) {
  Upstream u;
  EXPECT_EQ(u.pick(), nullptr);
  for (uint16_t p : {1, 2, 3}) {
    sockaddr_in sa{};
    sa.sin_port = p;
    u.endpoints.push_back(sa);
  }
  std::vector<int> seen;
  for (int i = 0; i < 6; ++i) seen.push_back(u.pick()->sin_port);
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3, 1, 2, 3}));
}

Json ingress(const std::string& name, const std::string& created, Json spec) {
  return {{"metadata", {{"name", name}, {"namespace", "default"}, {"creationTimestamp", created}}},
          {"spec", std::move(spec)}};
}

Json backend(const std::string& svc, Json port) {
  return {{"service", {{"name", svc}, {"port", std::move(port)}}}};
}

ClusterState cluster(std::vector<Json> ingresses) {
  ClusterState s;
  s.ingresses = std::move(ingresses);
  s.service = [](const std::string& ns, const std::string& name) -> std::optional<Json> {
    if (name == "missing") return std::nullopt;
    return Json{{"metadata", {{"name", name}, {"namespace", ns}}},
                {"spec", {{"ports", {{{"name", "http"}, {"port", 80}, {"targetPort", 8080}},
                                     {{"name", "admin"}, {"port", 9000}}}}}}};
  };
  s.slices = [](const std::string&, const std::string& svc) {
    std::vector<Json> out;
    if (svc == "empty") return out;
    out.push_back({{"addressType", "IPv4"},
                   {"ports", {{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}},
                              {{"name", "admin"}, {"port", 9090}, {"protocol", "TCP"}}}},
                   {"endpoints", {{{"addresses", {"10.42.0.5"}}, {"conditions", {{"ready", true}}}},
                                  {{"addresses", {"10.42.0.6"}}, {"conditions", {{"ready", false}}}},
                                  {{"addresses", {"10.42.0.7"}}}}}});
    return out;
  };
  s.secret = [](const std::string&, const std::string& name) -> std::optional<Json> {
    if (name != "tls") return std::nullopt;
    return Json{{"type", "kubernetes.io/tls"},
                {"data", {{"tls.crt", "Y2VydA=="}, {"tls.key", "a2V5"}}}};
  };
  return s;
}

std::string endpointText(const sockaddr_in& sa) {
  char ip[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof ip);
  return std::string(ip) + ":" + std::to_string(ntohs(sa.sin_port));
}

TEST(BuildRoutes, ResolvesServicePortsToReadyEndpoints) {
  Json paths = Json::array({{{"path", "/"}, {"pathType", "Prefix"},
                             {"backend", backend("web", {{"number", 80}})}},
                            {{"path", "/admin"}, {"pathType", "Exact"},
                             {"backend", backend("web", {{"name", "admin"}})}},
                            {{"path", "/gone"}, {"pathType", "Prefix"},
                             {"backend", backend("missing", {{"number", 80}})}},
                            {{"path", "/idle"}, {"pathType", "Prefix"},
                             {"backend", backend("empty", {{"number", 80}})}}});
  IngressRoutes r = buildRoutes(cluster(
      {ingress("a", "2024-01-01T00:00:00Z",
               {{"rules", {{{"host", "a.test"}, {"http", {{"paths", paths}}}}}},
                {"tls", {{{"hosts", {"a.test"}}, {"secretName", "tls"}},
                         {{"secretName", "absent"}}}}})}));
  const Upstream* web = r.table->match("a.test", "/x");
  ASSERT_NE(web, nullptr);
  ASSERT_EQ(web->endpoints.size(), 2u);  // the not-ready one left out
  EXPECT_EQ(endpointText(web->endpoints[0]), "10.42.0.5:8080");
  EXPECT_EQ(endpointText(web->endpoints[1]), "10.42.0.7:8080");
  const Upstream* admin = r.table->match("a.test", "/admin");
  ASSERT_NE(admin, nullptr);
  ASSERT_EQ(admin->endpoints.size(), 2u);
  EXPECT_EQ(endpointText(admin->endpoints[0]), "10.42.0.5:9090");  // by port name
  ASSERT_NE(r.table->match("a.test", "/gone"), nullptr);
  EXPECT_TRUE(r.table->match("a.test", "/gone")->endpoints.empty());  // 503
  EXPECT_TRUE(r.table->match("a.test", "/idle")->endpoints.empty());
  ASSERT_EQ(r.certificates.size(), 1u);
  EXPECT_EQ(r.certificates[0].certPem, "cert");
  EXPECT_EQ(r.certificates[0].keyPem, "key");
  EXPECT_EQ(r.certificates[0].hosts, std::vector<std::string>{"a.test"});
}

TEST(BuildRoutes, TheOldestIngressWinsConflicts) {
  auto spec = [](const std::string& svc) {
    return Json{{"defaultBackend", backend(svc, {{"number", 80}})},
                {"rules", {{{"host", "x.test"},
                            {"http", {{"paths", {{{"path", "/"}, {"pathType", "Prefix"},
                                                  {"backend", backend(svc, {{"number", 80}})}}}}}}}}}};
  };
  IngressRoutes r = buildRoutes(cluster({ingress("new", "2024-05-01T00:00:00Z", spec("newer")),
                                         ingress("old", "2024-01-01T00:00:00Z", spec("older"))}));
  EXPECT_EQ(r.table->match("x.test", "/")->name, "default/older:80");
  EXPECT_EQ(r.table->match("y.test", "/")->name, "default/older:80");
}

Json ingressClass(const std::string& name, bool isDefault) {
  Json c = {{"metadata", {{"name", name}}}, {"spec", {{"controller", kControllerName}}}};
  if (isDefault) c["metadata"]["annotations"] = {{kDefaultClassAnnotation, "true"}};
  return c;
}

TEST(ServedBy, FollowsClassNameAnnotationAndDefaultClass) {
  std::vector<Json> own = {ingressClass("nave", true)};
  std::vector<Json> notDefault = {ingressClass("nave", false)};
  Json byName = {{"spec", {{"ingressClassName", "nave"}}}};
  Json other = {{"spec", {{"ingressClassName", "nginx"}}}};
  Json legacy = {{"metadata", {{"annotations", {{kLegacyClassAnnotation, "nave"}}}}}, {"spec", Json::object()}};
  Json legacyOther = {{"metadata", {{"annotations", {{kLegacyClassAnnotation, "traefik"}}}}}, {"spec", Json::object()}};
  Json none = {{"spec", Json::object()}};
  EXPECT_TRUE(servedBy(byName, own));
  EXPECT_FALSE(servedBy(other, own));
  EXPECT_TRUE(servedBy(legacy, own));
  EXPECT_FALSE(servedBy(legacyOther, own));
  EXPECT_TRUE(servedBy(none, own));
  EXPECT_FALSE(servedBy(none, notDefault));
  EXPECT_TRUE(servedBy(byName, notDefault));
  EXPECT_FALSE(servedBy(byName, {}));
}

}  // namespace
}  // namespace nave::ingress
