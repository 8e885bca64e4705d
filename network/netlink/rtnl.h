// RtnlSocket: the rtnetlink operations the pod network needs (links, IPv4 addresses and
// routes), each one netlink request on a socket bound to one network namespace.
//
// Links are named by ifindex once found (names can change, indexes cannot); `link(name)`
// finds them. Errors carry the kernel's errno mapped as usual (EEXIST -> kAlreadyExists,
// ENODEV/ENOENT -> kNotFound) and its extended message. Not thread-safe (see NetlinkSocket).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "network/netlink/ipv4.h"
#include "network/netlink/netlink_socket.h"
#include "network/netlink/netns.h"

namespace nave::network::netlink {

struct LinkInfo {
  int index = 0;
  std::string name;
  std::string kind;  // rtnl link kind: "bridge", "veth", "dummy"; empty for lo and hardware
  int master = 0;    // the bridge (or bond) this link is a port of; 0 when none
  int mtu = 0;
  bool up = false;  // administratively (IFF_UP)
  std::string alias;
};

struct Ipv4Route {
  Ipv4Prefix destination{{0}, 0};  // 0.0.0.0/0: the default route
  std::optional<Ipv4Address> gateway;
  int outputInterface = 0;  // ifindex; 0 lets the kernel pick from the gateway
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
  // Deleting one end of a veth pair deletes the other.
  Result<void> deleteLink(int index);

  // --- IPv4 addresses ---
  // `address` is the interface address with its prefix length (10.42.0.1/24); the broadcast
  // address is set as `ip addr add ... brd +` would. kAlreadyExists when present.
  Result<void> addAddress(int index, const Ipv4Prefix& address);
  Result<std::vector<Ipv4Prefix>> addresses(int index);

  // --- IPv4 routes (main table) ---
  Result<void> addRoute(const Ipv4Route& route);      // kAlreadyExists when present
  Result<void> replaceRoute(const Ipv4Route& route);  // creates or replaces
  Result<std::vector<Ipv4Route>> routes();

 private:
  explicit RtnlSocket(NetlinkSocket nl) : nl_(std::move(nl)) {}
  Result<void> setLinkAttribute(int index, const char* what, uint16_t type, const void* data,
                                size_t len);
  Result<void> changeFlags(int index, unsigned flags, unsigned change);
  Result<void> routeRequest(const Ipv4Route& route, uint16_t flags);

  NetlinkSocket nl_;
};

}  // namespace nave::network::netlink
