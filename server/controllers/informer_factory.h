// InformerFactory: one shared Informer per resource for all the controllers of a process
// (client-go's SharedInformerFactory), so that two controllers watching pods hold one copy.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "server/client/client.h"
#include "server/controllers/informer.h"

namespace nave::controllers {

class InformerFactory {
 public:
  explicit InformerFactory(client::Client& client) : client_(client) {}
  ~InformerFactory() { stop(); }

  // The shared informer of `resource`, created on first use. Controllers ask for theirs and
  // add handlers and indexes in their constructors, before start(); an informer first asked
  // for after start() starts at once.
  Informer& informer(const client::Resource& resource);
  // Starts every informer and waits until all have listed.
  void start();
  void stop();

 private:
  client::Client& client_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Informer>> informers_;  // guarded by mu_
  bool started_ = false;                                         // guarded by mu_
};

}  // namespace nave::controllers
