#include "server/controllers/informer_factory.h"

namespace nave::controllers {

Informer& InformerFactory::informer(const client::Resource& resource) {
  std::lock_guard lock(mu_);
  std::string key = resource.group + "/" + resource.version + "/" + resource.resource;
  auto& slot = informers_[key];
  if (!slot) {
    slot = std::make_unique<Informer>(client_, resource);
    if (started_) slot->start();
  }
  return *slot;
}

void InformerFactory::start() {
  std::vector<Informer*> all;
  {
    std::lock_guard lock(mu_);
    started_ = true;
    for (auto& [key, informer] : informers_) {
      if (!informer->started()) informer->start();
      all.push_back(informer.get());
    }
  }
  for (Informer* i : all) i->waitForSync();
}

void InformerFactory::stop() {
  std::lock_guard lock(mu_);
  for (auto& [key, informer] : informers_) informer->stop();
}

}  // namespace nave::controllers
