#include "runtime/image/image_store.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>

#include "common/log.h"
#include "runtime/image/archive_import.h"
#include "runtime/image/digest.h"
#include "runtime/image/image_store_impl.h"

namespace nave::runtime {
namespace {

constexpr size_t kMinIdPrefix = 12;

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

Result<std::unique_ptr<ImageStore>> ImageStore::open(const ImageStoreOptions& options) {
  if (options.dataDir.empty()) return Error(ErrorCode::kBadRequest, "image store: no data dir");
  std::string agentDir = options.dataDir + "/agent";
  TRY(makeDirs(agentDir, 0700));
  auto content = TRY(ContentStore::open(agentDir + "/content"));
  auto index = TRY(ImageIndex::open(agentDir));
  auto registries = TRY(RegistriesConfig::load(options.registriesFile));
  Platform platform = Platform::host();
  if (!options.platform.empty()) platform = TRY(Platform::parse(options.platform));
  return std::unique_ptr<ImageStore>(new ImageStoreImpl(options, std::move(content),
                                                        std::move(index), std::move(registries),
                                                        platform));
}

ImageStoreImpl::ImageStoreImpl(ImageStoreOptions options, std::unique_ptr<ContentStore> content,
                               std::unique_ptr<ImageIndex> index, RegistriesConfig registries,
                               Platform platform)
    : options_(std::move(options)),
      agentDir_(options_.dataDir + "/agent"),
      content_(std::move(content)),
      index_(std::move(index)),
      registries_(std::move(registries)),
      platform_(std::move(platform)) {}

Result<std::shared_ptr<const ImageStoreImpl::ImageData>> ImageStoreImpl::imageData(
    const std::string& manifestDigest) const {
  {
    std::lock_guard lock(cacheMu_);
    if (auto it = cache_.find(manifestDigest); it != cache_.end()) return it->second;
  }
  auto data = std::make_shared<ImageData>();
  std::string bytes = TRY(content_->read(manifestDigest, kMaxManifestSize));
  data->manifest = TRY(parseManifest(bytes));
  if (data->manifest.kind != ManifestKind::kManifest) {
    return Error(ErrorCode::kInternal, "image manifest " + manifestDigest + " is an index");
  }
  std::string config = TRY(content_->read(data->manifest.config.digest, kMaxConfigSize));
  data->config = TRY(parseImageConfig(config));
  std::lock_guard lock(cacheMu_);
  cache_[manifestDigest] = data;
  return std::shared_ptr<const ImageData>(data);
}

Result<Image> ImageStoreImpl::toImage(const ImageRecord& record) const {
  auto data = imageData(record.manifestDigest);
  if (!data) {
    return Error(data.error().code(), "image " + record.id + ": " + data.error().message());
  }
  const ParsedManifest& m = (*data)->manifest;
  const ParsedConfig& c = (*data)->config;
  Image img;
  img.id = record.id;
  img.repoTags = record.repoTags;
  img.repoDigests = record.repoDigests;
  img.manifestDigest = record.manifestDigest;
  img.os = c.platform.os;
  img.architecture = c.platform.architecture;
  img.variant = c.platform.architecture == "arm64" && c.platform.variant == "v8"
                    ? std::string()
                    : c.platform.variant;
  for (size_t i = 0; i < m.layers.size(); ++i) {
    LayerInfo l;
    l.digest = m.layers[i].digest;
    l.mediaType = m.layers[i].mediaType;
    l.size = m.layers[i].size;
    if (i < c.diffIds.size()) l.diffId = c.diffIds[i];
    img.size += l.size;
    img.layers.push_back(std::move(l));
  }
  img.config = c.config;
  img.rawConfig = c.raw;
  return img;
}

Result<const ImageRecord*> ImageStoreImpl::lookup(const IndexState& state,
                                                  std::string_view text) const {
  auto notFound = [&] {
    return Error(ErrorCode::kNotFound, "image \"" + std::string(text) + "\" not found");
  };
  std::string_view hex = text;
  bool explicitId = false;
  if (hex.starts_with("sha256:")) {
    hex.remove_prefix(7);
    explicitId = true;
  }
  auto byIdPrefix = [&](std::string_view prefix) -> Result<const ImageRecord*> {
    const ImageRecord* found = nullptr;
    for (const auto& [id, r] : state.images) {
      if (std::string_view(id).substr(7).starts_with(prefix)) {
        if (found != nullptr) {
          return Error(ErrorCode::kBadRequest,
                       "image id prefix \"" + std::string(text) + "\" is ambiguous");
        }
        found = &r;
      }
    }
    if (found == nullptr) return notFound();
    return found;
  };
  if (explicitId) {
    if (hex.size() < kMinIdPrefix || hex.size() > 64 || !isLowerHex(hex)) return notFound();
    return byIdPrefix(hex);
  }
  if (auto ref = ImageReference::parse(text); ref) {
    const ImageRecord* r = nullptr;
    if (!ref->digest.empty()) {
      r = state.byName(ref->name() + "@" + ref->digest);
      if (r == nullptr) {
        // The manifest itself (e.g. a tag pulled from a single-platform image).
        for (const auto& [id, rec] : state.images) {
          bool sameRepo = false;
          for (const std::string& t : rec.repoTags) {
            if (t.starts_with(ref->name() + ":")) sameRepo = true;
          }
          if (rec.manifestDigest == ref->digest && sameRepo) r = &rec;
        }
      }
    } else {
      r = state.byName(ref->name() + ":" + ref->tag);
    }
    if (r != nullptr) return r;
  }
  if (hex.size() >= kMinIdPrefix && hex.size() <= 64 && isLowerHex(hex)) return byIdPrefix(hex);
  return notFound();
}

Result<Image> ImageStoreImpl::find(std::string_view ref) const {
  auto state = TRY(index_->read());
  const ImageRecord* r = TRY(lookup(*state, ref));
  return toImage(*r);
}

std::vector<Image> ImageStoreImpl::list() const {
  std::vector<Image> out;
  auto state = index_->read();
  if (!state) {
    log::error("list images", {{"error", state.error().message()}});
    return out;
  }
  for (const auto& [id, r] : (*state)->images) {
    auto img = toImage(r);
    if (!img) {
      log::warning("skipping a broken image", {{"id", id}, {"error", img.error().message()}});
      continue;
    }
    out.push_back(std::move(*img));
  }
  return out;
}

Result<void> ImageStoreImpl::remove(std::string_view text) {
  return index_->update([&](IndexState& state) -> Result<void> {
    const ImageRecord* found = TRY(lookup(state, text));
    ImageRecord& r = state.images.at(found->id);
    bool byName = false;
    if (auto ref = ImageReference::parse(text); ref) {
      std::string name = ref->digest.empty() ? ref->name() + ":" + ref->tag
                                             : ref->name() + "@" + ref->digest;
      if (contains(r.repoTags, name) || contains(r.repoDigests, name)) {
        byName = true;
        std::erase(r.repoTags, name);
        std::erase(r.repoDigests, name);
      }
    }
    // Removing the last tag (or naming the image by id) removes the image.
    if (!byName || r.repoTags.empty()) state.images.erase(found->id);
    return {};
  });
}

Result<std::string> ImageStoreImpl::blobPath(std::string_view digest) const {
  TRY(checkDigest(digest));
  if (!content_->has(digest)) {
    return Error(ErrorCode::kNotFound, "blob " + std::string(digest) + " not found");
  }
  return content_->blobPath(digest);
}

Result<std::vector<Image>> ImageStoreImpl::importArchive(const std::string& path,
                                                          ProgressFn progress) {
  auto lease = TRY(content_->lockShared());
  auto records = TRY(importImageArchive(*content_, path, platform_, progress));
  TRY(index_->update([&](IndexState& state) -> Result<void> {
    for (const ImageRecord& r : records) state.add(r);
    return {};
  }));
  auto state = TRY(index_->read());
  std::vector<Image> out;
  for (const ImageRecord& r : records) {
    auto it = state->images.find(r.id);
    if (it == state->images.end()) continue;  // removed meanwhile by someone else
    out.push_back(TRY(toImage(it->second)));
  }
  if (progress) {
    Progress p;
    p.ref = path;
    p.status = "done";
    progress(p);
  }
  return out;
}

void ImageStoreImpl::importAirgapDirectory() {
  std::string dir = agentDir_ + "/images";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> files;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    for (std::string_view ext : {".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.zstd", ".tar.bz2",
                                 ".tar.xz", ".tar.lz4"}) {
      if (name.size() > ext.size() && name.ends_with(ext)) {
        files.push_back(dir + "/" + name);
        break;
      }
    }
  }
  ::closedir(d);
  std::sort(files.begin(), files.end());

  // Archives imported before and unchanged since (same size and mtime) are skipped as long as
  // their images are still there: a big airgap tarball is read once, not at every start.
  const std::string statePath = agentDir_ + "/images.airgap.json";
  Json previous = Json::object();
  if (auto text = readFileLimited(statePath, 16 << 20); text) {
    if (auto parsed = parseJson(*text); parsed && parsed->value.is_object()) previous = parsed->value;
  }
  auto index = index_->read();
  Json next = Json::object();
  for (const std::string& f : files) {
    struct stat st{};
    if (::stat(f.c_str(), &st) != 0) continue;
    const int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    if (const Json* seen = findMember(previous, f); seen != nullptr && index &&
        getInt(*seen, "size", -1) == static_cast<int64_t>(st.st_size) && getInt(*seen, "mtime", -1) == mtime) {
      bool present = true;
      if (const Json* ids = findMember(*seen, "images"); ids != nullptr && ids->is_array()) {
        for (const Json& id : *ids) {
          present = present && id.is_string() && (*index)->images.count(id.get<std::string>()) != 0;
        }
      }
      if (present) {
        log::v(1, "airgap archive unchanged", {{"file", f}});
        next[f] = *seen;
        continue;
      }
    }
    auto images = importArchive(f, {});
    if (!images) {
      log::error("airgap image import failed", {{"file", f}, {"error", images.error().message()}});
      continue;
    }
    Json ids = Json::array();
    for (const Image& img : *images) {
      ids.push_back(img.id);
      log::info("imported airgap image",
                {{"file", f}, {"id", img.id},
                 {"name", img.repoTags.empty() ? std::string("<none>") : img.repoTags.front()}});
    }
    next[f] = Json{{"size", static_cast<int64_t>(st.st_size)}, {"mtime", mtime}, {"images", ids}};
  }
  if (next != previous) {
    if (auto ok = writeFileAtomic(statePath, dumpJson(next)); !ok) {
      log::warning("could not record airgap imports", {{"error", ok.error().message()}});
    }
  }
}

}  // namespace nave::runtime
