// The configuration of `nave server`, filled from flags and the config file by cmd/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/controllers/controller.h"

namespace nave {

// Whether `component` is in a --disable list ("traefik" stands for "ingress", as in k3s).
inline bool componentDisabled(const std::vector<std::string>& disable, std::string_view component) {
  for (const std::string& d : disable)
    if (d == component || (component == "ingress" && d == "traefik")) return true;
  return false;
}

struct ServerConfig {
  std::string dataDir = "/var/lib/nave";
  std::string writeKubeconfig = "/etc/nave/nave.yaml";
  unsigned writeKubeconfigMode = 0600;
  int httpsListenPort = 6443;
  std::string bindAddress = "0.0.0.0";
  std::string advertiseAddress;  // default: the node's primary IPv4
  std::vector<std::string> tlsSans;
  std::string nodeName;  // default: the hostname
  std::string nodeIp;    // default: advertiseAddress
  int maxPods = 110;
  std::vector<std::string> nodeLabels;
  std::string privateRegistry = "/etc/nave/registries.yaml";
  std::string clusterCidr = "10.42.0.0/16";
  std::string serviceCidr = "10.43.0.0/16";
  std::string clusterDns = "10.43.0.10";
  std::string clusterDomain = "cluster.local";
  bool disableAgent = false;
  bool disableScheduler = false;          // k3s' --disable-scheduler
  bool disableControllerManager = false;  // k3s' --disable-controller-manager
  // Packaged components not to run (k3s' --disable): "ingress" (k3s: traefik), "servicelb",
  // "coredns" (the cluster DNS), "local-storage".
  std::vector<std::string> disable;
  bool isDisabled(std::string_view component) const { return componentDisabled(disable, component); }
  bool disableKubeProxy = false;      // no nftables service proxy on the nodes
  bool disableNetworkPolicy = false;  // no NetworkPolicy enforcement on the nodes
  std::string flannelBackend = "host-gw";  // host-gw, vxlan or none: pod routes across nodes
  std::string resolvConf = "/etc/resolv.conf";  // k3s' --resolv-conf: the cluster DNS's upstreams
  // What runs under the kube-controller-manager and kube-scheduler Leases (filled by cmd/,
  // which links the controller modules).
  std::vector<controllers::NamedControllerFactory> controllers;
  std::vector<controllers::NamedControllerFactory> schedulers;
  std::string token;
  int verbosity = 0;

  // Storage tuning (not k3s flags; defaults suit a single server).
  int64_t compactionRetainRevisions = 1000;  // history kept for watches from the past
  int compactionIntervalSeconds = 300;
};

}  // namespace nave
