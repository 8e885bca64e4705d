#include "server/pki/x509.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <ctime>

#include "common/strings.h"

namespace nave::pki {
namespace {

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

Error opensslError(std::string what) {
  std::string detail;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!detail.empty()) detail += "; ";
    detail += buf;
  }
  if (!detail.empty()) what += ": " + detail;
  return Error(ErrorCode::kInternal, std::move(what));
}

int noPassword(char*, int, int, void*) {
  return 0;
}

bool isDnsName(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
              c == '_' || c == '*';
    if (!ok) return false;
  }
  return true;
}

std::string bytesOf(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

Result<void> addExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
  if (ext == nullptr) return opensslError(std::string("certificate extension ") + value);
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) return opensslError(std::string("add certificate extension ") + value);
  return {};
}

Result<void> addSubjectAltNames(X509* cert, const std::vector<SubjectAltName>& sans) {
  GENERAL_NAMES* names = sk_GENERAL_NAME_new_null();
  if (names == nullptr) return opensslError("allocate subject alternative names");
  std::unique_ptr<GENERAL_NAMES, void (*)(GENERAL_NAMES*)> owner(names, GENERAL_NAMES_free);
  for (const SubjectAltName& san : sans) {
    GENERAL_NAME* name = GENERAL_NAME_new();
    ASN1_STRING* value = san.isIp ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
    if (name == nullptr || value == nullptr ||
        ASN1_STRING_set(value, san.value.data(), static_cast<int>(san.value.size())) != 1) {
      GENERAL_NAME_free(name);
      ASN1_STRING_free(value);
      return opensslError("build subject alternative name");
    }
    GENERAL_NAME_set0_value(name, san.isIp ? GEN_IPADD : GEN_DNS, value);
    if (sk_GENERAL_NAME_push(names, name) == 0) {
      GENERAL_NAME_free(name);
      return opensslError("build subject alternative names");
    }
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) != 1) {
    return opensslError("add subject alternative names");
  }
  return {};
}

std::string nameEntryText(X509_NAME* name, int index) {
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index)));
  if (n < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

}  // namespace

Result<std::vector<SubjectAltName>> parseSubjectAltNames(const std::vector<std::string>& sans) {
  std::vector<SubjectAltName> out;
  for (const std::string& raw : sans) {
    std::string_view text = trim(raw);
    if (text.empty()) continue;
    SubjectAltName san;
    std::string s(text);
    unsigned char address[16];
    if (inet_pton(AF_INET, s.c_str(), address) == 1) {
      san = {true, std::string(reinterpret_cast<char*>(address), 4)};
    } else if (inet_pton(AF_INET6, s.c_str(), address) == 1) {
      san = {true, std::string(reinterpret_cast<char*>(address), 16)};
    } else {
      std::string lower = toLower(s);
      if (!isDnsName(lower)) {
        return Error(ErrorCode::kInvalid, "subject alternative name \"" + s +
                                              "\" is neither an IP address nor a DNS name");
      }
      san = {false, std::move(lower)};
    }
    if (std::find(out.begin(), out.end(), san) == out.end()) out.push_back(std::move(san));
  }
  return out;
}

Result<PkeyPtr> generateKey() {
  ERR_clear_error();
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return opensslError("generate P-256 key");
  return key;
}

Result<X509Ptr> issueCertificate(const CertificateSpec& spec, EVP_PKEY* key, X509* issuer,
                                 EVP_PKEY* issuerKey) {
  ERR_clear_error();
  X509Ptr cert(X509_new());
  if (!cert) return opensslError("allocate certificate");
  X509_set_version(cert.get(), X509_VERSION_3);

  std::unique_ptr<BIGNUM, void (*)(BIGNUM*)> serial(BN_new(), BN_free);
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return opensslError("certificate serial number");
  }
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_time_adj_ex(X509_getm_notAfter(cert.get()), spec.days, 0, nullptr);

  X509_NAME* subject = X509_get_subject_name(cert.get());
  for (const std::string& o : spec.organizations) {
    if (X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(o.data()),
                                   static_cast<int>(o.size()), -1, 0) != 1) {
      return opensslError("certificate organization \"" + o + "\"");
    }
  }
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(spec.commonName.data()),
                                 static_cast<int>(spec.commonName.size()), -1, 0) != 1) {
    return opensslError("certificate common name \"" + spec.commonName + "\"");
  }
  X509* signer = issuer != nullptr ? issuer : cert.get();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)) != 1 ||
      X509_set_pubkey(cert.get(), key) != 1) {
    return opensslError("certificate issuer and key");
  }

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, signer, cert.get(), nullptr, nullptr, 0);
  switch (spec.usage) {
    case CertificateUsage::kCa:
      TRY(addExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE"));
      TRY(addExtension(cert.get(), &ctx, NID_key_usage,
                       "critical,digitalSignature,keyCertSign,cRLSign"));
      break;
    case CertificateUsage::kServing:
      TRY(addExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE"));
      TRY(addExtension(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature"));
      TRY(addExtension(cert.get(), &ctx, NID_ext_key_usage, "serverAuth"));
      if (!spec.sans.empty()) TRY(addSubjectAltNames(cert.get(), spec.sans));
      break;
    case CertificateUsage::kClient:
      TRY(addExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE"));
      TRY(addExtension(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature"));
      TRY(addExtension(cert.get(), &ctx, NID_ext_key_usage, "clientAuth"));
      break;
  }
  TRY(addExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash"));
  if (issuer != nullptr) {
    TRY(addExtension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"));
  }
  if (X509_sign(cert.get(), issuer != nullptr ? issuerKey : key, EVP_sha256()) == 0) {
    return opensslError("sign certificate");
  }
  return cert;
}

Result<X509Ptr> parseCertificatePem(const std::string& pem) {
  ERR_clear_error();
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, noPassword, nullptr));
  if (!cert) return opensslError("parse certificate");
  return cert;
}

Result<PkeyPtr> parsePrivateKeyPem(const std::string& pem) {
  ERR_clear_error();
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassword, nullptr));
  if (!key) return opensslError("parse private key");
  return key;
}

std::string certificatePem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n > 0 ? static_cast<size_t>(n) : 0);
}

std::string privateKeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n > 0 ? static_cast<size_t>(n) : 0);
}

bool isSignedBy(X509* cert, X509* ca) {
  bool ok =
      X509_check_issued(ca, cert) == X509_V_OK && X509_verify(cert, X509_get0_pubkey(ca)) == 1;
  ERR_clear_error();
  return ok;
}

bool expiresWithin(X509* cert, int days) {
  time_t limit = ::time(nullptr) + static_cast<time_t>(days) * 86400;
  // X509_cmp_time: -1 when notAfter is before the limit, 0 on error (treated as expiring).
  return X509_cmp_time(X509_get0_notAfter(cert), &limit) <= 0;
}

bool hasSubjectAltNames(X509* cert, const std::vector<SubjectAltName>& sans) {
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  std::vector<SubjectAltName> present;
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type == GEN_IPADD) {
      present.push_back({true, bytesOf(name->d.iPAddress)});
    } else if (name->type == GEN_DNS) {
      present.push_back({false, toLower(bytesOf(name->d.dNSName))});
    }
  }
  GENERAL_NAMES_free(names);
  for (const SubjectAltName& san : sans) {
    if (std::find(present.begin(), present.end(), san) == present.end()) return false;
  }
  return true;
}

std::string subjectCommonName(X509* cert) {
  X509_NAME* name = X509_get_subject_name(cert);
  int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  return i >= 0 ? nameEntryText(name, i) : std::string();
}

std::vector<std::string> subjectOrganizations(X509* cert) {
  X509_NAME* name = X509_get_subject_name(cert);
  std::vector<std::string> out;
  for (int i = X509_NAME_get_index_by_NID(name, NID_organizationName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(name, NID_organizationName, i)) {
    out.push_back(nameEntryText(name, i));
  }
  return out;
}

}  // namespace nave::pki
