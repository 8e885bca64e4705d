#include "server/controllers/informer.h"

#include <poll.h>
#include <sys/eventfd.h>

#include <tuple>

#include "common/log.h"

namespace nave::controllers {

Informer::Informer(client::Client& client, client::Resource resource, api::ListOptions selectors)
    : client_(client),
      resource_(std::move(resource)),
      stopFd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  selectors_.labelSelector = std::move(selectors.labelSelector);
  selectors_.fieldSelector = std::move(selectors.fieldSelector);
  indexFuncs_[kNamespaceIndex] = [](const Json& o) {
    return std::vector<std::string>{getString(o.value("metadata", Json::object()), "namespace")};
  };
  indexFuncs_[kOwnerIndex] = [](const Json& o) {
    std::vector<std::string> uids;
    const Json& md = o.value("metadata", Json::object());
    if (const Json* refs = findMember(md, "ownerReferences"); refs && refs->is_array())
      for (const Json& r : *refs) uids.push_back(getString(r, "uid"));
    return uids;
  };
}

void Informer::storeLocked(const std::string& key, const Json* before, const Json* after) {
  for (const auto& [name, f] : indexFuncs_) {
    auto& index = indexes_[name];
    if (before != nullptr) {
      for (const std::string& v : f(*before)) {
        auto it = index.find(v);
        if (it == index.end()) continue;
        it->second.erase(key);
        if (it->second.empty()) index.erase(it);
      }
    }
    if (after != nullptr)
      for (const std::string& v : f(*after)) index[v].insert(key);
  }
  if (after != nullptr) objects_[key] = *after;
  else objects_.erase(key);
}

void Informer::notify(const std::string& key, const Json* before, const Json* after) {
  for (auto& h : handlers_) h(key);
  for (auto& h : objectHandlers_) h(before, after);
}

std::vector<std::string> Informer::keysByIndex(const std::string& name, const std::string& value) const {
  std::lock_guard lock(mu_);
  auto index = indexes_.find(name);
  if (index == indexes_.end()) return {};
  auto it = index->second.find(value);
  if (it == index->second.end()) return {};
  return {it->second.begin(), it->second.end()};
}

std::vector<Json> Informer::byIndex(const std::string& name, const std::string& value) const {
  std::lock_guard lock(mu_);
  std::vector<Json> out;
  auto index = indexes_.find(name);
  if (index == indexes_.end()) return out;
  auto it = index->second.find(value);
  if (it == index->second.end()) return out;
  for (const std::string& key : it->second) {
    auto o = objects_.find(key);
    if (o != objects_.end()) out.push_back(o->second);
  }
  return out;
}

std::vector<Json> Informer::list(const std::string& ns) const { return byIndex(kNamespaceIndex, ns); }

size_t Informer::size() const {
  std::lock_guard lock(mu_);
  return objects_.size();
}

Informer::~Informer() { stop(); }

std::string Informer::keyOf(const Json& object) {
  const Json& m = object.value("metadata", Json::object());
  std::string ns = getString(m, "namespace");
  std::string name = getString(m, "name");
  return ns.empty() ? name : ns + "/" + name;
}

void Informer::start() { thread_ = std::thread([this] { run(); }); }

void Informer::stop() {
  if (stopping_.exchange(true)) {
    if (thread_.joinable()) thread_.join();
    return;
  }
  uint64_t one = 1;
  ssize_t n = ::write(stopFd_.get(), &one, sizeof one);
  (void)n;
  if (thread_.joinable()) thread_.join();
}

void Informer::waitForSync() {
  while (!synced_ && !stopping_) {
    pollfd p{stopFd_.get(), POLLIN, 0};
    ::poll(&p, 1, 10);
  }
}

std::optional<Json> Informer::get(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return std::nullopt;
  return it->second;
}

std::vector<Json> Informer::list() const {
  std::lock_guard lock(mu_);
  std::vector<Json> out;
  out.reserve(objects_.size());
  for (const auto& [k, v] : objects_) out.push_back(v);
  return out;
}

void Informer::run() {
  int backoffMs = 100;
  while (!stopping_) {
    if (listAndWatch()) {
      backoffMs = 100;
      continue;
    }
    if (stopping_) break;
    pollfd p{stopFd_.get(), POLLIN, 0};
    ::poll(&p, 1, backoffMs);
    backoffMs = std::min(backoffMs * 2, 10000);
  }
}

bool Informer::listAndWatch() {
  auto listed = client_.list(resource_, "", selectors_);
  if (!listed.ok()) {
    log::warning("informer list failed", {{"resource", resource_.resource}, {"error", listed.error().message()}});
    return false;
  }
  std::string rv = getString(listed->value("metadata", Json::object()), "resourceVersion");
  // What changed since the last list: (key, before, after).
  std::vector<std::tuple<std::string, std::optional<Json>, std::optional<Json>>> changed;
  {
    std::lock_guard lock(mu_);
    std::map<std::string, Json> fresh;
    // List items may come without their kind (Kubernetes' lists leave it out): filled from
    // the list's, so that every cached object names its type.
    std::string listKind = getString(*listed, "kind");
    std::string kind = listKind.ends_with("List") ? listKind.substr(0, listKind.size() - 4) : "";
    std::string apiVersion = getString(*listed, "apiVersion");
    for (Json& item : (*listed)["items"]) {
      if (!kind.empty() && !item.contains("kind")) item["kind"] = kind;
      if (!apiVersion.empty() && !item.contains("apiVersion")) item["apiVersion"] = apiVersion;
      if (transform_) transform_(item);
      std::string key = keyOf(item);
      fresh[key] = std::move(item);
    }
    std::vector<std::string> gone;
    for (const auto& [k, v] : objects_)
      if (!fresh.contains(k)) gone.push_back(k);
    for (const std::string& k : gone) {
      Json before = objects_[k];
      storeLocked(k, &before, nullptr);
      changed.emplace_back(k, std::move(before), std::nullopt);
    }
    for (auto& [k, item] : fresh) {
      auto old = objects_.find(k);
      if (old != objects_.end() && old->second == item) continue;
      std::optional<Json> before;
      if (old != objects_.end()) before = old->second;
      storeLocked(k, before ? &*before : nullptr, &item);
      changed.emplace_back(k, std::move(before), std::move(item));
    }
  }
  synced_ = true;
  for (const auto& [k, before, after] : changed)
    notify(k, before ? &*before : nullptr, after ? &*after : nullptr);

  api::ListOptions wo = selectors_;
  wo.resourceVersion = rv;
  wo.allowWatchBookmarks = true;
  auto watch = client_.watch(resource_, "", wo);
  if (!watch.ok()) {
    log::warning("informer watch failed", {{"resource", resource_.resource}, {"error", watch.error().message()}});
    return false;
  }
  std::vector<client::WatchEvent> events;
  for (;;) {
    pollfd fds[2] = {{(*watch)->fd(), POLLIN, 0}, {stopFd_.get(), POLLIN, 0}};
    ::poll(fds, 2, -1);
    if (stopping_) return false;
    events.clear();
    bool alive = (*watch)->next(events);
    for (auto& e : events) {
      if (e.type == "ERROR") return true;  // expired: re-list
      if (e.type == "BOOKMARK") continue;
      if (transform_) transform_(e.object);
      std::string key = keyOf(e.object);
      std::optional<Json> before;
      {
        std::lock_guard lock(mu_);
        auto old = objects_.find(key);
        if (old != objects_.end()) before = old->second;
        storeLocked(key, before ? &*before : nullptr, e.type == "DELETED" ? nullptr : &e.object);
      }
      if (e.type == "DELETED") notify(key, before ? &*before : &e.object, nullptr);
      else notify(key, before ? &*before : nullptr, &e.object);
    }
    if (!alive) return true;
  }
}

}  // namespace nave::controllers
