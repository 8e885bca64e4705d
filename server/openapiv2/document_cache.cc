#include "server/openapiv2/document_cache.h"

#include <openssl/sha.h>

#include "server/openapiv2/openapiv2.h"

namespace nave::openapiv2 {

std::shared_ptr<const EncodedDocument> DocumentCache::get(
    const std::vector<registry::ResourceTypePtr>& types) {
  std::lock_guard lock(mu_);
  if (current_ != nullptr && types == types_) return current_;
  Json doc = buildDocument(types);
  auto encoded = std::make_shared<EncodedDocument>();
  encoded->json = dumpJson(doc);
  encoded->protobuf = encodeProtobuf(doc);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(encoded->json.data()), encoded->json.size(),
         digest);
  static const char* kHex = "0123456789ABCDEF";
  std::string etag(2 * SHA256_DIGEST_LENGTH + 2, '"');
  for (size_t i = 0; i < SHA256_DIGEST_LENGTH; ++i) {
    etag[1 + 2 * i] = kHex[digest[i] >> 4];
    etag[2 + 2 * i] = kHex[digest[i] & 15];
  }
  encoded->etag = std::move(etag);
  types_ = types;
  current_ = std::move(encoded);
  return current_;
}

}  // namespace nave::openapiv2
