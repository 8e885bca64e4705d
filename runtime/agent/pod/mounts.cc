// containerMounts: the kubelet's makeMounts (pkg/kubelet/kubelet_pods.go) with its subPath
// handling (pkg/volume/util/subpath/subpath_linux.go), the termination message file
// (kuberuntime) and the pod files containerd adds (its containerMounts).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "common/strings.h"
#include "runtime/agent/pod/expansion.h"
#include "runtime/agent/pod/host_fs.h"
#include "runtime/agent/pod/pod_json.h"
#include "runtime/agent/pod/pod_spec.h"

namespace nave::agent {
namespace {

constexpr const char* kEtcHosts = "/etc/hosts";
constexpr const char* kEtcHostname = "/etc/hostname";
constexpr const char* kResolvConf = "/etc/resolv.conf";

// The kubelet's ExpandContainerVolumeMounts: every reference must name a variable with a
// non-empty value.
Result<std::string> expandSubPathExpr(const std::string& expr,
                                      const std::map<std::string, std::string>& env) {
  std::set<std::string> missing;
  std::string expanded = expandVariables(expr, [&](const std::string& name) {
    auto it = env.find(name);
    if (it == env.end() || it->second.empty()) {
      missing.insert(name);
      return std::string();
    }
    return it->second;
  });
  if (!missing.empty()) {
    return Error(ErrorCode::kInvalid,
                 "missing value for " +
                     join(std::vector<std::string>(missing.begin(), missing.end()), ", "));
  }
  return expanded;
}

// configMap, secret, downwardAPI and projected volumes are mounted read-only whatever the
// volumeMount says (their plugins' ReadOnly attribute), and so is a claim marked readOnly.
bool volumeForcesReadOnly(const Json& pod, const std::string& name) {
  for (const Json& volume : arrayMember(objectMember(pod, "spec"), "volumes")) {
    if (getString(volume, "name") != name) continue;
    for (const char* kind : {"configMap", "secret", "downwardAPI", "projected"}) {
      const Json* source = findMember(volume, kind);
      if (source != nullptr && source->is_object()) return true;
    }
    return isTrue(objectMember(volume, "persistentVolumeClaim"), "readOnly");
  }
  return false;
}

Result<std::string> propagationOption(const Json& mount) {
  const Json* mode = findMember(mount, "mountPropagation");
  if (mode == nullptr || mode->is_null()) return std::string("rprivate");
  std::string m = mode->is_string() ? mode->get<std::string>() : mode->dump();
  if (m == "None") return std::string("rprivate");
  if (m == "HostToContainer") return std::string("rslave");
  if (m == "Bidirectional") return std::string("rshared");
  return Error(ErrorCode::kInvalid, "invalid MountPropagation mode: " + goQuote(m));
}

// The kubelet's resolveRecursiveReadOnly (the runtime supports recursive read-only mounts).
Result<bool> recursiveReadOnly(const Json& mount) {
  std::string mode = getString(mount, "recursiveReadOnly");
  if (mode.empty() || mode == "Disabled") return false;
  std::string name = getString(mount, "name");
  auto fail = [](const std::string& why) {
    return Error(ErrorCode::kInvalid, "failed to resolve recursive read-only mode: " + why);
  };
  if (!getBool(mount, "readOnly")) {
    return fail("volume " + goQuote(name) +
                " requested recursive read-only mode, but it is not read-only");
  }
  std::string propagation = getString(mount, "mountPropagation");
  if (!propagation.empty() && propagation != "None") {
    return fail("volume " + goQuote(name) +
                " requested recursive read-only mode, but it is not compatible with propagation " +
                goQuote(propagation));
  }
  if (mode == "IfPossible" || mode == "Enabled") return true;
  return fail("unknown recursive read-only mode " + goQuote(mode));
}

// Opens the subPath inside the volume (creating it as a directory when missing, with the
// volume directory's mode) and bind-mounts the opened descriptor at
// podDir/volume-subpaths/VOLUME/CONTAINER/INDEX, which becomes the mount's source.
Result<std::string> prepareSubPath(const std::string& podDir, const std::string& volumePath,
                                   const std::string& subPath, const std::string& volumeName,
                                   const std::string& containerName, size_t index) {
  std::string what =
      "volumeMount " + goQuote(volumeName) + " of container " + goQuote(containerName);
  // The kubelet's message, with the reason (which names no host path: the lookups below
  // report paths relative to the volume).
  auto prepareFailed = [&](const Error& e) {
    return Error(e.code(), "failed to prepare subPath for " + what + ": " + e.message());
  };
  if (podDir.empty()) {
    return Error(ErrorCode::kInternal, "failed to prepare subPath for " + what +
                                           ": no pod directory for the subPath bind mount");
  }
  UniqueFd volume(::open(volumePath.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!volume) return prepareFailed(Error::fromErrno("open the volume", errno));
  Result<UniqueFd> opened = hostfs::openBeneath(volume.get(), subPath);
  if (!opened.ok() && opened.error().is(ErrorCode::kNotFound)) {
    // Created now: the runtime would create it with the wrong mode (and follow symlinks).
    struct stat volumeStat;
    if (::fstat(volume.get(), &volumeStat) != 0) {
      return prepareFailed(Error::fromErrno("stat the volume", errno));
    }
    opened = hostfs::makeDirsBeneath(volume.get(), subPath, volumeStat.st_mode & 07777);
    if (!opened.ok()) {
      return Error(opened.error().code(), "failed to create subPath directory for " + what + ": " +
                                              opened.error().message());
    }
  }
  if (!opened.ok()) return prepareFailed(opened.error());
  struct stat source;
  if (::fstat(opened->get(), &source) != 0) return prepareFailed(Error::fromErrno("stat", errno));

  std::string parent = podDir + "/volume-subpaths/" + volumeName + "/" + containerName;
  std::string target = parent + "/" + std::to_string(index);
  TRY(hostfs::makeDirs(parent, 0750));
  struct stat existing;
  if (::lstat(target.c_str(), &existing) == 0) {
    if (TRY(hostfs::isMountPoint(target))) {
      struct stat mounted;
      if (::stat(target.c_str(), &mounted) == 0 && mounted.st_dev == source.st_dev &&
          mounted.st_ino == source.st_ino) {
        return target;  // bound by an earlier start of this container
      }
      TRY(hostfs::unmount(target));
      if (::lstat(target.c_str(), &existing) != 0) return Error::fromErrno("stat " + target, errno);
    }
    if (S_ISDIR(existing.st_mode) != S_ISDIR(source.st_mode)) {
      int r = S_ISDIR(existing.st_mode) ? ::rmdir(target.c_str()) : ::unlink(target.c_str());
      if (r != 0) return Error::fromErrno("remove " + target, errno);
    }
  }
  if (S_ISDIR(source.st_mode)) {
    if (::mkdir(target.c_str(), 0750) != 0 && errno != EEXIST) {
      return Error::fromErrno("create " + target, errno);
    }
  } else {
    UniqueFd f(::open(target.c_str(), O_CREAT | O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0640));
    if (!f) return Error::fromErrno("create " + target, errno);
  }
  TRY(hostfs::bindMountFd(opened->get(), target));
  return target;
}

Result<void> ensureTerminationLog(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) return {};
  size_t slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) TRY(hostfs::makeDirs(path.substr(0, slash), 0750));
  UniqueFd fd(::open(path.c_str(), O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0666));
  if (!fd) return Error::fromErrno("create termination-log file " + path, errno);
  // Whatever the umask: the container's user writes it.
  if (::fchmod(fd.get(), 0666) != 0) return Error::fromErrno("chmod " + path, errno);
  return {};
}

bool fileExists(const std::string& path) {
  struct stat st;
  return !path.empty() && ::stat(path.c_str(), &st) == 0;
}

size_t depth(const std::string& destination) {
  std::string clean = cleanPath(destination);
  return clean == "/" ? 0 : static_cast<size_t>(std::count(clean.begin(), clean.end(), '/'));
}

}  // namespace

Result<std::vector<runtime::Mount>> containerMounts(
    const Json& pod, const Json& container, const std::map<std::string, std::string>& volumes,
    const std::vector<std::string>& env, const PodFilePaths& podFiles,
    const std::string& terminationLogPath) {
  std::string containerName = getString(container, "name");
  std::map<std::string, std::string> envMap = envToMap(env);
  std::vector<runtime::Mount> mounts;
  bool mountHosts = !podFiles.hosts.empty();
  const Json& volumeMounts = arrayMember(container, "volumeMounts");
  for (size_t i = 0; i < volumeMounts.size(); ++i) {
    const Json& m = volumeMounts[i];
    std::string name = getString(m, "name");
    std::string mountPath = getString(m, "mountPath");
    if (mountPath == kEtcHosts) mountHosts = false;
    auto volume = volumes.find(name);
    if (volume == volumes.end()) {
      return Error(ErrorCode::kNotFound, "cannot find volume " + goQuote(name) +
                                             " to mount into container " + goQuote(containerName));
    }
    if (mountPath.empty()) {
      return Error(ErrorCode::kInvalid, "volumeMount " + goQuote(name) + " of container " +
                                            goQuote(containerName) + " has no mountPath");
    }
    std::string subPath = getString(m, "subPath");
    if (std::string expr = getString(m, "subPathExpr"); !expr.empty()) {
      subPath = TRY(expandSubPathExpr(expr, envMap));
    }
    std::string source = volume->second;
    if (!subPath.empty()) {
      if (subPath[0] == '/') {
        return Error(ErrorCode::kInvalid,
                     "error SubPath `" + subPath + "` must not be an absolute path");
      }
      for (const std::string& part : split(subPath, '/')) {
        if (part == "..") {
          return Error(ErrorCode::kInvalid,
                       "unable to provision SubPath `" + subPath + "`: must not contain '..'");
        }
      }
      source =
          TRY(prepareSubPath(podFiles.podDir, volume->second, subPath, name, containerName, i));
    }
    std::string destination = mountPath[0] == '/' ? mountPath : cleanPath("/" + mountPath);
    std::vector<std::string> options = {"rbind", TRY(propagationOption(m))};
    if (getBool(m, "readOnly") || volumeForcesReadOnly(pod, name)) options.push_back("ro");
    if (TRY(recursiveReadOnly(m))) options.push_back("rro");
    mounts.push_back({source, destination, "bind", options});
  }
  if (mountHosts) mounts.push_back({podFiles.hosts, kEtcHosts, "bind", {"rbind", "rprivate"}});
  std::string messagePath = getString(container, "terminationMessagePath");
  if (!messagePath.empty() && !terminationLogPath.empty()) {
    TRY(ensureTerminationLog(terminationLogPath));
    std::string destination = messagePath[0] == '/' ? messagePath : cleanPath("/" + messagePath);
    mounts.push_back({terminationLogPath, destination, "bind", {"rbind", "rprivate"}});
  }

  // What containerd adds unless the container mounts something at that path itself.
  bool readOnlyRoot = getBool(objectMember(container, "securityContext"), "readOnlyRootFilesystem");
  auto mountedAt = [&](const char* path) {
    return std::any_of(mounts.begin(), mounts.end(), [&](const runtime::Mount& mount) {
      return cleanPath(mount.destination) == path;
    });
  };
  for (const auto& [path, file] :
       {std::pair{kEtcHostname, podFiles.hostname}, std::pair{kResolvConf, podFiles.resolvConf}}) {
    if (mountedAt(path) || !fileExists(file)) continue;
    std::vector<std::string> options = {"rbind", "rprivate"};
    if (readOnlyRoot) options.push_back("ro");
    mounts.push_back({file, path, "bind", options});
  }

  // Shallow destinations first, so that no mount hides one below it (containerd sorts so).
  std::stable_sort(mounts.begin(), mounts.end(),
                   [](const runtime::Mount& a, const runtime::Mount& b) {
                     return depth(a.destination) < depth(b.destination);
                   });
  return mounts;
}

}  // namespace nave::agent
