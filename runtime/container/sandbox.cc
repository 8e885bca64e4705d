// Pod sandboxes: ROOT/sandboxes/ID/{sandbox.json,net,ipc,uts}. The namespace files are bind
// mounts of a short-lived process's namespaces, so a sandbox needs no process of its own; a
// kind the sandbox shares with the host (hostNetwork, hostIpc) has no file.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "common/json.h"
#include "common/time.h"
#include "runtime/container/linux_runtime.h"
#include "runtime/container/spec_json.h"
#include "runtime/container/sys/launcher.h"

namespace nave::runtime {

namespace {

Result<SandboxStatus> readSandbox(const std::string& dir) {
  std::string text = TRY(readWholeFile(dir + "/sandbox.json"));
  auto parsed = parseJson(text);
  if (!parsed.ok() || !parsed->value.is_object())
    return Error(ErrorCode::kInternal, "malformed " + dir + "/sandbox.json");
  const Json& j = parsed->value;
  SandboxStatus s;
  s.id = getString(j, "id");
  s.hostNetwork = getBool(j, "hostNetwork");
  if (!s.hostNetwork) s.netnsPath = dir + "/net";
  if (!getBool(j, "hostIpc")) s.ipcnsPath = dir + "/ipc";
  s.utsnsPath = dir + "/uts";
  if (const Json* labels = findMember(j, "labels"); labels && labels->is_object()) {
    for (const auto& [k, v] : labels->items())
      if (v.is_string()) s.labels[k] = v.get<std::string>();
  }
  s.createdAt = WallTime(std::chrono::duration_cast<WallTime::duration>(
      std::chrono::nanoseconds(getInt(j, "createdAt"))));
  return s;
}

}  // namespace

Result<SandboxStatus> LinuxContainerRuntime::createSandbox(const SandboxSpec& spec) {
  TRY(validateId(spec.id));
  std::string dir = sandboxDir(spec.id);
  if (::mkdir(dir.c_str(), 0700) != 0) {
    if (errno == EEXIST)
      return Error(ErrorCode::kAlreadyExists, "sandbox \"" + spec.id + "\" already exists");
    return Error::fromErrno("create " + dir, errno);
  }
  Json j = {{"id", spec.id},
            {"hostname", spec.hostname},
            {"hostNetwork", spec.hostNetwork},
            {"hostIpc", spec.hostIpc},
            {"labels", spec.labels},
            {"createdAt", unixNanosNow()}};
  std::string net = spec.hostNetwork ? "" : dir + "/net";
  std::string ipc = spec.hostIpc ? "" : dir + "/ipc";
  std::string uts = dir + "/uts";
  std::string hostname = spec.hostname.empty() ? spec.id.substr(0, 12) : spec.hostname;
  Result<void> made = [&]() -> Result<void> {
    TRY(sys::createNamespaceFiles(net, ipc, uts, hostname));
    // Written last: a sandbox.json means the namespaces are there.
    return writeFileAtomic(dir + "/sandbox.json", dumpJson(j) + "\n");
  }();
  if (!made.ok()) {
    (void)sys::removeNamespaceFiles({dir + "/net", dir + "/ipc", uts});
    removeTree(dir);
    return std::move(made).error();
  }
  return readSandbox(dir);
}

Result<void> LinuxContainerRuntime::removeSandbox(const std::string& id) {
  TRY(validateId(id));
  std::string dir = sandboxDir(id);
  struct stat st{};
  if (::stat(dir.c_str(), &st) != 0) return {};
  // Its containers: any whose spec names it (exited ones too: they would be restarted into
  // namespaces that no longer exist).
  DIR* d = ::opendir(root_.c_str());
  if (d) {
    std::vector<std::string> users;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (!validateId(name).ok()) continue;
      auto text = readWholeFile(containerDir(name) + "/spec.json");
      if (!text.ok()) continue;
      auto parsed = parseJson(*text);
      if (parsed.ok() && getString(parsed->value, "sandboxId") == id) users.push_back(name);
    }
    ::closedir(d);
    if (!users.empty()) {
      std::sort(users.begin(), users.end());
      return Error(ErrorCode::kConflict, "sandbox \"" + id + "\" still has containers: " + users.front() +
                                             (users.size() > 1 ? " and " + std::to_string(users.size() - 1) + " more" : ""));
    }
  }
  TRY(sys::removeNamespaceFiles({dir + "/net", dir + "/ipc", dir + "/uts"}));
  removeTree(dir);
  return {};
}

std::vector<SandboxStatus> LinuxContainerRuntime::listSandboxes() {
  std::vector<SandboxStatus> out;
  std::string base = root_ + "/sandboxes";
  DIR* d = ::opendir(base.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (auto s = readSandbox(base + "/" + name); s.ok()) out.push_back(std::move(*s));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(), [](const SandboxStatus& a, const SandboxStatus& b) { return a.id < b.id; });
  return out;
}

}  // namespace nave::runtime
