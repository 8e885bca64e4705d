#include "network/podnet/ipam.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "common/fd.h"

namespace nave::network {

namespace {

constexpr char kLastReserved[] = "last_reserved";
constexpr char kLock[] = ".lock";

Result<void> mkdirAll(const std::string& dir) {
  for (size_t slash = 1; slash != std::string::npos;) {
    slash = dir.find('/', slash + 1);
    std::string prefix = dir.substr(0, slash);
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST)
      return Error::fromErrno("create " + prefix, errno);
  }
  return {};
}

Result<std::string> readSmallFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return Error::fromErrno("open " + path, errno);
  std::string out;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::fromErrno("read " + path, errno);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}


// The directory's flock, held for the object's lifetime.
class DirLock {
 public:
  static Result<DirLock> acquire(const std::string& dir) {
    std::string path = dir + "/" + kLock;
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd) return Error::fromErrno("open " + path, errno);
    while (::flock(fd.get(), LOCK_EX) != 0) {
      if (errno != EINTR) return Error::fromErrno("lock " + path, errno);
    }
    return DirLock(std::move(fd));
  }

 private:
  explicit DirLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;  // closing it releases the lock
};

}  // namespace

Result<HostLocalIpam> HostLocalIpam::open(const std::string& dir, const Ipv4Prefix& range) {
  if (dir.empty() || dir[0] != '/')
    return Error(ErrorCode::kInvalid, "IPAM directory \"" + dir + "\" is not an absolute path");
  if (range.length > 30)
    return Error(ErrorCode::kInvalid, "pod CIDR " + range.toString() + " has no room for pods");
  TRY(mkdirAll(dir));
  return HostLocalIpam(dir, Ipv4Prefix{range.network(), range.length});
}

Result<std::vector<IpAllocation>> HostLocalIpam::readRecords() const {
  DIR* d = ::opendir(dir_.c_str());
  if (!d) return Error::fromErrno("open " + dir_, errno);
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) names.emplace_back(e->d_name);
  ::closedir(d);
  std::vector<IpAllocation> out;
  for (const auto& name : names) {
    auto ip = Ipv4Address::parse(name);
    if (!ip.ok()) continue;  // ".lock", "last_reserved", temporary files
    auto text = readSmallFile(dir_ + "/" + name);
    if (!text.ok()) {
      if (text.error().is(ErrorCode::kNotFound)) continue;  // released meanwhile
      return std::move(text).error();
    }
    std::string id = *text;
    while (!id.empty() && (id.back() == '\n' || id.back() == '\r')) id.pop_back();
    out.push_back({*ip, id});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.ip < b.ip; });
  return out;
}

Result<bool> HostLocalIpam::createRecord(Ipv4Address ip, const std::string& sandboxId) {
  // O_EXCL: an address is never handed out twice, also between processes. Written under the
  // directory lock; a reader without it may see the record empty for a moment, which still
  // counts as an address in use (readRecords keeps it).
  std::string path = dir_ + "/" + ip.toString();
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd) {
    if (errno == EEXIST) return false;
    return Error::fromErrno("create " + path, errno);
  }
  std::string data = sandboxId + "\n";
  if (::write(fd.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size())) {
    Error e = Error::fromErrno("write " + path, errno);
    ::unlink(path.c_str());
    return e;
  }
  return true;
}

Result<std::vector<IpAllocation>*> HostLocalIpam::cachedRecords() {
  struct stat st{};
  if (::stat(dir_.c_str(), &st) != 0) return Error::fromErrno("stat " + dir_, errno);
  if (!cache_->valid || st.st_mtim.tv_sec != cache_->dirMtime.tv_sec ||
      st.st_mtim.tv_nsec != cache_->dirMtime.tv_nsec) {
    cache_->records = TRY(readRecords());
    cache_->dirMtime = st.st_mtim;
    cache_->valid = true;
  }
  return &cache_->records;
}

void HostLocalIpam::rememberDirectory() {
  struct stat st{};
  if (::stat(dir_.c_str(), &st) == 0) {
    cache_->dirMtime = st.st_mtim;
  } else {
    cache_->valid = false;
  }
}

Result<Ipv4Address> HostLocalIpam::allocate(const std::string& sandboxId, bool* existed) {
  std::lock_guard local(cache_->mu);
  DirLock lock = TRY(DirLock::acquire(dir_));
  std::vector<IpAllocation>& records = *TRY(cachedRecords());
  if (existed) *existed = false;
  for (const auto& r : records) {
    if (r.sandboxId == sandboxId && range_.contains(r.ip)) {
      if (existed) *existed = true;
      return r.ip;
    }
  }
  // Candidates: after the gateway, before the broadcast address.
  const uint32_t first = range_.network().value + 2;
  const uint32_t last = range_.broadcast().value - 1;
  const uint32_t count = last - first + 1;
  uint32_t start = first;
  if (auto hint = readSmallFile(dir_ + "/" + kLastReserved); hint.ok()) {
    std::string text = *hint;
    while (!text.empty() && text.back() == '\n') text.pop_back();
    if (auto ip = Ipv4Address::parse(text); ip.ok() && ip->value >= first && ip->value <= last)
      start = ip->value == last ? first : ip->value + 1;
  }
  std::vector<bool> taken(count, false);
  for (const auto& r : records) {
    if (r.ip.value >= first && r.ip.value <= last) taken[r.ip.value - first] = true;
  }
  for (uint32_t i = 0; i < count; ++i) {
    Ipv4Address ip{first + (start - first + i) % count};
    if (taken[ip.value - first]) continue;
    if (!TRY(createRecord(ip, sandboxId))) continue;  // another process has it
    records.push_back({ip, sandboxId});
    std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) { return a.ip < b.ip; });
    // Only a hint, written in place (under the lock): losing or tearing it costs nothing but
    // an earlier reuse, and a new file per allocation would cost an inode each time.
    std::string hintPath = dir_ + "/" + kLastReserved;
    if (UniqueFd hint(::open(hintPath.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644)); hint) {
      std::string text = ip.toString() + "\n";
      if (::pwrite(hint.get(), text.data(), text.size(), 0) == static_cast<ssize_t>(text.size())) {
        (void)::ftruncate(hint.get(), static_cast<off_t>(text.size()));
      }
    }
    rememberDirectory();
    return ip;
  }
  return Error(ErrorCode::kUnavailable, "no free address left in pod CIDR " + range_.toString() +
                                            " (" + std::to_string(count) +
                                            " addresses, all in use)");
}

Result<std::optional<Ipv4Address>> HostLocalIpam::release(const std::string& sandboxId) {
  std::lock_guard local(cache_->mu);
  DirLock lock = TRY(DirLock::acquire(dir_));
  cache_->valid = false;  // re-read after a release (rare next to allocations)
  std::optional<Ipv4Address> released;
  for (const auto& r : TRY(readRecords())) {
    if (r.sandboxId != sandboxId) continue;
    std::string path = dir_ + "/" + r.ip.toString();
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return Error::fromErrno("remove " + path, errno);
    released = r.ip;
  }
  return released;
}

Result<std::optional<Ipv4Address>> HostLocalIpam::find(const std::string& sandboxId) const {
  for (const auto& r : TRY(readRecords())) {
    if (r.sandboxId == sandboxId && range_.contains(r.ip)) return std::optional<Ipv4Address>(r.ip);
  }
  return std::optional<Ipv4Address>();
}

Result<std::vector<IpAllocation>> HostLocalIpam::list() const {
  return readRecords();
}

}  // namespace nave::network
