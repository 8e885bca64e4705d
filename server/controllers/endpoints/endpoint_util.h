// What the Endpoints and EndpointSlice controllers share: which pods a Service selects, which
// of them belong in its endpoints, and the port a Service port resolves to on a pod.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "server/client/client.h"
#include "server/controllers/informer.h"

namespace nave::controllers::endpoints {

inline const client::Resource kServices{"", "v1", "services"};
inline const client::Resource kPods{"", "v1", "pods"};
inline const client::Resource kNodes{"", "v1", "nodes"};
inline const client::Resource kEndpoints{"", "v1", "endpoints"};
inline const client::Resource kEndpointSlices{"discovery.k8s.io", "v1", "endpointslices"};

inline constexpr char kLastChangeTriggerTime[] = "endpoints.kubernetes.io/last-change-trigger-time";
inline constexpr char kHeadlessLabel[] = "service.kubernetes.io/headless";
inline constexpr char kServiceNameLabel[] = "kubernetes.io/service-name";
inline constexpr char kManagedByLabel[] = "endpointslice.kubernetes.io/managed-by";
inline constexpr char kSliceControllerName[] = "endpointslice-controller.k8s.io";

// The Service's spec.selector, or null when it has none (its endpoints are the user's).
const Json* serviceSelector(const Json& service);
// Whether every key=value of the selector is among the labels.
bool selectorMatches(const Json& selector, const Json& labels);
bool isHeadless(const Json& service);

bool podIsReady(const Json& pod);
bool podIsTerminating(const Json& pod);
// Whether the pod has a place in a Service's endpoints at all: it has an address and is not
// Succeeded or Failed; a terminating pod only when `includeTerminating`.
bool shouldPodBeInEndpoints(const Json& pod, bool includeTerminating);
// The pod's IPv4 address (status.podIPs, then status.podIP), or "".
std::string podIPv4(const Json& pod);
// The port a Service port's targetPort means on this pod: a number as is, a name looked up in
// the pod's container ports of the same protocol; nullopt when the name is not there.
std::optional<int> resolveTargetPort(const Json& pod, const Json& servicePort);
// The endpoint's hostname: the pod's spec.hostname when its subdomain is the Service's name.
std::string endpointHostname(const Json& pod, const Json& service);
// {kind: Pod, namespace, name, uid}
Json podReference(const Json& pod);

// Calls `enqueue` with the key of every Service that changes, and of the Services whose
// selector matches a changed pod's labels (before or after the change).
void enqueueServicesOfPods(Informer& services, Informer& pods,
                           const std::function<void(const std::string&)>& enqueue);

// When a Service's endpoints last had reason to change: the time of the earliest change not yet
// reflected (the last-change-trigger-time annotation, which measures the controller's latency).
class TriggerTimes {
 public:
  // Records now for the key, unless an earlier change is still pending.
  void note(const std::string& key);
  // The pending time (RFC 3339), cleared; "" when none.
  std::string take(const std::string& key);
  // Puts back a time taken by a sync that failed (an earlier pending one wins).
  void restore(const std::string& key, const std::string& time);

 private:
  std::mutex mu_;
  std::map<std::string, std::string> times_;  // guarded by mu_
};

}  // namespace nave::controllers::endpoints
