#include <gtest/gtest.h>

#include "tests/server/printers/print_testing.h"

namespace nave::printers {
namespace {

using testing::columns;
using testing::json;
using testing::row;
using Names = std::vector<std::string>;

TEST(DeploymentPrinter, ReadyUpdatedAvailableAndWideColumns) {
  EXPECT_EQ(columns("apps", "Deployment"),
            (Names{"Name", "Ready", "Up-to-date", "Available", "Age", "Containers*", "Images*",
                   "Selector*"}));
  EXPECT_EQ(row("apps", "Deployment", json(R"({
    "metadata":{"name":"web","creationTimestamp":"2025-01-03T12:00:00Z"},
    "spec":{"replicas":3,
      "selector":{"matchLabels":{"app":"web"},
                  "matchExpressions":[{"key":"tier","operator":"In","values":["fe","be"]}]},
      "template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.27"},
                                        {"name":"proxy","image":"envoy:1.30"}]}}},
    "status":{"replicas":3,"readyReplicas":2,"updatedReplicas":3,"availableReplicas":2}})")),
            json(R"j(["web","2/3",3,2,"7d","nginx,proxy","nginx:1.27,envoy:1.30",
                     "app=web,tier in (be,fe)"])j"));
}

TEST(DeploymentPrinter, SelectorEdgeCases) {
  auto selectorCell = [](std::string_view selector) {
    Json d = json(R"({"metadata":{"name":"d"},"spec":{}})");
    d["spec"]["selector"] = json(selector);
    return row("apps", "Deployment", d)[7].get<std::string>();
  };
  EXPECT_EQ(selectorCell("null"), "");
  EXPECT_EQ(selectorCell("{}"), "");
  EXPECT_EQ(selectorCell(R"({"matchExpressions":[{"key":"a","operator":"Bogus"}]})"), "<invalid>");
  EXPECT_EQ(selectorCell(R"({"matchLabels":{"bad key":"x"}})"), "<invalid>");
  EXPECT_EQ(selectorCell(R"({"matchExpressions":[{"key":"b","operator":"DoesNotExist"},
    {"key":"a","operator":"Exists"},{"key":"c","operator":"NotIn","values":["z"]}]})"),
            "a,!b,c notin (z)");
  // A deployment without status or replicas: defaulting makes replicas 1.
  EXPECT_EQ(row("apps", "Deployment", json(R"({"metadata":{"name":"d"}})")),
            json(R"(["d","0/1",0,0,"<unknown>","","",""])"));
}

TEST(ReplicaSetPrinter, Counts) {
  EXPECT_EQ(columns("apps", "ReplicaSet"),
            (Names{"Name", "Desired", "Current", "Ready", "Age", "Containers*", "Images*",
                   "Selector*"}));
  EXPECT_EQ(testing::types("apps", "ReplicaSet"),
            (Names{"string", "integer", "integer", "integer", "string", "string", "string",
                   "string"}));
  EXPECT_EQ(row("apps", "ReplicaSet", json(R"({
    "metadata":{"name":"web-7d4b9c","creationTimestamp":"2025-01-03T12:00:00Z"},
    "spec":{"replicas":3,"selector":{"matchLabels":{"app":"web","pod-template-hash":"7d4b9c"}},
      "template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.27"}]}}},
    "status":{"replicas":3,"readyReplicas":3,"availableReplicas":3}})")),
            json(R"(["web-7d4b9c",3,3,3,"7d","nginx","nginx:1.27",
                     "app=web,pod-template-hash=7d4b9c"])"));
  // An old, scaled-down replica set.
  EXPECT_EQ(row("apps", "ReplicaSet",
                json(R"({"metadata":{"name":"old"},"spec":{"replicas":0,"selector":{}}})")),
            json(R"(["old",0,0,0,"<unknown>","","","<none>"])"));
}

TEST(ReplicationControllerPrinter, SelectorIsALabelMap) {
  EXPECT_EQ(columns("", "ReplicationController"),
            (Names{"Name", "Desired", "Current", "Ready", "Age", "Containers*", "Images*",
                   "Selector*"}));
  EXPECT_EQ(row("", "ReplicationController", json(R"({
    "metadata":{"name":"legacy","creationTimestamp":"2025-01-10T11:00:00Z"},
    "spec":{"replicas":2,"selector":{"app":"legacy"},
      "template":{"spec":{"containers":[{"name":"app","image":"app:v1"}]}}},
    "status":{"replicas":2,"readyReplicas":1}})")),
            json(R"(["legacy",2,2,1,"60m","app","app:v1","app=legacy"])"));
}

TEST(StatefulSetPrinter, ReadyOfDesired) {
  EXPECT_EQ(columns("apps", "StatefulSet"),
            (Names{"Name", "Ready", "Age", "Containers*", "Images*"}));
  EXPECT_EQ(row("apps", "StatefulSet", json(R"({
    "metadata":{"name":"db","creationTimestamp":"2025-01-08T12:00:00Z"},
    "spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"pg","image":"postgres:16"}]}}},
    "status":{"replicas":3,"readyReplicas":1}})")),
            json(R"(["db","1/3","2d","pg","postgres:16"])"));
}

TEST(DaemonSetPrinter, CountsAndNodeSelector) {
  EXPECT_EQ(columns("apps", "DaemonSet"),
            (Names{"Name", "Desired", "Current", "Ready", "Up-to-date", "Available",
                   "Node Selector", "Age", "Containers*", "Images*", "Selector*"}));
  EXPECT_EQ(row("apps", "DaemonSet", json(R"({
    "metadata":{"name":"agent","creationTimestamp":"2025-01-10T08:30:00Z"},
    "spec":{"selector":{"matchLabels":{"app":"agent"}},
      "template":{"spec":{"nodeSelector":{"kubernetes.io/os":"linux"},
        "containers":[{"name":"agent","image":"agent:2"}]}}},
    "status":{"desiredNumberScheduled":3,"currentNumberScheduled":3,"numberReady":2,
              "updatedNumberScheduled":3,"numberAvailable":2}})")),
            json(R"(["agent",3,3,2,3,2,"kubernetes.io/os=linux","3h30m","agent","agent:2",
                     "app=agent"])"));
  EXPECT_EQ(row("apps", "DaemonSet", json(R"({"metadata":{"name":"x"}})"))[6], "<none>");
}

TEST(JobPrinter, CompleteJob) {
  EXPECT_EQ(columns("batch", "Job"),
            (Names{"Name", "Status", "Completions", "Duration", "Age", "Containers*", "Images*",
                   "Selector*"}));
  EXPECT_EQ(row("batch", "Job", json(R"({
    "metadata":{"name":"pi","creationTimestamp":"2025-01-10T10:59:59Z"},
    "spec":{"completions":1,"parallelism":1,
      "selector":{"matchLabels":{"batch.kubernetes.io/controller-uid":"3f1c"}},
      "template":{"spec":{"containers":[{"name":"pi","image":"perl:5.34"}]}}},
    "status":{"succeeded":1,"startTime":"2025-01-10T11:00:00Z",
      "completionTime":"2025-01-10T11:00:42Z",
      "conditions":[{"type":"SuccessCriteriaMet","status":"True"},
                    {"type":"Complete","status":"True"}]}})")),
            json(R"(["pi","Complete","1/1","42s","60m","pi","perl:5.34",
                     "batch.kubernetes.io/controller-uid=3f1c"])"));
}

TEST(JobPrinter, RunningParallelJobAndOtherStates) {
  Json running = row("batch", "Job", json(R"({"metadata":{"name":"work"},
    "spec":{"parallelism":3},"status":{"active":3,"startTime":"2025-01-10T11:57:30Z"}})"));
  EXPECT_EQ(running[1], "Running");
  EXPECT_EQ(running[2], "0/1 of 3");
  EXPECT_EQ(running[3], "2m30s");
  auto status = [](std::string_view text) {
    return row("batch", "Job", json(text))[1].get<std::string>();
  };
  EXPECT_EQ(status(R"({"status":{"conditions":[{"type":"Failed","status":"True"}]}})"), "Failed");
  EXPECT_EQ(status(R"({"status":{"conditions":[{"type":"Suspended","status":"True"}]}})"),
            "Suspended");
  EXPECT_EQ(status(R"({"status":{"conditions":[{"type":"FailureTarget","status":"True"}]}})"),
            "FailureTarget");
  EXPECT_EQ(status(R"({"metadata":{"deletionTimestamp":"2025-01-10T11:00:00Z"},
    "status":{"conditions":[{"type":"Suspended","status":"True"}]}})"),
            "Terminating");
  EXPECT_EQ(status(R"({"status":{"conditions":[{"type":"Complete","status":"False"},
    {"type":"Complete","status":"True"}]}})"),
            "Running");
  Json unstarted = row("batch", "Job", json(R"({"spec":{"completions":5},"status":{"succeeded":2}})"));
  EXPECT_EQ(unstarted[2], "2/5");
  EXPECT_EQ(unstarted[3], "");
}

TEST(CronJobPrinter, ScheduleAndLastRun) {
  EXPECT_EQ(columns("batch", "CronJob"),
            (Names{"Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age",
                   "Containers*", "Images*", "Selector*"}));
  EXPECT_EQ(testing::types("batch", "CronJob")[3], "boolean");
  EXPECT_EQ(row("batch", "CronJob", json(R"({
    "metadata":{"name":"backup","creationTimestamp":"2025-01-05T12:00:00Z"},
    "spec":{"schedule":"*/5 * * * *","suspend":false,
      "jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"b","image":"busybox"}]}}}}},
    "status":{"active":[{"kind":"Job","name":"backup-28950"}],
              "lastScheduleTime":"2025-01-10T11:57:00Z"}})")),
            json(R"(["backup","*/5 * * * *","<none>","False",1,"3m","5d","b","busybox","<none>"])"));
  EXPECT_EQ(row("batch", "CronJob", json(R"({"metadata":{"name":"n"},
    "spec":{"schedule":"@daily","timeZone":"Europe/Paris","suspend":true}})")),
            json(R"(["n","@daily","Europe/Paris","True",0,"<none>","<unknown>","","","<none>"])"));
  EXPECT_EQ(row("batch", "CronJob", json(R"({"spec":{}})"))[3], "<unset>");
}

TEST(ControllerRevisionPrinter, ControllerAsLowerKindDotGroup) {
  EXPECT_EQ(columns("apps", "ControllerRevision"),
            (Names{"Name", "Controller", "Revision", "Age"}));
  EXPECT_EQ(row("apps", "ControllerRevision", json(R"({
    "metadata":{"name":"db-5c7d8f","creationTimestamp":"2025-01-10T11:00:00Z",
      "ownerReferences":[{"apiVersion":"v1","kind":"Pod","name":"other","controller":false},
                         {"apiVersion":"apps/v1","kind":"StatefulSet","name":"db",
                          "controller":true}]},
    "revision":2})")),
            json(R"(["db-5c7d8f","statefulset.apps/db",2,"60m"])"));
  EXPECT_EQ(row("apps", "ControllerRevision", json(R"({"metadata":{"name":"r",
    "ownerReferences":[{"apiVersion":"v1","kind":"Thing","name":"t","controller":true}]},
    "revision":1})"))[1],
            "thing/t");
  EXPECT_EQ(row("apps", "ControllerRevision", json(R"({"metadata":{"name":"r"},"revision":1})"))[1],
            "<none>");
}

TEST(HorizontalPodAutoscalerPrinter, TargetsFromV2Metrics) {
  EXPECT_EQ(columns("autoscaling", "HorizontalPodAutoscaler"),
            (Names{"Name", "Reference", "Targets", "MinPods", "MaxPods", "Replicas", "Age"}));
  EXPECT_EQ(row("autoscaling", "HorizontalPodAutoscaler", json(R"({
    "metadata":{"name":"web","creationTimestamp":"2025-01-10T11:55:00Z"},
    "spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"web"},
      "minReplicas":2,"maxReplicas":10,
      "metrics":[
        {"type":"Resource","resource":{"name":"cpu",
          "target":{"type":"Utilization","averageUtilization":80}}},
        {"type":"Resource","resource":{"name":"memory",
          "target":{"type":"AverageValue","averageValue":"512Mi"}}},
        {"type":"Pods","pods":{"metric":{"name":"rps"},
          "target":{"type":"AverageValue","averageValue":"1k"}}}]},
    "status":{"currentReplicas":3,"desiredReplicas":3,"currentMetrics":[
      {"type":"Resource","resource":{"name":"cpu",
        "current":{"averageUtilization":45,"averageValue":"90m"}}},
      {"type":"Resource","resource":{"name":"memory","current":{"averageValue":"300Mi"}}},
      {"type":"Pods","pods":{"metric":{"name":"rps"},"current":{"averageValue":"800"}}}]}})")),
            json(R"(["web","Deployment/web","cpu: 45%/80%, memory: 300Mi/512Mi + 1 more...",
                     "2",10,3,"5m"])"));
}

TEST(HorizontalPodAutoscalerPrinter, EachMetricKind) {
  auto targets = [](std::string_view metrics, std::string_view current) {
    Json hpa = json(R"({"spec":{"maxReplicas":4}})");
    hpa["spec"]["metrics"] = json(metrics);
    hpa["status"]["currentMetrics"] = json(current);
    return row("autoscaling", "HorizontalPodAutoscaler", hpa)[2].get<std::string>();
  };
  EXPECT_EQ(targets(R"([{"type":"Resource","resource":{"name":"cpu",
    "target":{"type":"Utilization","averageUtilization":80}}}])", "[]"),
            "cpu: <unknown>/80%");
  EXPECT_EQ(targets(R"([{"type":"Resource","resource":{"name":"cpu",
    "target":{"type":"Utilization"}}}])", R"([{"type":"Resource","resource":{"name":"cpu",
    "current":{"averageUtilization":12}}}])"),
            "cpu: 12%/<auto>");
  EXPECT_EQ(targets(R"([{"type":"ContainerResource","containerResource":{"name":"cpu",
    "container":"app","target":{"type":"Utilization","averageUtilization":60}}}])",
                    R"([{"type":"ContainerResource","containerResource":{"name":"cpu",
    "container":"app","current":{"averageUtilization":30}}}])"),
            "cpu: 30%/60%");
  EXPECT_EQ(targets(R"([{"type":"External","external":{"metric":{"name":"queue"},
    "target":{"type":"AverageValue","averageValue":"100"}}}])",
                    R"([{"type":"External","external":{"current":{"averageValue":"50"}}}])"),
            "50/100 (avg)");
  EXPECT_EQ(targets(R"([{"type":"Object","object":{"metric":{"name":"hits"},
    "target":{"type":"Value","value":"10"}}}])",
                    R"([{"type":"Object","object":{"current":{"value":"12"}}}])"),
            "12/10");
  EXPECT_EQ(targets(R"([{"type":"Object","object":{"target":{"type":"Value","value":"10"}}}])",
                    "[]"),
            "<unknown>/10");
  EXPECT_EQ(targets(R"([{"type":"Mystery"}])", "[]"), "<unknown type>");
  EXPECT_EQ(targets("[]", "[]"), "<none>");
  EXPECT_EQ(row("autoscaling", "HorizontalPodAutoscaler", json(R"({"metadata":{"name":"h"}})")),
            json(R"(["h","/","<none>","<unset>",0,0,"<unknown>"])"));
}

TEST(PodDisruptionBudgetPrinter, IntOrPercentOrNA) {
  EXPECT_EQ(columns("policy", "PodDisruptionBudget"),
            (Names{"Name", "Min Available", "Max Unavailable", "Allowed Disruptions", "Age"}));
  EXPECT_EQ(row("policy", "PodDisruptionBudget", json(R"({
    "metadata":{"name":"web-pdb","creationTimestamp":"2025-01-10T11:59:00Z"},
    "spec":{"minAvailable":2,"selector":{"matchLabels":{"app":"web"}}},
    "status":{"disruptionsAllowed":1}})")),
            json(R"(["web-pdb","2","N/A",1,"60s"])"));
  EXPECT_EQ(row("policy", "PodDisruptionBudget",
                json(R"({"metadata":{"name":"p"},"spec":{"maxUnavailable":"25%"}})")),
            json(R"(["p","N/A","25%",0,"<unknown>"])"));
}

}  // namespace
}  // namespace nave::printers
