#include "runtime/agent/pod/downward_api.h"

#include "common/strings.h"
#include "runtime/agent/pod/pod_json.h"
#include "runtime/agent/pod/quantity.h"

namespace nave::agent {
namespace {

bool isAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool isDns1123Subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (std::string_view label : split(s, '.')) {
    if (!isDns1123Label(label)) return false;
  }
  return true;
}

constexpr std::string_view kQualifiedNameRule =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

// Kubernetes' validation.IsQualifiedName: [prefix/]name. Empty when valid.
std::string qualifiedNameError(std::string_view value) {
  std::vector<std::string> parts = split(value, '/');
  std::string name;
  if (parts.size() == 1) {
    name = parts[0];
  } else if (parts.size() == 2) {
    if (parts[0].empty()) return "prefix part must be non-empty";
    if (!isDns1123Subdomain(parts[0])) {
      return "prefix part a lowercase RFC 1123 subdomain must consist of lower case "
             "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
             "character";
    }
    name = parts[1];
  } else {
    return "a qualified name " + std::string(kQualifiedNameRule) +
           " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";
  }
  if (name.empty()) return "name part must be non-empty";
  if (name.size() > 63) return "name part must be no more than 63 characters";
  bool ok = isAlnum(name.front()) && isAlnum(name.back());
  for (char c : name) ok = ok && (isAlnum(c) || c == '-' || c == '_' || c == '.');
  if (!ok) return "name part " + std::string(kQualifiedNameRule);
  return "";
}

std::string formatMap(const Json& map) {
  std::string out;
  if (!map.is_object()) return out;
  for (auto it = map.begin(); it != map.end(); ++it) {  // nlohmann keeps keys sorted
    if (!out.empty()) out += '\n';
    out += it.key() + "=" + goQuote(it->is_string() ? it->get<std::string>() : it->dump());
  }
  return out;
}

std::string stringValue(const Json& map, const std::string& key) {
  const Json* v = findMember(map, key);
  if (v == nullptr) return "";
  return v->is_string() ? v->get<std::string>() : v->dump();
}

int64_t ceilDiv(int64_t a, int64_t b) {
  if (a >= 0) return a / b + (a % b != 0 ? 1 : 0);
  return a / b;  // truncation is the ceiling for negative quotients
}

}  // namespace

Result<std::string> podMetadataField(const Json& pod, const std::string& fieldPath) {
  const Json& metadata = objectMember(pod, "metadata");
  // A subscripted path: metadata.labels['key'].
  if (fieldPath.size() > 2 && fieldPath.ends_with("']")) {
    size_t open = fieldPath.find("['");
    if (open != std::string::npos && open > 0) {
      std::string path = fieldPath.substr(0, open);
      std::string subscript = fieldPath.substr(open + 2, fieldPath.size() - open - 4);
      if (path == "metadata.annotations" || path == "metadata.labels") {
        std::string check = path == "metadata.annotations" ? toLower(subscript) : subscript;
        std::string problem = qualifiedNameError(check);
        if (!problem.empty()) {
          return Error(ErrorCode::kInvalid,
                       "invalid key subscript in " + fieldPath + ": " + problem);
        }
        return stringValue(objectMember(metadata, path.substr(9)), subscript);
      }
      return Error(ErrorCode::kInvalid,
                   "fieldPath \"" + fieldPath + "\" does not support subscript");
    }
  }
  if (fieldPath == "metadata.annotations") return formatMap(objectMember(metadata, "annotations"));
  if (fieldPath == "metadata.labels") return formatMap(objectMember(metadata, "labels"));
  if (fieldPath == "metadata.name") return getString(metadata, "name");
  if (fieldPath == "metadata.namespace") return getString(metadata, "namespace");
  if (fieldPath == "metadata.uid") return getString(metadata, "uid");
  return Error(ErrorCode::kInvalid, "unsupported fieldPath: " + fieldPath);
}

Result<std::string> containerResourceValue(const Json& resourceFieldRef, const Json& container,
                                           const PodFacts& facts) {
  std::string resource = getString(resourceFieldRef, "resource");
  Quantity divisor = Quantity::fromUnits(1);
  if (const Json* d = findMember(resourceFieldRef, "divisor"); d != nullptr && !d->is_null()) {
    Quantity parsed = TRY(Quantity::fromJson(*d));
    if (parsed.isNegative()) {
      return Error(ErrorCode::kInvalid, "invalid divisor " + d->dump() + " for " + resource);
    }
    if (!parsed.isZero()) divisor = parsed;
  }
  std::string kind, name;
  if (resource.starts_with("limits.")) {
    kind = "limits";
    name = resource.substr(7);
  } else if (resource.starts_with("requests.")) {
    kind = "requests";
    name = resource.substr(9);
  }
  bool known = name == "cpu" || name == "memory" || name == "ephemeral-storage" ||
               name.starts_with("hugepages-");
  if (kind.empty() || !known) {
    return Error(ErrorCode::kInvalid, "unsupported container resource : " + resource);
  }
  Quantity amount;
  const Json& list = objectMember(objectMember(container, "resources"), kind);
  if (const Json* q = findMember(list, name); q != nullptr) {
    amount = TRY(Quantity::fromJson(*q));
  }
  if (kind == "limits" && amount.isZero()) {
    if (name == "cpu" && facts.nodeAllocatableMilliCpu > 0) {
      amount = Quantity::fromMillis(facts.nodeAllocatableMilliCpu);
    } else if (name == "memory" && facts.nodeAllocatableMemoryBytes > 0) {
      amount = Quantity::fromUnits(facts.nodeAllocatableMemoryBytes);
    } else if (name == "ephemeral-storage" && facts.nodeAllocatableEphemeralBytes > 0) {
      amount = Quantity::fromUnits(facts.nodeAllocatableEphemeralBytes);
    }
  }
  int64_t result = name == "cpu" ? ceilDiv(amount.milliValue(), divisor.milliValue())
                                 : ceilDiv(amount.value(), divisor.value());
  return std::to_string(result);
}

}  // namespace nave::agent
