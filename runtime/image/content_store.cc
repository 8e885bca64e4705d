#include "runtime/image/content_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace nave::runtime {
namespace {

std::string randomSuffix() {
  unsigned char buf[8];
  if (getrandom(buf, sizeof buf, 0) != sizeof buf) {
    // Never expected on Linux >= 3.17; fall back to something unique enough per process.
    static std::atomic<uint64_t> counter{0};
    uint64_t v = (static_cast<uint64_t>(getpid()) << 32) ^ counter++ ^
                 static_cast<uint64_t>(time(nullptr));
    std::memcpy(buf, &v, sizeof buf);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (unsigned char c : buf) {
    s += kHex[c >> 4];
    s += kHex[c & 0xf];
  }
  return s;
}

Result<void> writeAll(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::fromErrno("write", errno);
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

void syncDir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd) ::fsync(fd.get());
}

std::string dirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Result<ContentLock> lockFile(const std::string& path, int op) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return Error::fromErrno("open " + path, errno);
  while (::flock(fd.get(), op) != 0) {
    if (errno != EINTR) return Error::fromErrno("flock " + path, errno);
  }
  return ContentLock(std::move(fd));
}

}  // namespace

Result<void> makeDirs(const std::string& path, mode_t mode) {
  if (path.empty()) return {};
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return {};
    return Error(ErrorCode::kConflict, path + " exists and is not a directory");
  }
  if (path != "/") TRY(makeDirs(dirOf(path), mode));
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return Error::fromErrno("mkdir " + path, errno);
  }
  return {};
}

void removeTree(const std::string& path) {
  ::nftw(
      path.c_str(),
      [](const char* p, const struct stat*, int type, FTW*) {
        if (type == FTW_DP || type == FTW_D) {
          ::rmdir(p);
        } else {
          ::unlink(p);
        }
        return 0;
      },
      16, FTW_DEPTH | FTW_PHYS);
}

Result<void> writeFileAtomic(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp-" + randomSuffix();
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) return Error::fromErrno("create " + tmp, errno);
  auto ok = writeAll(fd.get(), data.data(), data.size());
  if (ok && ::fsync(fd.get()) != 0) ok = Error::fromErrno("fsync " + tmp, errno);
  fd.reset();
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) ok = Error::fromErrno("rename " + tmp, errno);
  if (!ok) {
    ::unlink(tmp.c_str());
    return ok;
  }
  syncDir(dirOf(path));
  return {};
}

Result<std::string> readFileLimited(const std::string& path, int64_t maxSize) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::fromErrno("open " + path, errno);
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return Error::fromErrno("stat " + path, errno);
  if (st.st_size > maxSize) {
    return Error(ErrorCode::kTooLarge, path + " is larger than " + std::to_string(maxSize) + " bytes");
  }
  std::string out;
  out.resize(static_cast<size_t>(st.st_size));
  size_t off = 0;
  while (off < out.size()) {
    ssize_t n = ::read(fd.get(), out.data() + off, out.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::fromErrno("read " + path, errno);
    }
    if (n == 0) break;
    off += static_cast<size_t>(n);
  }
  out.resize(off);
  return out;
}

BlobWriter::BlobWriter(std::string blobsDir, std::string tempPath, UniqueFd fd)
    : blobsDir_(std::move(blobsDir)),
      tempPath_(std::move(tempPath)),
      fd_(std::move(fd)),
      hash_(std::make_unique<Sha256>()) {}

BlobWriter::~BlobWriter() {
  if (!committed_) ::unlink(tempPath_.c_str());
}

Result<void> BlobWriter::write(const void* data, size_t size) {
  if (!digest_.empty() || committed_ || !fd_) {
    return Error(ErrorCode::kInternal, "write to a finished blob writer");
  }
  TRY(writeAll(fd_.get(), data, size));
  hash_->update(data, size);
  size_ += static_cast<int64_t>(size);
  return {};
}

const std::string& BlobWriter::digest() {
  if (digest_.empty()) digest_ = hash_->digest();
  return digest_;
}

Result<void> BlobWriter::seal() {
  if (!fd_) return {};
  if (::fsync(fd_.get()) != 0) return Error::fromErrno("fsync " + tempPath_, errno);
  if (::fchmod(fd_.get(), 0444) != 0) return Error::fromErrno("chmod " + tempPath_, errno);
  fd_.reset();
  digest();
  return {};
}

Result<void> BlobWriter::truncate() {
  if (committed_ || !fd_) return Error(ErrorCode::kInternal, "truncate of a finished blob");
  if (::ftruncate(fd_.get(), 0) != 0 || ::lseek(fd_.get(), 0, SEEK_SET) != 0) {
    return Error::fromErrno("truncate " + tempPath_, errno);
  }
  hash_ = std::make_unique<Sha256>();
  digest_.clear();
  size_ = 0;
  return {};
}

Result<void> BlobWriter::commit(std::string_view expectedDigest, int64_t expectedSize) {
  if (committed_) return {};
  TRY(checkDigest(expectedDigest));
  const std::string& actual = digest();
  if (actual != expectedDigest) {
    return Error(ErrorCode::kBadRequest, "digest mismatch: expected " + std::string(expectedDigest) +
                                             ", got " + actual);
  }
  if (expectedSize >= 0 && expectedSize != size_) {
    return Error(ErrorCode::kBadRequest,
                 "size mismatch for " + actual + ": expected " + std::to_string(expectedSize) +
                     " bytes, got " + std::to_string(size_));
  }
  std::string dest = blobsDir_ + "/" + std::string(digestHex(actual));
  if (::access(dest.c_str(), F_OK) == 0) {
    return {};  // the destructor drops our copy
  }
  TRY(seal());
  if (::rename(tempPath_.c_str(), dest.c_str()) != 0) {
    return Error::fromErrno("rename " + tempPath_ + " to " + dest, errno);
  }
  committed_ = true;
  syncDir(blobsDir_);
  return {};
}

ContentStore::ContentStore(std::string root)
    : root_(std::move(root)), blobsDir_(root_ + "/blobs/sha256"), ingestDir_(root_ + "/ingest") {}

Result<std::unique_ptr<ContentStore>> ContentStore::open(const std::string& root) {
  std::unique_ptr<ContentStore> store(new ContentStore(root));
  TRY(makeDirs(store->blobsDir_, 0700));
  TRY(makeDirs(store->ingestDir_, 0700));
  return store;
}

std::string ContentStore::blobPath(std::string_view digest) const {
  return blobsDir_ + "/" + std::string(digestHex(digest));
}

bool ContentStore::has(std::string_view digest) const {
  return isSha256Digest(digest) && ::access(blobPath(digest).c_str(), F_OK) == 0;
}

Result<int64_t> ContentStore::blobSize(std::string_view digest) const {
  TRY(checkDigest(digest));
  struct stat st{};
  if (::stat(blobPath(digest).c_str(), &st) != 0) {
    return Error(ErrorCode::kNotFound, "blob " + std::string(digest) + " not found");
  }
  return static_cast<int64_t>(st.st_size);
}

Result<std::string> ContentStore::read(std::string_view digest, int64_t maxSize) const {
  TRY(checkDigest(digest));
  auto data = readFileLimited(blobPath(digest), maxSize);
  if (!data && data.error().is(ErrorCode::kNotFound)) {
    return Error(ErrorCode::kNotFound, "blob " + std::string(digest) + " not found");
  }
  return data;
}

Result<void> ContentStore::put(std::string_view digest, std::string_view data) {
  TRY(checkDigest(digest));
  if (has(digest)) {
    if (sha256Digest(data) != digest) {
      return Error(ErrorCode::kBadRequest, "digest mismatch: expected " + std::string(digest));
    }
    return {};
  }
  auto writer = TRY(newWriter());
  TRY(writer->write(data));
  return writer->commit(digest, static_cast<int64_t>(data.size()));
}

Result<std::unique_ptr<BlobWriter>> ContentStore::newWriter() const {
  std::string path = ingestDir_ + "/" + randomSuffix() + ".blob";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) return Error::fromErrno("create " + path, errno);
  return std::make_unique<BlobWriter>(blobsDir_, path, std::move(fd));
}

Result<std::string> ContentStore::makeTempDir(std::string_view prefix) const {
  std::string path = ingestDir_ + "/" + std::string(prefix) + randomSuffix();
  if (::mkdir(path.c_str(), 0700) != 0) return Error::fromErrno("mkdir " + path, errno);
  return path;
}

Result<std::vector<std::string>> ContentStore::list() const {
  std::vector<std::string> out;
  DIR* dir = ::opendir(blobsDir_.c_str());
  if (dir == nullptr) return Error::fromErrno("open " + blobsDir_, errno);
  while (dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    std::string digest = "sha256:" + name;
    if (isSha256Digest(digest)) out.push_back(std::move(digest));
  }
  ::closedir(dir);
  return out;
}

Result<int64_t> ContentStore::remove(std::string_view digest) {
  TRY(checkDigest(digest));
  std::string path = blobPath(digest);
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return int64_t{0};
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Error::fromErrno("unlink " + path, errno);
  return static_cast<int64_t>(st.st_size);
}

void ContentStore::clearIngest() {
  DIR* dir = ::opendir(ingestDir_.c_str());
  if (dir == nullptr) return;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(ingestDir_ + "/" + name);
  }
  ::closedir(dir);
  for (const std::string& n : names) removeTree(n);
}

Result<ContentLock> ContentStore::lockShared() const {
  return lockFile(root_ + "/content.lock", LOCK_SH);
}

Result<ContentLock> ContentStore::lockExclusive() const {
  return lockFile(root_ + "/content.lock", LOCK_EX);
}

}  // namespace nave::runtime
