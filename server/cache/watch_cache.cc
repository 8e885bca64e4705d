#include "server/cache/watch_cache.h"

#include <sys/eventfd.h>

#include <algorithm>

#include "common/log.h"

namespace nave::cache {
namespace {

// Bounds the events a slow consumer may have queued before its watch is closed (it then
// re-lists or re-watches from its last resourceVersion, as clients do).
constexpr size_t kMaxQueuedEvents = 100000;

void signalFd(int fd) {
  uint64_t one = 1;
  ssize_t n = ::write(fd, &one, sizeof one);
  (void)n;
}

// The same object with another resourceVersion (what a watcher sees when an object leaves its
// selection: the previous state at the revision of the change).
ObjectPtr withRevision(const ObjectPtr& o, int64_t revision) {
  if (o->revision == revision) return o;
  auto copy = std::make_shared<CachedObject>(*o);
  copy->revision = revision;
  copy->object["metadata"]["resourceVersion"] = std::to_string(revision);
  copy->json = dumpJson(copy->object);
  return copy;
}

}  // namespace

std::string resourcePrefixOf(std::string_view key) {
  // "/registry/<group>/<plural>/..." -> up to and including the fourth slash.
  size_t pos = 0;
  for (int i = 0; i < 4; ++i) {
    pos = key.find('/', i == 0 ? 0 : pos + 1);
    if (pos == std::string_view::npos) return {};
  }
  return std::string(key.substr(0, pos + 1));
}

Result<ObjectPtr> decodeStored(const storage::KeyValue& kv) {
  auto parsed = parseJson(kv.value);
  if (!parsed.ok()) return std::move(parsed).error().context("decode " + kv.key);
  auto o = std::make_shared<CachedObject>();
  o->key = kv.key;
  o->revision = kv.modRevision;
  o->object = std::move(parsed->value);
  if (!o->object.is_object()) return Error(ErrorCode::kInternal, "stored value is not an object: " + kv.key);
  Json& meta = o->object["metadata"];
  if (!meta.is_object()) meta = Json::object();
  meta["resourceVersion"] = std::to_string(kv.modRevision);
  o->ns = getString(meta, "namespace");
  o->name = getString(meta, "name");
  o->json = dumpJson(o->object);
  return ObjectPtr(std::move(o));
}

bool WatchFilter::matches(const CachedObject& o) const {
  if (!ns.empty() && o.ns != ns) return false;
  if (!name.empty() && o.name != name) return false;
  return !predicate || predicate(o);
}

Watcher::Watcher(WatchCache& cache, std::string prefix, WatchFilter filter)
    : cache_(cache),
      prefix_(std::move(prefix)),
      filter_(std::move(filter)),
      eventFd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

Watcher::~Watcher() { cache_.unregister(this); }

void Watcher::push(WatchEvent e) {
  std::lock_guard lock(mu_);
  if (closed_) return;
  if (queue_.size() >= kMaxQueuedEvents) {
    log::warning("closing a watch that fell behind", {{"resource", prefix_}});
    closed_ = true;
    queue_.clear();
  } else {
    queue_.push_back(std::move(e));
  }
  signalFd(eventFd_.get());
}

void Watcher::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  signalFd(eventFd_.get());
}

bool Watcher::drain(std::vector<WatchEvent>& out) {
  uint64_t counter = 0;
  ssize_t n = ::read(eventFd_.get(), &counter, sizeof counter);
  (void)n;
  std::lock_guard lock(mu_);
  for (auto& e : queue_) out.push_back(std::move(e));
  queue_.clear();
  return !closed_ || !out.empty();
}

Result<std::unique_ptr<WatchCache>> WatchCache::start(storage::Store& store) {
  std::unique_ptr<WatchCache> cache(new WatchCache(store));
  storage::ListOptions opts;
  opts.prefix = "/registry/";
  auto listed = TRY(store.list(opts));
  {
    std::unique_lock lock(cache->mu_);
    for (const auto& kv : listed.items) {
      auto o = decodeStored(kv);
      if (!o.ok()) {
        log::error("skipping undecodable object", {{"key", kv.key}, {"error", o.error().message()}});
        continue;
      }
      std::string prefix;
      Resource& r = cache->resourceFor(kv.key, &prefix);
      r.objects[kv.key] = *o;
      r.lastChange = std::max(r.lastChange, kv.modRevision);
    }
    cache->revision_ = listed.revision;
    cache->startRevision_ = listed.revision;
    for (auto& [p, r] : cache->resources_) r.historyStart = listed.revision;
  }
  WatchCache* raw = cache.get();
  cache->storeWatch_ = TRY(store.watch(opts.prefix, listed.revision,
                                       [raw](std::span<const storage::Event> events) {
                                         raw->apply(events);
                                       }));
  log::v(1, "watch cache started", {{"objects", static_cast<int64_t>(listed.items.size())},
                                    {"revision", listed.revision}});
  return cache;
}

WatchCache::~WatchCache() {
  storeWatch_.reset();
  std::unique_lock lock(mu_);
  for (auto& [p, r] : resources_)
    for (Watcher* w : r.watchers) w->close();
}

WatchCache::Resource& WatchCache::resourceFor(const std::string& key, std::string* prefixOut) {
  std::string prefix = resourcePrefixOf(key);
  auto it = resources_.find(prefix);
  if (it == resources_.end()) {
    // Nothing of this resource happened since the cache started (it would exist otherwise), so
    // its history is complete from the start.
    it = resources_.emplace(prefix, Resource{}).first;
    it->second.historyStart = startRevision_;
  }
  if (prefixOut) *prefixOut = std::move(prefix);
  return it->second;
}

void WatchCache::dispatch(Resource& r, const HistoryEntry& e) {
  for (Watcher* w : r.watchers) {
    const WatchFilter& f = w->filter_;
    bool now = e.type != storage::EventType::kDelete && f.matches(*e.object);
    bool before = e.prev != nullptr && f.matches(*e.prev);
    if (e.type == storage::EventType::kDelete) {
      if (before) w->push({EventType::kDeleted, e.object});
    } else if (now && before) {
      w->push({EventType::kModified, e.object});
    } else if (now) {
      w->push({EventType::kAdded, e.object});
    } else if (before) {
      w->push({EventType::kDeleted, withRevision(e.prev, e.revision)});
    }
  }
}

void WatchCache::apply(std::span<const storage::Event> events) {
  if (events.empty()) return;
  {
    std::unique_lock lock(mu_);
    for (const storage::Event& ev : events) {
      auto decoded = decodeStored(ev.kv);
      if (!decoded.ok()) {
        log::error("skipping undecodable event", {{"key", ev.kv.key}, {"error", decoded.error().message()}});
        continue;
      }
      std::string prefix;
      Resource& r = resourceFor(ev.kv.key, &prefix);
      HistoryEntry h{ev.kv.modRevision, ev.type, *decoded, nullptr};
      auto it = r.objects.find(ev.kv.key);
      if (it != r.objects.end()) h.prev = it->second;
      if (ev.type == storage::EventType::kDelete) {
        if (h.prev == nullptr) continue;  // never seen: nothing to tell anyone
        r.objects.erase(it);
      } else {
        r.objects[ev.kv.key] = *decoded;
      }
      r.lastChange = ev.kv.modRevision;
      dispatch(r, h);
      r.history.push_back(std::move(h));
      if (r.history.size() > kHistoryPerResource) {
        r.historyStart = r.history.front().revision;
        r.history.pop_front();
      }
    }
    std::lock_guard rl(revMu_);
    revision_ = std::max(revision_.load(), events.back().kv.modRevision);
  }
  revCv_.notify_all();
}

int64_t WatchCache::revision() const { return revision_.load(); }

Result<void> WatchCache::waitForRevision(int64_t revision, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(revMu_);
  if (!revCv_.wait_for(lock, timeout, [&] { return revision_.load() >= revision; })) {
    Error e(ErrorCode::kTimeout, "Too large resource version: " + std::to_string(revision) +
                                     ", current: " + std::to_string(revision_.load()));
    e.causes.push_back({"ResourceVersionTooLarge", "Too large resource version", ""});
    e.retryAfterSeconds = 1;
    return e;
  }
  return {};
}

Result<void> WatchCache::syncWithStore(std::chrono::milliseconds timeout) const {
  int64_t current = TRY(store_.currentRevision());
  return waitForRevision(current, timeout);
}

ObjectPtr WatchCache::get(std::string_view key) const {
  std::shared_lock lock(mu_);
  auto r = resources_.find(resourcePrefixOf(key));
  if (r == resources_.end()) return nullptr;
  auto it = r->second.objects.find(key);
  return it == r->second.objects.end() ? nullptr : it->second;
}

CacheList WatchCache::list(std::string_view prefix, std::string_view afterKey,
                           const WatchFilter& filter, int64_t limit) const {
  CacheList out;
  std::shared_lock lock(mu_);
  out.revision = revision_.load();
  auto r = resources_.find(resourcePrefixOf(std::string(prefix) + "x"));
  if (r == resources_.end()) return out;
  const auto& objects = r->second.objects;
  auto it = afterKey.empty() ? objects.lower_bound(prefix) : objects.upper_bound(afterKey);
  for (; it != objects.end() && std::string_view(it->first).starts_with(prefix); ++it) {
    if (!filter.matches(*it->second)) continue;
    if (limit > 0 && static_cast<int64_t>(out.items.size()) >= limit) {
      out.more = true;
      ++out.remaining;
      continue;
    }
    out.items.push_back(it->second);
  }
  return out;
}

int64_t WatchCache::lastChange(std::string_view resourcePrefix) const {
  std::shared_lock lock(mu_);
  auto r = resources_.find(resourcePrefix);
  return r == resources_.end() ? 0 : r->second.lastChange;
}

std::vector<std::string> WatchCache::resourcePrefixes() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  for (const auto& [p, r] : resources_) out.push_back(p);
  return out;
}

Result<WatchStart> WatchCache::watch(const std::string& resourcePrefix, WatchFilter filter,
                                     int64_t fromRevision) {
  if (fromRevision > revision_.load()) TRY(waitForRevision(fromRevision, std::chrono::seconds(3)));
  WatchStart start;
  std::unique_ptr<Watcher> w(new Watcher(*this, resourcePrefix, std::move(filter)));
  if (!w->eventFd_.valid()) return Error::fromErrno("eventfd", errno);
  std::unique_lock lock(mu_);
  Resource& r = resourceFor(resourcePrefix + "x", nullptr);
  start.startRevision = revision_.load();
  if (fromRevision == 0) {
    for (const auto& [k, o] : r.objects)
      if (w->filter_.matches(*o)) start.initial.push_back(o);
  } else {
    if (fromRevision < r.historyStart) {
      return Error(ErrorCode::kExpired, "too old resource version: " + std::to_string(fromRevision) +
                                            " (" + std::to_string(r.historyStart + 1) + ")");
    }
    // Replay what happened after fromRevision, through the same selection logic.
    r.watchers.push_back(w.get());
    Resource replay;
    replay.watchers.push_back(w.get());
    for (const HistoryEntry& h : r.history)
      if (h.revision > fromRevision) dispatch(replay, h);
    start.watcher = std::move(w);
    return start;
  }
  r.watchers.push_back(w.get());
  start.watcher = std::move(w);
  return start;
}

void WatchCache::unregister(Watcher* w) {
  std::unique_lock lock(mu_);
  auto it = resources_.find(w->prefix_);
  if (it == resources_.end()) return;
  auto& ws = it->second.watchers;
  ws.erase(std::remove(ws.begin(), ws.end(), w), ws.end());
}

}  // namespace nave::cache
