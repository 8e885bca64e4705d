// Kubernetes Events for what happens to pods, as the kubelet's recorder writes them: source
// component "kubelet" and host, involvedObject the pod (with fieldPath for a container), and
// repeated events folded into one object whose count grows (client-go's event correlator,
// reduced to exact repeats).
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "common/json.h"
#include "server/client/client.h"

namespace nave::agent {

class EventRecorder {
 public:
  EventRecorder(client::Client& client, std::string nodeName);

  // `type` is "Normal" or "Warning"; `fieldPath` e.g. "spec.containers{web}" or "".
  void pod(const Json& pod, const std::string& fieldPath, const std::string& type,
           const std::string& reason, const std::string& message);
  // An event about the node itself (e.g. Starting, NodeReady).
  void node(const std::string& nodeUid, const std::string& type, const std::string& reason,
            const std::string& message);

 private:
  void record(const Json& involved, const std::string& ns, const std::string& type,
              const std::string& reason, const std::string& message);

  client::Client& client_;
  const std::string nodeName_;
  std::mutex mu_;
  struct Seen {
    std::string name;  // the Event object's name
    int64_t count = 0;
  };
  std::map<std::string, Seen> seen_;  // key: involved object + reason + message; guarded by mu_
};

}  // namespace nave::agent
