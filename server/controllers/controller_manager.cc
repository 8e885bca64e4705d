#include "server/controllers/controller_manager.h"

#include "common/log.h"

namespace nave::controllers {

ControllerManager::ControllerManager(client::Client& client, registry::TypeRegistry& types,
                                     ControllerManagerOptions options)
    : client_(client), types_(types), options_(std::move(options)) {}

ControllerManager::~ControllerManager() { stop(); }

void ControllerManager::start() {
  if (options_.controllers.empty()) return;
  LeaderElectionConfig config;
  config.leaseName = options_.leaseName;
  config.identity = options_.identity;
  elector_ = std::make_unique<LeaderElector>(
      client_, config, [this] { startControllers(); }, [this] { stopControllers(); });
  elector_->start();
}

void ControllerManager::stop() {
  if (elector_) elector_->stop();  // stops the controllers when leading
  elector_.reset();
}

void ControllerManager::startControllers() {
  std::lock_guard lock(mu_);
  informers_ = std::make_unique<InformerFactory>(client_);
  events_ = std::make_unique<client::EventRecorder>(client_, options_.leaseName);
  context_ = std::make_unique<ControllerContext>(
      ControllerContext{client_, *informers_, *events_, types_, options_.dataDir});
  for (const auto& f : options_.controllers) running_.push_back(f.make(*context_));
  informers_->start();
  for (auto& c : running_) c->start();
  log::info("controllers started", {{"manager", options_.leaseName},
                                    {"controllers", static_cast<int64_t>(running_.size())}});
}

void ControllerManager::stopControllers() {
  std::lock_guard lock(mu_);
  for (auto it = running_.rbegin(); it != running_.rend(); ++it) (*it)->stop();
  if (informers_) informers_->stop();
  running_.clear();
  context_.reset();
  events_.reset();  // writes what is queued
  informers_.reset();
}

}  // namespace nave::controllers
