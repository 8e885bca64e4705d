// Import of image archives: docker-archive (`docker save`: manifest.json with Config, RepoTags
// and Layers) and OCI archives (oci-layout, index.json, blobs/sha256/...), plain or compressed
// with anything libarchive reads (gzip, zstd, ...).
//
// Every entry is staged in the content store's ingest directory while its digest is computed;
// nothing is committed until the whole archive has been read and every blob the images need
// has been verified: an OCI blob against its name, a docker-archive layer against the diff ID
// its config lists (docker-archive layers are stored as they are, usually uncompressed tars
// whose digest is the diff ID), a config against its file name. A corrupt archive leaves
// nothing behind.
//
// Names: docker-archives name images by RepoTags (normalised: "busybox:latest" is
// docker.io/library/busybox:latest). OCI archives by the io.containerd.image.name annotation of
// an index.json entry, else its org.opencontainers.image.ref.name when that is a full reference
// ("docker.io/library/busybox:latest", "busybox:1.0", as `skopeo copy ... oci-archive:FILE:REF`
// writes it); a bare tag ("latest") names no repository, so such an image, like an image without
// annotations, is recorded by its id (digest) only. Archives that carry both formats (Docker 25+)
// are read as OCI and also take manifest.json's RepoTags.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "runtime/image/content_store.h"
#include "runtime/image/image_index.h"
#include "runtime/image/image_store.h"
#include "runtime/image/platform.h"

namespace nave::runtime {

// Reads the archive and commits its blobs; returns the records to add to the index. The caller
// holds the content lock (shared). kBadRequest for anything that is not a valid image archive.
Result<std::vector<ImageRecord>> importImageArchive(ContentStore& content, const std::string& path,
                                                    const Platform& platform,
                                                    const ProgressFn& progress);

// The sha256 of a possibly compressed stream's decompressed content (gzip, zstd, xz, bzip2,
// or none).
Result<std::string> uncompressedDigest(const std::string& path);

}  // namespace nave::runtime
