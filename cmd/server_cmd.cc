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
  flags.addString("cluster-cidr", &c.clusterCidr, "IPv4 network CIDR to use for pod IPs");
  flags.addString("service-cidr", &c.serviceCidr, "IPv4 network CIDR to use for service IPs");
  flags.addString("cluster-dns", &c.clusterDns, "IPv4 cluster IP for the DNS service");
  flags.addString("cluster-domain", &c.clusterDomain, "Cluster domain");
  flags.addBool("disable-agent", &c.disableAgent, "Do not run a local agent and register a node");
  flags.addString("token", &c.token, "Shared secret used to join agents to the cluster");
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

int serverCommand(const std::vector<std::string>& args) {
  ServerConfig config;
  std::string configFile;
  cli::FlagSet flags("server");
  addServerFlags(flags, config, configFile);
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") {
      std::printf("Run a nave server: a complete Kubernetes control plane on this machine.\n\n%s",
                  flags.help().c_str());
      return 0;
    }
  }
  auto positional = flags.parse(args);
  if (!positional.ok()) {
    std::fprintf(stderr, "nave server: %s\nRun 'nave server --help' for usage.\n",
                 positional.error().message().c_str());
    return kUsageError;
  }
  if (!positional->empty()) {
    std::fprintf(stderr, "nave server: unexpected argument \"%s\"\n", (*positional)[0].c_str());
    return kUsageError;
  }
  bool explicitConfig = !configFile.empty();
  if (!explicitConfig) {
    struct stat st{};
    if (::stat(kDefaultConfigFile, &st) == 0) configFile = kDefaultConfigFile;
  }
  if (!configFile.empty()) {
    auto doc = readConfigFile(configFile);
    if (!doc.ok()) {
      std::fprintf(stderr, "nave server: %s\n", doc.error().message().c_str());
      return kUsageError;
    }
    if (auto r = flags.applyConfig(*doc); !r.ok()) {
      std::fprintf(stderr, "nave server: %s: %s\n", configFile.c_str(),
                   r.error().message().c_str());
      return kUsageError;
    }
  }
  log::setVerbosity(config.verbosity);

  // Signals are taken synchronously by this thread; every other thread inherits the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto server = Server::start(config);
  if (!server.ok()) {
    log::error("server failed to start", {{"error", server.error().message()}});
    return 1;
  }
  int sig = 0;
  sigwait(&sigs, &sig);
  log::info("shutting down", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
  (*server)->stop();
  return 0;
}

}  // namespace nave::cmd
