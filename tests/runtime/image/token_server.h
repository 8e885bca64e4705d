// A token service for docker-registry's `auth: token` mode, for the bearer-token pull tests:
// it answers GET /token?service=S&scope=repository:NAME:ACTIONS with a JWT (RS256, the signing
// certificate in its x5c header) granting what was asked, optionally only to basic credentials.
// It serves on a loopback port of the network namespace of the thread that creates it.
#pragma once

#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <ctime>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "common/json.h"
#include "common/strings.h"
#include "image_test_util.h"

namespace nave::runtime::testing {

class TokenServer {
 public:
  // Makes a key and certificate in `dir` (openssl CLI) and listens on 127.0.0.1:port.
  TokenServer(const std::string& dir, int port, std::string issuer, std::string service,
              std::string requiredBasic = "")
      : issuer_(std::move(issuer)), service_(std::move(service)), requiredBasic_(std::move(requiredBasic)) {
    certPath_ = dir + "/token-cert.pem";
    std::string keyPath = dir + "/token-key.pem";
    auto gen = runCommand({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyPath,
                           "-out", certPath_, "-days", "1", "-subj", "/CN=nave-test-token"});
    if (gen.exitCode != 0) {
      error_ = "openssl: " + gen.output;
      return;
    }
    std::FILE* kf = std::fopen(keyPath.c_str(), "r");
    std::FILE* cf = std::fopen(certPath_.c_str(), "r");
    if (kf != nullptr) key_ = PEM_read_PrivateKey(kf, nullptr, nullptr, nullptr);
    X509* cert = cf != nullptr ? PEM_read_X509(cf, nullptr, nullptr, nullptr) : nullptr;
    if (kf != nullptr) std::fclose(kf);
    if (cf != nullptr) std::fclose(cf);
    if (key_ == nullptr || cert == nullptr) {
      error_ = "cannot read the token key or certificate";
      if (cert != nullptr) X509_free(cert);
      return;
    }
    unsigned char* der = nullptr;
    int len = i2d_X509(cert, &der);
    certDer_.assign(reinterpret_cast<char*>(der), static_cast<size_t>(len));
    OPENSSL_free(der);
    X509_free(cert);

    listener_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    ::setsockopt(listener_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener_.get(), 16) != 0) {
      error_ = std::string("token server: bind/listen: ") + std::strerror(errno);
      return;
    }
    thread_ = std::thread([this] { serve(); });
  }

  ~TokenServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (key_ != nullptr) EVP_PKEY_free(key_);
  }

  const std::string& error() const { return error_; }
  const std::string& certPath() const { return certPath_; }
  int tokensIssued() const { return issued_; }
  int refused() const { return refused_; }
  std::vector<std::string> authorizations() {
    std::lock_guard lock(mu_);
    return authorizations_;
  }

 private:
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
      }
      respond(conn.get(), req);
    }
  }

  static std::string headerValue(const std::string& req, const std::string& name) {
    std::string lower = toLower(req);
    size_t pos = lower.find("\r\n" + toLower(name) + ":");
    if (pos == std::string::npos) return "";
    size_t start = pos + 3 + name.size();
    size_t end = req.find("\r\n", start);
    return std::string(trim(req.substr(start, end - start)));
  }

  void respond(int fd, const std::string& req) {
    std::string auth = headerValue(req, "Authorization");
    {
      std::lock_guard lock(mu_);
      authorizations_.push_back(auth);
    }
    if (!requiredBasic_.empty() && auth != "Basic " + base64Encode(requiredBasic_)) {
      ++refused_;
      send(fd, "401 Unauthorized", R"({"details":"incorrect username or password"})");
      return;
    }
    // GET /token?service=...&scope=... HTTP/1.1
    std::string line = req.substr(0, req.find("\r\n"));
    size_t q = line.find('?');
    size_t sp = line.rfind(' ');
    std::string query = q == std::string::npos ? "" : line.substr(q + 1, sp - q - 1);
    Json access = Json::array();
    for (const std::string& kv : split(query, '&')) {
      if (!kv.starts_with("scope=")) continue;
      std::vector<std::string> parts = split(urlDecode(kv.substr(6)), ':');
      if (parts.size() != 3) continue;
      access.push_back({{"type", parts[0]}, {"name", parts[1]}, {"actions", split(parts[2], ',')}});
    }
    int64_t now = static_cast<int64_t>(std::time(nullptr));
    Json header = {{"typ", "JWT"}, {"alg", "RS256"}, {"x5c", {base64Encode(certDer_)}}};
    Json claims = {{"iss", issuer_},   {"sub", "test"},       {"aud", service_},
                   {"exp", now + 600}, {"nbf", now - 60},     {"iat", now},
                   {"jti", std::to_string(now) + "-" + std::to_string(issued_.load())},
                   {"access", access}};
    std::string signingInput = base64UrlEncode(dumpJson(header)) + "." + base64UrlEncode(dumpJson(claims));
    std::string sig = sign(signingInput);
    ++issued_;
    send(fd, "200 OK", dumpJson(Json{{"token", signingInput + "." + base64UrlEncode(sig)}, {"expires_in", 600}}));
  }

  std::string sign(const std::string& input) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t len = 0;
    std::string out;
    if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_) == 1 &&
        EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1) {
      out.resize(len);
      EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(out.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size());
      out.resize(len);
    }
    EVP_MD_CTX_free(ctx);
    return out;
  }

  static void send(int fd, const std::string& status, const std::string& body) {
    std::string resp = "HTTP/1.1 " + status + "\r\nContent-Type: application/json\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    size_t off = 0;
    while (off < resp.size()) {
      ssize_t n = ::write(fd, resp.data() + off, resp.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
  }

  std::string issuer_, service_, requiredBasic_;
  std::string certPath_, certDer_;
  std::string error_;
  EVP_PKEY* key_ = nullptr;
  UniqueFd listener_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> issued_{0};
  std::atomic<int> refused_{0};
  std::mutex mu_;
  std::vector<std::string> authorizations_;  // guarded by mu_
};

}  // namespace nave::runtime::testing
