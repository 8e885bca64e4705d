#include "runtime/runtime.h"

#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <filesystem>

#include <algorithm>
#include <chrono>

#include "common/log.h"

namespace nave::runtime {
namespace {

Result<void> ensureDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return Error::fromErrno("mkdir " + path, errno);
  return {};
}

// DATA/agent/run holds what describes the running containers and sandboxes and nothing that
// must outlive them (state files, sockets, the namespace bind mounts, IPAM records): a tmpfs,
// like containerd's /run/containerd, so that it survives restarts of nave but not a reboot,
// which ends the containers too, and so that starting a pod creates no inodes on the disk for
// it. A directory that already holds state on the disk (an older nave) is used as it is.
Result<void> mountStateTmpfs(const std::string& dir) {
  struct statfs fs{};
  if (::statfs(dir.c_str(), &fs) != 0) return Error::fromErrno("statfs " + dir, errno);
  if (fs.f_type == TMPFS_MAGIC) return {};
  std::error_code ec;
  if (!std::filesystem::is_empty(dir, ec)) {
    log::info("runtime state stays on the disk (the directory is not empty)", {{"dir", dir}});
    return {};
  }
  if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700,size=64m") != 0)
    return Error::fromErrno("mount a tmpfs on " + dir, errno);
  return {};
}

std::string envName(const std::string& kv) { return kv.substr(0, kv.find('=')); }

}  // namespace

Result<std::unique_ptr<NodeRuntime>> NodeRuntime::open(const NodeRuntimeOptions& options) {
  std::unique_ptr<NodeRuntime> rt(new NodeRuntime());
  TRY(ensureDir(options.dataDir));
  std::string agent = options.dataDir + "/agent";
  TRY(ensureDir(agent));
  ImageStoreOptions io;
  io.dataDir = options.dataDir;
  io.registriesFile = options.registriesFile;
  rt->images_ = TRY(ImageStore::open(io));
  TRY(ensureDir(agent + "/snapshots"));
  rt->snapshots_ = TRY(Snapshotter::open(agent + "/snapshots"));
  rt->runDir_ = agent + "/run";
  TRY(ensureDir(rt->runDir_));
  TRY(mountStateTmpfs(rt->runDir_));
  TRY(ensureDir(rt->runDir_ + "/containers"));
  rt->containers_ = TRY(ContainerRuntime::open(rt->runDir_ + "/containers", options.shimBinary));
  return rt;
}

Result<ProcessSpec> NodeRuntime::processFor(const ImageConfig& image, const ContainerRequest& r) {
  ProcessSpec p = r.spec.process;
  std::vector<std::string> args;
  if (r.command) {
    args = *r.command;
    if (r.args) args.insert(args.end(), r.args->begin(), r.args->end());
  } else {
    args = image.entrypoint;
    const std::vector<std::string>& cmd = r.args ? *r.args : image.cmd;
    args.insert(args.end(), cmd.begin(), cmd.end());
  }
  if (args.empty()) return Error(ErrorCode::kInvalid, "no command specified");
  p.args = std::move(args);
  // The image's environment, then the request's (a later entry wins).
  std::vector<std::string> env = image.env;
  for (const std::string& kv : r.env) {
    std::string name = envName(kv);
    env.erase(std::remove_if(env.begin(), env.end(),
                             [&](const std::string& e) { return envName(e) == name; }),
              env.end());
    env.push_back(kv);
  }
  p.env = std::move(env);
  p.cwd = !r.workingDir.empty() ? r.workingDir : !image.workingDir.empty() ? image.workingDir : "/";
  p.user = !r.user.empty() ? r.user : image.user;
  return p;
}

Result<std::vector<std::string>> NodeRuntime::prepareLayers(const Image& image) {
  std::vector<LayerSource> layers;
  for (const LayerInfo& l : image.layers) {
    std::string blob = TRY(images_->blobPath(l.digest));
    layers.push_back({blob, l.diffId, l.mediaType});
  }
  return snapshots_->prepareLayers(layers);
}

void NodeRuntime::unpackImages() {
  for (const Image& image : images_->list()) {
    auto t0 = std::chrono::steady_clock::now();
    if (auto r = prepareLayers(image); !r.ok()) {
      log::warning("unpacking an image's layers failed", {{"image", image.id}, {"error", r.error().message()}});
      continue;
    }
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (ms >= 1) log::v(1, "image unpacked", {{"image", image.id}, {"ms", static_cast<int64_t>(ms)}});
  }
}

Result<ContainerStatus> NodeRuntime::createContainer(ContainerRequest request) {
  Image image = TRY(images_->find(request.image));
  std::vector<std::string> dirs = TRY(prepareLayers(image));
  ContainerSpec spec = request.spec;
  spec.id = request.id;
  spec.process = TRY(processFor(image.config, request));
  if (spec.stopSignal == 15 && !image.config.stopSignal.empty()) {
    static const std::pair<const char*, int> kSignals[] = {
        {"SIGTERM", 15}, {"SIGINT", 2}, {"SIGQUIT", 3}, {"SIGKILL", 9}, {"SIGHUP", 1},
        {"SIGUSR1", 10}, {"SIGUSR2", 12}, {"SIGWINCH", 28}};
    std::string s = image.config.stopSignal;
    if (!s.starts_with("SIG")) s = "SIG" + s;
    for (auto [name, number] : kSignals)
      if (s == name) spec.stopSignal = number;
  }
  auto rootfs = snapshots_->mountRootfs(spec.id, dirs);
  if (!rootfs.ok()) return std::move(rootfs).error();
  spec.rootfs = *rootfs;
  auto created = containers_->create(spec);
  if (!created.ok()) {
    if (auto r = snapshots_->removeRootfs(spec.id); !r.ok())
      log::warning("cleaning up a container's rootfs failed", {{"id", spec.id}, {"error", r.error().message()}});
    return std::move(created).error();
  }
  return created;
}

Result<void> NodeRuntime::removeContainer(const std::string& id, bool force) {
  auto st = containers_->status(id);
  if (st.ok() && (st->state == ContainerState::kRunning || st->state == ContainerState::kCreated)) {
    if (!force) return Error(ErrorCode::kConflict, "container " + id + " is running: stop it first or force removal");
    TRY(containers_->stop(id, std::chrono::seconds(0)));
  }
  if (st.ok()) TRY(containers_->remove(id));
  else if (!st.error().is(ErrorCode::kNotFound)) return std::move(st).error();
  return snapshots_->removeRootfs(id);
}

Result<NodeRuntime::GcResult> NodeRuntime::garbageCollect() {
  GcResult result;
  result.images = TRY(images_->garbageCollect());
  // Listed after the blobs are collected: an image imported meanwhile is kept either way.
  std::vector<std::string> keep;
  for (const Image& image : images_->list()) {
    std::vector<std::string> diffIds;
    for (const LayerInfo& l : image.layers) diffIds.push_back(l.diffId);
    for (std::string& chain : Snapshotter::chainIds(diffIds)) keep.push_back(std::move(chain));
  }
  result.snapshots = TRY(snapshots_->garbageCollect(keep));
  return result;
}

}  // namespace nave::runtime
