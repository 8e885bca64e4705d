// LayerStream: the uncompressed bytes of a layer blob (gzip, zstd or plain tar, told apart by
// their first bytes), hashed with sha256 as they pass, so the diff ID comes out of the same
// pass that unpacks the layer.
//
// Not thread-safe: one reader at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/fd.h"
#include "common/result.h"

namespace nave::runtime {

enum class Compression { kNone, kGzip, kZstd };

class LayerStream {
 public:
  // Takes the blob's descriptor, positioned at its start.
  static Result<std::unique_ptr<LayerStream>> open(UniqueFd blob);
  virtual ~LayerStream() = default;

  // The next uncompressed bytes, valid until the next call; empty at the end of the stream.
  // kBadRequest for corrupt or truncated compressed data.
  virtual Result<std::string_view> next() = 0;

  // "sha256:HEX" of everything next() returned. Call after next() returned empty.
  virtual std::string digest() = 0;
  virtual uint64_t bytesOut() const = 0;
  virtual Compression compression() const = 0;
};

}  // namespace nave::runtime
