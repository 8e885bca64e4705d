#include "server/controllers/informer.h"

#include <poll.h>
#include <sys/eventfd.h>

#include "common/log.h"

namespace nave::controllers {

Informer::Informer(client::Client& client, client::Resource resource, api::ListOptions selectors)
    : client_(client),
      resource_(std::move(resource)),
      stopFd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  selectors_.labelSelector = std::move(selectors.labelSelector);
  selectors_.fieldSelector = std::move(selectors.fieldSelector);
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
  std::vector<std::string> changed;
  {
    std::lock_guard lock(mu_);
    std::map<std::string, Json> fresh;
    for (Json& item : (*listed)["items"]) {
      std::string key = keyOf(item);
      auto old = objects_.find(key);
      if (old == objects_.end() || old->second != item) changed.push_back(key);
      fresh[key] = std::move(item);
    }
    for (const auto& [k, v] : objects_)
      if (!fresh.contains(k)) changed.push_back(k);
    objects_ = std::move(fresh);
  }
  synced_ = true;
  for (const auto& k : changed)
    for (auto& h : handlers_) h(k);

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
      std::string key = keyOf(e.object);
      {
        std::lock_guard lock(mu_);
        if (e.type == "DELETED") objects_.erase(key);
        else objects_[key] = e.object;
      }
      for (auto& h : handlers_) h(key);
    }
    if (!alive) return true;
  }
}

}  // namespace nave::controllers
