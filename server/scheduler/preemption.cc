#include "server/scheduler/preemption.h"

#include <algorithm>
#include <climits>

namespace nave::scheduler {

namespace {

constexpr char kNoVictims[] = "No preemption victims found for incoming pod";
constexpr char kNotHelpful[] = "Preemption is not helpful for scheduling";

// Higher priority first, then the one running longer (started earlier).
bool moreImportant(const PodInfoPtr& a, const PodInfoPtr& b) {
  if (a->priority != b->priority) return a->priority > b->priority;
  return a->startTime < b->startTime;
}

struct Candidate {
  std::string node;
  std::vector<PodInfoPtr> victims;
};

// PreFilter again on the changed node: the counts of pod affinity and spread change with it.
Status fitsOn(const PodInfo& pod, const Snapshot& snapshot, const NodeInfo& node,
              const Reservation& reserved) {
  CycleState state = preFilter(pod, snapshot);
  return runFilters(pod, node, state, &reserved);
}

const Candidate& pickOne(const std::vector<Candidate>& cs) {
  std::vector<const Candidate*> best;
  for (const Candidate& c : cs) best.push_back(&c);
  auto narrow = [&](auto score) {
    if (best.size() <= 1) return;
    int64_t top = INT64_MIN;
    for (const Candidate* c : best) top = std::max(top, score(*c));
    std::vector<const Candidate*> kept;
    for (const Candidate* c : best)
      if (score(*c) == top) kept.push_back(c);
    best = std::move(kept);
  };
  narrow([](const Candidate& c) { return -static_cast<int64_t>(c.victims.front()->priority); });
  narrow([](const Candidate& c) {
    int64_t sum = 0;
    for (const auto& v : c.victims)
      sum += static_cast<int64_t>(v->priority) + static_cast<int64_t>(INT32_MAX) + 1;
    return -sum;
  });
  narrow([](const Candidate& c) { return -static_cast<int64_t>(c.victims.size()); });
  // The latest start among the highest-priority victims: evict what ran the shortest.
  std::map<const Candidate*, std::string> earliest;
  for (const Candidate* c : best) {
    std::string e;
    for (const auto& v : c->victims)
      if (v->priority == c->victims.front()->priority && (e.empty() || v->startTime < e))
        e = v->startTime;
    earliest[c] = e;
  }
  if (best.size() > 1) {
    std::string latest;
    for (const Candidate* c : best) latest = std::max(latest, earliest[c]);
    std::vector<const Candidate*> kept;
    for (const Candidate* c : best)
      if (earliest[c] == latest) kept.push_back(c);
    best = std::move(kept);
  }
  return *best.front();
}

}  // namespace

bool terminatingByPreemption(const PodInfo& pod) {
  if (!pod.terminating) return false;
  const Json* status = findMember(pod.pod, "status");
  const Json* conds = status ? findMember(*status, "conditions") : nullptr;
  if (!conds || !conds->is_array()) return false;
  for (const Json& c : *conds)
    if (getString(c, "type") == "DisruptionTarget")
      return getString(c, "status") == "True" && getString(c, "reason") == "PreemptionByScheduler";
  return false;
}

PreemptionResult findPreemption(const PodInfo& pod, Snapshot& snapshot,
                                const std::map<std::string, Status>& statuses,
                                const ReservationFor& reserved) {
  PreemptionResult result;
  if (pod.preemptNever) {
    result.message = "preemption: not eligible due to preemptionPolicy=Never.";
    return result;
  }
  if (!pod.nominatedNodeName.empty()) {
    auto st = statuses.find(pod.nominatedNodeName);
    auto node = snapshot.nodes.find(pod.nominatedNodeName);
    bool unresolvable =
        st != statuses.end() && st->second.code == Status::kUnschedulableAndUnresolvable;
    if (!unresolvable && node != snapshot.nodes.end())
      for (const auto& [key, p] : node->second.pods())
        if (p->priority < pod.priority && terminatingByPreemption(*p)) {
          result.message =
              "preemption: not eligible due to a terminating pod on the nominated node.";
          return result;
        }
  }

  std::map<std::string, Status> dryRun;
  std::vector<Candidate> candidates;
  for (auto& [name, node] : snapshot.nodes) {
    auto st = statuses.find(name);
    if (st == statuses.end() || st->second.code != Status::kUnschedulable) continue;
    std::vector<PodInfoPtr> potential;
    for (const auto& [key, p] : node.pods())
      if (p->priority < pod.priority && !p->terminating) potential.push_back(p);
    if (potential.empty()) {
      dryRun[name] = Status::unschedulable("DefaultPreemption", kNoVictims, true);
      continue;
    }
    for (const auto& p : potential) node.removePod(p->key);
    Reservation res = reserved(name);
    Status fits = fitsOn(pod, snapshot, node, res);
    std::vector<PodInfoPtr> victims;
    if (fits.ok()) {
      // Give back as many pods as still leave room, the most important first.
      std::sort(potential.begin(), potential.end(), moreImportant);
      for (const auto& p : potential) {
        node.addPod(p);
        if (!fitsOn(pod, snapshot, node, res).ok()) {
          node.removePod(p->key);
          victims.push_back(p);
        }
      }
    }
    for (const auto& p : potential)
      if (!node.pods().contains(p->key)) node.addPod(p);
    if (!fits.ok()) {
      dryRun[name] = fits;
      continue;
    }
    if (victims.empty()) continue;  // it fits without evicting anything: not a preemption
    candidates.push_back({name, std::move(victims)});
  }
  if (candidates.empty()) {
    for (const auto& [name, node] : snapshot.nodes)
      if (!dryRun.contains(name))
        dryRun[name] = Status::unschedulable("DefaultPreemption", kNotHelpful, true);
    result.message = "preemption: " + fitErrorMessage(snapshot.nodes.size(), dryRun);
    // fitErrorMessage ends with "."; the FitError adds its own.
    if (result.message.ends_with(".")) result.message.pop_back();
    return result;
  }
  const Candidate& best = pickOne(candidates);
  result.node = best.node;
  result.victims = best.victims;
  return result;
}

}  // namespace nave::scheduler
