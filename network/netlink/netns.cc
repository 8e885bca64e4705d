#include "network/netlink/netns.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

namespace nave::network {

Result<NetnsHandle> NetnsHandle::open(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::fromErrno("open network namespace " + path, errno);
  int type = ::ioctl(fd.get(), NS_GET_NSTYPE);
  if (type < 0) {
    // ENOTTY: an ordinary file (e.g. a namespace file whose bind mount is gone).
    if (errno == ENOTTY || errno == EINVAL)
      return Error(ErrorCode::kInvalid, path + " is not a network namespace");
    return Error::fromErrno("inspect namespace " + path, errno);
  }
  if (type != CLONE_NEWNET) return Error(ErrorCode::kInvalid, path + " is not a network namespace");
  return NetnsHandle(std::move(fd));
}

Result<NetnsHandle> NetnsHandle::current() {
  // thread-self, not self: /proc/self/ns/net is the thread group leader's namespace.
  return open("/proc/thread-self/ns/net");
}

bool NetnsHandle::sameAs(const NetnsHandle& other) const {
  struct stat a {
  }, b{};
  if (::fstat(fd(), &a) != 0 || ::fstat(other.fd(), &b) != 0) return false;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

Result<void> runInNetnsThread(const NetnsHandle& ns, const std::function<void()>& fn) {
  int err = 0;
  std::thread t([&] {
    if (::setns(ns.fd(), CLONE_NEWNET) != 0) {
      err = errno;
      return;
    }
    fn();
  });
  t.join();
  if (err != 0) return Error::fromErrno("enter network namespace", err);
  return {};
}

namespace {

Result<std::string> sysctlPath(const std::string& name) {
  bool ok = !name.empty() && name.front() != '/' && name.back() != '/';
  for (size_t start = 0; ok && start <= name.size();) {
    size_t slash = name.find('/', start);
    if (slash == std::string::npos) slash = name.size();
    std::string_view part(name.data() + start, slash - start);
    ok = !part.empty() && part != "." && part != "..";
    start = slash + 1;
  }
  if (!ok) return Error(ErrorCode::kInvalid, "invalid sysctl name \"" + name + "\"");
  return "/proc/sys/" + name;
}

}  // namespace

Result<void> writeSysctl(const std::string& name, std::string_view value) {
  std::string path = TRY(sysctlPath(name));
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return Error::fromErrno("open " + path, errno);
  // One write: procfs sysctl handlers parse each write on its own.
  ssize_t n = ::write(fd.get(), value.data(), value.size());
  if (n < 0) return Error::fromErrno("write " + path, errno);
  if (static_cast<size_t>(n) != value.size())
    return Error(ErrorCode::kInternal, "short write to " + path);
  return {};
}

Result<std::string> readSysctl(const std::string& name) {
  std::string path = TRY(sysctlPath(name));
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::fromErrno("open " + path, errno);
  char buf[256];
  ssize_t n = ::read(fd.get(), buf, sizeof buf);
  if (n < 0) return Error::fromErrno("read " + path, errno);
  std::string value(buf, static_cast<size_t>(n));
  while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
  return value;
}

}  // namespace nave::network
