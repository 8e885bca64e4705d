#include "server/controllers/object_util.h"

namespace nave::controllers {

bool isDeleting(const Json& object) {
  const Json* md = findMember(object, "metadata");
  const Json* ts = md ? findMember(*md, "deletionTimestamp") : nullptr;
  return ts != nullptr && !ts->is_null();
}

const Json* findCondition(const Json& object, std::string_view type) {
  const Json* status = findMember(object, "status");
  const Json* conditions = status ? findMember(*status, "conditions") : nullptr;
  if (conditions == nullptr || !conditions->is_array()) return nullptr;
  for (const Json& c : *conditions)
    if (getString(c, "type") == type) return &c;
  return nullptr;
}

bool isPodReady(const Json& pod) {
  const Json* ready = findCondition(pod, "Ready");
  return ready != nullptr && getString(*ready, "status") == "True";
}

bool tolerates(const Json& toleration, const Json& taint) {
  std::string effect = getString(toleration, "effect");
  if (!effect.empty() && effect != getString(taint, "effect")) return false;
  std::string key = getString(toleration, "key");
  std::string op = getString(toleration, "operator", "Equal");
  if (key.empty()) return op == "Exists";
  if (key != getString(taint, "key")) return false;
  if (op == "Exists") return true;
  return op == "Equal" && getString(toleration, "value") == getString(taint, "value");
}

}  // namespace nave::controllers
