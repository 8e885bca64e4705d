// Kubernetes Events for what happens to pods, as the kubelet's recorder writes them: source
// component "kubelet" and host, involvedObject the pod (with fieldPath for a container), and
// repeated events folded into one object whose count grows (client-go's event correlator,
// reduced to exact repeats). Recording does not wait for the API: events are queued and
// written by the recorder's thread (as client-go's broadcaster), so a pod's start is not held
// up by three durable writes.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "common/json.h"
#include "server/client/client.h"

namespace nave::agent {

class EventRecorder {
 public:
  EventRecorder(client::Client& client, std::string nodeName);
  ~EventRecorder();  // writes what is queued, then stops

  // `type` is "Normal" or "Warning"; `fieldPath` e.g. "spec.containers{web}" or "".
  void pod(const Json& pod, const std::string& fieldPath, const std::string& type,
           const std::string& reason, const std::string& message);
  // An event about the node itself (e.g. Starting, NodeReady).
  void node(const std::string& nodeUid, const std::string& type, const std::string& reason,
            const std::string& message);

 private:
  struct Pending {
    Json involved;
    std::string ns, type, reason, message;
    std::string timestamp;
  };
  void enqueue(Pending p);
  void run();
  void record(const Pending& p);

  client::Client& client_;
  const std::string nodeName_;
  std::mutex mu_;
  struct Seen {
    std::string name;  // the Event object's name
    int64_t count = 0;
  };
  std::map<std::string, Seen> seen_;  // key: involved object + reason + message; guarded by mu_
  std::deque<Pending> queue_;         // guarded by mu_
  bool stopping_ = false;             // guarded by mu_
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace nave::agent
