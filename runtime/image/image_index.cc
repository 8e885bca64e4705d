#include "runtime/image/image_index.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/fd.h"
#include "runtime/image/content_store.h"
#include "runtime/image/digest.h"

namespace nave::runtime {
namespace {

constexpr int64_t kMaxIndexSize = 256 << 20;

void addUnique(std::vector<std::string>& v, const std::string& s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

void erase(std::vector<std::string>& v, const std::string& s) {
  v.erase(std::remove(v.begin(), v.end(), s), v.end());
}

std::vector<std::string> strings(const Json& j, std::string_view key) {
  std::vector<std::string> out;
  const Json* a = findMember(j, key);
  if (a == nullptr || !a->is_array()) return out;
  for (const Json& v : *a) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

}  // namespace

void IndexState::add(const ImageRecord& record) {
  for (auto& [id, other] : images) {
    if (id == record.id) continue;
    for (const std::string& t : record.repoTags) erase(other.repoTags, t);
    for (const std::string& d : record.repoDigests) erase(other.repoDigests, d);
  }
  auto [it, inserted] = images.try_emplace(record.id, record);
  if (inserted) return;
  ImageRecord& r = it->second;
  r.manifestDigest = record.manifestDigest;
  r.platform = record.platform;
  for (const std::string& d : record.indexDigests) addUnique(r.indexDigests, d);
  for (const std::string& t : record.repoTags) addUnique(r.repoTags, t);
  for (const std::string& d : record.repoDigests) addUnique(r.repoDigests, d);
}

const ImageRecord* IndexState::byName(const std::string& name) const {
  for (const auto& [id, r] : images) {
    if (std::find(r.repoTags.begin(), r.repoTags.end(), name) != r.repoTags.end() ||
        std::find(r.repoDigests.begin(), r.repoDigests.end(), name) != r.repoDigests.end()) {
      return &r;
    }
  }
  return nullptr;
}

Json indexStateToJson(const IndexState& state) {
  Json images = Json::array();
  for (const auto& [id, r] : state.images) {
    images.push_back({{"id", r.id},
                      {"manifest", r.manifestDigest},
                      {"indexes", r.indexDigests},
                      {"repoTags", r.repoTags},
                      {"repoDigests", r.repoDigests},
                      {"platform", r.platform},
                      {"created", r.created}});
  }
  return Json{{"version", 1}, {"images", std::move(images)}};
}

Result<IndexState> indexStateFromJson(const Json& j) {
  IndexState state;
  if (!j.is_object() || getInt(j, "version") != 1) {
    return Error(ErrorCode::kInternal, "images.json: unknown format");
  }
  const Json* images = findMember(j, "images");
  if (images == nullptr || !images->is_array()) return state;
  for (const Json& e : *images) {
    ImageRecord r;
    r.id = getString(e, "id");
    r.manifestDigest = getString(e, "manifest");
    r.indexDigests = strings(e, "indexes");
    r.repoTags = strings(e, "repoTags");
    r.repoDigests = strings(e, "repoDigests");
    r.platform = getString(e, "platform");
    r.created = getInt(e, "created");
    // Ids and digests become file names and substrings: refuse anything malformed.
    if (!isSha256Digest(r.id) || !isSha256Digest(r.manifestDigest)) continue;
    std::erase_if(r.indexDigests, [](const std::string& d) { return !isSha256Digest(d); });
    state.images[r.id] = std::move(r);
  }
  return state;
}

ImageIndex::ImageIndex(std::string agentDir)
    : path_(agentDir + "/images.json"), lockPath_(agentDir + "/images.lock") {}

Result<std::unique_ptr<ImageIndex>> ImageIndex::open(const std::string& agentDir) {
  TRY(makeDirs(agentDir, 0700));
  std::unique_ptr<ImageIndex> index(new ImageIndex(agentDir));
  std::lock_guard lock(index->mu_);
  TRY(index->reloadLocked());
  return index;
}

Result<std::shared_ptr<const IndexState>> ImageIndex::reloadLocked() const {
  struct stat st{};
  if (::stat(path_.c_str(), &st) != 0) {
    if (errno != ENOENT) return Error::fromErrno("stat " + path_, errno);
    if (!state_ || ino_ != 0) {
      state_ = std::make_shared<IndexState>();
      ino_ = 0;
      mtimeNs_ = -1;
      size_ = -1;
    }
    return state_;
  }
  int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (state_ && st.st_ino == ino_ && mtime == mtimeNs_ && st.st_size == size_) return state_;
  auto text = TRY(readFileLimited(path_, kMaxIndexSize));
  auto parsed = parseJson(text);
  if (!parsed) return Error(ErrorCode::kInternal, path_ + ": " + parsed.error().message());
  auto state = TRY(indexStateFromJson(parsed->value));
  state_ = std::make_shared<const IndexState>(std::move(state));
  ino_ = st.st_ino;
  mtimeNs_ = mtime;
  size_ = st.st_size;
  return state_;
}

Result<std::shared_ptr<const IndexState>> ImageIndex::read() const {
  std::lock_guard lock(mu_);
  return reloadLocked();
}

Result<void> ImageIndex::update(const std::function<Result<void>(IndexState&)>& fn) {
  std::lock_guard lock(mu_);
  UniqueFd lockFd(::open(lockPath_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lockFd) return Error::fromErrno("open " + lockPath_, errno);
  while (::flock(lockFd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return Error::fromErrno("flock " + lockPath_, errno);
  }
  auto current = TRY(reloadLocked());
  IndexState next = *current;
  TRY(fn(next));
  TRY(writeFileAtomic(path_, dumpJson(indexStateToJson(next))));
  // Remember the identity of the file just written so the next read does not parse it again.
  struct stat st{};
  if (::stat(path_.c_str(), &st) == 0) {
    ino_ = st.st_ino;
    mtimeNs_ = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    size_ = st.st_size;
  }
  state_ = std::make_shared<const IndexState>(std::move(next));
  return {};
}

}  // namespace nave::runtime
