// Network namespaces: a move-only handle on one, and running code inside one.
//
// setns(CLONE_NEWNET) moves only the calling thread, and every socket remembers the namespace
// it was created in. So "doing something in a pod's namespace" here means: a short-lived thread
// joins the namespace, creates the sockets (or writes the /proc/sys files) it needs, and ends;
// the sockets it made keep working from any thread. The caller's own thread never moves.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "common/fd.h"
#include "common/result.h"

namespace nave::network {

class NetnsHandle {
 public:
  // The namespace bound at `path` (a bind-mounted namespace file such as /run/netns/NAME or a
  // sandbox's "net" file, or /proc/PID/ns/net). kNotFound when missing, kInvalid when the file
  // is not a network namespace.
  static Result<NetnsHandle> open(const std::string& path);
  // The namespace the calling thread is in now.
  static Result<NetnsHandle> current();

  NetnsHandle(NetnsHandle&&) = default;
  NetnsHandle& operator=(NetnsHandle&&) = default;

  int fd() const { return fd_.get(); }
  // Whether both handles designate the same namespace (same nsfs inode).
  bool sameAs(const NetnsHandle& other) const;

 private:
  explicit NetnsHandle(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// Runs `fn` on a new thread that has joined `ns`, and waits for it. Threads created by `fn`
// start in `ns` too. Errors of setns are returned as such.
Result<void> runInNetnsThread(const NetnsHandle& ns, const std::function<void()>& fn);

// Runs `fn` (returning Result<T>) inside `ns` and returns its result.
template <typename F>
auto runInNetns(const NetnsHandle& ns, F&& fn) -> std::invoke_result_t<F&> {
  using R = std::invoke_result_t<F&>;
  std::optional<R> out;
  Result<void> ran = runInNetnsThread(ns, [&] { out.emplace(fn()); });
  if (!ran.ok()) return std::move(ran).error();
  return std::move(*out);
}

// Sysctls below /proc/sys, named by path ("net/ipv4/ip_forward",
// "net/ipv4/conf/nave0/route_localnet": slashes, because interface names may contain dots).
// The net.* ones belong to the network namespace of the calling *thread* (the kernel resolves
// them against `current` when the file is opened), so call these from runInNetns to reach
// another namespace.
Result<void> writeSysctl(const std::string& name, std::string_view value);
Result<std::string> readSysctl(const std::string& name);  // without the trailing newline

}  // namespace nave::network
