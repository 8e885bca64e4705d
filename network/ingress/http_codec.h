// The HTTP/1.1 rewriting a reverse proxy does between a client and a backend (RFC 9110
// section 7.6, RFC 9112), apart from the sockets so that it can be unit-tested and fuzzed.
// Requests are parsed by server/http's parser (strict about framing, which is what keeps
// requests from being smuggled past the proxy); responses by parseResponseHead here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "server/http/request_parser.h"

namespace nave::ingress {

// What the proxy adds about the client (X-Forwarded-*, X-Real-IP).
struct ForwardedFor {
  std::string_view clientIp;
  std::string_view proto;  // "http" or "https"
  std::string_view port;   // the port the client connected to
};

// Whether the request asks for a protocol upgrade (Connection: upgrade and an Upgrade header,
// e.g. WebSocket).
bool wantsUpgrade(const http::Request& request);

// Appends the request head to send to a backend: the request line as received, end-to-end
// headers as received (Host included), hop-by-hop ones (Connection, Keep-Alive, TE, Trailer,
// Transfer-Encoding, Upgrade, Proxy-Connection and those Connection names) removed,
// X-Forwarded-For appended to, X-Forwarded-Proto/Host/Port and X-Real-IP set, the body's
// framing (Content-Length as received, or Transfer-Encoding: chunked, whose chunks are
// forwarded as they are) and, for upgrades, Connection: upgrade with the Upgrade header.
// Connections to backends are kept alive (HTTP/1.1's default).
void appendUpstreamRequest(const http::Request& request, const http::RequestFraming& framing,
                           const ForwardedFor& forwarded, std::string& out);

struct ResponseFraming {
  int status = 0;
  http::BodyFraming body = http::BodyFraming::kNone;
  uint64_t contentLength = 0;
  bool untilClose = false;        // the body ends when the backend closes
  bool backendKeepAlive = false;  // the backend connection can serve another request
  bool dechunk = false;           // chunked body to an HTTP/1.0 client: decode it
  bool rechunk = false;           // body to close to an HTTP/1.1 client: send it chunked, so
                                  // that the client connection stays open
};

// Parses a backend's complete response head (delimited by http::findHeadEnd) and appends
// the head to send to the client: "HTTP/1.1", the status and reason as received, end-to-end
// headers, the framing, and Connection as the client connection needs. `clientKeepAlive`
// comes in as the request asked and goes out false when the response forces a close (a body
// delimited by closing). `headRequest`: the response has no body whatever its headers say.
// Returns false on a malformed head (the proxy answers 502).
bool rewriteResponseHead(std::string_view head, bool headRequest, bool clientHttp10,
                         bool& clientKeepAlive, ResponseFraming& framing, std::string& out);

// Appends a complete response the proxy makes itself (404, 502, 503, ...) with a short HTML
// body, closing the connection unless `keepAlive`.
void appendLocalResponse(int status, bool keepAlive, std::string& out);

std::string_view reasonPhrase(int status);

}  // namespace nave::ingress
