// Fuzzes the HTTP request parser: a head of any bytes yields a request or an error status, and
// the chunked decoder, fed the rest in two pieces, never overruns its bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/http/request_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nave::http;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  text.remove_prefix(leadingBlankLines(text));
  size_t headLength = findHeadEnd(text, size / 2);
  if (headLength > text.size()) std::abort();
  if (headLength > 0) {
    Request request;
    RequestFraming framing;
    int status = parseRequestHead(text.substr(0, headLength), request, framing);
    if (status != 0 && status != 400 && status != 417 && status != 501 && status != 505) {
      std::abort();
    }
  }
  std::string_view rest = text.substr(headLength);
  ChunkedDecoder decoder(4096, 4096);
  std::string body;
  size_t half = rest.size() / 2;
  size_t used = decoder.feed(rest.substr(0, half), body);
  if (used == half) used += decoder.feed(rest.substr(half), body);
  if (used > rest.size() || body.size() > 4096) std::abort();
  return 0;
}
