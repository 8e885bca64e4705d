// Helpers for the runtime/agent/pod tests: a scratch directory removed (and unmounted) after
// each test, a fake ObjectSource, file helpers and a minimal pod.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>

#include "common/fs.h"
#include "common/json.h"
#include "common/strings.h"
#include "runtime/agent/pod/host_fs.h"
#include "runtime/agent/pod/pod_spec.h"

namespace nave::agent::testing {

// A fresh directory under $TMPDIR (or /tmp); whatever is mounted below it is unmounted and
// everything removed when the test ends.
class ScratchDir {
 public:
  ScratchDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/nave-podspec-XXXXXX";
    char* made = ::mkdtemp(templ.data());
    if (made == nullptr) std::abort();
    char* real = ::realpath(made, nullptr);
    path_ = real;
    std::free(real);
  }
  ~ScratchDir() {
    auto mounts = hostfs::mountPointsUnder(path_);
    if (mounts.ok()) {
      for (const std::string& m : *mounts) (void)hostfs::unmount(m);
    }
    (void)removeTree(path_);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void writeFile(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

inline mode_t modeOf(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

inline bool isRoot() {
  return ::geteuid() == 0;
}

// Objects by "namespace/name" (claims, configMaps, secrets) or name (volumes). Missing ones
// are kNotFound with the API server's wording, which the code under test rewords.
class FakeObjectSource : public ObjectSource {
 public:
  std::map<std::string, Json> configMaps, secrets, claims, volumes;
  std::optional<Error> failure;  // when set, every lookup fails with it
  int lookups = 0;

  Result<Json> configMap(const std::string& ns, const std::string& name) override {
    return find(configMaps, ns + "/" + name, "configmaps", name);
  }
  Result<Json> secret(const std::string& ns, const std::string& name) override {
    return find(secrets, ns + "/" + name, "secrets", name);
  }
  Result<Json> persistentVolumeClaim(const std::string& ns, const std::string& name) override {
    return find(claims, ns + "/" + name, "persistentvolumeclaims", name);
  }
  Result<Json> persistentVolume(const std::string& name) override {
    return find(volumes, name, "persistentvolumes", name);
  }

 private:
  Result<Json> find(const std::map<std::string, Json>& objects, const std::string& key,
                    const std::string& resource, const std::string& name) {
    ++lookups;
    if (failure) return *failure;
    auto it = objects.find(key);
    if (it == objects.end()) {
      return Error(ErrorCode::kNotFound, resource + " \"" + name + "\" not found");
    }
    return it->second;
  }
};

// A pod "ns1/web" (uid "uid-1") with one container "app".
inline Json basePod() {
  return Json::parse(R"({
    "metadata": {"name": "web", "namespace": "ns1", "uid": "uid-1",
                 "labels": {"app": "web", "tier": "front"},
                 "annotations": {"note": "a \"quoted\" value"}},
    "spec": {"nodeName": "node-a", "serviceAccountName": "builder",
             "containers": [{"name": "app", "image": "busybox"}]}
  })");
}

inline Json configMapObject(const std::string& ns, const std::string& name, const Json& data,
                            const Json& binaryData = Json()) {
  Json cm = {{"metadata", {{"namespace", ns}, {"name", name}}}, {"data", data}};
  if (!binaryData.is_null()) cm["binaryData"] = binaryData;
  return cm;
}

// A secret whose data values are given in clear and stored base64-encoded, as the API does.
inline Json secretObject(const std::string& ns, const std::string& name,
                         const std::map<std::string, std::string>& data) {
  Json encoded = Json::object();
  for (const auto& [k, v] : data) encoded[k] = base64Encode(v);
  return {{"metadata", {{"namespace", ns}, {"name", name}}}, {"data", encoded}};
}

}  // namespace nave::agent::testing
