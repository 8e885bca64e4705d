// VolumeManager: the kubelet's volume plugins for the volume types a single-node distribution
// needs (pkg/volume/{emptydir,hostpath,configmap,secret,downwardapi,projected,local}).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <optional>

#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"
#include "runtime/agent/pod/atomic_writer.h"
#include "runtime/agent/pod/host_fs.h"
#include "runtime/agent/pod/objects.h"
#include "runtime/agent/pod/pod_json.h"
#include "runtime/agent/pod/pod_resources.h"
#include "runtime/agent/pod/pod_spec.h"
#include "runtime/agent/pod/projections.h"
#include "runtime/agent/pod/quantity.h"

namespace nave::agent {
namespace {

// The kubelet's plugin directory names (kubernetes.io/empty-dir escaped for the disk).
constexpr const char* kEmptyDirPlugin = "kubernetes.io~empty-dir";
constexpr const char* kConfigMapPlugin = "kubernetes.io~configmap";
constexpr const char* kSecretPlugin = "kubernetes.io~secret";
constexpr const char* kDownwardApiPlugin = "kubernetes.io~downward-api";
constexpr const char* kProjectedPlugin = "kubernetes.io~projected";
constexpr const char* kLocalVolumePlugin = "kubernetes.io~local-volume";

// emptyDir directories are world-writable (the kubelet's perm constant).
constexpr mode_t kEmptyDirMode = 0777;

// The volume types this manager sets up; others are refused.
enum class VolumeKind {
  kEmptyDir,
  kHostPath,
  kConfigMap,
  kSecret,
  kDownwardApi,
  kProjected,
  kPersistentVolumeClaim,
  kUnsupported,
};

VolumeKind volumeKind(const Json& volume, std::string* unsupported) {
  static const struct {
    const char* key;
    VolumeKind kind;
  } kKinds[] = {
      {"emptyDir", VolumeKind::kEmptyDir},
      {"hostPath", VolumeKind::kHostPath},
      {"configMap", VolumeKind::kConfigMap},
      {"secret", VolumeKind::kSecret},
      {"downwardAPI", VolumeKind::kDownwardApi},
      {"projected", VolumeKind::kProjected},
      {"persistentVolumeClaim", VolumeKind::kPersistentVolumeClaim},
  };
  for (const auto& k : kKinds) {
    const Json* source = findMember(volume, k.key);
    if (source != nullptr && source->is_object()) return k.kind;
  }
  for (auto it = volume.begin(); it != volume.end(); ++it) {
    if (it.key() != "name" && !it->is_null()) {
      *unsupported = it.key();
      return VolumeKind::kUnsupported;
    }
  }
  return VolumeKind::kEmptyDir;  // the API defaults a volume without a source to emptyDir
}

bool isAtomicKind(VolumeKind kind) {
  return kind == VolumeKind::kConfigMap || kind == VolumeKind::kSecret ||
         kind == VolumeKind::kDownwardApi || kind == VolumeKind::kProjected;
}

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// What one setUp call knows about its pod.
struct PodContext {
  const Json& pod;
  const PodFacts& facts;
  std::string podDir;
  std::string ns;
  std::optional<gid_t> fsGroup;
};

// The size of a memory-backed emptyDir: the smallest of the volume's sizeLimit, the pod's
// memory limit and the node's allocatable memory (the kubelet's
// calculateEmptyDirMemorySize; an unknown allocatable amount bounds nothing). 0: the kernel's
// default (half the RAM).
int64_t tmpfsSize(const PodContext& ctx, int64_t sizeLimit) {
  int64_t size = ctx.facts.nodeAllocatableMemoryBytes;
  int64_t podLimit = podMemoryLimitBytes(ctx.pod);
  if (podLimit > 0 && (size <= 0 || podLimit <= size)) size = podLimit;
  if (sizeLimit > 0 && (size <= 0 || sizeLimit <= size)) size = sizeLimit;
  return std::max<int64_t>(size, 0);
}

// An emptyDir (also the directory the configMap, secret, downwardAPI and projected volumes
// are written to): created 0777, a tmpfs mounted on it for medium Memory, fsGroup applied,
// then marked ready; a ready volume is left as it is.
Result<void> setUpEmptyDir(const PodContext& ctx, const std::string& name, const std::string& dir,
                           bool memory, int64_t sizeBytes) {
  std::string readyDir = ctx.podDir + "/plugins/" + kEmptyDirPlugin + "/" + name;
  std::string ready = readyDir + "/ready";
  if (exists(ready)) {
    if (memory && exists(dir) && TRY(hostfs::isTmpfsMountPoint(dir))) return {};
    if (!memory && exists(dir)) return {};
  }
  TRY(hostfs::makeDirs(dir, kEmptyDirMode));
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0) return Error::fromErrno("stat " + dir, errno);
  if ((st.st_mode & 07777) != kEmptyDirMode && ::chmod(dir.c_str(), kEmptyDirMode) != 0) {
    return Error::fromErrno("chmod " + dir, errno);
  }
  if (memory && !TRY(hostfs::isTmpfsMountPoint(dir))) TRY(hostfs::mountTmpfs(dir, sizeBytes));
  if (ctx.fsGroup) {
    // As the kubelet, a failure here does not fail the setup.
    Result<void> owned = hostfs::setVolumeOwnership(dir, *ctx.fsGroup, false);
    if (!owned.ok()) {
      log::warning("cannot apply fsGroup to an emptyDir", {{"error", owned.error().message()}});
    }
  }
  TRY(hostfs::makeDirs(readyDir, 0750));
  TRY(hostfs::writeFileIfChanged(ready, "", 0600));
  return {};
}

// Unmounts (when mounted) and removes a volume directory and its ready marker.
Result<void> tearDownVolumeDir(const PodContext& ctx, const std::string& name,
                               const std::string& dir) {
  TRY(removeTree(ctx.podDir + "/plugins/" + kEmptyDirPlugin + "/" + name));
  if (!exists(dir)) return {};
  for (const std::string& mountPoint : TRY(hostfs::mountPointsUnder(dir))) {
    TRY(hostfs::unmount(mountPoint));
  }
  return removeTree(dir);
}

// The kubelet's hostPath type check (pkg/volume/hostpath checkTypeInternal).
Result<void> checkHostPathType(const std::string& path, const std::string& type) {
  if (type.empty()) return {};
  struct stat st;
  bool found = ::stat(path.c_str(), &st) == 0;
  auto fail = [&](const char* what) {
    return Error(ErrorCode::kInvalid, "hostPath type check failed: " + path + " is not " + what);
  };
  if (type == "DirectoryOrCreate" || type == "Directory") {
    if (!found && type == "DirectoryOrCreate") {
      return hostfs::makeDirs(path, 0755);
    }
    if (!found || !S_ISDIR(st.st_mode)) return fail("a directory");
    return {};
  }
  if (type == "FileOrCreate" || type == "File") {
    if (!found && type == "FileOrCreate") {
      // Only the file: its directory must exist (Kubernetes' documented behaviour).
      UniqueFd fd(::open(path.c_str(), O_CREAT | O_RDONLY | O_CLOEXEC, 0644));
      if (!fd && errno != EEXIST) return Error::fromErrno("open " + path, errno);
      return {};
    }
    if (!found || !S_ISREG(st.st_mode)) return fail("a file");
    return {};
  }
  if (type == "Socket")
    return found && S_ISSOCK(st.st_mode) ? Result<void>() : fail("a socket file");
  if (type == "CharDevice") {
    return found && S_ISCHR(st.st_mode) ? Result<void>() : fail("a character device");
  }
  if (type == "BlockDevice") {
    return found && S_ISBLK(st.st_mode) ? Result<void>() : fail("a block device");
  }
  return Error(ErrorCode::kInvalid, type + " is an invalid volume type");
}

Result<std::string> setUpHostPath(const Json& source) {
  std::string path = getString(source, "path");
  for (const std::string& part : split(path, '/')) {
    if (part == "..") {
      return Error(ErrorCode::kInvalid, "invalid HostPath `" + path + "`: must not contain '..'");
    }
  }
  if (path.empty() || path[0] != '/') {
    return Error(ErrorCode::kInvalid, "invalid HostPath `" + path + "`: must be an absolute path");
  }
  TRY(checkHostPathType(path, getString(source, "type")));
  return path;
}

// Directories in a read-only volume where other volumes are mounted below it in some
// container (the kubelet's MakeNestedMountpoints): the runtime could not create them.
Result<void> makeNestedMountpoints(const PodContext& ctx, const std::string& name,
                                   const std::string& dir) {
  for (const Json* container : podContainers(ctx.pod)) {
    std::vector<std::string> all, mine;
    for (const Json& m : arrayMember(*container, "volumeMounts")) {
      std::string cleaned = cleanPath(getString(m, "mountPath"));
      all.push_back(cleaned);
      if (getString(m, "name") == name) mine.push_back(cleaned);
    }
    std::sort(all.begin(), all.end());
    for (const std::string& mountPoint : mine) {
      if (mountPoint.starts_with("../")) {
        return Error(ErrorCode::kInvalid, "invalid container mount point " + mountPoint);
      }
      std::string prefix = mountPoint == "/" ? "/" : mountPoint + "/";
      std::string previous;
      for (const std::string& other : all) {
        if (!other.starts_with(prefix) || other == prefix) continue;
        if (!previous.empty() && other.starts_with(previous)) continue;  // nested deeper
        previous = other + "/";
        Result<void> made = hostfs::makeDirs(dir + "/" + other.substr(prefix.size()), 0755);
        if (!made.ok()) {
          return Error(made.error().code(),
                       "unable to create nested volume mountpoints: " + made.error().message());
        }
      }
    }
  }
  return {};
}

class VolumeManagerImpl final : public VolumeManager {
 public:
  VolumeManagerImpl(std::string podsDir, ObjectSource& objects)
      : podsDir_(std::move(podsDir)), objects_(objects) {}

  Result<std::map<std::string, std::string>> setUp(const Json& pod,
                                                   const PodFacts& facts) override {
    std::lock_guard<std::mutex> lock(mu_);
    PodContext ctx = TRY(context(pod, facts));
    TRY(hostfs::makeDirs(ctx.podDir + "/volumes", 0750));
    TRY(hostfs::makeDirs(ctx.podDir + "/plugins", 0750));
    std::map<std::string, std::string> paths;
    for (const Json& volume : arrayMember(objectMember(pod, "spec"), "volumes")) {
      std::string name = getString(volume, "name");
      bool changed = false;
      Result<std::string> path = setUpVolume(ctx, volume, &changed);
      if (!path.ok()) return failed(name, path.error());
      paths[name] = *path;
    }
    return paths;
  }

  Result<bool> refresh(const Json& pod, const PodFacts& facts) override {
    std::lock_guard<std::mutex> lock(mu_);
    PodContext ctx = TRY(context(pod, facts));
    bool anyChanged = false;
    std::optional<Error> firstError;
    for (const Json& volume : arrayMember(objectMember(pod, "spec"), "volumes")) {
      std::string unsupported;
      if (!isAtomicKind(volumeKind(volume, &unsupported))) continue;
      bool changed = false;
      Result<std::string> path = setUpVolume(ctx, volume, &changed);
      if (!path.ok() && !firstError) firstError = failed(getString(volume, "name"), path.error());
      anyChanged = anyChanged || changed;
    }
    if (firstError) return *firstError;
    return anyChanged;
  }

  Result<void> tearDown(const std::string& podUid) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!isPathComponent(podUid)) {
      return Error(ErrorCode::kInvalid, "invalid pod UID \"" + podUid + "\"");
    }
    std::string podDir = podsDir_ + "/" + podUid;
    if (!exists(podDir)) return {};
    for (const std::string& mountPoint : TRY(hostfs::mountPointsUnder(podDir))) {
      TRY(hostfs::unmount(mountPoint));
    }
    return removeTree(podDir);
  }

 private:
  static Error failed(const std::string& volume, const Error& cause) {
    return Error(cause.code(),
                 "MountVolume.SetUp failed for volume \"" + volume + "\" : " + cause.message());
  }

  Result<PodContext> context(const Json& pod, const PodFacts& facts) {
    std::string uid = TRY(podUid(pod));
    PodContext ctx{pod, facts, podsDir_ + "/" + uid, podNamespace(pod), std::nullopt};
    const Json& security = objectMember(objectMember(pod, "spec"), "securityContext");
    if (std::optional<int64_t> group = optionalInt(security, "fsGroup")) {
      if (*group < 0 || *group > 0xFFFFFFFEll) {
        return Error(ErrorCode::kInvalid, "invalid fsGroup " + std::to_string(*group));
      }
      ctx.fsGroup = static_cast<gid_t>(*group);
    }
    return ctx;
  }

  Result<std::string> setUpVolume(const PodContext& ctx, const Json& volume, bool* changed) {
    std::string name = getString(volume, "name");
    if (!isPathComponent(name)) {
      return Error(ErrorCode::kInvalid, "invalid volume name \"" + name + "\"");
    }
    std::string unsupported;
    switch (volumeKind(volume, &unsupported)) {
      case VolumeKind::kEmptyDir:
        return setUpEmptyDirVolume(ctx, name, objectMember(volume, "emptyDir"));
      case VolumeKind::kHostPath:
        return setUpHostPath(objectMember(volume, "hostPath"));
      case VolumeKind::kPersistentVolumeClaim:
        return setUpClaim(ctx, name, objectMember(volume, "persistentVolumeClaim"));
      case VolumeKind::kConfigMap: {
        const Json& source = objectMember(volume, "configMap");
        std::string cmName = getString(source, "name");
        bool optional = isTrue(source, "optional");
        Result<Json> cm = fetchConfigMap(objects_, ctx.ns, cmName);
        if (!cm.ok()) {
          if (!(cm.error().is(ErrorCode::kNotFound) && optional)) return std::move(cm).error();
          cm = Json{{"metadata", {{"namespace", ctx.ns}, {"name", cmName}}}};
        }
        uint32_t mode = TRY(fileMode(source, "defaultMode", 0644));
        Payload payload = TRY(configMapPayload(arrayMember(source, "items"), *cm, mode, optional));
        return writeAtomicVolume(ctx, name, kConfigMapPlugin, false, payload, changed);
      }
      case VolumeKind::kSecret: {
        const Json& source = objectMember(volume, "secret");
        std::string secretName = getString(source, "secretName");
        bool optional = isTrue(source, "optional");
        Result<Json> secret = fetchSecret(objects_, ctx.ns, secretName);
        if (!secret.ok()) {
          if (!(secret.error().is(ErrorCode::kNotFound) && optional)) {
            return std::move(secret).error();
          }
          secret = Json{{"metadata", {{"namespace", ctx.ns}, {"name", secretName}}}};
        }
        uint32_t mode = TRY(fileMode(source, "defaultMode", 0644));
        Payload payload = TRY(secretPayload(arrayMember(source, "items"), *secret, mode, optional));
        return writeAtomicVolume(ctx, name, kSecretPlugin, true, payload, changed);
      }
      case VolumeKind::kDownwardApi: {
        const Json& source = objectMember(volume, "downwardAPI");
        uint32_t mode = TRY(fileMode(source, "defaultMode", 0644));
        Payload payload =
            TRY(downwardApiPayload(arrayMember(source, "items"), ctx.pod, ctx.facts, mode));
        return writeAtomicVolume(ctx, name, kDownwardApiPlugin, false, payload, changed);
      }
      case VolumeKind::kProjected: {
        Payload payload =
            TRY(projectedPayload(objectMember(volume, "projected"), ctx.pod, objects_, ctx.facts));
        return writeAtomicVolume(ctx, name, kProjectedPlugin, true, payload, changed);
      }
      case VolumeKind::kUnsupported:
        break;
    }
    return Error(ErrorCode::kInvalid,
                 "no volume plugin matched: volume type \"" + unsupported + "\" is not supported");
  }

  Result<std::string> setUpEmptyDirVolume(const PodContext& ctx, const std::string& name,
                                          const Json& source) {
    std::string medium = getString(source, "medium");
    bool memory = medium == "Memory";
    if (!memory && !medium.empty()) {
      if (medium.starts_with("HugePages")) {
        return Error(ErrorCode::kInvalid, "emptyDir medium " + medium + " is not supported");
      }
      return Error(ErrorCode::kInvalid, "unknown storage medium \"" + medium + "\"");
    }
    int64_t sizeLimit = 0;
    if (const Json* limit = findMember(source, "sizeLimit");
        limit != nullptr && !limit->is_null()) {
      sizeLimit = TRY(Quantity::fromJson(*limit)).value();
    }
    std::string dir = ctx.podDir + "/volumes/" + kEmptyDirPlugin + "/" + name;
    TRY(setUpEmptyDir(ctx, name, dir, memory, memory ? tmpfsSize(ctx, sizeLimit) : 0));
    return dir;
  }

  // A configMap, secret, downwardAPI or projected volume: the payload written by an
  // AtomicWriter into an emptyDir (on a tmpfs for secrets and projections), read-only for the
  // containers and so given fsGroup's read bits only.
  Result<std::string> writeAtomicVolume(const PodContext& ctx, const std::string& name,
                                        const char* plugin, bool memory, const Payload& payload,
                                        bool* changed) {
    std::string dir = ctx.podDir + "/volumes/" + plugin + "/" + name;
    bool firstSetUp = !exists(dir);
    auto undo = [&](const Error& e) -> Error {
      // As the kubelet, a volume whose first setup failed is removed again; one that served
      // containers before keeps its last content.
      if (firstSetUp) {
        Result<void> r = tearDownVolumeDir(ctx, name, dir);
        if (!r.ok())
          log::warning("cannot clean up a failed volume", {{"error", r.error().message()}});
      }
      return e;
    };
    if (Result<void> r = setUpEmptyDir(ctx, name, dir, memory, memory ? tmpfsSize(ctx, 0) : 0);
        !r.ok()) {
      return undo(r.error());
    }
    if (Result<void> r = makeNestedMountpoints(ctx, name, dir); !r.ok()) return undo(r.error());
    std::function<Result<void>()> setPerms;
    if (ctx.fsGroup) {
      gid_t gid = *ctx.fsGroup;
      setPerms = [dir, gid]() { return hostfs::setVolumeOwnership(dir, gid, true); };
    }
    Result<bool> written = AtomicWriter(dir).write(payload, setPerms);
    if (!written.ok()) return undo(written.error());
    *changed = *written;
    return dir;
  }

  // A claim bound to a hostPath or local PersistentVolume (the kubelet's
  // desired_state_of_world_populator checks, then the volume's own plugin).
  Result<std::string> setUpClaim(const PodContext& ctx, const std::string& name,
                                 const Json& source) {
    std::string claimName = getString(source, "claimName");
    auto claimError = [&](const std::string& why) {
      return Error(ErrorCode::kInvalid,
                   "error processing PVC " + ctx.ns + "/" + claimName + ": " + why);
    };
    Result<Json> pvc = objects_.persistentVolumeClaim(ctx.ns, claimName);
    if (!pvc.ok()) {
      return Error(pvc.error().code(),
                   "error processing PVC " + ctx.ns + "/" + claimName +
                       ": failed to fetch PVC from API server: " + pvc.error().message());
    }
    const Json& pvcMeta = objectMember(*pvc, "metadata");
    if (findMember(pvcMeta, "deletionTimestamp") != nullptr &&
        !findMember(pvcMeta, "deletionTimestamp")->is_null()) {
      return claimError("PVC is being deleted");
    }
    if (getString(objectMember(*pvc, "status"), "phase") != "Bound") {
      return claimError("PVC is not bound");
    }
    std::string pvName = getString(objectMember(*pvc, "spec"), "volumeName");
    if (pvName.empty()) return claimError("PVC has empty pvc.Spec.VolumeName");
    Result<Json> pv = objects_.persistentVolume(pvName);
    if (!pv.ok()) {
      return Error(pv.error().code(), "error processing PVC " + ctx.ns + "/" + claimName +
                                          ": failed to fetch PV " + pvName +
                                          " from API server: " + pv.error().message());
    }
    const Json& pvSpec = objectMember(*pv, "spec");
    const Json* claimRef = findMember(pvSpec, "claimRef");
    if (claimRef == nullptr || !claimRef->is_object()) {
      return claimError("found PV object " + pvName +
                        " but it has a nil pv.Spec.ClaimRef indicating it is not yet bound to "
                        "the claim");
    }
    std::string claimUid = getString(pvcMeta, "uid");
    if (getString(*claimRef, "uid") != claimUid) {
      return claimError("found PV object " + pvName + " but its pv.Spec.ClaimRef.UID " +
                        getString(*claimRef, "uid") + " does not point to claim.UID " + claimUid);
    }
    if (const Json* hostPath = findMember(pvSpec, "hostPath");
        hostPath != nullptr && hostPath->is_object()) {
      return setUpHostPath(*hostPath);
    }
    if (const Json* local = findMember(pvSpec, "local"); local != nullptr && local->is_object()) {
      std::string path = getString(*local, "path");
      struct stat st;
      if (path.empty() || path[0] != '/' || ::stat(path.c_str(), &st) != 0) {
        return Error(ErrorCode::kNotFound,
                     "local volume " + pvName + ": path \"" + path + "\" does not exist");
      }
      // The local plugin applies fsGroup to a writable volume when it first mounts it.
      std::string readyDir = ctx.podDir + "/plugins/" + kLocalVolumePlugin + "/" + name;
      if (ctx.fsGroup && !isTrue(source, "readOnly") && !exists(readyDir + "/ready")) {
        Result<void> owned = hostfs::setVolumeOwnership(path, *ctx.fsGroup, false);
        if (!owned.ok()) {
          log::warning("cannot apply fsGroup to a local volume",
                       {{"error", owned.error().message()}});
        }
        TRY(hostfs::makeDirs(readyDir, 0750));
        TRY(hostfs::writeFileIfChanged(readyDir + "/ready", "", 0600));
      }
      return path;
    }
    return claimError("PV " + pvName + " is neither a hostPath nor a local volume");
  }

  std::mutex mu_;  // serialises setUp, refresh and tearDown (and the calls into objects_)
  const std::string podsDir_;
  ObjectSource& objects_;
};

}  // namespace

Result<std::unique_ptr<VolumeManager>> VolumeManager::open(const std::string& podsDir,
                                                           ObjectSource& objects) {
  if (podsDir.empty() || podsDir[0] != '/') {
    return Error(ErrorCode::kInvalid, "pods directory \"" + podsDir + "\" is not absolute");
  }
  TRY(hostfs::makeDirs(podsDir, 0750));
  return std::unique_ptr<VolumeManager>(
      std::make_unique<VolumeManagerImpl>(cleanPath(podsDir), objects));
}

}  // namespace nave::agent
