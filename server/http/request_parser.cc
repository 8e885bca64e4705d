#include "server/http/request_parser.h"

#include <strings.h>

#include <cstring>

#include "server/http/field_values.h"

namespace nave::http {
namespace {

bool isTokenChar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!isTokenChar(c)) return false;
  }
  return true;
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Splits off the next line of a head; strips its CRLF or LF. False on a bare CR inside.
bool nextLine(std::string_view& rest, std::string_view& line) {
  size_t nl = rest.find('\n');
  if (nl == std::string_view::npos) {
    line = rest;
    rest = {};
  } else {
    line = rest.substr(0, nl);
    rest.remove_prefix(nl + 1);
  }
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line.find('\r') == std::string_view::npos;
}

bool parseContentLength(std::string_view v, uint64_t& out) {
  if (v.empty() || v.size() > 18) return false;  // 10^18 bytes is beyond any limit we allow
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  out = n;
  return true;
}


// Splits the request target into path and raw query. Accepts origin-form ("/p?q"),
// absolute-form ("https://host/p?q", which proxies send), "*" (OPTIONS) and, for CONNECT,
// authority-form.
bool splitTarget(std::string_view method, std::string_view target, Request& request) {
  std::string_view pathAndQuery;
  if (target.front() == '/') {
    pathAndQuery = target;
  } else if (target == "*") {
    if (method != "OPTIONS") return false;
    request.path = "*";
    request.rawQuery.clear();
    return true;
  } else if (method == "CONNECT") {
    request.path.clear();
    request.rawQuery.clear();
    return true;
  } else {
    size_t scheme = target.find("://");
    if (scheme == std::string_view::npos ||
        !(equalsIgnoreCase(target.substr(0, scheme), "http") ||
          equalsIgnoreCase(target.substr(0, scheme), "https"))) {
      return false;
    }
    std::string_view afterAuthority = target.substr(scheme + 3);
    size_t slash = afterAuthority.find_first_of("/?");
    pathAndQuery =
        slash == std::string_view::npos ? std::string_view("/") : afterAuthority.substr(slash);
  }
  size_t q = pathAndQuery.find('?');
  std::string_view rawPath = pathAndQuery.substr(0, q);
  if (q == std::string_view::npos) {
    request.rawQuery.clear();
  } else {
    request.rawQuery.assign(pathAndQuery.substr(q + 1));
  }
  if (rawPath.empty()) rawPath = "/";
  return decodePath(rawPath, request.path);
}

}  // namespace

std::string_view Request::header(std::string_view name) const {
  for (const Header& h : headers) {
    if (equalsIgnoreCase(h.name, name)) return h.value;
  }
  return {};
}

size_t leadingBlankLines(std::string_view data) {
  size_t i = 0;
  for (;;) {
    if (i < data.size() && data[i] == '\n') {
      i += 1;
    } else if (i + 1 < data.size() && data[i] == '\r' && data[i + 1] == '\n') {
      i += 2;
    } else {
      return i;
    }
  }
}

size_t findHeadEnd(std::string_view data, size_t scanFrom) {
  // Step back so a terminator split across two calls is still found.
  size_t i = scanFrom > 3 ? scanFrom - 3 : 0;
  while (i < data.size()) {
    const void* nl = std::memchr(data.data() + i, '\n', data.size() - i);
    if (nl == nullptr) return 0;
    i = static_cast<size_t>(static_cast<const char*>(nl) - data.data());
    if (i + 1 < data.size() && data[i + 1] == '\n') return i + 2;
    if (i + 2 < data.size() && data[i + 1] == '\r' && data[i + 2] == '\n') return i + 3;
    ++i;
  }
  return 0;
}

bool decodePath(std::string_view raw, std::string& out) {
  out.clear();
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '%') {
      out += raw[i];
      continue;
    }
    if (i + 2 >= raw.size()) return false;
    int hi = hexDigit(raw[i + 1]), lo = hexDigit(raw[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

int parseRequestHead(std::string_view head, Request& request, RequestFraming& framing) {
  framing = RequestFraming{};
  // Header entries of the previous request on the connection are overwritten in place, which
  // reuses their strings' storage; the vector is cut to this request's count on every return.
  size_t headerCount = 0;
  struct TrimHeaders {
    std::vector<Header>& headers;
    const size_t& count;
    ~TrimHeaders() { headers.resize(count); }
  } trimHeaders{request.headers, headerCount};
  std::string_view rest = head;
  std::string_view line;
  if (!nextLine(rest, line)) return 400;

  // request-line = method SP request-target SP HTTP-version
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return 400;
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return 400;
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!isToken(method) || target.empty()) return 400;
  for (unsigned char c : target) {
    if (c <= 0x20 || c == 0x7f) return 400;
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return 400;
  }
  if (version[5] != '1') return 505;
  framing.http10 = version[7] == '0';
  framing.keepAlive = !framing.http10;
  framing.isHead = method == "HEAD";
  request.method.assign(method);
  request.target.assign(target);
  if (!splitTarget(method, target, request)) return 400;

  bool sawHost = false, sawLength = false, sawTransferEncoding = false;
  bool connectionClose = false, connectionKeepAlive = false;
  while (nextLine(rest, line)) {
    if (line.empty()) break;  // the blank line that ends the head
    if (line.front() == ' ' || line.front() == '\t') return 400;  // obs-fold
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return 400;
    std::string_view name = line.substr(0, colon);
    std::string_view value = trimOws(line.substr(colon + 1));
    if (!isToken(name)) return 400;
    for (unsigned char c : value) {
      if ((c < 0x20 && c != '\t') || c == 0x7f) return 400;
    }
    if (equalsIgnoreCase(name, "host")) {
      if (sawHost) return 400;
      sawHost = true;
    } else if (equalsIgnoreCase(name, "content-length")) {
      uint64_t n = 0;
      if (!parseContentLength(value, n)) return 400;
      if (sawLength && n != framing.contentLength) return 400;
      sawLength = true;
      framing.contentLength = n;
    } else if (equalsIgnoreCase(name, "transfer-encoding")) {
      // Only a lone "chunked" is supported; anything layered on it is refused.
      if (sawTransferEncoding) return 501;
      sawTransferEncoding = true;
      if (!equalsIgnoreCase(value, "chunked")) return 501;
    } else if (equalsIgnoreCase(name, "connection")) {
      forEachListElement(value, [&](std::string_view token) {
        if (equalsIgnoreCase(token, "close")) connectionClose = true;
        if (equalsIgnoreCase(token, "keep-alive")) connectionKeepAlive = true;
      });
    } else if (equalsIgnoreCase(name, "expect")) {
      if (!equalsIgnoreCase(value, "100-continue")) return 417;
      framing.expectContinue = !framing.http10;
    }
    if (headerCount < request.headers.size()) {
      request.headers[headerCount].name.assign(name);
      request.headers[headerCount].value.assign(value);
    } else {
      request.headers.push_back(Header{std::string(name), std::string(value)});
    }
    ++headerCount;
  }
  if (!rest.empty()) return 400;  // findHeadEnd delimits heads; anything else is a caller bug
  if (!sawHost && !framing.http10) return 400;
  // Both lengths at once is how requests are smuggled past proxies that pick the other one.
  if (sawTransferEncoding && sawLength) return 400;
  if (sawTransferEncoding) {
    framing.body = BodyFraming::kChunked;
  } else if (sawLength && framing.contentLength > 0) {
    framing.body = BodyFraming::kContentLength;
  }
  if (connectionClose) framing.keepAlive = false;
  if (framing.http10 && connectionKeepAlive && !connectionClose) framing.keepAlive = true;
  return 0;
}

bool ChunkedDecoder::endLine() {
  if (!line_.empty() && line_.back() == '\r') line_.pop_back();
  if (line_.find('\r') != std::string::npos) return false;
  if (state_ == State::kTrailers) {
    if (line_.empty()) state_ = State::kDone;
    line_.clear();
    return true;
  }
  // chunk-size [ chunk-ext ] ; whitespace before an extension is tolerated
  std::string_view s = line_;
  size_t end = s.find_first_of("; \t");
  std::string_view digits = s.substr(0, end);
  if (digits.empty() || digits.size() > 15) return false;
  uint64_t size = 0;
  for (char c : digits) {
    int d = hexDigit(c);
    if (d < 0) return false;
    size = size * 16 + static_cast<uint64_t>(d);
  }
  if (end != std::string_view::npos) {
    std::string_view tail = trimOws(s.substr(end));
    if (!tail.empty() && tail.front() != ';') return false;
  }
  line_.clear();
  if (size == 0) {
    state_ = State::kTrailers;
  } else if (decoded_ + size > maxBody_) {
    state_ = State::kTooLarge;
  } else {
    remaining_ = size;
    state_ = State::kData;
  }
  return true;
}

size_t ChunkedDecoder::feed(std::string_view data, std::string& body) {
  size_t i = 0;
  while (i < data.size()) {
    switch (state_) {
      case State::kSizeLine:
      case State::kTrailers: {
        const void* nl = std::memchr(data.data() + i, '\n', data.size() - i);
        size_t end =
            nl ? static_cast<size_t>(static_cast<const char*>(nl) - data.data()) : data.size();
        metaBytes_ += end - i + 1;
        if (metaBytes_ > maxMeta_ || line_.size() + (end - i) > 4096) {
          state_ = State::kMalformed;
          return i;
        }
        line_.append(data.substr(i, end - i));
        if (nl == nullptr) return data.size();
        i = end + 1;
        if (!endLine()) {
          state_ = State::kMalformed;
          return i;
        }
        if (state_ == State::kDone || state_ == State::kTooLarge) return i;
        break;
      }
      case State::kData: {
        size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size() - i));
        if (decoded_ + n > maxBody_) {
          state_ = State::kTooLarge;
          return i;
        }
        body.append(data.data() + i, n);
        decoded_ += n;
        remaining_ -= n;
        i += n;
        if (remaining_ == 0) {
          state_ = State::kDataEnd;
          sawCr_ = false;
        }
        break;
      }
      case State::kDataEnd: {
        char c = data[i++];
        if (c == '\r' && !sawCr_) {
          sawCr_ = true;
        } else if (c == '\n') {
          state_ = State::kSizeLine;
        } else {
          state_ = State::kMalformed;
          return i;
        }
        break;
      }
      case State::kDone:
      case State::kMalformed:
      case State::kTooLarge:
        return i;
    }
  }
  return i;
}

}  // namespace nave::http
