#include "runtime/image/digest.h"

#include <openssl/evp.h>

#include <cassert>

namespace nave::runtime {

struct Sha256::Ctx {
  EVP_MD_CTX* md = nullptr;
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  ctx_->md = EVP_MD_CTX_new();
  assert(ctx_->md != nullptr);
  [[maybe_unused]] int ok = EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr);
  assert(ok == 1);
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_->md); }

void Sha256::update(const void* data, size_t size) {
  if (size > 0) EVP_DigestUpdate(ctx_->md, data, size);
}

std::string Sha256::digest() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_->md, out, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s = "sha256:";
  for (unsigned int i = 0; i < len; ++i) {
    s += kHex[out[i] >> 4];
    s += kHex[out[i] & 0xf];
  }
  return s;
}

std::string sha256Digest(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.digest();
}

bool isLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool isSha256Digest(std::string_view digest) {
  return digest.size() == 71 && digest.substr(0, 7) == "sha256:" && isLowerHex(digest.substr(7));
}

Result<void> checkDigest(std::string_view digest) {
  if (isSha256Digest(digest)) return {};
  size_t colon = digest.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Error(ErrorCode::kBadRequest, "invalid digest \"" + std::string(digest) + "\"");
  }
  std::string_view alg = digest.substr(0, colon);
  if (alg == "sha256") {
    return Error(ErrorCode::kBadRequest, "invalid checksum digest \"" + std::string(digest) + "\"");
  }
  return Error(ErrorCode::kBadRequest,
               "unsupported digest algorithm \"" + std::string(alg) + "\" (only sha256)");
}

}  // namespace nave::runtime
