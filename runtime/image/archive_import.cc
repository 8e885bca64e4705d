#include "runtime/image/archive_import.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <set>

#include "common/json.h"
#include "common/log.h"
#include "common/strings.h"
#include "runtime/image/digest.h"
#include "runtime/image/manifest.h"

namespace nave::runtime {
namespace {

// The compressions image archives come in (as k3s' airgap import accepts them): each is read
// by a library linked into nave, never by an external program.
void addLayerFilters(archive* a) {
  archive_read_support_filter_none(a);
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_zstd(a);
  archive_read_support_filter_xz(a);
  archive_read_support_filter_bzip2(a);
}

constexpr size_t kMaxEntries = 100000;
constexpr int kMaxIndexDepth = 4;

Error bad(std::string msg) { return Error(ErrorCode::kBadRequest, std::move(msg)); }

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveDeleter>;

// "./a/../b//c" -> "b/c"; empty when it leaves the archive's root.
std::string normalizePath(std::string_view p) {
  std::vector<std::string> parts;
  for (const std::string& part : split(p, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (parts.empty()) return "";
      parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  return join(parts, "/");
}

std::string dirName(const std::string& p) {
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? "" : p.substr(0, slash);
}

// The archive's files, staged as unverified blobs, and its links.
class StagedArchive {
 public:
  explicit StagedArchive(ContentStore& content) : content_(content) {}

  Result<void> read(const std::string& path, const ProgressFn& progress) {
    ArchivePtr a(archive_read_new());
    addLayerFilters(a.get());
    archive_read_support_format_tar(a.get());
    if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK) {
      return bad("open " + path + ": " + archive_error_string(a.get()));
    }
    std::vector<char> buf(1 << 16);
    while (true) {
      archive_entry* entry = nullptr;
      int rc = archive_read_next_header(a.get(), &entry);
      if (rc == ARCHIVE_EOF) break;
      if (rc < ARCHIVE_WARN) return bad("read " + path + ": " + archive_error_string(a.get()));
      if (files_.size() + links_.size() >= kMaxEntries) return bad(path + ": too many entries");
      const char* rawName = archive_entry_pathname(entry);
      std::string name = normalizePath(rawName != nullptr ? rawName : "");
      if (name.empty()) continue;
      if (const char* hard = archive_entry_hardlink(entry)) {
        links_[name] = normalizePath(hard);
        continue;
      }
      mode_t type = archive_entry_filetype(entry);
      if (type == AE_IFLNK) {
        const char* target = archive_entry_symlink(entry);
        if (target == nullptr) continue;
        std::string t = target;
        links_[name] = normalizePath(t.starts_with("/") ? t : dirName(name) + "/" + t);
        continue;
      }
      if (type != AE_IFREG) continue;
      auto writer = TRY(content_.newWriter());
      while (true) {
        la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
        if (n < 0) return bad("read " + path + ": " + name + ": " + archive_error_string(a.get()));
        if (n == 0) break;
        TRY(writer->write(buf.data(), static_cast<size_t>(n)));
      }
      TRY(writer->seal());
      if (progress) {
        Progress p;
        p.ref = path;
        p.layer = name;
        p.done = p.total = writer->size();
        p.status = "staged";
        progress(p);
      }
      files_[name] = std::move(writer);
    }
    return {};
  }

  // The file an entry name leads to (through links), or nullptr.
  BlobWriter* file(const std::string& name) {
    std::string n = normalizePath(name);
    for (int hops = 0; hops < 16; ++hops) {
      if (auto it = files_.find(n); it != files_.end()) return it->second.get();
      auto link = links_.find(n);
      if (link == links_.end()) return nullptr;
      n = link->second;
    }
    return nullptr;
  }
  bool has(const std::string& name) { return file(name) != nullptr; }

  Result<std::string> readSmall(const std::string& name, int64_t maxSize) {
    BlobWriter* w = file(name);
    if (w == nullptr) return bad("archive has no " + name);
    if (w->size() > maxSize) return bad(name + " is too large");
    return readFileLimited(w->tempPath(), maxSize);
  }

  // The staged blob named blobs/sha256/HEX, verified against its name and the size `expected`.
  Result<BlobWriter*> blob(const std::string& digest, int64_t expectedSize) {
    TRY(checkDigest(digest));
    BlobWriter* w = file("blobs/sha256/" + std::string(digestHex(digest)));
    if (w == nullptr) return bad("blob " + digest + " is missing from the archive");
    if (w->digest() != digest) {
      return bad("blob " + digest + ": digest mismatch (content is " + w->digest() + ")");
    }
    if (expectedSize >= 0 && w->size() != expectedSize) {
      return bad("blob " + digest + ": size " + std::to_string(w->size()) + " does not match " +
                 std::to_string(expectedSize));
    }
    return w;
  }

 private:
  ContentStore& content_;
  std::map<std::string, std::unique_ptr<BlobWriter>> files_;
  std::map<std::string, std::string> links_;
};

// An image found in the archive, verified, with the blobs it needs.
struct FoundImage {
  ImageRecord record;
  std::vector<BlobWriter*> stagedBlobs;
  std::vector<std::pair<std::string, std::string>> generatedBlobs;  // digest, bytes
};

Result<std::string> normalizeName(const std::string& name) {
  auto ref = ImageReference::parse(name);
  if (!ref) return bad("invalid image name \"" + name + "\": " + ref.error().message());
  return ref->str();
}

std::string repoDigestFor(const std::string& name, const std::string& digest) {
  auto ref = ImageReference::parse(name);
  return ref ? ref->name() + "@" + digest : "";
}

std::string layerMediaType(const std::string& path, bool* zstd) {
  FILE* f = std::fopen(path.c_str(), "rb");
  unsigned char magic[4] = {0, 0, 0, 0};
  size_t n = f != nullptr ? std::fread(magic, 1, sizeof magic, f) : 0;
  if (f != nullptr) std::fclose(f);
  *zstd = false;
  if (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) return std::string(media::kDockerLayerGzip);
  if (n == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd) {
    *zstd = true;
    return std::string(media::kOciLayerZstd);
  }
  return std::string(media::kDockerLayer);
}

class Importer {
 public:
  Importer(StagedArchive& staged, const Platform& platform) : staged_(staged), platform_(platform) {}

  Result<std::vector<FoundImage>> run() {
    if (staged_.has("index.json")) {
      auto images = TRY(readOci());
      if (staged_.has("manifest.json")) TRY(mergeRepoTags(images));
      return images;
    }
    if (staged_.has("manifest.json")) return readDockerArchive();
    return bad("not an image archive: it has neither manifest.json (docker-archive) nor index.json "
               "(OCI)");
  }

 private:
  Result<std::vector<FoundImage>> readOci() {
    std::string text = TRY(staged_.readSmall("index.json", kMaxManifestSize));
    auto index = parseManifest(text, media::kOciIndex);
    if (!index) return bad("index.json: " + index.error().message());
    if (index->kind != ManifestKind::kIndex) return bad("index.json is not an image index");
    std::vector<FoundImage> out;
    std::vector<std::string> skipped;
    for (const Descriptor& d : index->manifests) {
      FoundImage img;
      auto ok = resolveOci(d, img, 0);
      if (!ok) {
        if (ok.error().is(ErrorCode::kNotFound)) {  // no entry for this platform
          skipped.push_back(ok.error().message());
          continue;
        }
        return std::move(ok).error();
      }
      std::string name;
      if (auto it = d.annotations.find("io.containerd.image.name"); it != d.annotations.end()) {
        name = it->second;
      } else if (auto ref = d.annotations.find("org.opencontainers.image.ref.name");
                 ref != d.annotations.end() &&
                 ref->second.find_first_of("/:@") != std::string::npos) {
        name = ref->second;
      }
      if (!name.empty()) {
        std::string normalized = TRY(normalizeName(name));
        img.record.repoTags.push_back(normalized);
        img.record.repoDigests.push_back(repoDigestFor(normalized, d.digest));
      }
      out.push_back(std::move(img));
    }
    if (out.empty()) {
      if (!skipped.empty()) return bad("no image for platform " + platform_.str() + " in the archive");
      return bad("the archive's index.json lists no image");
    }
    return out;
  }

  Result<void> resolveOci(const Descriptor& d, FoundImage& img, int depth) {
    if (depth > kMaxIndexDepth) return bad("image indexes nested too deeply");
    BlobWriter* w = TRY(staged_.blob(d.digest, d.size));
    std::string bytes = TRY(staged_.readSmall("blobs/sha256/" + std::string(digestHex(d.digest)),
                                              kMaxManifestSize));
    auto m = parseManifest(bytes, d.mediaType);
    if (!m) return bad("manifest " + d.digest + ": " + m.error().message());
    img.stagedBlobs.push_back(w);
    if (m->kind == ManifestKind::kIndex) {
      img.record.indexDigests.push_back(d.digest);
      Descriptor child = TRY(selectPlatform(*m, platform_));
      return resolveOci(child, img, depth + 1);
    }
    img.record.manifestDigest = d.digest;
    TRY(addImageBlobs(*m, img));
    return {};
  }

  Result<void> addImageBlobs(const ParsedManifest& m, FoundImage& img) {
    BlobWriter* cw = TRY(staged_.blob(m.config.digest, m.config.size));
    std::string configBytes = TRY(staged_.readSmall(
        "blobs/sha256/" + std::string(digestHex(m.config.digest)), kMaxConfigSize));
    auto config = parseImageConfig(configBytes);
    if (!config) return bad("config " + m.config.digest + ": " + config.error().message());
    if (config->diffIds.size() != m.layers.size()) {
      return bad("config " + m.config.digest + " lists " + std::to_string(config->diffIds.size()) +
                 " diff IDs for " + std::to_string(m.layers.size()) + " layers");
    }
    img.stagedBlobs.push_back(cw);
    img.record.id = m.config.digest;
    img.record.platform = config->platform.str();
    for (const Descriptor& l : m.layers) {
      img.stagedBlobs.push_back(TRY(staged_.blob(l.digest, l.size)));
    }
    return {};
  }

  Result<void> mergeRepoTags(std::vector<FoundImage>& images) {
    auto entries = TRY(dockerManifestEntries());
    for (const Json& e : entries) {
      std::string config = normalizePath(getString(e, "Config"));
      std::string digest = config.starts_with("blobs/sha256/") ? "sha256:" + config.substr(13) : "";
      for (FoundImage& img : images) {
        if (img.record.id != digest) continue;
        for (const std::string& tag : repoTags(e)) {
          std::string normalized = TRY(normalizeName(tag));
          if (std::find(img.record.repoTags.begin(), img.record.repoTags.end(), normalized) ==
              img.record.repoTags.end()) {
            img.record.repoTags.push_back(normalized);
          }
        }
      }
    }
    return {};
  }

  Result<std::vector<Json>> dockerManifestEntries() {
    std::string text = TRY(staged_.readSmall("manifest.json", kMaxManifestSize));
    auto parsed = parseJson(text);
    if (!parsed) return bad("manifest.json: " + parsed.error().message());
    if (!parsed->value.is_array()) return bad("manifest.json is not a list");
    std::vector<Json> out;
    for (const Json& e : parsed->value) {
      if (!e.is_object()) return bad("manifest.json: entry is not an object");
      out.push_back(e);
    }
    return out;
  }

  static std::vector<std::string> repoTags(const Json& e) {
    std::vector<std::string> out;
    const Json* tags = findMember(e, "RepoTags");
    if (tags == nullptr || !tags->is_array()) return out;
    for (const Json& t : *tags) {
      if (t.is_string()) out.push_back(t.get<std::string>());
    }
    return out;
  }

  Result<std::vector<FoundImage>> readDockerArchive() {
    auto entries = TRY(dockerManifestEntries());
    if (entries.empty()) return bad("manifest.json lists no image");
    std::vector<FoundImage> out;
    for (const Json& e : entries) {
      FoundImage img;
      std::string configPath = normalizePath(getString(e, "Config"));
      if (configPath.empty()) return bad("manifest.json: entry without Config");
      BlobWriter* cw = staged_.file(configPath);
      if (cw == nullptr) return bad("manifest.json: config " + configPath + " is missing");
      // The config's name is its digest ("HEX.json", or "blobs/sha256/HEX" since Docker 25).
      std::string base = configPath.substr(configPath.rfind('/') + 1);
      if (base.ends_with(".json")) base.resize(base.size() - 5);
      if (base.size() == 64 && isLowerHex(base) && cw->digest() != "sha256:" + base) {
        return bad("config " + configPath + ": digest mismatch (content is " + cw->digest() + ")");
      }
      std::string configBytes = TRY(staged_.readSmall(configPath, kMaxConfigSize));
      auto config = parseImageConfig(configBytes);
      if (!config) return bad("config " + configPath + ": " + config.error().message());
      const Json* layers = findMember(e, "Layers");
      if (layers == nullptr || !layers->is_array()) return bad("manifest.json: entry without Layers");
      if (layers->size() != config->diffIds.size()) {
        return bad("config " + configPath + " lists " + std::to_string(config->diffIds.size()) +
                   " diff IDs for " + std::to_string(layers->size()) + " layers");
      }
      std::vector<Descriptor> layerDescs;
      bool anyZstd = false;
      for (size_t i = 0; i < layers->size(); ++i) {
        const Json& l = (*layers)[i];
        if (!l.is_string()) return bad("manifest.json: layer is not a path");
        std::string lp = l.get<std::string>();
        BlobWriter* lw = staged_.file(lp);
        if (lw == nullptr) return bad("manifest.json: layer " + lp + " is missing");
        const std::string& diffId = config->diffIds[i];
        bool zstd = false;
        Descriptor d;
        d.mediaType = layerMediaType(lw->tempPath(), &zstd);
        anyZstd = anyZstd || zstd;
        d.digest = lw->digest();
        d.size = lw->size();
        if (d.digest != diffId) {
          // A compressed layer: its content must still be the diff ID's tar.
          std::string actual = d.mediaType == media::kDockerLayer
                                   ? d.digest
                                   : TRY(uncompressedDigest(lw->tempPath()));
          if (actual != diffId) {
            return bad("layer " + lp + ": digest mismatch: the config says " + diffId +
                       ", the content is " + actual);
          }
        }
        layerDescs.push_back(std::move(d));
        img.stagedBlobs.push_back(lw);
      }
      if (anyZstd) {
        for (Descriptor& d : layerDescs) {
          if (d.mediaType == media::kDockerLayer) d.mediaType = media::kOciLayer;
          if (d.mediaType == media::kDockerLayerGzip) d.mediaType = media::kOciLayerGzip;
        }
      }
      Descriptor configDesc{std::string(anyZstd ? media::kOciConfig : media::kDockerConfig),
                            cw->digest(), cw->size(), std::nullopt, {}};
      std::string manifest = makeDockerManifest(configDesc, layerDescs, anyZstd);
      std::string manifestDigest = sha256Digest(manifest);
      img.stagedBlobs.push_back(cw);
      img.generatedBlobs.emplace_back(manifestDigest, manifest);
      img.record.id = cw->digest();
      img.record.manifestDigest = manifestDigest;
      img.record.platform = config->platform.str();
      for (const std::string& tag : repoTags(e)) {
        img.record.repoTags.push_back(TRY(normalizeName(tag)));
      }
      out.push_back(std::move(img));
    }
    return out;
  }

  StagedArchive& staged_;
  const Platform& platform_;
};

}  // namespace

Result<std::string> uncompressedDigest(const std::string& path) {
  ArchivePtr a(archive_read_new());
  addLayerFilters(a.get());
  archive_read_support_format_raw(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK) {
    return bad("open " + path + ": " + archive_error_string(a.get()));
  }
  archive_entry* entry = nullptr;
  if (archive_read_next_header(a.get(), &entry) != ARCHIVE_OK) {
    return bad("read " + path + ": " + archive_error_string(a.get()));
  }
  Sha256 hash;
  std::vector<char> buf(1 << 16);
  while (true) {
    la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
    if (n < 0) return bad("decompress " + path + ": " + archive_error_string(a.get()));
    if (n == 0) break;
    hash.update(buf.data(), static_cast<size_t>(n));
  }
  return hash.digest();
}

Result<std::vector<ImageRecord>> importImageArchive(ContentStore& content, const std::string& path,
                                                    const Platform& platform,
                                                    const ProgressFn& progress) {
  StagedArchive staged(content);
  TRY(staged.read(path, progress));
  Importer importer(staged, platform);
  auto images = importer.run();
  if (!images) return Error(images.error().code(), "import " + path + ": " + images.error().message());
  // Everything is verified: commit the blobs, then hand the records over.
  std::vector<ImageRecord> records;
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (FoundImage& img : *images) {
    for (BlobWriter* w : img.stagedBlobs) TRY(w->commit(w->digest(), w->size()));
    for (const auto& [digest, bytes] : img.generatedBlobs) TRY(content.put(digest, bytes));
    img.record.created = now;
    std::erase(img.record.repoDigests, std::string());
    records.push_back(std::move(img.record));
  }
  return records;
}

}  // namespace nave::runtime
