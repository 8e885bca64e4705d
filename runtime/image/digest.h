// Content digests ("sha256:<64 lowercase hex>") and an incremental SHA-256.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace nave::runtime {

// An incremental SHA-256 (OpenSSL EVP). Not copyable.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  // "sha256:<hex>". Ends the computation: call once.
  std::string digest();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

std::string sha256Digest(std::string_view data);

// Exactly "sha256:" followed by 64 lowercase hex digits: the only form used as a file name.
bool isSha256Digest(std::string_view digest);
// The well-formed digests of the OCI image-spec, kBadRequest otherwise; algorithms other than
// sha256 are refused ("unsupported digest algorithm").
Result<void> checkDigest(std::string_view digest);
// The hex part of a sha256 digest.
inline std::string_view digestHex(std::string_view digest) { return digest.substr(7); }
bool isLowerHex(std::string_view s);

}  // namespace nave::runtime
