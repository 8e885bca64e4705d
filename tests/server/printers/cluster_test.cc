#include <gtest/gtest.h>

#include "tests/server/printers/print_testing.h"

namespace nave::printers {
namespace {

using testing::columns;
using testing::json;
using testing::row;
using Names = std::vector<std::string>;

TEST(NamespacePrinter, Phase) {
  EXPECT_EQ(columns("", "Namespace"), (Names{"Name", "Status", "Age"}));
  EXPECT_EQ(row("", "Namespace", json(R"({"metadata":{"name":"kube-system",
    "creationTimestamp":"2024-12-11T12:00:00Z"},"status":{"phase":"Active"}})")),
            json(R"(["kube-system","Active","30d"])"));
}

TEST(NodePrinter, ReadyCordonedControlPlane) {
  EXPECT_EQ(columns("", "Node"),
            (Names{"Name", "Status", "Roles", "Age", "Version", "Internal-IP*", "External-IP*",
                   "OS-Image*", "Kernel-Version*", "Container-Runtime*"}));
  EXPECT_EQ(row("", "Node", json(R"j({
    "metadata":{"name":"node-1","creationTimestamp":"2024-12-11T12:00:00Z",
      "labels":{"node-role.kubernetes.io/control-plane":"","node-role.kubernetes.io/master":"true",
                "kubernetes.io/role":"edge","node-role.kubernetes.io/":"",
                "kubernetes.io/hostname":"node-1"}},
    "spec":{"unschedulable":true,"podCIDR":"10.42.0.0/24"},
    "status":{"conditions":[{"type":"MemoryPressure","status":"False"},
                            {"type":"Ready","status":"True","reason":"KubeletReady"}],
      "addresses":[{"type":"Hostname","address":"node-1"},{"type":"InternalIP","address":"10.0.0.11"},
                   {"type":"InternalIP","address":"fd00::11"}],
      "nodeInfo":{"kubeletVersion":"v1.32.0+nave","osImage":"Debian GNU/Linux 12 (bookworm)",
        "kernelVersion":"6.1.0-18-amd64","containerRuntimeVersion":"nave://0.1.0"}}})j")),
            json(R"j(["node-1","Ready,SchedulingDisabled","control-plane,edge,master","30d",
                     "v1.32.0+nave","10.0.0.11","<none>","Debian GNU/Linux 12 (bookworm)",
                     "6.1.0-18-amd64","nave://0.1.0"])j"));
}

TEST(NodePrinter, NotReadyAndUnknown) {
  EXPECT_EQ(row("", "Node", json(R"({"metadata":{"name":"n2"},
    "status":{"conditions":[{"type":"Ready","status":"Unknown"}],
      "addresses":[{"type":"ExternalIP","address":"203.0.113.4"}]}})")),
            json(R"(["n2","NotReady","<none>","<unknown>","","<none>","203.0.113.4","<unknown>",
                     "<unknown>","<unknown>"])"));
  EXPECT_EQ(row("", "Node", json(R"({"metadata":{"name":"n3"}})"))[1], "Unknown");
  EXPECT_EQ(row("", "Node", json(R"({"spec":{"unschedulable":true}})"))[1],
            "Unknown,SchedulingDisabled");
}

TEST(EventPrinter, ColumnsAndCoreEvent) {
  Names expected{"Last Seen", "Type",        "Reason", "Object", "Subobject*",
                 "Source*",   "Message",     "First Seen*", "Count*", "Name*"};
  EXPECT_EQ(columns("", "Event"), expected);
  EXPECT_EQ(columns("events.k8s.io", "Event"), expected);
  EXPECT_EQ(findPrinter("", "Event")->columns[9].format, "name");
  EXPECT_EQ(row("", "Event", json(R"({
    "metadata":{"name":"web-1.17f3a2b","namespace":"default"},
    "involvedObject":{"kind":"Pod","name":"web-1","namespace":"default",
                      "fieldPath":"spec.containers{nginx}"},
    "reason":"BackOff","message":"Back-off restarting failed container\n","type":"Warning",
    "source":{"component":"kubelet","host":"node-1"},
    "firstTimestamp":"2025-01-10T11:00:00Z","lastTimestamp":"2025-01-10T11:58:00Z","count":12})")),
            json(R"(["2m","Warning","BackOff","pod/web-1","spec.containers{nginx}","kubelet, node-1",
                     "Back-off restarting failed container","60m",12,"web-1.17f3a2b"])"));
}

TEST(EventPrinter, SeriesAndEventTime) {
  EXPECT_EQ(row("", "Event", json(R"({
    "metadata":{"name":"node-1.abc"},"involvedObject":{"kind":"Node"},
    "reason":"Rebooted","type":"Warning","message":"node rebooted",
    "eventTime":"2025-01-10T11:59:30.123456Z",
    "series":{"count":3,"lastObservedTime":"2025-01-10T11:59:50.000000Z"},
    "reportingComponent":"kubelet","reportingInstance":"node-1"})")),
            json(R"(["10s","Warning","Rebooted","node","","kubelet, node-1","node rebooted","29s",3,
                     "node-1.abc"])"));
  Json once = row("", "Event", json(R"({"metadata":{"name":"e"},
    "eventTime":"2025-01-10T11:59:00.000000Z","source":{"component":"kubelet"}})"));
  EXPECT_EQ(once[0], "60s");
  EXPECT_EQ(once[5], "kubelet");
  EXPECT_EQ(once[7], "60s");
  EXPECT_EQ(once[8], 1);
  EXPECT_EQ(row("", "Event", json(R"({"metadata":{"name":"e"}})")),
            json(R"(["<unknown>","","","","","","","<unknown>",1,"e"])"));
}

TEST(EventPrinter, EventsApiGroupFieldNames) {
  EXPECT_EQ(row("events.k8s.io", "Event", json(R"({
    "metadata":{"name":"web-1.17f3a2c","namespace":"default"},
    "eventTime":"2025-01-10T11:59:00.000000Z","reportingController":"default-scheduler",
    "reportingInstance":"default-scheduler-node-1","action":"Binding","reason":"Scheduled",
    "regarding":{"kind":"Pod","name":"web-1","namespace":"default"},
    "note":"Successfully assigned default/web-1 to node-1","type":"Normal"})")),
            json(R"(["60s","Normal","Scheduled","pod/web-1","","default-scheduler, default-scheduler-node-1",
                     "Successfully assigned default/web-1 to node-1","60s",1,"web-1.17f3a2c"])"));
  EXPECT_EQ(row("events.k8s.io", "Event", json(R"({"metadata":{"name":"old"},
    "regarding":{"kind":"Pod","name":"p","fieldPath":"spec.containers{c}"},
    "deprecatedSource":{"component":"kubelet","host":"node-2"},
    "deprecatedFirstTimestamp":"2025-01-10T10:00:00Z",
    "deprecatedLastTimestamp":"2025-01-10T11:00:00Z","deprecatedCount":4,
    "reason":"Pulled","type":"Normal","note":"  pulled  "})")),
            json(R"(["60m","Normal","Pulled","pod/p","spec.containers{c}","kubelet, node-2","pulled",
                     "120m",4,"old"])"));
}

TEST(ConfigMapAndSecretPrinters, DataCounts) {
  EXPECT_EQ(columns("", "ConfigMap"), (Names{"Name", "Data", "Age"}));
  EXPECT_EQ(row("", "ConfigMap", json(R"({"metadata":{"name":"kube-root-ca.crt",
    "creationTimestamp":"2025-01-10T11:30:00Z"},"data":{"a":"1","b":"2"},"binaryData":{"c":"AA=="}})")),
            json(R"(["kube-root-ca.crt",3,"30m"])"));
  EXPECT_EQ(columns("", "Secret"), (Names{"Name", "Type", "Data", "Age"}));
  EXPECT_EQ(row("", "Secret", json(R"({"metadata":{"name":"web-tls",
    "creationTimestamp":"2025-01-10T11:30:00Z"},"type":"kubernetes.io/tls",
    "data":{"tls.crt":"Y2VydA==","tls.key":"a2V5"}})")),
            json(R"(["web-tls","kubernetes.io/tls",2,"30m"])"));
  EXPECT_EQ(row("", "Secret", json(R"({"metadata":{"name":"s"},"data":{"a":"YQ=="},
    "stringData":{"a":"x","b":"y"}})")),
            json(R"(["s","Opaque",2,"<unknown>"])"));
}

TEST(ServiceAccountPrinter, SecretCount) {
  EXPECT_EQ(columns("", "ServiceAccount"), (Names{"Name", "Secrets", "Age"}));
  EXPECT_EQ(row("", "ServiceAccount", json(R"({"metadata":{"name":"default",
    "creationTimestamp":"2025-01-10T11:00:00Z"}})")),
            json(R"(["default",0,"60m"])"));
  EXPECT_EQ(row("", "ServiceAccount", json(R"({"metadata":{"name":"builder"},
    "secrets":[{"name":"builder-token"}]})"))[1],
            1);
}

TEST(ResourceQuotaPrinter, RequestsAndLimits) {
  EXPECT_EQ(columns("", "ResourceQuota"), (Names{"Name", "Age", "Request", "Limit"}));
  EXPECT_EQ(row("", "ResourceQuota", json(R"({
    "metadata":{"name":"compute","creationTimestamp":"2025-01-10T11:59:00Z"},
    "spec":{"hard":{"cpu":"2"}},
    "status":{"hard":{"requests.memory":"4Gi","pods":"10","limits.memory":"8Gi","limits.cpu":"4",
                      "cpu":"2"},
              "used":{"cpu":"500m","limits.cpu":"1","pods":"3","requests.memory":"1Gi"}}})")),
            json(R"(["compute","60s","cpu: 500m/2, pods: 3/10, requests.memory: 1Gi/4Gi",
                     "limits.cpu: 1/4, limits.memory: 0/8Gi"])"));
  EXPECT_EQ(row("", "ResourceQuota", json(R"({"metadata":{"name":"q"}})")),
            json(R"(["q","<unknown>","",""])"));
}

TEST(DefaultTablePrinters, NameAndCreatedAt) {
  for (auto [group, kind] : std::vector<std::pair<std::string, std::string>>{
           {"", "LimitRange"},
           {"rbac.authorization.k8s.io", "Role"},
           {"rbac.authorization.k8s.io", "ClusterRole"},
           {"apiextensions.k8s.io", "CustomResourceDefinition"}}) {
    EXPECT_EQ(columns(group, kind), (Names{"Name", "Created At"})) << kind;
    EXPECT_EQ(testing::types(group, kind), (Names{"string", "date"})) << kind;
    EXPECT_EQ(row(group, kind, json(R"({"metadata":{"name":"x",
      "creationTimestamp":"2025-01-10T13:00:00+02:00"}})")),
              json(R"(["x","2025-01-10T11:00:00Z"])"))
        << kind;
  }
  EXPECT_EQ(row("rbac.authorization.k8s.io", "ClusterRole", json(R"({"metadata":{"name":"y"}})")),
            json(R"(["y","0001-01-01T00:00:00Z"])"));
}

TEST(LeasePrinter, Holder) {
  EXPECT_EQ(columns("coordination.k8s.io", "Lease"), (Names{"Name", "Holder", "Age"}));
  EXPECT_EQ(row("coordination.k8s.io", "Lease", json(R"({"metadata":{"name":"node-1",
    "namespace":"kube-node-lease","creationTimestamp":"2025-01-10T11:00:00Z"},
    "spec":{"holderIdentity":"node-1","leaseDurationSeconds":40}})")),
            json(R"(["node-1","node-1","60m"])"));
  EXPECT_EQ(row("coordination.k8s.io", "Lease", json(R"({"metadata":{"name":"free"},"spec":{}})"))[1],
            "");
}

TEST(RoleBindingPrinters, RoleAndSubjects) {
  Names expected{"Name", "Role", "Age", "Users*", "Groups*", "ServiceAccounts*"};
  EXPECT_EQ(columns("rbac.authorization.k8s.io", "RoleBinding"), expected);
  EXPECT_EQ(columns("rbac.authorization.k8s.io", "ClusterRoleBinding"), expected);
  Json binding = json(R"({"metadata":{"name":"viewers","creationTimestamp":"2025-01-10T11:00:00Z"},
    "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},
    "subjects":[{"kind":"User","name":"alice","apiGroup":"rbac.authorization.k8s.io"},
                {"kind":"Group","name":"devs"},
                {"kind":"ServiceAccount","name":"default","namespace":"kube-system"},
                {"kind":"User","name":"bob"},{"kind":"Robot","name":"r2"}]})");
  Json expectedRow = json(R"(["viewers","ClusterRole/view","60m","alice, bob","devs",
                              "kube-system/default"])");
  EXPECT_EQ(row("rbac.authorization.k8s.io", "RoleBinding", binding), expectedRow);
  EXPECT_EQ(row("rbac.authorization.k8s.io", "ClusterRoleBinding", binding), expectedRow);
}

TEST(PriorityClassPrinter, PreemptionPolicyAlwaysShown) {
  EXPECT_EQ(columns("scheduling.k8s.io", "PriorityClass"),
            (Names{"Name", "Value", "Global-Default", "Age", "PreemptionPolicy"}));
  EXPECT_EQ(testing::types("scheduling.k8s.io", "PriorityClass"),
            (Names{"string", "integer", "boolean", "string", "string"}));
  EXPECT_EQ(row("scheduling.k8s.io", "PriorityClass", json(R"({
    "metadata":{"name":"system-cluster-critical","creationTimestamp":"2025-01-03T12:00:00Z"},
    "value":2000000000,"preemptionPolicy":"PreemptLowerPriority"})")),
            json(R"(["system-cluster-critical",2000000000,false,"7d","PreemptLowerPriority"])"));
}

TEST(OtherClusterPrinters, RuntimeClassWebhooksCsrComponentStatus) {
  EXPECT_EQ(row("node.k8s.io", "RuntimeClass",
                json(R"({"metadata":{"name":"gvisor"},"handler":"runsc"})")),
            json(R"(["gvisor","runsc","<unknown>"])"));
  for (const char* kind : {"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}) {
    EXPECT_EQ(columns("admissionregistration.k8s.io", kind), (Names{"Name", "Webhooks", "Age"}));
    EXPECT_EQ(row("admissionregistration.k8s.io", kind, json(R"({"metadata":{"name":"hooks"},
      "webhooks":[{"name":"a.example.com"},{"name":"b.example.com"}]})")),
              json(R"(["hooks",2,"<unknown>"])"));
  }
  EXPECT_EQ(columns("certificates.k8s.io", "CertificateSigningRequest"),
            (Names{"Name", "Age", "SignerName", "Requestor", "RequestedDuration", "Condition"}));
  EXPECT_EQ(row("certificates.k8s.io", "CertificateSigningRequest", json(R"({
    "metadata":{"name":"csr-8b2kq","creationTimestamp":"2025-01-10T11:59:00Z"},
    "spec":{"signerName":"kubernetes.io/kube-apiserver-client-kubelet",
            "username":"system:node:node-1","expirationSeconds":86400},
    "status":{"conditions":[{"type":"Approved","status":"True"}],"certificate":"LS0t"}})")),
            json(R"(["csr-8b2kq","60s","kubernetes.io/kube-apiserver-client-kubelet",
                     "system:node:node-1","24h","Approved,Issued"])"));
  EXPECT_EQ(row("certificates.k8s.io", "CertificateSigningRequest", json(R"({
    "metadata":{"name":"c"},"spec":{"username":"u"},
    "status":{"conditions":[{"type":"Failed"},{"type":"Approved"},{"type":"Denied"}]}})")),
            json(R"(["c","<unknown>","<none>","u","<none>","Denied,Failed"])"));
  EXPECT_EQ(row("certificates.k8s.io", "CertificateSigningRequest",
                json(R"({"metadata":{"name":"c"}})"))[5],
            "Pending");
  EXPECT_EQ(columns("", "ComponentStatus"), (Names{"Name", "Status", "Message", "Error"}));
  EXPECT_EQ(row("", "ComponentStatus", json(R"({"metadata":{"name":"etcd-0"},
    "conditions":[{"type":"Healthy","status":"True","message":"ok"}]})")),
            json(R"(["etcd-0","Healthy","ok",""])"));
  EXPECT_EQ(row("", "ComponentStatus", json(R"({"metadata":{"name":"scheduler"},
    "conditions":[{"type":"Healthy","status":"False","error":"connection refused"}]})")),
            json(R"(["scheduler","Unhealthy","","connection refused"])"));
}

}  // namespace
}  // namespace nave::printers
