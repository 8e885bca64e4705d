// Cluster and configuration objects: Namespace, Node, Event (core and events.k8s.io),
// ConfigMap, Secret, ServiceAccount, ResourceQuota, LimitRange, Lease, RBAC, PriorityClass,
// RuntimeClass, CustomResourceDefinition, webhook configurations, CertificateSigningRequest and
// ComponentStatus.
#include <set>

#include "server/printers/format.h"

namespace nave::printers {

namespace {

std::string created(const Json& obj, const PrintContext& context) {
  return sinceTimestamp(at(obj, {"metadata", "creationTimestamp"}), context);
}

std::vector<Json> namespaceRow(const Json& obj, const PrintContext& context) {
  return {name(obj), str(at(obj, {"status", "phase"})), created(obj, context)};
}

// node-role.kubernetes.io/<role> labels and the older kubernetes.io/role=<role>.
std::string nodeRoles(const Json& labels) {
  constexpr std::string_view kPrefix = "node-role.kubernetes.io/";
  std::set<std::string> roles;
  for (const auto& [key, value] : objectOf(labels).items()) {
    if (key.size() > kPrefix.size() && key.compare(0, kPrefix.size(), kPrefix) == 0) {
      roles.insert(key.substr(kPrefix.size()));
    } else if (key == "kubernetes.io/role" && !str(value).empty()) {
      roles.insert(str(value));
    }
  }
  return roles.empty() ? "<none>" : joinStrings({roles.begin(), roles.end()}, ",");
}

std::string nodeAddress(const Json& node, std::string_view type) {
  for (const Json& a : arrayOf(at(node, {"status", "addresses"}))) {
    if (str(at(a, {"type"})) == type) return str(at(a, {"address"}));
  }
  return "<none>";
}

std::vector<Json> nodeRow(const Json& obj, const PrintContext& context) {
  // Only the Ready condition shows; when listed twice the later entry wins.
  const Json* ready = nullptr;
  for (const Json& c : arrayOf(at(obj, {"status", "conditions"}))) {
    if (str(at(c, {"type"})) == "Ready") ready = &c;
  }
  std::string status = "Unknown";
  if (ready != nullptr) status = str(at(*ready, {"status"})) == "True" ? "Ready" : "NotReady";
  if (boolean(at(obj, {"spec", "unschedulable"}))) status += ",SchedulingDisabled";
  const Json& info = at(obj, {"status", "nodeInfo"});
  auto orUnknown = [&](std::string_view field) {
    std::string s = str(at(info, {field}));
    return s.empty() ? std::string("<unknown>") : s;
  };
  return {name(obj),
          status,
          nodeRoles(at(obj, {"metadata", "labels"})),
          created(obj, context),
          str(at(info, {"kubeletVersion"})),
          nodeAddress(obj, "InternalIP"),
          nodeAddress(obj, "ExternalIP"),
          orUnknown("osImage"),
          orUnknown("kernelVersion"),
          orUnknown("containerRuntimeVersion")};
}

// The fields printEvent reads, named as in core/v1 or as in events.k8s.io/v1.
struct EventFieldNames {
  std::string_view firstTimestamp, lastTimestamp, count, involvedObject, source, component,
      message;
};
constexpr EventFieldNames kCoreEvent{"firstTimestamp", "lastTimestamp", "count",
                                     "involvedObject", "source",        "reportingComponent",
                                     "message"};
constexpr EventFieldNames kEventsEvent{"deprecatedFirstTimestamp",
                                       "deprecatedLastTimestamp",
                                       "deprecatedCount",
                                       "regarding",
                                       "deprecatedSource",
                                       "reportingController",
                                       "note"};

std::vector<Json> eventRow(const Json& obj, const PrintContext& context,
                           const EventFieldNames& f) {
  const Json& first = at(obj, {f.firstTimestamp});
  const Json& last = at(obj, {f.lastTimestamp});
  std::string firstSeen = timestamp(first) ? sinceTimestamp(first, context)
                                           : sinceTimestamp(at(obj, {"eventTime"}), context);
  std::string lastSeen = timestamp(last) ? sinceTimestamp(last, context) : firstSeen;
  int64_t eventCount = integer(at(obj, {f.count}));
  const Json& series = at(obj, {"series"});
  if (isSet(series)) {
    lastSeen = sinceTimestamp(at(series, {"lastObservedTime"}), context);
    eventCount = integer(at(series, {"count"}));
  } else if (eventCount == 0) {
    eventCount = 1;  // events of the newer API that happened once carry no count
  }
  const Json& involved = at(obj, {f.involvedObject});
  std::string target = lower(str(at(involved, {"kind"})));
  std::string involvedName = str(at(involved, {"name"}));
  if (!involvedName.empty()) target += "/" + involvedName;
  // Source component and host, else the reporting controller and instance.
  std::string component = str(at(obj, {f.source, "component"}));
  if (component.empty()) component = str(at(obj, {f.component}));
  std::string host = str(at(obj, {f.source, "host"}));
  if (host.empty()) host = str(at(obj, {"reportingInstance"}));
  std::string source = host.empty() ? component : component + ", " + host;
  return {lastSeen,
          str(at(obj, {"type"})),
          str(at(obj, {"reason"})),
          target,
          str(at(involved, {"fieldPath"})),
          source,
          trimSpace(str(at(obj, {f.message}))),
          firstSeen,
          eventCount,
          name(obj)};
}

std::vector<Column> eventColumns() {
  Column nameCol = nameColumn();
  nameCol.priority = 1;
  return {column("Last Seen", "string", "How long ago the event last happened."),
          column("Type", "string", "Normal or Warning."),
          column("Reason", "string", "A short machine-readable cause."),
          column("Object", "string", "The object the event is about, as kind/name."),
          column("Subobject", "string", "The part of the object, such as a container.", 1),
          column("Source", "string", "The component, and host, that reported the event.", 1),
          column("Message", "string", "What happened, for humans."),
          column("First Seen", "string", "How long ago the event first happened.", 1),
          column("Count", "string", "How many times the event happened.", 1),
          nameCol};
}

std::vector<Json> configMapRow(const Json& obj, const PrintContext& context) {
  return {name(obj), count(at(obj, {"data"})) + count(at(obj, {"binaryData"})),
          created(obj, context)};
}

std::vector<Json> secretRow(const Json& obj, const PrintContext& context) {
  std::string type = str(at(obj, {"type"}));
  if (type.empty()) type = "Opaque";  // the API default
  // stringData is merged into data on write; count both in case it was not.
  std::set<std::string> keys;
  for (const auto& [key, value] : objectOf(at(obj, {"data"})).items()) keys.insert(key);
  for (const auto& [key, value] : objectOf(at(obj, {"stringData"})).items()) keys.insert(key);
  return {name(obj), type, static_cast<int64_t>(keys.size()), created(obj, context)};
}

std::vector<Json> serviceAccountRow(const Json& obj, const PrintContext& context) {
  return {name(obj), count(at(obj, {"secrets"})), created(obj, context)};
}

// "cpu: 100m/1, pods: 2/10" with limits.* resources in the LIMIT cell, each sorted by name.
std::vector<Json> resourceQuotaRow(const Json& obj, const PrintContext& context) {
  const Json& used = at(obj, {"status", "used"});
  std::vector<std::string> requests;
  std::vector<std::string> limits;
  for (const auto& [resource, hard] : objectOf(at(obj, {"status", "hard"})).items()) {
    const Json& usedQuantity = at(used, {resource});
    std::string text = resource + ": " + (isSet(usedQuantity) ? quantity(usedQuantity) : "0") +
                       "/" + (isSet(hard) ? quantity(hard) : "0");
    bool isLimit = resource.rfind("limits.", 0) == 0;
    (isLimit ? limits : requests).push_back(std::move(text));
  }
  // Kubernetes 1.32 puts AGE second here (1.33 moves it last).
  return {name(obj), created(obj, context), joinStrings(requests, ", "),
          joinStrings(limits, ", ")};
}

std::vector<Json> leaseRow(const Json& obj, const PrintContext& context) {
  return {name(obj), str(at(obj, {"spec", "holderIdentity"})), created(obj, context)};
}

std::vector<Json> roleBindingRow(const Json& obj, const PrintContext& context) {
  std::vector<std::string> users;
  std::vector<std::string> groups;
  std::vector<std::string> serviceAccounts;
  for (const Json& s : arrayOf(at(obj, {"subjects"}))) {
    std::string kind = str(at(s, {"kind"}));
    std::string subject = str(at(s, {"name"}));
    if (kind == "ServiceAccount") {
      serviceAccounts.push_back(str(at(s, {"namespace"})) + "/" + subject);
    } else if (kind == "User") {
      users.push_back(subject);
    } else if (kind == "Group") {
      groups.push_back(subject);
    }
  }
  std::string role = str(at(obj, {"roleRef", "kind"})) + "/" + str(at(obj, {"roleRef", "name"}));
  return {name(obj),
          role,
          created(obj, context),
          joinStrings(users, ", "),
          joinStrings(groups, ", "),
          joinStrings(serviceAccounts, ", ")};
}

std::vector<Column> roleBindingColumns(std::string_view of) {
  std::string in = " in the " + std::string(of) + ".";
  return {nameColumn(),
          column("Role", "string", "The role granted, as kind/name."),
          ageColumn(),
          column("Users", "string", "Users" + in, 1),
          column("Groups", "string", "Groups" + in, 1),
          column("ServiceAccounts", "string", "Service accounts (namespace/name)" + in, 1)};
}

std::vector<Json> priorityClassRow(const Json& obj, const PrintContext& context) {
  return {name(obj), integer(at(obj, {"value"})), boolean(at(obj, {"globalDefault"})),
          created(obj, context), str(at(obj, {"preemptionPolicy"}))};
}

std::vector<Json> runtimeClassRow(const Json& obj, const PrintContext& context) {
  return {name(obj), str(at(obj, {"handler"})), created(obj, context)};
}

std::vector<Json> webhookConfigurationRow(const Json& obj, const PrintContext& context) {
  return {name(obj), count(at(obj, {"webhooks"})), created(obj, context)};
}

std::vector<Json> certificateSigningRequestRow(const Json& obj, const PrintContext& context) {
  const Json& spec = at(obj, {"spec"});
  bool approved = false, denied = false, failed = false;
  for (const Json& c : arrayOf(at(obj, {"status", "conditions"}))) {
    std::string type = str(at(c, {"type"}));
    approved |= type == "Approved";
    denied |= type == "Denied";
    failed |= type == "Failed";
  }
  std::string condition = denied ? "Denied" : approved ? "Approved" : "Pending";
  if (failed) condition += ",Failed";
  if (!str(at(obj, {"status", "certificate"})).empty()) condition += ",Issued";
  std::string signer = str(at(spec, {"signerName"}));
  const Json& expiration = at(spec, {"expirationSeconds"});
  std::string requested = "<none>";
  if (isSet(expiration)) requested = humanDuration(std::chrono::seconds(integer(expiration)));
  return {name(obj),
          created(obj, context),
          signer.empty() ? "<none>" : signer,
          str(at(spec, {"username"})),
          requested,
          condition};
}

std::vector<Json> componentStatusRow(const Json& obj, const PrintContext&) {
  std::string status = "Unknown";
  std::string message;
  std::string error;
  for (const Json& c : arrayOf(at(obj, {"conditions"}))) {
    if (str(at(c, {"type"})) != "Healthy") continue;
    status = str(at(c, {"status"})) == "True" ? "Healthy" : "Unhealthy";
    message = str(at(c, {"message"}));
    error = str(at(c, {"error"}));
    break;
  }
  return {name(obj), status, message, error};
}

}  // namespace

void addClusterPrinters(PrinterMap& printers) {
  printers[printerKey("", "Namespace")] = {
      {nameColumn(), column("Status", "string", "Active, or Terminating while being deleted."),
       ageColumn()},
      namespaceRow};
  printers[printerKey("", "Node")] = {
      {nameColumn(),
       column("Status", "string", "Whether the node is ready, and whether it takes new pods."),
       column("Roles", "string", "The node's roles, from its node-role labels."), ageColumn(),
       column("Version", "string", "The kubelet version the node reports."),
       column("Internal-IP", "string", "The node's first internal address.", 1),
       column("External-IP", "string", "The node's first external address.", 1),
       column("OS-Image", "string", "The operating system the node reports.", 1),
       column("Kernel-Version", "string", "The kernel version the node reports.", 1),
       column("Container-Runtime", "string", "The container runtime and its version.", 1)},
      nodeRow};
  printers[printerKey("", "Event")] = {
      eventColumns(),
      [](const Json& obj, const PrintContext& context) {
        return eventRow(obj, context, kCoreEvent);
      }};
  printers[printerKey("events.k8s.io", "Event")] = {
      eventColumns(),
      [](const Json& obj, const PrintContext& context) {
        return eventRow(obj, context, kEventsEvent);
      }};
  printers[printerKey("", "ConfigMap")] = {
      {nameColumn(), column("Data", "string", "The number of keys, text and binary."),
       ageColumn()},
      configMapRow};
  printers[printerKey("", "Secret")] = {
      {nameColumn(), column("Type", "string", "What the secret holds, e.g. Opaque."),
       column("Data", "string", "The number of keys."), ageColumn()},
      secretRow};
  printers[printerKey("", "ServiceAccount")] = {
      {nameColumn(), column("Secrets", "string", "The number of secrets listed for the account."),
       ageColumn()},
      serviceAccountRow};
  printers[printerKey("", "ResourceQuota")] = {
      {nameColumn(), ageColumn(),
       column("Request", "string", "Usage against the hard limits on requests and counts."),
       column("Limit", "string", "Usage against the hard limits on resource limits.")},
      resourceQuotaRow};
  printers[printerKey("coordination.k8s.io", "Lease")] = {
      {nameColumn(), column("Holder", "string", "Who holds the lease now."), ageColumn()},
      leaseRow};
  printers[printerKey("rbac.authorization.k8s.io", "RoleBinding")] = {
      roleBindingColumns("role binding"), roleBindingRow};
  printers[printerKey("rbac.authorization.k8s.io", "ClusterRoleBinding")] = {
      roleBindingColumns("cluster role binding"), roleBindingRow};
  printers[printerKey("scheduling.k8s.io", "PriorityClass")] = {
      {nameColumn(), column("Value", "integer", "The priority pods of this class get."),
       column("Global-Default", "boolean", "Whether pods without a class get this one."),
       ageColumn(),
       column("PreemptionPolicy", "string", "Whether these pods may preempt lower ones.")},
      priorityClassRow};
  printers[printerKey("node.k8s.io", "RuntimeClass")] = {
      {nameColumn(), column("Handler", "string", "The runtime configuration that runs the pods."),
       ageColumn()},
      runtimeClassRow};
  for (std::string_view kind :
       {"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}) {
    printers[printerKey("admissionregistration.k8s.io", kind)] = {
        {nameColumn(), column("Webhooks", "integer", "The number of webhooks configured."),
         ageColumn()},
        webhookConfigurationRow};
  }
  printers[printerKey("certificates.k8s.io", "CertificateSigningRequest")] = {
      {nameColumn(), ageColumn(),
       column("SignerName", "string", "The signer asked to sign the certificate."),
       column("Requestor", "string", "The user who made the request."),
       column("RequestedDuration", "string", "The certificate lifetime asked for."),
       column("Condition", "string", "Pending, Approved or Denied, and whether it was issued.")},
      certificateSigningRequestRow};
  printers[printerKey("", "ComponentStatus")] = {
      {nameColumn(), column("Status", "string", "Healthy or Unhealthy."),
       column("Message", "string", "What the health check reported."),
       column("Error", "string", "The health check's error, if any.")},
      componentStatusRow};
  // Types Kubernetes prints with its default table: NAME and CREATED AT.
  printers[printerKey("", "LimitRange")] = createdAtPrinter();
  printers[printerKey("rbac.authorization.k8s.io", "Role")] = createdAtPrinter();
  printers[printerKey("rbac.authorization.k8s.io", "ClusterRole")] = createdAtPrinter();
  printers[printerKey("apiextensions.k8s.io", "CustomResourceDefinition")] = createdAtPrinter();
}

}  // namespace nave::printers
