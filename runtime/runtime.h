// NodeRuntime: the container runtime of a node as one object — images, snapshots and
// containers together — with the glue between them: a container is created from an image
// reference plus overrides (Kubernetes' command/args/env/workingDir/user rules applied to the
// image config), its root filesystem is the image's layers under an overlay, and removing it
// removes the overlay too. The agent (next roadmap step) and the `nave` debugging CLI use it.
//
// Layout under DATA/agent: content/, images.json (ImageStore), snapshots/ (Snapshotter),
// containers/ (ContainerRuntime), images/ (airgap archives imported at start).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "runtime/container/container_runtime.h"
#include "runtime/image/image_store.h"
#include "runtime/snapshot/snapshotter.h"

namespace nave::runtime {

struct NodeRuntimeOptions {
  std::string dataDir = "/var/lib/nave";
  std::string registriesFile = "/etc/nave/registries.yaml";
  std::string shimBinary = "/proc/self/exe";
};

// What a container takes from its image unless overridden, as Kubernetes combines them:
// `command` replaces the image's Entrypoint (and drops its Cmd), `args` replaces Cmd.
struct ContainerRequest {
  std::string id;
  std::string image;                   // a reference or an image id
  std::optional<std::vector<std::string>> command;
  std::optional<std::vector<std::string>> args;
  std::vector<std::string> env;        // appended to (and overriding) the image's Env
  std::string workingDir;              // empty: the image's, else "/"
  std::string user;                    // empty: the image's User
  ContainerSpec spec;                  // everything else (id, rootfs and process are filled in)
};

class NodeRuntime {
 public:
  static Result<std::unique_ptr<NodeRuntime>> open(const NodeRuntimeOptions& options);

  ImageStore& images() { return *images_; }
  Snapshotter& snapshots() { return *snapshots_; }
  ContainerRuntime& containers() { return *containers_; }
  // DATA/agent/run: a tmpfs for state that ends with the containers (see runtime.cc).
  const std::string& runDir() const { return runDir_; }

  // Resolves the image (which must be present: pulling is the caller's decision), prepares
  // its layers, mounts the rootfs and creates the container (not started). On failure nothing
  // is left behind.
  Result<ContainerStatus> createContainer(ContainerRequest request);
  // Removes the container (kConflict while running unless `force`, which kills it first) and
  // its rootfs.
  Result<void> removeContainer(const std::string& id, bool force);

  // Unpacks the layers of every image present that are not unpacked yet, as containerd does
  // when it imports an image, so that the first containers of an image do not all wait for
  // its unpacking. Failures are logged; createContainer tries again.
  void unpackImages();

  // Removes the blobs no image references and the unpacked layers no image (and no mounted
  // container) uses.
  struct GcResult {
    GcStats images;
    SnapshotStats snapshots;
  };
  Result<GcResult> garbageCollect();

  // The process a request runs, from the image config and the overrides (exposed for tests).
  static Result<ProcessSpec> processFor(const ImageConfig& image, const ContainerRequest& request);

 private:
  NodeRuntime() = default;
  Result<std::vector<std::string>> prepareLayers(const Image& image);
  std::string runDir_;
  std::unique_ptr<ImageStore> images_;
  std::unique_ptr<Snapshotter> snapshots_;
  std::unique_ptr<ContainerRuntime> containers_;
};

}  // namespace nave::runtime
