#include <gtest/gtest.h>

#include "server/validation/validation.h"
#include "tests/server/validation/test_util.h"

namespace nave::validation {
namespace {

using testing::create;
using testing::describe;
using testing::findError;
using testing::hasError;
using testing::update;
using testing::yaml;

// An object as the store holds it after create (namespace and defaults already applied).
Json stored(Json obj) {
  obj["metadata"]["resourceVersion"] = "10";
  obj["metadata"]["uid"] = "uid-1";
  return obj;
}

TEST(CoreValidation, ServiceErrors) {
  Json svc = yaml(R"(
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: Balancer
  ports:
  - {port: 80}
  - {name: http, port: 0, protocol: HTTP}
  - {name: http, port: 8080, targetPort: Not_A_Name, nodePort: 80}
)");
  FieldErrors errs = create(svc);
  EXPECT_EQ(findError(errs, "spec.ports[0].name")->toString(), "spec.ports[0].name: Required value");
  EXPECT_EQ(findError(errs, "spec.ports[1].port")->toString(),
            "spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive");
  EXPECT_FIELD_ERROR(errs, "spec.ports[1].protocol", FieldErrorType::kNotSupported);
  EXPECT_FIELD_ERROR(errs, "spec.ports[2].name", FieldErrorType::kDuplicate);
  EXPECT_FIELD_ERROR(errs, "spec.ports[2].targetPort", FieldErrorType::kInvalid);
  EXPECT_EQ(findError(errs, "spec.ports[2].nodePort")->detail,
            "provided port is not in the valid range. The range of valid ports is 30000-32767");
  EXPECT_EQ(findError(errs, "spec.type")->toString(),
            "spec.type: Unsupported value: \"Balancer\": supported values: \"ClusterIP\", \"ExternalName\", "
            "\"LoadBalancer\", \"NodePort\"");

  Json noPorts = yaml("{apiVersion: v1, kind: Service, metadata: {name: x}, spec: {selector: {a: b}}}");
  EXPECT_EQ(findError(create(noPorts), "spec.ports")->toString(), "spec.ports: Required value");
  Json headless = yaml("{apiVersion: v1, kind: Service, metadata: {name: x}, spec: {clusterIP: None}}");
  EXPECT_NO_FIELD_ERRORS(create(headless));
  Json nodePortOnClusterIP = yaml("{apiVersion: v1, kind: Service, metadata: {name: x}, spec: {ports: [{port: 80, nodePort: 30001}]}}");
  EXPECT_EQ(findError(create(nodePortOnClusterIP), "spec.ports[0].nodePort")->detail,
            "may not be used when `type` is 'ClusterIP'");
  Json dupPorts = yaml(R"(
apiVersion: v1
kind: Service
metadata: {name: x}
spec: {ports: [{name: a, port: 53, protocol: UDP}, {name: b, port: 53, protocol: UDP}, {name: c, port: 53}]}
)");
  EXPECT_FIELD_ERROR(create(dupPorts), "spec.ports[1]", FieldErrorType::kDuplicate);
}

TEST(CoreValidation, ServiceClusterIPIsImmutable) {
  Json old = yaml("{apiVersion: v1, kind: Service, metadata: {name: web}, spec: {clusterIP: 10.43.0.20, ports: [{port: 80}]}}");
  ASSERT_TRUE(create(old).empty());
  old = stored(old);
  Json changed = old;
  changed["spec"]["clusterIP"] = "10.43.0.21";
  changed["spec"]["clusterIPs"] = {"10.43.0.21"};
  FieldErrors errs = update(changed, old);
  ASSERT_EQ(errs.size(), 1u) << describe(errs);
  EXPECT_EQ(errs.errors()[0].toString(),
            "spec.clusterIPs[0]: Invalid value: []string{\"10.43.0.21\"}: may not change once set");
  Json omitted = old;
  omitted["spec"].erase("clusterIP");
  omitted["spec"].erase("clusterIPs");
  EXPECT_NO_FIELD_ERRORS(update(omitted, old));
  Json toNodePort = old;
  toNodePort["spec"]["type"] = "NodePort";
  EXPECT_NO_FIELD_ERRORS(update(toNodePort, old));
}

TEST(CoreValidation, ConfigMap) {
  Json cm = yaml(R"(
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data: {good.key: x, "bad/key": y, "..hidden": z, dup: a}
binaryData: {dup: AA==}
)");
  FieldErrors errs = create(cm);
  EXPECT_EQ(errs.size(), 3u) << describe(errs);
  EXPECT_EQ(findError(errs, "data[bad/key]")->toString(),
            "data[bad/key]: Invalid value: \"bad/key\": a valid config key must consist of alphanumeric "
            "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
            "validation is '[-._a-zA-Z0-9]+')");
  EXPECT_EQ(findError(errs, "data[..hidden]")->detail, "must not start with '..'");
  EXPECT_EQ(findError(errs, "data[dup]")->detail, "duplicate of key present in binaryData");

  Json big = yaml("{apiVersion: v1, kind: ConfigMap, metadata: {name: big}}");
  big["data"]["blob"] = std::string(1024 * 1024 + 1, 'x');
  EXPECT_EQ(describe(create(big)), "\n  : Too long: may not be more than 1048576 bytes");

  Json immutable = yaml("{apiVersion: v1, kind: ConfigMap, metadata: {name: c}, immutable: true, data: {a: b}}");
  ASSERT_TRUE(create(immutable).empty());
  immutable = stored(immutable);
  Json changed = immutable;
  changed["data"]["a"] = "c";
  changed["immutable"] = false;
  FieldErrors u = update(changed, immutable);
  EXPECT_EQ(findError(u, "data")->toString(), "data: Forbidden: field is immutable when `immutable` is set");
  EXPECT_FIELD_ERROR(u, "immutable", FieldErrorType::kForbidden);
  Json labelled = immutable;
  labelled["metadata"]["labels"] = {{"a", "b"}};
  EXPECT_NO_FIELD_ERRORS(update(labelled, immutable));
}

TEST(CoreValidation, SecretTypes) {
  Json tls = yaml("{apiVersion: v1, kind: Secret, metadata: {name: t}, type: kubernetes.io/tls, data: {tls.crt: eA==}}");
  FieldErrors errs = create(tls);
  ASSERT_EQ(errs.size(), 1u) << describe(errs);
  EXPECT_EQ(errs.errors()[0].toString(), "data[tls.key]: Required value");

  Json docker = yaml("{apiVersion: v1, kind: Secret, metadata: {name: d}, type: kubernetes.io/dockerconfigjson, data: {}}");
  EXPECT_EQ(describe(create(docker)), "\n  data[.dockerconfigjson]: Required value");
  Json notJson = yaml(R"({apiVersion: v1, kind: Secret, metadata: {name: d}, type: kubernetes.io/dockerconfigjson,
                          stringData: {.dockerconfigjson: "{not json"}})");
  FieldErrors notJsonErrs = create(notJson);
  const FieldError* e = findError(notJsonErrs, "data[.dockerconfigjson]");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->badValue, "<secret contents redacted>");

  Json sa = yaml("{apiVersion: v1, kind: Secret, metadata: {name: s}, type: kubernetes.io/service-account-token}");
  EXPECT_FIELD_ERROR(create(sa), "metadata.annotations[kubernetes.io/service-account.name]", FieldErrorType::kRequired);
  Json basic = yaml("{apiVersion: v1, kind: Secret, metadata: {name: b}, type: kubernetes.io/basic-auth, stringData: {password: x}}");
  EXPECT_NO_FIELD_ERRORS(create(basic));

  Json old = yaml("{apiVersion: v1, kind: Secret, metadata: {name: s}, type: Opaque, immutable: true, data: {a: YQ==}}");
  ASSERT_TRUE(create(old).empty());
  old = stored(old);
  Json retyped = old;
  retyped["type"] = "kubernetes.io/basic-auth";
  retyped["data"]["username"] = "dQ==";
  FieldErrors u = update(retyped, old);
  EXPECT_EQ(findError(u, "type")->toString(), "type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable");
  EXPECT_FIELD_ERROR(u, "data", FieldErrorType::kForbidden);
}

TEST(CoreValidation, PersistentVolumes) {
  Json pv = yaml(R"(
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv}
spec: {accessModes: [ReadWriteSometimes], persistentVolumeReclaimPolicy: Keep}
)");
  FieldErrors errs = create(pv);
  EXPECT_FIELD_ERROR(errs, "spec.accessModes", FieldErrorType::kNotSupported);
  EXPECT_FIELD_ERROR(errs, "spec.capacity", FieldErrorType::kRequired);
  EXPECT_FIELD_ERROR(errs, "spec.persistentVolumeReclaimPolicy", FieldErrorType::kNotSupported);
  EXPECT_EQ(findError(errs, "spec")->toString(), "spec: Required value: must specify a volume type");

  Json good = yaml(R"(
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv}
spec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce], nfs: {server: nfs.example.com, path: /exports}}
)");
  ASSERT_TRUE(create(good).empty());
  Json old = stored(good);
  Json moved = old;
  moved["spec"]["nfs"]["path"] = "/other";
  moved["spec"]["capacity"]["storage"] = "2Gi";
  FieldErrors u = update(moved, old);
  ASSERT_EQ(u.size(), 1u) << describe(u);
  EXPECT_EQ(u.errors()[0].field, "spec.persistentvolumesource");
  EXPECT_EQ(u.errors()[0].detail.substr(0, 55), "spec.persistentvolumesource is immutable after creation");
}

TEST(CoreValidation, PersistentVolumeClaims) {
  Json pvc = yaml(R"(
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec: {resources: {requests: {cpu: "1"}}, storageClassName: Fast_SSD}
)");
  FieldErrors errs = create(pvc);
  EXPECT_EQ(findError(errs, "spec.accessModes")->toString(), "spec.accessModes: Required value: at least 1 access mode is required");
  EXPECT_EQ(findError(errs, "spec.resources[storage]")->toString(), "spec.resources[storage]: Required value");
  EXPECT_FIELD_ERROR(errs, "spec.storageClassName", FieldErrorType::kInvalid);

  Json good = yaml(R"(
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}, storageClassName: local-path}
)");
  ASSERT_TRUE(create(good).empty());
  Json old = stored(good);
  Json bound = old;
  bound["spec"]["volumeName"] = "pvc-1234";
  bound["status"] = {{"phase", "Bound"}, {"capacity", {{"storage", "1Gi"}}}};
  EXPECT_NO_FIELD_ERRORS(update(bound, old));

  Json grown = bound;
  grown["spec"]["resources"]["requests"]["storage"] = "2Gi";
  EXPECT_NO_FIELD_ERRORS(update(grown, bound));
  Json shrunk = bound;
  shrunk["spec"]["resources"]["requests"]["storage"] = "512Mi";
  EXPECT_EQ(findError(update(shrunk, bound), "spec.resources.requests.storage")->detail,
            "field can not be less than status.capacity");
  Json remoded = bound;
  remoded["spec"]["accessModes"] = {"ReadWriteMany"};
  FieldErrors u = update(remoded, bound);
  ASSERT_EQ(u.size(), 1u) << describe(u);
  EXPECT_EQ(u.errors()[0].detail.substr(0, u.errors()[0].detail.find('\n')),
            "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims");
}

TEST(CoreValidation, NamespaceNodeQuotaEndpointsBinding) {
  Json ns = yaml("{apiVersion: v1, kind: Namespace, metadata: {name: team.a}, spec: {finalizers: [kubernetes, custom]}}");
  FieldErrors nsErrs = create(ns);
  EXPECT_EQ(findError(nsErrs, "metadata.name")->detail, "must not contain dots");
  EXPECT_EQ(findError(nsErrs, "spec.finalizers")->detail,
            "name is neither a standard finalizer name nor is it fully qualified");

  Json node = yaml(R"(
apiVersion: v1
kind: Node
metadata: {name: node-1}
spec:
  podCIDRs: [10.42.0.0/24]
  taints: [{key: dedicated, value: gpu, effect: NoSchedule}, {key: dedicated, value: x, effect: NoSchedule}, {key: k, effect: Sometimes}]
)");
  FieldErrors nodeErrs = create(node);
  EXPECT_EQ(findError(nodeErrs, "metadata.taints[1]")->detail, "taints must be unique by key and effect pair");
  EXPECT_FIELD_ERROR(nodeErrs, "metadata.taints[2].effect", FieldErrorType::kNotSupported);
  Json goodNode = yaml("{apiVersion: v1, kind: Node, metadata: {name: node-1}, spec: {podCIDRs: [10.42.0.0/24]}}");
  ASSERT_TRUE(create(goodNode).empty());
  Json oldNode = stored(goodNode);
  Json recidr = oldNode;
  recidr["spec"]["podCIDRs"] = {"10.42.1.0/24"};
  EXPECT_FIELD_ERROR(update(recidr, oldNode), "spec.podCIDRs", FieldErrorType::kForbidden);
  Json cordoned = oldNode;
  cordoned["spec"]["unschedulable"] = true;
  EXPECT_NO_FIELD_ERRORS(update(cordoned, oldNode));

  Json quota = yaml(R"(
apiVersion: v1
kind: ResourceQuota
metadata: {name: q}
spec: {hard: {pods: 1.5, cpus: "4", requests.memory: -1Gi}, scopes: [BestEffort, NotBestEffort]}
)");
  FieldErrors q = create(quota);
  EXPECT_EQ(findError(q, "spec.hard[pods]")->detail, "must be an integer");
  EXPECT_EQ(findError(q, "spec.hard[cpus]")->detail, "must be a standard resource for quota");
  EXPECT_EQ(findError(q, "spec.hard[requests.memory]")->detail, "must be greater than or equal to 0");
  EXPECT_EQ(findError(q, "spec.scopes")->detail, "conflicting scopes");

  Json ep = yaml(R"(
apiVersion: v1
kind: Endpoints
metadata: {name: e}
subsets: [{addresses: [{ip: 127.0.0.1}], ports: [{port: 80}, {port: 81}]}, {}]
)");
  FieldErrors epErrs = create(ep);
  EXPECT_EQ(findError(epErrs, "subsets[0].addresses[0].ip")->detail, "may not be in the loopback range (127.0.0.0/8, ::1/128)");
  EXPECT_FIELD_ERROR(epErrs, "subsets[0].ports[0].name", FieldErrorType::kRequired);
  EXPECT_EQ(findError(epErrs, "subsets[1]")->detail, "must specify `addresses` or `notReadyAddresses`");

  Json binding = yaml("{apiVersion: v1, kind: Binding, metadata: {name: p}, target: {kind: Pod, name: ''}}");
  FieldErrors b = validate("", "Binding", binding, nullptr, Operation::kCreate);
  EXPECT_FIELD_ERROR(b, "target.kind", FieldErrorType::kNotSupported);
  EXPECT_FIELD_ERROR(b, "target.name", FieldErrorType::kRequired);
}

TEST(CoreValidation, ReplicationControllerSelector) {
  Json rc = yaml(R"(
apiVersion: v1
kind: ReplicationController
metadata: {name: rc}
spec:
  selector: {app: other}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
)");
  EXPECT_EQ(describe(create(rc)),
            "\n  spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does "
            "not match template `labels`");
}

}  // namespace
}  // namespace nave::validation
