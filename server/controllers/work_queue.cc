#include "server/controllers/work_queue.h"

namespace nave::controllers {

void WorkQueue::add(const std::string& key) {
  {
    std::lock_guard lock(mu_);
    if (shutdown_ || dirty_.contains(key)) return;
    dirty_.insert(key);
    if (!processing_.contains(key)) queue_.push_back(key);
  }
  cv_.notify_one();
}

void WorkQueue::addAfter(const std::string& key, std::chrono::milliseconds delay) {
  if (delay.count() <= 0) return add(key);
  {
    std::lock_guard lock(mu_);
    if (shutdown_) return;
    delayed_.emplace(Clock::now() + delay, key);
  }
  cv_.notify_one();
}

void WorkQueue::addRateLimited(const std::string& key) {
  std::chrono::milliseconds delay;
  {
    std::lock_guard lock(mu_);
    int n = failures_[key]++;
    delay = baseDelay_ * (1LL << std::min(n, 30));
    if (delay > maxDelay_ || delay.count() <= 0) delay = maxDelay_;
  }
  addAfter(key, delay);
}

void WorkQueue::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  failures_.erase(key);
}

void WorkQueue::promoteDue() {
  auto now = Clock::now();
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    std::string key = delayed_.begin()->second;
    delayed_.erase(delayed_.begin());
    if (dirty_.contains(key)) continue;
    dirty_.insert(key);
    if (!processing_.contains(key)) queue_.push_back(key);
  }
}

std::optional<std::string> WorkQueue::get() {
  std::unique_lock lock(mu_);
  for (;;) {
    promoteDue();
    if (shutdown_) return std::nullopt;
    if (!queue_.empty()) {
      std::string key = std::move(queue_.front());
      queue_.pop_front();
      dirty_.erase(key);
      processing_.insert(key);
      return key;
    }
    if (delayed_.empty()) cv_.wait(lock);
    else cv_.wait_until(lock, delayed_.begin()->first);
  }
}

void WorkQueue::done(const std::string& key) {
  bool requeued = false;
  {
    std::lock_guard lock(mu_);
    processing_.erase(key);
    if (dirty_.contains(key)) {
      queue_.push_back(key);
      requeued = true;
    }
  }
  if (requeued) cv_.notify_one();
}

void WorkQueue::shutdown() {
  {
    std::lock_guard lock(mu_);
    shutdown_ = true;
  }
  cv_.notify_all();
}

}  // namespace nave::controllers
