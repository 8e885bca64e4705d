#include "server/http/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstring>

namespace nave::http {
namespace {

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

BioPtr memoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// A PEM password callback that supplies none: an encrypted key fails to load instead of
// OpenSSL prompting on the terminal.
int noPassword(char*, int, int, void*) {
  return 0;
}

Error tlsError(std::string what) {
  std::string detail = takeOpensslErrors();
  if (!detail.empty()) what += ": " + detail;
  return Error(ErrorCode::kInvalid, std::move(what));
}

// Index of the per-SSL flag that records a client certificate failing verification.
int rejectedCertIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// Accepts every handshake: like kube-apiserver (tls.RequestClientCert), a client certificate
// that does not verify leaves the request unauthenticated rather than failing TLS. The failure
// is recorded so that peerIdentity() ignores the certificate.
int verifyClientCertificate(int preverifyOk, X509_STORE_CTX* store) {
  if (!preverifyOk) {
    auto* ssl =
        static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    if (ssl != nullptr) SSL_set_ex_data(ssl, rejectedCertIndex(), reinterpret_cast<void*>(1));
  }
  return 1;
}

// Picks "http/1.1" from the client's ALPN list; without it, no ALPN at all. Offering only
// http/1.1 makes Go clients (kubectl) that also offer h2 settle on HTTP/1.1.
int selectAlpn(SSL*, const unsigned char** out, unsigned char* outLength, const unsigned char* in,
               unsigned int inLength, void*) {
  static constexpr std::string_view kHttp11 = "http/1.1";
  unsigned int i = 0;
  while (i < inLength) {
    unsigned int n = in[i];
    if (i + 1 + n > inLength) break;
    if (n == kHttp11.size() && std::memcmp(in + i + 1, kHttp11.data(), n) == 0) {
      *out = in + i + 1;
      *outLength = static_cast<unsigned char>(n);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + n;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

std::string entryText(X509_NAME_ENTRY* entry) {
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
  if (n < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

Result<void> loadServingCertificate(SSL_CTX* ctx, const ServerOptions& options) {
  BioPtr certBio = memoryBio(options.certPem);
  X509Ptr leaf(PEM_read_bio_X509(certBio.get(), nullptr, noPassword, nullptr));
  if (!leaf) return tlsError("load serving certificate");
  if (SSL_CTX_use_certificate(ctx, leaf.get()) != 1) return tlsError("use serving certificate");
  while (X509* extra = PEM_read_bio_X509(certBio.get(), nullptr, noPassword, nullptr)) {
    if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
      X509_free(extra);
      return tlsError("add certificate chain");
    }
  }
  ERR_clear_error();  // the loop ends on "no start line"

  BioPtr keyBio = memoryBio(options.keyPem);
  std::unique_ptr<EVP_PKEY, PkeyDeleter> key(
      PEM_read_bio_PrivateKey(keyBio.get(), nullptr, noPassword, nullptr));
  if (!key) return tlsError("load serving key");
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) return tlsError("use serving key");
  if (SSL_CTX_check_private_key(ctx) != 1) return tlsError("serving key does not match");
  return {};
}

Result<void> loadClientCa(SSL_CTX* ctx, const std::string& pem) {
  BioPtr bio = memoryBio(pem);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int count = 0;
  while (X509* raw = PEM_read_bio_X509(bio.get(), nullptr, noPassword, nullptr)) {
    X509Ptr ca(raw);
    if (X509_STORE_add_cert(store, ca.get()) != 1) return tlsError("add client CA");
    // Named in the CertificateRequest so that clients pick a certificate from this CA.
    if (SSL_CTX_add_client_CA(ctx, ca.get()) != 1) return tlsError("add client CA name");
    ++count;
  }
  ERR_clear_error();
  if (count == 0) return Error(ErrorCode::kInvalid, "client CA: no certificate in PEM data");
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verifyClientCertificate);
  SSL_CTX_set_verify_depth(ctx, 8);
  return {};
}

}  // namespace

std::string takeOpensslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

Result<SslCtxPtr> makeServerTlsContext(const ServerOptions& options) {
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return tlsError("create TLS context");
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                     SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Fewer read(2) calls per record; poll() cannot see what OpenSSL has buffered, so every poll
  // on a TLS socket first checks SSL_has_pending().
  SSL_CTX_set_read_ahead(ctx.get(), 1);
  // Required for session resumption once peer verification is on.
  static constexpr unsigned char kSessionContext[] = "nave-apiserver";
  SSL_CTX_set_session_id_context(ctx.get(), kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_alpn_select_cb(ctx.get(), selectAlpn, nullptr);
  if (auto r = loadServingCertificate(ctx.get(), options); !r.ok()) return std::move(r).error();
  if (!options.clientCaPem.empty()) {
    rejectedCertIndex();
    if (auto r = loadClientCa(ctx.get(), options.clientCaPem); !r.ok()) {
      return std::move(r).error();
    }
  }
  return ctx;
}

PeerIdentity peerIdentity(SSL* ssl) {
  PeerIdentity id;
  if ((SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) == 0) return id;
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK ||
      SSL_get_ex_data(ssl, rejectedCertIndex()) != nullptr) {
    return id;
  }
  X509_NAME* subject = X509_get_subject_name(cert);
  id.present = true;
  int cn = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (cn >= 0) id.commonName = entryText(X509_NAME_get_entry(subject, cn));
  for (int i = X509_NAME_get_index_by_NID(subject, NID_organizationName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_organizationName, i)) {
    id.organizations.push_back(entryText(X509_NAME_get_entry(subject, i)));
  }
  return id;
}

}  // namespace nave::http
