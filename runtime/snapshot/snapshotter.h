// Snapshotter: image layers unpacked once into read-only directories, and containers' root
// filesystems as overlays of them.
//
// Layout under DATA/agent/snapshots/:
//   layers/CHAINID/fs        a layer's contents, unpacked from its blob (gzip, zstd or plain
//                            tar); OCI whiteouts become overlayfs whiteouts (".wh.NAME" -> a 0:0
//                            character device NAME; ".wh..wh..opq" -> the directory's
//                            trusted.overlay.opaque="y" xattr). CHAINID is the OCI chain ID of the
//                            layer stack up to it (sha256 of "parent-chainid diffid").
//   containers/ID/{upper,work,rootfs}   a container's writable layer and its mount point.
//
// Unpacking is safe against hostile layers: no entry, whatever order the entries come in, can
// create or write anything outside the layer directory (".." and absolute paths are refused,
// symlinks are never followed while resolving entry paths, hard links must point inside the
// layer), and device nodes other than whiteouts are not created. It is atomic: a layer is
// unpacked into a temporary directory and renamed into place when complete; its diff ID is
// verified while unpacking.
//
// Thread-safety: all methods may be called concurrently; unpacking a layer another caller is
// already unpacking waits for it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace nave::runtime {

struct LayerSource {
  std::string blobPath;   // the compressed (or plain) tar
  std::string diffId;     // "sha256:..." of the uncompressed tar, verified
  std::string mediaType;  // tells gzip/zstd/plain; the content is sniffed as well
};

struct SnapshotStats {
  int64_t layersRemoved = 0;
  int64_t bytesFreed = 0;
};

class Snapshotter {
 public:
  // `root` is DATA/agent/snapshots.
  static Result<std::unique_ptr<Snapshotter>> open(const std::string& root);
  virtual ~Snapshotter() = default;

  // Unpacks the layers (bottom first) that are not unpacked yet and returns their directories,
  // bottom first. kBadRequest for corrupt or hostile layers (nothing is left behind).
  virtual Result<std::vector<std::string>> prepareLayers(const std::vector<LayerSource>& layers) = 0;

  // Creates the container's upper and work directories and mounts the overlay (lower = the
  // layer directories, top first) at containers/ID/rootfs, which it returns. An image with no
  // layers gets an empty lower directory. Idempotent for an already mounted ID.
  virtual Result<std::string> mountRootfs(const std::string& containerId,
                                          const std::vector<std::string>& layerDirs) = 0;
  // Unmounts (lazily if busy) and deletes containers/ID. Missing is not an error.
  virtual Result<void> removeRootfs(const std::string& containerId) = 0;

  // Removes unpacked layers whose chain IDs are not in `keepChainIds` and that no mounted
  // container uses.
  virtual Result<SnapshotStats> garbageCollect(const std::vector<std::string>& keepChainIds) = 0;

  // The chain ID of each layer of a stack, bottom first (OCI image-spec).
  static std::vector<std::string> chainIds(const std::vector<std::string>& diffIds);
};

// Unpacks one tar stream (compression detected from its first bytes) into `dir` (which must
// exist and be empty) with the safety rules above, converting OCI whiteouts. Returns the sha256
// of the uncompressed tar ("sha256:..."). Exposed for tests, benchmarks and fuzzing.
Result<std::string> unpackLayer(const std::string& blobPath, const std::string& dir);

}  // namespace nave::runtime
