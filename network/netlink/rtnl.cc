#include "network/netlink/rtnl.h"

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <cstdio>
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

int parseVxlanData(const nlattr* a, void* data) {
  auto& v = *static_cast<VxlanSettings*>(data);
  switch (mnl_attr_get_type(a)) {
    case IFLA_VXLAN_ID:
      if (mnl_attr_validate(a, MNL_TYPE_U32) == 0) v.vni = mnl_attr_get_u32(a);
      break;
    case IFLA_VXLAN_LOCAL:
      if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
        v.local = Ipv4Address::fromNetworkOrder(mnl_attr_get_u32(a));
      break;
    case IFLA_VXLAN_PORT:  // network byte order
      if (mnl_attr_validate(a, MNL_TYPE_U16) == 0) v.port = ntohs(mnl_attr_get_u16(a));
      break;
    case IFLA_VXLAN_LINK:
      if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
        v.underlay = static_cast<int>(mnl_attr_get_u32(a));
      break;
    case IFLA_VXLAN_LEARNING:
      if (mnl_attr_validate(a, MNL_TYPE_U8) == 0) v.learning = mnl_attr_get_u8(a) != 0;
      break;
  }
  return MNL_CB_OK;
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
          case IFLA_ADDRESS:
            if (mnl_attr_get_payload_len(attr) == link.mac.bytes.size())
              std::memcpy(link.mac.bytes.data(), mnl_attr_get_payload(attr), link.mac.bytes.size());
            break;
          case IFLA_LINKINFO:
            mnl_attr_parse_nested(
                attr,
                [](const nlattr* a, void* d) -> int {
                  auto& l = *static_cast<LinkInfo*>(d);
                  if (mnl_attr_get_type(a) == IFLA_INFO_KIND &&
                      mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
                    l.kind = mnl_attr_get_str(a);
                  if (mnl_attr_get_type(a) == IFLA_INFO_DATA)
                    mnl_attr_parse_nested(a, parseVxlanData, &l.vxlan.emplace());
                  return MNL_CB_OK;
                },
                data);
            break;
        }
        return MNL_CB_OK;
      },
      &out);
  if (out.kind != "vxlan") out.vxlan.reset();  // IFLA_INFO_DATA of another kind
  return true;
}

std::string linkWhat(const char* what, int index) {
  return std::string(what) + " of link " + std::to_string(index);
}

// Starts an RTM_NEWLINK creating `name` of `kind`: the header, the name, the MTU (when > 0)
// and IFLA_LINKINFO with its kind. Returns the open IFLA_LINKINFO nest: the caller adds its
// IFLA_INFO_DATA, if any, and ends it.
nlattr* beginNewLink(Message& m, const std::string& name, int mtu, const char* kind) {
  m.extraHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(m.nlh, IFLA_IFNAME, name.c_str());
  if (mtu > 0) mnl_attr_put_u32(m.nlh, IFLA_MTU, static_cast<uint32_t>(mtu));
  nlattr* info = mnl_attr_nest_start(m.nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(m.nlh, IFLA_INFO_KIND, kind);
  return info;
}

}  // namespace

Result<MacAddress> MacAddress::parse(std::string_view text) {
  MacAddress mac;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  bool ok = text.size() == 17;
  for (size_t i = 0; ok && i < 6; ++i) {
    int hi = hex(text[3 * i]), lo = hex(text[3 * i + 1]);
    ok = hi >= 0 && lo >= 0 && (i == 5 || text[3 * i + 2] == ':');
    mac.bytes[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  if (!ok) return Error(ErrorCode::kInvalid, "invalid MAC address \"" + std::string(text) + "\"");
  return mac;
}

std::string MacAddress::toString() const {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2],
                bytes[3], bytes[4], bytes[5]);
  return buf;
}

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
  nlattr* info = beginNewLink(m, name, mtu, "bridge");
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
  nlattr* info = beginNewLink(m, name, mtu, "veth");
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

Result<int> RtnlSocket::createVxlan(const std::string& name, const VxlanSettings& v, int mtu) {
  TRY(checkName(name));
  Message m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  nlattr* info = beginNewLink(m, name, mtu, "vxlan");
  nlattr* data = mnl_attr_nest_start(m.nlh, IFLA_INFO_DATA);
  mnl_attr_put_u32(m.nlh, IFLA_VXLAN_ID, v.vni);
  mnl_attr_put_u32(m.nlh, IFLA_VXLAN_LOCAL, v.local.networkOrder());
  if (v.port > 0) mnl_attr_put_u16(m.nlh, IFLA_VXLAN_PORT, htons(v.port));
  if (v.underlay > 0) mnl_attr_put_u32(m.nlh, IFLA_VXLAN_LINK, static_cast<uint32_t>(v.underlay));
  mnl_attr_put_u8(m.nlh, IFLA_VXLAN_LEARNING, v.learning ? 1 : 0);
  mnl_attr_nest_end(m.nlh, data);
  mnl_attr_nest_end(m.nlh, info);
  auto r = nl_.request(m.nlh);
  if (!r.ok()) return std::move(r).error().context("create vxlan device " + name);
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

Result<void> RtnlSocket::deleteAddress(int index, const Ipv4Prefix& address) {
  Message m(RTM_DELADDR, 0);
  auto* ifa = m.extraHeader<ifaddrmsg>();
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = static_cast<unsigned char>(address.length);
  ifa->ifa_index = static_cast<unsigned>(index);
  mnl_attr_put_u32(m.nlh, IFA_LOCAL, address.address.networkOrder());
  auto r = nl_.request(m.nlh);
  if (!r.ok()) {
    return std::move(r).error().context("delete address " + address.toString() + " of link " +
                                        std::to_string(index));
  }
  return {};
}

// --- Routes ---

Result<void> RtnlSocket::routeRequest(const Ipv4Route& route, uint16_t type, uint16_t flags) {
  Message m(type, flags);
  auto* rtm = m.extraHeader<rtmsg>();
  rtm->rtm_family = AF_INET;
  rtm->rtm_dst_len = static_cast<unsigned char>(route.destination.length);
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = static_cast<unsigned char>(route.protocol);
  if (route.onlink) rtm->rtm_flags |= RTNH_F_ONLINK;
  // A delete matches any scope given as RT_SCOPE_NOWHERE.
  rtm->rtm_scope = type == RTM_DELROUTE ? RT_SCOPE_NOWHERE
                   : route.gateway      ? RT_SCOPE_UNIVERSE
                                        : RT_SCOPE_LINK;
  rtm->rtm_type = RTN_UNICAST;
  if (route.destination.length > 0)
    mnl_attr_put_u32(m.nlh, RTA_DST, route.destination.network().networkOrder());
  if (route.gateway) mnl_attr_put_u32(m.nlh, RTA_GATEWAY, route.gateway->networkOrder());
  if (route.outputInterface > 0)
    mnl_attr_put_u32(m.nlh, RTA_OIF, static_cast<uint32_t>(route.outputInterface));
  auto r = nl_.request(m.nlh);
  if (!r.ok()) {
    std::string what =
        (type == RTM_DELROUTE ? "delete route " : "add route ") + route.destination.toString();
    if (route.gateway) what += " via " + route.gateway->toString();
    return std::move(r).error().context(what);
  }
  return {};
}

Result<void> RtnlSocket::addRoute(const Ipv4Route& route) {
  return routeRequest(route, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
}

Result<void> RtnlSocket::replaceRoute(const Ipv4Route& route) {
  return routeRequest(route, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
}

Result<void> RtnlSocket::deleteRoute(const Ipv4Route& route) {
  return routeRequest(route, RTM_DELROUTE, 0);
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
    p.route.protocol = rtm->rtm_protocol;
    p.route.onlink = (rtm->rtm_flags & RTNH_F_ONLINK) != 0;
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

// --- Neighbours and forwarding entries ---

Result<void> RtnlSocket::neighbourRequest(uint16_t type, uint16_t flags, uint8_t family, int index,
                                          const MacAddress* mac, std::optional<Ipv4Address> ip) {
  Message m(type, flags);
  auto* ndm = m.extraHeader<ndmsg>();
  ndm->ndm_family = family;
  ndm->ndm_ifindex = index;
  ndm->ndm_state = NUD_PERMANENT;
  // A bridge-family entry on the vxlan device itself (`self`), not on a bridge it is a port of.
  if (family == AF_BRIDGE) ndm->ndm_flags = NTF_SELF;
  if (family == AF_INET) ndm->ndm_type = RTN_UNICAST;
  if (ip) mnl_attr_put_u32(m.nlh, NDA_DST, ip->networkOrder());
  if (mac) mnl_attr_put(m.nlh, NDA_LLADDR, mac->bytes.size(), mac->bytes.data());
  auto r = nl_.request(m.nlh);
  if (!r.ok()) {
    std::string what = std::string(type == RTM_DELNEIGH ? "delete " : "set ") +
                       (family == AF_BRIDGE ? "forwarding entry " : "neighbour ") +
                       (family == AF_BRIDGE && mac ? mac->toString()
                        : ip                       ? ip->toString()
                                                   : "") +
                       " of link " + std::to_string(index);
    return std::move(r).error().context(what);
  }
  return {};
}

Result<void> RtnlSocket::replaceNeighbour(int index, Ipv4Address ip, const MacAddress& mac) {
  return neighbourRequest(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, AF_INET, index, &mac, ip);
}

Result<void> RtnlSocket::deleteNeighbour(int index, Ipv4Address ip) {
  return neighbourRequest(RTM_DELNEIGH, 0, AF_INET, index, nullptr, ip);
}

Result<void> RtnlSocket::replaceFdb(int index, const MacAddress& mac, Ipv4Address destination) {
  return neighbourRequest(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, AF_BRIDGE, index, &mac,
                          destination);
}

Result<void> RtnlSocket::deleteFdb(int index, const MacAddress& mac, Ipv4Address destination) {
  return neighbourRequest(RTM_DELNEIGH, 0, AF_BRIDGE, index, &mac, destination);
}

namespace {

// One neighbour message of a dump: its link, IPv4 destination (NDA_DST) and MAC (NDA_LLADDR).
struct ParsedNeighbour {
  int index = 0;
  uint16_t state = 0;
  std::optional<Ipv4Address> ip;
  MacAddress mac;
};

bool parseNeighbour(const nlmsghdr* nlh, ParsedNeighbour& out) {
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(ndmsg))) return false;
  const auto* ndm = static_cast<const ndmsg*>(mnl_nlmsg_get_payload(nlh));
  out.index = ndm->ndm_ifindex;
  out.state = ndm->ndm_state;
  mnl_attr_parse(
      nlh, sizeof(ndmsg),
      [](const nlattr* attr, void* data) -> int {
        auto& n = *static_cast<ParsedNeighbour*>(data);
        if (mnl_attr_get_type(attr) == NDA_DST && mnl_attr_get_payload_len(attr) == 4)
          n.ip = Ipv4Address::fromNetworkOrder(mnl_attr_get_u32(attr));
        if (mnl_attr_get_type(attr) == NDA_LLADDR &&
            mnl_attr_get_payload_len(attr) == n.mac.bytes.size())
          std::memcpy(n.mac.bytes.data(), mnl_attr_get_payload(attr), n.mac.bytes.size());
        return MNL_CB_OK;
      },
      &out);
  return true;
}

}  // namespace

Result<std::vector<Ipv4Neighbour>> RtnlSocket::neighbours(int index) {
  Message m(RTM_GETNEIGH, 0);
  m.extraHeader<ndmsg>()->ndm_family = AF_INET;
  std::vector<Ipv4Neighbour> out;
  auto r = nl_.dump(m.nlh, [&](const nlmsghdr* nlh) {
    if (nlh->nlmsg_type != RTM_NEWNEIGH) return true;
    ParsedNeighbour n;
    if (!parseNeighbour(nlh, n)) return false;
    if (n.index == index && n.ip) out.push_back({*n.ip, n.mac, (n.state & NUD_PERMANENT) != 0});
    return true;
  });
  if (!r.ok())
    return std::move(r).error().context("list neighbours of link " + std::to_string(index));
  return out;
}

Result<std::vector<FdbEntry>> RtnlSocket::fdb(int index) {
  // Every bridge-family entry of the namespace (the kernel filters by device only for an
  // ifinfomsg-shaped request); this link's are picked here.
  Message m(RTM_GETNEIGH, 0);
  m.extraHeader<ndmsg>()->ndm_family = AF_BRIDGE;
  std::vector<FdbEntry> out;
  auto r = nl_.dump(m.nlh, [&](const nlmsghdr* nlh) {
    if (nlh->nlmsg_type != RTM_NEWNEIGH) return true;
    ParsedNeighbour n;
    if (!parseNeighbour(nlh, n)) return false;
    if (n.index == index) out.push_back({n.mac, n.ip});
    return true;
  });
  if (!r.ok())
    return std::move(r).error().context("list forwarding entries of link " + std::to_string(index));
  return out;
}

}  // namespace nave::network::netlink
