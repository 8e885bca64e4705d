// ClusterZone: the cluster's DNS zone (--cluster-domain, default cluster.local) as the
// Kubernetes DNS-based service discovery specification and CoreDNS' kubernetes plugin (with
// `pods insecure`, as k3s configures it) define it, built from Service and EndpointSlice
// objects:
//   SVC.NS.svc.ZONE          A: the ClusterIP; headless: the endpoints' addresses (ready ones,
//                            all with publishNotReadyAddresses; none: NXDOMAIN, as CoreDNS);
//                            ExternalName: a CNAME
//   HOST.SVC.NS.svc.ZONE     A: an endpoint of the Service, HOST being its hostname (a
//                            StatefulSet pod's) or its address with dashes (10-42-0-5)
//   _PORT._PROTO.SVC.NS.svc.ZONE  SRV per named port: the Service, or each headless endpoint
//   A-B-C-D.NS.pod.ZONE      A: the address in the name, whichever pod has it, when the
//                            namespace exists
//   ZONE                     SOA and NS (ns.dns.ZONE, whose A is the cluster DNS address)
//   D.C.B.A.in-addr.arpa     PTR for ClusterIPs and endpoints (HOST.SVC.NS.svc.ZONE)
// And outside the zone, as k3s' CoreDNS `hosts /etc/coredns/NodeHosts` (TTL 60): each Node's
// name has its InternalIP, and the address's PTR name the Node's name.
// Every record of the zone has TTL 5. Names that exist only as a prefix of others (NS.svc.ZONE for
// an existing namespace) answer NODATA; names that do not exist NXDOMAIN, with the SOA in the
// authority section.
//
// Thread-safe: the informers' threads update it, query threads look names up concurrently
// under a shared lock (updates touch one Service's names at a time).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/json.h"
#include "network/dns/message.h"

namespace nave::dns {

constexpr uint32_t kRecordTtl = 5;
constexpr uint32_t kNodeHostTtl = 60;

class ClusterZone {
 public:
  // `domain` e.g. "cluster.local"; `dnsIp` the cluster DNS Service's address (ns.dns.ZONE).
  ClusterZone(std::string domain, std::string dnsIp);

  // A Service was added or changed (`object` set) or deleted (null), by "namespace/name".
  void setService(const std::string& key, const Json* object);
  // The same for an EndpointSlice ("namespace/name"); its Service is the label
  // kubernetes.io/service-name.
  void setEndpointSlice(const std::string& key, const Json* object);

  // A Namespace was added (`exists`) or deleted.
  void setNamespace(const std::string& name, bool exists);
  // A Node was added or changed (`object` set) or deleted (null).
  void setNode(const std::string& name, const Json* object);

  // The answer for `q` when its name is in the zone or is the PTR name of an address the zone
  // knows; nullopt for everything else (forwarded upstream).
  std::optional<Answer> lookup(const Question& q) const;

  const std::string& domain() const { return domain_; }

 private:
  struct Port {
    std::string name, protocol;  // protocol lowercased: "tcp", "udp", "sctp"
    uint16_t port = 0;
  };
  struct Endpoint {
    uint32_t ip = 0;
    std::string hostname;     // the endpoint's, or the address with dashes
    std::vector<Port> ports;  // its slice's
  };
  struct Service {
    std::string name, ns;
    bool headless = false;
    bool publishNotReady = false;
    std::string externalName;
    std::vector<uint32_t> clusterIps;
    std::vector<Port> ports;
  };
  struct Slice {
    std::string service;  // "namespace/name"
    std::vector<Endpoint> ready, notReady;
  };
  // What a Service's names answer, recomputed when it or one of its slices changes.
  struct Entry {
    Service service;
    std::vector<Endpoint> endpoints;  // the ones published (none for ExternalName)
  };

  void rebuildLocked(const std::string& serviceKey);
  void addPtrsLocked(const Entry& e, const std::string& fqdn);
  void removePtrsLocked(const Entry& e);
  Answer nameError(uint8_t rcode) const;
  bool namespaceExistsLocked(const std::string& ns) const;
  Answer serviceAnswer(const Entry& e, const Question& q,
                       const std::vector<std::string>& labels) const;

  std::string domain_;
  uint32_t dnsIp_ = 0;
  Record soa_;
  mutable std::shared_mutex mu_;
  std::map<std::string, Service> services_;  // guarded by mu_; by namespace/name
  std::map<std::string, Slice> slices_;      // guarded by mu_; by namespace/name
  std::unordered_map<std::string, std::set<std::string>>
      slicesOf_;                                     // guarded by mu_; service -> slices
  std::unordered_map<std::string, Entry> entries_;   // guarded by mu_; by "name.namespace"
  std::unordered_map<std::string, int> namespaces_;  // guarded by mu_; entries per namespace
  std::set<std::string> namespaceObjects_;           // guarded by mu_; Namespaces that exist
  std::unordered_map<uint32_t, std::vector<std::string>> ptrs_;  // guarded by mu_
  std::unordered_map<std::string, uint32_t> nodes_;  // guarded by mu_; name -> InternalIP
};

// "10.43.0.10" -> host byte order; nullopt when it is no dotted IPv4 address.
std::optional<uint32_t> parseIpv4(std::string_view s);

}  // namespace nave::dns
