#include "network/netlink/rtnl.h"

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sys/socket.h>

#include <cstring>

namespace nave::network::netlink {

namespace {

// A request buffer: rtnetlink requests here are a header and a few attributes.
struct Message {
  alignas(nlmsghdr) char buf[8192];
  nlmsghdr* nlh;

  Message(uint16_t type, uint16_t flags) {
    nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = flags;
  }
  template <typename T>
  T* extraHeader() {
    auto* h = static_cast<T*>(mnl_nlmsg_put_extra_header(nlh, sizeof(T)));
    return h;
  }
};

Result<void> checkName(const std::string& name) {
  // IFNAMSIZ counts the terminating NUL; '/' and whitespace are refused by the kernel too,
  // but with a less helpful EINVAL.
  bool ok = !name.empty() && name.size() < IFNAMSIZ && name != "." && name != "..";
  for (char c : name) ok = ok && c != '/' && c != ':' && c > ' ' && c < 0x7f;
  if (!ok) return Error(ErrorCode::kInvalid, "invalid interface name \"" + name + "\"");
  return {};
}

bool parseLink(const nlmsghdr* nlh, LinkInfo& out) {
  if (nlh->nlmsg_type != RTM_NEWLINK) return true;
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(ifinfomsg))) return false;
  const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  out = LinkInfo{};
  out.index = ifi->ifi_index;
  out.up = (ifi->ifi_flags & IFF_UP) != 0;
  mnl_attr_parse(
      nlh, sizeof(ifinfomsg),
      [](const nlattr* attr, void* data) -> int {
        auto& link = *static_cast<LinkInfo*>(data);
        switch (mnl_attr_get_type(attr)) {
          case IFLA_IFNAME:
            if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
              link.name = mnl_attr_get_str(attr);
            break;
          case IFLA_IFALIAS:
            if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
              link.alias = mnl_attr_get_str(attr);
            break;
          case IFLA_MTU:
            if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
              link.mtu = static_cast<int>(mnl_attr_get_u32(attr));
            break;
          case IFLA_MASTER:
            if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
              link.master = static_cast<int>(mnl_attr_get_u32(attr));
            break;
          case IFLA_LINKINFO:
            mnl_attr_parse_nested(
                attr,
                [](const nlattr* a, void* d) -> int {
                  if (mnl_attr_get_type(a) == IFLA_INFO_KIND &&
                      mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
                    static_cast<LinkInfo*>(d)->kind = mnl_attr_get_str(a);
                  return MNL_CB_OK;
                },
                data);
            break;
        }
        return MNL_CB_OK;
      },
      &out);
  return true;
}

std::string linkWhat(const char* what, int index) {
  return std::string(what) + " of link " + std::to_string(index);
}

}  // namespace

Result<RtnlSocket> RtnlSocket::open() {
  return RtnlSocket(TRY(NetlinkSocket::open(NETLINK_ROUTE)));
}

Result<RtnlSocket> RtnlSocket::openIn(const NetnsHandle& ns) {
  return RtnlSocket(TRY(NetlinkSocket::openIn(NETLINK_ROUTE, ns)));
}

// --- Links ---

Result<LinkInfo> RtnlSocket::link(const std::string& name) {
  TRY(checkName(name));
  Message m(RTM_GETLINK, 0);
  m.extraHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(m.nlh, IFLA_IFNAME, name.c_str());
  LinkInfo out;
  auto r = nl_.request(m.nlh, [&](const nlmsghdr* nlh) { return parseLink(nlh, out); });
  if (!r.ok()) return std::move(r).error().context("find link " + name);
  if (out.index == 0) return Error(ErrorCode::kNotFound, "find link " + name + ": no reply");
  return out;
}

Result<LinkInfo> RtnlSocket::link(int index) {
  Message m(RTM_GETLINK, 0);
  m.extraHeader<ifinfomsg>()->ifi_index = index;
  LinkInfo out;
  auto r = nl_.request(m.nlh, [&](const nlmsghdr* nlh) { return parseLink(nlh, out); });
  if (!r.ok()) return std::move(r).error().context("find link " + std::to_string(index));
  if (out.index == 0) return Error(ErrorCode::kNotFound, "find link " + std::to_string(index));
  return out;
}

Result<std::vector<LinkInfo>> RtnlSocket::links() {
  Message m(RTM_GETLINK, 0);
  m.extraHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
  std::vector<LinkInfo> out;
  auto r = nl_.dump(m.nlh, [&](const nlmsghdr* nlh) {
    LinkInfo l;
    if (!parseLink(nlh, l)) return false;
    if (l.index != 0) out.push_back(std::move(l));
    return true;
  });
  if (!r.ok()) return std::move(r).error().context("list links");
  return out;
}

Result<int> RtnlSocket::createBridge(const std::string& name, int mtu) {
  TRY(checkName(name));
  Message m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  m.extraHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(m.nlh, IFLA_IFNAME, name.c_str());
  if (mtu > 0) mnl_attr_put_u32(m.nlh, IFLA_MTU, static_cast<uint32_t>(mtu));
  nlattr* info = mnl_attr_nest_start(m.nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(m.nlh, IFLA_INFO_KIND, "bridge");
  mnl_attr_nest_end(m.nlh, info);
  auto r = nl_.request(m.nlh);
  if (!r.ok()) return std::move(r).error().context("create bridge " + name);
  return TRY(link(name)).index;
}

Result<int> RtnlSocket::createVeth(const std::string& name, const std::string& peerName, int mtu,
                                   const NetnsHandle* peerNetns) {
  TRY(checkName(name));
  TRY(checkName(peerName));
  Message m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  m.extraHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(m.nlh, IFLA_IFNAME, name.c_str());
  if (mtu > 0) mnl_attr_put_u32(m.nlh, IFLA_MTU, static_cast<uint32_t>(mtu));
  nlattr* info = mnl_attr_nest_start(m.nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(m.nlh, IFLA_INFO_KIND, "veth");
  nlattr* data = mnl_attr_nest_start(m.nlh, IFLA_INFO_DATA);
  // VETH_INFO_PEER holds a whole link description: an ifinfomsg, then its attributes.
  nlattr* peer = mnl_attr_nest_start(m.nlh, VETH_INFO_PEER);
  std::memset(mnl_nlmsg_get_payload_tail(m.nlh), 0, MNL_ALIGN(sizeof(ifinfomsg)));
  m.nlh->nlmsg_len += MNL_ALIGN(sizeof(ifinfomsg));
  mnl_attr_put_strz(m.nlh, IFLA_IFNAME, peerName.c_str());
  if (mtu > 0) mnl_attr_put_u32(m.nlh, IFLA_MTU, static_cast<uint32_t>(mtu));
  if (peerNetns) mnl_attr_put_u32(m.nlh, IFLA_NET_NS_FD, static_cast<uint32_t>(peerNetns->fd()));
  mnl_attr_nest_end(m.nlh, peer);
  mnl_attr_nest_end(m.nlh, data);
  mnl_attr_nest_end(m.nlh, info);
  auto r = nl_.request(m.nlh);
  if (!r.ok()) return std::move(r).error().context("create veth pair " + name + "/" + peerName);
  return TRY(link(name)).index;
}

Result<void> RtnlSocket::setLinkAttribute(int index, const char* what, uint16_t type,
                                          const void* data, size_t len) {
  Message m(RTM_NEWLINK, 0);
  auto* ifi = m.extraHeader<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  mnl_attr_put(m.nlh, type, len, data);
  auto r = nl_.request(m.nlh);
  if (!r.ok()) return std::move(r).error().context(linkWhat(what, index));
  return {};
}

Result<void> RtnlSocket::moveToNetns(int index, const NetnsHandle& ns) {
  uint32_t fd = static_cast<uint32_t>(ns.fd());
  return setLinkAttribute(index, "move to another network namespace", IFLA_NET_NS_FD, &fd,
                          sizeof fd);
}

Result<void> RtnlSocket::rename(int index, const std::string& name) {
  TRY(checkName(name));
  return setLinkAttribute(index, ("rename to " + name).c_str(), IFLA_IFNAME, name.c_str(),
                          name.size() + 1);
}

Result<void> RtnlSocket::changeFlags(int index, unsigned flags, unsigned change) {
  Message m(RTM_NEWLINK, 0);
  auto* ifi = m.extraHeader<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  ifi->ifi_flags = flags;
  ifi->ifi_change = change;
  auto r = nl_.request(m.nlh);
  if (!r.ok()) return std::move(r).error().context(linkWhat("set flags", index));
  return {};
}

Result<void> RtnlSocket::setUp(int index, bool up) {
  return changeFlags(index, up ? IFF_UP : 0, IFF_UP);
}

Result<void> RtnlSocket::setMtu(int index, int mtu) {
  uint32_t v = static_cast<uint32_t>(mtu);
  return setLinkAttribute(index, "set MTU", IFLA_MTU, &v, sizeof v);
}

Result<void> RtnlSocket::setMaster(int index, int masterIndex) {
  uint32_t v = static_cast<uint32_t>(masterIndex);
  return setLinkAttribute(index, "set master", IFLA_MASTER, &v, sizeof v);
}

Result<void> RtnlSocket::setAlias(int index, const std::string& alias) {
  return setLinkAttribute(index, "set alias", IFLA_IFALIAS, alias.c_str(), alias.size() + 1);
}

Result<void> RtnlSocket::setHairpin(int portIndex, bool on) {
  // As `bridge link set dev X hairpin on`: an AF_BRIDGE setlink with the port's options
  // nested in IFLA_PROTINFO (the nested flag selects the per-option form).
  Message m(RTM_SETLINK, 0);
  auto* ifi = m.extraHeader<ifinfomsg>();
  ifi->ifi_family = AF_BRIDGE;
  ifi->ifi_index = portIndex;
  nlattr* info = mnl_attr_nest_start(m.nlh, IFLA_PROTINFO);
  mnl_attr_put_u8(m.nlh, IFLA_BRPORT_MODE, on ? 1 : 0);
  mnl_attr_nest_end(m.nlh, info);
  auto r = nl_.request(m.nlh);
  if (!r.ok()) return std::move(r).error().context(linkWhat("set hairpin mode", portIndex));
  return {};
}

Result<void> RtnlSocket::deleteLink(int index) {
  Message m(RTM_DELLINK, 0);
  auto* ifi = m.extraHeader<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  auto r = nl_.request(m.nlh);
  if (!r.ok()) return std::move(r).error().context(linkWhat("delete", index));
  return {};
}

// --- Addresses ---

Result<void> RtnlSocket::addAddress(int index, const Ipv4Prefix& address) {
  Message m(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  auto* ifa = m.extraHeader<ifaddrmsg>();
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = static_cast<unsigned char>(address.length);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<unsigned>(index);
  uint32_t local = address.address.networkOrder();
  mnl_attr_put_u32(m.nlh, IFA_LOCAL, local);
  mnl_attr_put_u32(m.nlh, IFA_ADDRESS, local);
  if (address.length < 31)
    mnl_attr_put_u32(m.nlh, IFA_BROADCAST, address.broadcast().networkOrder());
  auto r = nl_.request(m.nlh);
  if (!r.ok()) {
    return std::move(r).error().context("add address " + address.toString() + " to link " +
                                        std::to_string(index));
  }
  return {};
}

Result<std::vector<Ipv4Prefix>> RtnlSocket::addresses(int index) {
  Message m(RTM_GETADDR, 0);
  m.extraHeader<ifaddrmsg>()->ifa_family = AF_INET;
  std::vector<Ipv4Prefix> out;
  auto r = nl_.dump(m.nlh, [&](const nlmsghdr* nlh) {
    if (nlh->nlmsg_type != RTM_NEWADDR) return true;
    if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(ifaddrmsg))) return false;
    const auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(nlh));
    if (ifa->ifa_family != AF_INET || static_cast<int>(ifa->ifa_index) != index) return true;
    struct Parsed {
      std::optional<uint32_t> local, address;
    } p;
    mnl_attr_parse(
        nlh, sizeof(ifaddrmsg),
        [](const nlattr* attr, void* data) -> int {
          auto& p = *static_cast<Parsed*>(data);
          if (mnl_attr_validate(attr, MNL_TYPE_U32) != 0) return MNL_CB_OK;
          if (mnl_attr_get_type(attr) == IFA_LOCAL) p.local = mnl_attr_get_u32(attr);
          if (mnl_attr_get_type(attr) == IFA_ADDRESS) p.address = mnl_attr_get_u32(attr);
          return MNL_CB_OK;
        },
        &p);
    // IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer's on point-to-point).
    auto a = p.local ? p.local : p.address;
    if (a) out.push_back({Ipv4Address::fromNetworkOrder(*a), ifa->ifa_prefixlen});
    return true;
  });
  if (!r.ok())
    return std::move(r).error().context("list addresses of link " + std::to_string(index));
  return out;
}

// --- Routes ---

Result<void> RtnlSocket::routeRequest(const Ipv4Route& route, uint16_t flags) {
  Message m(RTM_NEWROUTE, flags);
  auto* rtm = m.extraHeader<rtmsg>();
  rtm->rtm_family = AF_INET;
  rtm->rtm_dst_len = static_cast<unsigned char>(route.destination.length);
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_BOOT;
  rtm->rtm_scope = route.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  rtm->rtm_type = RTN_UNICAST;
  if (route.destination.length > 0)
    mnl_attr_put_u32(m.nlh, RTA_DST, route.destination.network().networkOrder());
  if (route.gateway) mnl_attr_put_u32(m.nlh, RTA_GATEWAY, route.gateway->networkOrder());
  if (route.outputInterface > 0)
    mnl_attr_put_u32(m.nlh, RTA_OIF, static_cast<uint32_t>(route.outputInterface));
  auto r = nl_.request(m.nlh);
  if (!r.ok()) {
    std::string what = "add route " + route.destination.toString();
    if (route.gateway) what += " via " + route.gateway->toString();
    return std::move(r).error().context(what);
  }
  return {};
}

Result<void> RtnlSocket::addRoute(const Ipv4Route& route) {
  return routeRequest(route, NLM_F_CREATE | NLM_F_EXCL);
}

Result<void> RtnlSocket::replaceRoute(const Ipv4Route& route) {
  return routeRequest(route, NLM_F_CREATE | NLM_F_REPLACE);
}

Result<std::vector<Ipv4Route>> RtnlSocket::routes() {
  Message m(RTM_GETROUTE, 0);
  m.extraHeader<rtmsg>()->rtm_family = AF_INET;
  std::vector<Ipv4Route> out;
  auto r = nl_.dump(m.nlh, [&](const nlmsghdr* nlh) {
    if (nlh->nlmsg_type != RTM_NEWROUTE) return true;
    if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(rtmsg))) return false;
    const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
    if (rtm->rtm_family != AF_INET || rtm->rtm_type != RTN_UNICAST) return true;
    struct Parsed {
      Ipv4Route route;
      uint32_t table;
    } p{{}, rtm->rtm_table};
    p.route.destination.length = rtm->rtm_dst_len;
    mnl_attr_parse(
        nlh, sizeof(rtmsg),
        [](const nlattr* attr, void* data) -> int {
          auto& p = *static_cast<Parsed*>(data);
          if (mnl_attr_validate(attr, MNL_TYPE_U32) != 0) return MNL_CB_OK;
          uint32_t v = mnl_attr_get_u32(attr);
          switch (mnl_attr_get_type(attr)) {
            case RTA_DST:
              p.route.destination.address = Ipv4Address::fromNetworkOrder(v);
              break;
            case RTA_GATEWAY:
              p.route.gateway = Ipv4Address::fromNetworkOrder(v);
              break;
            case RTA_OIF:
              p.route.outputInterface = static_cast<int>(v);
              break;
            case RTA_TABLE:
              p.table = v;
              break;
          }
          return MNL_CB_OK;
        },
        &p);
    if (p.table == RT_TABLE_MAIN) out.push_back(p.route);
    return true;
  });
  if (!r.ok()) return std::move(r).error().context("list routes");
  return out;
}

}  // namespace nave::network::netlink
