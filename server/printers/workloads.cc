// Workload controllers: ReplicationController, ReplicaSet, Deployment, StatefulSet, DaemonSet,
// Job, CronJob, ControllerRevision, HorizontalPodAutoscaler and PodDisruptionBudget.
#include "server/printers/format.h"

namespace nave::printers {

namespace {

// spec.replicas of a stored object; defaulting makes it 1 when the client left it out.
int64_t desiredReplicas(const Json& obj) { return integer(at(obj, {"spec", "replicas"}), 1); }

int64_t statusCount(const Json& obj, std::string_view field) {
  return integer(at(obj, {"status", field}));
}

std::string created(const Json& obj, const PrintContext& context) {
  return sinceTimestamp(at(obj, {"metadata", "creationTimestamp"}), context);
}

std::string ratio(int64_t a, int64_t b) { return std::to_string(a) + "/" + std::to_string(b); }

Column selectorColumn(std::string description) {
  return column("Selector", "string", std::move(description), 1);
}

std::vector<Json> replicationControllerRow(const Json& obj, const PrintContext& context) {
  ContainerCells cells = containerCells(at(obj, {"spec", "template", "spec", "containers"}));
  return {name(obj),
          desiredReplicas(obj),
          statusCount(obj, "replicas"),
          statusCount(obj, "readyReplicas"),
          created(obj, context),
          cells.names,
          cells.images,
          formatLabels(at(obj, {"spec", "selector"}))};
}

std::vector<Json> replicaSetRow(const Json& obj, const PrintContext& context) {
  ContainerCells cells = containerCells(at(obj, {"spec", "template", "spec", "containers"}));
  return {name(obj),
          desiredReplicas(obj),
          statusCount(obj, "replicas"),
          statusCount(obj, "readyReplicas"),
          created(obj, context),
          cells.names,
          cells.images,
          formatLabelSelector(at(obj, {"spec", "selector"}))};
}

std::vector<Json> deploymentRow(const Json& obj, const PrintContext& context) {
  ContainerCells cells = containerCells(at(obj, {"spec", "template", "spec", "containers"}));
  auto selector = selectorString(at(obj, {"spec", "selector"}));
  return {name(obj),
          ratio(statusCount(obj, "readyReplicas"), desiredReplicas(obj)),
          statusCount(obj, "updatedReplicas"),
          statusCount(obj, "availableReplicas"),
          created(obj, context),
          cells.names,
          cells.images,
          selector ? *selector : "<invalid>"};
}

std::vector<Json> statefulSetRow(const Json& obj, const PrintContext& context) {
  ContainerCells cells = containerCells(at(obj, {"spec", "template", "spec", "containers"}));
  return {name(obj), ratio(statusCount(obj, "readyReplicas"), desiredReplicas(obj)),
          created(obj, context), cells.names, cells.images};
}

std::vector<Json> daemonSetRow(const Json& obj, const PrintContext& context) {
  const Json& podSpec = at(obj, {"spec", "template", "spec"});
  ContainerCells cells = containerCells(at(podSpec, {"containers"}));
  return {name(obj),
          statusCount(obj, "desiredNumberScheduled"),
          statusCount(obj, "currentNumberScheduled"),
          statusCount(obj, "numberReady"),
          statusCount(obj, "updatedNumberScheduled"),
          statusCount(obj, "numberAvailable"),
          formatLabels(at(podSpec, {"nodeSelector"})),
          created(obj, context),
          cells.names,
          cells.images,
          formatLabelSelector(at(obj, {"spec", "selector"}))};
}

// The first condition of `type` decides.
bool hasCondition(const Json& conditions, std::string_view type) {
  for (const Json& c : arrayOf(conditions)) {
    if (str(at(c, {"type"})) == type) return str(at(c, {"status"})) == "True";
  }
  return false;
}

std::string jobStatus(const Json& job) {
  const Json& conditions = at(job, {"status", "conditions"});
  if (hasCondition(conditions, "Complete")) return "Complete";
  if (hasCondition(conditions, "Failed")) return "Failed";
  if (isSet(at(job, {"metadata", "deletionTimestamp"}))) return "Terminating";
  if (hasCondition(conditions, "Suspended")) return "Suspended";
  if (hasCondition(conditions, "FailureTarget")) return "FailureTarget";
  return "Running";
}

std::vector<Json> jobRow(const Json& obj, const PrintContext& context) {
  const Json& spec = at(obj, {"spec"});
  int64_t succeeded = statusCount(obj, "succeeded");
  std::string completions;
  const Json& wanted = at(spec, {"completions"});
  if (wanted.is_number_integer() || wanted.is_number_unsigned()) {
    completions = ratio(succeeded, integer(wanted));
  } else {
    // Without a completion count the job needs one success; parallel workers say so.
    int64_t parallelism = integer(at(spec, {"parallelism"}));
    completions = ratio(succeeded, 1);
    if (parallelism > 1) completions += " of " + std::to_string(parallelism);
  }
  std::string duration;
  auto start = timestamp(at(obj, {"status", "startTime"}));
  auto completion = timestamp(at(obj, {"status", "completionTime"}));
  if (start) duration = completion ? between(*start, *completion) : since(*start, context);
  ContainerCells cells = containerCells(at(spec, {"template", "spec", "containers"}));
  return {name(obj),  jobStatus(obj), completions, duration, created(obj, context),
          cells.names, cells.images,  formatLabelSelector(at(spec, {"selector"}))};
}

std::vector<Json> cronJobRow(const Json& obj, const PrintContext& context) {
  const Json& spec = at(obj, {"spec"});
  std::string lastSchedule = "<none>";
  const Json& last = at(obj, {"status", "lastScheduleTime"});
  if (isSet(last)) lastSchedule = sinceTimestamp(last, context);
  std::string timeZone = "<none>";
  if (at(spec, {"timeZone"}).is_string()) timeZone = str(at(spec, {"timeZone"}));
  const Json& suspend = at(spec, {"suspend"});
  std::string suspendCell = "<unset>";
  if (suspend.is_boolean()) suspendCell = suspend.get<bool>() ? "True" : "False";
  const Json& jobSpec = at(spec, {"jobTemplate", "spec"});
  ContainerCells cells = containerCells(at(jobSpec, {"template", "spec", "containers"}));
  return {name(obj),
          str(at(spec, {"schedule"})),
          timeZone,
          suspendCell,
          count(at(obj, {"status", "active"})),
          lastSchedule,
          created(obj, context),
          cells.names,
          cells.images,
          formatLabelSelector(at(jobSpec, {"selector"}))};
}

std::vector<Json> controllerRevisionRow(const Json& obj, const PrintContext& context) {
  std::string controller = "<none>";
  for (const Json& ref : arrayOf(at(obj, {"metadata", "ownerReferences"}))) {
    if (!boolean(at(ref, {"controller"}))) continue;
    std::string apiVersion = str(at(ref, {"apiVersion"}));
    std::string kind = str(at(ref, {"kind"}));
    std::string refName = str(at(ref, {"name"}));
    std::string group;
    size_t slash = apiVersion.find('/');
    if (slash != std::string::npos && apiVersion != "/") {
      if (apiVersion.find('/', slash + 1) != std::string::npos) {
        controller = "<invalid>";  // Kubernetes refuses to print such an apiVersion at all
        break;
      }
      group = apiVersion.substr(0, slash);
    }
    if (group.empty() && kind.empty()) {
      controller = refName;
    } else {
      controller = lower(group.empty() ? kind : kind + "." + group) + "/" + refName;
    }
    break;
  }
  return {name(obj), controller, integer(at(obj, {"revision"})), created(obj, context)};
}

std::string percent(const Json& v) { return std::to_string(integer(v)) + "%"; }

// One metric of an HPA's TARGETS cell: "cpu: 40%/80%", "12/10 (avg)", ...
std::string formatMetric(const Json& spec, const Json& status) {
  std::string type = str(at(spec, {"type"}));
  if (type == "External" || type == "Object") {
    std::string key = type == "External" ? "external" : "object";
    const Json& target = at(spec, {key, "target"});
    const Json& current = at(status, {key, "current"});
    bool haveStatus = isSet(at(status, {key}));
    if (isSet(at(target, {"averageValue"}))) {
      std::string now = haveStatus && isSet(at(current, {"averageValue"}))
                            ? quantity(at(current, {"averageValue"}))
                            : "<unknown>";
      return now + "/" + quantity(at(target, {"averageValue"})) + " (avg)";
    }
    std::string now = haveStatus ? quantity(at(current, {"value"})) : "<unknown>";
    return now + "/" + quantity(at(target, {"value"}));
  }
  if (type == "Pods") {
    std::string now = isSet(at(status, {"pods"}))
                          ? quantity(at(status, {"pods", "current", "averageValue"}))
                          : "<unknown>";
    return now + "/" + quantity(at(spec, {"pods", "target", "averageValue"}));
  }
  if (type == "Resource" || type == "ContainerResource") {
    std::string key = type == "Resource" ? "resource" : "containerResource";
    const Json& source = at(spec, {key});
    const Json& target = at(source, {"target"});
    bool haveStatus = isSet(at(status, {key}));
    const Json& current = at(status, {key, "current"});
    std::string resource = str(at(source, {"name"}));
    if (isSet(at(target, {"averageValue"}))) {
      std::string now = haveStatus ? quantity(at(current, {"averageValue"})) : "<unknown>";
      return resource + ": " + now + "/" + quantity(at(target, {"averageValue"}));
    }
    std::string now = haveStatus && isSet(at(current, {"averageUtilization"}))
                          ? percent(at(current, {"averageUtilization"}))
                          : "<unknown>";
    std::string goal = isSet(at(target, {"averageUtilization"}))
                           ? percent(at(target, {"averageUtilization"}))
                           : "<auto>";
    return resource + ": " + now + "/" + goal;
  }
  return "<unknown type>";
}

std::string formatMetrics(const Json& specs, const Json& statuses) {
  const Json& all = arrayOf(specs);
  if (all.empty()) return "<none>";
  const Json& current = arrayOf(statuses);
  constexpr size_t kMax = 2;
  std::vector<std::string> list;
  for (size_t i = 0; i < all.size(); ++i) {
    std::string text = formatMetric(all[i], i < current.size() ? current[i] : Json());
    if (list.size() < kMax) list.push_back(std::move(text));
  }
  std::string out = joinStrings(list, ", ");
  if (all.size() > kMax) out += " + " + std::to_string(all.size() - kMax) + " more...";
  return out;
}

std::vector<Json> horizontalPodAutoscalerRow(const Json& obj, const PrintContext& context) {
  const Json& spec = at(obj, {"spec"});
  std::string reference =
      str(at(spec, {"scaleTargetRef", "kind"})) + "/" + str(at(spec, {"scaleTargetRef", "name"}));
  const Json& minReplicas = at(spec, {"minReplicas"});
  std::string minPods = "<unset>";
  if (minReplicas.is_number_integer() || minReplicas.is_number_unsigned())
    minPods = std::to_string(integer(minReplicas));
  return {name(obj),
          reference,
          formatMetrics(at(spec, {"metrics"}), at(obj, {"status", "currentMetrics"})),
          minPods,
          integer(at(spec, {"maxReplicas"})),
          statusCount(obj, "currentReplicas"),
          created(obj, context)};
}

std::vector<Json> podDisruptionBudgetRow(const Json& obj, const PrintContext& context) {
  const Json& minAvailable = at(obj, {"spec", "minAvailable"});
  const Json& maxUnavailable = at(obj, {"spec", "maxUnavailable"});
  return {name(obj), isSet(minAvailable) ? intOrString(minAvailable) : "N/A",
          isSet(maxUnavailable) ? intOrString(maxUnavailable) : "N/A",
          statusCount(obj, "disruptionsAllowed"), created(obj, context)};
}

}  // namespace

void addWorkloadPrinters(PrinterMap& printers) {
  printers[printerKey("", "ReplicationController")] = {
      {nameColumn(), column("Desired", "integer", "The number of pods asked for."),
       column("Current", "integer", "The number of pods that exist now."),
       column("Ready", "integer", "The number of pods that are ready."), ageColumn(),
       containersColumn(), imagesColumn(),
       selectorColumn("The labels of the pods the controller manages.")},
      replicationControllerRow};
  printers[printerKey("apps", "ReplicaSet")] = {
      {nameColumn(), column("Desired", "integer", "The number of pods asked for."),
       column("Current", "integer", "The number of pods that exist now."),
       column("Ready", "integer", "The number of pods that are ready."), ageColumn(),
       containersColumn(), imagesColumn(),
       selectorColumn("The label query over the pods the replica set manages.")},
      replicaSetRow};
  printers[printerKey("apps", "Deployment")] = {
      {nameColumn(), column("Ready", "string", "Ready pods out of the pods asked for."),
       column("Up-to-date", "string", "Pods that run the latest pod template."),
       column("Available", "string", "Pods ready for at least minReadySeconds."), ageColumn(),
       containersColumn(), imagesColumn(),
       selectorColumn("The label query over the pods the deployment manages.")},
      deploymentRow};
  printers[printerKey("apps", "StatefulSet")] = {
      {nameColumn(), column("Ready", "string", "Ready pods out of the pods asked for."),
       ageColumn(), containersColumn(), imagesColumn()},
      statefulSetRow};
  printers[printerKey("apps", "DaemonSet")] = {
      {nameColumn(),
       column("Desired", "integer", "The number of nodes that should run the daemon pod."),
       column("Current", "integer", "The number of nodes running at least one daemon pod."),
       column("Ready", "integer", "The number of nodes whose daemon pod is ready."),
       column("Up-to-date", "integer", "Nodes running the latest pod template."),
       column("Available", "integer", "Nodes whose daemon pod is available."),
       column("Node Selector", "string", "The node labels a node needs to run the pod."),
       ageColumn(), containersColumn(), imagesColumn(),
       selectorColumn("The label query over the pods the daemon set manages.")},
      daemonSetRow};
  printers[printerKey("batch", "Job")] = {
      {nameColumn(), column("Status", "string", "Whether the job runs, completed or failed."),
       column("Completions", "string", "Succeeded pods out of the completions asked for."),
       column("Duration", "string", "How long the job ran, or has been running."), ageColumn(),
       containersColumn(), imagesColumn(),
       selectorColumn("The label query over the pods of the job.")},
      jobRow};
  printers[printerKey("batch", "CronJob")] = {
      {nameColumn(), column("Schedule", "string", "When jobs start, in cron syntax."),
       column("Timezone", "string", "The time zone the schedule is read in."),
       column("Suspend", "boolean", "Whether new runs are held back."),
       column("Active", "integer", "The number of jobs running now."),
       column("Last Schedule", "string", "How long ago a job was last started."), ageColumn(),
       containersColumn(), imagesColumn(),
       selectorColumn("The label query over the pods of the jobs.")},
      cronJobRow};
  printers[printerKey("apps", "ControllerRevision")] = {
      {nameColumn(), column("Controller", "string", "The object that owns the revision."),
       column("Revision", "string", "The revision number."), ageColumn()},
      controllerRevisionRow};
  printers[printerKey("autoscaling", "HorizontalPodAutoscaler")] = {
      {nameColumn(), column("Reference", "string", "The object being scaled, as kind/name."),
       column("Targets", "string", "Current values of the metrics against their targets."),
       column("MinPods", "string", "The fewest replicas the autoscaler scales to."),
       column("MaxPods", "string", "The most replicas the autoscaler scales to."),
       column("Replicas", "string", "The replicas the target has now."), ageColumn()},
      horizontalPodAutoscalerRow};
  printers[printerKey("policy", "PodDisruptionBudget")] = {
      {nameColumn(),
       column("Min Available", "string", "Pods that must stay available during evictions."),
       column("Max Unavailable", "string", "Pods that may be unavailable during evictions."),
       column("Allowed Disruptions", "integer", "Pods that may be evicted right now."),
       ageColumn()},
      podDisruptionBudgetRow};
}

}  // namespace nave::printers
