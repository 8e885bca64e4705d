#include "server/controllers/core/pod_gc_controller.h"

#include <algorithm>

#include "common/log.h"

namespace nave::controllers {
namespace {

const client::Resource kPods{"", "v1", "pods"};
const client::Resource kNodes{"", "v1", "nodes"};
constexpr char kTerminatedKey[] = " terminated";  // not a pod key (keys have no spaces)
constexpr char kPhaseIndex[] = "terminated";
constexpr char kNodeIndex[] = "nodeName";

bool terminated(const Json& pod) {
  std::string phase = getString(pod.value("status", Json::object()), "phase");
  return phase == "Succeeded" || phase == "Failed";
}

}  // namespace

PodGcController::PodGcController(ControllerContext& ctx, size_t terminatedThreshold,
                                 std::chrono::milliseconds quarantine)
    : ctx_(ctx),
      threshold_(terminatedThreshold),
      quarantine_(quarantine),
      pods_(ctx.informers.informer(kPods)),
      nodes_(ctx.informers.informer(kNodes)),
      queue_(std::chrono::milliseconds(200), std::chrono::seconds(60)) {
  pods_.addIndex(kPhaseIndex, [](const Json& pod) {
    return terminated(pod) ? std::vector<std::string>{"yes"} : std::vector<std::string>{};
  });
  pods_.addIndex(kNodeIndex, [](const Json& pod) {
    return std::vector<std::string>{getString(pod.value("spec", Json::object()), "nodeName")};
  });
  pods_.addObjectHandler([this](const Json* before, const Json* after) {
    if (after == nullptr) return;
    if (terminated(*after) && (before == nullptr || !terminated(*before))) queue_.add(kTerminatedKey);
    queue_.add(Informer::keyOf(*after));
  });
  // A node's deletion leaves its pods behind.
  nodes_.addObjectHandler([this](const Json* before, const Json* after) {
    if (after != nullptr || before == nullptr) return;
    for (const std::string& key : pods_.keysByIndex(kNodeIndex, getString((*before)["metadata"], "name")))
      queue_.add(key);
  });
}

void PodGcController::start() {
  workers_.start(queue_, 1, "podgc", [this](const std::string& key) { return reconcile(key); });
}

Result<void> PodGcController::forceDelete(const Json& pod, const std::string& why) {
  const Json& md = pod["metadata"];
  api::DeleteOptions opts;
  opts.gracePeriodSeconds = 0;
  opts.preconditionUid = getString(md, "uid");
  auto r = ctx_.client.remove(kPods, getString(md, "namespace"), getString(md, "name"), opts);
  if (!r.ok() && !r.error().is(ErrorCode::kNotFound) && !r.error().is(ErrorCode::kConflict))
    return std::move(r).error();
  log::info("garbage collected a pod", {{"pod", getString(md, "namespace") + "/" + getString(md, "name")},
                                        {"reason", why}});
  return {};
}

Result<Reconciled> PodGcController::reconcile(const std::string& key) {
  if (key == kTerminatedKey) {
    std::vector<Json> done = pods_.byIndex(kPhaseIndex, "yes");
    if (done.size() <= threshold_) return Reconciled{};
    std::sort(done.begin(), done.end(), [](const Json& a, const Json& b) {
      return getString(a["metadata"], "creationTimestamp") < getString(b["metadata"], "creationTimestamp");
    });
    for (size_t i = 0; i < done.size() - threshold_; ++i) TRY(forceDelete(done[i], "terminated pods over the threshold"));
    return Reconciled{};
  }
  auto pod = pods_.get(key);
  if (!pod) return Reconciled{};
  const Json& md = (*pod)["metadata"];
  std::string node = getString(pod->value("spec", Json::object()), "nodeName");
  bool deleting = md.contains("deletionTimestamp") && !md["deletionTimestamp"].is_null();
  if (node.empty()) {
    if (deleting) TRY(forceDelete(*pod, "unscheduled and terminating"));
    return Reconciled{};
  }
  if (nodes_.get(node)) {
    std::lock_guard lock(mu_);
    missingSince_.erase(node);
    return Reconciled{};
  }
  // The informer may lag: only a live read says the node is gone.
  auto live = ctx_.client.get(kNodes, "", node);
  if (live.ok()) return Reconciled{};
  if (!live.error().is(ErrorCode::kNotFound)) return std::move(live).error();
  auto now = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point since;
  {
    std::lock_guard lock(mu_);
    since = missingSince_.try_emplace(node, now).first->second;
  }
  if (now - since < quarantine_)
    return Reconciled{std::chrono::duration_cast<std::chrono::milliseconds>(since + quarantine_ - now) +
                      std::chrono::milliseconds(10)};
  TRY(forceDelete(*pod, "its node " + node + " does not exist"));
  return Reconciled{};
}

}  // namespace nave::controllers
