// Informer: lists and watches one resource through a Client and keeps the objects in memory,
// calling handlers with the key ("namespace/name" or "name") of every object that changes
// (client-go's shared informer, reduced to what nave's controllers need). Re-lists when a watch
// ends or its resourceVersion expired. Runs on its own thread; stop() ends it.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "server/client/client.h"

namespace nave::controllers {

class Informer {
 public:
  using Handler = std::function<void(const std::string& key)>;
  // Called with the object before and after a change: before is null when it was added,
  // after is null when it was deleted (the last state seen). Both point into the call only.
  using ObjectHandler = std::function<void(const Json* before, const Json* after)>;
  // The values an object is indexed under (e.g. its node's name, its owners' UIDs).
  using IndexFunc = std::function<std::vector<std::string>(const Json& object)>;

  // `selectors` (label and field selectors only) narrows what is listed and watched, e.g. a
  // node's pods with fieldSelector spec.nodeName=NODE.
  Informer(client::Client& client, client::Resource resource, api::ListOptions selectors = {});
  ~Informer();

  // Handlers must be added before start().
  void addHandler(Handler h) { handlers_.push_back(std::move(h)); }
  void addObjectHandler(ObjectHandler h) { objectHandlers_.push_back(std::move(h)); }
  // Reduces each object before it is stored (e.g. to its metadata, for the garbage collector,
  // which watches every resource); set before start(), on informers of one's own only.
  void setTransform(std::function<void(Json&)> f) { transform_ = std::move(f); }
  // Indexes must be added before start(). byIndex() returns the objects indexed under `value`.
  void addIndex(const std::string& name, IndexFunc f) { indexFuncs_[name] = std::move(f); }
  std::vector<Json> byIndex(const std::string& name, const std::string& value) const;
  // The keys of the objects indexed under `value`.
  std::vector<std::string> keysByIndex(const std::string& name, const std::string& value) const;
  bool started() const { return thread_.joinable(); }
  const client::Resource& resource() const { return resource_; }
  void start();
  void stop();
  // True once the first list has been loaded.
  bool synced() const { return synced_; }
  // Blocks until synced or stopped.
  void waitForSync();

  std::optional<Json> get(const std::string& key) const;
  std::vector<Json> list() const;
  // The objects of one namespace.
  std::vector<Json> list(const std::string& ns) const;
  size_t size() const;

  // Built-in index names: "namespace" (metadata.namespace) and "owner" (the UIDs in
  // metadata.ownerReferences) are always there.
  static constexpr char kNamespaceIndex[] = "namespace";
  static constexpr char kOwnerIndex[] = "owner";

  static std::string keyOf(const Json& object);

 private:
  void run();
  bool listAndWatch();  // false when stopping
  // Stores `after` (or removes the key when null) and updates the indexes; needs mu_.
  void storeLocked(const std::string& key, const Json* before, const Json* after);
  void notify(const std::string& key, const Json* before, const Json* after);

  client::Client& client_;
  client::Resource resource_;
  api::ListOptions selectors_;
  std::vector<Handler> handlers_;
  std::vector<ObjectHandler> objectHandlers_;
  std::function<void(Json&)> transform_;
  std::map<std::string, IndexFunc> indexFuncs_;
  // index name -> value -> keys; guarded by mu_
  std::map<std::string, std::map<std::string, std::set<std::string>>> indexes_;
  mutable std::mutex mu_;
  std::map<std::string, Json> objects_;  // guarded by mu_
  std::atomic<bool> synced_{false};
  std::atomic<bool> stopping_{false};
  UniqueFd stopFd_;
  std::thread thread_;
};

}  // namespace nave::controllers
