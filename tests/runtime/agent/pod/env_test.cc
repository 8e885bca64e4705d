// containerEnv: the environment the kubelet gives a container.
#include <gtest/gtest.h>

#include "runtime/agent/pod/pod_spec.h"
#include "tests/runtime/agent/pod/test_support.h"

namespace nave::agent {
namespace {

using testing::basePod;
using testing::configMapObject;
using testing::FakeObjectSource;
using testing::secretObject;

class EnvTest : public ::testing::Test {
 protected:
  EnvTest() {
    pod_ = basePod();
    facts_.nodeName = "facts-node";
    facts_.hostIp = "192.168.1.10";
    facts_.podIps = {"fd00::5", "10.42.0.5"};
    facts_.serviceAccountName = "default";
    facts_.nodeAllocatableMilliCpu = 4000;
    facts_.nodeAllocatableMemoryBytes = 8LL << 30;
    facts_.nodeAllocatableEphemeralBytes = 100LL << 30;
    objects_.configMaps["ns1/cfg"] =
        configMapObject("ns1", "cfg", {{"LOG_LEVEL", "debug"}, {"MODE", "fast"}});
    objects_.secrets["ns1/creds"] = secretObject("ns1", "creds", {{"PASSWORD", "s3cret\n"}});
  }

  Json& container() { return pod_["spec"]["containers"][0]; }

  Result<std::vector<std::string>> env(const std::vector<std::string>& services = {},
                                       std::vector<std::string>* warnings = nullptr) {
    return containerEnv(pod_, container(), objects_, facts_, services, warnings);
  }

  std::vector<std::string> envOk(const std::vector<std::string>& services = {}) {
    auto r = env(services);
    EXPECT_TRUE(r.ok()) << r.error().message();
    return r.ok() ? *r : std::vector<std::string>{};
  }

  std::string errorOf() {
    auto r = env();
    EXPECT_FALSE(r.ok());
    return r.ok() ? "" : r.error().message();
  }

  Json pod_;
  PodFacts facts_;
  FakeObjectSource objects_;
};

TEST_F(EnvTest, EnvFromThenEnvInDeclarationOrderOverridingInPlace) {
  container()["envFrom"] = Json::parse(R"([
    {"configMapRef": {"name": "cfg"}},
    {"prefix": "DB_", "secretRef": {"name": "creds"}}
  ])");
  container()["env"] = Json::parse(R"([
    {"name": "Z_FIRST", "value": "z"},
    {"name": "MODE", "value": "slow"},
    {"name": "EMPTY"}
  ])");
  EXPECT_EQ(envOk(), (std::vector<std::string>{"LOG_LEVEL=debug", "MODE=slow",
                                               "DB_PASSWORD=s3cret\n", "Z_FIRST=z", "EMPTY="}));
}

TEST_F(EnvTest, MissingSourcesAreErrorsUnlessOptional) {
  container()["envFrom"] = Json::parse(R"([{"configMapRef": {"name": "nope", "optional": true}},
                                           {"secretRef": {"name": "nope", "optional": true}}])");
  container()["env"] = Json::parse(R"([
    {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k", "optional": true}}},
    {"name": "B", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "nokey", "optional": true}}},
    {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "nokey", "optional": true}}}
  ])");
  EXPECT_EQ(envOk(), std::vector<std::string>{}) << "optional references are skipped silently";

  container()["env"] = Json::parse(
      R"([{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "missing", "key": "k"}}}])");
  EXPECT_EQ(errorOf(), "configmap \"missing\" not found");
  container()["env"] =
      Json::parse(R"([{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}])");
  EXPECT_EQ(errorOf(), "secret \"s\" not found");
  container()["env"] = Json::parse(
      R"([{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}])");
  EXPECT_EQ(errorOf(), "couldn't find key k in ConfigMap ns1/cfg");
  container()["env"] = Json::parse(
      R"([{"name": "A", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "k"}}}])");
  EXPECT_EQ(errorOf(), "couldn't find key k in Secret ns1/creds");
  container()["env"] = Json::array();
  container()["envFrom"] = Json::parse(R"([{"configMapRef": {"name": "gone"}}])");
  EXPECT_EQ(errorOf(), "configmap \"gone\" not found");
  container()["envFrom"] = Json::parse(R"([{"secretRef": {"name": "gone"}}])");
  auto r = env();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "secret \"gone\" not found");
  EXPECT_TRUE(r.error().is(ErrorCode::kNotFound));
}

TEST_F(EnvTest, OptionalMissingKeyKeepsAnEarlierValue) {
  container()["envFrom"] = Json::parse(R"([{"configMapRef": {"name": "cfg"}}])");
  container()["env"] = Json::parse(
      R"([{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "x", "optional": true}}}])");
  EXPECT_EQ(envOk(), (std::vector<std::string>{"LOG_LEVEL=debug", "MODE=fast"}));
}

TEST_F(EnvTest, OtherSourceErrorsPassThrough) {
  objects_.failure = Error(ErrorCode::kUnavailable, "the API server is down");
  container()["envFrom"] = Json::parse(R"([{"configMapRef": {"name": "cfg", "optional": true}}])");
  auto r = env();
  ASSERT_FALSE(r.ok()) << "optional only covers NotFound";
  EXPECT_TRUE(r.error().is(ErrorCode::kUnavailable));
}

TEST_F(EnvTest, ObjectsAreFetchedOncePerCall) {
  container()["envFrom"] = Json::parse(R"([{"configMapRef": {"name": "cfg"}}])");
  container()["env"] = Json::parse(R"([
    {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "MODE"}}},
    {"name": "B", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "PASSWORD"}}},
    {"name": "C", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "PASSWORD"}}}
  ])");
  envOk();
  EXPECT_EQ(objects_.lookups, 2);
}

TEST_F(EnvTest, ValuesExpandEarlierVariablesAndServices) {
  container()["envFrom"] = Json::parse(R"([{"configMapRef": {"name": "cfg"}}])");
  container()["env"] = Json::parse(R"J([
    {"name": "A", "value": "a"},
    {"name": "B", "value": "$(A)-$(LOG_LEVEL)-$(C)-$$(A)-$(SVC_HOST)"},
    {"name": "C", "value": "c"},
    {"name": "D", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "MODE"}}},
    {"name": "E", "value": "$(D)"}
  ])J");
  auto vars = envOk({"SVC_HOST=10.43.0.7"});
  ASSERT_EQ(vars.size(), 8u);
  EXPECT_EQ(vars[3], "B=a-debug-$(C)-$(A)-10.43.0.7");
  EXPECT_EQ(vars[6], "E=fast");
  EXPECT_EQ(vars[7], "SVC_HOST=10.43.0.7");
}

TEST_F(EnvTest, ValueFromIsNotExpanded) {
  objects_.configMaps["ns1/raw"] = configMapObject("ns1", "raw", {{"K", "$(A)"}});
  container()["env"] = Json::parse(R"([
    {"name": "A", "value": "a"},
    {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "raw", "key": "K"}}}
  ])");
  EXPECT_EQ(envOk(), (std::vector<std::string>{"A=a", "B=$(A)"}));
}

TEST_F(EnvTest, ServiceVariablesComeLastUnlessTheContainerSetsThem) {
  container()["env"] = Json::parse(R"([{"name": "KUBERNETES_SERVICE_HOST", "value": "override"}])");
  EXPECT_EQ(
      envOk({"KUBERNETES_SERVICE_HOST=10.43.0.1", "KUBERNETES_SERVICE_PORT=443", "NOT_AN_ENTRY"}),
      (std::vector<std::string>{"KUBERNETES_SERVICE_HOST=override",
                                "KUBERNETES_SERVICE_PORT=443"}));
}

TEST_F(EnvTest, FieldRefs) {
  pod_["spec"].erase("serviceAccountName");
  container()["env"] = Json::parse(R"([
    {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    {"name": "NS", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}},
    {"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
    {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
    {"name": "NOLABEL", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['nope']"}}},
    {"name": "NOTE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['note']"}}},
    {"name": "LABELS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels"}}},
    {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
    {"name": "OLDNODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.host"}}},
    {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
    {"name": "HOST_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
    {"name": "HOST_IPS", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIPs"}}},
    {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
    {"name": "POD_IPS", "valueFrom": {"fieldRef": {"fieldPath": "status.podIPs"}}}
  ])");
  EXPECT_EQ(envOk(), (std::vector<std::string>{
                         "NAME=web", "NS=ns1", "UID=uid-1", "APP=web", "NOLABEL=",
                         "NOTE=a \"quoted\" value", "LABELS=app=\"web\"\ntier=\"front\"",
                         "NODE=node-a", "OLDNODE=node-a", "SA=default", "HOST_IP=192.168.1.10",
                         "HOST_IPS=192.168.1.10", "POD_IP=10.42.0.5", "POD_IPS=10.42.0.5,fd00::5"}))
      << "the pod's IPv4 address first, as the node's";
}

TEST_F(EnvTest, PodIpsFollowAnIpv6NodeAndTheStatusWhenFactsAreEmpty) {
  facts_.hostIp = "fd00::1";
  container()["env"] =
      Json::parse(R"([{"name": "IPS", "valueFrom": {"fieldRef": {"fieldPath": "status.podIPs"}}},
                                       {"name": "HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIPs"}}}])");
  EXPECT_EQ(envOk()[0], "IPS=fd00::5,10.42.0.5");
  facts_.podIps.clear();
  facts_.hostIp.clear();
  pod_["status"] =
      Json::parse(R"({"podIP": "10.1.1.1", "podIPs": [{"ip": "10.1.1.1"}, {"ip": "not-an-ip"}],
                                   "hostIP": "1.2.3.4", "hostIPs": [{"ip": "1.2.3.4"}, {"ip": "fd00::9"}]})");
  EXPECT_EQ(envOk(), (std::vector<std::string>{"IPS=10.1.1.1", "HOST=1.2.3.4,fd00::9"}));
}

TEST_F(EnvTest, FieldRefErrors) {
  struct Case {
    const char* fieldRef;
    const char* message;
  } cases[] = {
      {R"({"fieldPath": "spec.foo"})", "field label not supported: spec.foo"},
      {R"({"fieldPath": "status.phase"})", "unsupported fieldPath: status.phase"},
      {R"({"fieldPath": "spec.nodeName['x']"})",
       "field label does not support subscript: spec.nodeName['x']"},
      {R"({"apiVersion": "v2", "fieldPath": "metadata.name"})", "unsupported pod version: v2"},
      {R"({"fieldPath": "metadata.labels['bad key']"})",
       "invalid key subscript in metadata.labels['bad key']: name part must consist of"},
  };
  for (const Case& c : cases) {
    container()["env"] =
        Json::array({{{"name", "X"}, {"valueFrom", {{"fieldRef", Json::parse(c.fieldRef)}}}}});
    std::string message = errorOf();
    EXPECT_EQ(message.substr(0, std::string(c.message).size()), c.message) << message;
  }
}

TEST_F(EnvTest, ResourceFieldRefs) {
  container()["resources"] = Json::parse(R"({"requests": {"cpu": "250m", "memory": "100Mi"},
                                              "limits": {"memory": "1Gi", "hugepages-2Mi": "4Mi"}})");
  pod_["spec"]["containers"].push_back(
      Json::parse(R"({"name": "side", "resources": {"limits": {"cpu": "2"}}})"));
  container()["env"] = Json::parse(R"([
    {"name": "CPU_LIMIT", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
    {"name": "CPU_LIMIT_M", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}},
    {"name": "CPU_REQ", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu"}}},
    {"name": "CPU_REQ_M", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}}},
    {"name": "MEM_LIMIT_MI", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
    {"name": "MEM_REQ_GI", "valueFrom": {"resourceFieldRef": {"resource": "requests.memory", "divisor": "1Gi"}}},
    {"name": "EPH_LIMIT_G", "valueFrom": {"resourceFieldRef": {"resource": "limits.ephemeral-storage", "divisor": "1Gi"}}},
    {"name": "EPH_REQ", "valueFrom": {"resourceFieldRef": {"resource": "requests.ephemeral-storage"}}},
    {"name": "HUGE", "valueFrom": {"resourceFieldRef": {"resource": "limits.hugepages-2Mi", "divisor": "1Mi"}}},
    {"name": "SIDE_CPU", "valueFrom": {"resourceFieldRef": {"containerName": "side", "resource": "limits.cpu", "divisor": "0"}}}
  ])");
  EXPECT_EQ(envOk(),
            (std::vector<std::string>{"CPU_LIMIT=4", "CPU_LIMIT_M=4000", "CPU_REQ=1",
                                      "CPU_REQ_M=250", "MEM_LIMIT_MI=1024", "MEM_REQ_GI=1",
                                      "EPH_LIMIT_G=100", "EPH_REQ=0", "HUGE=4", "SIDE_CPU=2"}));
}

TEST_F(EnvTest, ResourceFieldRefErrors) {
  container()["env"] = Json::parse(
      R"([{"name": "X", "valueFrom": {"resourceFieldRef": {"resource": "limits.gpu"}}}])");
  EXPECT_EQ(errorOf(), "unsupported container resource : limits.gpu");
  container()["env"] = Json::parse(
      R"([{"name": "X", "valueFrom": {"resourceFieldRef": {"containerName": "ghost", "resource": "limits.cpu"}}}])");
  EXPECT_EQ(errorOf(), "container ghost not found");
  container()["env"] = Json::parse(
      R"([{"name": "X", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "lots"}}}])");
  EXPECT_NE(errorOf().find("invalid quantity \"lots\""), std::string::npos);
  container()["resources"] = Json::parse(R"({"limits": {"cpu": "x1"}})");
  container()["env"] = Json::parse(
      R"([{"name": "X", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}])");
  EXPECT_NE(errorOf().find("invalid quantity \"x1\""), std::string::npos);
}

TEST_F(EnvTest, EnvFromKeysThatCannotBeNamesAreSkippedWithAWarning) {
  objects_.configMaps["ns1/odd"] =
      configMapObject("ns1", "odd", {{"a=b", "1"}, {"app.config", "2"}, {"tab\tkey", "3"}});
  container()["envFrom"] = Json::parse(R"([{"configMapRef": {"name": "odd"}}])");
  std::vector<std::string> warnings;
  auto r = env({}, &warnings);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(*r, std::vector<std::string>{"app.config=2"})
      << "Kubernetes 1.32 passes dotted names (relaxed validation)";
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0],
            "Keys [a=b, tab\tkey] from the EnvFrom configMap ns1/odd were skipped since they are "
            "considered invalid environment variable names.");
  EXPECT_TRUE(env().ok()) << "warnings are optional";
}

TEST_F(EnvTest, SecretsWithInvalidBase64AreErrors) {
  objects_.secrets["ns1/bad"] = Json::parse(
      R"({"metadata": {"namespace": "ns1", "name": "bad"}, "data": {"K": "!!!notbase64"}})");
  container()["envFrom"] = Json::parse(R"([{"secretRef": {"name": "bad"}}])");
  EXPECT_EQ(errorOf(), "secret ns1/bad: the value of key K is not valid base64");
}

}  // namespace
}  // namespace nave::agent
