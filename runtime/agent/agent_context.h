// The services an agent's parts share: the API client, the runtime, the pod network, volumes,
// events and the node's facts. Owned by the Agent; everything else holds a reference.
#pragma once

#include <string>

#include "network/podnet/pod_network.h"
#include "runtime/agent/agent.h"
#include "server/client/event_recorder.h"
#include "runtime/agent/node_status.h"
#include "runtime/agent/pod/pod_spec.h"
#include "runtime/runtime.h"
#include "server/client/client.h"
#include "server/controllers/informer_factory.h"

namespace nave::agent {

class ExitWatcher;
class PodManager;

struct AgentContext {
  client::Client* client = nullptr;
  AgentOptions options;
  runtime::NodeRuntime* runtime = nullptr;
  network::PodNetwork* network = nullptr;
  VolumeManager* volumes = nullptr;
  ObjectSource* objects = nullptr;
  client::EventRecorder* events = nullptr;
  NodeStatusReporter* node = nullptr;
  ExitWatcher* exits = nullptr;
  PodManager* pods = nullptr;
  // Cluster-wide shared informers (services, endpointslices, nodes, ...) for the node's
  // network parts. Parts ask for theirs in their constructors; the agent starts the factory
  // once every part is constructed.
  controllers::InformerFactory* informers = nullptr;

  std::string podsDir;  // DATA/agent/pods: volumes and per-pod files
  std::string logsDir;  // DATA/agent/logs: NS_NAME_UID/CONTAINER/ATTEMPT.log
};

// Labels on sandboxes and containers that tie them to their pod, as the kubelet's (so that a
// restarted agent finds them).
inline constexpr const char* kLabelPodUid = "io.kubernetes.pod.uid";
inline constexpr const char* kLabelPodName = "io.kubernetes.pod.name";
inline constexpr const char* kLabelPodNamespace = "io.kubernetes.pod.namespace";
inline constexpr const char* kLabelContainerName = "io.kubernetes.container.name";
inline constexpr const char* kLabelContainerAttempt = "io.kubernetes.container.restartCount";
inline constexpr const char* kLabelContainerType = "nave.container.type";  // init, sidecar, app
inline constexpr const char* kLabelSandboxId = "nave.sandbox.id";

}  // namespace nave::agent
