// AtomicWriter: projects a set of files into a directory so that readers see either the whole
// old set or the whole new one, as the kubelet's pkg/volume/util/atomic_writer.go does for
// configMap, secret, downwardAPI and projected volumes. Internal to runtime/agent/pod.
//
// The files live in a hidden timestamped directory (..2024_01_02_15_04_05.123456);
// TARGET/..data is a symlink to it and each top-level name of the payload is a symlink
// TARGET/NAME -> ..data/NAME. An update writes a new timestamped directory, points
// ..data_tmp at it and renames ..data_tmp over ..data (rename(2) is atomic), then removes the
// names that left the payload and the old directory. A reader that opens ..data once (or
// watches it with inotify) sees one complete version. Names starting with ".." are reserved.
//
// Not thread-safe: the caller serialises writes to one target directory.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "common/result.h"

namespace nave::agent {

struct FileProjection {
  std::string data;
  uint32_t mode = 0644;
};

// Relative path (no "..", not absolute, no name over 255 bytes, no leading "..") -> content.
using Payload = std::map<std::string, FileProjection>;

class AtomicWriter {
 public:
  explicit AtomicWriter(std::string targetDir) : targetDir_(std::move(targetDir)) {}

  // Writes `payload` when it differs from what the data directory holds (content or names),
  // then makes sure every user-visible symlink exists. `setPerms` runs on the new timestamped
  // directory's contents before they are published (fsGroup ownership). Leftover timestamped
  // directories of interrupted writes are removed. Returns whether a new version was
  // published.
  Result<bool> write(const Payload& payload, const std::function<Result<void>()>& setPerms = {});

 private:
  std::string targetDir_;
};

}  // namespace nave::agent
