#include "server/controllers/batch/ttl_after_finished_controller.h"

#include "common/log.h"

namespace nave::controllers::batch {
namespace {

// When the Job expires, or nullopt when it is not (yet) subject to a TTL.
std::optional<WallTime> expiry(const Json& job) {
  const Json* spec = findMember(job, "spec");
  const Json* ttl = spec != nullptr ? findMember(*spec, "ttlSecondsAfterFinished") : nullptr;
  if (ttl == nullptr || !ttl->is_number_integer() || isDeleting(job)) return std::nullopt;
  std::string type = jobFinishedType(job);
  if (type.empty()) return std::nullopt;
  auto finished = parseRfc3339(getString(*findCondition(job, type), "lastTransitionTime"));
  if (!finished) return std::nullopt;
  return *finished + std::chrono::seconds(ttl->get<int64_t>());
}

}  // namespace

TtlAfterFinishedController::TtlAfterFinishedController(ControllerContext& ctx, NowFunc now)
    : ctx_(ctx), now_(std::move(now)), jobs_(ctx.informers.informer(kJobs)) {
  jobs_.addHandler([this](const std::string& key) { queue_.add(key); });
}

TtlAfterFinishedController::~TtlAfterFinishedController() { stop(); }

void TtlAfterFinishedController::start() {
  workers_.start(queue_, 1, "ttl-after-finished", [this](const std::string& k) { return sync(k); });
}

void TtlAfterFinishedController::stop() { workers_.stop(); }

Result<Reconciled> TtlAfterFinishedController::sync(const std::string& key) {
  std::optional<Json> job = jobs_.get(key);
  if (!job) return Reconciled{};
  std::optional<WallTime> expireAt = expiry(*job);
  if (!expireAt) return Reconciled{};
  WallTime now = now_();
  if (now < *expireAt)
    return Reconciled{std::chrono::duration_cast<std::chrono::milliseconds>(*expireAt - now) +
                      std::chrono::milliseconds(1)};
  // The cache may be stale (the TTL changed, the Job was re-created): check the live object.
  const Json& meta = (*job)["metadata"];
  std::string ns = getString(meta, "namespace"), name = getString(meta, "name");
  auto fresh = ctx_.client.get(kJobs, ns, name);
  if (!fresh.ok()) return fresh.error().is(ErrorCode::kNotFound) ? Result<Reconciled>(Reconciled{}) : std::move(fresh).error();
  expireAt = expiry(*fresh);
  if (!expireAt) return Reconciled{};
  if (now < *expireAt)
    return Reconciled{std::chrono::duration_cast<std::chrono::milliseconds>(*expireAt - now) +
                      std::chrono::milliseconds(1)};
  api::DeleteOptions opts;
  opts.propagationPolicy = "Foreground";
  opts.preconditionUid = getString((*fresh)["metadata"], "uid");
  auto r = ctx_.client.remove(kJobs, ns, name, opts);
  if (!r.ok() && !r.error().is(ErrorCode::kNotFound)) return std::move(r).error();
  log::v(2, "deleted finished job after its TTL", {{"job", key}});
  return Reconciled{};
}

}  // namespace nave::controllers::batch
