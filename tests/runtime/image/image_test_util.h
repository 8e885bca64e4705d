// Helpers for the image store tests: temporary directories, commands, the busybox test image
// (tests/runtime/testdata/make-busybox-image.sh), network namespaces and Debian's
// docker-registry on loopback inside them.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "common/json.h"
#include "runtime/image/content_store.h"
#include "runtime/image/digest.h"
#include "runtime/image/manifest.h"
#include "runtime/image/platform.h"

namespace nave::runtime::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/nave-image-test-XXXXXX";
    char* p = ::mkdtemp(tmpl);
    if (p != nullptr) path_ = p;
  }
  ~TempDir() {
    if (!path_.empty()) removeTree(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct CommandResult {
  int exitCode = -1;
  std::string output;  // stdout and stderr
};

// Runs argv and waits for it. With `logFile`, output goes there instead of being captured and
// the process is not waited for: the pid is returned in exitCode.
inline CommandResult runCommand(const std::vector<std::string>& argv, const std::string& logFile = "",
                                bool background = false) {
  CommandResult result;
  int fds[2] = {-1, -1};
  if (!background && ::pipe2(fds, O_CLOEXEC) != 0) return result;
  // Everything the child needs is prepared before fork (no allocation after it).
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return result;
  if (pid == 0) {
    int out = background ? ::open(logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644) : fds[1];
    ::dup2(out, 1);
    ::dup2(out, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::setpgid(0, 0);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  if (background) {
    result.exitCode = pid;
    return result;
  }
  ::close(fds[1]);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) result.output.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

inline std::string shellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

inline CommandResult sh(const std::string& script) { return runCommand({"/bin/sh", "-c", script}); }

inline bool haveTool(const std::string& tool) {
  return sh("command -v " + tool + " >/dev/null 2>&1").exitCode == 0;
}

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void writeFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

// tests/runtime/testdata, found from this header's absolute path.
inline std::string testdataDir() {
  std::string file = __FILE__;
  std::string dir = file.substr(0, file.rfind('/'));   // tests/runtime/image
  return dir.substr(0, dir.rfind('/')) + "/testdata";  // tests/runtime/testdata
}

struct BusyboxImage {
  std::string dir, layout, dockerArchive, ociArchive;
  std::string error;  // why it could not be built
};

// The busybox image, built once per test process by make-busybox-image.sh.
inline const BusyboxImage& busyboxImage() {
  static TempDir dir;
  static BusyboxImage image = [] {
    BusyboxImage img;
    img.dir = dir.path() + "/busybox";
    img.layout = img.dir + "/layout";
    img.dockerArchive = img.dir + "/busybox-docker.tar";
    img.ociArchive = img.dir + "/busybox-oci.tar";
    for (const char* tool : {"umoci", "skopeo"}) {
      if (!haveTool(tool)) img.error = std::string(tool) + " is not installed";
    }
    if (::access("/bin/busybox", X_OK) != 0) img.error = "busybox-static is not installed";
    if (!img.error.empty()) return img;
    auto r = runCommand({testdataDir() + "/make-busybox-image.sh", img.dir});
    if (r.exitCode != 0) img.error = "make-busybox-image.sh failed: " + r.output;
    return img;
  }();
  return image;
}

#define NAVE_REQUIRE_BUSYBOX_IMAGE()                                                  \
  const ::nave::runtime::testing::BusyboxImage& busybox =                             \
      ::nave::runtime::testing::busyboxImage();                                       \
  if (!busybox.error.empty()) GTEST_SKIP() << "no busybox image: " << busybox.error

// A network namespace made for one test, with lo up, which the calling thread enters (threads
// and processes it starts afterwards are inside as well). Destroying it returns the thread to
// its original namespace and deletes the namespace.
class TestNetns {
 public:
  TestNetns() {
    static std::atomic<int> counter{0};
    name_ = "nave-img-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    if (::geteuid() != 0) {
      error_ = "needs root";
      return;
    }
    if (!haveTool("ip")) {
      error_ = "iproute2 is not installed";
      return;
    }
    auto add = runCommand({"ip", "netns", "add", name_});
    if (add.exitCode != 0) {
      error_ = "ip netns add: " + add.output;
      return;
    }
    created_ = true;
    auto up = runCommand({"ip", "-n", name_, "link", "set", "lo", "up"});
    if (up.exitCode != 0) {
      error_ = "ip link set lo up: " + up.output;
      return;
    }
    original_.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    UniqueFd ns(::open(("/var/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC));
    if (!original_ || !ns || ::setns(ns.get(), CLONE_NEWNET) != 0) {
      error_ = std::string("setns: ") + std::strerror(errno);
      return;
    }
    entered_ = true;
  }
  ~TestNetns() {
    if (entered_) ::setns(original_.get(), CLONE_NEWNET);
    if (created_) runCommand({"ip", "netns", "del", name_});
  }
  TestNetns(const TestNetns&) = delete;
  TestNetns& operator=(const TestNetns&) = delete;

  const std::string& name() const { return name_; }
  const std::string& error() const { return error_; }  // empty when usable

 private:
  std::string name_;
  std::string error_;
  bool created_ = false;
  bool entered_ = false;
  UniqueFd original_;
};

inline bool canConnect(int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return fd && ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

// Debian's docker-registry serving `dir`/data on 127.0.0.1:port inside a namespace, stopped by
// pid when destroyed. `extraConfig` is appended to its config (auth:, http.tls...).
class TestRegistry {
 public:
  TestRegistry(const TestNetns& netns, const std::string& dir, int port = 5000,
               const std::string& extraConfig = "", const std::string& httpExtra = "")
      : dir_(dir), port_(port) {
    if (!haveTool("docker-registry")) {
      error_ = "docker-registry is not installed";
      return;
    }
    ::mkdir(dir.c_str(), 0755);
    std::string config = "version: 0.1\n"
                         "log: {level: info, accesslog: {disabled: false}}\n"
                         "storage: {filesystem: {rootdirectory: " + dir + "/data}, delete: {enabled: true}}\n"
                         "http:\n  addr: 127.0.0.1:" + std::to_string(port) + "\n" + httpExtra +
                         extraConfig;
    writeFile(dir + "/config.yml", config);
    auto r = runCommand({"ip", "netns", "exec", netns.name(), "docker-registry", "serve",
                         dir + "/config.yml"},
                        logPath(), true);
    pid_ = r.exitCode;
    if (pid_ <= 0) {
      error_ = "could not start docker-registry";
      return;
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (!canConnect(port)) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        error_ = "docker-registry exited: " + readFile(logPath());
        return;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        error_ = "docker-registry did not listen: " + readFile(logPath());
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ~TestRegistry() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  TestRegistry(const TestRegistry&) = delete;
  TestRegistry& operator=(const TestRegistry&) = delete;

  const std::string& error() const { return error_; }
  std::string logPath() const { return dir_ + "/registry.log"; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // Access-log lines of successful GETs whose path contains `pathPart`.
  int countGets(const std::string& pathPart) const {
    std::istringstream in(readFile(logPath()));
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      if (line.find("\"GET ") != std::string::npos && line.find(pathPart) != std::string::npos &&
          line.find("HTTP/1.1\" 200") != std::string::npos) {
        ++n;
      }
    }
    return n;
  }
  // The registry's stored copy of a blob (to tamper with).
  std::string blobFile(const std::string& digest) const {
    std::string hex = digest.substr(7);
    return dir_ + "/data/docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) + "/" + hex + "/data";
  }

 private:
  std::string dir_;
  int port_;
  pid_t pid_ = -1;
  std::string error_;
};

struct ImageFacts {
  std::string manifestDigest, configDigest, layerDigest;
  int64_t layerSize = 0;
};

inline ImageFacts factsOf(const std::string& layout, const std::string& tag = "latest") {
  ImageFacts f;
  auto index = parseJson(readFile(layout + "/index.json"));
  if (!index) return f;
  for (const Json& m : index->value["manifests"]) {
    if (getString(m.value("annotations", Json::object()), "org.opencontainers.image.ref.name") == tag) {
      f.manifestDigest = m["digest"].get<std::string>();
    }
  }
  auto manifest = parseJson(readFile(layout + "/blobs/sha256/" + f.manifestDigest.substr(7)));
  if (!manifest) return f;
  f.configDigest = manifest->value["config"]["digest"].get<std::string>();
  f.layerDigest = manifest->value["layers"][0]["digest"].get<std::string>();
  f.layerSize = manifest->value["layers"][0]["size"].get<int64_t>();
  return f;
}

// A copy of `baseLayout` at `dir` whose tag "multi" is an OCI index of two images: this
// machine's platform (the base image) and another architecture (the same image, configured
// with umoci for it), listed first so that taking the first entry would be wrong.
struct MultiPlatformLayout {
  std::string layout, host, other, indexDigest;
  ImageFacts hostImage, otherImage;
  std::string error;
};

inline MultiPlatformLayout makeMultiPlatformLayout(const std::string& baseLayout, const std::string& dir) {
  MultiPlatformLayout m;
  m.layout = dir;
  m.host = Platform::host().architecture;
  m.other = m.host == "arm64" ? "amd64" : "arm64";
  if (sh("cp -r " + shellQuote(baseLayout) + " " + shellQuote(dir)).exitCode != 0) {
    m.error = "cp failed";
    return m;
  }
  auto config = runCommand({"umoci", "config", "--image", dir + ":latest", "--architecture", m.other,
                            "--tag", m.other});
  if (config.exitCode != 0) {
    m.error = "umoci config: " + config.output;
    return m;
  }
  m.hostImage = factsOf(dir, "latest");
  m.otherImage = factsOf(dir, m.other);
  auto entry = [&](const ImageFacts& f, const std::string& arch) {
    int64_t size = static_cast<int64_t>(readFile(dir + "/blobs/sha256/" + f.manifestDigest.substr(7)).size());
    Json p = {{"os", "linux"}, {"architecture", arch}};
    if (arch == "arm64") p["variant"] = "v8";
    return Json{{"mediaType", media::kOciManifest}, {"digest", f.manifestDigest}, {"size", size}, {"platform", p}};
  };
  Json index = {{"schemaVersion", 2},
                {"mediaType", media::kOciIndex},
                {"manifests", {entry(m.otherImage, m.other), entry(m.hostImage, m.host)}}};
  std::string bytes = dumpJson(index);
  m.indexDigest = sha256Digest(bytes);
  writeFile(dir + "/blobs/sha256/" + m.indexDigest.substr(7), bytes);
  auto layoutIndex = parseJson(readFile(dir + "/index.json"));
  if (!layoutIndex.ok()) {
    m.error = "index.json: " + layoutIndex.error().message();
    return m;
  }
  layoutIndex->value["manifests"].push_back(
      {{"mediaType", media::kOciIndex},
       {"digest", m.indexDigest},
       {"size", bytes.size()},
       {"annotations", {{"org.opencontainers.image.ref.name", "multi"}}}});
  writeFile(dir + "/index.json", dumpJson(layoutIndex->value));
  return m;
}

// Flips one byte of a file in place.
inline bool flipByte(const std::string& path, long offset) {
  std::FILE* f = std::fopen(path.c_str(), "r+b");
  if (f == nullptr) return false;
  std::fseek(f, offset, SEEK_SET);
  int c = std::fgetc(f);
  std::fseek(f, offset, SEEK_SET);
  std::fputc(c ^ 0xff, f);
  std::fclose(f);
  return true;
}

}  // namespace nave::runtime::testing
