#include "server/http/connection.h"

#include <poll.h>
#include <strings.h>

#include <charconv>
#include <cstring>
#include <ctime>
#include <exception>

#include "common/log.h"

namespace nave::http {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr size_t kInitialBuffer = 16 * 1024;
constexpr size_t kCoalesceLimit = 256 * 1024;  // bodies up to this go out in one TLS write
// A request must arrive within this (or the idle timeout, if shorter) once it has started,
// and each read of its body must make progress within it: slow-loris clients are cut off.
constexpr seconds kRequestTimeout{30};
// A response write that makes no progress this long means a client that stopped reading.
constexpr milliseconds kWriteStall{60'000};
// After refusing a request, what the client still sends is read and dropped for this long (or
// up to kLingerBytes), so that closing does not reset the connection before it reads the answer.
constexpr milliseconds kLingerTime{1'000};
constexpr size_t kLingerBytes = 4 * 1024 * 1024;

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool isHeaderName(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f || c == ':') return false;
  }
  return true;
}

std::string_view reasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Request Entity Too Large";
    case 414:
      return "Request URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Requested Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 422:
      return "Unprocessable Entity";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "";
  }
}

// The Date header's value, formatted once per second per thread.
std::string_view httpDate() {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  thread_local time_t cachedSecond = -1;
  thread_local char text[40];
  thread_local int length = 0;
  time_t now = ::time(nullptr);
  if (now != cachedSecond) {
    tm t{};
    gmtime_r(&now, &t);
    length = std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                           kDays[t.tm_wday % 7], t.tm_mday, kMonths[t.tm_mon % 12],
                           t.tm_year + 1900, t.tm_hour, t.tm_min, t.tm_sec);
    cachedSecond = now;
  }
  return {text, static_cast<size_t>(length > 0 ? length : 0)};
}

void appendNumber(std::string& out, uint64_t n, int base = 10) {
  char digits[24];
  auto r = std::to_chars(digits, digits + sizeof digits, n, base);
  out.append(digits, r.ptr);
}

int pollTimeout(Deadline deadline) {
  if (deadline == kNoDeadline) return -1;
  auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return 0;
  return left > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(left);
}

// A connection after "101 Switching Protocols": the socket plus whatever the client sent
// after its request that the server had already read.
class UpgradedStream final : public Stream {
 public:
  UpgradedStream(std::unique_ptr<Socket> socket, std::string early)
      : socket_(std::move(socket)), early_(std::move(early)) {}

  long read(char* buffer, size_t size) override {
    if (earlyOffset_ < early_.size()) {
      size_t n = std::min(size, early_.size() - earlyOffset_);
      std::memcpy(buffer, early_.data() + earlyOffset_, n);
      earlyOffset_ += n;
      return static_cast<long>(n);
    }
    return socket_->read(buffer, size, kNoDeadline);
  }

  bool write(std::string_view data) override { return socket_->writeAll(data, milliseconds(0)); }

  void closeWrite() override { socket_->shutdownWrite(); }

  // Ends the stream in both directions: the peer sees close_notify and FIN, and a read()
  // blocked in another thread returns. The descriptor is closed when the stream is destroyed.
  void close() override {
    socket_->shutdownWrite();
    socket_->shutdownBoth();
  }

 private:
  std::unique_ptr<Socket> socket_;
  std::string early_;
  size_t earlyOffset_ = 0;
};

}  // namespace

Connection::Connection(const ServerOptions& options, const Handler& handler,
                       std::unique_ptr<Socket> socket, std::string remoteAddress)
    : options_(options),
      handler_(handler),
      socket_(std::move(socket)),
      remoteAddress_(std::move(remoteAddress)),
      buffer_(kInitialBuffer) {
  requestTimeout_ = kRequestTimeout;
  if (options_.idleTimeoutSeconds > 0 && options_.idleTimeoutSeconds < kRequestTimeout.count()) {
    requestTimeout_ = seconds(options_.idleTimeoutSeconds);
  }
}

void Connection::run() {
  if (!socket_->handshake(Clock::now() + requestTimeout_)) {
    log::v(4, "TLS handshake failed", {{"remote", remoteAddress_}});
    return;
  }
  if (socket_->ssl() != nullptr) peer_ = peerIdentity(socket_->ssl());

  for (;;) {
    HeadResult head = readHead();
    if (head == HeadResult::kClosed) return;
    if (head == HeadResult::kRefused) break;
    if (!readBody()) break;
    serve();
    if (socket_ == nullptr) return;  // upgraded: the stream owns the connection now
    if (closeAfter_ || peerGone_ || !framing_.keepAlive) break;
    if (buffer_.size() > 4 * kInitialBuffer && begin_ == end_) {
      buffer_.resize(kInitialBuffer);
      buffer_.shrink_to_fit();
      begin_ = end_ = 0;
    }
  }
  if (bodyUnread_ && !peerGone_) discardInput();
}

Connection::HeadResult Connection::readHead() {
  framing_ = RequestFraming{};
  Deadline idleDeadline = options_.idleTimeoutSeconds > 0
                              ? Clock::now() + seconds(options_.idleTimeoutSeconds)
                              : kNoDeadline;
  Deadline headDeadline = kNoDeadline;
  size_t scanned = 0;
  for (;;) {
    if (size_t blank = leadingBlankLines(buffered()); blank > 0) {
      begin_ += blank;
      scanned = 0;
    }
    std::string_view data = buffered();
    if (!data.empty() && !(data.size() == 1 && data[0] == '\r')) {
      if (headDeadline == kNoDeadline) headDeadline = Clock::now() + requestTimeout_;
      size_t headLength = findHeadEnd(data, scanned);
      if (headLength > options_.maxHeaderBytes ||
          (headLength == 0 && data.size() > options_.maxHeaderBytes)) {
        refuse(431);
        return HeadResult::kRefused;
      }
      if (headLength > 0) {
        int status = parseRequestHead(data.substr(0, headLength), request_, framing_);
        begin_ += headLength;
        if (status != 0) {
          log::v(4, "refusing malformed request", {{"remote", remoteAddress_}, {"status", status}});
          refuse(status);
          return HeadResult::kRefused;
        }
        return HeadResult::kRequest;
      }
      scanned = data.size();
    }
    if (!makeRoom(options_.maxHeaderBytes + 1)) {
      refuse(431);
      return HeadResult::kRefused;
    }
    bool started = headDeadline != kNoDeadline;
    if (!fill(started ? headDeadline : idleDeadline)) {
      return HeadResult::kClosed;  // the client went away, idled out or stalled
    }
  }
}

bool Connection::readBody() {
  request_.body.clear();
  request_.bodyTooLarge = false;
  if (framing_.body == BodyFraming::kContentLength) return readContentLengthBody();
  if (framing_.body == BodyFraming::kChunked) return readChunkedBody();
  return true;
}

void Connection::sendContinueIfExpected() {
  // A client that already started sending does not need the invitation.
  if (framing_.expectContinue && begin_ == end_) {
    if (!writeOut("HTTP/1.1 100 Continue\r\n\r\n")) peerGone_ = true;
  }
}

bool Connection::readContentLengthBody() {
  uint64_t length = framing_.contentLength;
  if (length > options_.maxBodyBytes) {
    // Not read at all: the handler answers 413 and the connection closes.
    request_.bodyTooLarge = true;
    bodyUnread_ = true;
    closeAfter_ = true;
    return true;
  }
  sendContinueIfExpected();
  if (request_.body.capacity() < length) request_.body.reserve(length);
  for (;;) {
    std::string_view data = buffered();
    size_t take = std::min<uint64_t>(length - request_.body.size(), data.size());
    request_.body.append(data.data(), take);
    begin_ += take;
    if (request_.body.size() == length) return true;
    makeRoom(buffer_.size());
    if (!fill(Clock::now() + requestTimeout_)) return false;
  }
}

bool Connection::readChunkedBody() {
  sendContinueIfExpected();
  ChunkedDecoder decoder(options_.maxBodyBytes, options_.maxHeaderBytes);
  for (;;) {
    begin_ += decoder.feed(buffered(), request_.body);
    if (decoder.done()) return true;
    if (decoder.malformed()) {
      refuse(400);
      return false;
    }
    if (decoder.tooLarge()) {
      request_.body.clear();
      request_.bodyTooLarge = true;
      bodyUnread_ = true;
      closeAfter_ = true;
      return true;
    }
    makeRoom(buffer_.size());
    if (!fill(Clock::now() + requestTimeout_)) return false;
  }
}

void Connection::serve() {
  responded_ = streaming_ = chunked_ = ended_ = false;
  if (request_.remoteAddress != remoteAddress_) request_.remoteAddress = remoteAddress_;
  if (request_.peer.present != peer_.present || request_.peer.commonName != peer_.commonName ||
      request_.peer.organizations != peer_.organizations) {
    request_.peer = peer_;
  }
  bool failed = false;
  try {
    handler_(request_, *this);
  } catch (const std::exception& e) {
    log::error("HTTP handler threw", {{"method", request_.method},
                                      {"path", request_.path},
                                      {"error", std::string_view(e.what())}});
    failed = true;
  } catch (...) {
    log::error("HTTP handler threw", {{"method", request_.method}, {"path", request_.path}});
    failed = true;
  }
  if (socket_ == nullptr) return;
  if (failed) closeAfter_ = true;
  if (!responded_) {
    send(500, {{"Content-Type", "text/plain; charset=utf-8"}}, "500 Internal Server Error\n");
  } else if (streaming_ && !ended_) {
    if (failed) {
      peerGone_ = true;  // cut the stream short so the client sees it incomplete
    } else {
      end();
    }
  }
}

void Connection::refuse(int status) {
  closeAfter_ = true;
  bodyUnread_ = true;
  framing_.keepAlive = false;
  responded_ = streaming_ = false;
  std::string body;
  appendNumber(body, static_cast<uint64_t>(status));
  body += ' ';
  body += reasonPhrase(status);
  body += '\n';
  send(status, {{"Content-Type", "text/plain; charset=utf-8"}}, body);
}

bool Connection::makeRoom(size_t limit) {
  if (end_ < buffer_.size()) return true;
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    return true;
  }
  if (buffer_.size() >= limit) return false;
  buffer_.resize(std::min(limit, buffer_.size() * 2));
  return true;
}

bool Connection::fill(Deadline deadline) {
  if (end_ == buffer_.size() && !makeRoom(buffer_.size())) return false;
  long n = socket_->read(buffer_.data() + end_, buffer_.size() - end_, deadline);
  if (n <= 0) return false;
  end_ += static_cast<size_t>(n);
  return true;
}

void Connection::discardInput() {
  socket_->shutdownWrite();
  Deadline deadline = Clock::now() + kLingerTime;
  size_t total = 0;
  while (total < kLingerBytes) {
    long n = socket_->read(buffer_.data(), buffer_.size(), deadline);
    if (n <= 0) return;
    total += static_cast<size_t>(n);
  }
}

void Connection::beginHead(int status) {
  out_.clear();
  out_ += "HTTP/1.1 ";
  appendNumber(out_, static_cast<uint64_t>(status));
  out_ += ' ';
  out_ += reasonPhrase(status);
  out_ += "\r\n";
}

void Connection::appendHeaders(const std::vector<Header>& headers, bool upgrading) {
  bool hasDate = false;
  for (const Header& h : headers) {
    if (!isHeaderName(h.name)) continue;
    if (!upgrading) {
      // Framing and connection management are ours.
      if (equalsIgnoreCase(h.name, "content-length") ||
          equalsIgnoreCase(h.name, "transfer-encoding")) {
        continue;
      }
      if (equalsIgnoreCase(h.name, "connection")) {
        if (::strcasestr(h.value.c_str(), "close") != nullptr) closeAfter_ = true;
        continue;
      }
    }
    if (equalsIgnoreCase(h.name, "date")) hasDate = true;
    out_ += h.name;
    out_ += ": ";
    size_t start = out_.size();
    out_ += h.value;
    // A value carrying CR or LF would let its author inject headers or a second response.
    for (size_t i = start; i < out_.size(); ++i) {
      if (out_[i] == '\r' || out_[i] == '\n' || out_[i] == '\0') out_[i] = ' ';
    }
    out_ += "\r\n";
  }
  if (!hasDate) {
    out_ += "Date: ";
    out_ += httpDate();
    out_ += "\r\n";
  }
}

void Connection::appendConnectionHeader() {
  if (socket_->serverStopping()) closeAfter_ = true;
  if (closeAfter_ || !framing_.keepAlive) {
    out_ += "Connection: close\r\n";
  } else if (framing_.http10) {
    out_ += "Connection: keep-alive\r\n";
  }
}

bool Connection::writeOut(std::string_view data) {
  return socket_->writeAll(data, kWriteStall);
}

void Connection::send(int status, const std::vector<Header>& headers, std::string_view body) {
  if (responded_ || socket_ == nullptr) {
    log::warning("HTTP handler responded twice", {{"path", request_.path}, {"status", status}});
    return;
  }
  responded_ = true;
  bool bodyAllowed = status >= 200 && status != 204 && status != 304;
  beginHead(status);
  appendHeaders(headers, false);
  if (bodyAllowed) {
    out_ += "Content-Length: ";
    appendNumber(out_, body.size());
    out_ += "\r\n";
  }
  appendConnectionHeader();
  out_ += "\r\n";
  bool withBody = bodyAllowed && !framing_.isHead && !body.empty();
  bool ok;
  if (withBody && body.size() <= kCoalesceLimit) {
    out_.append(body);
    ok = writeOut(out_);
  } else {
    ok = writeOut(out_) && (!withBody || writeOut(body));
  }
  if (!ok) peerGone_ = true;
}

bool Connection::startStream(int status, const std::vector<Header>& headers) {
  if (responded_ || socket_ == nullptr) return false;
  responded_ = streaming_ = true;
  // HTTP/1.0 has no chunked encoding: the body ends when the connection does.
  chunked_ = !framing_.http10 && !framing_.isHead;
  if (framing_.http10) closeAfter_ = true;
  beginHead(status);
  appendHeaders(headers, false);
  if (chunked_) out_ += "Transfer-Encoding: chunked\r\n";
  appendConnectionHeader();
  out_ += "\r\n";
  if (!writeOut(out_)) peerGone_ = true;
  return !peerGone_;
}

bool Connection::write(std::string_view data) {
  if (!streaming_ || ended_ || peerGone_ || socket_ == nullptr) return false;
  // A peer that closed its side is gone; without this check the first write after a close
  // would still succeed (the kernel accepts it before the peer's reset arrives).
  if (socket_->peerClosed()) {
    peerGone_ = true;
    return false;
  }
  if (data.empty() || framing_.isHead) return true;  // an empty chunk would end the body
  bool ok;
  if (!chunked_) {
    ok = writeOut(data);
  } else {
    out_.clear();
    appendNumber(out_, data.size(), 16);
    out_ += "\r\n";
    if (data.size() <= kCoalesceLimit) {
      out_.append(data);
      out_ += "\r\n";
      ok = writeOut(out_);
    } else {
      ok = writeOut(out_) && writeOut(data) && writeOut("\r\n");
    }
  }
  if (!ok) peerGone_ = true;
  return ok;
}

void Connection::end() {
  if (!streaming_ || ended_ || socket_ == nullptr) return;
  ended_ = true;
  if (chunked_ && !peerGone_ && !writeOut("0\r\n\r\n")) peerGone_ = true;
}

ResponseWriter::Wake Connection::wait(int wakeFd, int timeoutMs) {
  if (socket_ == nullptr) return Wake::kClientGone;
  Deadline deadline = timeoutMs < 0 ? kNoDeadline : Clock::now() + milliseconds(timeoutMs);
  for (;;) {
    if (peerGone_) return Wake::kClientGone;
    // Input that arrives meanwhile (a pipelined request, TLS records) is kept for later; once
    // the buffer is full only a hangup is watched for.
    if (begin_ > 0 && end_ == buffer_.size()) makeRoom(buffer_.size());
    bool room = end_ < buffer_.size();
    bool readNow = room && socket_->hasBufferedInput();
    if (!readNow) {
      pollfd fds[3] = {{socket_->fd(), static_cast<short>(POLLRDHUP | (room ? POLLIN : 0)), 0},
                       {socket_->stopFd(), POLLIN, 0},
                       {wakeFd, POLLIN, 0}};
      int n = ::poll(fds, wakeFd >= 0 ? 3 : 2, pollTimeout(deadline));
      if (n < 0) {
        if (errno == EINTR) continue;
        peerGone_ = true;
        return Wake::kClientGone;
      }
      if (n == 0) return Wake::kTimeout;
      if (fds[1].revents != 0 || (fds[0].revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) {
        peerGone_ = true;
        return Wake::kClientGone;
      }
      if (wakeFd >= 0 && fds[2].revents != 0) return Wake::kWakeFd;
      readNow = (fds[0].revents & POLLIN) != 0;
    }
    if (readNow) {
      size_t got = 0;
      switch (socket_->readSome(buffer_.data() + end_, buffer_.size() - end_, got)) {
        case Socket::Io::kData:
          end_ += got;
          break;
        case Socket::Io::kWantRead:
        case Socket::Io::kWantWrite:
          break;
        case Socket::Io::kEof:
        case Socket::Io::kError:
          peerGone_ = true;
          return Wake::kClientGone;
      }
    }
  }
}

std::unique_ptr<Stream> Connection::upgrade(int status, const std::vector<Header>& headers) {
  if (responded_ || socket_ == nullptr) return nullptr;
  responded_ = true;
  beginHead(status);
  appendHeaders(headers, true);
  out_ += "\r\n";
  if (!writeOut(out_)) peerGone_ = true;  // the stream's first read or write reports it
  std::string early(buffered());
  begin_ = end_ = 0;
  return std::make_unique<UpgradedStream>(std::move(socket_), std::move(early));
}

}  // namespace nave::http
