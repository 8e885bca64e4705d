#include "runtime/agent/pod/projections.h"

#include <set>
#include <vector>

#include "common/log.h"
#include "runtime/agent/pod/downward_api.h"
#include "runtime/agent/pod/objects.h"
#include "runtime/agent/pod/pod_json.h"

namespace nave::agent {
namespace {

// utilerrors.NewAggregate's message: one error as it is, several (deduplicated) in brackets.
Error aggregate(const std::vector<Error>& errors) {
  if (errors.size() == 1) return errors[0];
  std::vector<std::string> messages;
  std::set<std::string> seen;
  for (const Error& e : errors) {
    if (seen.insert(e.message()).second) messages.push_back(e.message());
  }
  if (messages.size() == 1) return Error(errors[0].code(), messages[0]);
  std::string joined;
  for (const std::string& m : messages) joined += (joined.empty() ? "" : ", ") + m;
  return Error(errors[0].code(), "[" + joined + "]");
}

Result<Payload> keyedPayload(const Json& items, const std::map<std::string, std::string>& data,
                             uint32_t defaultMode, bool optional, const char* missingMessage) {
  Payload payload;
  if (!items.is_array() || items.empty()) {
    for (const auto& [key, value] : data) payload[key] = {value, defaultMode};
    return payload;
  }
  for (const Json& item : items) {
    std::string key = getString(item, "key");
    auto it = data.find(key);
    if (it == data.end()) {
      if (optional) continue;
      return Error(ErrorCode::kNotFound, missingMessage + key);
    }
    payload[getString(item, "path")] = {it->second, TRY(fileMode(item, "mode", defaultMode))};
  }
  return payload;
}

}  // namespace

Result<uint32_t> fileMode(const Json& obj, const char* key, uint32_t fallback) {
  const Json* m = findMember(obj, key);
  if (m == nullptr || m->is_null()) return fallback;
  if (!m->is_number_integer() || m->get<int64_t>() < 0 || m->get<int64_t>() > 0777) {
    return Error(ErrorCode::kInvalid, "invalid " + std::string(key) + " " + m->dump() +
                                          ": must be a number between 0 and 0777 (octal), both "
                                          "inclusive");
  }
  return static_cast<uint32_t>(m->get<int64_t>());
}

Result<Payload> configMapPayload(const Json& items, const Json& configMap, uint32_t defaultMode,
                                 bool optional) {
  std::map<std::string, std::string> data = TRY(configMapBinaryData(configMap));
  // A key is in data or in binaryData (the API server refuses both); text wins if both.
  for (auto& [key, value] : configMapData(configMap)) data[key] = std::move(value);
  return keyedPayload(items, data, defaultMode, optional,
                      "configmap references non-existent config key: ");
}

Result<Payload> secretPayload(const Json& items, const Json& secret, uint32_t defaultMode,
                              bool optional) {
  std::map<std::string, std::string> data = TRY(secretData(secret));
  return keyedPayload(items, data, defaultMode, optional, "references non-existent secret key: ");
}

Result<Payload> downwardApiPayload(const Json& items, const Json& pod, const PodFacts& facts,
                                   uint32_t defaultMode) {
  Payload payload;
  std::vector<Error> errors;
  if (!items.is_array()) return payload;
  for (const Json& item : items) {
    FileProjection file;
    Result<uint32_t> mode = fileMode(item, "mode", defaultMode);
    if (!mode.ok()) {
      errors.push_back(mode.error());
      continue;
    }
    file.mode = *mode;
    if (const Json* f = findMember(item, "fieldRef"); f != nullptr && f->is_object()) {
      Result<std::string> value = podMetadataField(pod, getString(*f, "fieldPath"));
      if (value.ok()) {
        file.data = *value;
      } else {
        errors.push_back(value.error());
      }
    } else if (const Json* r = findMember(item, "resourceFieldRef");
               r != nullptr && r->is_object()) {
      std::string name = getString(*r, "containerName");
      const Json* container = findContainer(pod, name);
      if (container == nullptr) {
        errors.emplace_back(ErrorCode::kInvalid, "container " + name + " not found");
      } else if (Result<std::string> value = containerResourceValue(*r, *container, facts);
                 value.ok()) {
        file.data = *value;
      } else {
        errors.push_back(value.error());
      }
    }
    payload[cleanPath(getString(item, "path"))] = std::move(file);
  }
  if (!errors.empty()) return aggregate(errors);
  return payload;
}

Result<Payload> projectedPayload(const Json& projected, const Json& pod, ObjectSource& objects,
                                 const PodFacts& facts) {
  uint32_t defaultMode = TRY(fileMode(projected, "defaultMode", 0644));
  std::string ns = podNamespace(pod);
  Payload payload;
  std::vector<Error> errors;
  auto merge = [&](Result<Payload> part) {
    if (!part.ok()) {
      errors.push_back(part.error());
      return;
    }
    for (auto& [path, file] : *part) payload[path] = std::move(file);
  };
  for (const Json& source : arrayMember(projected, "sources")) {
    if (const Json* s = findMember(source, "secret"); s != nullptr && s->is_object()) {
      std::string name = getString(*s, "name");
      bool optional = isTrue(*s, "optional");
      Result<Json> secret = fetchSecret(objects, ns, name);
      if (!secret.ok()) {
        if (!(secret.error().is(ErrorCode::kNotFound) && optional)) {
          errors.push_back(secret.error());
          continue;
        }
        secret = Json{{"metadata", {{"namespace", ns}, {"name", name}}}};
      }
      merge(secretPayload(arrayMember(*s, "items"), *secret, defaultMode, optional));
    } else if (const Json* c = findMember(source, "configMap"); c != nullptr && c->is_object()) {
      std::string name = getString(*c, "name");
      bool optional = isTrue(*c, "optional");
      Result<Json> configMap = fetchConfigMap(objects, ns, name);
      if (!configMap.ok()) {
        if (!(configMap.error().is(ErrorCode::kNotFound) && optional)) {
          errors.push_back(configMap.error());
          continue;
        }
        configMap = Json{{"metadata", {{"namespace", ns}, {"name", name}}}};
      }
      merge(configMapPayload(arrayMember(*c, "items"), *configMap, defaultMode, optional));
    } else if (const Json* d = findMember(source, "downwardAPI"); d != nullptr && d->is_object()) {
      merge(downwardApiPayload(arrayMember(*d, "items"), pod, facts, defaultMode));
    } else if (findMember(source, "serviceAccountToken") != nullptr) {
      // Tokens need the TokenRequest API; until the agent has it, the file is left out
      // (the kube-api-access volume then holds ca.crt and namespace only).
      log::v(2, "projected serviceAccountToken source not written yet",
             {{"pod", ns + "/" + podName(pod)}});
    } else if (findMember(source, "clusterTrustBundle") != nullptr) {
      log::v(2, "projected clusterTrustBundle source not supported",
             {{"pod", ns + "/" + podName(pod)}});
    }
  }
  if (!errors.empty()) return aggregate(errors);
  return payload;
}

}  // namespace nave::agent
