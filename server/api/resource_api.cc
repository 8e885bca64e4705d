#include "server/api/resource_api.h"

#include <openssl/rand.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <random>

#include "common/log.h"
#include "common/strings.h"
#include "common/time.h"
#include "common/yaml.h"
#include "server/schema/field_check.h"
#include "server/api/status.h"
#include "server/crd/crd_types.h"
#include "server/apply/apply.h"
#include "server/patch/patch.h"
#include "server/registry/builtin_types.h"
#include "server/selectors/selectors.h"
#include "server/validation/validation.h"

namespace nave::api {
namespace {

using registry::ResourceType;
constexpr auto kConsistentReadTimeout = std::chrono::seconds(3);
constexpr int kMaxUpdateRetries = 16;


// Kubernetes' generateName suffix alphabet: no vowels, no confusable digits.
std::string randomSuffix() {
  static const char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  unsigned char b[5];
  if (RAND_bytes(b, sizeof b) != 1) {
    std::random_device rd;
    for (auto& c : b) c = static_cast<unsigned char>(rd());
  }
  std::string s;
  for (unsigned char c : b) s += kAlphabet[c % (sizeof kAlphabet - 1)];
  return s;
}

std::string nowRfc3339() { return formatRfc3339(std::chrono::system_clock::now()); }

Json& meta(Json& obj) {
  Json& m = obj["metadata"];
  if (!m.is_object()) m = Json::object();
  return m;
}

// Everything but metadata and status: what a generation bump is about.
bool specChanged(const Json& a, const Json& b) {
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (it.key() == "metadata" || it.key() == "status") continue;
    auto other = b.find(it.key());
    if (other == b.end() || *other != it.value()) return true;
  }
  for (auto it = b.begin(); it != b.end(); ++it) {
    if (it.key() == "metadata" || it.key() == "status") continue;
    if (!a.contains(it.key())) return true;
  }
  return false;
}

// The stored form never carries the resourceVersion: it is the row's revision.
std::string encodeForStore(Json obj) {
  if (obj.contains("metadata") && obj["metadata"].is_object())
    obj["metadata"].erase("resourceVersion");
  return dumpJson(obj);
}

bool equalIgnoringVersion(Json a, Json b) {
  for (Json* j : {&a, &b}) {
    if (j->contains("metadata") && (*j)["metadata"].is_object()) {
      (*j)["metadata"].erase("resourceVersion");
    }
  }
  return a == b;
}

bool hasFinalizers(const Json& obj) {
  const Json* m = findMember(obj, "metadata");
  const Json* f = m ? findMember(*m, "finalizers") : nullptr;
  return f != nullptr && f->is_array() && !f->empty();
}

bool isNamespace(const ResourceType& t) { return t.group.empty() && t.kind == "Namespace"; }
bool isPod(const ResourceType& t) { return t.group.empty() && t.kind == "Pod"; }

bool namespaceSpecFinalizersEmpty(const Json& ns) {
  const Json* spec = findMember(ns, "spec");
  const Json* f = spec ? findMember(*spec, "finalizers") : nullptr;
  return f == nullptr || !f->is_array() || f->empty();
}

// Continue tokens: base64url(JSON {"v":"meta.k8s.io/v1","rv":N,"start":"<key after prefix>\0"}),
// the format Kubernetes' etcd3 storage uses.
std::string encodeContinue(int64_t rv, std::string_view prefix, std::string_view lastKey) {
  Json t = {{"v", "meta.k8s.io/v1"},
            {"rv", rv},
            {"start", std::string(lastKey.substr(prefix.size())) + std::string(1, '\0')}};
  return base64UrlEncode(dumpJson(t));
}

struct ContinuePosition {
  int64_t rv;
  std::string afterKey;
};

Result<ContinuePosition> decodeContinue(std::string_view token, std::string_view prefix) {
  std::string raw;
  std::string t(token);
  if (!base64UrlDecode(t, raw) && !base64Decode(t, raw))
    return badRequest("continue key is not valid: illegal base64 data");
  auto parsed = parseJson(raw);
  if (!parsed.ok() || !parsed->value.is_object())
    return badRequest("continue key is not valid: invalid character in continue key");
  const Json& j = parsed->value;
  if (getString(j, "v") != "meta.k8s.io/v1")
    return badRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
  int64_t rv = getInt(j, "rv", 0);
  if (rv <= 0) return badRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
  std::string start = getString(j, "start");
  if (start.empty()) return badRequest("continue key is not valid: encoded start key empty");
  if (start.back() == '\0') start.pop_back();
  if (start.find("..") != std::string::npos || start.starts_with("/"))
    return badRequest("continue key is not valid: key should be relative to the prefix");
  return ContinuePosition{rv, std::string(prefix) + start};
}

std::optional<int64_t> parseRv(std::string_view rv) {
  if (rv.empty()) return std::nullopt;
  int64_t v = 0;
  for (char c : rv) {
    if (c < '0' || c > '9') return std::nullopt;
    if (v > (INT64_MAX - 9) / 10) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// Simple ".a.b.c" paths, as scale subresources name their fields.
const Json* jsonAtPath(const Json& obj, std::string_view path) {
  const Json* cur = &obj;
  for (const std::string& part : split(path.starts_with(".") ? path.substr(1) : path, '.')) {
    if (part.empty()) continue;
    cur = findMember(*cur, part);
    if (cur == nullptr) return nullptr;
  }
  return cur;
}

void setJsonAtPath(Json& obj, std::string_view path, Json value) {
  Json* cur = &obj;
  for (const std::string& part : split(path.starts_with(".") ? path.substr(1) : path, '.')) {
    if (part.empty()) continue;
    if (!cur->is_object()) *cur = Json::object();
    cur = &(*cur)[part];
  }
  *cur = std::move(value);
}

bool patchSetsResourceVersion(PatchType type, const Json& patch) {
  if (type == PatchType::kJson) {
    for (const Json& op : patch)
      if (op.is_object() && getString(op, "path") == "/metadata/resourceVersion") return true;
    return false;
  }
  const Json* m = findMember(patch, "metadata");
  return m != nullptr && m->is_object() && m->contains("resourceVersion") &&
         (*m)["resourceVersion"].is_string() && !(*m)["resourceVersion"].get<std::string>().empty();
}

Error invalidRv(std::string_view rv) {
  return Error(ErrorCode::kBadRequest, "invalid resource version: " + std::string(rv));
}

}  // namespace

std::string_view watchEventTypeName(WatchEventType t) {
  switch (t) {
    case WatchEventType::kAdded: return "ADDED";
    case WatchEventType::kModified: return "MODIFIED";
    case WatchEventType::kDeleted: return "DELETED";
    case WatchEventType::kBookmark: return "BOOKMARK";
    case WatchEventType::kError: return "ERROR";
  }
  return "ERROR";
}

Result<std::string> fieldManagerFor(const RequestContext& ctx, const WriteOptions& options,
                                    bool apply) {
  std::string m = options.fieldManager;
  if (m.empty()) {
    if (apply) return badRequest("PATCH: fieldManager is required for apply requests");
    m = ctx.userAgent.substr(0, ctx.userAgent.find('/'));
  }
  if (m.size() > 128)
    return badRequest("fieldManager: Too long: may not be more than 128 bytes");
  for (unsigned char c : m)
    if (c < 0x20 || c == 0x7f)
      return badRequest("fieldManager: Invalid value: \"" + m + "\": must only contain printable characters");
  return m;
}

ResourceApi::ResourceApi(storage::Store& store, cache::WatchCache& cache,
                         registry::TypeRegistry& types)
    : store_(store), cache_(cache), types_(types) {}

Json ResourceApi::toServed(const ResourceType& type, const Json& stored) {
  if (type.fromStorage) {
    Json out = type.fromStorage(stored);
    out["apiVersion"] = type.apiVersion();
    return out;
  }
  if (getString(stored, "apiVersion") == type.apiVersion()) return stored;
  Json out = stored;
  out["apiVersion"] = type.apiVersion();
  return out;
}

std::string ResourceApi::servedJson(const ResourceType& type, const cache::ObjectPtr& obj) {
  if (!type.fromStorage && getString(obj->object, "apiVersion") == type.apiVersion())
    return obj->json;
  return dumpJson(toServed(type, obj->object));
}

Result<ResourceApi::Current> ResourceApi::current(const ResourceType& type, std::string_view ns,
                                                  std::string_view name) {
  TRY(cache_.syncWithStore(kConsistentReadTimeout));
  return Current{cache_.get(type.key(ns, name))};
}

// ---- reads ----------------------------------------------------------------------------------

Result<Json> ResourceApi::get(RequestContext& ctx, const ResourceType& type, std::string_view ns,
                              std::string_view name, const GetOptions& options,
                              std::string_view subresource) {
  if (options.resourceVersion.empty()) {
    TRY(cache_.syncWithStore(kConsistentReadTimeout));
  } else {
    auto rv = parseRv(options.resourceVersion);
    if (!rv) return invalidRv(options.resourceVersion);
    if (*rv > 0) TRY(cache_.waitForRevision(*rv, kConsistentReadTimeout));
  }
  if (!subresource.empty() && subresource != "scale" &&
      !(subresource == "status" && type.statusSubresource))
    return Error(ErrorCode::kNotFound, "the server could not find the requested resource");
  cache::ObjectPtr obj = cache_.get(type.key(ns, name));
  if (!obj) return notFound(type, name);
  if (subresource == "scale") {
    if (!type.scale) return notFound(type, name);
    const Json& o = obj->object;
    Json scale = {{"apiVersion", "autoscaling/v1"}, {"kind", "Scale"}};
    Json m = Json::object();
    for (const char* k : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"})
      if (o["metadata"].contains(k)) m[k] = o["metadata"][k];
    scale["metadata"] = m;
    const registry::ScaleSubresource& paths = *type.scale;
    const Json* specReplicas = jsonAtPath(o, paths.specReplicasPath);
    const Json* statusReplicas = jsonAtPath(o, paths.statusReplicasPath);
    scale["spec"] = {{"replicas", specReplicas && specReplicas->is_number_integer() ? specReplicas->get<int64_t>() : 0}};
    Json status = {{"replicas", statusReplicas && statusReplicas->is_number_integer() ? statusReplicas->get<int64_t>() : 0}};
    if (type.isCustomResource) {
      // A custom resource names where its selector (a string) lives.
      if (const Json* sel = jsonAtPath(o, paths.labelSelectorPath); sel && sel->is_string())
        status["selector"] = *sel;
    } else if (const Json* sel = jsonAtPath(o, ".spec.selector"); sel != nullptr) {
      // Built-in workloads: the label selector object, printed.
      if (sel->is_string()) {
        status["selector"] = *sel;
      } else if (auto ls = selectors::LabelSelector::fromObject(*sel); ls.ok()) {
        status["selector"] = ls->toString();
      }
    }
    scale["status"] = status;
    return scale;
  }
  return toServed(type, obj->object);
}

Result<std::function<bool(const cache::CachedObject&)>> ResourceApi::selectionPredicate(
    const ResourceType& type, const ListOptions& options) {
  std::optional<selectors::LabelSelector> labels;
  std::optional<selectors::FieldSelector> fields;
  if (!options.labelSelector.empty()) {
    auto ls = selectors::LabelSelector::parse(options.labelSelector);
    if (!ls.ok()) return badRequest(ls.error().message());
    if (!ls->empty()) labels = std::move(*ls);
  }
  if (!options.fieldSelector.empty()) {
    auto fs = selectors::FieldSelector::parse(options.fieldSelector);
    if (!fs.ok()) return badRequest(fs.error().message());
    for (const auto& r : fs->requirements()) {
      bool known = r.field == "metadata.name" || r.field == "metadata.namespace" ||
                   std::find(type.selectableFields.begin(), type.selectableFields.end(),
                             r.field) != type.selectableFields.end();
      if (!known) {
        // Types with their own selectable fields answer like Kubernetes' field label
        // conversions; the others list what they support.
        if (!type.selectableFields.empty() && !type.isCustomResource)
          return badRequest("field label not supported: " + r.field);
        std::string supported = "\"metadata.name\", \"metadata.namespace\"";
        for (const auto& f : type.selectableFields) supported += ", \"" + f + "\"";
        return badRequest("\"" + r.field + "\" is not a known field selector: only " + supported);
      }
    }
    if (!fs->empty()) fields = std::move(*fs);
  }
  if (!labels && !fields) return std::function<bool(const cache::CachedObject&)>();
  registry::FieldValueFn fieldValue = type.fieldValue;
  if (!fieldValue) fieldValue = registry::fieldValueByPath;
  return std::function<bool(const cache::CachedObject&)>(
      [labels = std::move(labels), fields = std::move(fields),
       fieldValue](const cache::CachedObject& o) {
        if (labels) {
          const Json* m = findMember(o.object, "metadata");
          const Json* l = m ? findMember(*m, "labels") : nullptr;
          if (!labels->matches(l ? *l : Json(nullptr))) return false;
        }
        if (fields) {
          auto valueOf = [&](std::string_view f) -> std::optional<std::string> {
            if (f == "metadata.name") return o.name;
            if (f == "metadata.namespace") return o.ns;
            return fieldValue(o.object, f);
          };
          if (!fields->matches(valueOf)) return false;
        }
        return true;
      });
}

Result<ListResult> ResourceApi::listFromStore(const ResourceType& type, const std::string& prefix,
                                              const cache::WatchFilter& filter,
                                              std::string afterKey, int64_t limit,
                                              int64_t revision) {
  ListResult out;
  out.revision = revision;
  for (;;) {
    storage::ListOptions so;
    so.prefix = prefix;
    so.afterKey = afterKey;
    so.revision = revision;
    so.limit = limit > 0 ? std::max<int64_t>(limit, 100) : 0;
    auto page = store_.list(so);
    if (!page.ok()) {
      if (page.error().is(ErrorCode::kExpired)) {
        Error e(ErrorCode::kExpired,
                "The resourceVersion for the provided list is too old.");
        return e;
      }
      return std::move(page).error();
    }
    out.revision = page->revision;
    for (const auto& kv : page->items) {
      afterKey = kv.key;
      auto o = cache::decodeStored(kv);
      if (!o.ok()) continue;
      if (!filter.matches(**o)) continue;
      if (limit > 0 && static_cast<int64_t>(out.items.size()) >= limit) {
        out.continueToken = encodeContinue(out.revision, type.keyPrefix(), out.items.back()->key);
        return out;
      }
      out.items.push_back(*o);
    }
    if (!page->more) break;
  }
  return out;
}

Result<ListResult> ResourceApi::list(RequestContext& ctx, const ResourceType& type,
                                     std::string_view ns, const ListOptions& options) {
  const std::string& rvText = options.resourceVersion;
  const std::string& match = options.resourceVersionMatch;
  if (!match.empty() && match != "NotOlderThan" && match != "Exact")
    return badRequest("resourceVersionMatch: Unsupported value: \"" + match +
                      "\": supported values: \"Exact\", \"NotOlderThan\", \"\"");
  if (!match.empty() && rvText.empty())
    return badRequest("resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided");
  if (!match.empty() && !options.continueToken.empty())
    return badRequest("resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided");
  if (match == "Exact" && rvText == "0")
    return badRequest("resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"");
  if (!options.continueToken.empty() && !rvText.empty() && rvText != "0")
    return badRequest("specifying resource version is not allowed when using continue");
  if (options.limit < 0) return badRequest("limit: Invalid value: " + std::to_string(options.limit) + ": must be non-negative");
  std::optional<int64_t> rv;
  if (!rvText.empty()) {
    rv = parseRv(rvText);
    if (!rv) return invalidRv(rvText);
  }

  cache::WatchFilter filter;
  filter.predicate = TRY(selectionPredicate(type, options));
  const std::string resourcePrefix = type.keyPrefix();
  std::string prefix = resourcePrefix;
  if (type.namespaced && !ns.empty()) prefix += std::string(ns) + "/";
  const bool filtered = static_cast<bool>(filter.predicate);

  auto finish = [&](cache::CacheList&& cl, int64_t revision) {
    ListResult out;
    out.revision = revision;
    out.items = std::move(cl.items);
    if (cl.more && !out.items.empty()) {
      out.continueToken = encodeContinue(revision, resourcePrefix, out.items.back()->key);
      if (!filtered) out.remainingItemCount = cl.remaining;
    }
    return out;
  };

  if (!options.continueToken.empty()) {
    ContinuePosition pos = TRY(decodeContinue(options.continueToken, resourcePrefix));
    if (!std::string_view(pos.afterKey).starts_with(prefix) && pos.afterKey < prefix)
      pos.afterKey = prefix;
    // The cache can serve the continuation if nothing in this resource changed since.
    if (cache_.lastChange(resourcePrefix) <= pos.rv && pos.rv <= cache_.revision()) {
      auto cl = cache_.list(prefix, pos.afterKey, filter, options.limit);
      return finish(std::move(cl), pos.rv);
    }
    auto r = listFromStore(type, prefix, filter, pos.afterKey, options.limit, pos.rv);
    if (!r.ok() && r.error().is(ErrorCode::kExpired)) {
      return Error(ErrorCode::kExpired,
                   "The provided continue parameter is too old to display a consistent list "
                   "result. You can start a new list without the continue parameter, or use the "
                   "continue value from the response to start a list at a more recent revision.");
    }
    return r;
  }

  int64_t limit = options.limit;
  if (!rv) {
    TRY(cache_.syncWithStore(kConsistentReadTimeout));
  } else if (*rv == 0) {
    limit = 0;  // "any" reads are served whole from the cache, as Kubernetes does
  } else {
    bool exact = match == "Exact" || (match.empty() && options.limit > 0);
    if (exact) {
      TRY(cache_.waitForRevision(*rv, kConsistentReadTimeout));
      if (cache_.lastChange(resourcePrefix) > *rv)
        return listFromStore(type, prefix, filter, "", limit, *rv);
      auto cl = cache_.list(prefix, "", filter, limit);
      return finish(std::move(cl), *rv);
    }
    TRY(cache_.waitForRevision(*rv, kConsistentReadTimeout));
  }
  auto cl = cache_.list(prefix, "", filter, limit);
  int64_t revision = cl.revision;
  return finish(std::move(cl), revision);
}

// ---- watch ----------------------------------------------------------------------------------

namespace {

class CacheWatchStream : public WatchStream {
 public:
  CacheWatchStream(std::shared_ptr<const ResourceType> type, cache::WatchCache& cache,
                   cache::WatchStart start, bool bookmarks, bool initialEventsEnd,
                   std::chrono::steady_clock::time_point deadline)
      : type_(std::move(type)),
        cache_(cache),
        watcher_(std::move(start.watcher)),
        bookmarks_(bookmarks),
        needInitialEnd_(initialEventsEnd),
        lastRevision_(start.startRevision),
        deadline_(deadline) {
    for (auto& o : start.initial) initial_.push_back({WatchEventType::kAdded, std::move(o), {}});
  }

  int fd() const override { return watcher_->fd(); }

  bool poll(std::vector<WatchEvent>& out) override {
    if (!initial_.empty()) {
      for (auto& e : initial_) out.push_back(std::move(e));
      initial_.clear();
    }
    if (needInitialEnd_) {
      needInitialEnd_ = false;
      WatchEvent b = bookmarkAt(lastRevision_);
      b.special["metadata"]["annotations"] = {{"k8s.io/initial-events-end", "true"}};
      out.push_back(std::move(b));
    }
    std::vector<cache::WatchEvent> events;
    bool alive = watcher_->drain(events);
    for (auto& e : events) {
      WatchEventType t = e.type == cache::EventType::kAdded      ? WatchEventType::kAdded
                         : e.type == cache::EventType::kModified ? WatchEventType::kModified
                                                                 : WatchEventType::kDeleted;
      lastRevision_ = std::max(lastRevision_, e.object->revision);
      out.push_back({t, std::move(e.object), {}});
    }
    return alive;
  }

  std::optional<WatchEvent> bookmark() override {
    if (!bookmarks_) return std::nullopt;
    lastRevision_ = std::max(lastRevision_, cache_.revision());
    return bookmarkAt(lastRevision_);
  }

  std::chrono::steady_clock::time_point deadline() const override { return deadline_; }
  const ResourceType& type() const override { return *type_; }

 private:
  WatchEvent bookmarkAt(int64_t revision) const {
    Json o = {{"kind", type_->kind},
              {"apiVersion", type_->apiVersion()},
              {"metadata", {{"resourceVersion", std::to_string(revision)}}}};
    return {WatchEventType::kBookmark, nullptr, std::move(o)};
  }

  std::shared_ptr<const ResourceType> type_;
  cache::WatchCache& cache_;
  std::unique_ptr<cache::Watcher> watcher_;
  std::vector<WatchEvent> initial_;
  bool bookmarks_;
  bool needInitialEnd_;
  int64_t lastRevision_;
  std::chrono::steady_clock::time_point deadline_;
};

// A watch that fails at once with an ERROR event (Kubernetes reports a too-old
// resourceVersion this way, inside a 200 response).
class ErrorWatchStream : public WatchStream {
 public:
  ErrorWatchStream(std::shared_ptr<const ResourceType> type, Json status)
      : type_(std::move(type)), status_(std::move(status)), fd_(::eventfd(1, EFD_CLOEXEC)) {}
  int fd() const override { return fd_.get(); }
  bool poll(std::vector<WatchEvent>& out) override {
    if (!sent_) out.push_back({WatchEventType::kError, nullptr, status_});
    sent_ = true;
    return false;
  }
  std::optional<WatchEvent> bookmark() override { return std::nullopt; }
  std::chrono::steady_clock::time_point deadline() const override {
    return std::chrono::steady_clock::now();
  }
  const ResourceType& type() const override { return *type_; }

 private:
  std::shared_ptr<const ResourceType> type_;
  Json status_;
  UniqueFd fd_;
  bool sent_ = false;
};

}  // namespace

Result<std::unique_ptr<WatchStream>> ResourceApi::watch(RequestContext& ctx,
                                                        const ResourceType& type,
                                                        std::string_view ns,
                                                        const ListOptions& options) {
  auto typePtr = types_.find(type.group, type.version, type.plural);
  if (!typePtr) typePtr = std::make_shared<ResourceType>(type);
  const std::string& rvText = options.resourceVersion;
  std::optional<int64_t> rv;
  if (!rvText.empty()) {
    rv = parseRv(rvText);
    if (!rv) return invalidRv(rvText);
  }
  bool initialEventsEnd = false;
  if (options.sendInitialEvents.has_value()) {
    if (options.resourceVersionMatch != "NotOlderThan")
      return Error(ErrorCode::kInvalid,
                   "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: "
                   "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan");
    if (*options.sendInitialEvents && !options.allowWatchBookmarks)
      return Error(ErrorCode::kInvalid,
                   "ListOptions.meta.k8s.io \"\" is invalid: allowWatchBookmarks: Forbidden: "
                   "sendInitialEvents requires setting allowWatchBookmarks to true");
    initialEventsEnd = *options.sendInitialEvents;
  } else if (!options.resourceVersionMatch.empty()) {
    return badRequest("resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided");
  }

  cache::WatchFilter filter;
  filter.predicate = TRY(selectionPredicate(type, options));
  if (type.namespaced) filter.ns = std::string(ns);
  if (!options.fieldSelector.empty()) {
    if (auto fs = selectors::FieldSelector::parse(options.fieldSelector); fs.ok())
      if (auto name = fs->exactValue("metadata.name")) filter.name = *name;
  }

  int64_t from = 0;
  bool wantInitial;
  if (options.sendInitialEvents.has_value()) {
    wantInitial = *options.sendInitialEvents;
    if (!rv || *rv == 0) {
      if (!rv) TRY(cache_.syncWithStore(kConsistentReadTimeout));
    } else {
      TRY(cache_.waitForRevision(*rv, kConsistentReadTimeout));
    }
    if (!wantInitial) from = rv.value_or(0) > 0 ? *rv : cache_.revision();
  } else if (!rv || *rv == 0) {
    if (!rv) TRY(cache_.syncWithStore(kConsistentReadTimeout));
    wantInitial = true;
  } else {
    wantInitial = false;
    from = *rv;
  }
  if (!wantInitial && from == 0) from = cache_.revision();

  // Kubernetes ends watches after timeoutSeconds, or a randomised 30-60 minutes.
  int64_t timeout = options.timeoutSeconds;
  if (timeout <= 0) {
    std::random_device rd;
    timeout = 1800 + static_cast<int64_t>(rd() % 1800);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout);

  auto started = cache_.watch(type.keyPrefix(), std::move(filter), wantInitial ? 0 : from);
  if (!started.ok()) {
    if (started.error().is(ErrorCode::kExpired)) {
      return std::unique_ptr<WatchStream>(
          new ErrorWatchStream(typePtr, statusFromError(started.error())));
    }
    return std::move(started).error();
  }
  return std::unique_ptr<WatchStream>(new CacheWatchStream(
      typePtr, cache_, std::move(*started), options.allowWatchBookmarks, initialEventsEnd, deadline));
}

// ---- writes ---------------------------------------------------------------------------------

Result<void> ResourceApi::decodeChecks(RequestContext& ctx, const ResourceType& type, Body& body,
                                       FieldValidation validation) {
  Json& obj = body.object;
  if (!obj.is_object()) return badRequest("the body of the request must be a JSON object");
  std::string apiVersion = getString(obj, "apiVersion");
  std::string kind = getString(obj, "kind");
  if (apiVersion.empty()) obj["apiVersion"] = apiVersion = type.apiVersion();
  if (kind.empty()) obj["kind"] = kind = type.kind;
  if (apiVersion != type.apiVersion()) {
    return badRequest("the API version in the data (" + apiVersion +
                      ") does not match the expected API version (" + type.apiVersion() + ")");
  }
  if (kind != type.kind) {
    return badRequest("the kind in the data (" + kind + ") does not match the expected kind (" +
                      type.kind + ")");
  }
  if (obj.contains("metadata") && !obj["metadata"].is_object() && !obj["metadata"].is_null())
    return badRequest(type.kind + " in version \"" + type.version + "\" cannot be handled as a " +
                      type.kind + ": json: cannot unmarshal " +
                      std::string(obj["metadata"].type_name()) +
                      " into Go struct field " + type.kind + ".metadata of type v1.ObjectMeta");
  std::vector<std::string> problems;
  if (type.isCustomResource && type.schema != nullptr) {
    // Custom resources: structural pruning; wrong types are validation errors (422) later.
    for (const std::string& f : crd::pruneCustomResourceFields(type, obj))
      problems.push_back("unknown field \"" + f + "\"");
  } else if (type.schema != nullptr) {
    schema::FieldCheckResult r = schema::checkAndPruneFields(obj, type.schemas, *type.schema);
    if (!r.typeError.empty())
      return badRequest(type.kind + " in version \"" + type.version +
                        "\" cannot be handled as a " + type.kind + ": " + r.typeError);
    for (const std::string& f : r.unknownFields) problems.push_back("unknown field \"" + f + "\"");
  }
  for (const std::string& d : body.duplicateFields)
    problems.push_back("duplicate field \"" + d + "\"");
  if (!problems.empty()) {
    if (validation == FieldValidation::kStrict) {
      return badRequest(type.kind + " in version \"" + type.version +
                        "\" cannot be handled as a " + type.kind + ": strict decoding error: " +
                        join(problems, ", "));
    }
    if (validation == FieldValidation::kWarn)
      for (auto& p : problems) ctx.warnings.push_back(std::move(p));
  }
  return {};
}

Result<void> ResourceApi::admitCreate(const ResourceType& type, std::string_view ns) {
  if (!type.namespaced) return {};
  auto nsType = types_.find("", "v1", "namespaces");
  if (!nsType) return {};
  cache::ObjectPtr nsObj = cache_.get(nsType->key("", ns));
  if (!nsObj) return notFound("", "namespaces", ns);
  const Json& m = nsObj->object["metadata"];
  if (m.contains("deletionTimestamp") && !m["deletionTimestamp"].is_null()) {
    Error e = forbidden(type, "", "unable to create new content in namespace " + std::string(ns) +
                                      " because it is being terminated");
    e.causes.push_back({"NamespaceTerminating",
                        "namespace " + std::string(ns) + " is being terminated", "metadata.namespace"});
    return e;
  }
  return {};
}

Result<WriteResult> ResourceApi::create(RequestContext& ctx, const ResourceType& type,
                                        std::string_view ns, Body body,
                                        const WriteOptions& options, std::string_view parentName,
                                        std::string_view subresource) {
  if (!subresource.empty()) {
    if (isPod(type) && subresource == "eviction")
      return evict(ctx, type, ns, parentName, body.object, options);
    if (isPod(type) && subresource == "binding") {
      // pods/NAME/binding: assign the pod to a node.
      const Json& b = body.object;
      std::string node = b.is_object() && b.contains("target") ? getString(b["target"], "name") : "";
      if (node.empty()) return Error(ErrorCode::kInvalid, "Binding \"" + std::string(parentName) + "\" is invalid: target.name: Required value");
      for (int attempt = 0; attempt < kMaxUpdateRetries; ++attempt) {
        Current cur = TRY(current(type, ns, parentName));
        if (!cur.object) return notFound(type, parentName);
        Json pod = cur.object->object;
        std::string assigned = getString(pod["spec"], "nodeName");
        if (!assigned.empty())
          return conflict(type, parentName, "pod " + std::string(parentName) + " is already assigned to node \"" + assigned + "\"");
        if (pod["metadata"].contains("deletionTimestamp"))
          return conflict(type, parentName, "pod " + std::string(parentName) + " is being deleted, cannot be assigned to a host");
        pod["spec"]["nodeName"] = node;
        if (b.contains("metadata") && b["metadata"].contains("annotations") &&
            b["metadata"]["annotations"].is_object())
          for (auto& [k, v] : b["metadata"]["annotations"].items())
            pod["metadata"]["annotations"][k] = v;
        // PodScheduled becomes True, replacing the scheduler's False (Unschedulable) if any.
        Json conds = Json::array();
        for (const Json& c : pod["status"].value("conditions", Json::array()))
          if (getString(c, "type") != "PodScheduled") conds.push_back(c);
        conds.push_back({{"type", "PodScheduled"}, {"status", "True"},
                         {"lastProbeTime", nullptr}, {"lastTransitionTime", nowRfc3339()}});
        pod["status"]["conditions"] = conds;
        if (options.dryRun) return WriteResult{successStatus(type, parentName, ""), 201};
        auto r = storeUpdate(type, cur.object, std::move(pod), false);
        if (!r.ok() && r.error().is(ErrorCode::kConflict)) continue;
        TRY(r);
        Json s = successStatus(type, parentName, "");
        s.erase("details");
        return WriteResult{s, 201};
      }
      return conflict(type, parentName, kObjectModified);
    }
    return notFound(type, parentName);
  }
  TRY(decodeChecks(ctx, type, body, options.fieldValidation));
  return createChecked(ctx, type, ns, std::move(body.object), options, false);
}

Result<WriteResult> ResourceApi::createChecked(RequestContext& ctx, const ResourceType& type,
                                               std::string_view ns, Json obj,
                                               const WriteOptions& options, bool fromApply) {
  Json& m = meta(obj);
  if (type.namespaced) {
    std::string bodyNs = getString(m, "namespace");
    if (!bodyNs.empty() && bodyNs != ns)
      return badRequest("the namespace of the provided object does not match the namespace sent on the request");
    m["namespace"] = std::string(ns);
  } else {
    m.erase("namespace");
  }
  if (type.toStorage) obj = type.toStorage(obj);
  Json& md = meta(obj);
  std::string name = getString(md, "name");
  if (name.empty() && !getString(md, "generateName").empty()) {
    name = getString(md, "generateName") + randomSuffix();
    md["name"] = name;
  }
  // System fields are the server's to set.
  md["uid"] = newUuid();
  md["creationTimestamp"] = nowRfc3339();
  md.erase("resourceVersion");
  md.erase("deletionTimestamp");
  md.erase("deletionGracePeriodSeconds");
  md.erase("selfLink");
  if (type.tracksGeneration) md["generation"] = 1;
  else md.erase("generation");
  if (type.defaulter) type.defaulter(obj);
  TRY(admitPriority(type, obj));
  TRY(admitLimitRanges(type, ns, obj));
  if (type.prepareForCreate) TRY(type.prepareForCreate(obj));
  if (!fromApply && type.schema != nullptr) {
    std::string manager = TRY(fieldManagerFor(ctx, options, false));
    apply::ManagerInfo info{manager, type.apiVersion(), "", std::chrono::system_clock::now()};
    TRY(apply::recordUpdate(nullptr, obj, type.schemas, *type.schema, info));
  }
  if (type.validator) {
    validation::FieldErrors errs = type.validator(obj, nullptr, validation::Operation::kCreate);
    if (!errs.empty()) return validation::invalidError(type.group, type.kind, name, errs);
  }
  TRY(admitCreate(type, ns));
  TRY(admitQuota(type, ns, obj));
  if (options.dryRun) return WriteResult{toServed(type, obj), 201};
  auto kv = store_.create(type.key(ns, name), encodeForStore(obj), type.ttlSeconds);
  if (!kv.ok()) {
    if (kv.error().is(ErrorCode::kAlreadyExists)) return alreadyExists(type, name);
    return std::move(kv).error();
  }
  obj["metadata"]["resourceVersion"] = std::to_string(kv->modRevision);
  return WriteResult{toServed(type, obj), 201};
}

Result<WriteResult> ResourceApi::storeUpdate(const ResourceType& type, const cache::ObjectPtr& cur,
                                             Json obj, bool dryRun) {
  if (equalIgnoringVersion(obj, cur->object)) return WriteResult{toServed(type, cur->object), 200};
  if (dryRun) {
    obj["metadata"]["resourceVersion"] = std::to_string(cur->revision);
    return WriteResult{toServed(type, obj), 200};
  }
  auto kv = store_.update(cur->key, encodeForStore(obj), cur->revision, type.ttlSeconds);
  if (!kv.ok()) {
    if (kv.error().is(ErrorCode::kConflict)) return conflict(type, cur->name, kObjectModified);
    if (kv.error().is(ErrorCode::kNotFound)) return notFound(type, cur->name);
    return std::move(kv).error();
  }
  obj["metadata"]["resourceVersion"] = std::to_string(kv->modRevision);
  return WriteResult{toServed(type, obj), 200};
}

Result<WriteResult> ResourceApi::finishDeletion(const ResourceType& type,
                                                const cache::ObjectPtr& cur, bool dryRun) {
  if (dryRun) return WriteResult{toServed(type, cur->object), 200};
  auto kv = store_.remove(cur->key, cur->revision);
  if (!kv.ok()) {
    if (kv.error().is(ErrorCode::kConflict)) return conflict(type, cur->name, kObjectModified);
    if (kv.error().is(ErrorCode::kNotFound)) return notFound(type, cur->name);
    return std::move(kv).error();
  }
  Json last = cur->object;
  last["metadata"]["resourceVersion"] = std::to_string(kv->modRevision);
  return WriteResult{toServed(type, last), 200};
}

// Applies an update of `cur` to `obj` (both storage shape), for the main resource or a
// subresource, then writes it.
Result<WriteResult> ResourceApi::updateFrom(RequestContext& ctx, const ResourceType& type,
                                            const cache::ObjectPtr& cur, Json obj,
                                            const WriteOptions& options,
                                            std::string_view subresource, bool fromApply) {
  const Json& old = cur->object;
  Json next;
  if (subresource == "status") {
    next = old;
    if (obj.contains("status")) next["status"] = obj["status"];
    else next.erase("status");
    if (obj["metadata"].contains("managedFields"))
      next["metadata"]["managedFields"] = obj["metadata"]["managedFields"];
  } else if (subresource == "finalize") {
    next = old;
    Json finalizers = obj.contains("spec") && obj["spec"].is_object()
                          ? obj["spec"].value("finalizers", Json::array())
                          : Json::array();
    next["spec"]["finalizers"] = finalizers;
  } else {
    next = std::move(obj);
    if (type.statusSubresource) {
      if (old.contains("status")) next["status"] = old["status"];
      else next.erase("status");
    }
  }
  Json& nm = meta(next);
  const Json& om = old["metadata"];
  for (const char* k : {"uid", "creationTimestamp", "deletionTimestamp",
                        "deletionGracePeriodSeconds", "generation", "namespace", "name"}) {
    if (om.contains(k)) nm[k] = om[k];
    else nm.erase(k);
  }
  nm.erase("selfLink");
  nm.erase("resourceVersion");
  if (!nm.contains("managedFields") && om.contains("managedFields"))
    nm["managedFields"] = om["managedFields"];
  if (subresource.empty()) {
    if (type.defaulter) type.defaulter(next);
    if (type.prepareForUpdate) TRY(type.prepareForUpdate(next, old));
  }
  if (type.tracksGeneration && subresource.empty() && specChanged(next, old))
    nm["generation"] = getInt(om, "generation", 0) + 1;
  if (!fromApply && type.schema != nullptr) {
    std::string manager = TRY(fieldManagerFor(ctx, options, false));
    apply::ManagerInfo info{manager, type.apiVersion(), std::string(subresource),
                            std::chrono::system_clock::now()};
    TRY(apply::recordUpdate(&old, next, type.schemas, *type.schema, info));
  }
  if (type.validator) {
    auto op = subresource == "status" ? validation::Operation::kStatusUpdate
                                      : validation::Operation::kUpdate;
    validation::FieldErrors errs = type.validator(next, &old, op);
    if (!errs.empty()) return validation::invalidError(type.group, type.kind, cur->name, errs);
  }
  // An object being deleted goes once its last finalizer is gone.
  bool deleting = nm.contains("deletionTimestamp") && !nm["deletionTimestamp"].is_null();
  if (deleting && !hasFinalizers(next) &&
      (!isNamespace(type) || namespaceSpecFinalizersEmpty(next))) {
    auto r = finishDeletion(type, cur, options.dryRun);
    if (r.ok()) {
      Json served = toServed(type, next);
      served["metadata"]["resourceVersion"] = r->object["metadata"]["resourceVersion"];
      return WriteResult{served, 200};
    }
    return r;
  }
  return storeUpdate(type, cur, std::move(next), options.dryRun);
}

Result<WriteResult> ResourceApi::update(RequestContext& ctx, const ResourceType& type,
                                        std::string_view ns, std::string_view name, Body body,
                                        const WriteOptions& options,
                                        std::string_view subresource) {
  if (subresource == "scale") {
    if (!type.scale) return notFound(type, name);
    const Json& s = body.object;
    if (!s.is_object() || !s.contains("spec") || !s["spec"].is_object() ||
        !s["spec"].contains("replicas") || !s["spec"]["replicas"].is_number_integer())
      return Error(ErrorCode::kInvalid, "Scale.autoscaling \"" + std::string(name) +
                                            "\" is invalid: spec.replicas: Required value");
    int64_t replicas = s["spec"]["replicas"].get<int64_t>();
    if (replicas < 0)
      return Error(ErrorCode::kInvalid, "Scale.autoscaling \"" + std::string(name) +
                                            "\" is invalid: spec.replicas: Invalid value: " +
                                            std::to_string(replicas) +
                                            ": must be greater than or equal to 0");
    std::string precondition = s.contains("metadata") ? getString(s["metadata"], "resourceVersion") : "";
    for (int attempt = 0; attempt < kMaxUpdateRetries; ++attempt) {
      Current cur = TRY(current(type, ns, name));
      if (!cur.object) return notFound(type, name);
      if (!precondition.empty() && precondition != std::to_string(cur.object->revision))
        return conflict(type, name, kObjectModified);
      Json next = cur.object->object;
      setJsonAtPath(next, type.scale->specReplicasPath, replicas);
      auto r = updateFrom(ctx, type, cur.object, std::move(next), options, "", false);
      if (!r.ok() && r.error().is(ErrorCode::kConflict) && precondition.empty()) continue;
      TRY(r);
      return WriteResult{TRY(get(ctx, type, ns, name, {}, "scale")), 200};
    }
    return conflict(type, name, kObjectModified);
  }
  if (!subresource.empty() && subresource != "status" &&
      !(subresource == "finalize" && isNamespace(type)))
    return notFound(type, name);
  if (subresource == "status" && !type.statusSubresource) return notFound(type, name);
  TRY(decodeChecks(ctx, type, body, options.fieldValidation));
  Json& obj = body.object;
  std::string bodyName = getString(meta(obj), "name");
  if (bodyName.empty()) {
    meta(obj)["name"] = std::string(name);
  } else if (bodyName != name) {
    return badRequest("the name of the object (" + bodyName +
                      ") does not match the name on the URL (" + std::string(name) + ")");
  }
  if (type.namespaced) {
    std::string bodyNs = getString(meta(obj), "namespace");
    if (!bodyNs.empty() && bodyNs != ns)
      return badRequest("the namespace of the provided object does not match the namespace sent on the request");
    meta(obj)["namespace"] = std::string(ns);
  }
  std::string precondition = getString(meta(obj), "resourceVersion");
  if (type.toStorage) obj = type.toStorage(obj);
  for (int attempt = 0; attempt < kMaxUpdateRetries; ++attempt) {
    Current cur = TRY(current(type, ns, name));
    if (!cur.object) {
      if (type.allowCreateOnUpdate && subresource.empty()) {
        Json created = obj;
        if (type.fromStorage) created = toServed(type, created);
        return createChecked(ctx, type, ns, std::move(created), options, false);
      }
      return notFound(type, name);
    }
    if (!precondition.empty() && precondition != std::to_string(cur.object->revision))
      return conflict(type, name, kObjectModified);
    auto r = updateFrom(ctx, type, cur.object, obj, options, subresource, false);
    if (!r.ok() && r.error().is(ErrorCode::kConflict) && precondition.empty() &&
        r.error().message().ends_with(kObjectModified))
      continue;
    return r;
  }
  return conflict(type, name, kObjectModified);
}

Result<WriteResult> ResourceApi::patch(RequestContext& ctx, const ResourceType& type,
                                       std::string_view ns, std::string_view name,
                                       PatchType patchType, std::string_view patchBody,
                                       const WriteOptions& options, std::string_view subresource) {
  if (!subresource.empty() && subresource != "status" && subresource != "scale")
    return notFound(type, name);
  if (subresource == "status" && !type.statusSubresource) return notFound(type, name);
  if (subresource == "scale" && !type.scale) return notFound(type, name);
  if (patchType == PatchType::kStrategic && type.isCustomResource) {
    return Error(ErrorCode::kUnsupportedMediaType,
                 "the body of the request was in an unknown format - accepted media types "
                 "include: application/json-patch+json, application/merge-patch+json, "
                 "application/apply-patch+yaml");
  }
  // Decode the patch document.
  Json patchDoc;
  if (patchType == PatchType::kApply) {
    auto docs = parseYamlDocuments(patchBody);
    if (!docs.ok()) return badRequest(docs.error().message());
    if (docs->size() != 1) return badRequest("error decoding YAML: the apply patch must be a single object");
    patchDoc = std::move((*docs)[0]);
  } else {
    auto parsed = parseJson(patchBody);
    if (!parsed.ok()) return badRequest(parsed.error().message());
    patchDoc = std::move(parsed->value);
  }
  if (patchType == PatchType::kJson && !patchDoc.is_array())
    return badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  if (patchType != PatchType::kJson && !patchDoc.is_object())
    return badRequest("json: cannot unmarshal " + std::string(patchDoc.type_name()) +
                      " into Go value of type map[string]interface {}");
  std::string manager = TRY(fieldManagerFor(ctx, options, patchType == PatchType::kApply));
  if (patchType == PatchType::kApply) {
    std::string gv = getString(patchDoc, "apiVersion");
    if (gv != type.apiVersion())
      return badRequest("Incorrect version specified in apply patch. Specified patch version: " +
                        gv + ", expected: " + type.apiVersion());
    std::string kind = getString(patchDoc, "kind");
    if (kind != type.kind)
      return badRequest("Incorrect kind specified in apply patch. Specified patch kind: " + kind +
                        ", expected: " + type.kind);
  }

  for (int attempt = 0; attempt < kMaxUpdateRetries; ++attempt) {
    Current cur = TRY(current(type, ns, name));
    if (subresource == "scale") {
      if (!cur.object) return notFound(type, name);
      Json scale = TRY(get(ctx, type, ns, name, {}, "scale"));
      Json patched;
      if (patchType == PatchType::kJson) patched = TRY(patch::applyJsonPatch(scale, patchDoc));
      else patched = TRY(patch::applyMergePatch(scale, patchDoc));
      // The resourceVersion read here is no precondition unless the patch set one: a patch
      // applies to whatever the object is when written (a controller writing the status
      // in between must not fail `kubectl scale`).
      if (patched.contains("metadata") && patched["metadata"].is_object() &&
          getString(patched["metadata"], "resourceVersion") ==
              getString(scale["metadata"], "resourceVersion"))
        patched["metadata"].erase("resourceVersion");
      WriteOptions o = options;
      o.fieldManager = manager;
      return update(ctx, type, ns, name, Body{std::move(patched), {}}, o, "scale");
    }
    if (!cur.object) {
      if (patchType != PatchType::kApply) return notFound(type, name);
      Body body{patchDoc, {}};
      TRY(decodeChecks(ctx, type, body, options.fieldValidation));
      if (getString(meta(body.object), "name") != name)
        return badRequest("the name of the object (" + getString(meta(body.object), "name") +
                          ") does not match the name on the URL (" + std::string(name) + ")");
      apply::ManagerInfo info{manager, type.apiVersion(), std::string(subresource),
                              std::chrono::system_clock::now()};
      Json applied;
      if (type.schema != nullptr)
        applied = TRY(apply::serverSideApply(nullptr, body.object, type.schemas, *type.schema,
                                             info, options.force));
      else
        applied = body.object;
      return createChecked(ctx, type, ns, std::move(applied), options, true);
    }
    Json served = toServed(type, cur.object->object);
    Json patched;
    switch (patchType) {
      case PatchType::kJson: {
        auto r = patch::applyJsonPatch(served, patchDoc);
        if (!r.ok()) return Error(ErrorCode::kInvalid, r.error().message());
        patched = std::move(*r);
        break;
      }
      case PatchType::kMerge:
        patched = TRY(patch::applyMergePatch(served, patchDoc));
        break;
      case PatchType::kStrategic:
        if (type.schema == nullptr) patched = TRY(patch::applyMergePatch(served, patchDoc));
        else patched = TRY(patch::applyStrategicMergePatch(served, patchDoc, *type.schemas, *type.schema));
        break;
      case PatchType::kApply: {
        Body body{patchDoc, {}};
        TRY(decodeChecks(ctx, type, body, options.fieldValidation));
        apply::ManagerInfo info{manager, type.apiVersion(), std::string(subresource),
                                std::chrono::system_clock::now()};
        if (type.schema == nullptr) {
          patched = TRY(patch::applyMergePatch(served, body.object));
        } else {
          patched = TRY(apply::serverSideApply(&served, body.object, type.schemas, *type.schema,
                                               info, options.force));
        }
        break;
      }
    }
    Body body{std::move(patched), {}};
    TRY(decodeChecks(ctx, type, body, options.fieldValidation));
    Json& pm = meta(body.object);
    std::string patchedName = getString(pm, "name");
    if (patchedName.empty()) {
      pm["name"] = std::string(name);
    } else if (patchedName != name) {
      return badRequest("the name of the object (" + patchedName +
                        ") does not match the name on the URL (" + std::string(name) + ")");
    }
    // A resourceVersion is a precondition only when the patch itself sets one; otherwise a
    // concurrent write just means patching the newer object.
    std::string precondition;
    if (patchSetsResourceVersion(patchType, patchDoc)) precondition = getString(pm, "resourceVersion");
    if (!precondition.empty() && precondition != std::to_string(cur.object->revision))
      return conflict(type, name, kObjectModified);
    Json obj = std::move(body.object);
    if (type.toStorage) obj = type.toStorage(obj);
    WriteOptions o = options;
    o.fieldManager = manager;
    auto r = updateFrom(ctx, type, cur.object, std::move(obj), o, subresource,
                        patchType == PatchType::kApply);
    if (!r.ok() && r.error().is(ErrorCode::kConflict) &&
        r.error().message().ends_with(kObjectModified) && precondition.empty())
      continue;
    return r;
  }
  return conflict(type, name, kObjectModified);
}

Result<WriteResult> ResourceApi::remove(RequestContext& ctx, const ResourceType& type,
                                        std::string_view ns, std::string_view name,
                                        const DeleteOptions& options) {
  if (isNamespace(type) && (name == "default" || name == "kube-system" || name == "kube-public"))
    return forbidden(type, name, "this namespace may not be deleted");
  std::string policy = options.propagationPolicy;
  if (!policy.empty() && policy != "Orphan" && policy != "Background" && policy != "Foreground")
    return Error(ErrorCode::kInvalid, "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"" + policy + "\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\"");
  if (!policy.empty() && options.orphanDependents.has_value())
    return Error(ErrorCode::kInvalid, "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Invalid value: \"" + policy + "\": orphanDependents and deletionPropagation cannot be both set");
  if (policy.empty() && options.orphanDependents.has_value())
    policy = *options.orphanDependents ? "Orphan" : "Background";
  if (options.gracePeriodSeconds && *options.gracePeriodSeconds < 0)
    return Error(ErrorCode::kInvalid, "DeleteOptions.meta.k8s.io \"\" is invalid: gracePeriodSeconds: Invalid value: " + std::to_string(*options.gracePeriodSeconds) + ": must be greater than or equal to 0");

  for (int attempt = 0; attempt < kMaxUpdateRetries; ++attempt) {
    Current cur = TRY(current(type, ns, name));
    if (!cur.object) return notFound(type, name);
    const Json& obj = cur.object->object;
    const Json& om = obj["metadata"];
    if (options.preconditionUid && *options.preconditionUid != getString(om, "uid")) {
      return conflict(type, name, "Precondition failed: UID in precondition: " +
                                      *options.preconditionUid +
                                      ", UID in object meta: " + getString(om, "uid"));
    }
    if (options.preconditionResourceVersion &&
        *options.preconditionResourceVersion != std::to_string(cur.object->revision)) {
      return conflict(type, name, "Precondition failed: ResourceVersion in precondition: " +
                                      *options.preconditionResourceVersion +
                                      ", ResourceVersion in object meta: " +
                                      std::to_string(cur.object->revision));
    }
    Json next = obj;
    Json& nm = next["metadata"];
    bool alreadyDeleting = nm.contains("deletionTimestamp") && !nm["deletionTimestamp"].is_null();

    // Finalizers requested by the propagation policy.
    auto addFinalizer = [&](const char* f) {
      Json fs = nm.value("finalizers", Json::array());
      if (std::find(fs.begin(), fs.end(), Json(f)) == fs.end()) fs.push_back(f);
      nm["finalizers"] = fs;
    };
    if (!alreadyDeleting && policy == "Orphan") addFinalizer("orphan");
    if (!alreadyDeleting && policy == "Foreground") addFinalizer("foregroundDeletion");
    if (!alreadyDeleting && !type.deletionFinalizer.empty())
      addFinalizer(type.deletionFinalizer.c_str());

    // Graceful deletion of pods that a node runs: the node finishes it.
    int64_t grace = 0;
    bool graceful = false;
    if (isPod(type) && !getString(obj.value("spec", Json::object()), "nodeName").empty()) {
      std::string phase = getString(obj.value("status", Json::object()), "phase");
      grace = options.gracePeriodSeconds.value_or(
          getInt(obj.value("spec", Json::object()), "terminationGracePeriodSeconds", 30));
      graceful = grace > 0 && phase != "Succeeded" && phase != "Failed";
    }
    bool waitForOthers = hasFinalizers(next) || graceful ||
                         (isNamespace(type) && !namespaceSpecFinalizersEmpty(next));
    if (!waitForOthers) {
      auto r = finishDeletion(type, cur.object, options.dryRun);
      if (!r.ok() && r.error().is(ErrorCode::kConflict)) continue;
      return r;
    }
    if (alreadyDeleting) {
      // Only a shorter grace period changes anything.
      int64_t current = getInt(nm, "deletionGracePeriodSeconds", 0);
      if (!graceful || grace >= current) return WriteResult{toServed(type, obj), 200};
    }
    auto deleteAt = std::chrono::system_clock::now() + std::chrono::seconds(graceful ? grace : 0);
    nm["deletionTimestamp"] = formatRfc3339(deleteAt);
    nm["deletionGracePeriodSeconds"] = graceful ? grace : 0;
    if (type.tracksGeneration) nm["generation"] = getInt(nm, "generation", 0) + 1;
    if (isNamespace(type)) next["status"]["phase"] = "Terminating";
    auto r = storeUpdate(type, cur.object, std::move(next), options.dryRun);
    if (!r.ok() && r.error().is(ErrorCode::kConflict)) continue;
    if (r.ok()) r->status = 200;
    return r;
  }
  return conflict(type, name, kObjectModified);
}

Result<Json> ResourceApi::removeCollection(RequestContext& ctx, const ResourceType& type,
                                           std::string_view ns, const ListOptions& listOptions,
                                           const DeleteOptions& options) {
  ListResult listed = TRY(list(ctx, type, ns, listOptions));
  Json items = Json::array();
  for (const auto& o : listed.items) {
    auto r = remove(ctx, type, o->ns, o->name, options);
    if (!r.ok()) {
      if (r.error().is(ErrorCode::kNotFound)) continue;
      return std::move(r).error();
    }
    items.push_back(std::move(r->object));
  }
  return Json{{"kind", type.kind + "List"},
              {"apiVersion", type.apiVersion()},
              {"metadata", Json::object()},
              {"items", std::move(items)}};
}

}  // namespace nave::api
