// ResourceApi: the generic REST semantics of every resource (Kubernetes' genericregistry.Store
// and the endpoint handlers' logic, minus HTTP): create, get, list, watch, update, patch, delete
// and deletecollection, the status, scale, finalize and binding subresources, resourceVersion
// and continue semantics, field validation, defaulting, validation, field management and
// dry runs. The HTTP front end (http_api.h) and the in-process client (server/client/) both call
// it, so both have exactly the same semantics.
//
// Objects flow in the served version's shape; they are stored in the storage version's shape.
// Reads come from the watch cache; writes go to the store with optimistic concurrency on the
// object's modRevision and retry internally where Kubernetes does (patches, unconditional
// updates).
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/result.h"
#include "server/api/options.h"
#include "server/cache/watch_cache.h"
#include "server/registry/type_registry.h"
#include "storage/store.h"

namespace nave::api {

// A body as decoded from the wire.
struct Body {
  Json object;
  std::vector<std::string> duplicateFields;
};

struct WriteResult {
  Json object;      // the served shape (or a Status for some deletes)
  int status = 200;  // 200, 201 (created), 202 (accepted)
};

struct ListResult {
  std::vector<cache::ObjectPtr> items;  // storage shape; see servedJson()
  int64_t revision = 0;
  std::string continueToken;
  std::optional<int64_t> remainingItemCount;
};

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark, kError };
std::string_view watchEventTypeName(WatchEventType t);

struct WatchEvent {
  WatchEventType type;
  cache::ObjectPtr object;  // kAdded/kModified/kDeleted: storage shape
  Json special;             // kBookmark / kError: the object to send as is
};

// One watch of one resource. The consumer waits for fd() to become readable (or for a
// bookmark interval), then calls poll().
class WatchStream {
 public:
  virtual ~WatchStream() = default;
  virtual int fd() const = 0;
  // Appends the events available now. Returns false once the stream has ended (the server
  // closed it: the caller should finish after sending what was appended).
  virtual bool poll(std::vector<WatchEvent>& out) = 0;
  // A BOOKMARK at the current revision, if the client allowed bookmarks.
  virtual std::optional<WatchEvent> bookmark() = 0;
  // When the server ends the watch (timeoutSeconds, or the default of 30-60 minutes).
  virtual std::chrono::steady_clock::time_point deadline() const = 0;
  virtual const registry::ResourceType& type() const = 0;
};

class ResourceApi {
 public:
  ResourceApi(storage::Store& store, cache::WatchCache& cache, registry::TypeRegistry& types);

  Result<Json> get(RequestContext& ctx, const registry::ResourceType& type, std::string_view ns,
                   std::string_view name, const GetOptions& options,
                   std::string_view subresource = "");
  Result<ListResult> list(RequestContext& ctx, const registry::ResourceType& type,
                          std::string_view ns, const ListOptions& options);
  Result<std::unique_ptr<WatchStream>> watch(RequestContext& ctx,
                                             const registry::ResourceType& type,
                                             std::string_view ns, const ListOptions& options);
  Result<WriteResult> create(RequestContext& ctx, const registry::ResourceType& type,
                             std::string_view ns, Body body, const WriteOptions& options,
                             std::string_view parentName = "", std::string_view subresource = "");
  Result<WriteResult> update(RequestContext& ctx, const registry::ResourceType& type,
                             std::string_view ns, std::string_view name, Body body,
                             const WriteOptions& options, std::string_view subresource = "");
  Result<WriteResult> patch(RequestContext& ctx, const registry::ResourceType& type,
                            std::string_view ns, std::string_view name, PatchType patchType,
                            std::string_view patchBody, const WriteOptions& options,
                            std::string_view subresource = "");
  Result<WriteResult> remove(RequestContext& ctx, const registry::ResourceType& type,
                             std::string_view ns, std::string_view name,
                             const DeleteOptions& options);
  Result<Json> removeCollection(RequestContext& ctx, const registry::ResourceType& type,
                                std::string_view ns, const ListOptions& listOptions,
                                const DeleteOptions& options);

  // The object in `type`'s served shape, from its stored shape.
  static Json toServed(const registry::ResourceType& type, const Json& stored);
  // The serialised served shape; avoids re-encoding when the shapes are the same.
  static std::string servedJson(const registry::ResourceType& type, const cache::ObjectPtr& obj);

  cache::WatchCache& cache() { return cache_; }
  registry::TypeRegistry& types() { return types_; }

 private:
  struct Current {
    cache::ObjectPtr object;  // null when absent
  };
  Result<Current> current(const registry::ResourceType& type, std::string_view ns,
                          std::string_view name);
  Result<WriteResult> createChecked(RequestContext& ctx, const registry::ResourceType& type,
                                    std::string_view ns, Json obj, const WriteOptions& options,
                                    bool fromApply);
  Result<WriteResult> updateFrom(RequestContext& ctx, const registry::ResourceType& type,
                                 const cache::ObjectPtr& cur, Json obj,
                                 const WriteOptions& options, std::string_view subresource,
                                 bool fromApply);
  Result<WriteResult> storeUpdate(const registry::ResourceType& type, const cache::ObjectPtr& cur,
                                  Json obj, bool dryRun);
  Result<WriteResult> finishDeletion(const registry::ResourceType& type,
                                     const cache::ObjectPtr& cur, bool dryRun);
  // pods/NAME/eviction (eviction.cc): deletes the pod unless a PodDisruptionBudget forbids it.
  Result<WriteResult> evict(RequestContext& ctx, const registry::ResourceType& podType,
                            std::string_view ns, std::string_view name, const Json& eviction,
                            const WriteOptions& options);
  // limits_admission.cc: LimitRange defaults and checks (may change obj), ResourceQuota checks.
  Result<void> admitPriority(const registry::ResourceType& type, Json& obj);
  Result<void> admitLimitRanges(const registry::ResourceType& type, std::string_view ns, Json& obj);
  Result<void> admitQuota(const registry::ResourceType& type, std::string_view ns, const Json& obj);
  Result<void> admitCreate(const registry::ResourceType& type, std::string_view ns);
  Result<void> decodeChecks(RequestContext& ctx, const registry::ResourceType& type, Body& body,
                            FieldValidation validation);
  Result<std::function<bool(const cache::CachedObject&)>> selectionPredicate(
      const registry::ResourceType& type, const ListOptions& options);
  Result<ListResult> listFromStore(const registry::ResourceType& type, const std::string& prefix,
                                   const cache::WatchFilter& filter, std::string afterKey,
                                   int64_t limit, int64_t revision);

  storage::Store& store_;
  cache::WatchCache& cache_;
  registry::TypeRegistry& types_;
};

// The field manager for a write: the fieldManager option, else the User-Agent's program name
// ("kubectl/v1.32.0 (linux/amd64) ..." -> "kubectl"). kBadRequest if invalid.
Result<std::string> fieldManagerFor(const RequestContext& ctx, const WriteOptions& options,
                                    bool apply);

}  // namespace nave::api
