#include "server/controllers/workloads/expectations.h"

namespace nave::controllers::workloads {

void Expectations::expectCreations(const std::string& key, int count) {
  std::lock_guard lock(mu_);
  pending_[key] = Pending{count, {}, Clock::now()};
}

void Expectations::expectDeletions(const std::string& key, const std::set<std::string>& podKeys) {
  std::lock_guard lock(mu_);
  pending_[key] = Pending{0, podKeys, Clock::now()};
}

void Expectations::creationObserved(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(key);
  if (it != pending_.end() && it->second.creations > 0) --it->second.creations;
}

void Expectations::deletionObserved(const std::string& key, const std::string& podKey) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(key);
  if (it != pending_.end()) it->second.deletions.erase(podKey);
}

bool Expectations::satisfied(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(key);
  if (it == pending_.end()) return true;
  const Pending& p = it->second;
  return (p.creations <= 0 && p.deletions.empty()) || Clock::now() - p.since > kTimeout;
}

void Expectations::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  pending_.erase(key);
}

}  // namespace nave::controllers::workloads
