// HTTP/1.1 request parsing (RFC 9112), separate from the socket so it can be unit-tested and
// fuzzed. Strict where leniency enables request smuggling (conflicting lengths, obs-fold, bare
// CR), lenient where real clients differ harmlessly (LF-only line endings, leading blank lines).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "server/http/http_server.h"

namespace nave::http {

enum class BodyFraming { kNone, kContentLength, kChunked };

// What the head says about the connection and the body, beyond what Request holds.
struct RequestFraming {
  BodyFraming body = BodyFraming::kNone;
  uint64_t contentLength = 0;
  bool http10 = false;    // HTTP/1.0: no chunked responses, close by default
  bool keepAlive = true;  // after this request, per version and Connection header
  bool expectContinue = false;
  bool isHead = false;
};

// The length of the request head at the start of `data`, including its terminating blank
// line, or 0 when it is not complete yet. `scanFrom` is where a previous call stopped looking
// (an optimisation for heads that arrive in pieces); pass 0 the first time.
size_t findHeadEnd(std::string_view data, size_t scanFrom);

// The number of blank lines (CRLF or LF) at the start of `data`, which servers skip before a
// request line (RFC 9112 section 2.2).
size_t leadingBlankLines(std::string_view data);

// Parses a complete head (as delimited by findHeadEnd) into `request` (method, target, path,
// rawQuery, headers; other fields untouched) and `framing`. Returns 0 on success, else the
// HTTP status to answer with: 400 malformed, 417 unsupported Expect, 501 unsupported
// Transfer-Encoding, 505 unsupported HTTP version.
int parseRequestHead(std::string_view head, Request& request, RequestFraming& framing);

// Percent-decodes a URL path; false on an invalid escape.
bool decodePath(std::string_view raw, std::string& out);

// Decodes a chunked body incrementally: feed() whatever bytes arrived, until done() or failed().
class ChunkedDecoder {
 public:
  enum class State { kSizeLine, kData, kDataEnd, kTrailers, kDone, kMalformed, kTooLarge };

  // `maxBody` bounds the decoded size, `maxTrailer` the bytes of chunk-size lines and trailers.
  ChunkedDecoder(size_t maxBody, size_t maxTrailer) : maxBody_(maxBody), maxMeta_(maxTrailer) {}

  // Appends decoded data to `body`; returns how many input bytes were consumed, which is less
  // than data.size() only once the body is complete or the input is refused.
  size_t feed(std::string_view data, std::string& body);

  bool done() const { return state_ == State::kDone; }
  bool malformed() const { return state_ == State::kMalformed; }
  bool tooLarge() const { return state_ == State::kTooLarge; }

 private:
  bool endLine();  // a size or trailer line is complete in line_

  State state_ = State::kSizeLine;
  size_t maxBody_;
  size_t maxMeta_;
  size_t metaBytes_ = 0;
  uint64_t remaining_ = 0;  // of the current chunk
  size_t decoded_ = 0;
  bool sawCr_ = false;
  std::string line_;
};

}  // namespace nave::http
