#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "common/log.h"
#include "network/netlink/netns.h"
#include "network/netpol/netpol_table.h"
#include "network/netpol/network_policy.h"

namespace nave::network::netpol {

namespace {

using controllers::Informer;
using namespace std::chrono_literals;

enum Kind { kPod, kNamespace, kPolicy, kKinds };

// The keys the informers reported changed, shared with their handlers, which may outlive the
// enforcer (they belong to the factory's informers). mu guards everything here.
struct Inbox {
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::set<std::string> pending[kKinds];
};

class Enforcer : public NetworkPolicyEnforcer {
 public:
  Enforcer(controllers::InformerFactory& informers, NetworkPolicyOptions options,
           nft::NftSocket nft)
      : options_(std::move(options)),
        inbox_(std::make_shared<Inbox>()),
        informers_{&informers.informer({"", "v1", "pods"}),
                   &informers.informer({"", "v1", "namespaces"}),
                   &informers.informer({"networking.k8s.io", "v1", "networkpolicies"})},
        table_(std::move(nft)) {
    for (int kind = 0; kind < kKinds; ++kind) {
      informers_[kind]->addHandler([inbox = inbox_, kind](const std::string& key) {
        std::lock_guard lock(inbox->mu);
        inbox->pending[kind].insert(key);
        inbox->cv.notify_one();
      });
    }
    thread_ = std::thread([this] { run(); });
  }
  ~Enforcer() override { stop(); }

  void stop() override {
    {
      std::lock_guard lock(inbox_->mu);
      inbox_->stopping = true;
    }
    inbox_->cv.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  Result<void> uninstall() override {
    stop();
    return table_.remove();
  }

 private:
  bool synced() const {
    for (const Informer* i : informers_)
      if (!i->synced()) return false;
    return true;
  }

  void run() {
    {
      // The informers' first lists. (Their synced flag is set before their handlers hear of
      // the listed objects: polled here rather than waited for through the handlers.)
      std::unique_lock lock(inbox_->mu);
      while (!inbox_->stopping && !synced()) inbox_->cv.wait_for(lock, 50ms);
      if (inbox_->stopping) return;
      // Everything is read from the informers' stores below, so nothing is pending any more.
      for (auto& keys : inbox_->pending) keys.clear();
    }
    for (int kind = 0; kind < kKinds; ++kind)
      for (const Json& object : informers_[kind]->list())
        refresh(Kind(kind), Informer::keyOf(object));
    bool ok = sync();
    auto backoff = 1s;
    for (;;) {
      std::set<std::string> changed[kKinds];
      {
        std::unique_lock lock(inbox_->mu);
        auto anything = [&] {
          if (inbox_->stopping) return true;
          for (auto& keys : inbox_->pending)
            if (!keys.empty()) return true;
          return false;
        };
        // After a failure, try again after the backoff even when nothing changed.
        if (ok)
          inbox_->cv.wait(lock, anything);
        else
          inbox_->cv.wait_for(lock, backoff, anything);
        if (inbox_->stopping) return;
        for (int kind = 0; kind < kKinds; ++kind) changed[kind].swap(inbox_->pending[kind]);
      }
      bool dirty = !ok;
      for (int kind = 0; kind < kKinds; ++kind)
        for (const std::string& key : changed[kind]) dirty |= refresh(Kind(kind), key);
      if (!dirty) continue;
      ok = sync();
      backoff = ok ? 1s : std::min(backoff * 2, std::chrono::seconds(30));
    }
  }

  // Brings state_ up to date with the informer's object at `key`; true when what policies see
  // changed (most pod updates, e.g. of conditions, change nothing here).
  template <typename T, typename Parse>
  static bool update(std::map<std::string, T>& into, const std::string& key,
                     const std::optional<Json>& object, Parse parse) {
    if (!object) return into.erase(key) > 0;
    T parsed = parse(*object);
    auto [it, added] = into.try_emplace(key, parsed);
    if (added) return true;
    if (it->second == parsed) return false;
    it->second = std::move(parsed);
    return true;
  }

  bool refresh(Kind kind, const std::string& key) {
    std::optional<Json> object = informers_[kind]->get(key);
    switch (kind) {
      case kPod:
        return update(state_.pods, key, object, parsePod);
      case kNamespace:
        return update(state_.namespaces, key, object, parseNamespace);
      case kPolicy:
        break;
      case kKinds:
        std::abort();
    }
    if (!object) return state_.policies.erase(key) > 0;
    auto policy = parsePolicy(*object);
    if (!policy.ok()) {
      // The API server validates policies: this is a policy it should have refused.
      log::error("NetworkPolicy not enforced",
                 {{"policy", key}, {"error", policy.error().message()}});
      return state_.policies.erase(key) > 0;
    }
    state_.policies.insert_or_assign(key, std::move(*policy));
    return true;
  }

  bool sync() {
    auto start = std::chrono::steady_clock::now();
    Ruleset rules = computeRuleset(state_, options_.nodeName);
    auto r = table_.apply(rules);
    if (!r.ok()) {
      log::error("NetworkPolicy rules not applied; retrying", {{"error", r.error().message()}});
      return false;
    }
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    log::Fields fields = {
        {"policies", state_.policies.size()},        {"ingressIsolated", rules.ingressPods.size()},
        {"egressIsolated", rules.egressPods.size()}, {"chains", rules.chains.size()},
        {"operations", table_.lastOperations()},     {"micros", us}};
    if (!announced_)
      log::info("NetworkPolicy enforcement is on", fields);
    else if (table_.lastOperations() > 0)
      log::v(2, "NetworkPolicy rules updated", fields);
    announced_ = true;
    return true;
  }

  NetworkPolicyOptions options_;
  std::shared_ptr<Inbox> inbox_;
  Informer* informers_[kKinds];
  // The worker's own: the cluster as last read, and the table.
  ClusterState state_;
  NetpolTable table_;
  bool announced_ = false;
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<NetworkPolicyEnforcer>> NetworkPolicyEnforcer::start(
    controllers::InformerFactory& informers, NetworkPolicyOptions options) {
  if (options.nodeName.empty())
    return Error(ErrorCode::kInvalid, "NetworkPolicy enforcement needs the node's name");
  // Per network namespace since Linux 5.3 (br_netfilter must be loaded: it is what makes
  // bridged packets visible to the IPv4 hooks at all).
  if (auto r = writeSysctl("net/bridge/bridge-nf-call-iptables", "1"); !r.ok()) {
    log::error(
        "NetworkPolicy: traffic between pods of this node cannot be filtered "
        "(is br_netfilter loaded?)",
        {{"error", r.error().message()}});
  }
  auto nft = nft::NftSocket::open();
  if (!nft.ok()) return std::move(nft).error().context("NetworkPolicy enforcement");
  return std::unique_ptr<NetworkPolicyEnforcer>(
      new Enforcer(informers, std::move(options), std::move(nft).value()));
}

}  // namespace nave::network::netpol
