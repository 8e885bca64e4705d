// Image manifests, indexes (manifest lists) and configs: parsing, validation and the choice of
// a platform's manifest. Docker schema 2 and OCI image-spec; Docker schema 1 is refused.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/result.h"
#include "runtime/image/image_store.h"
#include "runtime/image/platform.h"

namespace nave::runtime {

namespace media {
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr std::string_view kDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerSchema1 =
    "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view kDockerSchema1Signed =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
// The Accept header of manifest requests: every type we read.
std::string acceptHeader();
}  // namespace media

inline constexpr int64_t kMaxManifestSize = 4 << 20;  // as containerd
inline constexpr int64_t kMaxConfigSize = 16 << 20;

struct Descriptor {
  std::string mediaType;
  std::string digest;
  int64_t size = -1;
  std::optional<Platform> platform;
  std::map<std::string, std::string> annotations;
};

enum class ManifestKind { kManifest, kIndex };

// A manifest or index, decoded from its bytes.
struct ParsedManifest {
  ManifestKind kind = ManifestKind::kManifest;
  std::string mediaType;  // as declared (or deduced for OCI documents without one)
  // kManifest:
  Descriptor config;
  std::vector<Descriptor> layers;
  // kIndex:
  std::vector<Descriptor> manifests;
};

// Decodes a manifest or index. `mediaType` is the transport's (Content-Type, or an index
// entry's); the document's own mediaType field wins when present. kBadRequest for schema 1
// ("Docker schema 1 manifests are not supported..."), unknown types, malformed documents and
// descriptors with invalid or non-sha256 digests or negative sizes.
Result<ParsedManifest> parseManifest(std::string_view bytes, std::string_view mediaType = "");

bool isIndexMediaType(std::string_view mediaType);
bool isManifestMediaType(std::string_view mediaType);

// The entry of an index that best fits `target` (see platformScore); entries without a
// platform are ignored. kNotFound "no match for platform linux/amd64 in manifest list" if none.
Result<Descriptor> selectPlatform(const ParsedManifest& index, const Platform& target);

// The runtime's view of an image config (the whole document stays available as JSON).
struct ParsedConfig {
  Json raw;
  ImageConfig config;
  Platform platform;
  std::vector<std::string> diffIds;
};
Result<ParsedConfig> parseImageConfig(std::string_view bytes);

// Docker schema 2 manifest for a config and layers (docker-archive imports), serialised
// deterministically so that the same archive always yields the same manifest digest.
std::string makeDockerManifest(const Descriptor& config, const std::vector<Descriptor>& layers,
                               bool oci);

}  // namespace nave::runtime
