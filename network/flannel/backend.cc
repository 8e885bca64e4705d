#include "network/flannel/backend.h"

#include <chrono>
#include <map>
#include <optional>

#include "common/log.h"
#include "network/netlink/rtnl.h"

namespace nave::network::flannel {
namespace {

using netlink::Ipv4Route;
using netlink::MacAddress;
using netlink::RtnlSocket;

constexpr int kDefaultMtu = 1500;

// The device holding `ip` (the node's own), if any.
Result<std::optional<netlink::LinkInfo>> linkWithAddress(RtnlSocket& rtnl, Ipv4Address ip) {
  for (const netlink::LinkInfo& link : TRY(rtnl.links())) {
    for (const Ipv4Prefix& a : TRY(rtnl.addresses(link.index)))
      if (a.address == ip) return std::optional<netlink::LinkInfo>(link);
  }
  return std::optional<netlink::LinkInfo>();
}

bool sameSettings(const netlink::VxlanSettings& a, const netlink::VxlanSettings& b) {
  return a.vni == b.vni && a.local == b.local && a.port == b.port && a.learning == b.learning &&
         a.underlay == b.underlay;
}

// What one remote node needs.
struct Want {
  Ipv4Route route;
  std::optional<MacAddress> mac;  // vxlan
  Ipv4Address publicIp;
};

class RouteBackend final : public Backend {
 public:
  RouteBackend(BackendOptions options, RtnlSocket rtnl, int mtu)
      : options_(std::move(options)), rtnl_(std::move(rtnl)), underlayMtu_(mtu) {}

  Result<void> setUpVxlan(int underlay);
  Result<void> removeVxlan();

  int podMtu() const override { return vxlan() ? underlayMtu_ - kVxlanOverhead : underlayMtu_; }
  Json annotations() const override;
  Result<void> sync(const std::vector<Lease>& leases) override;
  Result<void> destroy() override;

 private:
  bool vxlan() const { return options_.type == "vxlan"; }
  Result<void> syncVxlanEntries(const std::map<uint32_t, Want>& want);

  const BackendOptions options_;
  RtnlSocket rtnl_;
  int underlayMtu_;
  int device_ = 0;  // vxlan: flannel.1's index
  MacAddress mac_;  // vxlan: flannel.1's address
};

Result<void> RouteBackend::setUpVxlan(int underlay) {
  netlink::VxlanSettings want{options_.vni, options_.nodeIp, options_.port, underlay, false};
  int mtu = underlayMtu_ - kVxlanOverhead;
  auto existing = rtnl_.link(options_.vxlanDevice);
  if (existing.ok() && existing->vxlan && sameSettings(*existing->vxlan, want)) {
    device_ = existing->index;
    if (existing->mtu != mtu) TRY(rtnl_.setMtu(device_, mtu));
  } else {
    if (existing.ok()) {
      log::warning("Recreating a vxlan device whose settings differ",
                   {{"device", options_.vxlanDevice}, {"kind", existing->kind}});
      TRY(rtnl_.deleteLink(existing->index));
    } else if (!existing.error().is(ErrorCode::kNotFound)) {
      return std::move(existing).error();
    }
    device_ = TRY(rtnl_.createVxlan(options_.vxlanDevice, want, mtu));
  }
  // Its one address: this node's pod network address as a /32 (another, from an earlier pod
  // CIDR, goes).
  Ipv4Prefix address{options_.podCidr.network(), 32};
  bool present = false;
  for (const Ipv4Prefix& a : TRY(rtnl_.addresses(device_))) {
    if (a == address) {
      present = true;
    } else {
      TRY(rtnl_.deleteAddress(device_, a));
    }
  }
  if (!present) TRY(rtnl_.addAddress(device_, address));
  TRY(rtnl_.setUp(device_, true));
  mac_ = TRY(rtnl_.link(device_)).mac;
  return {};
}

Result<void> RouteBackend::removeVxlan() {
  auto existing = rtnl_.link(options_.vxlanDevice);
  if (!existing.ok())
    return existing.error().is(ErrorCode::kNotFound) ? Result<void>() : existing.error();
  if (existing->kind != "vxlan") return {};  // not ours
  log::info("Removing the vxlan device of an earlier backend", {{"device", options_.vxlanDevice}});
  return rtnl_.deleteLink(existing->index);
}

Json RouteBackend::annotations() const {
  Json data = vxlan() ? Json{{"VNI", options_.vni}, {"VtepMAC", mac_.toString()}} : Json(nullptr);
  return Json{{kBackendTypeAnnotation, options_.type},
              {kBackendDataAnnotation, dumpJson(data)},
              {kPublicIpAnnotation, options_.nodeIp.toString()},
              {kSubnetManagerAnnotation, "true"}};
}

Result<void> RouteBackend::sync(const std::vector<Lease>& leases) {
  auto t0 = std::chrono::steady_clock::now();
  // Wanted routes by destination network address.
  std::map<uint32_t, Want> want;
  for (const Lease& l : leases) {
    if (l.node == options_.nodeName) continue;
    if (!l.backendType.empty() && l.backendType != options_.type) {
      log::v(2, "Skipping a node of another flannel backend",
             {{"node", l.node}, {"backend", l.backendType}});
      continue;
    }
    Want w;
    w.publicIp = l.publicIp;
    w.route.destination = l.podCidr;
    w.route.protocol = kRouteProtocol;
    if (vxlan()) {
      if (!l.vtepMac) continue;  // not annotated yet: its update will come
      w.mac = l.vtepMac;
      w.route.gateway = l.podCidr.network();
      w.route.outputInterface = device_;
      w.route.onlink = true;
    } else {
      w.route.gateway = l.publicIp;
    }
    want[l.podCidr.network().value] = w;
  }

  // Routes of nave's that lead nowhere wanted go; those that differ are replaced below.
  std::map<uint32_t, Ipv4Route> have;
  for (const Ipv4Route& r : TRY(rtnl_.routes())) {
    if (r.protocol != kRouteProtocol) continue;
    auto it = want.find(r.destination.address.value);
    bool wanted = it != want.end() && it->second.route.destination == r.destination &&
                  it->second.route.gateway == r.gateway &&
                  (!vxlan() || r.outputInterface == device_);
    if (wanted) {
      have[r.destination.address.value] = r;
      continue;
    }
    auto del = rtnl_.deleteRoute(r);
    if (!del.ok() && !del.error().is(ErrorCode::kNotFound)) return del;
    log::v(2, "Removed a pod route", {{"destination", r.destination.toString()}});
  }
  if (vxlan()) TRY(syncVxlanEntries(want));

  std::optional<Error> first;
  int added = 0;
  for (const auto& [key, w] : want) {
    if (have.contains(key)) continue;
    // vxlan: the neighbour and forwarding entries exist by now (the kernel would otherwise
    // try to resolve the gateway the moment the route appears).
    auto r = rtnl_.replaceRoute(w.route);
    if (!r.ok()) {
      log::warning("Cannot route to a node's pods", {{"podCIDR", w.route.destination.toString()},
                                                     {"nodeIP", w.publicIp.toString()},
                                                     {"error", r.error().message()}});
      if (!first) first = r.error();
      continue;
    }
    ++added;
  }
  if (added > 0) {
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0);
    log::info("Programmed routes to other nodes' pods",
              {{"backend", options_.type},
               {"added", added},
               {"nodes", static_cast<int64_t>(want.size())},
               {"ms", ms.count()}});
  }
  if (first) return *first;
  return {};
}

Result<void> RouteBackend::syncVxlanEntries(const std::map<uint32_t, Want>& want) {
  // Neighbours: remote pod network address -> VtepMAC.
  std::map<uint32_t, MacAddress> neighbours;
  for (const netlink::Ipv4Neighbour& n : TRY(rtnl_.neighbours(device_))) {
    auto it = want.find(n.ip.value);
    if (it != want.end() && n.permanent && n.mac == *it->second.mac) {
      neighbours[n.ip.value] = n.mac;
      continue;
    }
    if (it != want.end()) continue;  // replaced below
    auto del = rtnl_.deleteNeighbour(device_, n.ip);
    if (!del.ok() && !del.error().is(ErrorCode::kNotFound)) return del;
  }
  // Forwarding entries: VtepMAC -> remote node IP.
  std::map<std::string, Ipv4Address> wantFdb;
  for (const auto& [key, w] : want) wantFdb[w.mac->toString()] = w.publicIp;
  std::map<std::string, Ipv4Address> fdb;
  for (const netlink::FdbEntry& e : TRY(rtnl_.fdb(device_))) {
    if (!e.destination) continue;  // the kernel's own entries (none with nolearning)
    auto it = wantFdb.find(e.mac.toString());
    if (it != wantFdb.end() && it->second == *e.destination) {
      fdb[it->first] = *e.destination;
      continue;
    }
    auto del = rtnl_.deleteFdb(device_, e.mac, *e.destination);
    if (!del.ok() && !del.error().is(ErrorCode::kNotFound)) return del;
  }
  for (const auto& [key, w] : want) {
    if (!neighbours.contains(key))
      TRY(rtnl_.replaceNeighbour(device_, w.route.gateway.value(), *w.mac));
    if (!fdb.contains(w.mac->toString())) TRY(rtnl_.replaceFdb(device_, *w.mac, w.publicIp));
  }
  return {};
}

Result<void> RouteBackend::destroy() {
  TRY(sync({}));
  if (vxlan()) TRY(removeVxlan());
  return {};
}

}  // namespace

Result<std::unique_ptr<Backend>> Backend::open(const BackendOptions& options) {
  if (options.type != "host-gw" && options.type != "vxlan")
    return Error(ErrorCode::kInvalid,
                 "unknown flannel backend \"" + options.type + "\" (host-gw or vxlan)");
  RtnlSocket rtnl = TRY(RtnlSocket::open());
  auto underlay = TRY(linkWithAddress(rtnl, options.nodeIp));
  if (!underlay)
    log::warning("No device holds the node IP: assuming an MTU of 1500",
                 {{"nodeIP", options.nodeIp.toString()}});
  int mtu = underlay && underlay->mtu > 0 ? underlay->mtu : kDefaultMtu;
  auto backend = std::make_unique<RouteBackend>(options, std::move(rtnl), mtu);
  auto ready = options.type == "vxlan" ? backend->setUpVxlan(underlay ? underlay->index : 0)
                                       : backend->removeVxlan();
  if (!ready.ok()) return std::move(ready).error().context("open the " + options.type + " backend");
  log::info("Flannel backend ready", {{"backend", options.type},
                                      {"podCIDR", options.podCidr.toString()},
                                      {"podMTU", backend->podMtu()}});
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace nave::network::flannel
