// ImageStore: OCI and Docker images on this node. A content-addressed blob store
// (DATA/agent/content/blobs/sha256/HEX, every blob verified by its digest), an index of image
// references (DATA/agent/images.json, written atomically), import of docker-archive and
// OCI-archive tarballs (plain, gzip or zstd), pulls from registries over the OCI distribution
// API (anonymous bearer tokens, basic auth, HTTPS and plain HTTP, k3s' registries.yaml mirrors,
// rewrites, auth and TLS), and garbage collection of blobs no image references.
//
// Several processes may use one data dir at once (the server's agent and the `nave images`
// CLI): writes to the index take an exclusive lock on DATA/agent/images.lock; blobs are
// written to a temporary file and renamed into place once verified.
//
// Thread-safety: all methods may be called concurrently. Concurrent pulls of the same image
// (in this process) share one download.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/result.h"

namespace nave::runtime {

// A normalised image reference, as Docker names images: "busybox" is
// docker.io/library/busybox:latest; "localhost:5000/x@sha256:..." keeps its digest.
struct ImageReference {
  std::string registry;    // "docker.io", "127.0.0.1:5000"
  std::string repository;  // "library/busybox"
  std::string tag;         // "latest" (empty when only a digest is given)
  std::string digest;      // "sha256:..." or empty

  // kBadRequest for malformed references ("invalid reference format").
  static Result<ImageReference> parse(std::string_view text);
  // "docker.io/library/busybox:latest" (or "...@sha256:...").
  std::string str() const;
  // "docker.io/library/busybox" (registry + repository).
  std::string name() const;
};

// One filesystem layer of an image, bottom first.
struct LayerInfo {
  std::string digest;     // the blob's digest (compressed, as stored)
  std::string diffId;     // digest of the uncompressed tar (from the image config's rootfs)
  std::string mediaType;  // e.g. application/vnd.oci.image.layer.v1.tar+gzip
  int64_t size = 0;       // compressed size
};

// The parts of the image config the runtime uses (OCI image-spec config / Docker config).
struct ImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;
  std::string workingDir;
  std::string user;
  std::vector<std::string> exposedPorts;  // "80/tcp"
  std::vector<std::string> volumes;
  std::string stopSignal;
  std::map<std::string, std::string> labels;
};

struct Image {
  std::string id;  // the config blob's digest: "sha256:..."
  std::vector<std::string> repoTags;     // "docker.io/library/busybox:latest"
  std::vector<std::string> repoDigests;  // "docker.io/library/busybox@sha256:..." (manifest digest)
  std::string manifestDigest;
  std::string os, architecture, variant;
  int64_t size = 0;  // sum of compressed layer sizes
  std::vector<LayerInfo> layers;
  ImageConfig config;
  Json rawConfig;  // the whole config JSON, for inspect
};

// Progress of a pull or import, reported as bytes arrive (at most a few times a second).
struct Progress {
  std::string ref;
  std::string layer;  // digest being transferred, empty for the overall state
  int64_t done = 0;
  int64_t total = 0;
  std::string status;  // "resolving", "downloading", "verifying", "done", "exists"
};
using ProgressFn = std::function<void(const Progress&)>;

struct RegistryAuth {
  std::string username, password;  // basic credentials, also used for the token service
  std::string identityToken;
};

struct PullOptions {
  // Credentials from the pod's imagePullSecrets (dockerconfigjson), per registry host; they
  // take precedence over registries.yaml.
  std::map<std::string, RegistryAuth> auth;
  ProgressFn progress;
};

struct ImageStoreOptions {
  std::string dataDir;  // DATA; the store lives in DATA/agent
  // k3s' registries.yaml: mirrors.HOST.endpoint[], mirrors.HOST.rewrite, configs.HOST.auth
  // {username,password,auth,identitytoken}, configs.HOST.tls {ca_file,cert_file,key_file,
  // insecure_skip_verify}. Empty: none. A missing file is not an error.
  std::string registriesFile;
  // The platform images are resolved to: "linux/amd64", "linux/arm64", "linux/arm/v7".
  // Empty: this machine's.
  std::string platform;
};

struct GcStats {
  int64_t blobsRemoved = 0;
  int64_t bytesFreed = 0;
};

class ImageStore {
 public:
  static Result<std::unique_ptr<ImageStore>> open(const ImageStoreOptions& options);
  virtual ~ImageStore() = default;

  // Imports a docker-archive (`docker save`) or OCI-archive tarball, plain or compressed
  // (gzip, zstd). Returns the images it named. kBadRequest for archives that are not images,
  // whose blobs do not match their digests, or that name no image for this platform.
  virtual Result<std::vector<Image>> importArchive(const std::string& path, ProgressFn progress = {}) = 0;
  // Imports every archive in DATA/agent/images/ (airgap images), logging failures.
  virtual void importAirgapDirectory() = 0;

  // Pulls from the registry (or its mirrors). Layers are verified while they stream.
  virtual Result<Image> pull(std::string_view ref, const PullOptions& options = {}) = 0;

  // The image a reference, an image id ("sha256:..." or a unique prefix) or a repo digest
  // names; kNotFound if none.
  virtual Result<Image> find(std::string_view ref) const = 0;
  virtual std::vector<Image> list() const = 0;
  // Removes a tag (or, given an id, every tag of that image). kNotFound if unknown.
  virtual Result<void> remove(std::string_view ref) = 0;
  // Removes blobs that no image references (unpacked snapshots are the snapshotter's).
  virtual Result<GcStats> garbageCollect() = 0;

  // The path of a verified blob (read-only), or kNotFound.
  virtual Result<std::string> blobPath(std::string_view digest) const = 0;
};

}  // namespace nave::runtime
