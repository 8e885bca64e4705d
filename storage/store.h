// Store: the revision-based key/value interface the API server keeps its objects in, in the
// spirit of kine's Backend and etcd's KV + Watch. The API server is the only user; it never
// sees SQL. Backends: SQLite (embedded, storage/sqlite_store.h); etcd or PostgreSQL later.
//
// Revisions. Every successful write (create, update, delete, expiry) gets the next value of one
// global, strictly increasing revision, starting at 1. A key's modRevision is the revision of
// its last write and its createRevision the revision that created it; the API server uses
// modRevision as the object's resourceVersion.
//
// Thread-safety: every method may be called from any thread concurrently. Writes are durable
// when they return successfully (they survive kill -9 and power loss). Concurrent writers may be
// committed together in one transaction (group commit); each still gets its own revision.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace nave::storage {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t createRevision = 0;
  int64_t modRevision = 0;
};

enum class EventType { kCreate, kUpdate, kDelete };

// A change to one key. For kCreate and kUpdate, `kv` is the new state. For kDelete, `kv` holds
// the last value before deletion with modRevision = the deletion's revision. `prevKv` holds
// the state before the change (empty key for kCreate).
struct Event {
  EventType type;
  KeyValue kv;
  KeyValue prevKv;
};

struct ListOptions {
  // Keys that start with this prefix.
  std::string prefix;
  // When set, only keys strictly greater than this (continuation of a paged list).
  std::string afterKey;
  // At most this many items; 0 = no limit.
  int64_t limit = 0;
  // The state as of this revision; 0 = the current revision. A revision at or below the
  // compacted revision fails with kExpired; one above the current revision with kTimeout
  // (the caller may retry: the store has not caught up, e.g. with another server's writes).
  int64_t revision = 0;
};

struct ListResult {
  std::vector<KeyValue> items;  // ordered by key
  int64_t revision = 0;         // the revision the list reflects
  bool more = false;            // limit cut the list short
  int64_t remaining = 0;        // when `more`: how many matching keys follow
};

// Cancels the watch when destroyed. After the destructor returns, the callback is not running
// and is never called again.
class WatchHandle {
 public:
  virtual ~WatchHandle() = default;
};

// Receives batches of events in revision order, without gaps for the watched prefix. Called
// from a store thread: it must not block for long and must not call back into the Store's
// write methods (it may call read methods).
using WatchCallback = std::function<void(std::span<const Event> events)>;

class Store {
 public:
  virtual ~Store() = default;

  // The latest committed revision (0 for an empty store).
  virtual Result<int64_t> currentRevision() = 0;
  // The revision at or below which history has been discarded.
  virtual int64_t compactedRevision() = 0;

  // The key at `revision` (0 = current). kNotFound if absent or deleted; kExpired if the
  // revision is compacted.
  virtual Result<KeyValue> get(std::string_view key, int64_t revision = 0) = 0;
  virtual Result<ListResult> list(const ListOptions& options) = 0;
  // Live keys under the prefix at the current revision.
  virtual Result<int64_t> count(std::string_view prefix) = 0;

  // Creates the key; kAlreadyExists if it is live. ttlSeconds > 0 deletes it (with a delete
  // event) that long after its last write.
  virtual Result<KeyValue> create(std::string_view key, std::string value, int64_t ttlSeconds = 0) = 0;
  // Replaces the key's value if its modRevision equals expectedModRevision: kNotFound if it is
  // absent, kConflict if its modRevision differs. A ttl restarts from this write.
  virtual Result<KeyValue> update(std::string_view key, std::string value,
                                  int64_t expectedModRevision, int64_t ttlSeconds = 0) = 0;
  // Deletes the key if expectedModRevision is 0 or equals its modRevision (else kConflict).
  // Returns the deleted value with modRevision = the revision of the deletion.
  virtual Result<KeyValue> remove(std::string_view key, int64_t expectedModRevision = 0) = 0;

  // Delivers every change under `prefix` with revision > fromRevision, first the history
  // (if fromRevision is older than the current revision), then live changes. kExpired if
  // fromRevision < compactedRevision().
  virtual Result<std::unique_ptr<WatchHandle>> watch(std::string_view prefix, int64_t fromRevision,
                                                     WatchCallback callback) = 0;

  // Discards history at and below `revision` (keys' latest states are kept). Gets and lists
  // at those revisions then fail with kExpired.
  virtual Result<void> compact(int64_t revision) = 0;
};

}  // namespace nave::storage

namespace nave::storage {

// The smallest key greater than every key starting with `prefix` ("" when there is none):
// the exclusive end of the prefix's key range.
std::string prefixRangeEnd(std::string_view prefix);

}  // namespace nave::storage
