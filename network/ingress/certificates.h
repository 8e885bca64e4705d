// The certificates the proxy serves on its TLS port: one TLS context per kubernetes.io/tls
// Secret an Ingress names, chosen by the client's SNI server name (exact host first, then a
// "*.example.com" wildcard covering it), and a self-signed default for every other name (or
// none), as ingress controllers do.
//
// A store is immutable once built and shared by the proxy's threads; a new one is built when
// Secrets or Ingresses change, reusing the contexts of unchanged certificates.
#pragma once

#include <openssl/ssl.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "network/ingress/routes.h"
#include "server/pki/pki.h"

namespace nave::ingress {

class CertificateStore {
 public:
  // Builds contexts for `certificates` (the first one listed for a host wins) over the
  // `fallback` key pair. Certificates that do not load are logged and skipped. Contexts of
  // `previous` with the same PEM data are reused.
  static Result<std::shared_ptr<const CertificateStore>> build(
      const std::vector<TlsCertificate>& certificates, const pki::KeyPair& fallback,
      const CertificateStore* previous = nullptr);

  // The context new connections start with; its server-name callback switches a connection
  // to the context for the name the client asked for. Valid while the store lives.
  SSL_CTX* defaultContext() const { return default_.get(); }
  // The context for an SNI name, or nullptr when the default serves it.
  SSL_CTX* contextFor(std::string_view serverName) const;

 private:
  using CtxPtr = std::shared_ptr<SSL_CTX>;
  static CtxPtr load(const std::string& certPem, const std::string& keyPem);

  CtxPtr default_;
  std::unordered_map<std::string, CtxPtr> exact_;
  std::unordered_map<std::string, CtxPtr> wildcard_;  // keyed by ".example.com"
  std::map<std::string, CtxPtr> byPem_;               // cert + key PEM -> context, for reuse
};

// A self-signed certificate (EC P-256, one year) for `commonName`, also its DNS SAN.
Result<pki::KeyPair> selfSignedCertificate(const std::string& commonName);

}  // namespace nave::ingress
