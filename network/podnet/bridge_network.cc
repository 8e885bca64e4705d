// BridgePodNetwork: PodNetwork on a Linux bridge, veth pairs, host-local IPAM and NatTable.
#include <cstdio>
#include <mutex>
#include <optional>

#include "common/fs.h"
#include "common/log.h"
#include "network/netlink/netns.h"
#include "network/netlink/rtnl.h"
#include "network/nftables/nft_socket.h"
#include "network/podnet/ipam.h"
#include "network/podnet/nat_table.h"
#include "network/podnet/pod_network.h"

namespace nave::network {

namespace {

using netlink::RtnlSocket;

constexpr char kPodInterface[] = "eth0";

struct Config {
  std::string bridge;
  Ipv4Prefix podCidr, clusterCidr;
  Ipv4Address gateway;
  int mtu = 0;
  std::string stateDir;
};

Result<Config> validate(const PodNetworkOptions& o) {
  Config c;
  c.bridge = o.bridge;
  bool nameOk = !o.bridge.empty() && o.bridge.size() < 16 && o.bridge != "." && o.bridge != "..";
  for (char ch : o.bridge) nameOk = nameOk && ch != '/' && ch != ':' && ch > ' ' && ch < 0x7f;
  if (!nameOk) return Error(ErrorCode::kInvalid, "invalid bridge name \"" + o.bridge + "\"");
  auto pod = Ipv4Prefix::parse(o.podCidr);
  if (!pod.ok()) return std::move(pod).error().context("pod CIDR");
  auto cluster = Ipv4Prefix::parse(o.clusterCidr);
  if (!cluster.ok()) return std::move(cluster).error().context("cluster CIDR");
  if (pod->hasHostBits())
    return Error(ErrorCode::kInvalid,
                 "pod CIDR " + o.podCidr + " has host bits set (its network is " +
                     pod->network().toString() + "/" + std::to_string(pod->length) + ")");
  if (pod->length > 30)
    return Error(
        ErrorCode::kInvalid,
        "pod CIDR " + o.podCidr + " is too small: a /30 or larger holds the gateway and a pod");
  if (cluster->length == 0)
    return Error(ErrorCode::kInvalid, "cluster CIDR " + o.clusterCidr + " covers every address");
  if (!cluster->contains(*pod))
    return Error(ErrorCode::kInvalid,
                 "pod CIDR " + o.podCidr + " is not within the cluster CIDR " + o.clusterCidr);
  c.podCidr = *pod;
  c.clusterCidr = Ipv4Prefix{cluster->network(), cluster->length};
  c.gateway = Ipv4Address{pod->network().value + 1};
  if (o.mtu != 0 && (o.mtu < 68 || o.mtu > 65535))
    return Error(ErrorCode::kInvalid,
                 "MTU " + std::to_string(o.mtu) + " is out of range (68-65535, or 0)");
  c.mtu = o.mtu;
  if (o.stateDir.empty() || o.stateDir[0] != '/')
    return Error(ErrorCode::kInvalid, "stateDir \"" + o.stateDir + "\" is not an absolute path");
  c.stateDir = o.stateDir;
  return c;
}

Result<void> validateSandboxId(const std::string& id) {
  // The runtime's sandbox id rule: it ends up in file contents and an interface alias.
  auto ok = [](char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (!first && (c == '_' || c == '.' || c == '-'));
  };
  bool valid = !id.empty() && id.size() <= 128;
  for (size_t i = 0; valid && i < id.size(); ++i) valid = ok(id[i], i == 0);
  if (!valid)
    return Error(ErrorCode::kInvalid,
                 "invalid sandbox id \"" + id + "\": must match [a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}");
  return {};
}

// The host end of a sandbox's veth: "veth" and the FNV-1a hash of its id, in hex. Derived, not
// stored, so detach finds it from the id alone; the id is kept as the link's alias to tell a
// (very unlikely) hash collision from the sandbox's own link.
std::string hostInterfaceName(const std::string& sandboxId) {
  uint32_t h = 2166136261u;
  for (unsigned char c : sandboxId) h = (h ^ c) * 16777619u;
  char buf[16];
  std::snprintf(buf, sizeof buf, "veth%08x", h);
  return buf;
}

bool ignorable(const Result<void>& r, ErrorCode code) {
  return r.ok() || r.error().is(code);
}

class BridgePodNetwork final : public PodNetwork {
 public:
  BridgePodNetwork(Config config, HostLocalIpam ipam, RtnlSocket rtnl, nft::NftSocket nft)
      : config_(std::move(config)),
        ipam_(std::move(ipam)),
        nat_(config_.podCidr, config_.clusterCidr, config_.bridge),
        rtnl_(std::move(rtnl)),
        nft_(std::move(nft)) {}

  Result<void> setUp();

  Result<PodAttachment> attach(const std::string& sandboxId, const std::string& netnsPath,
                               const std::vector<HostPort>& hostPorts) override;
  Result<void> detach(const std::string& sandboxId, const std::string& netnsPath) override;
  std::vector<PodAttachment> list() const override;
  Result<void> destroy() override;

 private:
  PodAttachment attachment(const std::string& sandboxId, Ipv4Address ip) const {
    return {sandboxId, hostInterfaceName(sandboxId), ip.toString(), config_.gateway.toString(),
            config_.podCidr.length};
  }
  Result<int> ensureBridge();
  // The host end of the sandbox's veth, created (with eth0 in `podNs`) or adopted.
  struct Veth {
    int index = 0;
    bool created = false;  // by this call
  };
  // `host` is the caller's own netlink socket in the host namespace (one per attach, so that
  // sandboxes are wired in parallel; the kernel serialises only the link changes themselves).
  Result<Veth> ensureVeth(RtnlSocket& host, const std::string& sandboxId, const NetnsHandle& podNs,
                          int bridge);
  Result<void> configurePod(const NetnsHandle& podNs, Ipv4Address ip);
  Result<void> checkOpen() const {
    if (destroyed_) return Error(ErrorCode::kUnavailable, "the pod network was destroyed");
    return {};
  }

  const Config config_;
  HostLocalIpam ipam_;  // thread-safe on its own (a directory lock)
  const NatTable nat_;
  // Guards the shared sockets, bridgeIndex_ and destroyed_: netlink exchanges are one at a
  // time per socket. An attach wires its veth and pod side on sockets of its own, outside it.
  std::mutex mu_;
  RtnlSocket rtnl_;
  nft::NftSocket nft_;
  bool destroyed_ = false;
  int bridgeIndex_ = 0;  // guarded by mu_; 0 until attach checked it
};

Result<int> BridgePodNetwork::ensureBridge() {
  int index = 0;
  auto found = rtnl_.link(config_.bridge);
  if (found.ok()) {
    if (found->kind != "bridge")
      return Error(ErrorCode::kConflict, "link " + config_.bridge +
                                             " exists and is not a bridge (" +
                                             (found->kind.empty() ? "no kind" : found->kind) + ")");
    index = found->index;
    if (config_.mtu > 0 && found->mtu != config_.mtu) TRY(rtnl_.setMtu(index, config_.mtu));
  } else if (found.error().is(ErrorCode::kNotFound)) {
    index = TRY(rtnl_.createBridge(config_.bridge, config_.mtu));
  } else {
    return std::move(found).error();
  }
  auto addr = rtnl_.addAddress(index, Ipv4Prefix{config_.gateway, config_.podCidr.length});
  if (!ignorable(addr, ErrorCode::kAlreadyExists)) return addr.error();
  TRY(rtnl_.setUp(index, true));
  return index;
}

Result<void> BridgePodNetwork::setUp() {
  TRY(ensureBridge());
  // In the calling thread's namespace, which is the host's: open() runs there.
  TRY(writeSysctl("net/ipv4/ip_forward", "1"));
  // hostPorts reached through 127.0.0.1 leave through the bridge with a loopback source until
  // masqueraded; the kernel drops such packets unless the interface allows it.
  TRY(writeSysctl("net/ipv4/conf/" + config_.bridge + "/route_localnet", "1"));
  TRY(nat_.ensure(nft_));
  return {};
}

Result<BridgePodNetwork::Veth> BridgePodNetwork::ensureVeth(RtnlSocket& host,
                                                            const std::string& sandboxId,
                                                            const NetnsHandle& podNs, int bridge) {
  const std::string name = hostInterfaceName(sandboxId);
  auto existing = host.link(name);
  if (existing.ok()) {
    if (!existing->alias.empty() && existing->alias != sandboxId)
      return Error(ErrorCode::kConflict,
                   "interface " + name + " belongs to sandbox " + existing->alias);
    // Ours, or a leftover of an attach that failed before naming it. Adopt it when its peer
    // is this sandbox's eth0; otherwise start over.
    auto pod = RtnlSocket::openIn(podNs);
    if (!pod.ok()) return std::move(pod).error();
    bool peerHere = existing->alias == sandboxId && pod->link(kPodInterface).ok();
    if (peerHere) return Veth{existing->index, false};
    TRY(host.deleteLink(existing->index));
  } else if (!existing.error().is(ErrorCode::kNotFound)) {
    return std::move(existing).error();
  }
  int index = TRY(host.createVeth(name, kPodInterface, config_.mtu, &podNs));
  Result<void> configured = [&]() -> Result<void> {
    TRY(host.setAlias(index, sandboxId));
    TRY(host.setMaster(index, bridge));
    TRY(host.setHairpin(index, true));
    return host.setUp(index, true);
  }();
  if (!configured.ok()) {
    (void)host.deleteLink(index);
    return std::move(configured).error();
  }
  return Veth{index, true};
}

Result<void> BridgePodNetwork::configurePod(const NetnsHandle& podNs, Ipv4Address ip) {
  RtnlSocket pod = TRY(RtnlSocket::openIn(podNs));
  auto eth0 = TRY(pod.link(kPodInterface));
  auto addr = pod.addAddress(eth0.index, Ipv4Prefix{ip, config_.podCidr.length});
  if (!ignorable(addr, ErrorCode::kAlreadyExists)) return addr.error();
  TRY(pod.setUp(eth0.index, true));
  netlink::Ipv4Route route;
  route.gateway = config_.gateway;
  route.outputInterface = eth0.index;
  return pod.replaceRoute(route);
}

Result<PodAttachment> BridgePodNetwork::attach(const std::string& sandboxId,
                                               const std::string& netnsPath,
                                               const std::vector<HostPort>& hostPorts) {
  TRY(validateSandboxId(sandboxId));
  auto mappings = TRY(parseHostPorts(hostPorts));
  auto podNs = NetnsHandle::open(netnsPath);
  if (!podNs.ok()) return std::move(podNs).error().context("attach sandbox " + sandboxId);

  auto t0 = std::chrono::steady_clock::now();
  {
    std::lock_guard check(mu_);
    TRY(checkOpen());
  }
  // The address first: the IPAM has its own lock.
  bool hadAddress = false;
  Ipv4Address ip = TRY(ipam_.allocate(sandboxId, &hadAddress));
  auto t1 = std::chrono::steady_clock::now();
  int bridge = 0;
  {
    std::lock_guard lock(mu_);
    if (auto open = checkOpen(); !open.ok()) {
      if (!hadAddress) (void)ipam_.release(sandboxId);
      return std::move(open).error();
    }
    // The bridge was made by open(); it is checked again only when it seems to be gone.
    if (bridgeIndex_ <= 0) {
      auto made = ensureBridge();
      if (!made.ok()) {
        if (!hadAddress) (void)ipam_.release(sandboxId);
        return std::move(made).error().context("attach sandbox " + sandboxId);
      }
      bridgeIndex_ = *made;
    }
    bridge = bridgeIndex_;
  }
  auto t2 = std::chrono::steady_clock::now();
  Veth veth;
  std::optional<RtnlSocket> host;
  std::chrono::steady_clock::time_point t3, t4;
  Result<void> done = [&]() -> Result<void> {
    host = TRY(RtnlSocket::open());
    auto created = ensureVeth(*host, sandboxId, *podNs, bridge);
    if (!created.ok()) {
      {
        std::lock_guard lock(mu_);
        bridgeIndex_ = TRY(ensureBridge());
        bridge = bridgeIndex_;
      }
      created = ensureVeth(*host, sandboxId, *podNs, bridge);
    }
    veth = TRY(std::move(created));
    t3 = std::chrono::steady_clock::now();
    TRY(configurePod(*podNs, ip));
    t4 = std::chrono::steady_clock::now();
    // A fresh address has no mappings (detach removes them before it frees the address):
    // without hostPorts there is nothing to change.
    if (mappings.empty() && !hadAddress) return {};
    std::lock_guard lock(mu_);
    TRY(checkOpen());
    return nat_.setHostPorts(nft_, ip, mappings);
  }();
  if (!done.ok()) {
    // Undo what this call created; what a previous attach made stays as it was.
    if (veth.created && host) (void)host->deleteLink(veth.index);
    if (!hadAddress) (void)ipam_.release(sandboxId);
    return std::move(done).error().context("attach sandbox " + sandboxId);
  }
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  log::v(2, "Attached pod sandbox",
         {{"sandbox", sandboxId}, {"ip", ip.toString()}, {"interface", hostInterfaceName(sandboxId)},
          {"ipamMs", ms(t0, t1)}, {"waitMs", ms(t1, t2)}, {"vethMs", ms(t2, t3)},
          {"podMs", ms(t3, t4)}, {"natMs", ms(t4, std::chrono::steady_clock::now())}});
  return attachment(sandboxId, ip);
}

Result<void> BridgePodNetwork::detach(const std::string& sandboxId, const std::string& netnsPath) {
  // netnsPath is not needed: deleting the host end of the veth deletes eth0 with it, and
  // when the namespace is gone the pair went with it.
  TRY(validateSandboxId(sandboxId));
  std::lock_guard lock(mu_);
  TRY(checkOpen());
  Result<void> done = [&]() -> Result<void> {
    const std::string name = hostInterfaceName(sandboxId);
    auto link = rtnl_.link(name);
    if (link.ok() && (link->alias.empty() || link->alias == sandboxId)) {
      auto del = rtnl_.deleteLink(link->index);
      if (!ignorable(del, ErrorCode::kNotFound)) return del;
    } else if (!link.ok() && !link.error().is(ErrorCode::kNotFound)) {
      return std::move(link).error();
    }
    // The mappings go before the address, which another sandbox may get next.
    if (auto ip = TRY(ipam_.find(sandboxId))) TRY(nat_.setHostPorts(nft_, *ip, {}));
    TRY(ipam_.release(sandboxId));
    return {};
  }();
  if (!done.ok()) return std::move(done).error().context("detach sandbox " + sandboxId);
  log::v(2, "Detached pod sandbox", {{"sandbox", sandboxId}});
  return {};
}

std::vector<PodAttachment> BridgePodNetwork::list() const {
  std::vector<PodAttachment> out;
  auto records = ipam_.list();
  if (!records.ok()) {
    log::warning("Cannot list pod addresses", {{"error", records.error().message()}});
    return out;
  }
  for (const auto& r : *records) out.push_back(attachment(r.sandboxId, r.ip));
  return out;
}

Result<void> BridgePodNetwork::destroy() {
  std::lock_guard lock(mu_);
  if (destroyed_) return {};
  // Every port of the bridge is a sandbox's veth; recorded sandboxes' veths too, in case one
  // lost its bridge.
  auto bridge = rtnl_.link(config_.bridge);
  if (!bridge.ok() && !bridge.error().is(ErrorCode::kNotFound)) return std::move(bridge).error();
  std::vector<int> doomed;
  for (const auto& l : TRY(rtnl_.links())) {
    if (bridge.ok() && l.master == bridge->index) doomed.push_back(l.index);
  }
  for (const auto& r : TRY(ipam_.list())) {
    auto l = rtnl_.link(hostInterfaceName(r.sandboxId));
    if (l.ok() && l->alias == r.sandboxId) doomed.push_back(l->index);
  }
  for (int index : doomed) {
    auto del = rtnl_.deleteLink(index);
    if (!ignorable(del, ErrorCode::kNotFound)) return del;
  }
  TRY(nat_.remove(nft_));
  if (bridge.ok()) {
    auto del = rtnl_.deleteLink(bridge->index);
    if (!ignorable(del, ErrorCode::kNotFound)) return del;
  }
  TRY(removeTree(config_.stateDir));
  destroyed_ = true;
  log::info("Removed the pod network", {{"bridge", config_.bridge}});
  return {};
}

}  // namespace

Result<std::unique_ptr<PodNetwork>> PodNetwork::open(const PodNetworkOptions& options) {
  Config config = TRY(validate(options));
  HostLocalIpam ipam = TRY(HostLocalIpam::open(config.stateDir + "/ipam", config.podCidr));
  RtnlSocket rtnl = TRY(RtnlSocket::open());
  nft::NftSocket nft = TRY(nft::NftSocket::open());
  auto network =
      std::make_unique<BridgePodNetwork>(config, std::move(ipam), std::move(rtnl), std::move(nft));
  auto ready = network->setUp();
  if (!ready.ok()) return std::move(ready).error().context("open pod network on " + config.bridge);
  log::info("Pod network ready", {{"bridge", config.bridge},
                                  {"podCIDR", config.podCidr.toString()},
                                  {"gateway", config.gateway.toString()}});
  return std::unique_ptr<PodNetwork>(std::move(network));
}

}  // namespace nave::network
