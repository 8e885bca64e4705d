// Helpers for the container mechanics tests: a busybox root filesystem built from the host's
// /bin/busybox (Debian's busybox-static), and running a container to completion.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/container/sys/launcher.h"

namespace nave::runtime::sys::testing {

inline std::string shellOutput(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

inline void writeText(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

inline std::string readText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Why the machine cannot run these tests, or empty.
inline std::string missingPrerequisite() {
  if (::geteuid() != 0) return "needs root";
  if (::access("/bin/busybox", X_OK) != 0) return "needs /bin/busybox (busybox-static)";
  if (::access("/proc/self/ns/cgroup", F_OK) != 0) return "needs cgroup namespaces";
  return "";
}

// A directory under /tmp removed (recursively) on destruction.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/nave-sys-XXXXXX";
    path_ = ::mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// ROOT/bin/busybox with its applets, /etc/passwd and /etc/group with root, nobody and a
// user with supplementary groups.
inline void buildBusyboxRootfs(const std::string& root) {
  namespace fs = std::filesystem;
  for (const char* d : {"bin", "etc", "proc", "sys", "dev", "tmp", "root", "home/user1", "var"}) {
    fs::create_directories(root + "/" + d);
  }
  ::chmod((root + "/tmp").c_str(), 01777);
  fs::copy_file("/bin/busybox", root + "/bin/busybox", fs::copy_options::overwrite_existing);
  ::chmod((root + "/bin/busybox").c_str(), 0755);
  std::istringstream applets(shellOutput("/bin/busybox --list"));
  std::string applet;
  while (std::getline(applets, applet)) {
    if (applet.empty() || applet == "busybox") continue;
    std::error_code ec;
    fs::create_symlink("busybox", root + "/bin/" + applet, ec);
  }
  writeText(root + "/etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\n"
            "user1:x:1000:1000:User One:/home/user1:/bin/sh\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
  writeText(root + "/etc/group",
            "root:x:0:\n"
            "wheel:x:10:root\n"
            "users:x:100:user1\n"
            "user1:x:1000:\n"
            "audio:x:29:user1,nobody\n"
            "nogroup:x:65534:\n");
  ::chown((root + "/home/user1").c_str(), 1000, 1000);
}

struct RunResult {
  int status = -1;    // waitpid status
  std::string output;  // stdout and stderr together
  std::string error;   // launch error, if any
  int exitCode() const {
    if (status < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
};

// Reads `fd` until EOF (closes it).
inline std::string drain(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

// Launches the container with stdout+stderr on a pipe and waits for it.
inline RunResult runToCompletion(LaunchSpec launch, int stdinFd = -1) {
  RunResult result;
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return result;
  launch.stdinFd = stdinFd;
  launch.stdoutFd = out[1];
  launch.stderrFd = out[1];
  auto pid = launchContainer(launch);
  ::close(out[1]);
  if (!pid.ok()) {
    result.error = pid.error().message();
    ::close(out[0]);
    return result;
  }
  result.output = drain(out[0]);
  ::waitpid(*pid, &result.status, 0);
  return result;
}

// Waits up to `timeout` for `predicate`.
template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return predicate();
}

// Mount points under `prefix` in our mount namespace (leftovers).
inline std::vector<std::string> mountsUnder(const std::string& prefix) {
  std::vector<std::string> found;
  std::istringstream in(readText("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mountPoint;
    fields >> id >> parent >> dev >> root >> mountPoint;
    if (mountPoint.compare(0, prefix.size(), prefix) == 0) found.push_back(mountPoint);
  }
  return found;
}

}  // namespace nave::runtime::sys::testing
