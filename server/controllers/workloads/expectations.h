// Expectations (Kubernetes' UIDTrackingControllerExpectations): what a controller has asked the
// API server for and not yet seen through its informer. A controller that created 10 pods does
// not create them again while its informer still shows none; it waits until it has observed
// the creations and deletions it expects, or until they expire (5 minutes, a lost event).
// Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>

namespace nave::controllers::workloads {

class Expectations {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::minutes kTimeout{5};

  // Replaces the key's expectations with `count` creations.
  void expectCreations(const std::string& key, int count);
  // Replaces the key's expectations with the deletion of these pods ("ns/name").
  void expectDeletions(const std::string& key, const std::set<std::string>& podKeys);
  void creationObserved(const std::string& key);
  void deletionObserved(const std::string& key, const std::string& podKey);
  // True when nothing is pending for `key` (or what is pending has expired).
  bool satisfied(const std::string& key);
  void forget(const std::string& key);

 private:
  struct Pending {
    int creations = 0;
    std::set<std::string> deletions;
    Clock::time_point since;
  };
  std::mutex mu_;
  std::map<std::string, Pending> pending_;  // guarded by mu_
};

}  // namespace nave::controllers::workloads
