#include "network/ingress/controller/ingress_controller.h"

#include "common/log.h"

namespace nave::ingress {
namespace {

const client::Resource kIngresses{"networking.k8s.io", "v1", "ingresses"};
const client::Resource kIngressClasses{"networking.k8s.io", "v1", "ingressclasses"};
const client::Resource kServices{"", "v1", "services"};
const client::Resource kSlices{"discovery.k8s.io", "v1", "endpointslices"};
const client::Resource kSecrets{"", "v1", "secrets"};
constexpr char kServiceIndex[] = "ingress-service-name";  // "namespace/service" of a slice

}  // namespace

IngressController::IngressController(controllers::InformerFactory& informers)
    : ingresses_(informers.informer(kIngresses)),
      classes_(informers.informer(kIngressClasses)),
      services_(informers.informer(kServices)),
      slices_(informers.informer(kSlices)),
      secrets_(informers.informer(kSecrets)) {
  slices_.addIndex(kServiceIndex, [](const Json& slice) {
    const Json& md = objectMember(slice, "metadata");
    std::string svc = getString(objectMember(md, "labels"), "kubernetes.io/service-name");
    if (svc.empty()) return std::vector<std::string>{};
    return std::vector<std::string>{getString(md, "namespace") + "/" + svc};
  });
  for (controllers::Informer* i : {&ingresses_, &classes_, &services_, &slices_, &secrets_})
    i->addHandler([this](const std::string&) { changed(); });
}

Result<std::unique_ptr<IngressController>> IngressController::create(
    controllers::InformerFactory& informers, const ProxyOptions& options) {
  std::unique_ptr<IngressController> c(new IngressController(informers));
  c->defaultCertificate_ = TRY(selfSignedCertificate("nave-ingress-default"));
  auto certs = TRY(CertificateStore::build({}, c->defaultCertificate_));
  c->certificates_ = certs;
  c->proxy_ = TRY(IngressProxy::start(options, certs));
  log::info("The ingress proxy is listening",
            {{"http", c->proxy_->httpPort()}, {"https", c->proxy_->httpsPort()}});
  return c;
}

IngressController::~IngressController() { stop(); }

void IngressController::start() {
  thread_ = std::thread([this] { run(); });
}

void IngressController::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (proxy_) proxy_->stop();
}

void IngressController::changed() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    dirty_ = true;
  }
  cv_.notify_all();
}

void IngressController::run() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return dirty_ || stopping_; });
      if (stopping_) return;
      dirty_ = false;  // changes from here on trigger another rebuild
    }
    rebuild();
  }
}

void IngressController::rebuild() {
  std::vector<Json> own;
  for (Json& c : classes_.list()) {
    if (getString(objectMember(c, "spec"), "controller") == kControllerName) own.push_back(std::move(c));
  }
  ClusterState state;
  for (Json& ing : ingresses_.list()) {
    if (servedBy(ing, own)) state.ingresses.push_back(std::move(ing));
  }
  state.service = [this](const std::string& ns, const std::string& name) {
    return services_.get(ns + "/" + name);
  };
  state.slices = [this](const std::string& ns, const std::string& name) {
    return slices_.byIndex(kServiceIndex, ns + "/" + name);
  };
  state.secret = [this](const std::string& ns, const std::string& name) {
    return secrets_.get(ns + "/" + name);
  };
  IngressRoutes routes = buildRoutes(state);
  auto certs = CertificateStore::build(routes.certificates, defaultCertificate_, certificates_.get());
  if (certs.ok()) {
    certificates_ = *certs;
  } else {
    log::warning("ingress: TLS certificates not updated", {{"error", certs.error().message()}});
  }
  log::v(2, "ingress: routes updated",
         {{"ingresses", state.ingresses.size()}, {"paths", routes.table->pathCount()},
          {"certificates", routes.certificates.size()}});
  proxy_->update(std::move(routes.table), certificates_);
}

}  // namespace nave::ingress
