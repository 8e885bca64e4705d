// WatchCache: the current state of every stored object, kept in memory and fed by the store's
// watch, so that get, list and watch never touch the database.
//
// Objects are grouped by resource (key prefix "/registry/<group>/<plural>/"); each resource
// keeps its objects in key order and a bounded history of recent events for watches that
// start from a past resourceVersion. The store delivers events before acknowledging writes,
// so a client that wrote revision R and then reads sees R.
//
// Thread-safety: all methods may be called from any thread. Objects are immutable and shared.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.h"
#include "common/json.h"
#include "common/result.h"
#include "storage/store.h"

namespace nave::cache {

struct CachedObject {
  std::string key;
  int64_t revision = 0;  // the object's resourceVersion (its store modRevision)
  Json object;           // metadata.resourceVersion set
  std::string json;      // `object` serialised
  std::string ns, name;  // from metadata
};
using ObjectPtr = std::shared_ptr<const CachedObject>;

// Builds a CachedObject from a stored value (decode, set resourceVersion). Errors skip the
// value (logged): a corrupt row must not take the server down.
Result<ObjectPtr> decodeStored(const storage::KeyValue& kv);

enum class EventType { kAdded, kModified, kDeleted };

struct WatchEvent {
  EventType type;
  ObjectPtr object;
};

struct WatchFilter {
  std::string ns;    // only this namespace ("" = all)
  std::string name;  // only this name ("" = all)
  // Further selection (labels, fields); null selects everything that passes ns/name.
  std::function<bool(const CachedObject&)> predicate;

  bool matches(const CachedObject& o) const;
};

class WatchCache;

// One watch. Events are queued by the cache; the consumer drains them when fd() is readable.
class Watcher {
 public:
  ~Watcher();  // unregisters
  // Readable (eventfd) when events are queued or the watcher has been closed.
  int fd() const { return eventFd_.get(); }
  // Moves queued events into `out`. Returns false when the watcher is closed (queue overflow
  // or cache shutdown) and nothing is left: the consumer should end the watch.
  bool drain(std::vector<WatchEvent>& out);

 private:
  friend class WatchCache;
  Watcher(WatchCache& cache, std::string prefix, WatchFilter filter);
  void push(WatchEvent e);  // called with the cache's lock held
  void close();

  WatchCache& cache_;
  std::string prefix_;
  WatchFilter filter_;
  UniqueFd eventFd_;
  std::mutex mu_;
  std::vector<WatchEvent> queue_;  // guarded by mu_
  bool closed_ = false;            // guarded by mu_
};

struct WatchStart {
  std::unique_ptr<Watcher> watcher;
  std::vector<ObjectPtr> initial;  // the state at startRevision (when asked for)
  int64_t startRevision = 0;
};

struct CacheList {
  std::vector<ObjectPtr> items;
  int64_t revision = 0;    // the cache revision the list reflects
  bool more = false;       // limit cut it short
  int64_t remaining = 0;   // items after the last one returned that pass the filter
};

class WatchCache {
 public:
  // Lists everything under "/registry/" and starts watching the store from there.
  static Result<std::unique_ptr<WatchCache>> start(storage::Store& store);
  ~WatchCache();

  int64_t revision() const;
  // Blocks until the cache has applied `revision`; kTimeout after `timeout`.
  Result<void> waitForRevision(int64_t revision, std::chrono::milliseconds timeout) const;
  // Waits until the cache has everything the store has committed (a consistent read).
  Result<void> syncWithStore(std::chrono::milliseconds timeout) const;

  ObjectPtr get(std::string_view key) const;
  // Objects whose keys start with `prefix` (a resource prefix, optionally plus "<ns>/"), in
  // key order, after `afterKey`, that pass `filter`; at most `limit` (0 = all).
  CacheList list(std::string_view prefix, std::string_view afterKey, const WatchFilter& filter,
                 int64_t limit) const;
  // The last revision at which anything under `resourcePrefix` changed (0 if never).
  int64_t lastChange(std::string_view resourcePrefix) const;

  // Watches a resource. With `fromRevision` > 0, delivers the events after it (kExpired if
  // history no longer reaches back that far, kTimeout if the cache has not reached it).
  // With fromRevision 0, `initial` holds the current state and events follow it.
  Result<WatchStart> watch(const std::string& resourcePrefix, WatchFilter filter,
                           int64_t fromRevision);

  // The prefixes of every resource the cache has seen objects of.
  std::vector<std::string> resourcePrefixes() const;

  static constexpr size_t kHistoryPerResource = 1024;

 private:
  struct HistoryEntry {
    int64_t revision;
    storage::EventType type;
    ObjectPtr object;  // new state, or for deletes the last state with the delete revision
    ObjectPtr prev;    // state before (null for creates)
  };
  struct Resource {
    std::map<std::string, ObjectPtr, std::less<>> objects;
    std::deque<HistoryEntry> history;
    int64_t historyStart = 0;  // every event with revision > historyStart is in `history`
    int64_t lastChange = 0;
    std::vector<Watcher*> watchers;
  };

  explicit WatchCache(storage::Store& store) : store_(store) {}
  void apply(std::span<const storage::Event> events);
  Resource& resourceFor(const std::string& key, std::string* prefixOut);
  void unregister(Watcher* w);
  static void dispatch(Resource& r, const HistoryEntry& e);
  friend class Watcher;

  storage::Store& store_;
  mutable std::shared_mutex mu_;
  std::map<std::string, Resource, std::less<>> resources_;  // guarded by mu_
  std::atomic<int64_t> revision_{0};  // written under mu_ and revMu_
  int64_t startRevision_ = 0;
  mutable std::mutex revMu_;
  mutable std::condition_variable revCv_;
  std::unique_ptr<storage::WatchHandle> storeWatch_;
};

// "/registry/apps/deployments/" for any key under it; empty if the key is not shaped so.
std::string resourcePrefixOf(std::string_view key);

}  // namespace nave::cache
