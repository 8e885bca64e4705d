// GarbageCollector: deletes objects whose owners are gone, and carries out the foreground and
// orphan deletion of owners (kube-controller-manager's garbagecollector, simplified to a
// level-triggered reconciler over one graph).
//
// It watches the metadata of every resource that can be listed, watched and deleted, and keeps
// a graph of ownerReferences by UID. A change to an object queues it; the deletion of an
// object queues its dependents. Reconciling an object:
// - being deleted with the "orphan" finalizer: its dependents lose their references to it,
//   then the finalizer goes;
// - being deleted with the "foregroundDeletion" finalizer: its dependents are deleted (in the
//   foreground themselves when they have dependents); once none that blocks its deletion
//   (blockOwnerDeletion) remains, the finalizer goes and the API server removes it;
// - with owners: when none of its owners exists any more (confirmed by a live read, since the
//   graph may not have seen an owner of another resource yet) it is deleted in the
//   background; when an owner it blocks is being deleted in the foreground it is deleted in
//   the foreground; references to owners that are gone while others remain are removed.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "server/controllers/controller.h"
#include "server/controllers/informer.h"

namespace nave::controllers {

class GarbageCollector final : public Controller {
 public:
  explicit GarbageCollector(ControllerContext& ctx);
  ~GarbageCollector() override;
  void start() override;
  void stop() override;

 private:
  struct OwnerRef {
    std::string apiVersion, kind, name, uid;
    bool blockOwnerDeletion = false;
  };
  struct Node {
    client::Resource resource;
    std::string apiVersion, kind, ns, name, uid;
    std::vector<OwnerRef> owners;
    std::set<std::string> finalizers;
    bool deleting = false;  // deletionTimestamp set
  };

  void observe(const client::Resource& r, const Json* before, const Json* after);
  Result<Reconciled> reconcile(const std::string& uid);
  Result<Reconciled> orphanDependents(const Node& owner);
  Result<Reconciled> deleteDependentsInForeground(const Node& owner);
  Result<Reconciled> checkOwners(const Node& node);
  // Whether the owner named by `ref` (in `ns` when namespaced) exists with that UID: a live
  // read. Sets *deletingInForeground when it is being deleted with foregroundDeletion.
  Result<bool> ownerExists(const std::string& ns, const OwnerRef& ref, bool* deletingInForeground);
  Result<void> removeFinalizer(const Node& node, const std::string& finalizer);
  Result<void> removeOwnerRefs(const Node& node, const std::set<std::string>& ownerUids);
  // The resource serving kind `kind` in `apiVersion` ("apps/v1"), if any.
  std::optional<client::Resource> resourceFor(const std::string& apiVersion, const std::string& kind,
                                              bool* namespaced);
  std::vector<Node> dependentsOf(const std::string& uid);

  ControllerContext& ctx_;
  std::vector<std::unique_ptr<Informer>> informers_;
  WorkQueue queue_;
  Workers workers_;
  std::mutex mu_;
  std::map<std::string, Node> nodes_;                              // by UID; guarded by mu_
  std::map<std::string, std::set<std::string>> dependents_;        // owner UID -> dependent UIDs
};

}  // namespace nave::controllers
