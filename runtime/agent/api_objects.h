// ObjectSource over the API: the ConfigMaps, Secrets and volumes pods refer to, read through
// the Client when a container starts or a volume is refreshed.
#pragma once

#include "runtime/agent/pod/pod_spec.h"
#include "server/client/client.h"

namespace nave::agent {

class ApiObjectSource : public ObjectSource {
 public:
  explicit ApiObjectSource(client::Client& client) : client_(client) {}
  Result<Json> configMap(const std::string& ns, const std::string& name) override;
  Result<Json> secret(const std::string& ns, const std::string& name) override;
  Result<Json> persistentVolumeClaim(const std::string& ns, const std::string& name) override;
  Result<Json> persistentVolume(const std::string& name) override;

 private:
  client::Client& client_;
};

}  // namespace nave::agent
