#include <gtest/gtest.h>

#include "server/validation/validation.h"
#include "tests/server/validation/test_util.h"

namespace nave::validation {
namespace {

using testing::create;
using testing::describe;
using testing::yaml;

TEST(CoreDefaults, Pod) {
  Json pod = yaml(R"(
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  hostNetwork: false
  serviceAccountName: default
  containers:
  - name: app
    image: nginx
    ports: [{containerPort: 80}]
    env:
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    resources:
      limits: {cpu: 500m, memory: 128Mi}
      requests: {cpu: 100m}
    livenessProbe:
      httpGet: {port: 80}
    readinessProbe:
      tcpSocket: {port: 80}
      periodSeconds: 5
    lifecycle:
      preStop: {httpGet: {port: 80, path: /quit}}
  - name: sidecar
    image: registry.example.com:5000/tools/busybox:1.36
  - name: pinned
    image: alpine@sha256:0000000000000000000000000000000000000000000000000000000000000000
  - name: latest
    image: alpine:latest
  volumes:
  - name: scratch
  - name: config
    configMap: {name: app-config}
  - name: creds
    secret: {secretName: app-creds}
  - name: host
    hostPath: {path: /var/log}
  - name: info
    downwardAPI:
      items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]
  - name: token
    projected:
      sources: [{serviceAccountToken: {path: token}}]
)");
  EXPECT_NO_FIELD_ERRORS(create(pod));
  const Json& spec = pod["spec"];
  EXPECT_EQ(spec["restartPolicy"], "Always");
  EXPECT_EQ(spec["dnsPolicy"], "ClusterFirst");
  EXPECT_EQ(spec["terminationGracePeriodSeconds"], 30);
  EXPECT_EQ(spec["schedulerName"], "default-scheduler");
  EXPECT_EQ(spec["securityContext"], Json::object());
  EXPECT_EQ(spec["enableServiceLinks"], true);

  const Json& app = spec["containers"][0];
  EXPECT_EQ(app["imagePullPolicy"], "Always");
  EXPECT_EQ(app["terminationMessagePath"], "/dev/termination-log");
  EXPECT_EQ(app["terminationMessagePolicy"], "File");
  EXPECT_EQ(app["ports"][0]["protocol"], "TCP");
  EXPECT_EQ(app["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
  EXPECT_EQ(app["resources"]["requests"], (Json{{"cpu", "100m"}, {"memory", "128Mi"}}));
  EXPECT_EQ(app["livenessProbe"], yaml(R"(
httpGet: {port: 80, path: /, scheme: HTTP}
timeoutSeconds: 1
periodSeconds: 10
successThreshold: 1
failureThreshold: 3
)"));
  EXPECT_EQ(app["readinessProbe"]["periodSeconds"], 5);
  EXPECT_EQ(app["lifecycle"]["preStop"]["httpGet"]["scheme"], "HTTP");
  EXPECT_EQ(app["lifecycle"]["preStop"]["httpGet"]["path"], "/quit");
  EXPECT_EQ(spec["containers"][1]["imagePullPolicy"], "IfNotPresent");
  EXPECT_EQ(spec["containers"][2]["imagePullPolicy"], "IfNotPresent");
  EXPECT_EQ(spec["containers"][3]["imagePullPolicy"], "Always");

  const Json& volumes = spec["volumes"];
  EXPECT_EQ(volumes[0]["emptyDir"], Json::object());
  EXPECT_EQ(volumes[1]["configMap"]["defaultMode"], 420);
  EXPECT_EQ(volumes[2]["secret"]["defaultMode"], 420);
  EXPECT_EQ(volumes[3]["hostPath"]["type"], "");
  EXPECT_EQ(volumes[4]["downwardAPI"]["defaultMode"], 420);
  EXPECT_EQ(volumes[4]["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"], "v1");
  EXPECT_EQ(volumes[5]["projected"]["defaultMode"], 420);
  EXPECT_EQ(volumes[5]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"], 3600);
}

TEST(CoreDefaults, PodExplicitValuesAreKept) {
  Json pod = yaml(R"(
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 0
  enableServiceLinks: false
  hostNetwork: true
  containers:
  - {name: app, image: "nginx:1.25", imagePullPolicy: Never, ports: [{containerPort: 8080, protocol: UDP}]}
)");
  EXPECT_NO_FIELD_ERRORS(create(pod));
  EXPECT_EQ(pod["spec"]["restartPolicy"], "Never");
  EXPECT_EQ(pod["spec"]["terminationGracePeriodSeconds"], 0);
  EXPECT_EQ(pod["spec"]["enableServiceLinks"], false);
  EXPECT_EQ(pod["spec"]["containers"][0]["imagePullPolicy"], "Never");
  EXPECT_EQ(pod["spec"]["containers"][0]["ports"][0]["protocol"], "UDP");
  EXPECT_EQ(pod["spec"]["containers"][0]["ports"][0]["hostPort"], 8080);
}

TEST(CoreDefaults, TemplatesGetPodSpecDefaultsOnly) {
  Json pt = yaml(R"(
apiVersion: v1
kind: PodTemplate
metadata: {name: t}
template:
  spec:
    containers: [{name: c, image: busybox, resources: {limits: {cpu: "1"}}}]
)");
  EXPECT_NO_FIELD_ERRORS(create(pt));
  const Json& spec = pt["template"]["spec"];
  EXPECT_EQ(spec["restartPolicy"], "Always");
  EXPECT_FALSE(spec.contains("enableServiceLinks"));
  EXPECT_FALSE(spec["containers"][0]["resources"].contains("requests"));
}

TEST(CoreDefaults, Service) {
  Json svc = yaml(R"(
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80}, {name: metrics, port: 9090, targetPort: metrics}]
)");
  EXPECT_NO_FIELD_ERRORS(create(svc));
  EXPECT_EQ(svc["spec"], yaml(R"(
selector: {app: web}
ports:
- {name: http, port: 80, protocol: TCP, targetPort: 80}
- {name: metrics, port: 9090, protocol: TCP, targetPort: metrics}
type: ClusterIP
sessionAffinity: None
internalTrafficPolicy: Cluster
ipFamilyPolicy: SingleStack
ipFamilies: [IPv4]
)"));

  Json np = yaml(R"(
apiVersion: v1
kind: Service
metadata: {name: np}
spec: {type: LoadBalancer, sessionAffinity: ClientIP, ports: [{port: 443}]}
)");
  EXPECT_NO_FIELD_ERRORS(create(np));
  EXPECT_EQ(np["spec"]["externalTrafficPolicy"], "Cluster");
  EXPECT_EQ(np["spec"]["allocateLoadBalancerNodePorts"], true);
  EXPECT_EQ(np["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"], 10800);

  Json headless = yaml(R"(
apiVersion: v1
kind: Service
metadata: {name: db}
spec: {clusterIP: None, ports: [{port: 5432}]}
)");
  EXPECT_NO_FIELD_ERRORS(create(headless));
  EXPECT_EQ(headless["spec"]["ipFamilyPolicy"], "RequireDualStack");
  EXPECT_EQ(headless["spec"]["clusterIPs"], Json::array({"None"}));

  Json external = yaml(R"(
apiVersion: v1
kind: Service
metadata: {name: ext}
spec: {type: ExternalName, externalName: db.example.com.}
)");
  EXPECT_NO_FIELD_ERRORS(create(external));
  EXPECT_FALSE(external["spec"].contains("ipFamilyPolicy"));
  EXPECT_FALSE(external["spec"].contains("internalTrafficPolicy"));
}

TEST(CoreDefaults, SecretTypeAndStringData) {
  Json secret = yaml(R"(
apiVersion: v1
kind: Secret
metadata: {name: s}
data: {a: YQ==}
stringData: {b: hello, a: override}
)");
  EXPECT_NO_FIELD_ERRORS(create(secret));
  EXPECT_EQ(secret["type"], "Opaque");
  EXPECT_FALSE(secret.contains("stringData"));
  EXPECT_EQ(secret["data"], (Json{{"a", "b3ZlcnJpZGU="}, {"b", "aGVsbG8="}}));
}

TEST(CoreDefaults, NamespaceLabelAndPhase) {
  Json ns = yaml("{apiVersion: v1, kind: Namespace, metadata: {name: team-a}}");
  EXPECT_NO_FIELD_ERRORS(create(ns));
  EXPECT_EQ(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "team-a");
  EXPECT_EQ(ns["status"]["phase"], "Active");

  // spec.finalizers belongs to the registry strategy, not to defaulting.
  Json finalized = ns;
  finalized["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z";
  finalized["status"]["phase"] = "Terminating";
  finalized["spec"]["finalizers"] = Json::array();
  applyDefaults("", "Namespace", finalized);
  EXPECT_EQ(finalized["spec"]["finalizers"], Json::array());
  EXPECT_EQ(finalized["status"]["phase"], "Terminating");
}

TEST(CoreDefaults, VolumesAndClaims) {
  Json pv = yaml(R"(
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv1}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  hostPath: {path: /data/pv1}
)");
  EXPECT_NO_FIELD_ERRORS(create(pv));
  EXPECT_EQ(pv["spec"]["persistentVolumeReclaimPolicy"], "Retain");
  EXPECT_EQ(pv["spec"]["volumeMode"], "Filesystem");
  EXPECT_EQ(pv["status"]["phase"], "Pending");

  Json pvc = yaml(R"(
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 5Gi}}
)");
  EXPECT_NO_FIELD_ERRORS(create(pvc));
  EXPECT_EQ(pvc["spec"]["volumeMode"], "Filesystem");
  EXPECT_EQ(pvc["status"]["phase"], "Pending");
}

TEST(CoreDefaults, ReplicationControllerEndpointsLimitRangeNode) {
  Json rc = yaml(R"(
apiVersion: v1
kind: ReplicationController
metadata: {name: web}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
)");
  EXPECT_NO_FIELD_ERRORS(create(rc));
  EXPECT_EQ(rc["spec"]["replicas"], 1);
  EXPECT_EQ(rc["spec"]["selector"], (Json{{"app", "web"}}));
  EXPECT_EQ(rc["metadata"]["labels"], (Json{{"app", "web"}}));

  Json ep = yaml(R"(
apiVersion: v1
kind: Endpoints
metadata: {name: web}
subsets: [{addresses: [{ip: 10.42.0.5}], ports: [{port: 80}]}]
)");
  EXPECT_NO_FIELD_ERRORS(create(ep));
  EXPECT_EQ(ep["subsets"][0]["ports"][0]["protocol"], "TCP");

  Json lr = yaml(R"(
apiVersion: v1
kind: LimitRange
metadata: {name: limits}
spec:
  limits:
  - type: Container
    max: {cpu: "2"}
    min: {memory: 64Mi}
    default: {memory: 256Mi}
)");
  EXPECT_NO_FIELD_ERRORS(create(lr));
  EXPECT_EQ(lr["spec"]["limits"][0]["default"], (Json{{"cpu", "2"}, {"memory", "256Mi"}}));
  EXPECT_EQ(lr["spec"]["limits"][0]["defaultRequest"], (Json{{"cpu", "2"}, {"memory", "256Mi"}}));

  Json node = yaml(R"(
apiVersion: v1
kind: Node
metadata: {name: node-1}
status: {capacity: {cpu: "4", memory: 8Gi, pods: "110"}}
)");
  EXPECT_NO_FIELD_ERRORS(create(node));
  EXPECT_EQ(node["status"]["allocatable"], node["status"]["capacity"]);
}

}  // namespace
}  // namespace nave::validation
