// ClusterDns: the node's share of the cluster DNS, run by the agent on every node (in place of
// k3s' CoreDNS Deployment). It keeps a ClusterZone current from the shared Service,
// EndpointSlice, Namespace and Node informers (no API call per query), serves it with a
// DnsServer on the node's pod bridge gateway (the first address of its pod CIDR, e.g. 10.42.0.1)
// port 53 UDP and TCP, forwards other names to the --resolv-conf nameservers, and publishes the
// EndpointSlice kube-system/kube-dns-NODE: the kube-dns Service (no selector, internalTrafficPolicy
// Local, created by the server) then has one endpoint per node, and the service proxy sends each
// pod's queries for the cluster DNS address to its own node's server.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "server/client/client.h"
#include "server/controllers/informer_factory.h"

namespace nave::dns {

struct ClusterDnsOptions {
  std::string nodeName;
  std::string podCidr = "10.42.0.0/24";  // the server listens on its first address
  std::string clusterDns = "10.43.0.10";
  std::string clusterDomain = "cluster.local";
  std::string resolvConf = "/etc/resolv.conf";
  uint16_t port = 53;
};

inline constexpr const char* kDnsServiceName = "kube-dns";
inline constexpr const char* kDnsNamespace = "kube-system";

class ClusterDns {
 public:
  // Registers with the informers of `informers` (before the factory starts). kInvalid for a
  // pod CIDR or DNS address that does not parse.
  static Result<std::unique_ptr<ClusterDns>> create(client::Client& client,
                                                    controllers::InformerFactory& informers,
                                                    ClusterDnsOptions options);
  virtual ~ClusterDns() = default;
  // Binds the sockets (the pod bridge must have its address) and publishes the EndpointSlice.
  // Call once the informers have synced, in the node's network namespace.
  virtual Result<void> start() = 0;
  virtual void stop() = 0;
};

// The EndpointSlice a node publishes for the kube-dns Service (`nodeUid` for its owner
// reference, so that the garbage collector removes it with the Node).
Json nodeDnsEndpointSlice(const std::string& nodeName, const std::string& nodeUid,
                          const std::string& address);

}  // namespace nave::dns
