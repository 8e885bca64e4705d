#include "network/ingress/http_codec.h"

#include <strings.h>

#include <vector>

#include "server/http/field_values.h"

namespace nave::ingress {
namespace {

using http::forEachListElement;
using http::trimOws;
constexpr auto iequals = http::equalsIgnoreCase;

// Headers that describe one connection rather than the message (RFC 9110 section 7.6.1).
bool isHopByHop(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
      "upgrade"};
  for (std::string_view n : kNames) {
    if (iequals(name, n)) return true;
  }
  return false;
}

// The header names a Connection header lists (besides close, keep-alive, upgrade).
struct ConnectionTokens {
  bool close = false, keepAlive = false, upgrade = false;
  std::vector<std::string_view> names;

  void add(std::string_view value) {
    forEachListElement(value, [&](std::string_view t) {
      if (iequals(t, "close")) {
        close = true;
      } else if (iequals(t, "keep-alive")) {
        keepAlive = true;
      } else if (iequals(t, "upgrade")) {
        upgrade = true;
      } else {
        names.push_back(t);
      }
    });
  }
  bool names_(std::string_view name) const {
    for (std::string_view n : names) {
      if (iequals(n, name)) return true;
    }
    return false;
  }
};

void appendHeader(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

}  // namespace

bool wantsUpgrade(const http::Request& request) {
  bool upgrade = false, hasUpgrade = false;
  for (const http::Header& h : request.headers) {
    if (iequals(h.name, "connection")) {
      forEachListElement(h.value, [&](std::string_view t) { upgrade |= iequals(t, "upgrade"); });
    } else if (iequals(h.name, "upgrade") && !h.value.empty()) {
      hasUpgrade = true;
    }
  }
  return upgrade && hasUpgrade;
}

void appendUpstreamRequest(const http::Request& request, const http::RequestFraming& framing,
                           const ForwardedFor& fwd, std::string& out) {
  ConnectionTokens conn;
  for (const http::Header& h : request.headers) {
    if (iequals(h.name, "connection")) conn.add(h.value);
  }
  bool upgrade = wantsUpgrade(request);
  out.append(request.method).append(" ").append(request.target).append(" HTTP/1.1\r\n");
  std::string_view host, upgradeTo, priorFor;
  for (const http::Header& h : request.headers) {
    std::string_view name = h.name;
    if (iequals(name, "upgrade")) upgradeTo = h.value;
    if (iequals(name, "host")) host = h.value;
    if (isHopByHop(name) || (!conn.names.empty() && conn.names_(name))) continue;
    if (iequals(name, "x-forwarded-for")) {
      // Several X-Forwarded-For lines are one list; keep the first, the rest joins below.
      if (priorFor.empty()) priorFor = h.value;
      continue;
    }
    if (iequals(name, "x-real-ip") || iequals(name, "x-forwarded-proto") ||
        iequals(name, "x-forwarded-host") || iequals(name, "x-forwarded-port"))
      continue;
    appendHeader(out, name, h.value);
  }
  out.append("X-Forwarded-For: ");
  for (const http::Header& h : request.headers) {
    if (iequals(h.name, "x-forwarded-for") && !h.value.empty()) out.append(h.value).append(", ");
  }
  out.append(fwd.clientIp).append("\r\n");
  appendHeader(out, "X-Real-IP", fwd.clientIp);
  appendHeader(out, "X-Forwarded-Proto", fwd.proto);
  if (!host.empty()) appendHeader(out, "X-Forwarded-Host", host);
  appendHeader(out, "X-Forwarded-Port", fwd.port);
  if (framing.body == http::BodyFraming::kChunked) out.append("Transfer-Encoding: chunked\r\n");
  if (upgrade) {
    out.append("Connection: upgrade\r\n");
    appendHeader(out, "Upgrade", upgradeTo);
  }
  out.append("\r\n");
}

bool rewriteResponseHead(std::string_view head, bool headRequest, bool clientHttp10,
                         bool& clientKeepAlive, ResponseFraming& f, std::string& out) {
  f = ResponseFraming{};
  // Split into lines once (LF or CRLF), refusing bare CRs and obs-fold as the request parser
  // does.
  thread_local std::vector<std::string_view> lines;  // reused: one response at a time per thread
  lines.clear();
  while (!head.empty()) {
    size_t nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    head.remove_prefix(nl == std::string_view::npos ? head.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find('\r') != std::string_view::npos) return false;
    if (line.empty()) break;
    lines.push_back(line);
  }
  if (lines.empty()) return false;
  // status-line = HTTP-version SP status-code SP [ reason-phrase ]
  std::string_view status = lines[0];
  if (status.size() < 12 || !status.starts_with("HTTP/1.") || status[8] != ' ' ||
      (status[7] != '0' && status[7] != '1'))
    return false;
  bool http10 = status[7] == '0';
  int code = 0;
  for (int i = 9; i < 12; ++i) {
    if (status[i] < '0' || status[i] > '9') return false;
    code = code * 10 + (status[i] - '0');
  }
  if (code < 100 || (status.size() > 12 && status[12] != ' ')) return false;
  f.status = code;

  ConnectionTokens conn;
  bool sawLength = false, chunked = false, sawEncoding = false;
  std::string_view upgradeTo;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (line.front() == ' ' || line.front() == '\t') return false;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    std::string_view name = line.substr(0, colon), value = trimOws(line.substr(colon + 1));
    for (char c : name) {
      if (c == ' ' || c == '\t') return false;
    }
    if (iequals(name, "connection")) {
      conn.add(value);
    } else if (iequals(name, "content-length")) {
      uint64_t n = 0;
      if (value.empty() || value.size() > 18) return false;
      for (char c : value) {
        if (c < '0' || c > '9') return false;
        n = n * 10 + static_cast<uint64_t>(c - '0');
      }
      if (sawLength && n != f.contentLength) return false;
      sawLength = true;
      f.contentLength = n;
    } else if (iequals(name, "transfer-encoding")) {
      sawEncoding = true;
      chunked = false;  // chunked must be the final coding
      forEachListElement(value, [&](std::string_view t) { chunked = iequals(t, "chunked"); });
    } else if (iequals(name, "upgrade")) {
      upgradeTo = value;
    }
  }
  bool noBody = headRequest || code < 200 || code == 204 || code == 304;
  if (noBody) {
    f.body = http::BodyFraming::kNone;
  } else if (sawEncoding) {
    // Transfer-Encoding overrides Content-Length; without chunked last, the body runs to close.
    if (chunked) {
      f.body = http::BodyFraming::kChunked;
    } else {
      f.untilClose = true;
    }
  } else if (sawLength) {
    f.body = f.contentLength > 0 ? http::BodyFraming::kContentLength : http::BodyFraming::kNone;
  } else {
    f.untilClose = true;
  }
  f.backendKeepAlive = !f.untilClose && !conn.close && (!http10 || conn.keepAlive);
  if (code == 101) f.backendKeepAlive = false;
  if (f.untilClose) {
    if (clientHttp10) {
      clientKeepAlive = false;
    } else {
      f.rechunk = true;
    }
  }
  if (f.body == http::BodyFraming::kChunked && clientHttp10) {
    f.dechunk = true;  // HTTP/1.0 knows no chunks: decode, and end the body by closing
    clientKeepAlive = false;
  }

  out.append("HTTP/1.1").append(status.substr(8)).append("\r\n");
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    std::string_view name = line.substr(0, line.find(':'));
    if (isHopByHop(name) || (!conn.names.empty() && conn.names_(name))) continue;
    if (f.dechunk && iequals(name, "content-length")) continue;
    out.append(line).append("\r\n");
  }
  if (code == 101) {
    out.append("Connection: upgrade\r\n");
    appendHeader(out, "Upgrade", upgradeTo);
  } else if (code >= 200) {
    if ((f.body == http::BodyFraming::kChunked && !f.dechunk) || f.rechunk)
      out.append("Transfer-Encoding: chunked\r\n");
    if (!clientKeepAlive) {
      out.append("Connection: close\r\n");
    } else if (clientHttp10) {
      out.append("Connection: keep-alive\r\n");
    }
  }
  out.append("\r\n");
  return true;
}

std::string_view reasonPhrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
  }
}

void appendLocalResponse(int status, bool keepAlive, std::string& out) {
  std::string title = std::to_string(status) + " " + std::string(reasonPhrase(status));
  std::string body = "<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n<center><h1>" +
                     title + "</h1></center>\r\n<hr><center>nave</center>\r\n</body>\r\n</html>\r\n";
  out.append("HTTP/1.1 ").append(title).append("\r\n");
  out.append("Content-Type: text/html\r\nContent-Length: ").append(std::to_string(body.size()));
  out.append(keepAlive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n");
  out.append(body);
}

}  // namespace nave::ingress
