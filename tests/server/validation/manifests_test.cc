// Real-world manifests (shapes taken from common charts and bundled add-ons) must be accepted
// on create and again when re-applied, after the API server's defaulting.
#include <gtest/gtest.h>

#include "common/yaml.h"
#include "server/validation/validation.h"
#include "tests/server/validation/test_util.h"

namespace nave::validation {
namespace {

using testing::describe;
using testing::groupOf;

constexpr std::string_view kManifests = R"yaml(
apiVersion: v1
kind: ConfigMap
metadata:
  name: coredns
  namespace: kube-system
data:
  Corefile: |
    .:53 {
        errors
        health
        ready
        kubernetes cluster.local in-addr.arpa ip6.arpa {
          pods insecure
          fallthrough in-addr.arpa ip6.arpa
        }
        forward . /etc/resolv.conf
        cache 30
    }
  NodeHosts: ""
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: coredns
  namespace: kube-system
  labels: {k8s-app: kube-dns, kubernetes.io/name: CoreDNS}
spec:
  revisionHistoryLimit: 0
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxUnavailable: 1}
  selector:
    matchLabels: {k8s-app: kube-dns}
  template:
    metadata:
      labels: {k8s-app: kube-dns}
    spec:
      priorityClassName: system-cluster-critical
      serviceAccountName: coredns
      tolerations:
      - {key: CriticalAddonsOnly, operator: Exists}
      - {key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}
      nodeSelector: {kubernetes.io/os: linux}
      topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: kubernetes.io/hostname
        whenUnsatisfiable: DoNotSchedule
        labelSelector: {matchLabels: {k8s-app: kube-dns}}
      containers:
      - name: coredns
        image: rancher/mirrored-coredns-coredns:1.10.1
        imagePullPolicy: IfNotPresent
        resources:
          limits: {memory: 170Mi}
          requests: {cpu: 100m, memory: 70Mi}
        args: [-conf, /etc/coredns/Corefile]
        volumeMounts:
        - {name: config-volume, mountPath: /etc/coredns, readOnly: true}
        - {name: custom-config-volume, mountPath: /etc/coredns/custom, readOnly: true}
        ports:
        - {containerPort: 53, name: dns, protocol: UDP}
        - {containerPort: 53, name: dns-tcp, protocol: TCP}
        - {containerPort: 9153, name: metrics, protocol: TCP}
        securityContext:
          allowPrivilegeEscalation: false
          capabilities: {add: [NET_BIND_SERVICE], drop: [all]}
          readOnlyRootFilesystem: true
        livenessProbe:
          httpGet: {path: /health, port: 8080, scheme: HTTP}
          initialDelaySeconds: 60
          periodSeconds: 10
          timeoutSeconds: 1
          successThreshold: 1
          failureThreshold: 3
        readinessProbe:
          httpGet: {path: /ready, port: 8181, scheme: HTTP}
          periodSeconds: 2
      dnsPolicy: Default
      volumes:
      - name: config-volume
        configMap:
          name: coredns
          items:
          - {key: Corefile, path: Corefile}
          - {key: NodeHosts, path: NodeHosts}
      - name: custom-config-volume
        configMap: {name: coredns-custom, optional: true}
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  annotations: {prometheus.io/port: "9153", prometheus.io/scrape: "true"}
  labels: {k8s-app: kube-dns, kubernetes.io/cluster-service: "true", kubernetes.io/name: CoreDNS}
spec:
  selector: {k8s-app: kube-dns}
  clusterIP: 10.43.0.10
  clusterIPs: [10.43.0.10]
  ports:
  - {name: dns, port: 53, protocol: UDP}
  - {name: dns-tcp, port: 53, protocol: TCP}
  - {name: metrics, port: 9153, protocol: TCP}
  ipFamilyPolicy: SingleStack
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  labels: {kubernetes.io/bootstrapping: rbac-defaults}
  name: system:coredns
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  annotations: {rbac.authorization.kubernetes.io/autoupdate: "true"}
  labels: {kubernetes.io/bootstrapping: rbac-defaults}
  name: system:coredns
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: system:coredns
subjects:
- kind: ServiceAccount
  name: coredns
  namespace: kube-system
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: redis
  labels: {app.kubernetes.io/name: redis, app.kubernetes.io/component: master}
spec:
  replicas: 1
  serviceName: redis-headless
  selector:
    matchLabels: {app.kubernetes.io/name: redis, app.kubernetes.io/component: master}
  updateStrategy: {type: RollingUpdate}
  template:
    metadata:
      labels: {app.kubernetes.io/name: redis, app.kubernetes.io/component: master}
      annotations: {checksum/config: 7b4d2e9f0c}
    spec:
      securityContext: {fsGroup: 1001, runAsUser: 1001, seccompProfile: {type: RuntimeDefault}}
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 1
            podAffinityTerm:
              labelSelector:
                matchLabels: {app.kubernetes.io/name: redis, app.kubernetes.io/component: master}
              topologyKey: kubernetes.io/hostname
      terminationGracePeriodSeconds: 30
      containers:
      - name: redis
        image: docker.io/bitnami/redis:7.2.4-debian-12-r9
        command: [/bin/bash]
        args: [-c, /opt/bitnami/scripts/start-scripts/start-master.sh]
        env:
        - {name: BITNAMI_DEBUG, value: "false"}
        - {name: REDIS_REPLICATION_MODE, value: master}
        - name: REDIS_PASSWORD
          valueFrom: {secretKeyRef: {name: redis, key: redis-password}}
        - name: MY_POD_IP
          valueFrom: {fieldRef: {fieldPath: status.podIP}}
        ports: [{name: redis, containerPort: 6379}]
        livenessProbe:
          initialDelaySeconds: 20
          periodSeconds: 5
          timeoutSeconds: 6
          successThreshold: 1
          failureThreshold: 5
          exec: {command: [sh, -c, /health/ping_liveness_local.sh 5]}
        readinessProbe:
          tcpSocket: {port: redis}
        startupProbe:
          tcpSocket: {port: redis}
          failureThreshold: 30
        resources:
          limits: {cpu: 150m, ephemeral-storage: 1Gi, memory: 192Mi}
          requests: {cpu: 100m, ephemeral-storage: 50Mi, memory: 128Mi}
        securityContext:
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}
          runAsGroup: 1001
          runAsNonRoot: true
          runAsUser: 1001
          seccompProfile: {type: RuntimeDefault}
        volumeMounts:
        - {name: start-scripts, mountPath: /opt/bitnami/scripts/start-scripts}
        - {name: health, mountPath: /health}
        - {name: redis-data, mountPath: /data}
        - {name: config, mountPath: /opt/bitnami/redis/mounted-etc}
        - {name: empty-dir, mountPath: /opt/bitnami/redis/etc/, subPath: app-conf-dir}
        - {name: empty-dir, mountPath: /tmp, subPath: tmp-dir}
      volumes:
      - name: start-scripts
        configMap: {name: redis-scripts, defaultMode: 0755}
      - name: health
        configMap: {name: redis-health, defaultMode: 0755}
      - name: config
        configMap: {name: redis-configuration}
      - name: empty-dir
        emptyDir: {}
  volumeClaimTemplates:
  - apiVersion: v1
    kind: PersistentVolumeClaim
    metadata:
      name: redis-data
      labels: {app.kubernetes.io/name: redis, app.kubernetes.io/component: master}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 8Gi}}
---
apiVersion: v1
kind: Service
metadata: {name: redis-headless}
spec:
  type: ClusterIP
  clusterIP: None
  publishNotReadyAddresses: true
  ports: [{name: tcp-redis, port: 6379, targetPort: redis}]
  selector: {app.kubernetes.io/name: redis}
---
apiVersion: v1
kind: Secret
metadata: {name: redis}
type: Opaque
data: {redis-password: c2VjcmV0}
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: node-exporter
  namespace: monitoring
  labels: {app.kubernetes.io/name: node-exporter}
spec:
  selector:
    matchLabels: {app.kubernetes.io/name: node-exporter}
  updateStrategy:
    type: RollingUpdate
    rollingUpdate: {maxUnavailable: 10%}
  template:
    metadata:
      labels: {app.kubernetes.io/name: node-exporter}
      annotations: {kubectl.kubernetes.io/default-container: node-exporter}
    spec:
      automountServiceAccountToken: false
      hostNetwork: true
      hostPID: true
      priorityClassName: system-node-critical
      securityContext: {runAsGroup: 65534, runAsNonRoot: true, runAsUser: 65534}
      serviceAccountName: node-exporter
      tolerations: [{operator: Exists}]
      nodeSelector: {kubernetes.io/os: linux}
      containers:
      - name: node-exporter
        image: quay.io/prometheus/node-exporter:v1.7.0
        args: [--web.listen-address=127.0.0.1:9101, --path.sysfs=/host/sys, --path.rootfs=/host/root,
               "--collector.filesystem.mount-points-exclude=^/(dev|proc|sys|run/k3s/containerd/.+|var/lib/docker/.+|var/lib/kubelet/pods/.+)($|/)"]
        resources:
          limits: {cpu: 250m, memory: 180Mi}
          requests: {cpu: 102m, memory: 180Mi}
        volumeMounts:
        - {mountPath: /host/sys, mountPropagation: HostToContainer, name: sys, readOnly: true}
        - {mountPath: /host/root, mountPropagation: HostToContainer, name: root, readOnly: true}
      - name: kube-rbac-proxy
        image: quay.io/brancz/kube-rbac-proxy:v0.15.0
        args: ["--secure-listen-address=[$(IP)]:9100", "--upstream=http://127.0.0.1:9101/"]
        env:
        - name: IP
          valueFrom: {fieldRef: {fieldPath: status.podIP}}
        ports: [{containerPort: 9100, hostPort: 9100, name: https}]
        securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsGroup: 65532, runAsNonRoot: true, runAsUser: 65532}
      volumes:
      - {hostPath: {path: /sys}, name: sys}
      - {hostPath: {path: /}, name: root}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: etcd-snapshot}
spec:
  schedule: "0 */12 * * *"
  concurrencyPolicy: Forbid
  startingDeadlineSeconds: 300
  successfulJobsHistoryLimit: 1
  jobTemplate:
    metadata: {labels: {app: snapshot}}
    spec:
      backoffLimit: 2
      activeDeadlineSeconds: 3600
      ttlSecondsAfterFinished: 86400
      template:
        metadata: {labels: {app: snapshot}}
        spec:
          restartPolicy: OnFailure
          containers:
          - name: snapshot
            image: busybox:1.36
            command: [sh, -c, "date; echo snapshot"]
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, labels: {app: web}}
spec:
  completions: 3
  parallelism: 2
  completionMode: Indexed
  backoffLimitPerIndex: 1
  ttlSecondsAfterFinished: 100
  podFailurePolicy:
    rules:
    - action: FailJob
      onExitCodes: {containerName: main, operator: In, values: [42]}
    - action: Ignore
      onPodConditions: [{type: DisruptionTarget}]
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: migrate:2
        env:
        - name: INDEX
          valueFrom: {fieldRef: {fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  annotations:
    cert-manager.io/cluster-issuer: letsencrypt-prod
    traefik.ingress.kubernetes.io/router.middlewares: default-redirect-https@kubernetescrd
spec:
  ingressClassName: traefik
  tls:
  - hosts: [www.example.org]
    secretName: www-example-org-tls
  rules:
  - host: www.example.org
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {name: web, port: {name: http}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
    ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata:
      labels: {app: web}
    spec:
      initContainers:
      - name: wait-db
        image: busybox:1.36
        command: [sh, -c, "until nc -z db 5432; do sleep 1; done"]
      containers:
      - name: web
        image: ghcr.io/example/web@sha256:4f9c3bd7a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c
        ports: [{name: http, containerPort: 8080}]
        envFrom:
        - configMapRef: {name: web-config}
        - secretRef: {name: web-secrets, optional: true}
        env:
        - name: GOMEMLIMIT
          valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}
        - name: NODE
          valueFrom: {fieldRef: {apiVersion: v1, fieldPath: spec.nodeName}}
        resources:
          requests: {cpu: 250m, memory: 256Mi}
          limits: {memory: 512Mi}
        readinessProbe:
          httpGet:
            path: /healthz
            port: http
            httpHeaders: [{name: X-Probe, value: "1"}]
        lifecycle:
          preStop:
            sleep: {seconds: 5}
        volumeMounts:
        - {name: cache, mountPath: /cache}
        - {name: podinfo, mountPath: /etc/podinfo}
        - {name: token, mountPath: /var/run/secrets/tokens}
      serviceAccountName: web
      volumes:
      - name: cache
        emptyDir: {medium: Memory, sizeLimit: 64Mi}
      - name: podinfo
        downwardAPI:
          items:
          - {path: labels, fieldRef: {fieldPath: metadata.labels}}
          - {path: cpu_limit, resourceFieldRef: {containerName: web, resource: limits.cpu, divisor: 1m}}
      - name: token
        projected:
          sources:
          - serviceAccountToken: {path: token, expirationSeconds: 7200, audience: vault}
          - configMap: {name: kube-root-ca.crt, items: [{key: ca.crt, path: ca.crt}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http, nodePort: 30080}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 10
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
  - type: Pods
    pods:
      metric: {name: http_requests_per_second}
      target: {type: AverageValue, averageValue: "100"}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 300
      policies: [{type: Percent, value: 10, periodSeconds: 60}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app: web}}
---
apiVersion: v1
kind: Secret
metadata: {name: www-example-org-tls}
type: kubernetes.io/tls
data:
  tls.crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
  tls.key: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCg==
---
apiVersion: v1
kind: Secret
metadata: {name: regcred}
type: kubernetes.io/dockerconfigjson
data:
  .dockerconfigjson: eyJhdXRocyI6eyJyZWdpc3RyeS5leGFtcGxlLmNvbSI6eyJhdXRoIjoiZFhObGNqcHdZWE56In19fQ==
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: compute}
spec:
  hard: {requests.cpu: "4", requests.memory: 8Gi, limits.memory: 16Gi, pods: "20", count/deployments.apps: "10", requests.storage: 100Gi}
---
apiVersion: v1
kind: LimitRange
metadata: {name: defaults}
spec:
  limits:
  - type: Container
    default: {cpu: 500m, memory: 512Mi}
    defaultRequest: {cpu: 100m, memory: 128Mi}
    max: {cpu: "2", memory: 2Gi}
  - type: PersistentVolumeClaim
    max: {storage: 50Gi}
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high-priority}
value: 1000000
globalDefault: false
description: For latency-critical workloads.
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local-path
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: rancher.io/local-path
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: local-pv-1}
spec:
  capacity: {storage: 20Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Delete
  storageClassName: local-path
  local: {path: /mnt/disks/ssd1}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [node-1]}]
---
apiVersion: v1
kind: Namespace
metadata:
  name: monitoring
  labels: {pod-security.kubernetes.io/enforce: privileged}
---
apiVersion: v1
kind: Pod
metadata:
  name: debug
  annotations: {container.apparmor.security.beta.kubernetes.io/shell: runtime/default}
spec:
  restartPolicy: Never
  hostAliases: [{ip: 127.0.0.1, hostnames: [foo.local, bar.local]}]
  dnsPolicy: None
  dnsConfig:
    nameservers: [1.1.1.1]
    searches: [ns1.svc.cluster-domain.example, my.dns.search.suffix]
    options: [{name: ndots, value: "2"}, {name: edns0}]
  readinessGates: [{conditionType: www.example.com/feature-1}]
  os: {name: linux}
  containers:
  - name: shell
    image: alpine
    stdin: true
    tty: true
    workingDir: /root
    securityContext:
      privileged: true
      capabilities: {add: [SYS_ADMIN, NET_ADMIN]}
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: node-1, namespace: kube-node-lease}
spec: {holderIdentity: node-1, leaseDurationSeconds: 40, renewTime: "2024-05-01T10:00:00.000000Z"}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-7v6qh
  namespace: kube-system
  labels: {kubernetes.io/service-name: kube-dns, endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io}
addressType: IPv4
endpoints:
- addresses: [10.42.0.3]
  conditions: {ready: true, serving: true, terminating: false}
  nodeName: node-1
  targetRef: {kind: Pod, name: coredns-6799fbcd5-x2x4k, namespace: kube-system, uid: 3d6e4b0e-1c1a-4e0f-9c5b-2b7b6e5e9f10}
ports:
- {name: dns-tcp, port: 53, protocol: TCP}
- {name: dns, port: 53, protocol: UDP}
- {name: metrics, port: 9153, protocol: TCP}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: legacy}
spec:
  replicas: 2
  selector: {app: legacy}
  template:
    metadata: {labels: {app: legacy}}
    spec: {containers: [{name: app, image: "legacy:1"}]}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: helmcharts.helm.cattle.io}
spec:
  group: helm.cattle.io
  names: {kind: HelmChart, plural: helmcharts, singular: helmchart}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns:
    - {jsonPath: .status.jobName, name: Job, type: string}
    - {jsonPath: .spec.chart, name: Chart, type: string}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              chart: {nullable: true, type: string}
              valuesContent: {nullable: true, type: string}
              set:
                additionalProperties: {x-kubernetes-int-or-string: true}
                nullable: true
                type: object
              timeout: {nullable: true, type: string}
          status:
            type: object
            properties:
              jobName: {nullable: true, type: string}
    subresources: {status: {}}
)yaml";

// RFC 7386 merge of a manifest into the stored object: what `kubectl apply` sends, roughly.
void mergeInto(Json& target, const Json& patch) {
  if (!patch.is_object() || !target.is_object()) {
    target = patch;
    return;
  }
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it->is_null()) {
      target.erase(it.key());
    } else if (it->is_object() && target.contains(it.key()) && target[it.key()].is_object()) {
      mergeInto(target[it.key()], *it);
    } else {
      target[it.key()] = *it;
    }
  }
}

TEST(Manifests, RealWorldObjectsAreAcceptedOnCreateAndReapply) {
  auto docs = parseYamlDocuments(kManifests);
  ASSERT_TRUE(docs.ok()) << docs.error().message();
  ASSERT_GE(docs->size(), 30u);
  for (Json manifest : *docs) {
    std::string kind = manifest.value("kind", "");
    std::string name = manifest["metadata"].value("name", "");
    SCOPED_TRACE(kind + "/" + name);
    std::string group = groupOf(manifest);

    Json stored = manifest;
    if (!stored["metadata"].contains("namespace")) stored["metadata"]["namespace"] = "default";
    stored["metadata"]["uid"] = "6c1b5d3e-0a4f-4b8e-9d2c-" + std::to_string(name.size()) + "0000000000";
    applyDefaults(group, kind, stored);
    FieldErrors errs = validate(group, kind, stored, nullptr, Operation::kCreate);
    EXPECT_TRUE(errs.empty()) << describe(errs);

    // What the server adds on create: version, timestamp, an allocated cluster IP.
    stored["metadata"]["resourceVersion"] = "100";
    stored["metadata"]["creationTimestamp"] = "2024-05-01T10:00:00Z";
    if (kind == "Service" && !stored["spec"].contains("clusterIP")) {
      stored["spec"]["clusterIP"] = "10.43.12.34";
      stored["spec"]["clusterIPs"] = {"10.43.12.34"};
    }

    // Re-applying the same manifest is an update that changes nothing the user did not own.
    Json reapplied = stored;
    mergeInto(reapplied, manifest);
    if (!manifest["metadata"].contains("namespace")) reapplied["metadata"]["namespace"] = "default";
    applyDefaults(group, kind, reapplied);
    FieldErrors upd = validate(group, kind, reapplied, &stored, Operation::kUpdate);
    EXPECT_TRUE(upd.empty()) << describe(upd);

    // A status write by a controller only touches status.
    Json status = stored;
    status["metadata"]["resourceVersion"] = "101";
    FieldErrors st = validate(group, kind, status, &stored, Operation::kStatusUpdate);
    EXPECT_TRUE(st.empty()) << describe(st);
  }
}

}  // namespace
}  // namespace nave::validation
