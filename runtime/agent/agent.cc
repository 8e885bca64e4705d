#include "runtime/agent/agent.h"

#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include "common/fs.h"
#include "common/log.h"
#include "network/flannel/flannel.h"
#include "network/netpol/network_policy.h"
#include "network/dns/cluster/cluster_dns.h"
#include "network/proxy/service_proxy.h"
#include "network/ingress/controller/ingress_controller.h"
#include "runtime/agent/agent_context.h"
#include "runtime/agent/api_objects.h"
#include "runtime/agent/node_streaming.h"
#include "runtime/agent/pod_manager.h"
#include "runtime/agent/streaming/streaming_server.h"

namespace nave::agent {
namespace {

// How long a new node waits for the controller manager to give it a pod CIDR.
constexpr std::chrono::seconds kPodCidrTimeout{180};

class AgentImpl : public Agent {
 public:
  AgentImpl(client::Client& client, AgentOptions options) {
    ctx_.client = &client;
    ctx_.options = std::move(options);
  }
  ~AgentImpl() override { stop(); }

  Result<void> start() {
    const AgentOptions& o = ctx_.options;
    if (o.nodeName.empty()) return Error(ErrorCode::kInvalid, "the agent needs a node name");
    if (o.nodeIp.empty()) return Error(ErrorCode::kInvalid, "the agent needs the node's IP");
    std::string agentDir = o.dataDir + "/agent";
    ctx_.podsDir = agentDir + "/pods";
    ctx_.logsDir = agentDir + "/logs";
    for (const std::string& d : {agentDir, ctx_.podsDir, ctx_.logsDir}) {
      std::error_code ec;
      std::filesystem::create_directories(d, ec);
      if (ec) return Error(ErrorCode::kInternal, "create " + d + ": " + ec.message());
    }
    markTopDirectory(ctx_.podsDir);  // a directory per pod in each
    markTopDirectory(ctx_.logsDir);
    ::chmod(agentDir.c_str(), 0700);

    runtime::NodeRuntimeOptions ro;
    ro.dataDir = o.dataDir;
    ro.registriesFile = o.registriesFile;
    ro.shimBinary = o.shimBinary;
    runtime_ = TRY(runtime::NodeRuntime::open(ro));
    ctx_.runtime = runtime_.get();
    // Airgap images (DATA/agent/images/*.tar[.gz|.zst]) before any pod asks for them.
    runtime_->images().importAirgapDirectory();
    // Their layers are unpacked meanwhile the node registers (k3s imports them unpacked);
    // a pod that needs one sooner waits for it in createContainer.
    unpacker_ = std::thread([rt = runtime_.get()] { rt->unpackImages(); });

    objects_ = std::make_unique<ApiObjectSource>(*ctx_.client);
    ctx_.objects = objects_.get();
    volumes_ = TRY(VolumeManager::open(ctx_.podsDir, *objects_));
    ctx_.volumes = volumes_.get();
    events_ = std::make_unique<client::EventRecorder>(*ctx_.client, "kubelet", o.nodeName);
    ctx_.events = events_.get();

    NodeIdentity id;
    id.name = o.nodeName;
    id.ip = o.nodeIp;
    id.podCidr = o.podCidr;
    id.dataDir = o.dataDir;
    id.maxPods = o.maxPods;
    id.kubeletPort = o.kubeletPort;
    id.controlPlane = o.controlPlane;
    id.labels = o.nodeLabels;
    runtime::ImageStore* images = &runtime_->images();
    node_ = std::make_unique<NodeStatusReporter>(*ctx_.client, id, [images] {
      Json list = Json::array();
      for (const runtime::Image& img : images->list()) {
        Json names = Json::array();
        for (const auto& d : img.repoDigests) names.push_back(d);
        for (const auto& t : img.repoTags) names.push_back(t);
        list.push_back({{"names", names}, {"sizeBytes", img.size}});
      }
      return list;
    });
    ctx_.node = node_.get();
    TRY(node_->start());
    TRY(openNetwork());

    exits_ = std::make_unique<ExitWatcher>();
    ctx_.exits = exits_.get();
    pods_ = std::make_unique<PodManager>(ctx_);
    ctx_.pods = pods_.get();
    TRY(pods_->start());

    // The node's network parts share the cluster-wide informers started below.
    informers_ = std::make_unique<controllers::InformerFactory>(*ctx_.client);
    ctx_.informers = informers_.get();
    if (flannelBackend_) {
      flannel_ = std::make_unique<network::flannel::Flannel>(*ctx_.client, *informers_,
                                                             *flannelBackend_, o.nodeName);
    }
    if (!o.disableNetworkPolicy) {
      networkPolicy_ =
          TRY(network::netpol::NetworkPolicyEnforcer::start(*informers_, {o.nodeName}));
    }
    if (!o.disableDns) {
      dns::ClusterDnsOptions dnso;
      dnso.nodeName = o.nodeName;
      dnso.podCidr = o.podCidr;
      dnso.clusterDns = o.clusterDns;
      dnso.clusterDomain = o.clusterDomain;
      dnso.resolvConf = o.resolvConf;
      dns_ = TRY(dns::ClusterDns::create(*ctx_.client, *informers_, dnso));
    }
    if (!o.disableKubeProxy) {
      proxy_ = TRY(network::proxy::ServiceProxy::create(
          *informers_,
          {.nodeName = o.nodeName, .clusterCidr = o.clusterCidr, .serviceCidr = o.serviceCidr}));
    }
    // The ingress proxy on the node's ports 80 and 443. A port in use leaves the node without
    // it rather than without its pods.
    if (!o.disableIngress) {
      auto ingress = ingress::IngressController::create(*informers_, ingress::ProxyOptions{});
      if (ingress.ok()) {
        ingress_ = std::move(ingress).value();
      } else {
        log::error("The ingress controller did not start", {{"error", ingress.error().message()}});
      }
    }
    informers_->start();
    if (flannel_) flannel_->start();
    if (proxy_) TRY(proxy_->start());
    if (dns_) TRY(dns_->start());
    if (ingress_) ingress_->start();

    streaming_ = std::make_unique<NodeStreaming>(ctx_);
    StreamingServerOptions so;
    so.bindAddress = o.kubeletBindAddress;
    so.port = o.kubeletPort;
    so.servingCertPem = o.servingCertPem;
    so.servingKeyPem = o.servingKeyPem;
    so.clientCaPem = o.clientCaPem;
    so.allowedCommonName = o.apiServerCommonName;
    so.allowedOrganization = o.apiServerOrganization;
    nodeApi_ = TRY(StreamingServer::start(so, *streaming_));
    log::info("The node agent is running", {{"node", o.nodeName}, {"ip", o.nodeIp}});
    return {};
  }

  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    if (nodeApi_) nodeApi_->stop();
    if (flannel_) flannel_->stop();
    if (networkPolicy_) networkPolicy_->stop();
    if (dns_) dns_->stop();
    if (proxy_) proxy_->stop();  // its rules stay: services keep working meanwhile
    if (ingress_) ingress_->stop();
    if (informers_) informers_->stop();
    if (pods_) pods_->stop();
    if (exits_) exits_->stop();
    if (node_) node_->stop();
    if (unpacker_.joinable()) unpacker_.join();
  }

 private:
  // The pod network on the Node's pod CIDR (assigned by the node IPAM controller after
  // registration) and, unless the flannel backend is "none", the routes to the other nodes'
  // pods, whose backend sets the pods' MTU.
  Result<void> openNetwork() {
    AgentOptions& o = ctx_.options;
    auto waited = std::chrono::steady_clock::now();
    std::string cidr = TRY(node_->waitForPodCidr(kPodCidrTimeout));
    if (!o.podCidr.empty() && o.podCidr != cidr)
      log::warning("The node has another pod CIDR than the one given: using the node's",
                   {{"given", o.podCidr}, {"podCIDR", cidr}});
    o.podCidr = cidr;
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - waited);
    log::info("The node's pod CIDR", {{"podCIDR", cidr}, {"waitedMs", ms.count()}});

    network::PodNetworkOptions no;
    no.podCidr = cidr;
    no.clusterCidr = o.clusterCidr;
    no.stateDir = runtime_->runDir() + "/podnet";
    if (o.flannelBackend != "none") {
      network::flannel::BackendOptions fo;
      fo.type = o.flannelBackend;
      fo.nodeName = o.nodeName;
      fo.nodeIp = TRY(network::Ipv4Address::parse(o.nodeIp));
      fo.podCidr = TRY(network::Ipv4Prefix::parse(cidr));
      flannelBackend_ = TRY(network::flannel::Backend::open(fo));
      no.mtu = flannelBackend_->podMtu();
    }
    network_ = TRY(network::PodNetwork::open(no));
    ctx_.network = network_.get();
    return {};
  }

  AgentContext ctx_;
  bool stopped_ = false;
  std::unique_ptr<runtime::NodeRuntime> runtime_;
  std::thread unpacker_;  // unpacks the airgap images' layers after start
  std::unique_ptr<network::PodNetwork> network_;
  std::unique_ptr<ObjectSource> objects_;
  std::unique_ptr<VolumeManager> volumes_;
  std::unique_ptr<client::EventRecorder> events_;
  std::unique_ptr<NodeStatusReporter> node_;
  std::unique_ptr<ExitWatcher> exits_;
  std::unique_ptr<PodManager> pods_;
  std::unique_ptr<controllers::InformerFactory> informers_;
  std::unique_ptr<network::flannel::Backend> flannelBackend_;
  std::unique_ptr<network::flannel::Flannel> flannel_;
  std::unique_ptr<network::netpol::NetworkPolicyEnforcer> networkPolicy_;
  std::unique_ptr<dns::ClusterDns> dns_;
  std::unique_ptr<network::proxy::ServiceProxy> proxy_;
  std::unique_ptr<ingress::IngressController> ingress_;
  std::unique_ptr<NodeStreaming> streaming_;
  std::unique_ptr<StreamingServer> nodeApi_;
};

}  // namespace

Result<std::unique_ptr<Agent>> Agent::start(client::Client& client, AgentOptions options) {
  auto agent = std::make_unique<AgentImpl>(client, std::move(options));
  TRY(agent->start());
  return std::unique_ptr<Agent>(std::move(agent));
}

}  // namespace nave::agent
