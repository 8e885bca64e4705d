// What the set controllers need to know about pods and owners, and what they remember of their
// own writes until the informers show them.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "server/controllers/object_util.h"
#include "server/controllers/informer.h"
#include "server/controllers/work_queue.h"

namespace nave::controllers::sets {

inline const client::Resource kPods{"", "v1", "pods"};

const Json& metadataOf(const Json& object);
using controllers::isDeleting;  // server/controllers/object_util.h
std::string phaseOf(const Json& pod);
using controllers::isPodReady;  // server/controllers/object_util.h
// Ready for at least minReadySeconds (podutil.IsPodAvailable).
bool isPodAvailable(const Json& pod, int64_t minReadySeconds,
                    std::chrono::system_clock::time_point now);
// How long until a Ready pod becomes available, if it is Ready and not yet available.
std::optional<std::chrono::milliseconds> untilAvailable(const Json& pod, int64_t minReadySeconds,
                                                        std::chrono::system_clock::time_point now);
// The ownerReference with controller: true, or null.
const Json* controllerRef(const Json& object);
// An ownerReference to `owner` (apiVersion apps/v1) with controller and blockOwnerDeletion.
Json controllerRefTo(const Json& owner, const std::string& kind);
// The ownerReferences of a pod `owner` adopts, and of one it releases (ClaimPods): merge
// patches of metadata.ownerReferences with the pod's uid as precondition.
std::string adoptionPatch(const Json& pod, const Json& owner, const std::string& kind);
std::string releasePatch(const Json& pod, const std::string& ownerUid);
// Queues the set of kind `kind` that controls `pod`, or, for an orphan, every set in `sets`
// whose selector matches it (the sets that would adopt it).
void enqueueOwningSet(const Json& pod, const std::string& kind, const Informer& sets, WorkQueue& queue);
// Later creation first is false: sorts by creationTimestamp, then name.
bool createdBefore(const Json& a, const Json& b);

// The creates and deletes a controller has asked for per set and not yet seen in its pod
// informer (client-go's ControllerExpectations, keyed by pod name instead of counts): a set is
// not reconciled again from a cache that still lacks its own writes, which would create a
// pod twice. Entries are dropped once seen, or after a minute should an event be lost.
// Thread-safe.
class PendingWrites {
 public:
  void expectCreate(const std::string& setKey, const std::string& podKey);
  void expectDelete(const std::string& setKey, const std::string& podKey, const std::string& uid);
  // True when `pods` shows every write expected for `setKey`.
  bool settled(const std::string& setKey, const Informer& pods);
  void forget(const std::string& setKey);

 private:
  struct Write {
    std::string podKey;
    std::string uid;  // for deletes: the pod that must go (a namesake may come back)
    bool create = false;
    std::chrono::steady_clock::time_point at;
  };
  std::mutex mu_;
  std::map<std::string, std::vector<Write>> writes_;  // guarded by mu_
};

}  // namespace nave::controllers::sets
