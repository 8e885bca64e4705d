#include "network/proxy/service_proxy.h"

#include <linux/netlink.h>

#include "common/log.h"
#include "network/netlink/netns.h"

namespace nave::network::proxy {

namespace {

const client::Resource kServices{"", "v1", "services"};
const client::Resource kEndpointSlices{"discovery.k8s.io", "v1", "endpointslices"};
constexpr char kServiceIndex[] = "nave-proxy-service";
constexpr char kServiceNameLabel[] = "kubernetes.io/service-name";

std::string sliceServiceKey(const Json& slice) {
  const Json& md = objectMember(slice, "metadata");
  std::string name = getString(objectMember(md, "labels"), kServiceNameLabel);
  return name.empty() ? "" : getString(md, "namespace") + "/" + name;
}

}  // namespace

Result<std::unique_ptr<ServiceProxy>> ServiceProxy::create(controllers::InformerFactory& informers,
                                                           ServiceProxyOptions options) {
  ProxierOptions po;
  po.nodeName = options.nodeName;
  auto cidr = Ipv4Prefix::parse(options.clusterCidr);
  if (!cidr.ok()) return std::move(cidr).error().context("the service proxy's cluster CIDR");
  po.clusterCidr = *cidr;
  if (!options.serviceCidr.empty()) {
    auto services = Ipv4Prefix::parse(options.serviceCidr);
    if (!services.ok())
      return std::move(services).error().context("the service proxy's service CIDR");
    po.serviceCidr = *services;
  }
  auto nft = nft::NftSocket::open();
  if (!nft.ok()) return std::move(nft).error().context("the service proxy's nftables socket");
  auto conntrack = NetlinkSocket::open(NETLINK_NETFILTER);
  if (!conntrack.ok())
    return std::move(conntrack).error().context("the service proxy's conntrack socket");
  return std::unique_ptr<ServiceProxy>(new ServiceProxy(
      informers, std::move(*nft), std::move(*conntrack), std::move(options), std::move(po)));
}

ServiceProxy::ServiceProxy(controllers::InformerFactory& informers, nft::NftSocket nft,
                           NetlinkSocket conntrack, ServiceProxyOptions o, ProxierOptions proxier)
    : options_(std::move(o)),
      services_(informers.informer(kServices)),
      slices_(informers.informer(kEndpointSlices)),
      proxier_(std::move(nft), std::move(proxier), std::move(conntrack)) {
  slices_.addIndex(kServiceIndex, [](const Json& slice) {
    std::string key = sliceServiceKey(slice);
    return key.empty() ? std::vector<std::string>{} : std::vector<std::string>{key};
  });
  services_.addHandler([this](const std::string& key) { enqueue(key); });
  slices_.addObjectHandler([this](const Json* before, const Json* after) {
    std::string a = before ? sliceServiceKey(*before) : "";
    std::string b = after ? sliceServiceKey(*after) : "";
    if (!a.empty()) enqueue(a);
    if (!b.empty() && b != a) enqueue(b);
  });
}

void ServiceProxy::enqueue(const std::string& serviceKey) {
  std::lock_guard<std::mutex> lock(mu_);
  pending_.insert(serviceKey);
  cv_.notify_one();
}

std::optional<Service> ServiceProxy::current(const std::string& key) const {
  std::optional<Json> svc = services_.get(key);
  if (!svc) return std::nullopt;
  return parseService(*svc, slices_.byIndex(kServiceIndex, key));
}

Result<void> ServiceProxy::syncAll() {
  std::vector<Service> all;
  for (const Json& svc : services_.list()) {
    std::string key = controllers::Informer::keyOf(svc);
    all.push_back(parseService(svc, slices_.byIndex(kServiceIndex, key)));
  }
  TRY(proxier_.syncAll(all));
  log::info("service proxy: synced all services", {{"services", std::to_string(all.size())}});
  return {};
}

Result<void> ServiceProxy::start() {
  // Replies between two pods on the node's bridge are bridged, not routed: without this they
  // would bypass conntrack and reach the client un-DNATed. Per network namespace.
  if (auto r = writeSysctl("net/bridge/bridge-nf-call-iptables", "1"); !r.ok())
    log::warning("service proxy: pod-to-service-to-pod traffic on one node needs br_netfilter",
                 {{"error", r.error().message()}});
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.clear();  // the full sync covers what changed so far
  }
  TRY(syncAll());
  thread_ = std::thread([this] { run(); });
  return {};
}

void ServiceProxy::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || needFullSync_ || !pending_.empty(); });
    if (stopping_) return;
    // Let a burst of changes (a Service and its EndpointSlice, a rollout) arrive.
    if (cv_.wait_for(lock, options_.coalesce, [&] { return stopping_; })) return;
    std::set<std::string> keys;
    keys.swap(pending_);
    bool full = std::exchange(needFullSync_, false);
    lock.unlock();
    Result<void> r;
    if (full) {
      r = syncAll();
    } else {
      std::map<std::string, std::optional<Service>> changed;
      for (const std::string& key : keys) changed[key] = current(key);
      r = proxier_.syncChanged(changed);
    }
    lock.lock();
    if (!r.ok()) {
      log::error("service proxy: sync failed, syncing everything again",
                 {{"error", r.error().message()}});
      needFullSync_ = true;
      if (cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; })) return;
    }
  }
}

void ServiceProxy::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

Result<void> ServiceProxy::uninstall() {
  stop();
  return proxier_.uninstall();
}

}  // namespace nave::network::proxy
