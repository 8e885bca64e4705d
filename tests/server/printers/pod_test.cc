#include <gtest/gtest.h>

#include "tests/server/printers/print_testing.h"

namespace nave::printers {
namespace {

using testing::columns;
using testing::json;
using testing::row;

Json pod(std::string_view text) { return row("", "Pod", json(text)); }

// The STATUS and RESTARTS cells only.
std::pair<std::string, std::string> statusAndRestarts(std::string_view text) {
  Json cells = pod(text);
  return {cells[2].get<std::string>(), cells[3].get<std::string>()};
}

TEST(PodPrinter, ColumnsMatchKubernetes) {
  EXPECT_EQ(columns("", "Pod"),
            (std::vector<std::string>{"Name", "Ready", "Status", "Restarts", "Age", "IP*", "Node*",
                                      "Nominated Node*", "Readiness Gates*"}));
  const TablePrinter* printer = findPrinter("", "Pod");
  ASSERT_NE(printer, nullptr);
  EXPECT_EQ(printer->columns[0].format, "name");
  EXPECT_EQ(printer->columns[1].format, "");
  EXPECT_EQ(testing::types("", "Pod"),
            (std::vector<std::string>{"string", "string", "string", "string", "string", "string",
                                      "string", "string", "string"}));
}

TEST(PodPrinter, RunningPod) {
  EXPECT_EQ(pod(R"({"metadata":{"name":"web-7d4b9c-x2x9z","creationTimestamp":"2025-01-09T12:00:00Z"},
    "spec":{"nodeName":"node-1","containers":[{"name":"nginx","image":"nginx:1.27"}]},
    "status":{"phase":"Running","podIP":"10.42.0.5","podIPs":[{"ip":"10.42.0.5"},{"ip":"fd00::5"}],
      "conditions":[{"type":"Initialized","status":"True"},{"type":"Ready","status":"True"}],
      "containerStatuses":[{"name":"nginx","ready":true,"restartCount":0,"started":true,
        "state":{"running":{"startedAt":"2025-01-09T12:00:05Z"}}}]}})"),
            json(R"(["web-7d4b9c-x2x9z","1/1","Running","0","24h","10.42.0.5","node-1","<none>",
                     "<none>"])"));
}

TEST(PodPrinter, CompletedPod) {
  EXPECT_EQ(pod(R"({"metadata":{"name":"job-abc","creationTimestamp":"2025-01-10T11:50:00Z"},
    "spec":{"nodeName":"node-1","containers":[{"name":"main"}]},
    "status":{"phase":"Succeeded","podIPs":[{"ip":"10.42.0.9"}],
      "containerStatuses":[{"name":"main","ready":false,"restartCount":0,
        "state":{"terminated":{"exitCode":0,"reason":"Completed",
                               "finishedAt":"2025-01-10T11:51:00Z"}}}]}})"),
            json(R"(["job-abc","0/1","Completed","0","10m","10.42.0.9","node-1","<none>","<none>"])"));
}

TEST(PodPrinter, CrashLoopWithRestartsShowsLastRestartAge) {
  Json cells = pod(R"({"metadata":{"name":"api","creationTimestamp":"2025-01-10T09:00:00Z"},
    "spec":{"containers":[{"name":"api"},{"name":"proxy"}]},
    "status":{"phase":"Running","conditions":[{"type":"Ready","status":"False"}],
      "containerStatuses":[
        {"name":"api","ready":false,"restartCount":5,
         "state":{"waiting":{"reason":"CrashLoopBackOff","message":"back-off 2m40s"}},
         "lastState":{"terminated":{"exitCode":1,"reason":"Error",
                                    "finishedAt":"2025-01-10T11:55:00Z"}}},
        {"name":"proxy","ready":true,"restartCount":1,"state":{"running":{}},
         "lastState":{"terminated":{"exitCode":2,"finishedAt":"2025-01-10T10:00:00Z"}}}]}})");
  EXPECT_EQ(cells[0], "api");
  EXPECT_EQ(cells[1], "1/2");
  EXPECT_EQ(cells[2], "CrashLoopBackOff");
  EXPECT_EQ(cells[3], "6 (5m ago)");
  EXPECT_EQ(cells[4], "3h");
}

TEST(PodPrinter, RestartsWithoutFinishTimeHaveNoSuffix) {
  EXPECT_EQ(statusAndRestarts(R"({"spec":{"containers":[{"name":"a"}]},
    "status":{"phase":"Running","containerStatuses":[{"name":"a","ready":true,"restartCount":2,
      "state":{"running":{}}}]}})"),
            std::make_pair(std::string("Running"), std::string("2")));
}

TEST(PodPrinter, InitContainerProgress) {
  Json cells = pod(R"({"metadata":{"name":"db-0","creationTimestamp":"2025-01-10T11:59:30Z"},
    "spec":{"initContainers":[{"name":"init-a"},{"name":"init-b"},{"name":"init-c"}],
            "containers":[{"name":"db"}]},
    "status":{"phase":"Pending","conditions":[{"type":"Initialized","status":"False"}],
      "initContainerStatuses":[
        {"name":"init-a","ready":true,"restartCount":0,
         "state":{"terminated":{"exitCode":0,"reason":"Completed"}}},
        {"name":"init-b","ready":false,"restartCount":0,"state":{"running":{}}},
        {"name":"init-c","ready":false,"restartCount":0,
         "state":{"waiting":{"reason":"PodInitializing"}}}],
      "containerStatuses":[{"name":"db","ready":false,"restartCount":0,
        "state":{"waiting":{"reason":"PodInitializing"}}}]}})");
  EXPECT_EQ(cells[1], "0/1");
  EXPECT_EQ(cells[2], "Init:1/3");
  EXPECT_EQ(cells[3], "0");
  EXPECT_EQ(cells[4], "30s");
}

TEST(PodPrinter, InitContainerFailures) {
  EXPECT_EQ(statusAndRestarts(R"({"spec":{"initContainers":[{"name":"i"}],"containers":[{"name":"c"}]},
    "status":{"phase":"Pending","initContainerStatuses":[{"name":"i","restartCount":0,
      "state":{"terminated":{"exitCode":1,"reason":"Error"}}}]}})")
                .first,
            "Init:Error");
  EXPECT_EQ(statusAndRestarts(R"({"spec":{"initContainers":[{"name":"i"}],"containers":[{"name":"c"}]},
    "status":{"phase":"Pending","initContainerStatuses":[{"name":"i","restartCount":0,
      "state":{"terminated":{"exitCode":2}}}]}})")
                .first,
            "Init:ExitCode:2");
  EXPECT_EQ(statusAndRestarts(R"({"spec":{"initContainers":[{"name":"i"}],"containers":[{"name":"c"}]},
    "status":{"phase":"Pending","initContainerStatuses":[{"name":"i","restartCount":0,
      "state":{"terminated":{"exitCode":137,"signal":9}}}]}})")
                .first,
            "Init:Signal:9");
  // Restarts of a crashing init container count while the pod initializes.
  EXPECT_EQ(statusAndRestarts(R"({"spec":{"initContainers":[{"name":"i"}],"containers":[{"name":"c"}]},
    "status":{"phase":"Pending","initContainerStatuses":[{"name":"i","restartCount":3,
      "state":{"waiting":{"reason":"CrashLoopBackOff"}},
      "lastState":{"terminated":{"exitCode":1,"finishedAt":"2025-01-10T11:58:00Z"}}}],
      "containerStatuses":[{"name":"c","restartCount":0,
        "state":{"waiting":{"reason":"PodInitializing"}}}]}})"),
            std::make_pair(std::string("Init:CrashLoopBackOff"), std::string("3 (2m ago)")));
}

TEST(PodPrinter, PodInitializingOnceInitContainersSucceeded) {
  EXPECT_EQ(statusAndRestarts(R"({"spec":{"initContainers":[{"name":"i"}],"containers":[{"name":"c"}]},
    "status":{"phase":"Pending","conditions":[{"type":"Initialized","status":"True"}],
      "initContainerStatuses":[{"name":"i","restartCount":1,
        "state":{"terminated":{"exitCode":0,"reason":"Completed"}},
        "lastState":{"terminated":{"exitCode":1,"finishedAt":"2025-01-10T11:00:00Z"}}}],
      "containerStatuses":[{"name":"c","restartCount":0,
        "state":{"waiting":{"reason":"PodInitializing"}}}]}})"),
            // Restarts of ordinary init containers no longer count once the pod is initialized.
            std::make_pair(std::string("PodInitializing"), std::string("0")));
}

TEST(PodPrinter, SidecarInitContainersCountAsContainers) {
  Json cells = pod(R"({"metadata":{"name":"mesh"},
    "spec":{"initContainers":[{"name":"setup"},{"name":"envoy","restartPolicy":"Always"}],
            "containers":[{"name":"app"}]},
    "status":{"phase":"Running","conditions":[{"type":"Initialized","status":"True"},
                                              {"type":"Ready","status":"True"}],
      "initContainerStatuses":[
        {"name":"setup","restartCount":0,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}},
        {"name":"envoy","ready":true,"started":true,"restartCount":1,"state":{"running":{}},
         "lastState":{"terminated":{"exitCode":1,"finishedAt":"2025-01-10T11:50:00Z"}}}],
      "containerStatuses":[{"name":"app","ready":true,"restartCount":0,"state":{"running":{}}}]}})");
  EXPECT_EQ(cells[1], "2/2");
  EXPECT_EQ(cells[2], "Running");
  EXPECT_EQ(cells[3], "1 (10m ago)");
  EXPECT_EQ(cells[4], "<unknown>");
}

TEST(PodPrinter, TerminatingAndNodeLost) {
  const char* running = R"({"metadata":{"name":"p","deletionTimestamp":"2025-01-10T11:59:00Z"},
    "spec":{"containers":[{"name":"c"}]},
    "status":{"phase":"Running","containerStatuses":[{"name":"c","ready":true,"restartCount":0,
      "state":{"running":{}}}]}})";
  EXPECT_EQ(statusAndRestarts(running).first, "Terminating");
  // A finished pod being deleted keeps its final status.
  EXPECT_EQ(statusAndRestarts(R"({"metadata":{"deletionTimestamp":"2025-01-10T11:59:00Z"},
    "spec":{"containers":[{"name":"c"}]},
    "status":{"phase":"Succeeded","containerStatuses":[{"name":"c","restartCount":0,
      "state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]}})")
                .first,
            "Completed");
  EXPECT_EQ(statusAndRestarts(R"({"metadata":{"deletionTimestamp":"2025-01-10T11:59:00Z"},
    "spec":{"containers":[{"name":"c"}]},"status":{"phase":"Running","reason":"NodeLost"}})")
                .first,
            "Unknown");
  EXPECT_EQ(statusAndRestarts(R"({"spec":{"containers":[{"name":"c"}]},
    "status":{"phase":"Running","reason":"NodeLost"}})")
                .first,
            "NodeLost");
}

TEST(PodPrinter, PendingPods) {
  EXPECT_EQ(pod(R"({"metadata":{"name":"new","creationTimestamp":"2025-01-10T11:59:58Z"},
    "spec":{"containers":[{"name":"c"}]},"status":{"phase":"Pending"}})"),
            json(R"(["new","0/1","Pending","0","2s","<none>","<none>","<none>","<none>"])"));
  EXPECT_EQ(statusAndRestarts(R"({"spec":{"nodeName":"n","containers":[{"name":"c"}]},
    "status":{"phase":"Pending","containerStatuses":[{"name":"c","restartCount":0,
      "state":{"waiting":{"reason":"ContainerCreating"}}}]}})")
                .first,
            "ContainerCreating");
  EXPECT_EQ(statusAndRestarts(R"({"spec":{"containers":[{"name":"c"}]},
    "status":{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"False",
      "reason":"SchedulingGated"}]}})")
                .first,
            "SchedulingGated");
}

TEST(PodPrinter, CompletedContainerBesideRunningOne) {
  const char* notReady = R"({"spec":{"containers":[{"name":"a"},{"name":"b"}]},
    "status":{"phase":"Running","conditions":[{"type":"Ready","status":"False"}],
      "containerStatuses":[
        {"name":"a","restartCount":0,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}},
        {"name":"b","ready":true,"restartCount":0,"state":{"running":{}}}]}})";
  EXPECT_EQ(statusAndRestarts(notReady).first, "NotReady");
  Json readyPod = json(notReady);
  readyPod["status"]["conditions"][0]["status"] = "True";
  EXPECT_EQ(row("", "Pod", readyPod)[2], "Running");
}

TEST(PodPrinter, EvictedAndKilledContainers) {
  EXPECT_EQ(statusAndRestarts(R"({"spec":{"containers":[{"name":"c"}]},
    "status":{"phase":"Failed","reason":"Evicted","message":"low on memory"}})")
                .first,
            "Evicted");
  EXPECT_EQ(statusAndRestarts(R"({"spec":{"containers":[{"name":"c"}]},
    "status":{"phase":"Failed","containerStatuses":[{"name":"c","restartCount":0,
      "state":{"terminated":{"exitCode":137,"signal":9}}}]}})")
                .first,
            "Signal:9");
  EXPECT_EQ(statusAndRestarts(R"({"spec":{"containers":[{"name":"c"}]},
    "status":{"phase":"Failed","containerStatuses":[{"name":"c","restartCount":0,
      "state":{"terminated":{"exitCode":3}}}]}})")
                .first,
            "ExitCode:3");
  EXPECT_EQ(statusAndRestarts(R"({"spec":{"containers":[{"name":"c"}]},
    "status":{"phase":"Running","containerStatuses":[{"name":"c","restartCount":0,
      "state":{"terminated":{"exitCode":137,"reason":"OOMKilled"}}}]}})")
                .first,
            "OOMKilled");
}

TEST(PodPrinter, WideColumns) {
  Json cells = pod(R"({"metadata":{"name":"gated"},
    "spec":{"containers":[{"name":"c"}],"readinessGates":[{"conditionType":"example.com/lb"},
                                                           {"conditionType":"example.com/dns"}]},
    "status":{"phase":"Pending","podIP":"10.42.1.7","nominatedNodeName":"node-2",
      "conditions":[{"type":"example.com/lb","status":"True"},
                    {"type":"example.com/dns","status":"False"}]}})");
  EXPECT_EQ(cells[5], "10.42.1.7");  // podIP alone, as converted from an older client
  EXPECT_EQ(cells[6], "<none>");
  EXPECT_EQ(cells[7], "node-2");
  EXPECT_EQ(cells[8], "1/2");
}

TEST(PodPrinter, MalformedPodsDoNotThrow) {
  EXPECT_EQ(pod("{}"),
            json(R"(["","0/0","","0","<unknown>","<none>","<none>","<none>","<none>"])"));
  EXPECT_NO_THROW(pod(R"({"metadata":"x","spec":{"containers":"x","initContainers":[1,null]},
    "status":{"phase":5,"conditions":[null,"x"],"initContainerStatuses":[7,{"name":3,
      "state":{"terminated":"x"}}],"containerStatuses":{"a":1},"podIPs":[7]}})"));
  EXPECT_NO_THROW(pod("[]"));
  EXPECT_NO_THROW(pod("null"));
}

TEST(PodTemplatePrinter, ContainersImagesAndLabels) {
  EXPECT_EQ(columns("", "PodTemplate"),
            (std::vector<std::string>{"Name", "Containers", "Images", "Pod Labels"}));
  EXPECT_EQ(row("", "PodTemplate", json(R"({"metadata":{"name":"tmpl"},
    "template":{"metadata":{"labels":{"tier":"fe","app":"web"}},
      "spec":{"containers":[{"name":"nginx","image":"nginx:1.27"},
                            {"name":"log","image":"busybox"}]}}})")),
            json(R"(["tmpl","nginx,log","nginx:1.27,busybox","app=web,tier=fe"])"));
  EXPECT_EQ(row("", "PodTemplate", json(R"({"metadata":{"name":"empty"}})")),
            json(R"(["empty","","","<none>"])"));
}

}  // namespace
}  // namespace nave::printers
