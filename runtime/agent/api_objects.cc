#include "runtime/agent/api_objects.h"

namespace nave::agent {

Result<Json> ApiObjectSource::configMap(const std::string& ns, const std::string& name) {
  return client_.get({"", "v1", "configmaps"}, ns, name);
}

Result<Json> ApiObjectSource::secret(const std::string& ns, const std::string& name) {
  return client_.get({"", "v1", "secrets"}, ns, name);
}

Result<Json> ApiObjectSource::persistentVolumeClaim(const std::string& ns, const std::string& name) {
  return client_.get({"", "v1", "persistentvolumeclaims"}, ns, name);
}

Result<Json> ApiObjectSource::persistentVolume(const std::string& name) {
  return client_.get({"", "v1", "persistentvolumes"}, "", name);
}

}  // namespace nave::agent
