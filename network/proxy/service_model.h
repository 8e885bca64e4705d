// What the service proxy needs of a Service and its EndpointSlices, read out of the API objects
// once (kube-proxy's ServicePort and Endpoint infos). IPv4 only: IPv6 addresses are skipped.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/json.h"
#include "network/netlink/ipv4.h"

namespace nave::network::proxy {

struct Endpoint {
  Ipv4Address ip;
  uint16_t port = 0;
  // EndpointSlice conditions, with the API's defaults for absent ones (ready: true, serving:
  // as ready, terminating: false).
  bool ready = true, serving = true, terminating = false;
  std::string nodeName;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

struct ServicePort {
  std::string name;      // the port's name, "" for a lone unnamed port
  uint8_t protocol = 0;  // IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP
  uint16_t port = 0;
  uint16_t nodePort = 0;            // 0: none
  std::vector<Endpoint> endpoints;  // sorted, without duplicates
};

struct Service {
  std::string ns, name;
  bool hasClusterIp = false;  // false: headless ("None") or ExternalName
  Ipv4Address clusterIp;
  std::vector<Ipv4Address> externalIps;      // spec.externalIPs
  std::vector<Ipv4Address> loadBalancerIps;  // status.loadBalancer.ingress[].ip
  bool internalLocal = false;                // internalTrafficPolicy: Local
  bool externalLocal = false;    // externalTrafficPolicy: Local (NodePort, LoadBalancer)
  uint32_t affinitySeconds = 0;  // sessionAffinity ClientIP's timeout; 0: no affinity
  std::vector<ServicePort> ports;

  std::string key() const { return ns + "/" + name; }
};

// The Service as the proxy sees it, with the endpoints of `slices` (the EndpointSlices labelled
// kubernetes.io/service-name with its name). Nothing to proxy (an ExternalName Service, or
// only IPv6) gives a Service without ports.
Service parseService(const Json& service, const std::vector<Json>& slices);

// The endpoints traffic goes to (kube-proxy's CategorizeEndpoints without topology hints): the
// ready ones; when there are none, the serving and terminating ones (so that connections drain
// during a rollout). `onlyNode` keeps those of one node.
std::vector<Endpoint> usableEndpoints(const std::vector<Endpoint>& all,
                                      const std::string* onlyNode = nullptr);

}  // namespace nave::network::proxy
