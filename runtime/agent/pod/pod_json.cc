#include "runtime/agent/pod/pod_json.h"

namespace nave::agent {

const Json& emptyObject() {
  static const Json kEmpty = Json::object();
  return kEmpty;
}

const Json& objectMember(const Json& obj, std::string_view key) {
  const Json* m = findMember(obj, key);
  return m != nullptr && m->is_object() ? *m : emptyObject();
}

const Json& arrayMember(const Json& obj, std::string_view key) {
  static const Json kEmpty = Json::array();
  const Json* m = findMember(obj, key);
  return m != nullptr && m->is_array() ? *m : kEmpty;
}

bool isTrue(const Json& obj, std::string_view key) {
  const Json* m = findMember(obj, key);
  return m != nullptr && m->is_boolean() && m->get<bool>();
}

std::optional<int64_t> optionalInt(const Json& obj, std::string_view key) {
  const Json* m = findMember(obj, key);
  if (m == nullptr || !m->is_number_integer()) return std::nullopt;
  return m->get<int64_t>();
}

std::string podName(const Json& pod) {
  return getString(objectMember(pod, "metadata"), "name");
}

std::string podNamespace(const Json& pod) {
  std::string ns = getString(objectMember(pod, "metadata"), "namespace");
  return ns.empty() ? "default" : ns;
}

Result<std::string> podUid(const Json& pod) {
  std::string uid = getString(objectMember(pod, "metadata"), "uid");
  if (!isPathComponent(uid)) {
    return Error(ErrorCode::kInvalid, "pod has no usable metadata.uid: \"" + uid + "\"");
  }
  return uid;
}

bool isPathComponent(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.size() <= 255 &&
         name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

std::string cleanPath(std::string_view path) {
  bool rooted = !path.empty() && path[0] == '/';
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!rooted) {
        parts.emplace_back("..");
      }
    } else if (!part.empty() && part != ".") {
      parts.emplace_back(part);
    }
    start = end + 1;
  }
  std::string out = rooted ? "/" : "";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += '/';
    out += parts[i];
  }
  return out.empty() ? "." : out;
}

std::vector<const Json*> podContainers(const Json& pod) {
  std::vector<const Json*> out;
  const Json& spec = objectMember(pod, "spec");
  for (const char* key : {"initContainers", "containers"}) {
    for (const Json& c : arrayMember(spec, key)) {
      if (c.is_object()) out.push_back(&c);
    }
  }
  return out;
}

const Json* findContainer(const Json& pod, std::string_view name) {
  const Json& spec = objectMember(pod, "spec");
  for (const char* key : {"containers", "initContainers"}) {
    for (const Json& c : arrayMember(spec, key)) {
      if (c.is_object() && getString(c, "name") == name) return &c;
    }
  }
  return nullptr;
}

bool isDns1123Label(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(s.front()) || !alnum(s.back())) return false;
  for (char c : s) {
    if (!alnum(c) && c != '-') return false;
  }
  return true;
}

std::string dns1123LabelError(std::string_view s) {
  if (s.size() > 63) return "must be no more than 63 characters";
  return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
         "and must start and end with an alphanumeric character (e.g. 'my-name',  or "
         "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
}

}  // namespace nave::agent
