// NamespaceController: finishes the deletion of namespaces. When a namespace is Terminating
// (deletionTimestamp set), it deletes every object of every namespaced resource in it, waits
// until they are gone, then removes the "kubernetes" finalizer (namespaces/NAME/finalize), after
// which the API server removes the namespace.
#pragma once

#include <memory>
#include <thread>

#include "server/client/client.h"
#include "server/controllers/informer.h"
#include "server/controllers/work_queue.h"
#include "server/registry/type_registry.h"

namespace nave::controllers {

class NamespaceController {
 public:
  NamespaceController(client::Client& client, registry::TypeRegistry& types);
  ~NamespaceController();
  void start();
  void stop();

 private:
  void worker();
  // Returns true when the namespace is done (or gone), false to retry later.
  bool reconcile(const std::string& name);

  client::Client& client_;
  registry::TypeRegistry& types_;
  Informer informer_;
  WorkQueue queue_;
  std::thread worker_;
};

}  // namespace nave::controllers
