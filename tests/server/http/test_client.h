// A raw HTTP/1.1 client over TLS (OpenSSL) or plain TCP, for the server tests: it sends exactly
// the bytes a test gives it, so that malformed, partial and pipelined requests can be tested.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.h"
#include "server/http/http_server.h"

namespace nave::http::testing {

struct ClientTls {
  std::string caPem;    // verify the server against this CA (empty: no verification)
  std::string certPem;  // optional client certificate
  std::string keyPem;
  std::string alpn = std::string("\x02h2\x08http/1.1", 12);  // what Go clients offer
};

struct ParsedResponse {
  int status = 0;
  std::vector<Header> headers;
  std::string body;
  bool chunked = false;

  std::string header(std::string_view name) const {
    for (const Header& h : headers) {
      if (h.name.size() == name.size() &&
          ::strncasecmp(h.name.data(), name.data(), name.size()) == 0) {
        return h.value;
      }
    }
    return {};
  }
};

class TestClient {
 public:
  ~TestClient() {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
  }

  // Connects to 127.0.0.1:port and, with `tls`, completes the handshake. Reads time out after
  // timeoutMs. Null on failure.
  static std::unique_ptr<TestClient> connect(int port, const ClientTls* tls, int timeoutMs = 5000) {
    auto c = std::unique_ptr<TestClient>(new TestClient());
    c->fd_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!c->fd_) return nullptr;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(c->fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      return nullptr;
    }
    int one = 1;
    setsockopt(c->fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->setTimeout(timeoutMs);
    if (tls == nullptr) return c;
    c->ctx_ = SSL_CTX_new(TLS_client_method());
    // A server that shuts a socket down cannot send close_notify; that is still an end.
    SSL_CTX_set_options(c->ctx_, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (!tls->caPem.empty()) {
      BIO* bio = BIO_new_mem_buf(tls->caPem.data(), static_cast<int>(tls->caPem.size()));
      X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
      BIO_free(bio);
      if (ca == nullptr) return nullptr;
      X509_STORE_add_cert(SSL_CTX_get_cert_store(c->ctx_), ca);
      X509_free(ca);
      SSL_CTX_set_verify(c->ctx_, SSL_VERIFY_PEER, nullptr);
    }
    if (!tls->certPem.empty()) {
      BIO* bio = BIO_new_mem_buf(tls->certPem.data(), static_cast<int>(tls->certPem.size()));
      X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
      BIO_free(bio);
      bio = BIO_new_mem_buf(tls->keyPem.data(), static_cast<int>(tls->keyPem.size()));
      EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
      BIO_free(bio);
      bool ok = cert != nullptr && key != nullptr && SSL_CTX_use_certificate(c->ctx_, cert) == 1 &&
                SSL_CTX_use_PrivateKey(c->ctx_, key) == 1;
      X509_free(cert);
      EVP_PKEY_free(key);
      if (!ok) return nullptr;
    }
    if (!tls->alpn.empty()) {
      SSL_CTX_set_alpn_protos(c->ctx_, reinterpret_cast<const unsigned char*>(tls->alpn.data()),
                              static_cast<unsigned>(tls->alpn.size()));
    }
    c->ssl_ = SSL_new(c->ctx_);
    SSL_set_fd(c->ssl_, c->fd_.get());
    if (SSL_connect(c->ssl_) != 1) {
      ERR_clear_error();
      return nullptr;
    }
    return c;
  }

  void setTimeout(int timeoutMs) {
    timeval tv{timeoutMs / 1000, (timeoutMs % 1000) * 1000};
    setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }

  std::string alpn() const {
    const unsigned char* p = nullptr;
    unsigned n = 0;
    if (ssl_) SSL_get0_alpn_selected(ssl_, &p, &n);
    return std::string(reinterpret_cast<const char*>(p), n);
  }

  bool send(std::string_view data) {
    size_t off = 0;
    while (off < data.size()) {
      long n;
      if (ssl_) {
        size_t w = 0;
        n = SSL_write_ex(ssl_, data.data() + off, data.size() - off, &w) == 1 ? static_cast<long>(w)
                                                                              : -1;
      } else {
        n = ::send(fd_.get(), data.data() + off, data.size() - off, MSG_NOSIGNAL);
      }
      if (n <= 0) {
        ERR_clear_error();
        return false;
      }
      off += static_cast<size_t>(n);
    }
    return true;
  }

  // Raw read: bytes already buffered first. >0 count, 0 end of stream, -1 error or timeout.
  long readSome(char* out, size_t size) {
    if (!buf_.empty()) {
      size_t n = std::min(size, buf_.size());
      buf_.copy(out, n);
      buf_.erase(0, n);
      return static_cast<long>(n);
    }
    return rawRead(out, size);
  }

  // Reads a response head (status line and headers); nullopt on end of stream or timeout.
  std::optional<ParsedResponse> readHead() {
    size_t headEnd;
    while ((headEnd = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    std::string head = buf_.substr(0, headEnd);
    buf_.erase(0, headEnd + 4);
    ParsedResponse r;
    if (head.compare(0, 9, "HTTP/1.1 ") != 0) return std::nullopt;
    r.status = std::atoi(head.c_str() + 9);
    size_t pos = head.find("\r\n");
    while (pos != std::string::npos) {
      size_t next = head.find("\r\n", pos + 2);
      std::string line =
          head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        size_t v = line.find_first_not_of(' ', colon + 1);
        r.headers.push_back({line.substr(0, colon), v == std::string::npos ? "" : line.substr(v)});
      }
      pos = next;
    }
    r.chunked = ::strcasecmp(r.header("Transfer-Encoding").c_str(), "chunked") == 0;
    return r;
  }

  // Reads the next chunk of a chunked body: its data, "" for the last chunk, nullopt on error.
  std::optional<std::string> readChunk() {
    size_t eol;
    while ((eol = buf_.find("\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    size_t size = std::strtoul(buf_.c_str(), nullptr, 16);
    buf_.erase(0, eol + 2);
    while (buf_.size() < size + 2) {
      if (!fill()) return std::nullopt;
    }
    std::string data = buf_.substr(0, size);
    buf_.erase(0, size + 2);
    return data;
  }

  // Reads one response; nullopt if the connection ends or times out first.
  std::optional<ParsedResponse> readResponse(bool headRequest = false) {
    auto r = readHead();
    if (!r) return std::nullopt;
    if (headRequest || r->status < 200 || r->status == 204 || r->status == 304) return r;
    if (r->chunked) {
      for (;;) {
        auto chunk = readChunk();
        if (!chunk) return std::nullopt;
        if (chunk->empty()) return r;
        r->body += *chunk;
      }
    }
    std::string length = r->header("Content-Length");
    if (!length.empty()) {
      size_t n = std::strtoul(length.c_str(), nullptr, 10);
      while (buf_.size() < n) {
        if (!fill()) return std::nullopt;
      }
      r->body = buf_.substr(0, n);
      buf_.erase(0, n);
      return r;
    }
    while (fill()) {
    }
    r->body = std::move(buf_);
    buf_.clear();
    return r;
  }

  // Whether the server ends the connection (end of stream or reset) before the read timeout.
  bool closedByServer() {
    char scratch[4096];
    for (;;) {
      long n = rawRead(scratch, sizeof scratch);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET || errno == EPIPE;
    }
  }

  // Ends the connection abruptly, as a client that goes away does.
  void close() {
    ::shutdown(fd_.get(), SHUT_RDWR);
    fd_.reset();
  }

  std::string& buffered() { return buf_; }

 private:
  TestClient() = default;

  long rawRead(char* out, size_t size) {
    if (ssl_) {
      size_t n = 0;
      errno = 0;
      int r = SSL_read_ex(ssl_, out, size, &n);
      if (r == 1) return static_cast<long>(n);
      int err = SSL_get_error(ssl_, r);
      ERR_clear_error();
      if (err == SSL_ERROR_ZERO_RETURN) return 0;
      if (err == SSL_ERROR_SYSCALL && errno == 0) return 0;  // EOF without close_notify
      return -1;
    }
    long n = ::recv(fd_.get(), out, size, 0);
    return n;
  }

  bool fill() {
    char chunk[16384];
    long n = rawRead(chunk, sizeof chunk);
    if (n <= 0) return false;
    buf_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  UniqueFd fd_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string buf_;
};

}  // namespace nave::http::testing
