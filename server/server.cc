#include "server/server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>


#include "common/log.h"
#include "common/strings.h"
#include "server/api/discovery.h"
#include "server/api/http_api.h"
#include "server/api/node_proxy.h"
#include "server/api/openapi.h"
#include "server/api/resource_api.h"
#include "server/api/service_allocator.h"
#include "server/cache/watch_cache.h"
#include "server/client/in_process_client.h"
#include "server/controllers/crd_controller.h"
#include "server/crd/crd_types.h"
#include "server/controllers/controller_manager.h"
#include "server/controllers/namespace_controller.h"
#include "server/http/http_server.h"
#include "server/join_service.h"
#include "server/pki/pki.h"
#include "server/registry/builtin_types.h"
#include "server/registry/type_registry.h"
#include "server/version.h"
#include "storage/sqlite_store.h"

namespace nave {
namespace {

Result<void> makeDirs(const std::string& path, mode_t mode) {
  std::string cur;
  for (const std::string& part : split(path, '/')) {
    if (part.empty()) {
      if (cur.empty()) cur = "/";
      continue;
    }
    if (!cur.empty() && cur.back() != '/') cur += '/';
    cur += part;
    if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST)
      return Error::fromErrno("mkdir " + cur, errno);
  }
  return {};
}

std::string primaryIpv4() {
  for (const std::string& a : pki::localAddresses())
    if (a.find(':') == std::string::npos) return a;
  return "127.0.0.1";
}

class ServerImpl : public Server {
 public:
  explicit ServerImpl(ServerConfig config) : config_(std::move(config)) {}
  ~ServerImpl() override { stop(); }

  Result<void> run() {
    auto t0 = std::chrono::steady_clock::now();
    log::info("Starting nave server", {{"version", kNaveVersion},
                                       {"kubernetes", kKubernetesGitVersion},
                                       {"dataDir", config_.dataDir}});
    if (config_.nodeName.empty()) config_.nodeName = pki::hostName();
    if (config_.advertiseAddress.empty()) config_.advertiseAddress = primaryIpv4();
    std::string serverDir = config_.dataDir + "/server";
    TRY(makeDirs(serverDir + "/db", 0700));
    TRY(makeDirs(serverDir + "/tls", 0700));
    ::chmod(config_.dataDir.c_str(), 0700);

    storage::SqliteOptions so;
    so.path = serverDir + "/db/state.db";
    so.retainRevisions = config_.compactionRetainRevisions;
    so.compactIntervalSeconds = config_.compactionIntervalSeconds;
    store_ = TRY(storage::openSqliteStore(so));
    cache_ = TRY(cache::WatchCache::start(*store_));
    allocator_ = TRY(api::ServiceAllocator::create(config_.serviceCidr, *cache_));

    registry::StrategyDeps deps;
    api::ServiceAllocator* alloc = allocator_.get();
    deps.allocateServiceAddresses = [alloc](Json& svc) { return alloc->allocate(svc); };
    deps.updateServiceAddresses = [alloc](Json& svc, const Json& old) { return alloc->update(svc, old); };
    deps.listStorageClasses = [this]() -> Result<Json> {
      return systemClient_->list(client::Resource{"storage.k8s.io", "v1", "storageclasses"}, "");
    };
    registry::registerBuiltinTypes(types_, deps);
    crd::installCrdStrategy(types_);

    api_ = std::make_unique<api::ResourceApi>(*store_, *cache_, types_);
    systemClient_ = client::newInProcessClient(*api_, "system:nave", {"system:masters"}, "nave");
    TRY(bootstrapObjects());
    // Before serving: custom resources of existing CRDs are registered by the time we listen.
    crdController_ = TRY(controllers::CrdController::start(*systemClient_, types_));

    std::vector<std::string> sans = {"localhost", "127.0.0.1", "::1", pki::hostName(),
                                     config_.nodeName, config_.advertiseAddress,
                                     allocator_->firstAddress(), "kubernetes",
                                     "kubernetes.default", "kubernetes.default.svc",
                                     "kubernetes.default.svc." + config_.clusterDomain};
    for (const std::string& a : pki::localAddresses()) sans.push_back(a);
    for (const std::string& s : config_.tlsSans) sans.push_back(s);
    pki::ServerPki tls = TRY(pki::ensureServerPki(serverDir + "/tls", sans));
    ca_ = tls.ca;

    std::string address = config_.advertiseAddress + ":" + std::to_string(config_.httpsListenPort);
    discovery_ = std::make_unique<api::Discovery>(types_, address);
    openapi_ = std::make_unique<api::OpenApi>(types_);
    httpApi_ = std::make_unique<api::HttpApi>(*api_, *discovery_, *openapi_);
    nodeProxy_ = TRY(api::NodeProxy::create(*api_, {tls.ca.certPem, tls.kubeletClient}));
    httpApi_->setNodeProxy(nodeProxy_.get());
    http::ServerOptions ho;
    ho.bindAddress = config_.bindAddress;
    ho.port = config_.httpsListenPort;
    ho.certPem = tls.serving.certPem;
    ho.keyPem = tls.serving.keyPem;
    ho.clientCaPem = tls.ca.certPem;
    std::string secret = TRY(ensureClusterToken(serverDir, config_.token, tls.ca.certPem));
    join_ = std::make_unique<JoinService>(tls.ca, secret, agentSettings());
    api::HttpApi* handler = httpApi_.get();
    JoinService* join = join_.get();
    http_ = TRY(http::HttpServer::start(ho, [handler, join](http::Request& req, http::ResponseWriter& resp) {
      if (!join->handle(req, resp)) handler->handle(req, resp);
    }));
    log::info("Listening", {{"address", config_.bindAddress + ":" + std::to_string(http_->port())}});

    std::string url = "https://127.0.0.1:" + std::to_string(http_->port());
    TRY(pki::writeKubeconfig(config_.writeKubeconfig, config_.writeKubeconfigMode, url,
                             tls.ca.certPem, tls.adminClient));
    log::info("Wrote kubeconfig", {{"path", config_.writeKubeconfig}});
    log::info("Use it with: nave kubectl get namespaces, or KUBECONFIG=" + config_.writeKubeconfig +
              " kubectl get namespaces");

    namespaceController_ = std::make_unique<controllers::NamespaceController>(*systemClient_, types_);
    namespaceController_->start();
    startControllerManagers();

    httpApi_->setReady(true);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    log::info("nave server is ready", {{"startup_ms", static_cast<int64_t>(ms)}});
    return {};
  }

  const ServerConfig& config() const override { return config_; }

  // What a joining agent learns from GET /v1-nave/config (k3s' agent config).
  Json agentSettings() const {
    return {{"clusterCidr", config_.clusterCidr},       {"serviceCidr", config_.serviceCidr},
            {"clusterDns", config_.clusterDns},         {"clusterDomain", config_.clusterDomain},
            {"flannelBackend", config_.flannelBackend}, {"disableKubeProxy", config_.disableKubeProxy},
            {"disableNetworkPolicy", config_.disableNetworkPolicy},
            {"disable", config_.disable}};
  }

  std::string clusterCaPem() const override { return ca_.certPem; }

  Result<pki::KeyPair> kubeletServingCertificate(const std::string& dir, const std::string& nodeName,
                                                 const std::vector<std::string>& addresses) override {
    return pki::ensureKubeletServingCertificate(dir, ca_, nodeName, addresses);
  }

  std::unique_ptr<client::Client> newClient(const std::string& user,
                                            const std::vector<std::string>& groups,
                                            const std::string& userAgent) override {
    return client::newInProcessClient(*api_, user, groups, userAgent);
  }

  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    if (httpApi_) httpApi_->setReady(false);
    for (auto& m : managers_) m->stop();
    managers_.clear();
    if (namespaceController_) namespaceController_->stop();
    if (crdController_) crdController_->stop();
    if (nodeProxy_) nodeProxy_->stop();  // ends spliced sessions, whose threads http_ joins
    if (http_) http_->stop();
    namespaceController_.reset();
    crdController_.reset();
    http_.reset();
    httpApi_.reset();
    nodeProxy_.reset();
    openapi_.reset();
    discovery_.reset();
    systemClient_.reset();
    api_.reset();
    cache_.reset();
    allocator_.reset();
    store_.reset();
  }

 private:
  // The namespaces and Services every cluster has.
  Result<void> bootstrapObjects() {
    for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
      Json obj = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}};
      auto r = systemClient_->create(client::kNamespaces, "", obj);
      if (!r.ok() && !r.error().is(ErrorCode::kAlreadyExists)) return std::move(r).error();
    }
    client::Resource services{"", "v1", "services"};
    Json svc = {{"apiVersion", "v1"},
                {"kind", "Service"},
                {"metadata", {{"name", "kubernetes"}, {"namespace", "default"},
                              {"labels", {{"component", "apiserver"}, {"provider", "kubernetes"}}}}},
                {"spec", {{"type", "ClusterIP"},
                          {"clusterIP", allocator_->firstAddress()},
                          {"sessionAffinity", "None"},
                          {"ports", {{{"name", "https"}, {"port", 443}, {"protocol", "TCP"},
                                      {"targetPort", config_.httpsListenPort}}}}}}};
    if (auto existing = systemClient_->get(services, "default", "kubernetes"); !existing.ok()) {
      auto r = systemClient_->create(services, "default", svc);
      if (!r.ok() && !r.error().is(ErrorCode::kAlreadyExists)) return std::move(r).error();
    }
    TRY(createDnsService());
    TRY(bootstrapIngressClass());
    // Endpoints may not point at loopback: without a node address, the Service has none.
    if (config_.advertiseAddress.starts_with("127.")) return {};
    client::Resource endpoints{"", "v1", "endpoints"};
    Json ep = {{"apiVersion", "v1"},
               {"kind", "Endpoints"},
               {"metadata", {{"name", "kubernetes"}, {"namespace", "default"},
                             {"labels", {{"endpointslice.kubernetes.io/skip-mirror", "true"}}}}},
               {"subsets", {{{"addresses", {{{"ip", config_.advertiseAddress}}}},
                             {"ports", {{{"name", "https"}, {"port", config_.httpsListenPort},
                                         {"protocol", "TCP"}}}}}}}};
    auto e = systemClient_->update(endpoints, "default", ep);
    if (!e.ok()) return std::move(e).error();
    // And its EndpointSlice, which the endpointslice controller leaves alone (no selector).
    client::Resource slices{"discovery.k8s.io", "v1", "endpointslices"};
    Json slice = {{"apiVersion", "discovery.k8s.io/v1"},
                  {"kind", "EndpointSlice"},
                  {"metadata", {{"name", "kubernetes"}, {"namespace", "default"},
                                {"labels", {{"kubernetes.io/service-name", "kubernetes"}}}}},
                  {"addressType", "IPv4"},
                  {"endpoints", {{{"addresses", {config_.advertiseAddress}}, {"conditions", {{"ready", true}}}}}},
                  {"ports", {{{"name", "https"}, {"port", config_.httpsListenPort}, {"protocol", "TCP"}}}}};
    if (auto existing = systemClient_->get(slices, "default", "kubernetes"); existing.ok()) {
      slice["metadata"]["resourceVersion"] = (*existing)["metadata"]["resourceVersion"];
      if (slice["endpoints"] == (*existing)["endpoints"] && slice["ports"] == (*existing)["ports"]) return {};
      auto u = systemClient_->update(slices, "default", slice);
      if (!u.ok()) return std::move(u).error();
    } else {
      auto c = systemClient_->create(slices, "default", slice);
      if (!c.ok() && !c.error().is(ErrorCode::kAlreadyExists)) return std::move(c).error();
    }
    return {};
  }

  // kube-system/kube-dns at --cluster-dns (k3s' CoreDNS manifest's names and ports), unless
  // `--disable coredns`. No selector: every node's agent serves DNS on its pod bridge and
  // publishes its own EndpointSlice; internalTrafficPolicy Local keeps queries on the node.
  Result<void> createDnsService() {
    if (config_.isDisabled("coredns")) return {};
    client::Resource services{"", "v1", "services"};
    if (systemClient_->get(services, "kube-system", "kube-dns").ok()) return {};
    Json svc = {{"apiVersion", "v1"},
                {"kind", "Service"},
                {"metadata", {{"name", "kube-dns"}, {"namespace", "kube-system"},
                              {"labels", {{"k8s-app", "kube-dns"}, {"kubernetes.io/cluster-service", "true"},
                                          {"kubernetes.io/name", "nave-dns"}}}}},
                {"spec", {{"type", "ClusterIP"},
                          {"clusterIP", config_.clusterDns},
                          {"clusterIPs", {config_.clusterDns}},
                          {"internalTrafficPolicy", "Local"},
                          {"ports", {{{"name", "dns"}, {"port", 53}, {"protocol", "UDP"}, {"targetPort", 53}},
                                     {{"name", "dns-tcp"}, {"port", 53}, {"protocol", "TCP"}, {"targetPort", 53}}}}}}};
    auto r = systemClient_->create(services, "kube-system", svc);
    if (!r.ok() && !r.error().is(ErrorCode::kAlreadyExists)) return std::move(r).error().context("kube-dns Service");
    return {};
  }

  // The built-in ingress controller's IngressClass (network/ingress), the cluster's default,
  // unless ingress is disabled. Left alone when it exists (an admin may have changed it).
  Result<void> bootstrapIngressClass() {
    if (config_.isDisabled("ingress")) return {};
    client::Resource classes{"networking.k8s.io", "v1", "ingressclasses"};
    Json cls = {{"apiVersion", "networking.k8s.io/v1"},
                {"kind", "IngressClass"},
                {"metadata", {{"name", "nave"},
                              {"annotations", {{"ingressclass.kubernetes.io/is-default-class", "true"}}}}},
                {"spec", {{"controller", "nave.io/ingress-controller"}}}};
    auto r = systemClient_->create(classes, "", cls);
    if (!r.ok() && !r.error().is(ErrorCode::kAlreadyExists)) return std::move(r).error();
    return {};
  }

  ServerConfig config_;
  pki::KeyPair ca_;
  bool stopped_ = false;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<cache::WatchCache> cache_;
  registry::TypeRegistry types_;
  std::unique_ptr<api::ServiceAllocator> allocator_;
  std::unique_ptr<api::ResourceApi> api_;
  std::unique_ptr<client::Client> systemClient_;
  std::unique_ptr<api::Discovery> discovery_;
  std::unique_ptr<api::OpenApi> openapi_;
  std::unique_ptr<api::NodeProxy> nodeProxy_;
  std::unique_ptr<JoinService> join_;
  std::unique_ptr<api::HttpApi> httpApi_;
  std::unique_ptr<http::HttpServer> http_;
  // kube-controller-manager and kube-scheduler, each under its Lease.
  void startControllerManagers() {
    std::string identity = config_.nodeName.empty() ? "nave" : config_.nodeName;
    identity += "_" + newUuid();
    auto add = [&](const std::string& lease, const std::vector<controllers::NamedControllerFactory>& list) {
      if (list.empty()) return;
      controllers::ControllerManagerOptions o;
      o.leaseName = lease;
      o.identity = identity;
      o.dataDir = config_.dataDir;
      o.controllers = list;
      managers_.push_back(std::make_unique<controllers::ControllerManager>(*systemClient_, types_, o));
      managers_.back()->start();
    };
    if (!config_.disableControllerManager) add("kube-controller-manager", config_.controllers);
    if (!config_.disableScheduler) add("kube-scheduler", config_.schedulers);
  }

  std::vector<std::unique_ptr<controllers::ControllerManager>> managers_;
  std::unique_ptr<controllers::NamespaceController> namespaceController_;
  std::unique_ptr<controllers::CrdController> crdController_;
};

}  // namespace

Result<std::unique_ptr<Server>> Server::start(const ServerConfig& config) {
  auto server = std::make_unique<ServerImpl>(config);
  TRY(server->run());
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace nave
