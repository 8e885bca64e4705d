#include "server/controllers/storage/local_path_provisioner.h"

#include <sys/stat.h>

#include <cerrno>

#include "common/fs.h"
#include "common/log.h"
#include "server/controllers/storage/volume_util.h"

namespace nave::controllers {
namespace {

using namespace volumes;

Result<void> makeDir(const std::string& path, mode_t mode) {
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST)
      return Error::fromErrno("mkdir " + prefix, errno);
  }
  // Writable by whatever user the pod's containers run as (mkdir's mode is masked).
  if (::chmod(path.c_str(), mode) != 0) return Error::fromErrno("chmod " + path, errno);
  return {};
}

const Json& specOf(const Json& o) {
  static const Json empty = Json::object();
  const Json* s = findMember(o, "spec");
  return s && s->is_object() ? *s : empty;
}

}  // namespace

LocalPathProvisioner::LocalPathProvisioner(ControllerContext& ctx)
    : ctx_(ctx),
      volumes_(ctx.informers.informer(kPersistentVolumes)),
      claims_(ctx.informers.informer(kPersistentVolumeClaims)),
      classes_(ctx.informers.informer(kStorageClasses)),
      claimQueue_(std::chrono::milliseconds(200), std::chrono::seconds(60)),
      volumeQueue_(std::chrono::milliseconds(200), std::chrono::seconds(60)) {
  claims_.addHandler([this](const std::string& key) { claimQueue_.add(key); });
  volumes_.addHandler([this](const std::string& name) { volumeQueue_.add(name); });
}

void LocalPathProvisioner::start() {
  if (auto r = ensureDefaultClass(); !r.ok())
    log::warning("cannot create the local-path StorageClass", {{"error", r.error().message()}});
  claimWorkers_.start(claimQueue_, 1, "local-path-provisioner claims",
                      [this](const std::string& key) { return reconcileClaim(key); });
  volumeWorkers_.start(volumeQueue_, 1, "local-path-provisioner volumes",
                       [this](const std::string& name) { return reconcileVolume(name); });
}

void LocalPathProvisioner::stop() {
  claimWorkers_.stop();
  volumeWorkers_.stop();
}

Result<void> LocalPathProvisioner::ensureDefaultClass() {
  if (classes_.get(kClassName)) return {};
  Json sc = {{"apiVersion", "storage.k8s.io/v1"},
             {"kind", "StorageClass"},
             {"metadata",
              {{"name", kClassName},
               {"annotations", {{"storageclass.kubernetes.io/is-default-class", "true"}}}}},
             {"provisioner", kProvisioner},
             {"volumeBindingMode", "WaitForFirstConsumer"},
             {"reclaimPolicy", "Delete"}};
  auto r = ctx_.client.create(kStorageClasses, "", sc);
  if (!r.ok() && !r.error().is(ErrorCode::kAlreadyExists)) return std::move(r).error();
  return {};
}

Result<Reconciled> LocalPathProvisioner::reconcileClaim(const std::string& key) {
  auto claim = claims_.get(key);
  if (!claim || isDeleting(*claim)) return Reconciled{};
  if (annotation(*claim, kAnnStorageProvisioner) != kProvisioner &&
      annotation(*claim, kAnnBetaStorageProvisioner) != kProvisioner)
    return Reconciled{};
  if (!getString(specOf(*claim), "volumeName").empty()) return Reconciled{};
  const Json& md = (*claim)["metadata"];
  std::string ns = getString(md, "namespace"), name = getString(md, "name"),
              uid = getString(md, "uid");
  std::string volumeName = "pvc-" + uid;
  if (volumes_.get(volumeName)) return Reconciled{};
  std::string node = annotation(*claim, kAnnSelectedNode);
  if (node.empty()) {
    ctx_.events.eventAs(kProvisioner, *claim, "Warning", "ProvisioningFailed",
                        "failed to provision volume with StorageClass \"" + claimClass(*claim) +
                            "\": configuration error, no node was specified");
    return Reconciled{};
  }
  auto sc = classes_.get(claimClass(*claim));
  if (!sc)
    return Error(ErrorCode::kNotFound, "storageclass \"" + claimClass(*claim) + "\" not found");
  auto request = findMember(specOf(*claim), "resources");
  Json storage =
      request ? request->value("requests", Json::object()).value("storage", Json()) : Json();
  if (storage.is_null()) {
    ctx_.events.eventAs(kProvisioner, *claim, "Warning", "ProvisioningFailed",
                        "failed to provision volume with StorageClass \"" + claimClass(*claim) +
                            "\": claim Spec.Resources[storage] not found");
    return Reconciled{};
  }
  ctx_.events.eventAs(kProvisioner, *claim, "Normal", "Provisioning",
                      "External provisioner is provisioning volume for claim \"" + key + "\"");
  std::string path = storageDir() + "/" + volumeName + "_" + ns + "_" + name;
  TRY(makeDir(path, 0777));
  Json pv = {
      {"apiVersion", "v1"},
      {"kind", "PersistentVolume"},
      {"metadata",
       {{"name", volumeName},
        {"annotations",
         {{kAnnProvisionedBy, kProvisioner}, {"local.path.provisioner/selected-node", node}}}}},
      {"spec",
       {{"capacity", {{"storage", storage}}},
        {"accessModes", specOf(*claim).value("accessModes", Json::array({"ReadWriteOnce"}))},
        {"persistentVolumeReclaimPolicy", getString(*sc, "reclaimPolicy", "Delete")},
        {"storageClassName", claimClass(*claim)},
        {"volumeMode", "Filesystem"},
        {"hostPath", {{"path", path}, {"type", "DirectoryOrCreate"}}},
        {"nodeAffinity",
         {{"required",
           {{"nodeSelectorTerms",
             {{{"matchExpressions",
                {{{"key", "kubernetes.io/hostname"},
                  {"operator", "In"},
                  {"values", {node}}}}}}}}}}}},
        {"claimRef",
         {{"kind", "PersistentVolumeClaim"},
          {"apiVersion", "v1"},
          {"namespace", ns},
          {"name", name},
          {"uid", uid},
          {"resourceVersion", getString(md, "resourceVersion")}}}}}};
  if (const Json* mo = findMember(*sc, "mountOptions"); mo && mo->is_array())
    pv["spec"]["mountOptions"] = *mo;
  auto r = ctx_.client.create(kPersistentVolumes, "", pv);
  if (!r.ok() && !r.error().is(ErrorCode::kAlreadyExists)) return std::move(r).error();
  log::info("provisioned a local-path volume",
            {{"claim", key}, {"volume", volumeName}, {"path", path}});
  ctx_.events.eventAs(kProvisioner, *claim, "Normal", "ProvisioningSucceeded",
                      "Successfully provisioned volume " + volumeName);
  return Reconciled{};
}

Result<Reconciled> LocalPathProvisioner::reconcileVolume(const std::string& name) {
  auto volume = volumes_.get(name);
  if (!volume || annotation(*volume, kAnnProvisionedBy) != kProvisioner) return Reconciled{};
  if (getString(volume->value("status", Json::object()), "phase") != "Released" ||
      getString(specOf(*volume), "persistentVolumeReclaimPolicy") != "Delete" ||
      isDeleting(*volume))
    return Reconciled{};
  std::string path = getString(specOf(*volume).value("hostPath", Json::object()), "path");
  // Only ever a directory of ours.
  if (path.starts_with(storageDir() + "/pvc-") && path.find("/..") == std::string::npos)
    TRY(removeTree(path));
  api::DeleteOptions opts;
  opts.preconditionUid = getString((*volume)["metadata"], "uid");
  auto r = ctx_.client.remove(kPersistentVolumes, "", name, opts);
  if (!r.ok() && !r.error().is(ErrorCode::kNotFound) && !r.error().is(ErrorCode::kConflict))
    return std::move(r).error();
  log::info("deleted a released local-path volume", {{"volume", name}, {"path", path}});
  return Reconciled{};
}

}  // namespace nave::controllers
