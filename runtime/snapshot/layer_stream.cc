#include "runtime/snapshot/layer_stream.h"

#include <openssl/evp.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace nave::runtime {
namespace {

constexpr size_t kInputBytes = 1 << 20;
constexpr size_t kOutputBytes = 1 << 20;

Error corrupt(std::string_view what) {
  return Error(ErrorCode::kBadRequest, "corrupt layer: " + std::string(what));
}

std::string hex(const unsigned char* data, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 15];
  }
  return out;
}

Compression sniff(std::string_view head) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(head[i]); };
  if (head.size() >= 2 && byte(0) == 0x1f && byte(1) == 0x8b) return Compression::kGzip;
  if (head.size() >= 4) {
    uint32_t magic = byte(0) | byte(1) << 8 | byte(2) << 16 | uint32_t(byte(3)) << 24;
    // A zstd frame, or a skippable frame (0x184D2A50..5F) in front of one.
    if (magic == 0xFD2FB528 || (magic & 0xFFFFFFF0) == 0x184D2A50) return Compression::kZstd;
  }
  return Compression::kNone;
}

class Decoder final : public LayerStream {
 public:
  Decoder(UniqueFd blob) : blob_(std::move(blob)), in_(kInputBytes), out_(kOutputBytes) {}
  ~Decoder() override {
    if (zlibReady_) inflateEnd(&zs_);
    if (zstd_ != nullptr) ZSTD_freeDCtx(zstd_);
    if (sha_ != nullptr) EVP_MD_CTX_free(sha_);
  }

  Result<void> init() {
    sha_ = EVP_MD_CTX_new();
    if (sha_ == nullptr || EVP_DigestInit_ex(sha_, EVP_sha256(), nullptr) != 1) {
      return Error(ErrorCode::kInternal, "sha256 init failed");
    }
    while (inEnd_ < 4 && !eof_) TRY(fill());
    compression_ = sniff(std::string_view(in_.data(), inEnd_));
    if (compression_ == Compression::kGzip) {
      std::memset(&zs_, 0, sizeof zs_);
      if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK) {
        return Error(ErrorCode::kInternal, "inflateInit2 failed");
      }
      zlibReady_ = true;
    } else if (compression_ == Compression::kZstd) {
      zstd_ = ZSTD_createDCtx();
      if (zstd_ == nullptr) return Error(ErrorCode::kInternal, "ZSTD_createDCtx failed");
    }
    return okResult();
  }

  Result<std::string_view> next() override {
    std::string_view chunk;
    switch (compression_) {
      case Compression::kNone:
        chunk = TRY(nextPlain());
        break;
      case Compression::kGzip:
        chunk = TRY(nextGzip());
        break;
      case Compression::kZstd:
        chunk = TRY(nextZstd());
        break;
    }
    if (!chunk.empty()) {
      EVP_DigestUpdate(sha_, chunk.data(), chunk.size());
      bytesOut_ += chunk.size();
    }
    return chunk;
  }

  std::string digest() override {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(sha_, md, &n);
    return "sha256:" + hex(md, n);
  }
  uint64_t bytesOut() const override { return bytesOut_; }
  Compression compression() const override { return compression_; }

 private:
  // Reads more compressed input after the unconsumed bytes [inPos_, inEnd_).
  Result<void> fill() {
    if (inPos_ > 0) {
      std::memmove(in_.data(), in_.data() + inPos_, inEnd_ - inPos_);
      inEnd_ -= inPos_;
      inPos_ = 0;
    }
    while (inEnd_ < in_.size()) {
      ssize_t n = ::read(blob_.get(), in_.data() + inEnd_, in_.size() - inEnd_);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Error::fromErrno("read layer", errno);
      if (n == 0) eof_ = true;
      inEnd_ += static_cast<size_t>(n);
      break;
    }
    return okResult();
  }

  Result<std::string_view> nextPlain() {
    if (inPos_ < inEnd_) {  // bytes read while sniffing
      std::string_view chunk(in_.data() + inPos_, inEnd_ - inPos_);
      inPos_ = inEnd_;
      return chunk;
    }
    if (eof_) return std::string_view();
    inPos_ = inEnd_ = 0;
    TRY(fill());
    std::string_view chunk(in_.data(), inEnd_);
    inPos_ = inEnd_;
    return chunk;
  }

  Result<std::string_view> nextGzip() {
    size_t produced = 0;
    while (produced < out_.size()) {
      if (inPos_ == inEnd_ && !eof_) TRY(fill());
      if (streamEnd_) {
        // Another gzip member may follow (pigz and concatenated files); anything else is
        // trailing garbage, which inflate reports as a bad header.
        if (inPos_ == inEnd_ && eof_) break;
        inflateReset(&zs_);
        streamEnd_ = false;
      }
      if (inPos_ == inEnd_ && eof_) return corrupt("truncated gzip stream");
      zs_.next_in = reinterpret_cast<Bytef*>(in_.data() + inPos_);
      zs_.avail_in = static_cast<uInt>(inEnd_ - inPos_);
      zs_.next_out = reinterpret_cast<Bytef*>(out_.data() + produced);
      zs_.avail_out = static_cast<uInt>(out_.size() - produced);
      int rc = inflate(&zs_, Z_NO_FLUSH);
      inPos_ = inEnd_ - zs_.avail_in;
      produced = out_.size() - zs_.avail_out;
      if (rc == Z_STREAM_END) {
        streamEnd_ = true;
      } else if (rc == Z_BUF_ERROR) {
        continue;  // needs more input (or output room): the loop provides it
      } else if (rc != Z_OK) {
        return corrupt(std::string("gzip: ") + (zs_.msg != nullptr ? zs_.msg : "inflate error"));
      }
    }
    return std::string_view(out_.data(), produced);
  }

  Result<std::string_view> nextZstd() {
    ZSTD_outBuffer out = {out_.data(), out_.size(), 0};
    while (out.pos < out.size) {
      if (inPos_ == inEnd_ && !eof_) TRY(fill());
      bool noInput = inPos_ == inEnd_;
      // With no input left, zstd may still hold decoded bytes; it had them iff it filled the
      // output last time.
      if (noInput && eof_ && !zstdOutFull_) {
        if (zstdPending_ != 0) return corrupt("truncated zstd stream");
        break;
      }
      ZSTD_inBuffer in = {in_.data() + inPos_, inEnd_ - inPos_, 0};
      size_t rc = ZSTD_decompressStream(zstd_, &out, &in);
      if (ZSTD_isError(rc)) return corrupt(std::string("zstd: ") + ZSTD_getErrorName(rc));
      inPos_ += in.pos;
      zstdPending_ = rc;
      zstdOutFull_ = out.pos == out.size;
    }
    return std::string_view(out_.data(), out.pos);
  }

  UniqueFd blob_;
  std::vector<char> in_;
  size_t inPos_ = 0, inEnd_ = 0;
  bool eof_ = false;
  std::vector<char> out_;
  Compression compression_ = Compression::kNone;
  z_stream zs_;
  bool zlibReady_ = false;
  bool streamEnd_ = false;
  ZSTD_DCtx* zstd_ = nullptr;
  size_t zstdPending_ = 0;
  bool zstdOutFull_ = false;
  EVP_MD_CTX* sha_ = nullptr;
  uint64_t bytesOut_ = 0;
};

}  // namespace

Result<std::unique_ptr<LayerStream>> LayerStream::open(UniqueFd blob) {
  auto decoder = std::make_unique<Decoder>(std::move(blob));
  TRY(decoder->init());
  return std::unique_ptr<LayerStream>(std::move(decoder));
}

}  // namespace nave::runtime
