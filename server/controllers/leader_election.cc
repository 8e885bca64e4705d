#include "server/controllers/leader_election.h"

#include "common/log.h"
#include "common/time.h"

namespace nave::controllers {
namespace {

const client::Resource kLeases{"coordination.k8s.io", "v1", "leases"};

}  // namespace

LeaderElector::LeaderElector(client::Client& client, LeaderElectionConfig config,
                             std::function<void()> onStarted, std::function<void()> onStopped)
    : client_(client),
      config_(std::move(config)),
      onStarted_(std::move(onStarted)),
      onStopped_(std::move(onStopped)) {}

LeaderElector::~LeaderElector() { stop(); }

void LeaderElector::start() { thread_ = std::thread([this] { run(); }); }

void LeaderElector::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool LeaderElector::sleepFor(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [&] { return stopping_; });
}

void LeaderElector::run() {
  auto lastRenew = std::chrono::steady_clock::now();
  while (true) {
    bool held = tryAcquireOrRenew();
    auto now = std::chrono::steady_clock::now();
    if (held) {
      lastRenew = now;
      if (!leading_) {
        leading_ = true;
        log::info("became leader", {{"lease", config_.leaseNamespace + "/" + config_.leaseName},
                                    {"identity", config_.identity}});
        onStarted_();
      }
    } else if (leading_ && now - lastRenew > config_.renewDeadline) {
      leading_ = false;
      log::warning("lost leadership", {{"lease", config_.leaseNamespace + "/" + config_.leaseName}});
      onStopped_();
    }
    if (!sleepFor(config_.retryPeriod)) break;
  }
  if (leading_) {
    leading_ = false;
    onStopped_();
    release();
  }
}

bool LeaderElector::tryAcquireOrRenew() {
  auto nowWall = std::chrono::system_clock::now();
  std::string now = formatRfc3339Micro(nowWall);
  int durationSeconds = static_cast<int>(
      std::chrono::duration_cast<std::chrono::seconds>(config_.leaseDuration).count());
  auto current = client_.get(kLeases, config_.leaseNamespace, config_.leaseName);
  if (!current.ok()) {
    if (!current.error().is(ErrorCode::kNotFound)) {
      log::v(2, "leader election: get failed", {{"error", current.error().message()}});
      return false;
    }
    Json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                  {"kind", "Lease"},
                  {"metadata", {{"name", config_.leaseName}, {"namespace", config_.leaseNamespace}}},
                  {"spec",
                   {{"holderIdentity", config_.identity},
                    {"leaseDurationSeconds", durationSeconds},
                    {"acquireTime", now},
                    {"renewTime", now},
                    {"leaseTransitions", 0}}}};
    return client_.create(kLeases, config_.leaseNamespace, lease).ok();
  }
  Json lease = std::move(*current);
  Json& spec = lease["spec"];
  if (!spec.is_object()) spec = Json::object();
  std::string holder = getString(spec, "holderIdentity");
  // Another holder is presumed alive until its lease duration passed since we saw its record
  // change (on our clock, whatever the clocks of the servers say: client-go's rule).
  std::string record = getString(spec, "holderIdentity") + "|" + getString(spec, "renewTime");
  auto steadyNow = std::chrono::steady_clock::now();
  if (record != observedRecord_) {
    observedRecord_ = record;
    observedAt_ = steadyNow;
  }
  if (holder != config_.identity && !holder.empty()) {
    auto duration = std::chrono::seconds(getInt(spec, "leaseDurationSeconds", durationSeconds));
    if (steadyNow < observedAt_ + duration) return false;  // the holder may still be alive
  }
  if (holder != config_.identity) {
    spec["acquireTime"] = now;
    spec["leaseTransitions"] = getInt(spec, "leaseTransitions", 0) + (holder.empty() ? 0 : 1);
  }
  spec["holderIdentity"] = config_.identity;
  spec["leaseDurationSeconds"] = durationSeconds;
  spec["renewTime"] = now;
  auto updated = client_.update(kLeases, config_.leaseNamespace, lease);
  if (!updated.ok()) {
    log::v(2, "leader election: update failed", {{"error", updated.error().message()}});
    return false;
  }
  observedRecord_ = config_.identity + "|" + now;
  observedAt_ = steadyNow;
  return true;
}

void LeaderElector::release() {
  auto current = client_.get(kLeases, config_.leaseNamespace, config_.leaseName);
  if (!current.ok()) return;
  Json lease = std::move(*current);
  if (getString(lease.value("spec", Json::object()), "holderIdentity") != config_.identity) return;
  lease["spec"]["holderIdentity"] = "";
  lease["spec"]["leaseDurationSeconds"] = 1;
  lease["spec"]["renewTime"] = formatRfc3339Micro(std::chrono::system_clock::now());
  (void)client_.update(kLeases, config_.leaseNamespace, lease);
}

}  // namespace nave::controllers
