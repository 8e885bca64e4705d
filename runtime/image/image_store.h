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
  // Credentials from the pod's imagePullSecrets (dockerconfigjson), per registry host (keys
  // like "docker.io", "https://index.docker.io/v1/", "127.0.0.1:5000" or an endpoint's host);
  // they take precedence over registries.yaml on every endpoint of that registry.
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
  // (gzip, zstd). Returns the images it held, named by the archive (docker-archive RepoTags;
  // OCI io.containerd.image.name or a full-reference org.opencontainers.image.ref.name) or, when
  // it names none, by id only. An index is resolved to this store's platform. Names move from
  // older images (which stay, by id). kBadRequest for archives that are not images, whose
  // blobs do not match their digests, or that have no image for this platform; nothing is
  // recorded then. Progress reports each staged entry ("staged") and the end ("done").
  virtual Result<std::vector<Image>> importArchive(const std::string& path, ProgressFn progress = {}) = 0;
  // Imports every *.tar, *.tar.gz, *.tgz, *.tar.zst (also .tar.zstd, .tar.bz2, .tar.xz,
  // .tar.lz4) in DATA/agent/images/ (airgap images), in name order, logging failures. An
  // archive imported before (DATA/agent/images.airgap.json) is skipped while its size and
  // mtime are unchanged and its images are still stored.
  virtual void importAirgapDirectory() = 0;

  // Pulls from the registry's endpoints (mirrors in order, then the default endpoint): the
  // first that has the manifest resolves the image and serves its blobs, the others stand in
  // for blobs it cannot serve. Blobs already stored are not fetched; layers download a few at
  // a time and are verified while they stream. The image is named
  // REF (tag) and NAME@DIGEST (the digest the reference resolved to, an index's for
  // multi-platform images). Errors carry "pull REF: " and a code: kNotFound ("not found", "no
  // match for platform ..."), kUnauthorized ("failed to authorize: ..."), kForbidden,
  // kUnavailable (no endpoint reachable), kBadRequest (invalid reference, digest mismatch,
  // schema 1 or other unsupported manifests). Progress is called from one thread at a time; a
  // pull that joins an identical running one gets its result but no progress.
  virtual Result<Image> pull(std::string_view ref, const PullOptions& options = {}) = 0;

  // The image that one of these names, or kNotFound:
  //   a reference, normalised ("busybox" = docker.io/library/busybox:latest), by tag or by
  //   repo digest (NAME@sha256:...);
  //   an image id "sha256:HEX", or a prefix of HEX of at least 12 digits, with or without
  //   "sha256:" (kBadRequest if it is ambiguous).
  virtual Result<Image> find(std::string_view ref) const = 0;
  // Every image, named or not.
  virtual std::vector<Image> list() const = 0;
  // Given a tag or repo digest: removes that name, and the image with its last tag. Given an
  // id: removes the image and all its names. Blobs stay until garbageCollect(). kNotFound if
  // unknown.
  virtual Result<void> remove(std::string_view ref) = 0;
  // Removes blobs that no image references and leftovers of interrupted writes (unpacked
  // snapshots are the snapshotter's). Waits for pulls and imports in progress (in any
  // process) and keeps them out meanwhile.
  virtual Result<GcStats> garbageCollect() = 0;

  // The path of a verified blob (read-only), or kNotFound.
  virtual Result<std::string> blobPath(std::string_view digest) const = 0;
};

}  // namespace nave::runtime
