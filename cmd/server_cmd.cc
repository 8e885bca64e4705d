#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "cmd/commands.h"
#include "cmd/flags.h"
#include "common/log.h"
#include "common/yaml.h"
#include "server/config.h"
#include "runtime/agent/agent.h"
#include "server/controllers/nodeipam/node_ipam_controller.h"
#include "server/server.h"

namespace nave::cmd {
namespace {

constexpr const char* kDefaultConfigFile = "/etc/nave/config.yaml";

void addServerFlags(cli::FlagSet& flags, ServerConfig& c, std::string& configFile) {
  flags.addString("config", &configFile, "Load configuration from FILE (YAML, flag names as keys)");
  flags.addInt("v", &c.verbosity, "Number for the log level verbosity", "v");
  flags.addString("data-dir", &c.dataDir, "Folder to hold state");
  flags.addString("write-kubeconfig", &c.writeKubeconfig, "Write the admin kubeconfig to this file");
  flags.add(cli::Flag{"write-kubeconfig-mode", "", cli::FlagKind::kFileMode,
                      "Write the kubeconfig with this mode (octal)", "0600",
                      [&c](const std::string& v) -> Result<void> {
                        char* end = nullptr;
                        unsigned long mode = std::strtoul(v.c_str(), &end, 8);
                        if (v.empty() || *end != '\0' || mode > 0777)
                          return Error(ErrorCode::kBadRequest, "not an octal file mode");
                        c.writeKubeconfigMode = static_cast<unsigned>(mode);
                        return {};
                      }});
  flags.addInt("https-listen-port", &c.httpsListenPort, "HTTPS listen port");
  flags.addString("bind-address", &c.bindAddress, "Address the API server listens on");
  flags.addString("advertise-address", &c.advertiseAddress,
                  "Address the API server advertises (default: the node IP)");
  flags.addStringList("tls-san", &c.tlsSans,
                      "Add additional hostnames or IPs as Subject Alternative Names in the serving "
                      "certificate (repeatable)");
  flags.addString("node-name", &c.nodeName, "Node name (default: the hostname)");
  flags.addString("node-ip", &c.nodeIp, "IPv4 address to advertise for the node (default: the advertise address)");
  flags.addInt("max-pods", &c.maxPods, "Number of pods the node can run");
  flags.addStringList("node-label", &c.nodeLabels, "Labels of the node (key=value), at registration");
  flags.addString("private-registry", &c.privateRegistry, "Private registry configuration file");
  flags.addString("cluster-cidr", &c.clusterCidr, "IPv4 network CIDR to use for pod IPs");
  flags.addString("service-cidr", &c.serviceCidr, "IPv4 network CIDR to use for service IPs");
  flags.addString("cluster-dns", &c.clusterDns, "IPv4 cluster IP for the DNS service");
  flags.addString("cluster-domain", &c.clusterDomain, "Cluster domain");
  flags.addBool("disable-agent", &c.disableAgent, "Do not run a local agent and register a node");
  flags.addBool("disable-scheduler", &c.disableScheduler, "Disable the Kubernetes default scheduler");
  flags.addBool("disable-controller-manager", &c.disableControllerManager,
                "Disable the Kubernetes controller manager");
  flags.addString("token", &c.token, "Shared secret used to join agents to the cluster");
  flags.addStringList("disable", &c.disable,
                      "Do not deploy packaged components (valid items: coredns, servicelb, "
                      "ingress, local-storage; repeatable)");
  flags.addBool("disable-kube-proxy", &c.disableKubeProxy, "Disable running the service proxy");
  flags.addBool("disable-network-policy", &c.disableNetworkPolicy,
                "Disable the network policy controller");
  flags.addString("flannel-backend", &c.flannelBackend,
                  "Backend for pod routes across nodes ('host-gw', 'vxlan' or 'none')");
  flags.addString("resolv-conf", &c.resolvConf,
                  "Resolver file whose nameservers the cluster DNS forwards other names to");
}

// The first node's pod network: the first /24 of the cluster CIDR (10.42.0.0/16 ->
// 10.42.0.0/24), as k3s' node IPAM gives its first node.
std::string firstNodeCidr(const std::string& clusterCidr) {
  std::string base = clusterCidr.substr(0, clusterCidr.find('/'));
  return base + "/24";
}

Result<Json> readConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error::fromErrno("open config file " + path, errno);
  std::stringstream ss;
  ss << in.rdbuf();
  auto doc = parseYaml(ss.str());
  if (!doc.ok()) return std::move(doc).error().context("config file " + path);
  return std::move(*doc);
}

}  // namespace

int parseCommandLine(const std::string& command, const std::string& summary, cli::FlagSet& flags,
                     std::string& configFile, const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") {
      std::printf("%s\n\n%s", summary.c_str(), flags.help().c_str());
      return 0;
    }
  }
  auto positional = flags.parse(args);
  if (!positional.ok()) {
    std::fprintf(stderr, "nave %s: %s\nRun 'nave %s --help' for usage.\n", command.c_str(),
                 positional.error().message().c_str(), command.c_str());
    return kUsageError;
  }
  if (!positional->empty()) {
    std::fprintf(stderr, "nave %s: unexpected argument \"%s\"\n", command.c_str(),
                 (*positional)[0].c_str());
    return kUsageError;
  }
  if (configFile.empty()) {
    struct stat st{};
    if (::stat(kDefaultConfigFile, &st) == 0) configFile = kDefaultConfigFile;
  }
  if (!configFile.empty()) {
    auto doc = readConfigFile(configFile);
    if (!doc.ok()) {
      std::fprintf(stderr, "nave %s: %s\n", command.c_str(), doc.error().message().c_str());
      return kUsageError;
    }
    if (auto r = flags.applyConfig(*doc); !r.ok()) {
      std::fprintf(stderr, "nave %s: %s: %s\n", command.c_str(), configFile.c_str(),
                   r.error().message().c_str());
      return kUsageError;
    }
  }
  return -1;
}

sigset_t takeTerminationSignals() {
  // Signals are taken synchronously by the calling thread; every other thread inherits the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return sigs;
}

int serverCommand(const std::vector<std::string>& args) {
  ServerConfig config;
  std::string configFile;
  cli::FlagSet flags("server");
  addServerFlags(flags, config, configFile);
  if (int rc = parseCommandLine("server", "Run a nave server: a complete Kubernetes control plane on this machine.",
                                flags, configFile, args); rc >= 0)
    return rc;
  if (config.flannelBackend != "host-gw" && config.flannelBackend != "vxlan" &&
      config.flannelBackend != "none") {
    std::fprintf(stderr, "nave server: --flannel-backend: unknown backend \"%s\" (host-gw, vxlan or none)\n",
                 config.flannelBackend.c_str());
    return kUsageError;
  }
  if (auto ipam = controllers::NodeIpamOptions::parse(config.clusterCidr, config.serviceCidr);
      !ipam.ok()) {
    std::fprintf(stderr, "nave server: %s\n", ipam.error().message().c_str());
    return kUsageError;
  }
  log::setVerbosity(config.verbosity);
  sigset_t sigs = takeTerminationSignals();

  addControllers(config);
  auto server = Server::start(config);
  if (!server.ok()) {
    log::error("server failed to start", {{"error", server.error().message()}});
    return 1;
  }
  // The local agent: this machine becomes a node of its own cluster.
  std::unique_ptr<client::Client> agentClient;
  std::unique_ptr<agent::Agent> nodeAgent;
  if (!config.disableAgent) {
    const ServerConfig& c = (*server)->config();
    agentClient = (*server)->newClient("system:node:" + c.nodeName, {"system:nodes"}, "kubelet");
    agent::AgentOptions o;
    o.dataDir = c.dataDir;
    o.nodeName = c.nodeName;
    o.nodeIp = c.nodeIp.empty() ? c.advertiseAddress : c.nodeIp;
    o.clusterCidr = c.clusterCidr;
    o.serviceCidr = c.serviceCidr;
    o.flannelBackend = c.flannelBackend;
    o.disableKubeProxy = c.disableKubeProxy;
    o.disableNetworkPolicy = c.disableNetworkPolicy;
    o.disableDns = c.isDisabled("coredns");
    o.resolvConf = c.resolvConf;
    o.disableIngress = c.isDisabled("ingress");
    // Without the controller manager no node IPAM assigns it.
    if (c.disableControllerManager) o.podCidr = firstNodeCidr(c.clusterCidr);
    o.clusterDns = c.clusterDns;
    o.clusterDomain = c.clusterDomain;
    o.maxPods = c.maxPods;
    o.registriesFile = c.privateRegistry;
    o.controlPlane = true;
    o.nodeLabels = c.nodeLabels;
    auto serving = (*server)->kubeletServingCertificate(c.dataDir + "/agent", c.nodeName, {o.nodeIp});
    if (!serving.ok()) {
      log::error("the node API certificate failed", {{"error", serving.error().message()}});
      (*server)->stop();
      return 1;
    }
    o.servingCertPem = serving->certPem;
    o.servingKeyPem = serving->keyPem;
    o.clientCaPem = (*server)->clusterCaPem();
    auto started = agent::Agent::start(*agentClient, o);
    if (!started.ok()) {
      log::error("the agent failed to start", {{"error", started.error().message()}});
      (*server)->stop();
      return 1;
    }
    nodeAgent = std::move(*started);
  }
  int sig = 0;
  sigwait(&sigs, &sig);
  log::info("shutting down", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
  if (nodeAgent) nodeAgent->stop();
  (*server)->stop();
  return 0;
}

}  // namespace nave::cmd
