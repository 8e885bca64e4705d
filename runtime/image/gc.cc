// Garbage collection of blobs: everything no image record reaches (its indexes, manifest,
// config and layers) goes, as do temporary files left by interrupted writers. It holds the
// content lock exclusively, so no pull or import is between writing a blob and recording it.
#include <set>

#include "common/log.h"
#include "runtime/image/image_store_impl.h"

namespace nave::runtime {

Result<GcStats> ImageStoreImpl::garbageCollect() {
  auto lock = TRY(content_->lockExclusive());
  auto state = TRY(index_->read());
  std::set<std::string> keep;
  for (const auto& [id, r] : state->images) {
    keep.insert(r.id);
    keep.insert(r.manifestDigest);
    keep.insert(r.indexDigests.begin(), r.indexDigests.end());
    auto data = imageData(r.manifestDigest);
    if (!data) {
      log::warning("image without its manifest", {{"id", id}, {"error", data.error().message()}});
      continue;
    }
    keep.insert((*data)->manifest.config.digest);
    for (const Descriptor& l : (*data)->manifest.layers) keep.insert(l.digest);
  }
  GcStats stats;
  for (const std::string& digest : TRY(content_->list())) {
    if (keep.count(digest) != 0) continue;
    auto freed = content_->remove(digest);
    if (!freed) {
      log::warning("could not remove blob", {{"digest", digest}, {"error", freed.error().message()}});
      continue;
    }
    ++stats.blobsRemoved;
    stats.bytesFreed += *freed;
  }
  content_->clearIngest();
  {
    std::lock_guard cacheLock(cacheMu_);
    for (auto it = cache_.begin(); it != cache_.end();) {
      it = keep.count(it->first) != 0 ? std::next(it) : cache_.erase(it);
    }
  }
  return stats;
}

}  // namespace nave::runtime
