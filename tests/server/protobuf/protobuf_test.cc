// Decoding Kubernetes' protobuf request bodies (server/protobuf/protobuf.cc): bodies captured
// from kubectl 1.32 decode to the JSON kubectl writes for the same objects, hand-encoded bodies
// laid out as Go's generated Marshal writes them cover each wire rule, and malformed input is
// a clear BadRequest.
#include "server/protobuf/protobuf.h"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace nave::protobuf {
namespace {

// A protobuf message writer: fields in the order the test adds them.
class Msg {
 public:
  Msg& varint(int field, uint64_t v) {
    key(field, 0);
    putVarint(v);
    return *this;
  }
  Msg& sint(int field, int64_t v) { return varint(field, static_cast<uint64_t>(v)); }
  Msg& str(int field, std::string_view s) {
    key(field, 2);
    putVarint(s.size());
    out_.append(s);
    return *this;
  }
  Msg& msg(int field, const Msg& m) { return str(field, m.bytes()); }
  Msg& dbl(int field, double d) {
    key(field, 1);
    auto bits = std::bit_cast<uint64_t>(d);
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
    return *this;
  }
  Msg& fixed32(int field, uint32_t v) {
    key(field, 5);
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return *this;
  }
  Msg& packed(int field, const std::vector<int64_t>& values) {
    Msg inner;
    for (int64_t v : values) inner.putVarint(static_cast<uint64_t>(v));
    return str(field, inner.bytes());
  }
  // A map<string, string> entry, or with a message value.
  Msg& entry(int field, std::string_view k, std::string_view v) {
    return msg(field, Msg().str(1, k).str(2, v));
  }
  Msg& entry(int field, std::string_view k, const Msg& v) {
    return msg(field, Msg().str(1, k).msg(2, v));
  }
  Msg& raw(std::string_view bytes) {
    out_.append(bytes);
    return *this;
  }
  const std::string& bytes() const { return out_; }

 private:
  void key(int field, int wireType) { putVarint((static_cast<uint64_t>(field) << 3) | wireType); }
  void putVarint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  std::string out_;
};

// "k8s\0" + runtime.Unknown{typeMeta, raw, contentEncoding, contentType}, as client-go writes it.
std::string envelope(std::string_view apiVersion, std::string_view kind, const Msg& object,
                     std::string_view contentEncoding = "") {
  Msg unknown;
  unknown.msg(1, Msg().str(1, apiVersion).str(2, kind));
  unknown.msg(2, object);
  unknown.str(3, contentEncoding);
  unknown.str(4, "");
  return std::string("k8s\0", 4) + unknown.bytes();
}

Msg objectMeta(std::string_view name, std::string_view ns = "") {
  // Go writes every plain field, zero or not; the empty Time is an empty message.
  return Msg().str(1, name).str(2, "").str(3, ns).str(4, "").str(5, "").str(6, "").varint(7, 0).msg(
      8, Msg());
}

Json decode(std::string_view body) {
  auto r = decodeObject(body, schema::builtinSchemas());
  EXPECT_TRUE(r.ok()) << r.error().message();
  return r.ok() ? r->object : Json();
}

Error decodeFails(std::string_view body, const schema::SchemaSet& set = schema::builtinSchemas()) {
  auto r = decodeObject(body, set);
  EXPECT_FALSE(r.ok()) << r->object.dump();
  return r.ok() ? Error(ErrorCode::kInternal, "decoded") : r.error();
}

// --- Bodies kubectl sent --------------------------------------------------------------------

std::filesystem::path fixtures() {
  return std::filesystem::path(__FILE__).parent_path() / "fixtures";
}

std::string readFile(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// kubectl's JSON has "creationTimestamp": null for the zero time, which the protobuf decoder
// leaves out (both mean "unset").
void dropNullTimestamps(Json& j) {
  if (j.is_object()) {
    if (auto it = j.find("creationTimestamp"); it != j.end() && it->is_null()) j.erase(it);
    for (auto& [k, v] : j.items()) dropNullTimestamps(v);
  } else if (j.is_array()) {
    for (Json& v : j) dropNullTimestamps(v);
  }
}

TEST(ProtobufKubectl, CapturedBodiesDecodeToKubectlsJson) {
  ASSERT_TRUE(std::filesystem::is_directory(fixtures())) << fixtures();
  int checked = 0;
  for (const auto& file : std::filesystem::directory_iterator(fixtures())) {
    if (file.path().extension() != ".pb") continue;
    SCOPED_TRACE(file.path().filename().string());
    std::filesystem::path jsonPath = file.path();
    jsonPath.replace_extension(".json");
    auto want = parseJson(readFile(jsonPath));
    ASSERT_TRUE(want.ok()) << jsonPath;
    dropNullTimestamps(want->value);
    auto got = decodeObject(readFile(file.path()), schema::builtinSchemas());
    ASSERT_TRUE(got.ok()) << got.error().message();
    EXPECT_EQ(got->object, want->value) << got->object.dump(1);
    EXPECT_EQ(got->apiVersion, want->value["apiVersion"]);
    EXPECT_EQ(got->kind, want->value["kind"]);
    ++checked;
  }
  EXPECT_GE(checked, 18);
}

TEST(ProtobufKubectl, CapturedDeploymentKeepsZeroReplicas) {
  auto got =
      decodeObject(readFile(fixtures() / "kubectl-1.32-deployment.pb"), schema::builtinSchemas());
  ASSERT_TRUE(got.ok()) << got.error().message();
  EXPECT_EQ(got->apiVersion, "apps/v1");
  EXPECT_EQ(got->kind, "Deployment");
  EXPECT_EQ(got->object["spec"]["replicas"], 0);
  EXPECT_EQ(got->object["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"],
            80);
}

// --- Hand-encoded objects ------------------------------------------------------------------

TEST(Protobuf, ConfigMapWithData) {
  Msg cm;
  cm.msg(1, objectMeta("settings", "prod"))
      .entry(2, "mode", "fast")
      .entry(2, "empty", "")
      .entry(3, "blob", std::string("\x00\xff\x10", 3))
      .varint(4, 0);  // immutable is *bool: false is a value
  Json j = decode(envelope("v1", "ConfigMap", cm));
  EXPECT_EQ(j, Json::parse(R"({"apiVersion":"v1","kind":"ConfigMap",
      "metadata":{"name":"settings","namespace":"prod"},
      "data":{"mode":"fast","empty":""},"binaryData":{"blob":"AP8Q"},"immutable":false})"));
}

TEST(Protobuf, SecretDataIsBase64) {
  Msg secret;
  secret.msg(1, objectMeta("creds"))
      .entry(2, "password", "p@ss\n")
      .entry(2, "key", std::string("\x01\x00\x02", 3))
      .str(3, "Opaque")
      .entry(4, "plain", "text");
  Json j = decode(envelope("v1", "Secret", secret));
  EXPECT_EQ(j["data"], Json::parse(R"({"password":"cEBzcwo=","key":"AQAC"})"));
  EXPECT_EQ(j["type"], "Opaque");
  EXPECT_EQ(j["stringData"], Json::parse(R"({"plain":"text"})"));
}

Msg quantity(std::string_view q) {
  return Msg().str(1, q);
}

TEST(Protobuf, DeploymentWithContainer) {
  Msg port;
  port.str(1, "http").varint(2, 0).varint(3, 8080).str(4, "TCP").str(5, "");
  Msg resources;
  resources.entry(1, "cpu", quantity("500m"))
      .entry(1, "memory", quantity("128Mi"))
      .entry(2, "cpu", quantity("100m"));
  Msg container;
  container.str(1, "app")
      .str(2, "nginx:1.27")
      .str(3, "nginx")
      .str(3, "-g")
      .msg(6, port)
      .msg(8, resources)
      .str(14, "IfNotPresent")
      .varint(16, 0);
  Msg podSpec;
  podSpec.msg(2, container).str(3, "Always");
  Msg meta = objectMeta("web");
  meta.entry(11, "app", "web").entry(12, "note", "x");
  Msg spec;
  spec.varint(1, 0)                                          // replicas *int32 = 0
      .msg(2, Msg().entry(1, "app", "web"))                  // selector.matchLabels
      .msg(3, Msg().msg(1, objectMeta("")).msg(2, podSpec))  // template
      .msg(4, Msg())                                         // strategy {}
      .varint(5, 0)                                          // minReadySeconds: zero, dropped
      .varint(7, 0);                                         // paused: false, dropped
  Json j = decode(envelope("apps/v1", "Deployment", Msg().msg(1, meta).msg(2, spec).msg(3, Msg())));
  EXPECT_EQ(j, Json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
      "metadata":{"name":"web","labels":{"app":"web"},"annotations":{"note":"x"}},
      "spec":{"replicas":0,"selector":{"matchLabels":{"app":"web"}},"strategy":{},
        "template":{"metadata":{},"spec":{"restartPolicy":"Always","containers":[{
          "name":"app","image":"nginx:1.27","command":["nginx","-g"],
          "ports":[{"name":"http","containerPort":8080,"protocol":"TCP"}],
          "resources":{"limits":{"cpu":"500m","memory":"128Mi"},"requests":{"cpu":"100m"}},
          "imagePullPolicy":"IfNotPresent"}]}}},
      "status":{}})"));
}

Msg intOrString(int32_t v) {
  return Msg().varint(1, 0).sint(2, v);
}
Msg intOrString(std::string_view s) {
  return Msg().varint(1, 1).varint(2, 0).str(3, s);
}

TEST(Protobuf, ServiceTargetPortIntOrString) {
  Msg spec;
  spec.msg(1, Msg().str(1, "http").str(2, "TCP").varint(3, 80).msg(4, intOrString(8080)))
      .msg(1, Msg().str(1, "metrics").str(2, "TCP").varint(3, 9090).msg(4, intOrString("prom")))
      .msg(1, Msg().str(1, "zero").varint(3, 81).msg(4, intOrString(0)))
      .entry(2, "app", "web")
      .str(3, "")
      .str(4, "ClusterIP");
  Json j = decode(envelope("v1", "Service", Msg().msg(1, objectMeta("web")).msg(2, spec)));
  ASSERT_EQ(j["spec"]["ports"].size(), 3u);
  EXPECT_EQ(j["spec"]["ports"][0]["targetPort"], 8080);
  EXPECT_EQ(j["spec"]["ports"][1]["targetPort"], "prom");
  // An IntOrString present on the wire is a value, even 0.
  EXPECT_EQ(j["spec"]["ports"][2]["targetPort"], 0);
  EXPECT_EQ(j["spec"]["ports"][2]["port"], 81);
  EXPECT_FALSE(j["spec"].contains("clusterIP"));
  EXPECT_EQ(j["spec"]["type"], "ClusterIP");
}

TEST(Protobuf, CronJob) {
  Msg podSpec;
  podSpec.msg(2, Msg().str(1, "tick").str(2, "busybox")).str(3, "OnFailure");
  Msg jobSpec;
  jobSpec.msg(6, Msg().msg(1, objectMeta("")).msg(2, podSpec)).varint(7, 4);  // backoffLimit
  Msg spec;
  spec.str(1, "*/5 * * * *")
      .varint(2, 0)  // startingDeadlineSeconds *int64 = 0
      .str(3, "Forbid")
      .varint(4, 0)  // suspend *bool = false
      .msg(5, Msg().msg(1, objectMeta("tick")).msg(2, jobSpec))
      .varint(6, 0)  // successfulJobsHistoryLimit = 0
      .str(8, "Europe/Paris");
  Json j = decode(envelope("batch/v1", "CronJob", Msg().msg(1, objectMeta("tick")).msg(2, spec)));
  EXPECT_EQ(j["spec"], Json::parse(R"({"schedule":"*/5 * * * *","startingDeadlineSeconds":0,
      "concurrencyPolicy":"Forbid","suspend":false,"successfulJobsHistoryLimit":0,
      "timeZone":"Europe/Paris","jobTemplate":{"metadata":{"name":"tick"},"spec":{
        "backoffLimit":4,"template":{"metadata":{},"spec":{"restartPolicy":"OnFailure",
        "containers":[{"name":"tick","image":"busybox"}]}}}}})"));
}

TEST(Protobuf, PodDisruptionBudgetMinAvailable) {
  Msg spec;
  spec.msg(1, intOrString("50%")).msg(2, Msg().entry(1, "app", "web"));
  Json j = decode(
      envelope("policy/v1", "PodDisruptionBudget", Msg().msg(1, objectMeta("pdb")).msg(2, spec)));
  EXPECT_EQ(j["spec"],
            Json::parse(R"({"minAvailable":"50%","selector":{"matchLabels":{"app":"web"}}})"));
  Msg spec2;
  spec2.msg(3, intOrString(1));
  j = decode(
      envelope("policy/v1", "PodDisruptionBudget", Msg().msg(1, objectMeta("pdb")).msg(2, spec2)));
  EXPECT_EQ(j["spec"], Json::parse(R"({"maxUnavailable":1})"));
}

TEST(Protobuf, EvictionWithDeleteOptions) {
  Msg options;
  options
      .varint(1, 0)                      // gracePeriodSeconds *int64 = 0
      .msg(2, Msg().str(1, "1234-uid"))  // preconditions.uid *string
      .str(4, "Foreground")              // propagationPolicy *string
      .str(5, "All");                    // dryRun
  Msg eviction;
  eviction.msg(1, objectMeta("web-1", "default")).msg(2, options);
  auto r = decodeObject(envelope("policy/v1", "Eviction", eviction), schema::builtinSchemas());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->kind, "Eviction");
  EXPECT_EQ(r->apiVersion, "policy/v1");
  EXPECT_EQ(r->object, Json::parse(R"({"apiVersion":"policy/v1","kind":"Eviction",
      "metadata":{"name":"web-1","namespace":"default"},
      "deleteOptions":{"gracePeriodSeconds":0,"preconditions":{"uid":"1234-uid"},
        "propagationPolicy":"Foreground","dryRun":["All"]}})"));
}

TEST(Protobuf, TimesAndMicroTimes) {
  Msg meta = Msg().str(1, "lease").msg(8, Msg().sint(1, 1767323045).varint(2, 999)).msg(9, Msg());
  Msg spec;
  spec.str(1, "node-1")
      .varint(2, 40)
      .msg(3, Msg().sint(1, 1767323045).varint(2, 123456789))  // MicroTime keeps microseconds
      .msg(4, Msg())                                           // zero MicroTime: left out
      .varint(5, 0);                                           // leaseTransitions *int32 = 0
  Json j = decode(envelope("coordination.k8s.io/v1", "Lease", Msg().msg(1, meta).msg(2, spec)));
  EXPECT_EQ(j["metadata"],
            Json::parse(R"({"name":"lease","creationTimestamp":"2026-01-02T03:04:05Z"})"));
  EXPECT_EQ(j["spec"], Json::parse(R"({"holderIdentity":"node-1","leaseDurationSeconds":40,
      "acquireTime":"2026-01-02T03:04:05.123456Z","leaseTransitions":0})"));

  // Explicit zero seconds is the epoch, not the zero time (Go encodes the zero time as empty).
  Msg epoch = Msg().str(1, "old").msg(8, Msg().varint(1, 0));
  EXPECT_EQ(
      decode(envelope("v1", "Namespace", Msg().msg(1, epoch)))["metadata"]["creationTimestamp"],
      "1970-01-01T00:00:00Z");
  // Before the epoch, and the last representable second.
  Msg before = Msg().str(1, "old").msg(8, Msg().sint(1, -1));
  EXPECT_EQ(
      decode(envelope("v1", "Namespace", Msg().msg(1, before)))["metadata"]["creationTimestamp"],
      "1969-12-31T23:59:59Z");
  Msg last = Msg().str(1, "new").msg(8, Msg().sint(1, 253402300799));
  EXPECT_EQ(
      decode(envelope("v1", "Namespace", Msg().msg(1, last)))["metadata"]["creationTimestamp"],
      "9999-12-31T23:59:59Z");
  Msg leap = Msg().str(1, "leap").msg(8, Msg().sint(1, 951782400));
  EXPECT_EQ(
      decode(envelope("v1", "Namespace", Msg().msg(1, leap)))["metadata"]["creationTimestamp"],
      "2000-02-29T00:00:00Z");
}

TEST(Protobuf, NegativeAndLargeIntegers) {
  // int32 fields: Go writes negative values as 10-byte varints.
  Msg spec;
  spec.msg(1, Msg().str(1, "p").str(2, "TCP").sint(3, -1));
  Json j = decode(envelope("v1", "Service", Msg().msg(1, objectMeta("s")).msg(2, spec)));
  EXPECT_EQ(j["spec"]["ports"][0]["port"], -1);
  Msg meta = objectMeta("x");
  meta.sint(10, -5);  // deletionGracePeriodSeconds *int64
  meta.sint(7, INT64_MAX);
  j = decode(envelope("v1", "ConfigMap", Msg().msg(1, meta)));
  EXPECT_EQ(j["metadata"]["deletionGracePeriodSeconds"], -5);
  EXPECT_EQ(j["metadata"]["generation"], INT64_MAX);
}

TEST(Protobuf, RepeatedScalarsPackedAndUnpacked) {
  // PodFailurePolicyOnExitCodesRequirement.values ([]int32, field 3).
  Msg unpacked = Msg().str(2, "In").varint(3, 1).varint(3, 0).varint(3, 42);
  Msg packed = Msg().str(2, "In").packed(3, {1, 0}).packed(3, {42});
  for (const Msg& req : {unpacked, packed}) {
    Msg rule = Msg().str(1, "FailJob").msg(2, req);
    Msg jobSpec = Msg().msg(11, Msg().msg(1, rule));
    Json j = decode(envelope("batch/v1", "Job", Msg().msg(1, objectMeta("j")).msg(2, jobSpec)));
    EXPECT_EQ(j["spec"]["podFailurePolicy"]["rules"][0]["onExitCodes"],
              Json::parse(R"({"operator":"In","values":[1,0,42]})"));
  }
}

TEST(Protobuf, UnknownFieldsAreSkipped) {
  Msg meta = objectMeta("cm");
  meta.varint(900, 7).dbl(901, 1.5).fixed32(902, 9).str(903, "future").msg(904, Msg().str(1, "x"));
  Msg cm = Msg().msg(1, meta).entry(2, "k", "v").str(77, "new field");
  Json j = decode(envelope("v1", "ConfigMap", cm));
  EXPECT_EQ(
      j,
      Json::parse(
          R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"data":{"k":"v"}})"));
}

TEST(Protobuf, InlinedEmbeddedStructs) {
  // Volume{name: 1, volumeSource: 2{configMap: 19{localObjectReference: 1{name: 1}, items: 2}}};
  // Probe{handler: 1{httpGet: 2{path: 1, port: 2}}, initialDelaySeconds: 2}.
  Msg configMap = Msg().msg(1, Msg().str(1, "settings")).msg(2, Msg().str(1, "a").str(2, "a.txt"));
  Msg volume = Msg().str(1, "config").msg(2, Msg().msg(19, configMap));
  Msg probe =
      Msg().msg(1, Msg().msg(2, Msg().str(1, "/healthz").msg(2, intOrString(8080)))).varint(2, 5);
  Msg container = Msg().str(1, "app").str(2, "img").msg(10, probe);
  Msg podSpec = Msg().msg(1, volume).msg(2, container);
  Json j = decode(envelope("v1", "Pod", Msg().msg(1, objectMeta("p")).msg(2, podSpec)));
  EXPECT_EQ(j["spec"]["volumes"], Json::parse(R"([{"name":"config","configMap":{"name":"settings",
      "items":[{"key":"a","path":"a.txt"}]}}])"));
  EXPECT_EQ(j["spec"]["containers"][0]["livenessProbe"],
            Json::parse(R"({"httpGet":{"path":"/healthz","port":8080},"initialDelaySeconds":5})"));
}

TEST(Protobuf, RawExtensionAndFieldsV1AreJson) {
  Msg managed = Msg()
                    .str(1, "kubectl")
                    .str(2, "Update")
                    .str(3, "apps/v1")
                    .str(6, "FieldsV1")
                    .msg(7, Msg().str(1, R"({"f:spec":{"f:replicas":{}}})"));
  Msg meta = objectMeta("rev");
  meta.msg(17, managed);
  Msg rev =
      Msg().msg(1, meta).msg(2, Msg().str(1, R"({"spec":{"template":{"x":1}}})")).varint(3, 2);
  Json j = decode(envelope("apps/v1", "ControllerRevision", rev));
  EXPECT_EQ(j["data"], Json::parse(R"({"spec":{"template":{"x":1}}})"));
  EXPECT_EQ(j["revision"], 2);
  EXPECT_EQ(j["metadata"]["managedFields"][0]["fieldsV1"],
            Json::parse(R"({"f:spec":{"f:replicas":{}}})"));

  // A RawExtension may hold a protobuf object itself.
  std::string nested =
      envelope("v1", "ConfigMap", Msg().msg(1, objectMeta("inner")).entry(2, "a", "b"));
  rev = Msg().msg(1, objectMeta("rev")).msg(2, Msg().str(1, nested)).varint(3, 3);
  j = decode(envelope("apps/v1", "ControllerRevision", rev));
  EXPECT_EQ(j["data"], Json::parse(R"({"apiVersion":"v1","kind":"ConfigMap",
      "metadata":{"name":"inner"},"data":{"a":"b"}})"));

  // Empty raw: left out, as Go's nil RawExtension.
  rev = Msg().msg(1, objectMeta("rev")).msg(2, Msg()).varint(3, 1);
  EXPECT_FALSE(decode(envelope("apps/v1", "ControllerRevision", rev)).contains("data"));
}

TEST(Protobuf, CustomResourceDefinitionSchemas) {
  // JSONSchemaProps: type 5, maximum 9 (double), properties 29 (map), items 24
  // (JSONSchemaPropsOrArray), additionalProperties 30 (OrBool), dependencies 32
  // (OrStringArray), default 8 (JSON), enum 20, x-kubernetes-preserve-unknown-fields 38.
  Msg replicas = Msg().str(5, "integer").dbl(9, 10.5).dbl(11, 0).msg(8, Msg().str(1, "3"));
  Msg tags = Msg().str(5, "array").msg(24, Msg().msg(1, Msg().str(5, "string")));
  Msg tuple = Msg()
                  .str(5, "array")
                  .msg(24, Msg().msg(2, Msg().str(5, "string")).msg(2, Msg().str(5, "integer")));
  Msg labels = Msg().str(5, "object").msg(30, Msg().varint(1, 1).msg(2, Msg().str(5, "string")));
  Msg closed = Msg().str(5, "object").msg(30, Msg().varint(1, 0));
  Msg mode = Msg().str(5, "string").msg(20, Msg().str(1, R"("a")")).msg(20, Msg().str(1, R"("b")"));
  Msg root = Msg()
                 .str(5, "object")
                 .entry(29, "replicas", replicas)
                 .entry(29, "tags", tags)
                 .entry(29, "tuple", tuple)
                 .entry(29, "labels", labels)
                 .entry(29, "closed", closed)
                 .entry(29, "mode", mode)
                 .entry(32, "a", Msg().str(2, "b").str(2, "c"))
                 .varint(38, 0);
  Msg version = Msg().str(1, "v1").varint(2, 1).varint(3, 1).msg(4, Msg().msg(1, root));
  Msg names = Msg().str(1, "widgets").str(4, "Widget");
  Msg spec = Msg().str(1, "example.com").msg(3, names).str(4, "Namespaced").msg(7, version);
  Json j = decode(envelope("apiextensions.k8s.io/v1", "CustomResourceDefinition",
                           Msg().msg(1, objectMeta("widgets.example.com")).msg(2, spec)));
  const Json& s = j["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
  EXPECT_EQ(j["spec"]["versions"][0]["served"], true);
  EXPECT_EQ(s["x-kubernetes-preserve-unknown-fields"], false);
  EXPECT_EQ(s["properties"]["replicas"],
            Json::parse(R"({"type":"integer","maximum":10.5,"minimum":0.0,"default":3})"));
  EXPECT_EQ(s["properties"]["tags"]["items"], Json::parse(R"({"type":"string"})"));
  EXPECT_EQ(s["properties"]["tuple"]["items"],
            Json::parse(R"([{"type":"string"},{"type":"integer"}])"));
  EXPECT_EQ(s["properties"]["labels"]["additionalProperties"], Json::parse(R"({"type":"string"})"));
  EXPECT_EQ(s["properties"]["closed"]["additionalProperties"], false);
  EXPECT_EQ(s["properties"]["mode"]["enum"], Json::parse(R"(["a","b"])"));
  EXPECT_EQ(s["dependencies"], Json::parse(R"({"a":["b","c"]})"));
}

// A schema of our own, for the types the built-in kinds do not use.
const schema::SchemaSet& testSchemas() {
  static const schema::SchemaSet* set = [] {
    auto* s = new schema::SchemaSet();
    auto r = s->addSource(R"(package io.k8s.apimachinery.pkg.apis.meta.v1
type Duration = string
package io.example.v1
use meta = io.k8s.apimachinery.pkg.apis.meta.v1
kind Widget example.io/v1 nometa
  timeout meta.Duration proto=1
  ratios []double proto=2
  flags []bool proto=3
  counts []int64 proto=4
  nested Widget proto=5
  cells []any proto=6
  byName map[Part] proto=7
  count int32 proto=8 ptr
type Part
  size int64 proto=1
)",
                          "test.schema");
    EXPECT_TRUE(r.ok()) << r.error().message();
    return s;
  }();
  return *set;
}

Json decodeWidget(const Msg& m) {
  auto r = decodeObject(envelope("example.io/v1", "Widget", m), testSchemas());
  EXPECT_TRUE(r.ok()) << r.error().message();
  return r.ok() ? r->object : Json();
}

TEST(Protobuf, DurationsAsGoWritesThem) {
  const std::pair<int64_t, const char*> cases[] = {
      {0, "0s"},
      {1, "1ns"},
      {1500, "1.5µs"},
      {500'000'000, "500ms"},
      {1'500'000, "1.5ms"},
      {1'000'000'000, "1s"},
      {3'723'000'000'000, "1h2m3s"},
      {90'000'000'000, "1m30s"},
      {7'200'000'000'000, "2h0m0s"},
      {-1'500'000'000, "-1.5s"},
      {INT64_MIN, "-2562047h47m16.854775808s"},
  };
  for (const auto& [ns, want] : cases) {
    Json j = decodeWidget(Msg().msg(1, Msg().sint(1, ns)));
    EXPECT_EQ(j["timeout"], want) << ns;
  }
}

TEST(Protobuf, PackedDoublesBoolsAndLongs) {
  Msg doubles;
  for (double d : {0.5, -2.0}) {
    auto bits = std::bit_cast<uint64_t>(d);
    for (int i = 0; i < 8; ++i)
      doubles.raw(std::string(1, static_cast<char>((bits >> (8 * i)) & 0xff)));
  }
  Msg m = Msg()
              .str(2, doubles.bytes())
              .dbl(2, 3.25)
              .packed(3, {1, 0})
              .varint(3, 1)
              .packed(4, {-3, 0, 1LL << 40});
  Json j = decodeWidget(m);
  EXPECT_EQ(j["ratios"], Json::parse("[0.5,-2.0,3.25]"));
  EXPECT_EQ(j["flags"], Json::parse("[true,false,true]"));
  EXPECT_EQ(j["counts"], Json::parse("[-3,0,1099511627776]"));
}

TEST(Protobuf, MapsOfMessagesAndZeroValues) {
  Msg m = Msg()
              .entry(7, "a", Msg().varint(1, 3))
              .msg(7, Msg().str(1, "b"))
              .varint(8, 0)
              .msg(6, Msg().str(1, "ignored"));
  Json j = decodeWidget(m);
  EXPECT_EQ(j, Json::parse(R"({"apiVersion":"example.io/v1","kind":"Widget",
      "byName":{"a":{"size":3},"b":{}},"count":0})"));
}

TEST(Protobuf, DepthIsBounded) {
  auto nestedWidget = [](int levels) {
    Msg m = Msg().varint(8, 1);
    for (int i = 1; i < levels; ++i) m = Msg().msg(5, m);
    return m;
  };
  Json j = decodeWidget(nestedWidget(100));
  int depth = 1;
  for (const Json* p = &j; p->contains("nested"); p = &(*p)["nested"]) ++depth;
  EXPECT_EQ(depth, 100);
  Error e = decodeFails(envelope("example.io/v1", "Widget", nestedWidget(101)), testSchemas());
  EXPECT_EQ(e.code(), ErrorCode::kBadRequest);
  EXPECT_NE(e.message().find("nested deeper than 100"), std::string::npos) << e.message();
  // Deep enough to overflow the stack if unbounded.
  e = decodeFails(envelope("example.io/v1", "Widget", nestedWidget(20000)), testSchemas());
  EXPECT_EQ(e.code(), ErrorCode::kBadRequest);
}

// --- Malformed input -----------------------------------------------------------------------

TEST(ProtobufErrors, EnvelopeProblems) {
  Msg cm = Msg().msg(1, objectMeta("cm"));
  Error e = decodeFails("{\"kind\":\"ConfigMap\"}");
  EXPECT_EQ(e.code(), ErrorCode::kBadRequest);
  EXPECT_EQ(e.message().rfind("failed to decode protobuf: ", 0), 0u) << e.message();
  EXPECT_EQ(decodeFails(std::string("k8s", 3)).code(), ErrorCode::kBadRequest);
  EXPECT_EQ(decodeFails(std::string("k8s\0", 4)).code(), ErrorCode::kBadRequest);  // no kind

  e = decodeFails(envelope("v1", "ConfigMap", cm, "gzip"));
  EXPECT_EQ(e.code(), ErrorCode::kUnsupportedMediaType);
  EXPECT_NE(e.message().find("gzip"), std::string::npos);

  e = decodeFails(envelope("v1", "Gadget", cm));
  EXPECT_EQ(e.code(), ErrorCode::kBadRequest);
  EXPECT_NE(e.message().find("no kind \"Gadget\" is registered for version \"v1\""),
            std::string::npos)
      << e.message();
  EXPECT_EQ(decodeFails(envelope("apps/v2", "Deployment", cm)).code(), ErrorCode::kBadRequest);
  EXPECT_EQ(decodeFails(envelope("", "ConfigMap", cm)).code(), ErrorCode::kBadRequest);
  EXPECT_EQ(decodeFails(envelope("v1", "", cm)).code(), ErrorCode::kBadRequest);
}

TEST(ProtobufErrors, WireProblems) {
  std::string good = envelope("v1", "ConfigMap", Msg().msg(1, objectMeta("cm")).entry(2, "a", "b"));
  ASSERT_TRUE(decodeObject(good, schema::builtinSchemas()).ok());
  // Every truncation of a valid body fails cleanly (never reads past the end).
  for (size_t n = 4; n < good.size(); ++n) {
    auto r = decodeObject(good.substr(0, n), schema::builtinSchemas());
    if (!r.ok()) {
      EXPECT_EQ(r.error().code(), ErrorCode::kBadRequest) << n;
    }
  }
  const std::pair<std::string, Msg> bad[] = {
      {"length past the end", Msg().raw(std::string("\x0a\x7f", 2))},
      {"truncated varint", Msg().raw(std::string("\x0a\x01\x80", 3))},
      {"varint longer than 10 bytes",
       Msg().raw(std::string("\x38\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12))},
      {"invalid field number 0", Msg().raw(std::string("\x02\x00", 2))},
      {"unsupported wire type 3", Msg().raw(std::string("\x7b", 1))},  // field 15
      {"wire type 0, want 2", Msg().varint(1, 5)},                     // metadata as a varint
      {"wire type 2, want 0", Msg().msg(1, Msg().str(7, "x"))},        // generation as bytes
      {"not valid UTF-8", Msg().msg(1, Msg().str(1, "\xc3\x28"))},
      {"unknown type 2", Msg().msg(1, Msg().str(1, "n")).msg(2, Msg().msg(1, Msg().varint(1, 2)))},
      {"time out of range", Msg().msg(1, Msg().msg(8, Msg().sint(1, 253402300800)))},
      {"time out of range", Msg().msg(1, Msg().msg(8, Msg().sint(1, INT64_MIN)))},
  };
  for (const auto& [want, obj] : bad) {
    // The IntOrString case needs a kind with one: use PodDisruptionBudget for all.
    Error e = decodeFails(envelope("policy/v1", "PodDisruptionBudget", obj));
    EXPECT_EQ(e.code(), ErrorCode::kBadRequest) << want;
    EXPECT_NE(e.message().find(want), std::string::npos) << want << ": " << e.message();
  }
  Error e = decodeFails(envelope("apps/v1", "ControllerRevision",
                                 Msg().msg(1, objectMeta("r")).msg(2, Msg().str(1, "{not json"))));
  EXPECT_NE(e.message().find("embedded JSON"), std::string::npos) << e.message();
  e = decodeFails(envelope("example.io/v1", "Widget",
                           Msg().dbl(2, std::bit_cast<double>(0x7ff8000000000000ULL))),
                  testSchemas());
  EXPECT_NE(e.message().find("not a finite number"), std::string::npos) << e.message();
}

}  // namespace
}  // namespace nave::protobuf