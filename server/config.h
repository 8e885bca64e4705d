// The configuration of `nave server`, filled from flags and the config file by cmd/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nave {

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
  std::string token;
  int verbosity = 0;

  // Storage tuning (not k3s flags; defaults suit a single server).
  int64_t compactionRetainRevisions = 1000;  // history kept for watches from the past
  int compactionIntervalSeconds = 300;
};

}  // namespace nave
