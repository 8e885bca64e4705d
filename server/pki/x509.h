// OpenSSL 3 building blocks for the PKI: keys, certificates, their PEM forms and the checks
// that decide whether a stored certificate is still good.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace nave::pki {

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

// A subject alternative name: an IP address (4 or 16 bytes) or a DNS name (lower case).
struct SubjectAltName {
  bool isIp = false;
  std::string value;
  bool operator==(const SubjectAltName&) const = default;
};

// Classifies each entry as IP or DNS name, dropping duplicates and empty entries. kInvalid for
// a name that is neither an address nor a plausible DNS name.
Result<std::vector<SubjectAltName>> parseSubjectAltNames(const std::vector<std::string>& sans);

enum class CertificateUsage { kCa, kServing, kClient };

struct CertificateSpec {
  CertificateUsage usage = CertificateUsage::kClient;
  std::string commonName;
  std::vector<std::string> organizations;
  std::vector<SubjectAltName> sans;  // kServing only
  int days = 365;
};

// A new ECDSA P-256 key.
Result<PkeyPtr> generateKey();

// Issues a certificate for `key`'s public half, signed by `issuer`/`issuerKey`, or self-signed
// when `issuer` is null: X.509 v3, a random 127-bit serial, valid from an hour ago (clock skew)
// for spec.days, with the extensions the usage calls for.
Result<X509Ptr> issueCertificate(const CertificateSpec& spec, EVP_PKEY* key, X509* issuer,
                                 EVP_PKEY* issuerKey);

Result<X509Ptr> parseCertificatePem(const std::string& pem);
Result<PkeyPtr> parsePrivateKeyPem(const std::string& pem);
std::string certificatePem(X509* cert);
std::string privateKeyPem(EVP_PKEY* key);  // PKCS#8, unencrypted

// Whether `cert` was issued by `ca` and its signature verifies with ca's key.
bool isSignedBy(X509* cert, X509* ca);
// Whether `cert` is no longer valid `days` days from now.
bool expiresWithin(X509* cert, int days);
// Whether every name in `sans` is among cert's subject alternative names.
bool hasSubjectAltNames(X509* cert, const std::vector<SubjectAltName>& sans);
// The subject's CN and O entries.
std::string subjectCommonName(X509* cert);
std::vector<std::string> subjectOrganizations(X509* cert);

}  // namespace nave::pki
