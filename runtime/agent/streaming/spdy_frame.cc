#include "runtime/agent/streaming/spdy_frame.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace nave::agent::spdy {
namespace {

uint32_t readU32(std::string_view s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) |
         (uint32_t(uint8_t(s[at + 2])) << 8) | uint32_t(uint8_t(s[at + 3]));
}

void appendU32(std::string& out, uint32_t v) {
  char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  out.append(b, 4);
}

void appendControlHeader(std::string& out, FrameType type, uint8_t flags, size_t length) {
  assert(length <= kMaxFrameLength);
  appendU32(out, 0x80000000u | (uint32_t(kVersion) << 16) | uint32_t(type));
  appendU32(out, (uint32_t(flags) << 24) | uint32_t(length));
}

std::string buildDictionary() {
  // Draft 3 lists these names and values, each preceded by its 32-bit length, followed by
  // text without lengths.
  static const char* const kWords[] = {
      "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset",
      "accept-encoding", "accept-language", "accept-ranges", "age", "allow", "authorization",
      "cache-control", "connection", "content-base", "content-encoding", "content-language",
      "content-length", "content-location", "content-md5", "content-range", "content-type",
      "date", "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since",
      "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
      "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer",
      "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent",
      "vary", "via", "warning", "www-authenticate", "method", "get", "status", "200 OK",
      "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"};
  std::string d;
  for (const char* w : kWords) {
    appendU32(d, uint32_t(std::strlen(w)));
    d += w;
  }
  d += "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504"
       "505203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 "
       "Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 "
       "Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, "
       "Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
       "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
       "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";
  return d;
}

}  // namespace

std::string_view headerDictionary() {
  static const std::string dictionary = buildDictionary();
  return dictionary;
}

std::string_view headerValue(const Headers& headers, std::string_view name) {
  for (const HeaderField& h : headers)
    if (h.name == name) return h.value;
  return {};
}

std::string encodeHeaderBlock(const Headers& headers) {
  std::vector<std::pair<std::string, std::string>> merged;
  for (const HeaderField& h : headers) {
    std::string name(h.name);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    auto it = std::find_if(merged.begin(), merged.end(),
                           [&](const auto& m) { return m.first == name; });
    if (it == merged.end()) {
      merged.emplace_back(std::move(name), h.value);
    } else {
      it->second += '\0';
      it->second += h.value;
    }
  }
  std::string out;
  appendU32(out, uint32_t(merged.size()));
  for (const auto& [name, value] : merged) {
    appendU32(out, uint32_t(name.size()));
    out += name;
    appendU32(out, uint32_t(value.size()));
    out += value;
  }
  return out;
}

Result<Headers> decodeHeaderBlock(std::string_view block, const ParserLimits& limits) {
  auto bad = [](std::string m) { return Error(ErrorCode::kBadRequest, "SPDY: header block: " + m); };
  if (block.size() < 4) return bad("truncated");
  uint32_t count = readU32(block, 0);
  if (count > limits.maxHeaders) return bad("too many headers (" + std::to_string(count) + ")");
  size_t at = 4;
  Headers headers;
  std::vector<std::string> seen;
  for (uint32_t i = 0; i < count; ++i) {
    if (block.size() - at < 4) return bad("truncated");
    uint32_t nameLength = readU32(block, at);
    at += 4;
    if (nameLength == 0) return bad("empty header name");
    if (block.size() - at < nameLength) return bad("truncated");
    std::string name(block.substr(at, nameLength));
    at += nameLength;
    for (char c : name)
      if (c >= 'A' && c <= 'Z') return bad("header was not lowercased");
    if (std::find(seen.begin(), seen.end(), name) != seen.end())
      return bad("multiple headers with same name");
    seen.push_back(name);
    if (block.size() - at < 4) return bad("truncated");
    uint32_t valueLength = readU32(block, at);
    at += 4;
    if (block.size() - at < valueLength) return bad("truncated");
    std::string_view value = block.substr(at, valueLength);
    at += valueLength;
    size_t start = 0;
    for (;;) {
      size_t nul = value.find('\0', start);
      headers.push_back({name, std::string(value.substr(start, nul - start))});
      if (headers.size() > limits.maxHeaders) return bad("too many header values");
      if (nul == std::string_view::npos) break;
      start = nul + 1;
    }
  }
  if (at != block.size()) return bad("compressed payload size was incorrect");
  return headers;
}

FrameParser::FrameParser(ParserLimits limits) : limits_(limits) {
  inflaterReady_ = inflateInit(&inflater_) == Z_OK;
}

FrameParser::~FrameParser() {
  if (inflaterReady_) inflateEnd(&inflater_);
}

Result<std::optional<Frame>> FrameParser::fail(std::string message) {
  failed_ = true;
  return Error(ErrorCode::kBadRequest, "SPDY: " + message);
}

Result<std::optional<Frame>> FrameParser::failWith(Error error) {
  failed_ = true;
  return error;
}

Result<Headers> FrameParser::inflateHeaders(std::string_view compressed) {
  if (!inflaterReady_) return Error(ErrorCode::kInternal, "SPDY: zlib inflater unavailable");
  std::string out;
  inflater_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  inflater_.avail_in = uInt(compressed.size());
  char chunk[4096];
  for (;;) {
    inflater_.next_out = reinterpret_cast<Bytef*>(chunk);
    inflater_.avail_out = sizeof chunk;
    int r = inflate(&inflater_, Z_SYNC_FLUSH);
    if (r == Z_NEED_DICT) {
      std::string_view dict = headerDictionary();
      if (inflateSetDictionary(&inflater_, reinterpret_cast<const Bytef*>(dict.data()),
                               uInt(dict.size())) != Z_OK) {
        return Error(ErrorCode::kBadRequest, "SPDY: header block compressed with another dictionary");
      }
      continue;
    }
    if (r != Z_OK && r != Z_BUF_ERROR) {
      return Error(ErrorCode::kBadRequest,
                   std::string("SPDY: header block does not decompress: ") +
                       (inflater_.msg != nullptr ? inflater_.msg : "zlib error " + std::to_string(r)));
    }
    out.append(chunk, sizeof chunk - inflater_.avail_out);
    if (out.size() > limits_.maxHeaderBlock) {
      return Error(ErrorCode::kBadRequest, "SPDY: header block larger than " +
                                               std::to_string(limits_.maxHeaderBlock) + " bytes");
    }
    if (inflater_.avail_in == 0 && inflater_.avail_out != 0) break;
    if (r == Z_BUF_ERROR && inflater_.avail_out != 0) break;  // no progress possible
  }
  if (inflater_.avail_in != 0) return Error(ErrorCode::kBadRequest, "SPDY: header block does not decompress");
  return decodeHeaderBlock(out, limits_);
}

Result<std::optional<Frame>> FrameParser::next() {
  if (failed_) return Error(ErrorCode::kBadRequest, "SPDY: connection already failed");
  // Compact here, never while a frame's payload still points into the buffer.
  if (offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  } else if (offset_ > 64 * 1024 && offset_ * 2 > buffer_.size()) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  std::string_view in(buffer_);
  in.remove_prefix(offset_);
  if (in.size() < 8) return std::optional<Frame>();
  uint32_t w0 = readU32(in, 0);
  uint32_t w1 = readU32(in, 4);
  uint8_t flags = uint8_t(w1 >> 24);
  size_t length = w1 & 0xffffff;
  bool control = (w0 & 0x80000000u) != 0;
  if (!control && length > limits_.maxDataFrame) {
    return fail("data frame of " + std::to_string(length) + " bytes exceeds the limit of " +
                std::to_string(limits_.maxDataFrame));
  }
  if (control && length > limits_.maxHeaderBlock + 16) {
    return fail("control frame of " + std::to_string(length) + " bytes is too large");
  }
  if (in.size() < 8 + length) return std::optional<Frame>();
  std::string_view payload = in.substr(8, length);
  offset_ += 8 + length;

  Frame f;
  f.flags = flags;
  if (!control) {
    f.type = FrameType::kData;
    f.streamId = w0 & 0x7fffffff;
    if (f.streamId == 0) return fail("stream id zero is disallowed");
    f.data.assign(payload);
    return std::optional<Frame>(std::move(f));
  }
  uint16_t version = uint16_t((w0 >> 16) & 0x7fff);
  if (version != kVersion) return fail("unsupported version " + std::to_string(version));
  uint16_t type = uint16_t(w0 & 0xffff);
  switch (type) {
    case uint16_t(FrameType::kSynStream): {
      if (length < 10) return fail("invalid control frame (SYN_STREAM too short)");
      f.type = FrameType::kSynStream;
      f.streamId = readU32(payload, 0) & 0x7fffffff;
      f.associatedStreamId = readU32(payload, 4) & 0x7fffffff;
      f.priority = uint8_t(uint8_t(payload[8]) >> 5);
      auto headers = inflateHeaders(payload.substr(10));
      if (!headers.ok()) return failWith(std::move(headers).error());
      f.headers = std::move(*headers);
      if (f.streamId == 0) return fail("stream id zero is disallowed");
      break;
    }
    case uint16_t(FrameType::kSynReply):
    case uint16_t(FrameType::kHeaders): {
      if (length < 4) return fail("invalid control frame (too short)");
      f.type = FrameType(type);
      f.streamId = readU32(payload, 0) & 0x7fffffff;
      auto headers = inflateHeaders(payload.substr(4));
      if (!headers.ok()) return failWith(std::move(headers).error());
      f.headers = std::move(*headers);
      if (f.streamId == 0) return fail("stream id zero is disallowed");
      break;
    }
    case uint16_t(FrameType::kRstStream):
      if (length != 8) return fail("invalid control frame (RST_STREAM length)");
      f.type = FrameType::kRstStream;
      f.streamId = readU32(payload, 0) & 0x7fffffff;
      f.status = readU32(payload, 4);
      if (f.status == 0) return fail("invalid control frame (RST_STREAM status 0)");
      if (f.streamId == 0) return fail("stream id zero is disallowed");
      break;
    case uint16_t(FrameType::kSettings): {
      if (length < 4) return fail("invalid control frame (SETTINGS too short)");
      f.type = FrameType::kSettings;
      uint32_t n = readU32(payload, 0);
      if (n > limits_.maxSettings || length != 4 + size_t(n) * 8)
        return fail("invalid control frame (SETTINGS length)");
      for (uint32_t i = 0; i < n; ++i)
        f.settings.emplace_back(readU32(payload, 4 + i * 8), readU32(payload, 8 + i * 8));
      break;
    }
    case uint16_t(FrameType::kPing):
      if (length != 4 || flags != 0) return fail("invalid control frame (PING)");
      f.type = FrameType::kPing;
      f.pingId = readU32(payload, 0);
      if (f.pingId == 0) return fail("ping id zero is disallowed");
      break;
    case uint16_t(FrameType::kGoAway):
      if (length != 8 || flags != 0) return fail("invalid control frame (GOAWAY)");
      f.type = FrameType::kGoAway;
      f.streamId = readU32(payload, 0) & 0x7fffffff;
      f.status = readU32(payload, 4);
      break;
    case uint16_t(FrameType::kWindowUpdate):
      if (length != 8 || flags != 0) return fail("invalid control frame (WINDOW_UPDATE)");
      f.type = FrameType::kWindowUpdate;
      f.streamId = readU32(payload, 0) & 0x7fffffff;
      f.deltaWindowSize = readU32(payload, 4) & 0x7fffffff;
      break;
    default:
      return next();  // unknown control frame types are ignored
  }
  return std::optional<Frame>(std::move(f));
}

FrameWriter::FrameWriter() {
  [[maybe_unused]] int r = deflateInit(&deflater_, Z_BEST_COMPRESSION);
  assert(r == Z_OK);
  std::string_view dict = headerDictionary();
  r = deflateSetDictionary(&deflater_, reinterpret_cast<const Bytef*>(dict.data()), uInt(dict.size()));
  assert(r == Z_OK);
}

FrameWriter::~FrameWriter() { deflateEnd(&deflater_); }

std::string FrameWriter::compressHeaders(const Headers& headers) {
  std::string block = encodeHeaderBlock(headers);
  std::string out;
  deflater_.next_in = reinterpret_cast<Bytef*>(block.data());
  deflater_.avail_in = uInt(block.size());
  char chunk[4096];
  do {
    deflater_.next_out = reinterpret_cast<Bytef*>(chunk);
    deflater_.avail_out = sizeof chunk;
    [[maybe_unused]] int r = deflate(&deflater_, Z_SYNC_FLUSH);
    assert(r == Z_OK || r == Z_BUF_ERROR);
    out.append(chunk, sizeof chunk - deflater_.avail_out);
  } while (deflater_.avail_out == 0);
  return out;
}

void FrameWriter::appendData(uint32_t streamId, std::string_view data, bool fin, std::string& out) {
  assert(data.size() <= kMaxFrameLength);
  appendU32(out, streamId & 0x7fffffff);
  appendU32(out, (uint32_t(fin ? kFlagFin : 0) << 24) | uint32_t(data.size()));
  out.append(data);
}

void FrameWriter::appendSynReply(uint32_t streamId, const Headers& headers, bool fin, std::string& out) {
  std::string block = compressHeaders(headers);
  appendControlHeader(out, FrameType::kSynReply, fin ? kFlagFin : 0, 4 + block.size());
  appendU32(out, streamId & 0x7fffffff);
  out += block;
}

void FrameWriter::appendRstStream(uint32_t streamId, uint32_t status, std::string& out) {
  appendControlHeader(out, FrameType::kRstStream, 0, 8);
  appendU32(out, streamId & 0x7fffffff);
  appendU32(out, status);
}

void FrameWriter::appendPing(uint32_t id, std::string& out) {
  appendControlHeader(out, FrameType::kPing, 0, 4);
  appendU32(out, id);
}

void FrameWriter::appendGoAway(uint32_t lastGoodStreamId, uint32_t status, std::string& out) {
  appendControlHeader(out, FrameType::kGoAway, 0, 8);
  appendU32(out, lastGoodStreamId & 0x7fffffff);
  appendU32(out, status);
}

void FrameWriter::append(const Frame& f, std::string& out) {
  switch (f.type) {
    case FrameType::kData:
      return appendData(f.streamId, f.data, f.fin(), out);
    case FrameType::kSynStream: {
      std::string block = compressHeaders(f.headers);
      appendControlHeader(out, FrameType::kSynStream, f.flags, 10 + block.size());
      appendU32(out, f.streamId & 0x7fffffff);
      appendU32(out, f.associatedStreamId & 0x7fffffff);
      out += char(f.priority << 5);
      out += '\0';
      out += block;
      return;
    }
    case FrameType::kSynReply:
      return appendSynReply(f.streamId, f.headers, f.fin(), out);
    case FrameType::kHeaders: {
      std::string block = compressHeaders(f.headers);
      appendControlHeader(out, FrameType::kHeaders, f.flags, 4 + block.size());
      appendU32(out, f.streamId & 0x7fffffff);
      out += block;
      return;
    }
    case FrameType::kRstStream:
      return appendRstStream(f.streamId, f.status, out);
    case FrameType::kSettings:
      appendControlHeader(out, FrameType::kSettings, f.flags, 4 + 8 * f.settings.size());
      appendU32(out, uint32_t(f.settings.size()));
      for (const auto& [idFlags, value] : f.settings) {
        appendU32(out, idFlags);
        appendU32(out, value);
      }
      return;
    case FrameType::kPing:
      return appendPing(f.pingId, out);
    case FrameType::kGoAway:
      return appendGoAway(f.streamId, f.status, out);
    case FrameType::kWindowUpdate:
      appendControlHeader(out, FrameType::kWindowUpdate, 0, 8);
      appendU32(out, f.streamId & 0x7fffffff);
      appendU32(out, f.deltaWindowSize & 0x7fffffff);
      return;
  }
}

}  // namespace nave::agent::spdy
