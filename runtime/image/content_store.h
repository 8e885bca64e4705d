// ContentStore: blobs by digest under ROOT/blobs/sha256/HEX (ROOT is DATA/agent/content).
// A blob is written to ROOT/ingest/ while its digest is computed, fsynced, and renamed into
// place only when the digest (and size, when known) match: a blob's presence means it is
// complete and verified. Several processes may share one ROOT.
//
// Garbage collection and writers exclude each other through ROOT/content.lock: writers (pulls
// and imports, from fetching a blob to recording the image in the index) hold it shared, the
// collector exclusively, so it never deletes a blob a writer is about to reference.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.h"
#include "common/result.h"
#include "runtime/image/digest.h"

namespace nave::runtime {

// A blob being written. Destroying it without commit() deletes the temporary file.
class BlobWriter {
 public:
  BlobWriter(std::string blobsDir, std::string tempPath, UniqueFd fd);
  ~BlobWriter();
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;

  Result<void> write(const void* data, size_t size);
  Result<void> write(std::string_view data) { return write(data.data(), data.size()); }
  int64_t size() const { return size_; }
  // The digest of what was written so far. Finishes the hash: write() is refused after it.
  const std::string& digest();
  // Verifies the digest (and the size when expectedSize >= 0), syncs and renames the blob into
  // place. kBadRequest "digest mismatch" (the temporary file is removed). A blob that is
  // already present is kept and the new copy dropped.
  Result<void> commit(std::string_view expectedDigest, int64_t expectedSize = -1);
  // Discards what was written (for a retry from the start).
  Result<void> truncate();
  // Syncs and closes the temporary file (an import stages many blobs before committing them);
  // the writer can still commit, but not write.
  Result<void> seal();
  const std::string& tempPath() const { return tempPath_; }

 private:
  std::string blobsDir_;
  std::string tempPath_;
  UniqueFd fd_;
  std::unique_ptr<Sha256> hash_;
  std::string digest_;
  int64_t size_ = 0;
  bool committed_ = false;
};

// A shared or exclusive hold of content.lock (flock); released when destroyed.
class ContentLock {
 public:
  ContentLock() = default;
  explicit ContentLock(UniqueFd fd) : fd_(std::move(fd)) {}

 private:
  UniqueFd fd_;
};

class ContentStore {
 public:
  static Result<std::unique_ptr<ContentStore>> open(const std::string& root);

  const std::string& root() const { return root_; }
  // ROOT/blobs/sha256/HEX; `digest` must be a valid sha256 digest.
  std::string blobPath(std::string_view digest) const;
  bool has(std::string_view digest) const;
  // The size of a present blob, or kNotFound.
  Result<int64_t> blobSize(std::string_view digest) const;
  // A whole blob, at most maxSize bytes (kTooLarge beyond). kNotFound if absent.
  Result<std::string> read(std::string_view digest, int64_t maxSize) const;
  // Stores bytes already in memory under their digest (verified against `digest`).
  Result<void> put(std::string_view digest, std::string_view data);
  Result<std::unique_ptr<BlobWriter>> newWriter() const;
  // A directory under ROOT/ingest for a caller's temporary files (an archive being staged).
  Result<std::string> makeTempDir(std::string_view prefix) const;

  // Every stored blob's digest.
  Result<std::vector<std::string>> list() const;
  // Removes a blob; returns its size (0 if it was absent).
  Result<int64_t> remove(std::string_view digest);
  // Removes everything in ROOT/ingest (only under an exclusive lock: no writer is active).
  void clearIngest();

  Result<ContentLock> lockShared() const;
  Result<ContentLock> lockExclusive() const;

 private:
  explicit ContentStore(std::string root);
  std::string root_;
  std::string blobsDir_;
  std::string ingestDir_;
};

// Writes `data` to `path` through a temporary file in the same directory, fsynced and renamed.
Result<void> writeFileAtomic(const std::string& path, std::string_view data);
// Reads a whole file of at most maxSize bytes.
Result<std::string> readFileLimited(const std::string& path, int64_t maxSize);
// Creates a directory and its parents (mode 0700 for new ones unless given).
Result<void> makeDirs(const std::string& path, mode_t mode = 0755);
// Deletes a file tree (no error if missing).
void removeTree(const std::string& path);

}  // namespace nave::runtime
