#include "runtime/agent/pod/objects.h"

#include "common/strings.h"
#include "runtime/agent/pod/pod_json.h"

namespace nave::agent {
namespace {

Result<Json> fetch(Result<Json> r, const char* resource, const std::string& name) {
  if (!r.ok() && r.error().is(ErrorCode::kNotFound)) {
    return Error(ErrorCode::kNotFound, std::string(resource) + " \"" + name + "\" not found");
  }
  return r;
}

std::string objectRef(const Json& obj) {
  const Json& metadata = objectMember(obj, "metadata");
  return getString(metadata, "namespace") + "/" + getString(metadata, "name");
}

Result<std::map<std::string, std::string>> decodeMap(const Json& map, const char* what,
                                                     const Json& owner) {
  std::map<std::string, std::string> out;
  if (!map.is_object()) return out;
  for (auto it = map.begin(); it != map.end(); ++it) {
    std::string decoded;
    if (!it->is_string() || !base64Decode(it->get_ref<const std::string&>(), decoded)) {
      return Error(ErrorCode::kInvalid, std::string(what) + " " + objectRef(owner) +
                                            ": the value of key " + it.key() +
                                            " is not valid base64");
    }
    out[it.key()] = std::move(decoded);
  }
  return out;
}

}  // namespace

Result<Json> fetchConfigMap(ObjectSource& objects, const std::string& ns, const std::string& name) {
  return fetch(objects.configMap(ns, name), "configmap", name);
}

Result<Json> fetchSecret(ObjectSource& objects, const std::string& ns, const std::string& name) {
  return fetch(objects.secret(ns, name), "secret", name);
}

Result<std::map<std::string, std::string>> secretData(const Json& secret) {
  const Json* data = findMember(secret, "data");
  return decodeMap(data != nullptr ? *data : emptyObject(), "secret", secret);
}

std::map<std::string, std::string> configMapData(const Json& configMap) {
  std::map<std::string, std::string> out;
  const Json& data = objectMember(configMap, "data");
  for (auto it = data.begin(); it != data.end(); ++it) {
    out[it.key()] = it->is_string() ? it->get<std::string>() : it->dump();
  }
  return out;
}

Result<std::map<std::string, std::string>> configMapBinaryData(const Json& configMap) {
  return decodeMap(objectMember(configMap, "binaryData"), "configmap", configMap);
}

}  // namespace nave::agent
