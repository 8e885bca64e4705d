// Agent: the node agent (the embedded kubelet). It makes this machine a Kubernetes node: it
// registers the Node and keeps its status and Lease current, runs the pods bound to it (one
// worker per pod) on the container runtime and the pod network, reports their status and
// events, and serves the node API (exec, attach, port-forward, logs) that the API server
// proxies to.
//
// It talks to the API only through client::Client, so the same code runs inside `nave server`
// (in-process client) and as `nave agent` on another machine (remote client).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "server/client/client.h"

namespace nave::agent {

struct AgentOptions {
  std::string dataDir = "/var/lib/nave";  // the agent's state lives in DATA/agent
  std::string nodeName;                   // required
  std::string nodeIp;                     // required: the node's InternalIP
  std::string clusterCidr = "10.42.0.0/16";
  // This node's pod CIDR is its Node's spec.podCIDR, which the node IPAM controller assigns
  // (the agent waits for it). Given here, it is set in a Node that has none (a server without
  // the controller manager).
  std::string podCidr;
  std::string serviceCidr = "10.43.0.0/16";
  std::string clusterDns = "10.43.0.10";
  std::string clusterDomain = "cluster.local";
  int maxPods = 110;
  std::string registriesFile = "/etc/nave/registries.yaml";
  std::string shimBinary = "/proc/self/exe";
  bool controlPlane = false;  // labels the node as a server node, as k3s does
  std::vector<std::string> nodeLabels;  // "key=value"

  // The node's network parts (network/): pod routes to other nodes, the nftables service
  // proxy, the cluster DNS server, the ingress proxy on ports 80/443, NetworkPolicy.
  std::string flannelBackend = "host-gw";  // host-gw, vxlan or none
  bool disableKubeProxy = false;
  bool disableDns = false;
  bool disableIngress = false;
  bool disableNetworkPolicy = false;
  // The kubelet's --resolv-conf: the cluster DNS forwards other names to its nameservers, and
  // pods with dnsPolicy Default (or host networking) get it.
  std::string resolvConf = "/etc/resolv.conf";

  // The node API (kubelet port): its serving certificate and the CA and identity of the only
  // client it accepts (the API server's kubelet-client certificate).
  int kubeletPort = 10250;
  std::string kubeletBindAddress = "0.0.0.0";
  std::string servingCertPem, servingKeyPem;
  std::string clientCaPem;
  std::string apiServerCommonName = "system:apiserver";
  std::string apiServerOrganization = "system:masters";
};

class Agent {
 public:
  // Registers the node and starts every loop; returns once the node is registered.
  static Result<std::unique_ptr<Agent>> start(client::Client& client, AgentOptions options);
  virtual ~Agent() = default;
  // Stops the loops. Pods keep running (their containers outlive the agent).
  virtual void stop() = 0;
};

}  // namespace nave::agent
