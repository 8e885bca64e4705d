// Pods and pod templates. The STATUS and RESTARTS cells follow printPod in Kubernetes 1.32's
// pkg/printers/internalversion/printers.go step by step, since users read them closely.
#include <map>

#include "server/printers/format.h"

namespace nave::printers {

namespace {

// Moves `latest` forward to the finish time of the container's previous run, if later.
void notePreviousTermination(const Json& containerStatus, std::optional<WallTime>& latest) {
  const Json& terminated = at(containerStatus, {"lastState", "terminated"});
  if (!terminated.is_object()) return;
  auto finished = timestamp(at(terminated, {"finishedAt"}));
  if (finished && (!latest || *latest < *finished)) latest = finished;
}

// The first condition of `type` decides, as in Kubernetes' helpers.
bool conditionTrue(const Json& conditions, std::string_view type) {
  for (const Json& c : arrayOf(conditions)) {
    if (str(at(c, {"type"})) == type) return str(at(c, {"status"})) == "True";
  }
  return false;
}

bool anyConditionTrue(const Json& conditions, std::string_view type) {
  for (const Json& c : arrayOf(conditions)) {
    if (str(at(c, {"type"})) == type && str(at(c, {"status"})) == "True") return true;
  }
  return false;
}

// "Signal:9" or "ExitCode:1" for a terminated state without a reason.
std::string terminationCode(const Json& terminated) {
  int64_t signal = integer(at(terminated, {"signal"}));
  if (signal != 0) return "Signal:" + std::to_string(signal);
  return "ExitCode:" + std::to_string(integer(at(terminated, {"exitCode"})));
}

std::vector<Json> podRow(const Json& pod, const PrintContext& context) {
  const Json& spec = at(pod, {"spec"});
  const Json& status = at(pod, {"status"});
  const Json& conditions = at(status, {"conditions"});

  int64_t restarts = 0;
  int64_t restartableInitRestarts = 0;
  int64_t totalContainers = count(at(spec, {"containers"}));
  int64_t readyContainers = 0;
  std::optional<WallTime> lastRestart;
  std::optional<WallTime> lastRestartableInitRestart;

  std::string phase = str(at(status, {"phase"}));
  std::string reason = phase;
  std::string statusReason = str(at(status, {"reason"}));
  if (!statusReason.empty()) reason = statusReason;
  for (const Json& c : arrayOf(conditions)) {
    if (str(at(c, {"type"})) == "PodScheduled" && str(at(c, {"reason"})) == "SchedulingGated")
      reason = "SchedulingGated";
  }

  // Init containers with restartPolicy Always are sidecars: they count as pod containers.
  const Json& initContainers = at(spec, {"initContainers"});
  std::map<std::string, bool> restartableInit;
  for (const Json& c : arrayOf(initContainers)) {
    bool restartable = str(at(c, {"restartPolicy"})) == "Always";
    restartableInit[str(at(c, {"name"}))] = restartable;
    if (restartable) ++totalContainers;
  }
  auto isRestartable = [&](const std::string& containerName) {
    auto it = restartableInit.find(containerName);
    return it != restartableInit.end() && it->second;
  };

  bool initializing = false;
  const Json& initStatuses = arrayOf(at(status, {"initContainerStatuses"}));
  for (size_t i = 0; i < initStatuses.size(); ++i) {
    const Json& cs = initStatuses[i];
    int64_t restartCount = integer(at(cs, {"restartCount"}));
    restarts += restartCount;
    notePreviousTermination(cs, lastRestart);
    bool restartable = isRestartable(str(at(cs, {"name"})));
    if (restartable) {
      restartableInitRestarts += restartCount;
      notePreviousTermination(cs, lastRestartableInitRestart);
    }
    const Json& terminated = at(cs, {"state", "terminated"});
    const Json& waiting = at(cs, {"state", "waiting"});
    std::string waitingReason = str(at(waiting, {"reason"}));
    if (terminated.is_object() && integer(at(terminated, {"exitCode"})) == 0) continue;
    if (restartable && boolean(at(cs, {"started"}))) {
      if (boolean(at(cs, {"ready"}))) ++readyContainers;
      continue;
    }
    if (terminated.is_object()) {
      std::string terminatedReason = str(at(terminated, {"reason"}));
      reason = "Init:" + (terminatedReason.empty() ? terminationCode(terminated) : terminatedReason);
    } else if (waiting.is_object() && !waitingReason.empty() && waitingReason != "PodInitializing") {
      reason = "Init:" + waitingReason;
    } else {
      reason = "Init:" + std::to_string(i) + "/" + std::to_string(count(initContainers));
    }
    initializing = true;
    break;
  }

  if (!initializing || conditionTrue(conditions, "Initialized")) {
    restarts = restartableInitRestarts;
    lastRestart = lastRestartableInitRestart;
    bool hasRunning = false;
    const Json& statuses = arrayOf(at(status, {"containerStatuses"}));
    // Backwards, so that the first container's state has the last word.
    for (size_t i = statuses.size(); i-- > 0;) {
      const Json& cs = statuses[i];
      restarts += integer(at(cs, {"restartCount"}));
      notePreviousTermination(cs, lastRestart);
      const Json& terminated = at(cs, {"state", "terminated"});
      std::string waitingReason = str(at(cs, {"state", "waiting", "reason"}));
      std::string terminatedReason = str(at(terminated, {"reason"}));
      if (!waitingReason.empty()) {
        reason = waitingReason;
      } else if (terminated.is_object()) {
        reason = terminatedReason.empty() ? terminationCode(terminated) : terminatedReason;
      } else if (boolean(at(cs, {"ready"})) && at(cs, {"state", "running"}).is_object()) {
        hasRunning = true;
        ++readyContainers;
      }
    }
    // A pod whose first container completed but another still runs is not "Completed".
    if (reason == "Completed" && hasRunning)
      reason = anyConditionTrue(conditions, "Ready") ? "Running" : "NotReady";
  }

  bool deleting = isSet(at(pod, {"metadata", "deletionTimestamp"}));
  if (deleting && statusReason == "NodeLost") {
    reason = "Unknown";
  } else if (deleting && phase != "Failed" && phase != "Succeeded") {
    reason = "Terminating";
  }

  std::string restartsCell = std::to_string(restarts);
  if (restarts != 0 && lastRestart)
    restartsCell += " (" + since(*lastRestart, context) + " ago)";

  // Converting a v1 pod fills podIPs from podIP when only the latter is set.
  const Json& podIPs = arrayOf(at(status, {"podIPs"}));
  std::string podIP = podIPs.empty() ? str(at(status, {"podIP"})) : str(at(podIPs[0], {"ip"}));
  std::string nodeName = str(at(spec, {"nodeName"}));
  std::string nominatedNodeName = str(at(status, {"nominatedNodeName"}));

  std::string readinessGates = "<none>";
  const Json& gates = at(spec, {"readinessGates"});
  if (count(gates) > 0) {
    int64_t trueGates = 0;
    for (const Json& gate : arrayOf(gates)) {
      if (conditionTrue(conditions, str(at(gate, {"conditionType"})))) ++trueGates;
    }
    readinessGates = std::to_string(trueGates) + "/" + std::to_string(count(gates));
  }

  auto orNone = [](std::string s) { return s.empty() ? std::string("<none>") : s; };
  return {name(pod),
          std::to_string(readyContainers) + "/" + std::to_string(totalContainers),
          reason,
          restartsCell,
          sinceTimestamp(at(pod, {"metadata", "creationTimestamp"}), context),
          orNone(podIP),
          orNone(nodeName),
          orNone(nominatedNodeName),
          readinessGates};
}

std::vector<Json> podTemplateRow(const Json& obj, const PrintContext&) {
  const Json& tmpl = at(obj, {"template"});
  ContainerCells cells = containerCells(at(tmpl, {"spec", "containers"}));
  return {name(obj), cells.names, cells.images, formatLabels(at(tmpl, {"metadata", "labels"}))};
}

}  // namespace

void addPodPrinters(PrinterMap& printers) {
  printers[printerKey("", "Pod")] = {
      {nameColumn(),
       column("Ready", "string",
              "Ready containers out of all containers, sidecar init containers included."),
       column("Status", "string", "A summary of the pod's phase and its containers' states."),
       column("Restarts", "string",
              "Container restarts in total, and how long ago the latest restart happened."),
       ageColumn(), column("IP", "string", "The pod's primary IP address.", 1),
       column("Node", "string", "The node the pod is bound to.", 1),
       column("Nominated Node", "string",
              "The node the scheduler means to place the pod on once preemption frees it.", 1),
       column("Readiness Gates", "string",
              "Readiness gates whose condition is True, out of all the pod's gates.", 1)},
      podRow};
  printers[printerKey("", "PodTemplate")] = {
      {nameColumn(),
       column("Containers", "string", "The container names of the template."),
       column("Images", "string", "The container images of the template."),
       column("Pod Labels", "string", "The labels the template gives its pods.")},
      podTemplateRow};
}

}  // namespace nave::printers
