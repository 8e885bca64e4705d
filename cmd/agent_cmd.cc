// `nave agent`: a node that joins a nave server (k3s agent). It fetches the cluster CA and its
// node credentials with the cluster token (runtime/agent/join.h), then runs the same Agent
// as the server's own node, talking to the API over HTTPS.
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "cmd/commands.h"
#include "common/fs.h"
#include "common/log.h"
#include "runtime/agent/agent.h"
#include "runtime/agent/join.h"
#include "server/client/remote_client.h"
#include "server/config.h"
#include "server/join_service.h"
#include "server/pki/pki.h"

namespace nave::cmd {
namespace {

struct AgentFlags {
  std::string server;
  std::string token;
  std::string tokenFile;
  std::string nodeName;
  std::string nodeIp;
  std::string dataDir = "/var/lib/nave";
  std::vector<std::string> nodeLabels;
  std::string privateRegistry = "/etc/nave/registries.yaml";
  std::string resolvConf = "/etc/resolv.conf";
  int maxPods = 110;
  int verbosity = 0;
};

void addAgentFlags(cli::FlagSet& flags, AgentFlags& a, std::string& configFile) {
  flags.addString("config", &configFile, "Load configuration from FILE (YAML, flag names as keys)");
  flags.addInt("v", &a.verbosity, "Number for the log level verbosity", "v");
  flags.addString("server", &a.server, "Server to connect to (https://HOST:6443) ($NAVE_URL)");
  flags.addString("token", &a.token, "Token to use for authentication ($NAVE_TOKEN)");
  flags.addString("token-file", &a.tokenFile, "Token file to use for authentication");
  flags.addString("data-dir", &a.dataDir, "Folder to hold state");
  flags.addString("node-name", &a.nodeName, "Node name (default: the hostname)");
  flags.addString("node-ip", &a.nodeIp, "IPv4 address to advertise for the node (default: the primary IPv4)");
  flags.addStringList("node-label", &a.nodeLabels, "Labels of the node (key=value), at registration");
  flags.addString("private-registry", &a.privateRegistry, "Private registry configuration file");
  flags.addInt("max-pods", &a.maxPods, "Number of pods the node can run");
  flags.addString("resolv-conf", &a.resolvConf,
                  "Resolver file: the cluster DNS forwards other names to its nameservers");
}

// Sleeps up to `ms`; true when SIGINT/SIGTERM arrived meanwhile.
bool interrupted(const sigset_t& sigs, int ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1000000L};
  return sigtimedwait(&sigs, nullptr, &ts) > 0;
}

}  // namespace

int agentCommand(const std::vector<std::string>& args) {
  AgentFlags a;
  std::string configFile;
  cli::FlagSet flags("agent");
  addAgentFlags(flags, a, configFile);
  if (const char* url = std::getenv("NAVE_URL")) a.server = url;
  if (const char* token = std::getenv("NAVE_TOKEN")) a.token = token;
  if (int rc = parseCommandLine("agent", "Run a nave agent: a node that joins a nave server.", flags,
                                configFile, args); rc >= 0)
    return rc;
  if (a.token.empty() && !a.tokenFile.empty()) {
    auto text = readFile(a.tokenFile);
    if (!text.ok()) {
      std::fprintf(stderr, "nave agent: --token-file: %s\n", text.error().message().c_str());
      return kUsageError;
    }
    a.token = *text;
  }
  if (a.server.empty() || a.token.empty()) {
    std::fprintf(stderr, "nave agent: --server and --token (or --token-file) are required\n");
    return kUsageError;
  }
  while (!a.server.empty() && a.server.back() == '/') a.server.pop_back();
  if (auto t = parseClusterToken(a.token); !t.ok()) {
    std::fprintf(stderr, "nave agent: --token: %s\n", t.error().message().c_str());
    return kUsageError;
  }
  if (!a.server.starts_with("https://")) {
    std::fprintf(stderr, "nave agent: --server must be an https:// URL\n");
    return kUsageError;
  }
  log::setVerbosity(a.verbosity);
  sigset_t sigs = takeTerminationSignals();

  if (a.nodeName.empty()) a.nodeName = pki::hostName();
  if (a.nodeIp.empty()) {
    for (const std::string& ip : pki::localAddresses())
      if (ip.find(':') == std::string::npos) {
        a.nodeIp = ip;
        break;
      }
  }
  std::string agentDir = a.dataDir + "/agent";
  std::error_code ec;
  std::filesystem::create_directories(agentDir, ec);
  if (ec) {
    log::error("the agent's data directory", {{"path", agentDir}, {"error", ec.message()}});
    return 1;
  }
  ::chmod(a.dataDir.c_str(), 0700);

  // Join: wrong tokens end the agent; an unreachable server is waited for, unless an earlier
  // join left credentials to start with.
  agent::JoinRequest join{a.server, a.token, a.nodeName, {a.nodeIp}, agentDir};
  agent::NodeCredentials creds;
  for (int backoffMs = 500;; backoffMs = std::min(backoffMs * 2, 10000)) {
    auto joined = agent::joinCluster(join);
    if (joined.ok()) {
      creds = std::move(*joined);
      log::info("Joined the cluster", {{"server", a.server}, {"node", a.nodeName}});
      break;
    }
    if (joined.error().code() != ErrorCode::kUnavailable) {
      log::error("joining the cluster failed", {{"server", a.server}, {"error", joined.error().message()}});
      return 1;
    }
    if (auto saved = agent::savedCredentials(agentDir, a.token, a.nodeName); saved.ok()) {
      creds = std::move(*saved);
      log::warning("the server is unreachable; starting with the credentials of an earlier join",
                   {{"server", a.server}, {"error", joined.error().message()}});
      break;
    }
    log::info("Waiting for the server", {{"server", a.server}, {"error", joined.error().message()}});
    if (interrupted(sigs, backoffMs)) return 0;
  }

  client::RemoteOptions ro;
  ro.serverUrl = a.server;
  ro.caPem = creds.caPem;
  ro.certPem = creds.client.certPem;
  ro.keyPem = creds.client.keyPem;
  ro.userAgent = "nave-agent/kubelet";
  auto remote = client::newRemoteClient(ro);
  if (!remote.ok()) {
    log::error("the API client failed", {{"error", remote.error().message()}});
    return 1;
  }

  const Json& s = creds.settings;
  agent::AgentOptions o;
  o.dataDir = a.dataDir;
  o.nodeName = a.nodeName;
  o.nodeIp = a.nodeIp;
  o.clusterCidr = getString(s, "clusterCidr", o.clusterCidr);
  o.serviceCidr = getString(s, "serviceCidr", o.serviceCidr);
  o.clusterDns = getString(s, "clusterDns", o.clusterDns);
  o.clusterDomain = getString(s, "clusterDomain", o.clusterDomain);
  o.flannelBackend = getString(s, "flannelBackend", o.flannelBackend);
  o.disableKubeProxy = getBool(s, "disableKubeProxy", false);
  o.disableNetworkPolicy = getBool(s, "disableNetworkPolicy", false);
  std::vector<std::string> disabled;
  for (const Json& d : s.value("disable", Json::array()))
    if (d.is_string()) disabled.push_back(d.get<std::string>());
  o.disableDns = componentDisabled(disabled, "coredns");
  o.disableIngress = componentDisabled(disabled, "ingress");
  o.maxPods = a.maxPods;
  o.registriesFile = a.privateRegistry;
  o.resolvConf = a.resolvConf;
  o.nodeLabels = a.nodeLabels;
  o.servingCertPem = creds.serving.certPem;
  o.servingKeyPem = creds.serving.keyPem;
  o.clientCaPem = creds.caPem;

  // The server may go away between the join and the registration: retry until it answers.
  std::unique_ptr<agent::Agent> nodeAgent;
  for (int backoffMs = 500;; backoffMs = std::min(backoffMs * 2, 10000)) {
    auto started = agent::Agent::start(**remote, o);
    if (started.ok()) {
      nodeAgent = std::move(*started);
      break;
    }
    if (started.error().code() != ErrorCode::kUnavailable) {
      log::error("the agent failed to start", {{"error", started.error().message()}});
      return 1;
    }
    log::info("Waiting for the server to register the node", {{"error", started.error().message()}});
    if (interrupted(sigs, backoffMs)) return 0;
  }
  int sig = 0;
  sigwait(&sigs, &sig);
  log::info("shutting down", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
  nodeAgent->stop();
  return 0;
}

}  // namespace nave::cmd
