// Pulls: resolve the reference on the registry's endpoints in order, follow indexes to this
// platform's manifest, download the config and the layers that are not stored yet (verified
// while they stream), and record the image.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <system_error>
#include <thread>
#include <ctime>
#include <set>

#include "common/log.h"
#include "runtime/image/digest.h"
#include "runtime/image/image_store_impl.h"

namespace nave::runtime {
namespace {

constexpr int kMaxIndexDepth = 4;
constexpr size_t kParallelDownloads = 3;  // as containerd's default

// Calls a progress function at most every 200 ms per layer, plus at the start and the end.
class ProgressThrottle {
 public:
  ProgressThrottle(const ProgressFn& fn, std::string ref, std::string layer, int64_t total)
      : fn_(fn), ref_(std::move(ref)), layer_(std::move(layer)), total_(total) {}

  void report(int64_t done, const char* status, bool force = false) {
    if (!fn_) return;
    auto now = std::chrono::steady_clock::now();
    if (!force && now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    Progress p;
    p.ref = ref_;
    p.layer = layer_;
    p.done = done;
    p.total = total_;
    p.status = status;
    fn_(p);
  }

 private:
  const ProgressFn& fn_;
  std::string ref_, layer_;
  int64_t total_;
  std::chrono::steady_clock::time_point last_{};
};

void reportState(const ProgressFn& fn, const std::string& ref, const char* status) {
  if (!fn) return;
  Progress p;
  p.ref = ref;
  p.status = status;
  fn(p);
}

int errorRank(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kUnauthorized:
    case ErrorCode::kForbidden: return 3;
    case ErrorCode::kNotFound: return 2;
    case ErrorCode::kUnavailable: return 0;
    default: return 1;
  }
}

}  // namespace

std::optional<RegistryAuth> ImageStoreImpl::credentialsFor(const std::string& registry,
                                                           const RegistryEndpoint& endpoint,
                                                           const PullOptions& options) const {
  for (const auto& [key, auth] : options.auth) {
    std::string host = normalizeRegistryHost(key);
    if (host == registry || host == normalizeRegistryHost(endpoint.host)) return auth;
  }
  return endpoint.auth;
}

Result<Image> ImageStoreImpl::pull(std::string_view text, const PullOptions& options) {
  auto ref = ImageReference::parse(text);
  if (!ref) return Error(ref.error().code(), "pull " + std::string(text) + ": " + ref.error().message());
  return pulls_.run(ref->str(), [&] { return pullOnce(*ref, options); });
}

Result<void> ImageStoreImpl::fetchBlob(const BlobSources& sources, const Descriptor& blob,
                                       const std::string& ref, const ProgressFn& progress) {
  ProgressThrottle throttle(progress, ref, blob.digest, blob.size);
  if (content_->has(blob.digest)) {
    throttle.report(blob.size, "exists", true);
    return {};
  }
  auto fetched = blobFetches_.run(blob.digest, [&]() -> Result<bool> {
    if (content_->has(blob.digest)) return true;  // another process got it meanwhile
    auto writer = TRY(content_->newWriter());
    throttle.report(0, "downloading", true);
    // The endpoint that resolved the image first, then the others (as containerd's fetcher).
    std::optional<Error> firstError;
    for (RegistryClient* client : sources) {
      auto ok = client->fetchBlob(blob, *writer, [&](int64_t done) { throttle.report(done, "downloading"); });
      if (ok) {
        firstError.reset();
        break;
      }
      if (!firstError) firstError = ok.error();
      bool elsewhere = ok.error().is(ErrorCode::kNotFound) || ok.error().is(ErrorCode::kUnavailable) ||
                       ok.error().is(ErrorCode::kUnauthorized) || ok.error().is(ErrorCode::kForbidden) ||
                       ok.error().is(ErrorCode::kTooManyRequests);
      if (!elsewhere) return std::move(ok).error();
      log::v(1, "blob not available from endpoint",
             {{"digest", blob.digest}, {"endpoint", client->describe()}, {"error", ok.error().message()}});
    }
    if (firstError) return *firstError;
    throttle.report(writer->size(), "verifying", true);
    TRY(writer->commit(blob.digest, blob.size));
    return true;
  });
  if (!fetched) return std::move(fetched).error();
  throttle.report(blob.size, "done", true);
  return {};
}

Result<void> ImageStoreImpl::fetchLayers(const BlobSources& sources, const std::vector<Descriptor>& layers,
                                         const std::string& ref, const ProgressFn& progress) {
  std::vector<const Descriptor*> todo;
  std::set<std::string> seen;
  for (const Descriptor& l : layers) {
    if (seen.insert(l.digest).second) todo.push_back(&l);
  }
  // Downloads run on a few threads; the caller's progress function sees one call at a time.
  std::mutex mu;
  std::optional<Error> error;  // guarded by mu
  ProgressFn serialized;
  if (progress) {
    serialized = [&](const Progress& p) {
      std::lock_guard lock(mu);
      progress(p);
    };
  }
  std::atomic<size_t> next{0};
  auto worker = [&] {
    while (true) {
      size_t i = next++;
      if (i >= todo.size()) return;
      {
        std::lock_guard lock(mu);
        if (error) return;
      }
      auto ok = fetchBlob(sources, *todo[i], ref, serialized);
      if (!ok) {
        std::lock_guard lock(mu);
        if (!error) error = std::move(ok).error().context("layer " + todo[i]->digest);
      }
    }
  };
  std::vector<std::thread> threads;
  for (size_t i = 1; i < std::min(kParallelDownloads, todo.size()); ++i) {
    try {
      threads.emplace_back(worker);
    } catch (const std::system_error&) {
      break;  // fewer threads; the calling one still works through the list
    }
  }
  worker();
  for (std::thread& t : threads) t.join();
  if (error) return *error;
  return {};
}

Result<Image> ImageStoreImpl::pullOnce(const ImageReference& ref, const PullOptions& options) {
  const std::string name = ref.str();
  auto fail = [&](Error e) { return std::move(e.context("pull " + name)); };
  auto lease = content_->lockShared();
  if (!lease) return fail(std::move(lease).error());
  reportState(options.progress, name, "resolving");

  // Resolve: the first endpoint that has the manifest serves the whole pull.
  std::vector<std::unique_ptr<RegistryClient>> clients;
  for (const RegistryEndpoint& ep : registries_.endpointsFor(ref.registry)) {
    clients.push_back(std::make_unique<RegistryClient>(ep, ep.repositoryFor(ref.repository),
                                                       credentialsFor(ref.registry, ep, options)));
  }
  RegistryClient* client = nullptr;
  FetchedManifest top;
  std::optional<Error> firstError;
  const std::string reference = ref.digest.empty() ? ref.tag : ref.digest;
  for (const auto& c : clients) {
    auto m = c->fetchManifest(reference);
    if (m) {
      client = c.get();
      top = std::move(*m);
      break;
    }
    log::v(1, "registry endpoint failed",
           {{"image", name}, {"endpoint", c->describe()}, {"error", m.error().message()}});
    if (!firstError || errorRank(m.error()) > errorRank(*firstError)) firstError = m.error();
  }
  if (client == nullptr) {
    Error e = *firstError;
    if (e.is(ErrorCode::kNotFound)) e = Error(ErrorCode::kNotFound, "not found");
    return fail(std::move(e));
  }

  // Follow indexes down to this platform's manifest.
  std::vector<std::pair<std::string, std::string>> documents;  // digest, bytes
  std::vector<std::string> indexDigests;
  FetchedManifest current = std::move(top);
  const std::string topDigest = current.digest;
  ParsedManifest manifest;
  for (int depth = 0;; ++depth) {
    auto parsed = parseManifest(current.bytes, current.mediaType);
    if (!parsed) return fail(std::move(parsed).error());
    documents.emplace_back(current.digest, current.bytes);
    if (parsed->kind == ManifestKind::kManifest) {
      manifest = std::move(*parsed);
      break;
    }
    if (depth == kMaxIndexDepth) return fail(Error(ErrorCode::kBadRequest, "image indexes nested too deeply"));
    indexDigests.push_back(current.digest);
    auto entry = selectPlatform(*parsed, platform_);
    if (!entry) return fail(std::move(entry).error());
    auto next = client->fetchManifest(entry->digest);
    if (!next) return fail(std::move(next).error());
    if (static_cast<int64_t>(next->bytes.size()) != entry->size) {
      return fail(Error(ErrorCode::kBadRequest, "manifest " + entry->digest + " has the wrong size"));
    }
    current = std::move(*next);
  }
  const std::string manifestDigest = current.digest;

  // The config, then the layers.
  if (manifest.config.size > kMaxConfigSize) {
    return fail(Error(ErrorCode::kBadRequest, "image config is too large"));
  }
  BlobSources sources{client};
  for (const auto& c : clients) {
    if (c.get() != client) sources.push_back(c.get());
  }
  if (auto ok = fetchBlob(sources, manifest.config, name, {}); !ok) {
    return fail(std::move(ok).error().context("config " + manifest.config.digest));
  }
  auto configBytes = content_->read(manifest.config.digest, kMaxConfigSize);
  if (!configBytes) return fail(std::move(configBytes).error());
  auto config = parseImageConfig(*configBytes);
  if (!config) return fail(std::move(config).error());
  if (!config->platform.architecture.empty() && platformScore(platform_, config->platform) == 0) {
    return fail(Error(ErrorCode::kNotFound, "image is for " + config->platform.str() +
                                                ", not for platform " + platform_.str()));
  }
  if (config->diffIds.size() != manifest.layers.size()) {
    return fail(Error(ErrorCode::kBadRequest, "the image config lists " +
                                                  std::to_string(config->diffIds.size()) +
                                                  " diff IDs for " +
                                                  std::to_string(manifest.layers.size()) + " layers"));
  }
  if (auto ok = fetchLayers(sources, manifest.layers, name, options.progress); !ok) {
    return fail(std::move(ok).error());
  }
  for (const auto& [digest, bytes] : documents) {
    if (auto ok = content_->put(digest, bytes); !ok) return fail(std::move(ok).error());
  }

  ImageRecord record;
  record.id = manifest.config.digest;
  record.manifestDigest = manifestDigest;
  record.indexDigests = indexDigests;
  if (!ref.tag.empty()) record.repoTags.push_back(ref.name() + ":" + ref.tag);
  record.repoDigests.push_back(ref.name() + "@" + topDigest);
  record.platform = config->platform.str();
  record.created = static_cast<int64_t>(std::time(nullptr));
  auto updated = index_->update([&](IndexState& state) -> Result<void> {
    state.add(record);
    return {};
  });
  if (!updated) return fail(std::move(updated).error());
  reportState(options.progress, name, "done");
  auto state = index_->read();
  if (!state) return fail(std::move(state).error());
  auto it = (*state)->images.find(record.id);
  if (it == (*state)->images.end()) {
    return fail(Error(ErrorCode::kConflict, "image was removed while it was pulled"));
  }
  return toImage(it->second);
}

}  // namespace nave::runtime
