// CrdController: serves CustomResourceDefinitions (apiextensions-apiserver's naming, establishing
// and finalizer controllers in one).
//
// For every CRD it decides the accepted names (conflicts with other CRDs of the group leave
// NamesAccepted False with a PluralConflict/SingularConflict/ShortNamesConflict/KindConflict/
// ListKindConflict reason), registers one resource type per served version in the TypeRegistry
// (replacing them when the CRD changes), and writes status.acceptedNames and the NamesAccepted
// and Established conditions through the status subresource.
//
// Deleting a CRD sets deletionTimestamp (the CRD strategy adds the cleanup finalizer first):
// the controller marks Terminating, deletes every custom resource of the CRD, waits until they
// are gone, then removes the finalizer; the API server then removes the CRD, and the controller
// removes its types.
//
// One worker thread (names are decided one CRD at a time) and one informer thread.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "common/result.h"
#include "server/client/client.h"
#include "server/controllers/informer.h"
#include "server/controllers/work_queue.h"
#include "server/registry/type_registry.h"

namespace nave::controllers {

class CrdController {
 public:
  // Installs the CRD strategy on the customresourcedefinitions type (crd::installCrdStrategy),
  // registers the types of every CRD whose names were accepted before (so a restarted server
  // serves its custom resources at once), then starts the informer and the worker. Fails when
  // the CRDs cannot be listed.
  static Result<std::unique_ptr<CrdController>> start(client::Client& client,
                                                      registry::TypeRegistry& types);
  ~CrdController();

  // Stops the informer and the worker and joins them. Registered types stay. Idempotent.
  void stop();

 private:
  CrdController(client::Client& client, registry::TypeRegistry& types);

  void worker();
  // True when done with this key (or gone), false to retry after a backoff.
  bool reconcile(const std::string& name);
  bool finalize(const Json& crd);
  // Registers (or replaces) the CRD's types when they differ from the registered ones.
  void serve(const Json& crd);
  void unserve(const std::string& name);
  // Writes the CRD's status when `status` differs from its current one.
  Result<Json> writeStatus(const Json& crd, const Json& status);
  // The accepted names of the other CRDs of `group`, our own latest writes included.
  void namesInUse(const std::string& group, const std::string& self,
                  std::set<std::string>& resources, std::set<std::string>& kinds) const;
  void requeueGroup(const std::string& group, const std::string& except);

  client::Client& client_;
  registry::TypeRegistry& types_;
  Informer informer_;
  WorkQueue queue_;
  std::thread worker_;
  bool stopped_ = false;

  // Touched by start() before the worker runs, then by the worker thread only.
  struct Served {
    std::string group, plural;
    std::string fingerprint;  // what the registered types were built from
    std::set<std::string> versions;
  };
  std::map<std::string, Served> served_;       // by CRD name
  std::map<std::string, Json> acceptedNames_;  // by CRD name: our latest status writes
  std::set<std::string> celWarned_;            // "name/generation" already logged
};

}  // namespace nave::controllers
