// SPDY/3.1 framing as Kubernetes speaks it (moby/spdystream and its spdy package): frames,
// header blocks compressed with zlib and the SPDY/3 dictionary (one compression context per
// direction for the whole connection), and the incremental parser a server feeds with what it
// reads. Pure data handling: no sockets, no threads, so it can be unit-tested and fuzzed.
#pragma once

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace nave::agent::spdy {

inline constexpr uint16_t kVersion = 3;
inline constexpr size_t kMaxFrameLength = (1u << 24) - 1;  // the 24-bit length field

enum class FrameType : uint16_t {
  kData = 0,  // not a control frame type on the wire; used for data frames here
  kSynStream = 1,
  kSynReply = 2,
  kRstStream = 3,
  kSettings = 4,
  kPing = 6,
  kGoAway = 7,
  kHeaders = 8,
  kWindowUpdate = 9,
};

inline constexpr uint8_t kFlagFin = 0x01;             // data, SYN_STREAM, SYN_REPLY, HEADERS
inline constexpr uint8_t kFlagUnidirectional = 0x02;  // SYN_STREAM

// RST_STREAM status codes.
enum RstStatus : uint32_t {
  kProtocolError = 1,
  kInvalidStream = 2,
  kRefusedStream = 3,
  kUnsupportedVersion = 4,
  kCancel = 5,
  kInternalError = 6,
  kFlowControlError = 7,
  kStreamInUse = 8,
  kStreamAlreadyClosed = 9,
  kFrameTooLarge = 11,
};

// GOAWAY status codes.
enum GoAwayStatus : uint32_t { kGoAwayOk = 0, kGoAwayProtocolError = 1, kGoAwayInternalError = 2 };

// A header block: names are lower case; a name with several values appears once per value
// (on the wire the values are joined with NUL bytes).
struct HeaderField {
  std::string name;
  std::string value;
  bool operator==(const HeaderField&) const = default;
};
using Headers = std::vector<HeaderField>;

// The first value of `name` (lower case), or "".
std::string_view headerValue(const Headers& headers, std::string_view name);

struct Frame {
  FrameType type = FrameType::kData;
  uint8_t flags = 0;
  uint32_t streamId = 0;  // data, SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS, WINDOW_UPDATE;
                          // GOAWAY: the last good stream id
  uint32_t associatedStreamId = 0;  // SYN_STREAM
  uint8_t priority = 0;             // SYN_STREAM (3 bits)
  Headers headers;                  // SYN_STREAM, SYN_REPLY, HEADERS
  std::string data;                 // data frames
  uint32_t status = 0;              // RST_STREAM, GOAWAY
  uint32_t pingId = 0;              // PING
  uint32_t deltaWindowSize = 0;     // WINDOW_UPDATE
  std::vector<std::pair<uint32_t, uint32_t>> settings;  // SETTINGS: (flags << 24 | id, value)

  bool fin() const { return (flags & kFlagFin) != 0; }
};

// The SPDY/3 header compression dictionary (draft 3, section 2.6.10.1).
std::string_view headerDictionary();

struct ParserLimits {
  size_t maxDataFrame = kMaxFrameLength;
  size_t maxHeaderBlock = 256 * 1024;  // decompressed
  size_t maxHeaders = 1024;
  size_t maxSettings = 64;
};

// Incremental frame parser for one direction of a connection. Feed it bytes as they arrive;
// next() returns complete frames. Errors (kBadRequest, with the reason) are final: the
// connection must be dropped (the compression context cannot recover).
class FrameParser {
 public:
  explicit FrameParser(ParserLimits limits = {});
  ~FrameParser();
  FrameParser(const FrameParser&) = delete;
  FrameParser& operator=(const FrameParser&) = delete;

  void feed(std::string_view bytes) { buffer_.append(bytes); }
  // The next complete frame, nullopt when more bytes are needed. Control frames of unknown
  // types are skipped, as SPDY/3 asks.
  Result<std::optional<Frame>> next();
  // Bytes fed but not consumed yet.
  size_t buffered() const { return buffer_.size() - offset_; }

 private:
  Result<Headers> inflateHeaders(std::string_view compressed);
  Result<std::optional<Frame>> fail(std::string message);
  Result<std::optional<Frame>> failWith(Error error);

  ParserLimits limits_;
  std::string buffer_;
  size_t offset_ = 0;
  z_stream inflater_{};
  bool inflaterReady_ = false;
  bool failed_ = false;
};

// Serialises frames for one direction of a connection (the header compression context lives
// here: use one writer per connection, frames in the order they go on the wire).
class FrameWriter {
 public:
  FrameWriter();
  ~FrameWriter();
  FrameWriter(const FrameWriter&) = delete;
  FrameWriter& operator=(const FrameWriter&) = delete;

  // Appends the encoded frame to `out`. Data frames longer than kMaxFrameLength are the
  // caller's bug (split them).
  void append(const Frame& frame, std::string& out);

  static void appendData(uint32_t streamId, std::string_view data, bool fin, std::string& out);
  void appendSynReply(uint32_t streamId, const Headers& headers, bool fin, std::string& out);
  static void appendRstStream(uint32_t streamId, uint32_t status, std::string& out);
  static void appendPing(uint32_t id, std::string& out);
  static void appendGoAway(uint32_t lastGoodStreamId, uint32_t status, std::string& out);

 private:
  std::string compressHeaders(const Headers& headers);
  z_stream deflater_{};
};

// The uncompressed header block encoding (count, then length-prefixed names and NUL-joined
// values), exposed for tests. Names are lower-cased; repeated names are merged.
std::string encodeHeaderBlock(const Headers& headers);
Result<Headers> decodeHeaderBlock(std::string_view block, const ParserLimits& limits);

}  // namespace nave::agent::spdy
