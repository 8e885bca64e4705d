// RtnlSocket: the rtnetlink operations the pod network needs (links, IPv4 addresses, routes,
// neighbours and a vxlan device's forwarding entries), each one netlink request on a socket
// bound to one network namespace.
//
// Links are named by ifindex once found (names can change, indexes cannot); `link(name)`
// finds them. Errors carry the kernel's errno mapped as usual (EEXIST -> kAlreadyExists;
// ENODEV, ENOENT, ESRCH (no route), EADDRNOTAVAIL (no address) -> kNotFound) and its extended
// message. Not thread-safe (see NetlinkSocket).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "network/netlink/ipv4.h"
#include "network/netlink/netlink_socket.h"
#include "network/netlink/netns.h"

namespace nave::network::netlink {

// An Ethernet (link-layer) address.
struct MacAddress {
  std::array<uint8_t, 6> bytes{};

  // "0a:1b:2c:3d:4e:5f" (hex digits in either case).
  static Result<MacAddress> parse(std::string_view text);
  std::string toString() const;  // lower case
  bool isZero() const { return bytes == std::array<uint8_t, 6>{}; }
  friend bool operator==(const MacAddress& a, const MacAddress& b) = default;
};

// A vxlan device's settings (`ip link add NAME type vxlan id VNI local IP dstport PORT dev
// UNDERLAY nolearning`).
struct VxlanSettings {
  uint32_t vni = 0;
  Ipv4Address local;      // the source address of encapsulated packets
  uint16_t port = 0;      // UDP destination port; 0 keeps the kernel's default
  int underlay = 0;       // ifindex of the device the packets leave by; 0: any
  bool learning = false;  // learn remote MACs from received packets
};

struct LinkInfo {
  int index = 0;
  std::string name;
  std::string kind;  // rtnl link kind: "bridge", "veth", "dummy"; empty for lo and hardware
  int master = 0;    // the bridge (or bond) this link is a port of; 0 when none
  int mtu = 0;
  bool up = false;  // administratively (IFF_UP)
  std::string alias;
  MacAddress mac;                      // zero when the link has none
  std::optional<VxlanSettings> vxlan;  // for kind "vxlan"
};

struct Ipv4Route {
  Ipv4Prefix destination{{0}, 0};  // 0.0.0.0/0: the default route
  std::optional<Ipv4Address> gateway;
  int outputInterface = 0;  // ifindex; 0 lets the kernel pick from the gateway
  // Who installed the route (rtm_protocol): RTPROT_BOOT (3) as `ip route add` says; programs
  // mark their routes with their own number to find them again (`ip route show proto N`).
  int protocol = 3;
  bool onlink = false;  // the gateway is on the link even if no address says so
};

// An IPv4 neighbour (ARP) entry.
struct Ipv4Neighbour {
  Ipv4Address ip;
  MacAddress mac;
  bool permanent = false;  // NUD_PERMANENT
};

// A forwarding entry of a vxlan device: frames for `mac` are sent to `destination`.
struct FdbEntry {
  MacAddress mac;
  std::optional<Ipv4Address> destination;
};

class RtnlSocket {
 public:
  // A socket acting on the calling thread's network namespace.
  static Result<RtnlSocket> open();
  // A socket acting on `ns`.
  static Result<RtnlSocket> openIn(const NetnsHandle& ns);

  // --- Links ---
  Result<LinkInfo> link(const std::string& name);  // kNotFound when there is none
  Result<LinkInfo> link(int index);
  Result<std::vector<LinkInfo>> links();

  // A new bridge, down; mtu 0 keeps the kernel's default. Returns its index.
  Result<int> createBridge(const std::string& name, int mtu);
  // A new veth pair, both ends down. The peer is created directly in `peerNetns` when given
  // (so that its name is checked against that namespace's links, not this one's). Returns the
  // index of `name` (the end in this namespace).
  Result<int> createVeth(const std::string& name, const std::string& peerName, int mtu,
                         const NetnsHandle* peerNetns = nullptr);
  Result<void> moveToNetns(int index, const NetnsHandle& ns);
  Result<void> rename(int index, const std::string& name);  // the link must be down
  Result<void> setUp(int index, bool up);
  Result<void> setMtu(int index, int mtu);
  Result<void> setMaster(int index, int masterIndex);  // 0 detaches from its bridge
  Result<void> setAlias(int index, const std::string& alias);
  // Hairpin ("reflective relay") on a bridge port: frames may leave by the port they came in.
  Result<void> setHairpin(int portIndex, bool on);
  // A new vxlan device, down; mtu 0 keeps the kernel's default. Returns its index.
  Result<int> createVxlan(const std::string& name, const VxlanSettings& settings, int mtu);
  // Deleting one end of a veth pair deletes the other.
  Result<void> deleteLink(int index);

  // --- IPv4 addresses ---
  // `address` is the interface address with its prefix length (10.42.0.1/24); the broadcast
  // address is set as `ip addr add ... brd +` would. kAlreadyExists when present.
  Result<void> addAddress(int index, const Ipv4Prefix& address);
  Result<std::vector<Ipv4Prefix>> addresses(int index);
  Result<void> deleteAddress(int index, const Ipv4Prefix& address);  // kNotFound when absent

  // --- IPv4 routes (main table) ---
  Result<void> addRoute(const Ipv4Route& route);      // kAlreadyExists when present
  Result<void> replaceRoute(const Ipv4Route& route);  // creates or replaces
  // Deletes the route to `route.destination`; its gateway, interface and protocol, when set,
  // must match. kNotFound when there is none.
  Result<void> deleteRoute(const Ipv4Route& route);
  Result<std::vector<Ipv4Route>> routes();

  // --- Neighbours of one link (`ip neigh ... dev LINK`) ---
  // Creates or replaces a permanent entry.
  Result<void> replaceNeighbour(int index, Ipv4Address ip, const MacAddress& mac);
  Result<void> deleteNeighbour(int index, Ipv4Address ip);  // kNotFound when absent
  Result<std::vector<Ipv4Neighbour>> neighbours(int index);

  // --- Forwarding entries of a vxlan device (`bridge fdb ... dev LINK self permanent`) ---
  // Creates the entry of `mac`, or points it at `destination`.
  Result<void> replaceFdb(int index, const MacAddress& mac, Ipv4Address destination);
  Result<void> deleteFdb(int index, const MacAddress& mac, Ipv4Address destination);
  Result<std::vector<FdbEntry>> fdb(int index);

 private:
  explicit RtnlSocket(NetlinkSocket nl) : nl_(std::move(nl)) {}
  Result<void> setLinkAttribute(int index, const char* what, uint16_t type, const void* data,
                                size_t len);
  Result<void> changeFlags(int index, unsigned flags, unsigned change);
  Result<void> routeRequest(const Ipv4Route& route, uint16_t type, uint16_t flags);
  Result<void> neighbourRequest(uint16_t type, uint16_t flags, uint8_t family, int index,
                                const MacAddress* mac, std::optional<Ipv4Address> ip);

  NetlinkSocket nl_;
};

}  // namespace nave::network::netlink
