#include "network/flannel/flannel.h"

#include "common/log.h"

namespace nave::network::flannel {
namespace {

const client::Resource kNodes{"", "v1", "nodes"};
constexpr char kSyncKey[] = "sync";
constexpr char kAnnotateKey[] = "annotate";

// Whether the node's annotations include all of `want`.
bool annotated(const Json& node, const Json& want) {
  const Json& have = objectMember(objectMember(node, "metadata"), "annotations");
  for (auto it = want.begin(); it != want.end(); ++it)
    if (getString(have, it.key()) != it.value().get<std::string>()) return false;
  return true;
}

}  // namespace

Flannel::Flannel(client::Client& client, controllers::InformerFactory& informers, Backend& backend,
                 std::string nodeName)
    : client_(client),
      backend_(backend),
      nodeName_(std::move(nodeName)),
      annotations_(backend.annotations()),
      nodes_(informers.informer(kNodes)),
      queue_(std::chrono::milliseconds(200), std::chrono::seconds(60)) {
  nodes_.addObjectHandler([this](const Json* before, const Json* after) {
    const Json& node = after ? *after : *before;
    if (getString(objectMember(node, "metadata"), "name") == nodeName_) {
      if (after && !annotated(*after, annotations_)) queue_.add(kAnnotateKey);
      return;
    }
    std::optional<Lease> was = before ? leaseOf(*before) : std::nullopt;
    std::optional<Lease> is = after ? leaseOf(*after) : std::nullopt;
    if (was != is) queue_.add(kSyncKey);
  });
}

void Flannel::start() {
  queue_.add(kAnnotateKey);
  queue_.add(kSyncKey);
  workers_.start(queue_, 1, "flannel", [this](const std::string& key) { return reconcile(key); });
}

Result<controllers::Reconciled> Flannel::reconcile(const std::string& key) {
  if (key == kAnnotateKey) {
    if (auto node = nodes_.get(nodeName_); node && annotated(*node, annotations_))
      return controllers::Reconciled{};
    Json patch = {{"metadata", {{"annotations", annotations_}}}};
    auto r = client_.patch(kNodes, "", nodeName_, api::PatchType::kMerge, dumpJson(patch));
    if (!r.ok()) return std::move(r).error().context("annotate node " + nodeName_);
    log::v(2, "Annotated the node for flannel", {{"node", nodeName_}});
    return controllers::Reconciled{};
  }
  std::vector<Lease> leases;
  for (const Json& node : nodes_.list()) {
    if (auto lease = leaseOf(node)) leases.push_back(std::move(*lease));
  }
  TRY(backend_.sync(leases));
  return controllers::Reconciled{};
}

}  // namespace nave::network::flannel
