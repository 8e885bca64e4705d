// The ImageStore implementation shared by image_store.cc (open, queries, removal), pull.cc,
// import in archive_import.cc's caller, and gc.cc.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "runtime/image/content_store.h"
#include "runtime/image/image_index.h"
#include "runtime/image/image_store.h"
#include "runtime/image/manifest.h"
#include "runtime/image/platform.h"
#include "runtime/image/registries_config.h"
#include "runtime/image/registry_client.h"
#include "runtime/image/single_flight.h"

namespace nave::runtime {

class ImageStoreImpl final : public ImageStore {
 public:
  ImageStoreImpl(ImageStoreOptions options, std::unique_ptr<ContentStore> content,
                 std::unique_ptr<ImageIndex> index, RegistriesConfig registries, Platform platform);

  Result<std::vector<Image>> importArchive(const std::string& path, ProgressFn progress) override;
  void importAirgapDirectory() override;
  Result<Image> pull(std::string_view ref, const PullOptions& options) override;
  Result<Image> find(std::string_view ref) const override;
  std::vector<Image> list() const override;
  Result<void> remove(std::string_view ref) override;
  Result<GcStats> garbageCollect() override;
  Result<std::string> blobPath(std::string_view digest) const override;

 private:
  // The manifest and config of a stored image, parsed once (content never changes).
  struct ImageData {
    ParsedManifest manifest;
    ParsedConfig config;
  };
  Result<std::shared_ptr<const ImageData>> imageData(const std::string& manifestDigest) const;
  Result<Image> toImage(const ImageRecord& record) const;
  Result<const ImageRecord*> lookup(const IndexState& state, std::string_view ref) const;

  Result<Image> pullOnce(const ImageReference& ref, const PullOptions& options);
  std::optional<RegistryAuth> credentialsFor(const std::string& registry,
                                             const RegistryEndpoint& endpoint,
                                             const PullOptions& options) const;
  // Where a pull's blobs come from, in the order to try them.
  using BlobSources = std::vector<RegistryClient*>;
  // Downloads the layers that are not present, a few at a time.
  Result<void> fetchLayers(const BlobSources& sources, const std::vector<Descriptor>& layers,
                           const std::string& ref, const ProgressFn& progress);
  // Downloads a blob unless present, from the first source that has it; concurrent downloads
  // of one digest share one transfer.
  Result<void> fetchBlob(const BlobSources& sources, const Descriptor& blob, const std::string& ref,
                         const ProgressFn& progress);

  const ImageStoreOptions options_;
  const std::string agentDir_;
  std::unique_ptr<ContentStore> content_;
  std::unique_ptr<ImageIndex> index_;
  const RegistriesConfig registries_;
  const Platform platform_;

  mutable std::mutex cacheMu_;
  mutable std::map<std::string, std::shared_ptr<const ImageData>> cache_;  // guarded by cacheMu_

  SingleFlight<Image> pulls_;
  SingleFlight<bool> blobFetches_;
};

}  // namespace nave::runtime
