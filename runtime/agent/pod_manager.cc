#include "runtime/agent/pod_manager.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "common/log.h"
#include "runtime/agent/pod_worker.h"

namespace nave::agent {

// ---- ExitWatcher ----------------------------------------------------------------------

ExitWatcher::ExitWatcher() : wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  thread_ = std::thread([this] { run(); });
}

ExitWatcher::~ExitWatcher() { stop(); }

void ExitWatcher::watch(const std::string& containerId, UniqueFd notifier,
                        std::function<void()> onExit) {
  {
    std::lock_guard lock(mu_);
    entries_[containerId] = Entry{std::move(notifier), std::move(onExit)};
  }
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
}

void ExitWatcher::forget(const std::string& containerId) {
  {
    std::lock_guard lock(mu_);
    entries_.erase(containerId);
  }
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
}

void ExitWatcher::stop() {
  if (stopping_.exchange(true)) return;
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

void ExitWatcher::run() {
  std::vector<pollfd> fds;
  std::vector<std::string> ids;
  while (!stopping_) {
    fds.clear();
    ids.clear();
    fds.push_back({wake_.get(), POLLIN, 0});
    {
      std::lock_guard lock(mu_);
      for (const auto& [id, e] : entries_) {
        fds.push_back({e.fd.get(), POLLIN, 0});
        ids.push_back(id);
      }
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) continue;
    if (fds[0].revents) {
      uint64_t n;
      (void)!::read(wake_.get(), &n, sizeof n);
    }
    std::vector<std::function<void()>> fire;
    {
      std::lock_guard lock(mu_);
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        auto it = entries_.find(ids[i - 1]);
        if (it == entries_.end() || it->second.fd.get() != fds[i].fd) continue;
        fire.push_back(std::move(it->second.onExit));
        entries_.erase(it);
      }
    }
    for (auto& f : fire) f();
  }
}

// ---- SetupSlots -----------------------------------------------------------------------

void SetupSlots::acquire() {
  std::unique_lock lock(mu_);
  if (free_ > 0 && waiters_.empty()) {
    --free_;
    return;
  }
  Waiter me;
  waiters_.push_back(&me);
  me.cv.wait(lock, [&] { return me.granted; });
}

void SetupSlots::release() {
  std::lock_guard lock(mu_);
  if (waiters_.empty()) {
    ++free_;
    return;
  }
  // Handed over directly: a newcomer cannot take it before the oldest waiter.
  Waiter* next = waiters_.front();
  waiters_.pop_front();
  next->granted = true;
  next->cv.notify_one();
}

// ---- PodManager -----------------------------------------------------------------------

namespace {
api::ListOptions nodePods(const std::string& node) {
  api::ListOptions o;
  o.fieldSelector = "spec.nodeName=" + node;
  return o;
}
}  // namespace

PodManager::PodManager(AgentContext& context)
    : ctx_(context),
      setupSlots_(static_cast<int>(std::max(1u, std::thread::hardware_concurrency()) * 4)),
      informer_(*context.client, {"", "v1", "pods"}, nodePods(context.options.nodeName)) {}

PodManager::~PodManager() { stop(); }

Result<void> PodManager::start() {
  // What earlier agents left: sandboxes and containers grouped by pod UID, adopted by the
  // workers of pods that still exist; the rest is removed once the informer has synced.
  std::map<std::string, std::vector<runtime::SandboxStatus>> sandboxes;
  std::map<std::string, std::vector<runtime::ContainerStatus>> containers;
  for (const auto& s : ctx_.runtime->containers().listSandboxes()) {
    auto it = s.labels.find(kLabelPodUid);
    if (it != s.labels.end()) sandboxes[it->second].push_back(s);
  }
  for (const auto& c : ctx_.runtime->containers().list()) {
    auto it = c.labels.find(kLabelPodUid);
    if (it != c.labels.end()) containers[it->second].push_back(c);
  }

  informer_.addHandler([this](const std::string& key) { onPodChanged(key); });
  {
    // Workers for existing pods are created by the informer's first list; hold them back until
    // they have adopted what is theirs.
    auto listed = ctx_.client->list({"", "v1", "pods"}, "", nodePods(ctx_.options.nodeName));
    if (!listed.ok()) return std::move(listed).error().context("list the node's pods");
    std::lock_guard lock(mu_);
    for (const Json& pod : (*listed)["items"]) {
      std::string uid = getString(pod["metadata"], "uid");
      auto worker = std::make_shared<PodWorker>(ctx_, pod);
      for (const auto& s : sandboxes[uid]) worker->adoptSandbox(s);
      for (const auto& c : containers[uid]) worker->adoptContainer(c);
      sandboxes.erase(uid);
      containers.erase(uid);
      uidByKey_[controllers::Informer::keyOf(pod)] = uid;
      workers_[uid] = worker;
      worker->start();
    }
  }
  // Pods deleted while no agent ran: stop what is left of them.
  for (const auto& [uid, list] : containers) {
    for (const auto& c : list) {
      log::info("Removing a container of a deleted pod", {{"id", c.id}, {"pod", uid}});
      (void)ctx_.runtime->removeContainer(c.id, true);
    }
  }
  for (const auto& [uid, list] : sandboxes) {
    for (const auto& s : list) {
      if (ctx_.network && !s.hostNetwork) (void)ctx_.network->detach(s.id, s.netnsPath);
      (void)ctx_.runtime->containers().removeSandbox(s.id);
    }
    (void)ctx_.volumes->tearDown(uid);
  }
  informer_.start();
  return {};
}

void PodManager::stop() {
  informer_.stop();
  std::map<std::string, std::shared_ptr<PodWorker>> workers;
  {
    std::lock_guard lock(mu_);
    workers.swap(workers_);
  }
  for (auto& [uid, w] : workers) w->stop();
}

void PodManager::onPodChanged(const std::string& key) {
  auto pod = informer_.get(key);
  std::vector<std::shared_ptr<PodWorker>> finished;
  {
    std::lock_guard lock(mu_);
    finished = reapFinished();
    if (!pod) {
      auto it = uidByKey_.find(key);
      if (it != uidByKey_.end()) {
        if (auto w = workers_.find(it->second); w != workers_.end()) w->second->removed();
        uidByKey_.erase(it);
      }
    } else {
      std::string uid = getString((*pod)["metadata"], "uid");
      auto known = uidByKey_.find(key);
      if (known != uidByKey_.end() && known->second != uid) {
        // Same name, new object: the old pod is gone.
        if (auto w = workers_.find(known->second); w != workers_.end()) w->second->removed();
      }
      uidByKey_[key] = uid;
      auto it = workers_.find(uid);
      if (it != workers_.end()) {
        it->second->update(*pod);
      } else {
        auto worker = std::make_shared<PodWorker>(ctx_, *pod);
        workers_[uid] = worker;
        worker->start();
      }
    }
  }
  // Joined outside the lock: a worker may be asking for usage() right now.
  for (auto& w : finished) w->stop();
}

std::vector<std::shared_ptr<PodWorker>> PodManager::reapFinished() {
  std::vector<std::shared_ptr<PodWorker>> done;
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (it->second->finished()) {
      done.push_back(it->second);
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
  return done;
}

PodManager::Usage PodManager::usage(const std::string& excludeUid) {
  Usage u;
  std::vector<std::shared_ptr<PodWorker>> workers;
  {
    std::lock_guard lock(mu_);
    for (const auto& [uid, w] : workers_) {
      if (uid != excludeUid) workers.push_back(w);
    }
  }
  for (const auto& w : workers) {
    if (!w->admitted() || w->finished() || w->terminal()) continue;
    ++u.pods;
    const PodWorker::Demand& d = w->demand();
    u.milliCpu += d.milliCpu;
    u.memoryBytes += d.memoryBytes;
    u.hostPorts.insert(d.hostPorts.begin(), d.hostPorts.end());
  }
  return u;
}

std::shared_ptr<PodWorker> PodManager::worker(const std::string& ns, const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = uidByKey_.find(ns + "/" + name);
  if (it == uidByKey_.end()) return nullptr;
  auto w = workers_.find(it->second);
  return w == workers_.end() ? nullptr : w->second;
}

}  // namespace nave::agent
