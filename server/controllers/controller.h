// What every controller and the scheduler get from the process that runs them, and what they
// give back: a Controller is constructed (asking the shared informers for what it watches and
// adding its handlers), then started once the informers have listed, and stopped before the
// informers are. Controllers are level-triggered: handlers only queue keys; workers reconcile
// a key from the informers' state, and failures are retried with backoff by the queue.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "server/client/client.h"
#include "server/client/event_recorder.h"
#include "server/controllers/informer_factory.h"
#include "server/controllers/work_queue.h"

namespace nave::registry {
class TypeRegistry;
}

namespace nave::controllers {

struct ControllerContext {
  client::Client& client;
  InformerFactory& informers;
  client::EventRecorder& events;  // eventAs(component, ...) with the controller's name
  registry::TypeRegistry& types;  // every served resource (garbage collector, quota)
  std::string dataDir;            // the server's data dir (the local-path provisioner)
};

class Controller {
 public:
  virtual ~Controller() = default;
  virtual void start() = 0;
  virtual void stop() = 0;
};

using ControllerFactory = std::function<std::unique_ptr<Controller>(ControllerContext&)>;

struct NamedControllerFactory {
  std::string name;  // e.g. "replicaset", "deployment", "scheduler"
  ControllerFactory make;
};

// What a reconcile asks for besides success or failure (an error retries with backoff).
struct Reconciled {
  // Look again after this long (e.g. a deadline or a minReadySeconds to wait for).
  std::optional<std::chrono::milliseconds> requeueAfter;
};

// Worker threads taking keys from a queue and reconciling them.
class Workers {
 public:
  using Reconciler = std::function<Result<Reconciled>(const std::string& key)>;
  Workers() = default;
  ~Workers() { stop(); }
  // `name` labels log lines about failed reconciles.
  void start(WorkQueue& queue, int count, std::string name, Reconciler reconcile);
  // Shuts the queue down and joins the workers.
  void stop();

 private:
  WorkQueue* queue_ = nullptr;
  std::vector<std::thread> threads_;
};

}  // namespace nave::controllers
