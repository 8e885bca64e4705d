#include "server/scheduler/scheduling_queue.h"

#include <vector>

namespace nave::scheduler {

std::chrono::milliseconds SchedulingQueue::backoffOf(const Entry& e) const {
  auto d = initialBackoff_;
  for (int i = 1; i < e.attempts && d < maxBackoff_; ++i) d *= 2;
  return std::min(d, maxBackoff_);
}

void SchedulingQueue::pushActiveLocked(Entry e) {
  Order o{-static_cast<int64_t>(e.priority), e.creationTimestamp, seq_++, e.key};
  active_.insert(o);
  activeKeys_[e.key] = o;
  entries_[e.key] = std::move(e);
  cv_.notify_one();
}

void SchedulingQueue::eraseLocked(const std::string& key) {
  if (auto it = activeKeys_.find(key); it != activeKeys_.end()) {
    active_.erase(it->second);
    activeKeys_.erase(it);
  }
  for (auto it = backoff_.begin(); it != backoff_.end();)
    it = it->second == key ? backoff_.erase(it) : std::next(it);
  unschedulable_.erase(key);
  entries_.erase(key);
}

void SchedulingQueue::add(const std::string& key, int32_t priority,
                          const std::string& creationTimestamp, bool changed) {
  std::lock_guard lock(mu_);
  if (shutdown_) return;
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (!changed && inFlight_.contains(key)) return;
    pushActiveLocked(Entry{key, priority, creationTimestamp});
    return;
  }
  if (!changed) return;
  Entry e = it->second;
  e.priority = priority;
  bool wasActive = activeKeys_.contains(key);
  bool wasUnschedulable = unschedulable_.contains(key);
  if (!wasActive && !wasUnschedulable) return;  // in backoff: it comes back when due
  eraseLocked(key);
  auto due = e.lastFailure + backoffOf(e);
  if (wasUnschedulable && e.attempts > 0 && due > Clock::now()) {
    backoff_.emplace(due, key);
    entries_[key] = std::move(e);
    cv_.notify_one();
    return;
  }
  pushActiveLocked(std::move(e));
}

void SchedulingQueue::remove(const std::string& key) {
  std::lock_guard lock(mu_);
  eraseLocked(key);
}

bool SchedulingQueue::contains(const std::string& key) const {
  std::lock_guard lock(mu_);
  return entries_.contains(key);
}

void SchedulingQueue::promoteDueLocked(Clock::time_point now) {
  while (!backoff_.empty() && backoff_.begin()->first <= now) {
    std::string key = backoff_.begin()->second;
    backoff_.erase(backoff_.begin());
    Entry e = entries_[key];
    entries_.erase(key);
    pushActiveLocked(std::move(e));
  }
  std::vector<std::string> expired;
  for (const auto& [key, since] : unschedulable_)
    if (now - since >= unschedulableTimeout_) expired.push_back(key);
  for (const std::string& key : expired) {
    Entry e = entries_[key];
    eraseLocked(key);
    pushActiveLocked(std::move(e));
  }
}

std::optional<SchedulingQueue::Entry> SchedulingQueue::pop() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (shutdown_) return std::nullopt;
    auto now = Clock::now();
    promoteDueLocked(now);
    if (!active_.empty()) {
      Order o = *active_.begin();
      const std::string& key = std::get<3>(o);
      Entry e = std::move(entries_[key]);
      active_.erase(active_.begin());
      activeKeys_.erase(e.key);
      entries_.erase(e.key);
      e.poppedAtMove = moves_;
      inFlight_.insert(e.key);
      return e;
    }
    // Sleep until the next backoff or unschedulable timeout is due, or forever.
    std::optional<Clock::time_point> wake;
    if (!backoff_.empty()) wake = backoff_.begin()->first;
    for (const auto& [key, since] : unschedulable_)
      if (!wake || since + unschedulableTimeout_ < *wake) wake = since + unschedulableTimeout_;
    if (wake)
      cv_.wait_until(lock, *wake);
    else
      cv_.wait(lock);
  }
}

void SchedulingQueue::done(const std::string& key) {
  std::lock_guard lock(mu_);
  inFlight_.erase(key);
}

void SchedulingQueue::addUnschedulable(Entry e) {
  std::lock_guard lock(mu_);
  inFlight_.erase(e.key);
  if (shutdown_ || entries_.contains(e.key)) return;  // re-added (updated) meanwhile
  ++e.attempts;
  e.lastFailure = Clock::now();
  if (moves_ != e.poppedAtMove) {
    // The cluster changed while this pod was being scheduled: what it saw may be stale.
    backoff_.emplace(e.lastFailure + backoffOf(e), e.key);
  } else {
    unschedulable_[e.key] = e.lastFailure;
  }
  entries_[e.key] = std::move(e);
  cv_.notify_one();
}

void SchedulingQueue::addBackoff(Entry e) {
  std::lock_guard lock(mu_);
  inFlight_.erase(e.key);
  if (shutdown_ || entries_.contains(e.key)) return;
  ++e.attempts;
  e.lastFailure = Clock::now();
  backoff_.emplace(e.lastFailure + backoffOf(e), e.key);
  entries_[e.key] = std::move(e);
  cv_.notify_one();
}

void SchedulingQueue::moveAllToActive() {
  std::lock_guard lock(mu_);
  ++moves_;
  auto now = Clock::now();
  std::vector<std::string> keys;
  for (const auto& [key, since] : unschedulable_) keys.push_back(key);
  for (const std::string& key : keys) {
    Entry e = entries_[key];
    eraseLocked(key);
    auto due = e.lastFailure + backoffOf(e);
    if (due > now) {
      backoff_.emplace(due, key);
      entries_[key] = std::move(e);
    } else {
      pushActiveLocked(std::move(e));
    }
  }
  cv_.notify_one();
}

void SchedulingQueue::shutdown() {
  std::lock_guard lock(mu_);
  shutdown_ = true;
  cv_.notify_all();
}

size_t SchedulingQueue::activeSize() const {
  std::lock_guard lock(mu_);
  return active_.size();
}

size_t SchedulingQueue::unschedulableSize() const {
  std::lock_guard lock(mu_);
  return unschedulable_.size();
}

}  // namespace nave::scheduler
