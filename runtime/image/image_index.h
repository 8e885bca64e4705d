// ImageIndex: the node's image records in DATA/agent/images.json. Each record is one image (its
// id is the config digest) with the manifest it was stored from, the indexes that led to that
// manifest, and the names it goes by. The file is replaced atomically (temporary file, fsync,
// rename) under an exclusive flock on DATA/agent/images.lock, so the server and the CLI can
// change it at once; readers never lock and reload when the file changed.
//
// Thread-safety: all methods may be called concurrently (mu_ guards the cached state).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/result.h"

namespace nave::runtime {

struct ImageRecord {
  std::string id;              // "sha256:..." of the config
  std::string manifestDigest;  // the platform manifest
  std::vector<std::string> indexDigests;  // indexes (manifest lists) above it, kept by GC
  std::vector<std::string> repoTags;      // "docker.io/library/busybox:latest"
  std::vector<std::string> repoDigests;   // "docker.io/library/busybox@sha256:..."
  std::string platform;                   // "linux/amd64"
  int64_t created = 0;                    // when first stored (unix seconds)
};

struct IndexState {
  std::map<std::string, ImageRecord> images;  // by id

  // Records an image. Its tags and repo digests move to it from any other record (an older
  // image that loses its names stays, unnamed, until removed); known names are merged.
  void add(const ImageRecord& record);
  // The record that has this tag or repo digest (exact, normalised form), or nullptr.
  const ImageRecord* byName(const std::string& name) const;
};

class ImageIndex {
 public:
  // `agentDir` is DATA/agent.
  static Result<std::unique_ptr<ImageIndex>> open(const std::string& agentDir);

  // The current records (reloaded if the file changed since the last read).
  Result<std::shared_ptr<const IndexState>> read() const;
  // Runs `fn` on the latest records under the exclusive lock and, if it succeeds, writes them.
  Result<void> update(const std::function<Result<void>(IndexState&)>& fn);

 private:
  explicit ImageIndex(std::string agentDir);
  Result<std::shared_ptr<const IndexState>> reloadLocked() const;

  std::string path_;
  std::string lockPath_;
  mutable std::mutex mu_;
  // Guarded by mu_: the last state read or written and the file identity it came from.
  mutable std::shared_ptr<const IndexState> state_;
  mutable ino_t ino_ = 0;
  mutable int64_t mtimeNs_ = -1;
  mutable int64_t size_ = -1;
};

Json indexStateToJson(const IndexState& state);
Result<IndexState> indexStateFromJson(const Json& j);

}  // namespace nave::runtime
