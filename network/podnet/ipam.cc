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

// A temporary file in `dir` holding `data`; returns its path.
Result<std::string> writeTemp(const std::string& dir, const std::string& data) {
  std::string path = dir + "/.tmp-XXXXXX";
  UniqueFd fd(::mkostemp(path.data(), O_CLOEXEC));
  if (!fd) return Error::fromErrno("create a temporary file in " + dir, errno);
  // No fsync: a power loss ends every pod with the records, and a record that comes back
  // empty is still an address in use (readRecords keeps it), never a shared one.
  if (::write(fd.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size())) {
    Error e = Error::fromErrno("write " + path, errno);
    ::unlink(path.c_str());
    return e;
  }
  ::fchmod(fd.get(), 0644);
  return path;
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
  // Written aside, then linked into place: link(2) fails with EEXIST like O_CREAT|O_EXCL,
  // and the record appears with its content, so no reader ever sees an empty one.
  std::string tmp = TRY(writeTemp(dir_, sandboxId + "\n"));
  std::string path = dir_ + "/" + ip.toString();
  int rc = ::link(tmp.c_str(), path.c_str());
  int err = errno;
  ::unlink(tmp.c_str());
  if (rc == 0) return true;
  if (err == EEXIST) return false;
  return Error::fromErrno("create " + path, err);
}

Result<Ipv4Address> HostLocalIpam::allocate(const std::string& sandboxId) {
  DirLock lock = TRY(DirLock::acquire(dir_));
  auto records = TRY(readRecords());
  for (const auto& r : records) {
    if (r.sandboxId == sandboxId && range_.contains(r.ip)) return r.ip;
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
  for (uint32_t i = 0; i < count; ++i) {
    Ipv4Address ip{first + (start - first + i) % count};
    if (!TRY(createRecord(ip, sandboxId))) continue;
    // Only a hint: losing it costs nothing but an earlier reuse.
    if (auto tmp = writeTemp(dir_, ip.toString() + "\n"); tmp.ok()) {
      std::string hintPath = dir_ + "/" + kLastReserved;
      if (::rename(tmp->c_str(), hintPath.c_str()) != 0) ::unlink(tmp->c_str());
    }
    return ip;
  }
  return Error(ErrorCode::kUnavailable, "no free address left in pod CIDR " + range_.toString() +
                                            " (" + std::to_string(count) +
                                            " addresses, all in use)");
}

Result<std::optional<Ipv4Address>> HostLocalIpam::release(const std::string& sandboxId) {
  DirLock lock = TRY(DirLock::acquire(dir_));
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
