// A minimal registry for fault injection: it serves an OCI layout's manifests and blobs over
// the distribution API (GET only, one connection at a time, Connection: close) and can be told
// to fail the next requests whose path contains a string: with a 503, or by closing the
// connection halfway through the body. docker-registry covers the real protocol; this covers
// what a real registry will not do on demand.
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "common/json.h"
#include "image_test_util.h"

namespace nave::runtime::testing {

class FakeRegistry {
 public:
  enum class Fault { kStatus503, kStatus404, kTruncate };

  FakeRegistry(std::string layout, int port) : layout_(std::move(layout)) {
    listener_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    ::setsockopt(listener_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener_.get(), 16) != 0) {
      error_ = std::string("bind/listen: ") + std::strerror(errno);
      return;
    }
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeRegistry() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  const std::string& error() const { return error_; }
  // The next `times` requests whose path contains `pathPart` fail with `fault`.
  void failNext(const std::string& pathPart, int times, Fault fault) {
    std::lock_guard lock(mu_);
    faults_.push_back({pathPart, times, fault});
  }
  // Serves `body` with `contentType` for GET .../manifests/`tag`.
  void addManifest(const std::string& tag, const std::string& contentType, const std::string& body) {
    std::lock_guard lock(mu_);
    extraManifests_[tag] = {contentType, body};
  }
  int requests(const std::string& pathPart) {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const std::string& p : paths_) n += p.find(pathPart) != std::string::npos ? 1 : 0;
    return n;
  }

 private:
  struct FaultRule {
    std::string pathPart;
    int times;
    Fault fault;
  };

  void serve() {
    while (!stop_) {
      pollfd p{listener_.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!conn) continue;
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        pollfd cp{conn.get(), POLLIN, 0};
        if (::poll(&cp, 1, 2000) <= 0) break;
        ssize_t n = ::read(conn.get(), buf, sizeof buf);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
        if (req[0] == 0x16) break;  // a TLS handshake: plain HTTP only here
      }
      std::string line = req.substr(0, req.find("\r\n"));
      size_t a = line.find(' ');
      size_t b = line.rfind(' ');
      if (a == std::string::npos || b <= a) continue;
      handle(conn.get(), line.substr(a + 1, b - a - 1));
    }
  }

  void handle(int fd, const std::string& path) {
    std::optional<Fault> fault;
    {
      std::lock_guard lock(mu_);
      paths_.push_back(path);
      for (FaultRule& r : faults_) {
        if (r.times > 0 && path.find(r.pathPart) != std::string::npos) {
          --r.times;
          fault = r.fault;
          break;
        }
      }
    }
    if (fault == Fault::kStatus503) {
      send(fd, "503 Service Unavailable", "application/json",
           R"({"errors":[{"code":"UNAVAILABLE","message":"try later"}]})");
      return;
    }
    if (fault == Fault::kStatus404) {
      send(fd, "404 Not Found", "application/json",
           R"({"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]})");
      return;
    }
    std::string contentType = "application/octet-stream";
    std::string body;
    bool found = false;
    size_t m = path.find("/manifests/");
    size_t bl = path.find("/blobs/");
    if (m != std::string::npos) {
      std::string ref = path.substr(m + 11);
      std::lock_guard lock(mu_);
      if (auto it = extraManifests_.find(ref); it != extraManifests_.end()) {
        contentType = it->second.first;
        body = it->second.second;
        found = true;
      } else if (auto digest = resolve(ref); !digest.empty()) {
        body = readFile(layout_ + "/blobs/sha256/" + digest.substr(7));
        auto parsed = parseJson(body);
        contentType = parsed ? getString(parsed->value, "mediaType") : "";
        found = !body.empty();
      }
    } else if (bl != std::string::npos) {
      std::string digest = path.substr(bl + 7);
      if (digest.size() == 71 && digest.find('/') == std::string::npos) {
        body = readFile(layout_ + "/blobs/sha256/" + digest.substr(7));
        found = !body.empty();
      }
    } else if (path == "/v2/") {
      found = true;
      body = "{}";
    }
    if (!found) {
      send(fd, "404 Not Found", "application/json",
           R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})");
      return;
    }
    if (fault == Fault::kTruncate) {
      std::string head = "HTTP/1.1 200 OK\r\nContent-Type: " + contentType + "\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
      writeAll(fd, head + body.substr(0, body.size() / 2));
      return;  // closing now breaks the transfer
    }
    send(fd, "200 OK", contentType, body);
  }

  // A tag of the layout's index.json, or a digest as it is.
  std::string resolve(const std::string& ref) {
    if (ref.starts_with("sha256:")) return ref;
    auto index = parseJson(readFile(layout_ + "/index.json"));
    if (!index) return "";
    for (const Json& m : index->value["manifests"]) {
      const Json* a = findMember(m, "annotations");
      if (a != nullptr && getString(*a, "org.opencontainers.image.ref.name") == ref) return getString(m, "digest");
    }
    return "";
  }

  static void writeAll(int fd, const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::write(fd, data.data() + off, data.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
  }

  static void send(int fd, const std::string& status, const std::string& type, const std::string& body) {
    writeAll(fd, "HTTP/1.1 " + status + "\r\nContent-Type: " + type + "\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  }

  std::string layout_;
  std::string error_;
  UniqueFd listener_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<FaultRule> faults_;                                         // guarded by mu_
  std::map<std::string, std::pair<std::string, std::string>> extraManifests_;  // guarded by mu_
  std::vector<std::string> paths_;                                        // guarded by mu_
};

}  // namespace nave::runtime::testing
