#include "network/ingress/certificates.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/strings.h"
#include "server/http/tls.h"

namespace nave::ingress {
namespace {

int selectByServerName(SSL* ssl, int*, void* arg) {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) return SSL_TLSEXT_ERR_OK;
  auto* store = static_cast<const CertificateStore*>(arg);
  if (SSL_CTX* ctx = store->contextFor(name)) SSL_set_SSL_CTX(ssl, ctx);
  return SSL_TLSEXT_ERR_OK;
}

std::string pemOf(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

}  // namespace

CertificateStore::CtxPtr CertificateStore::load(const std::string& certPem,
                                                const std::string& keyPem) {
  http::ServerOptions o;
  o.certPem = certPem;
  o.keyPem = keyPem;
  auto ctx = http::makeServerTlsContext(o);
  if (!ctx.ok()) return nullptr;
  // Fewer bytes held per idle connection.
  SSL_CTX_set_mode(ctx->get(), SSL_MODE_RELEASE_BUFFERS);
  return CtxPtr(ctx->release(), SSL_CTX_free);
}

Result<std::shared_ptr<const CertificateStore>> CertificateStore::build(
    const std::vector<TlsCertificate>& certificates, const pki::KeyPair& fallback,
    const CertificateStore* previous) {
  auto store = std::shared_ptr<CertificateStore>(new CertificateStore());
  store->default_ = load(fallback.certPem, fallback.keyPem);
  if (!store->default_)
    return Error(ErrorCode::kInvalid, "the default certificate does not load: " +
                                          http::takeOpensslErrors());
  SSL_CTX_set_tlsext_servername_callback(store->default_.get(), selectByServerName);
  SSL_CTX_set_tlsext_servername_arg(store->default_.get(), store.get());
  for (const TlsCertificate& cert : certificates) {
    std::string pemKey = cert.certPem + '\0' + cert.keyPem;
    CtxPtr ctx;
    if (auto it = store->byPem_.find(pemKey); it != store->byPem_.end()) {
      ctx = it->second;
    } else if (previous != nullptr && previous->byPem_.count(pemKey)) {
      ctx = previous->byPem_.at(pemKey);
    } else {
      ctx = load(cert.certPem, cert.keyPem);
      if (!ctx) {
        log::warning("An Ingress's TLS Secret does not load",
                     {{"secret", cert.secret}, {"error", http::takeOpensslErrors()}});
        continue;
      }
    }
    store->byPem_[pemKey] = ctx;
    for (const std::string& host : cert.hosts) {
      std::string h = toLower(host);
      if (h.starts_with("*.")) {
        store->wildcard_.emplace(h.substr(1), ctx);
      } else if (!h.empty()) {
        store->exact_.emplace(h, ctx);
      }
    }
  }
  return std::shared_ptr<const CertificateStore>(std::move(store));
}

SSL_CTX* CertificateStore::contextFor(std::string_view serverName) const {
  std::string name = toLower(serverName);
  if (auto it = exact_.find(name); it != exact_.end()) return it->second.get();
  size_t dot = name.find('.');
  if (dot != std::string::npos && dot > 0) {
    if (auto it = wildcard_.find(name.substr(dot)); it != wildcard_.end()) return it->second.get();
  }
  return nullptr;
}

Result<pki::KeyPair> selfSignedCertificate(const std::string& commonName) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  if (!key || !cert) return Error(ErrorCode::kInternal, "generate the default certificate's key");
  X509_set_version(cert.get(), 2);
  std::string serial = randomHex(16);
  BIGNUM* bn = nullptr;
  BN_hex2bn(&bn, serial.c_str());
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("nave"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(commonName.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  std::string san = "DNS:" + commonName;
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  if (X509_EXTENSION* ext =
          X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, san.c_str())) {
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0)
    return Error(ErrorCode::kInternal, "sign the default certificate: " + http::takeOpensslErrors());
  std::unique_ptr<BIO, decltype(&BIO_free)> certBio(BIO_new(BIO_s_mem()), BIO_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> keyBio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(certBio.get(), cert.get());
  PEM_write_bio_PrivateKey(keyBio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  return pki::KeyPair{pemOf(certBio.get()), pemOf(keyBio.get())};
}

}  // namespace nave::ingress
