// The registry, the AGE cell, selector text, and robustness of every printer against objects
// of the wrong shape.
#include "server/printers/printers.h"

#include <gtest/gtest.h>

#include <random>

#include "server/printers/format.h"
#include "tests/server/printers/print_testing.h"

namespace nave::printers {
namespace {

using testing::context;
using testing::json;

const std::vector<std::pair<std::string, std::string>> kAllPrinters = {
    {"", "Pod"},
    {"", "PodTemplate"},
    {"", "ReplicationController"},
    {"apps", "ReplicaSet"},
    {"apps", "Deployment"},
    {"apps", "StatefulSet"},
    {"apps", "DaemonSet"},
    {"apps", "ControllerRevision"},
    {"batch", "Job"},
    {"batch", "CronJob"},
    {"autoscaling", "HorizontalPodAutoscaler"},
    {"policy", "PodDisruptionBudget"},
    {"", "Service"},
    {"", "Endpoints"},
    {"discovery.k8s.io", "EndpointSlice"},
    {"networking.k8s.io", "Ingress"},
    {"networking.k8s.io", "IngressClass"},
    {"networking.k8s.io", "NetworkPolicy"},
    {"", "Namespace"},
    {"", "Node"},
    {"", "Event"},
    {"events.k8s.io", "Event"},
    {"", "ConfigMap"},
    {"", "Secret"},
    {"", "ServiceAccount"},
    {"", "ResourceQuota"},
    {"", "LimitRange"},
    {"", "ComponentStatus"},
    {"coordination.k8s.io", "Lease"},
    {"rbac.authorization.k8s.io", "Role"},
    {"rbac.authorization.k8s.io", "ClusterRole"},
    {"rbac.authorization.k8s.io", "RoleBinding"},
    {"rbac.authorization.k8s.io", "ClusterRoleBinding"},
    {"scheduling.k8s.io", "PriorityClass"},
    {"node.k8s.io", "RuntimeClass"},
    {"admissionregistration.k8s.io", "MutatingWebhookConfiguration"},
    {"admissionregistration.k8s.io", "ValidatingWebhookConfiguration"},
    {"certificates.k8s.io", "CertificateSigningRequest"},
    {"apiextensions.k8s.io", "CustomResourceDefinition"},
    {"", "PersistentVolume"},
    {"", "PersistentVolumeClaim"},
    {"storage.k8s.io", "StorageClass"},
    {"storage.k8s.io", "CSIDriver"},
    {"storage.k8s.io", "CSINode"},
    {"storage.k8s.io", "VolumeAttachment"},
};

TEST(FindPrinter, KnowsGroupAndKind) {
  for (const auto& [group, kind] : kAllPrinters) {
    const TablePrinter* printer = findPrinter(group, kind);
    ASSERT_NE(printer, nullptr) << group << "/" << kind;
    ASSERT_TRUE(printer->row) << kind;
    int nameColumns = 0;
    for (const Column& c : printer->columns) {
      EXPECT_TRUE(c.type == "string" || c.type == "integer" || c.type == "boolean" ||
                  c.type == "date")
          << kind << " " << c.name;
      EXPECT_TRUE(c.priority == 0 || c.priority == 1) << kind << " " << c.name;
      if (c.name == "Name") {
        ++nameColumns;
        EXPECT_EQ(c.format, "name") << kind;
      }
    }
    EXPECT_EQ(nameColumns, 1) << kind;
  }
  EXPECT_EQ(findPrinter("apps", "Pod"), nullptr);
  EXPECT_EQ(findPrinter("", "Deployment"), nullptr);
  EXPECT_EQ(findPrinter("example.com", "Widget"), nullptr);
  EXPECT_EQ(findPrinter("", ""), nullptr);
  // The same printer every time: the API server may keep the pointer.
  EXPECT_EQ(findPrinter("", "Pod"), findPrinter("", "Pod"));
}

TEST(DefaultPrinter, NameAndCreatedAt) {
  const TablePrinter& printer = defaultPrinter();
  ASSERT_EQ(printer.columns.size(), 2u);
  EXPECT_EQ(printer.columns[0].name, "Name");
  EXPECT_EQ(printer.columns[0].format, "name");
  EXPECT_EQ(printer.columns[1].name, "Created At");
  EXPECT_EQ(printer.columns[1].type, "date");
  EXPECT_EQ(Json(printer.row(json(R"({"metadata":{"name":"w",
    "creationTimestamp":"2025-01-10T11:00:00.5Z"}})"), context())),
            json(R"(["w","2025-01-10T11:00:00Z"])"));
}

TEST(Age, HumanDurationSinceCreation) {
  EXPECT_EQ(age(Json("2025-01-10T11:55:00Z"), context()), "5m");
  EXPECT_EQ(age(Json("2025-01-10T08:58:00Z"), context()), "3h2m");
  EXPECT_EQ(age(Json("2024-01-10T12:00:00Z"), context()), "366d");
  EXPECT_EQ(age(Json("2022-01-10T12:00:00Z"), context()), "3y1d");
  EXPECT_EQ(age(Json("2025-01-10T12:00:01Z"), context()), "0s");
  EXPECT_EQ(age(Json("2025-01-10T12:05:00Z"), context()), "<invalid>");
  EXPECT_EQ(age(Json(), context()), "<unknown>");
  EXPECT_EQ(age(Json("not a time"), context()), "<unknown>");
  EXPECT_EQ(age(Json(42), context()), "<unknown>");
}

TEST(SelectorText, MatchesLabelSelectorString) {
  EXPECT_EQ(selectorString(json(R"({"matchLabels":{"app.kubernetes.io/name":"web"}})")),
            "app.kubernetes.io/name=web");
  EXPECT_EQ(selectorString(json(R"({"matchLabels":{"a":""}})")), "a=");
  EXPECT_EQ(selectorString(json(R"({"matchExpressions":[{"key":"env","operator":"In",
    "values":["prod"]}],"matchLabels":{"app":"web","zone":"a"}})")),
            "app=web,env in (prod),zone=a");
  EXPECT_EQ(selectorString(json(R"({"matchLabels":{"Bad.Prefix/x":"y"}})")), std::nullopt);
  EXPECT_EQ(selectorString(json(R"({"matchLabels":{"x":"-bad"}})")), std::nullopt);
  EXPECT_EQ(selectorString(json(R"({"matchLabels":{"x":"v"},"matchExpressions":[
    {"key":"y","operator":"In","values":[]}]})")),
            std::nullopt);
  EXPECT_EQ(selectorString(json(R"({"matchExpressions":[{"key":"y","operator":"Exists",
    "values":["z"]}]})")),
            std::nullopt);
  EXPECT_EQ(selectorString(json(R"({"matchLabels":{"x":1}})")), std::nullopt);
  EXPECT_EQ(selectorString(json(R"("app=web")")), std::nullopt);
  EXPECT_EQ(formatLabelSelector(json(R"("app=web")")), "<error>");
  EXPECT_EQ(formatLabelSelector(Json()), "<none>");
  EXPECT_EQ(formatLabels(json(R"({"b":"2","a":"1"})")), "a=1,b=2");
  EXPECT_EQ(formatLabels(Json()), "<none>");
}

// A random JSON value built from the field names printers read, so that wrong types land
// where the printers look.
class RandomObjects {
 public:
  explicit RandomObjects(uint32_t seed) : rng_(seed) {}

  Json next(int depth = 0) {
    static const std::vector<std::string> kKeys = {
        "metadata", "name", "creationTimestamp", "deletionTimestamp", "labels", "annotations",
        "ownerReferences", "controller", "apiVersion", "kind", "spec", "status", "template",
        "containers", "initContainers", "containerStatuses", "initContainerStatuses", "state",
        "lastState", "terminated", "waiting", "running", "finishedAt", "restartCount", "ready",
        "started", "reason", "phase", "conditions", "type", "status", "replicas", "selector",
        "matchLabels", "matchExpressions", "key", "operator", "values", "ports", "port",
        "nodePort", "protocol", "clusterIPs", "externalIPs", "loadBalancer", "ingress", "ip",
        "hostname", "rules", "host", "tls", "subsets", "addresses", "endpoints", "metrics",
        "resource", "target", "current", "averageUtilization", "averageValue", "value", "pods",
        "external", "object", "containerResource", "currentMetrics", "hard", "used", "capacity",
        "storage", "accessModes", "claimRef", "namespace", "data", "subjects", "roleRef",
        "involvedObject", "regarding", "series", "count", "eventTime", "source", "component",
        "podIPs", "readinessGates", "conditionType", "nodeInfo", "jobTemplate", "suspend",
        "active", "lastScheduleTime", "startTime", "completionTime", "completions",
        "parallelism", "minAvailable", "maxUnavailable", "scaleTargetRef", "webhooks",
        "parameters", "apiGroup", "restartPolicy", "signal", "exitCode", "drivers",
        "tokenRequests", "volumeLifecycleModes", "expirationSeconds", "certificate"};
    int choice = pick(depth >= 4 ? 6 : 9);
    switch (choice) {
      case 0: return Json();
      case 1: return Json(pick(3) == 0 ? -5 : static_cast<int>(pick(100)));
      case 2: return Json(pick(2) == 0);
      case 3: return Json(pick(2) == 0 ? "2025-01-10T11:00:00Z" : "x");
      case 4: return Json(1.5);
      case 5: return Json(std::string(pick(2) == 0 ? "True" : "Always"));
      case 6:
      case 7: {
        Json obj = Json::object();
        int n = pick(6);
        for (int i = 0; i < n; ++i) obj[kKeys[pick(static_cast<int>(kKeys.size()))]] = next(depth + 1);
        return obj;
      }
      default: {
        Json arr = Json::array();
        int n = pick(4);
        for (int i = 0; i < n; ++i) arr.push_back(next(depth + 1));
        return arr;
      }
    }
  }

 private:
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  std::mt19937 rng_;
};

TEST(AllPrinters, NeverThrowOnObjectsOfTheWrongShape) {
  RandomObjects random(20250110);
  for (int i = 0; i < 3000; ++i) {
    Json obj = random.next();
    for (const auto& [group, kind] : kAllPrinters) {
      const TablePrinter* printer = findPrinter(group, kind);
      ASSERT_NE(printer, nullptr);
      std::vector<Json> cells;
      ASSERT_NO_THROW(cells = printer->row(obj, context())) << kind << " " << obj.dump();
      ASSERT_EQ(cells.size(), printer->columns.size()) << kind;
    }
  }
}

}  // namespace
}  // namespace nave::printers
