// Kubernetes Events (core/v1), as client-go's recorder writes them: a source (component and,
// for node components, host), involvedObject the object (with fieldPath for a container), and
// repeated events folded into one object whose count grows (client-go's event correlator,
// reduced to exact repeats). Recording does not wait for the API: events are queued and
// written by the recorder's thread (as client-go's broadcaster), so neither a pod's start nor
// a controller's sync is held up by durable writes. Events expire after an hour (the API
// server's TTL for them).
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "common/json.h"
#include "server/client/client.h"

namespace nave::client {

class EventRecorder {
 public:
  // `component` e.g. "kubelet", "default-scheduler", "deployment-controller"; `host` the
  // node's name for node components, else "".
  EventRecorder(client::Client& client, std::string component, std::string host = "");
  ~EventRecorder();  // writes what is queued, then stops

  // An event about `object` (any API object with apiVersion, kind and metadata; objects from
  // informers and lists of nave's API server carry both). `type` is
  // "Normal" or "Warning"; `fieldPath` e.g. "spec.containers{web}" or "".
  void event(const Json& object, const std::string& type, const std::string& reason,
             const std::string& message, const std::string& fieldPath = "");
  // The same, from another component than the recorder's own (controllers share a recorder).
  void eventAs(const std::string& component, const Json& object, const std::string& type,
               const std::string& reason, const std::string& message,
               const std::string& fieldPath = "");
  // An event about a pod (whose object may lack kind and apiVersion, as list items do).
  void pod(const Json& pod, const std::string& fieldPath, const std::string& type,
           const std::string& reason, const std::string& message);
  // An event about the node `host` itself (e.g. Starting, NodeReady).
  void node(const std::string& nodeUid, const std::string& type, const std::string& reason,
            const std::string& message);

 private:
  struct Pending {
    Json involved;
    std::string ns, type, reason, message, component;
    std::string timestamp;
  };
  void enqueue(Pending p);
  void run();
  void record(const Pending& p);

  client::Client& client_;
  const std::string component_, host_;
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

}  // namespace nave::client
