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
#include <string>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "server/client/client.h"

namespace nave::controllers {

class Informer {
 public:
  using Handler = std::function<void(const std::string& key)>;

  // `selectors` (label and field selectors only) narrows what is listed and watched, e.g. a
  // node's pods with fieldSelector spec.nodeName=NODE.
  Informer(client::Client& client, client::Resource resource, api::ListOptions selectors = {});
  ~Informer();

  // Handlers must be added before start().
  void addHandler(Handler h) { handlers_.push_back(std::move(h)); }
  void start();
  void stop();
  // True once the first list has been loaded.
  bool synced() const { return synced_; }
  // Blocks until synced or stopped.
  void waitForSync();

  std::optional<Json> get(const std::string& key) const;
  std::vector<Json> list() const;

  static std::string keyOf(const Json& object);

 private:
  void run();
  bool listAndWatch();  // false when stopping

  client::Client& client_;
  client::Resource resource_;
  api::ListOptions selectors_;
  std::vector<Handler> handlers_;
  mutable std::mutex mu_;
  std::map<std::string, Json> objects_;  // guarded by mu_
  std::atomic<bool> synced_{false};
  std::atomic<bool> stopping_{false};
  UniqueFd stopFd_;
  std::thread thread_;
};

}  // namespace nave::controllers
