#include "network/ingress/proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/fd.h"
#include "common/log.h"
#include "network/ingress/http_codec.h"
#include "server/http/request_parser.h"

namespace nave::ingress {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

constexpr size_t kReadChunk = 64 * 1024;
// Reading from one side stops while this much waits to be written to the other.
constexpr size_t kHighWater = 256 * 1024;
constexpr size_t kMaxResponseHead = 64 * 1024;
constexpr size_t kChunkMetaLimit = size_t{1} << 40;  // chunk-size lines over a whole body
constexpr size_t kBodyLimit = size_t{1} << 62;

struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};

class Exchange;

// One socket in the loop's epoll set. Edge-triggered: `readable`/`writable` remember what
// epoll reported until a read or write would block.
struct Socket {
  enum class Kind { kListener, kWake, kClient, kBackend };
  Kind kind;
  UniqueFd fd;
  std::unique_ptr<SSL, SslFree> ssl;
  Exchange* owner = nullptr;  // null for a pooled idle backend connection
  bool readable = false, writable = false, eof = false, shutdownSent = false;
  std::string out;  // waiting to be written
  size_t outPos = 0;
  // Backend connections: the endpoint, and where the socket sits in the idle pool.
  uint64_t endpoint = 0;
  Clock::time_point idleSince;
  bool tls = false;  // listeners: the TLS port

  explicit Socket(Kind k) : kind(k) {}
  size_t pending() const { return out.size() - outPos; }
};

enum class Io { kData, kEof, kAgain, kError };

// Reads up to `max` (<= kReadChunk) bytes, appending to `buf`. Through a per-thread buffer:
// growing `buf` first would zero-fill `max` bytes on every call. The buffer is allocated by the
// loop threads that read: a thread_local array would be static TLS, zero-filled in every
// thread of the process (~150 threads: 9 MB of RSS).
Io readInto(Socket& s, std::string& buf, size_t max, size_t& n) {
  thread_local std::unique_ptr<char[]> buffer;
  if (!buffer) buffer.reset(new char[kReadChunk]);
  char* chunk = buffer.get();
  max = std::min(max, kReadChunk);
  n = 0;
  if (s.ssl) {
    ERR_clear_error();
    int r = SSL_read_ex(s.ssl.get(), chunk, max, &n);
    if (r == 1) {
      buf.append(chunk, n);
      return Io::kData;
    }
    n = 0;
    switch (SSL_get_error(s.ssl.get(), r)) {
      case SSL_ERROR_WANT_READ: s.readable = false; return Io::kAgain;
      case SSL_ERROR_WANT_WRITE: s.writable = false; return Io::kAgain;
      case SSL_ERROR_ZERO_RETURN: return Io::kEof;
      default: return Io::kError;
    }
  }
  ssize_t r = ::recv(s.fd.get(), chunk, max, 0);
  if (r > 0) {
    n = static_cast<size_t>(r);
    buf.append(chunk, n);
    return Io::kData;
  }
  if (r == 0) return Io::kEof;
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    s.readable = false;
    return Io::kAgain;
  }
  return errno == EINTR ? Io::kAgain : Io::kError;
}

// Writes what is pending while the socket takes it; false on an error.
bool flush(Socket& s) {
  while (s.pending() > 0 && s.writable) {
    const char* p = s.out.data() + s.outPos;
    size_t len = s.pending();
    if (s.ssl) {
      ERR_clear_error();
      size_t put = 0;
      int r = SSL_write_ex(s.ssl.get(), p, len, &put);
      if (r == 1) {
        s.outPos += put;
        continue;
      }
      int e = SSL_get_error(s.ssl.get(), r);
      if (e == SSL_ERROR_WANT_WRITE) {
        s.writable = false;
      } else if (e == SSL_ERROR_WANT_READ) {
        s.readable = false;
        break;
      } else {
        return false;
      }
    } else {
      ssize_t r = ::send(s.fd.get(), p, len, MSG_NOSIGNAL);
      if (r >= 0) {
        s.outPos += static_cast<size_t>(r);
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        s.writable = false;
      } else if (errno != EINTR) {
        return false;
      }
    }
  }
  if (s.pending() == 0) {
    s.out.clear();
    s.outPos = 0;
  }
  return true;
}

uint64_t endpointKey(const sockaddr_in& sa) {
  return (uint64_t{sa.sin_addr.s_addr} << 16) | sa.sin_port;
}

struct Config {
  std::shared_ptr<const RouteTable> routes;
  std::shared_ptr<const CertificateStore> certificates;
};

class Loop;

// A client connection and, while a request is in flight, its backend connection.
class Exchange {
 public:
  enum class State { kHandshake, kReadHead, kConnecting, kForward, kTunnel, kClosing, kDead };

  Exchange(Loop& loop, UniqueFd fd, const sockaddr_in& peer, bool tls, int localPort);
  ~Exchange();
  void pump();
  void timeout();
  bool dead() const { return state_ == State::kDead; }
  size_t slot = 0;  // the loop's index of this exchange
  Clock::time_point deadline() const { return deadline_; }
  Socket& client() { return client_; }

 private:
  bool step();  // one round of progress; false when nothing moved
  bool readHead();
  void startRequest(size_t headLength);
  void connectBackend();
  bool connected();
  bool forward();
  bool forwardRequestBody();
  bool readResponse();
  void consumeResponse(std::string_view data);
  void finishResponse();
  bool tunnel();
  bool lingeringClose();
  void respond(int status, bool keepAlive);
  void backendFailed(bool timedOut);
  void releaseBackend(bool reusable);
  void close();
  void touch(int timeoutSeconds);

  Loop& loop_;
  Socket client_{Socket::Kind::kClient};
  std::unique_ptr<Socket> backend_;
  State state_;
  bool tls_;
  std::string clientIp_;
  std::string localPort_;
  std::shared_ptr<const CertificateStore> certificates_;  // the TLS context's owner
  Clock::time_point deadline_;

  std::string in_;  // client bytes not consumed yet
  size_t headScan_ = 0;
  http::Request request_;
  http::RequestFraming framing_;
  bool clientKeepAlive_ = true;
  bool upgrade_ = false;

  // The request in flight.
  std::shared_ptr<const RouteTable> routes_;  // keeps upstream_ alive
  const Upstream* upstream_ = nullptr;
  sockaddr_in endpoint_{};
  int attempts_ = 0;
  bool reusedBackend_ = false;
  std::string upstreamHead_;  // kept until the response starts, to retry on a stale connection
  bool requestBodyDone_ = true;
  uint64_t requestRemaining_ = 0;
  std::unique_ptr<http::ChunkedDecoder> requestChunks_;
  bool requestBodyStarted_ = false;

  std::string responseIn_;
  size_t responseScan_ = 0;
  bool responseHeadDone_ = false;
  bool responseStarted_ = false;  // any byte of a response arrived
  ResponseFraming responseFraming_;
  uint64_t responseRemaining_ = 0;
  std::unique_ptr<http::ChunkedDecoder> responseChunks_;
  bool responseDone_ = false;
  bool backendReusable_ = true;
  std::string scratch_;
};

class Loop {
 public:
  Loop(const ProxyOptions& options, std::atomic<uint64_t>& generation, std::mutex& configMu,
       const Config& config)
      : options_(options), generation_(generation), configMu_(configMu), sharedConfig_(config) {}

  Result<void> init(UniqueFd httpListener, UniqueFd httpsListener, int httpPort, int httpsPort) {
    epoll_ = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) return Error::fromErrno("epoll_create1", errno);
    wake_.fd = UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!wake_.fd) return Error::fromErrno("eventfd", errno);
    TRY(add(wake_, EPOLLIN));
    if (httpListener) {
      http_.fd = std::move(httpListener);
      httpPort_ = httpPort;
      TRY(add(http_, EPOLLIN));
    }
    if (httpsListener) {
      https_.fd = std::move(httpsListener);
      https_.tls = true;
      httpsPort_ = httpsPort;
      TRY(add(https_, EPOLLIN));
    }
    refreshConfig();
    return {};
  }

  void run() {
    std::vector<epoll_event> events(256);
    Clock::time_point lastSweep = Clock::now();
    while (!stopping_.load(std::memory_order_relaxed)) {
      int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()),
                           again_.empty() ? 1000 : 0);
      now_ = Clock::now();
      for (int i = 0; i < n; ++i) dispatch(*static_cast<Socket*>(events[i].data.ptr), events[i].events);
      if (!again_.empty()) {
        std::vector<Exchange*> busy;
        busy.swap(again_);
        for (Exchange* ex : busy) {
          if (!ex->dead()) ex->pump();
        }
      }
      reap();
      if (now_ - lastSweep >= seconds(1)) {
        lastSweep = now_;
        sweep();
        reap();
      }
    }
    exchanges_.clear();
    idle_.clear();
  }

  void wake() {
    stopping_ = true;
    uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(wake_.fd.get(), &one, sizeof one);
  }

  Result<void> add(Socket& s, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = &s;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, s.fd.get(), &ev) != 0)
      return Error::fromErrno("epoll_ctl add", errno);
    return {};
  }

  // The current config, refreshed when update() published a new one.
  const Config& config() {
    if (generation_.load(std::memory_order_acquire) != seenGeneration_) refreshConfig();
    return config_;
  }
  const ProxyOptions& options() const { return options_; }
  Clock::time_point now() const { return now_; }
  std::string& scratch() { return scratch_; }

  // A pooled connection to `endpoint`, or null.
  std::unique_ptr<Socket> takeIdle(uint64_t endpoint) {
    auto it = idle_.find(endpoint);
    if (it == idle_.end() || it->second.empty()) return nullptr;
    std::unique_ptr<Socket> s = std::move(it->second.back());
    it->second.pop_back();
    return s;
  }
  void putIdle(std::unique_ptr<Socket> s) {
    auto& list = idle_[s->endpoint];
    if (list.size() >= options_.maxIdlePerEndpoint) return;  // closed by s's destructor
    s->owner = nullptr;
    s->idleSince = now_;
    list.push_back(std::move(s));
  }
  // Closes `s` once this round of events is handled (an event may still point at it).
  void retire(std::unique_ptr<Socket> s) {
    s->owner = nullptr;
    graveyard_.push_back(std::move(s));
  }

 private:
  void refreshConfig() {
    std::lock_guard<std::mutex> lock(configMu_);
    seenGeneration_ = generation_.load(std::memory_order_acquire);
    config_ = sharedConfig_;
  }

  void dispatch(Socket& s, uint32_t events) {
    switch (s.kind) {
      case Socket::Kind::kWake: {
        uint64_t v;
        [[maybe_unused]] ssize_t r = ::read(wake_.fd.get(), &v, sizeof v);
        return;
      }
      case Socket::Kind::kListener:
        accept(s);
        return;
      case Socket::Kind::kClient:
      case Socket::Kind::kBackend:
        break;
    }
    if (s.owner == nullptr) {
      // An idle pooled connection (or one already retired): dropped when the backend closes
      // it or sends what nobody asked for; mere write space is no news.
      if (s.fd && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) dropIdle(s);
      return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) s.readable = true;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) s.writable = true;
    if (!s.owner->dead()) s.owner->pump();
  }

  void dropIdle(Socket& s) {
    auto& list = idle_[s.endpoint];
    for (auto it = list.begin(); it != list.end(); ++it) {
      if (it->get() == &s) {
        graveyard_.push_back(std::move(*it));
        list.erase(it);
        return;
      }
    }
  }

  void accept(Socket& listener) {
    for (;;) {
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      int fd = ::accept4(listener.fd.get(), reinterpret_cast<sockaddr*>(&peer), &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
          log::warning("ingress: accept failed", {{"error", std::strerror(errno)}});
        return;
      }
      int on = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      auto ex = std::make_unique<Exchange>(*this, UniqueFd(fd), peer, listener.tls,
                                           listener.tls ? httpsPort_ : httpPort_);
      if (ex->dead() || !add(ex->client(), EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET).ok())
        continue;
      ex->slot = exchanges_.size();
      exchanges_.push_back(std::move(ex));
    }
  }

  // Frees what was closed during this round of events, when no event can point at it.
  void reap() {
    graveyard_.clear();
    if (!dying_.empty() && !again_.empty())
      std::erase_if(again_, [](Exchange* ex) { return ex->dead(); });
    for (Exchange* ex : dying_) {
      size_t i = ex->slot;
      if (i != exchanges_.size() - 1) {
        exchanges_[i] = std::move(exchanges_.back());
        exchanges_[i]->slot = i;
      }
      exchanges_.pop_back();
    }
    dying_.clear();
  }

 public:
  void died(Exchange& ex) { dying_.push_back(&ex); }
  void again(Exchange& ex) { again_.push_back(&ex); }

 private:
  void sweep() {
    for (auto& ex : exchanges_) {
      if (!ex->dead() && now_ >= ex->deadline()) ex->timeout();
    }
    auto idleFor = seconds(options_.backendIdleSeconds);
    for (auto& [endpoint, list] : idle_) {
      std::erase_if(list, [&](const std::unique_ptr<Socket>& s) { return now_ - s->idleSince >= idleFor; });
    }
  }

  const ProxyOptions& options_;
  std::atomic<uint64_t>& generation_;
  std::mutex& configMu_;
  const Config& sharedConfig_;  // guarded by configMu_
  uint64_t seenGeneration_ = 0;
  Config config_;
  UniqueFd epoll_;
  Socket wake_{Socket::Kind::kWake};
  Socket http_{Socket::Kind::kListener};
  Socket https_{Socket::Kind::kListener};
  int httpPort_ = -1, httpsPort_ = -1;
  std::atomic<bool> stopping_{false};
  Clock::time_point now_ = Clock::now();
  std::vector<std::unique_ptr<Exchange>> exchanges_;
  std::vector<Exchange*> dying_;  // closed this round; freed by reap()
  std::vector<Exchange*> again_;  // to pump again before waiting (see Exchange::pump)
  std::unordered_map<uint64_t, std::vector<std::unique_ptr<Socket>>> idle_;
  std::vector<std::unique_ptr<Socket>> graveyard_;
  std::string scratch_;
};

// --- Exchange ---

Exchange::Exchange(Loop& loop, UniqueFd fd, const sockaddr_in& peer, bool tls, int localPort)
    : loop_(loop), tls_(tls), localPort_(std::to_string(localPort)) {
  client_.fd = std::move(fd);
  client_.owner = this;
  char ip[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
  clientIp_ = ip;
  state_ = State::kReadHead;
  if (tls_) {
    certificates_ = loop_.config().certificates;
    if (certificates_) {
      client_.ssl.reset(SSL_new(certificates_->defaultContext()));
      if (client_.ssl) SSL_set_fd(client_.ssl.get(), client_.fd.get());
    }
    if (client_.ssl) {
      SSL_set_accept_state(client_.ssl.get());
      state_ = State::kHandshake;
    } else {
      state_ = State::kDead;
    }
  }
  touch(loop_.options().headerTimeoutSeconds);
}

Exchange::~Exchange() { releaseBackend(false); }

void Exchange::touch(int timeoutSeconds) { deadline_ = loop_.now() + seconds(timeoutSeconds); }

void Exchange::close() {
  if (state_ == State::kDead) return;
  releaseBackend(false);
  state_ = State::kDead;
  loop_.died(*this);
  client_.ssl.reset();  // no close_notify: the peer learns from the FIN
  client_.fd.reset();
}

void Exchange::releaseBackend(bool reusable) {
  if (!backend_) return;
  if (reusable && backend_->pending() == 0) {
    loop_.putIdle(std::move(backend_));
  } else {
    loop_.retire(std::move(backend_));
  }
  backend_.reset();
}

void Exchange::pump() {
  for (int rounds = 0; state_ != State::kDead; ++rounds) {
    if (rounds == 64) {
      // Still busy: let the loop's other connections have a turn, and come back without
      // waiting for an edge that may never come (the data is already here).
      loop_.again(*this);
      return;
    }
    if (!step()) return;
  }
}

bool Exchange::step() {
  if (!flush(client_)) {
    close();
    return false;
  }
  if (backend_ && state_ != State::kConnecting && !flush(*backend_)) {
    if (state_ == State::kTunnel || responseStarted_) {
      close();
    } else {
      backendFailed(false);
    }
    return true;
  }
  switch (state_) {
    case State::kHandshake: {
      if (!client_.readable && !client_.writable) return false;
      ERR_clear_error();
      int r = SSL_do_handshake(client_.ssl.get());
      if (r == 1) {
        state_ = State::kReadHead;
        return true;
      }
      int e = SSL_get_error(client_.ssl.get(), r);
      if (e == SSL_ERROR_WANT_READ) {
        client_.readable = false;
      } else if (e == SSL_ERROR_WANT_WRITE) {
        client_.writable = false;
      } else {
        log::v(3, "ingress: TLS handshake failed", {{"client", clientIp_}});
        close();
      }
      return false;
    }
    case State::kReadHead:
      return readHead();
    case State::kConnecting:
      return connected();
    case State::kForward:
      return forward();
    case State::kTunnel:
      return tunnel();
    case State::kClosing:
      return lingeringClose();
    case State::kDead:
      return false;
  }
  return false;
}

bool Exchange::readHead() {
  // One response at a time: the next request waits until the last response is written.
  if (client_.pending() > 0) return false;
  bool progress = false;
  for (;;) {
    in_.erase(0, http::leadingBlankLines(in_));
    size_t head = http::findHeadEnd(in_, headScan_);
    if (head > 0) {
      if (head > loop_.options().maxHeaderBytes) {
        respond(431, false);
        return true;
      }
      startRequest(head);
      return true;
    }
    headScan_ = in_.size();
    if (in_.size() > loop_.options().maxHeaderBytes) {
      respond(431, false);
      return true;
    }
    if (!client_.readable) return progress;
    size_t n = 0;
    switch (readInto(client_, in_, kReadChunk, n)) {
      case Io::kData:
        progress = true;
        touch(loop_.options().headerTimeoutSeconds);
        break;
      case Io::kAgain:
        return progress;
      case Io::kEof:
        // Between requests a close is normal; inside a head it is a truncated request.
        if (!in_.empty()) log::v(3, "ingress: client closed inside a request head", {{"client", clientIp_}});
        close();
        return false;
      case Io::kError:
        close();
        return false;
    }
  }
}

void Exchange::respond(int status, bool keepAlive) {
  keepAlive = keepAlive && clientKeepAlive_;
  appendLocalResponse(status, keepAlive, client_.out);
  releaseBackend(false);
  if (keepAlive) {
    state_ = State::kReadHead;
    touch(loop_.options().keepAliveTimeoutSeconds);
  } else {
    state_ = State::kClosing;
    touch(loop_.options().headerTimeoutSeconds);
  }
}

void Exchange::startRequest(size_t headLength) {
  std::string_view head(in_.data(), headLength);
  int status = http::parseRequestHead(head, request_, framing_);
  headScan_ = 0;
  clientKeepAlive_ = true;
  if (status != 0) {
    in_.clear();
    respond(status, false);
    return;
  }
  clientKeepAlive_ = framing_.keepAlive;
  upgrade_ = wantsUpgrade(request_);
  requestBodyStarted_ = false;
  switch (framing_.body) {
    case http::BodyFraming::kNone:
      requestBodyDone_ = true;
      break;
    case http::BodyFraming::kContentLength:
      requestBodyDone_ = false;
      requestRemaining_ = framing_.contentLength;
      break;
    case http::BodyFraming::kChunked:
      requestBodyDone_ = false;
      requestChunks_ = std::make_unique<http::ChunkedDecoder>(kBodyLimit, kChunkMetaLimit);
      break;
  }
  routes_ = loop_.config().routes;
  std::string_view host = request_.header("host");
  if (request_.target.front() != '/' && request_.target.find("://") != std::string::npos) {
    // absolute-form: the target's authority overrides Host (RFC 9112 section 3.2.2)
    std::string_view t = std::string_view(request_.target).substr(request_.target.find("://") + 3);
    host = t.substr(0, t.find_first_of("/?"));
  }
  upstream_ = routes_ ? routes_->match(host, request_.path) : nullptr;
  if (upstream_ == nullptr || upstream_->endpoints.empty()) {
    int code = upstream_ == nullptr ? 404 : 503;
    log::v(4, "ingress: no backend", {{"status", code}, {"host", request_.header("host")},
                                      {"path", request_.path}});
    in_.erase(0, headLength);
    // The body, unread, would be taken for the next request: after one, close.
    respond(code, requestBodyDone_);
    if (!requestBodyDone_) in_.clear();
    return;
  }
  upstreamHead_.clear();
  ForwardedFor fwd{clientIp_, tls_ ? "https" : "http", localPort_};
  appendUpstreamRequest(request_, framing_, fwd, upstreamHead_);
  in_.erase(0, headLength);
  attempts_ = 0;
  responseIn_.clear();
  responseScan_ = 0;
  responseHeadDone_ = false;
  responseStarted_ = false;
  responseDone_ = false;
  backendReusable_ = true;
  connectBackend();
}

void Exchange::connectBackend() {
  ++attempts_;
  const sockaddr_in* ep = upstream_->pick();
  endpoint_ = *ep;
  uint64_t key = endpointKey(endpoint_);
  backend_ = loop_.takeIdle(key);
  reusedBackend_ = backend_ != nullptr;
  if (backend_) {
    // Still registered (edge-triggered, pointing at the socket): it only needs an owner
    // again, and to be tried, since edges that came while idle were let pass.
    backend_->owner = this;
    backend_->readable = backend_->writable = true;
  } else {
    auto s = std::make_unique<Socket>(Socket::Kind::kBackend);
    s->fd = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!s->fd) {
      backendFailed(false);
      return;
    }
    int on = 1;
    ::setsockopt(s->fd.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    s->endpoint = key;
    s->owner = this;
    int r = ::connect(s->fd.get(), reinterpret_cast<const sockaddr*>(&endpoint_), sizeof endpoint_);
    if (r != 0 && errno != EINPROGRESS) {
      backend_ = std::move(s);
      backendFailed(false);
      return;
    }
    if (!loop_.add(*s, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET).ok()) {
      backend_ = std::move(s);
      backendFailed(false);
      return;
    }
    backend_ = std::move(s);
  }
  backend_->out.append(upstreamHead_);
  state_ = reusedBackend_ ? State::kForward : State::kConnecting;
  touch(reusedBackend_ ? loop_.options().backendTimeoutSeconds : loop_.options().connectTimeoutSeconds);
}

bool Exchange::connected() {
  if (!backend_->writable) return false;
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(backend_->fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    log::v(3, "ingress: backend connect failed", {{"backend", upstream_->name}, {"error", std::strerror(err)}});
    backendFailed(false);
    return true;
  }
  state_ = State::kForward;
  touch(loop_.options().backendTimeoutSeconds);
  return true;
}

// A backend connection failed before its response started: try again (a pooled connection
// the backend had closed, or another endpoint), else answer 502/504.
void Exchange::backendFailed(bool timedOut) {
  bool stale = reusedBackend_ && !responseStarted_;
  releaseBackend(false);
  bool canRetry = !responseStarted_ && !requestBodyStarted_ && !timedOut &&
                  (stale || attempts_ < std::min<int>(3, static_cast<int>(upstream_->endpoints.size())));
  if (canRetry) {
    if (stale) --attempts_;  // a stale pooled connection is no failed attempt
    connectBackend();
    return;
  }
  if (responseStarted_) {  // part of a response went out: all the client can learn is a close
    close();
    return;
  }
  log::v(2, "ingress: backend failed", {{"backend", upstream_->name}, {"timedOut", timedOut}});
  if (!requestBodyDone_) {
    clientKeepAlive_ = false;
    in_.clear();
  }
  respond(timedOut ? 504 : 502, true);
}

bool Exchange::forward() {
  bool progress = forwardRequestBody();
  if (state_ != State::kForward) return true;
  if (readResponse()) progress = true;
  return progress;
}

bool Exchange::forwardRequestBody() {
  if (requestBodyDone_) return false;
  bool progress = false;
  for (;;) {
    if (!in_.empty()) {
      std::string_view data = in_;
      size_t used = 0;
      if (framing_.body == http::BodyFraming::kContentLength) {
        used = static_cast<size_t>(std::min<uint64_t>(requestRemaining_, data.size()));
        requestRemaining_ -= used;
        requestBodyDone_ = requestRemaining_ == 0;
      } else {
        scratch_.clear();
        used = requestChunks_->feed(data, scratch_);
        if (requestChunks_->malformed() || requestChunks_->tooLarge()) {
          if (responseStarted_) {
            close();
          } else {
            clientKeepAlive_ = false;
            in_.clear();
            respond(400, false);
          }
          return true;
        }
        requestBodyDone_ = requestChunks_->done();
      }
      backend_->out.append(data.substr(0, used));
      in_.erase(0, used);
      requestBodyStarted_ = true;
      progress = true;
      if (requestBodyDone_) {
        requestChunks_.reset();
        return true;
      }
    }
    if (backend_->pending() >= kHighWater || !client_.readable) return progress;
    size_t n = 0;
    Io io = readInto(client_, in_, kReadChunk, n);
    if (io == Io::kAgain) return progress;
    if (io != Io::kData) {  // the client went away inside its body
      close();
      return false;
    }
    touch(loop_.options().backendTimeoutSeconds);
  }
}

bool Exchange::readResponse() {
  bool progress = false;
  while (!responseDone_ && backend_ && backend_->readable && client_.pending() < kHighWater) {
    size_t n = 0;
    std::string& buf = loop_.scratch();
    buf.clear();
    Io io = readInto(*backend_, buf, kReadChunk, n);
    if (io == Io::kAgain) break;
    if (io == Io::kData) {
      progress = true;
      responseStarted_ = true;
      touch(loop_.options().backendTimeoutSeconds);
      if (state_ == State::kTunnel) {
        client_.out.append(buf);
        continue;
      }
      consumeResponse(buf);
      if (state_ != State::kForward) return true;
      continue;
    }
    // End of the backend's stream (or an error).
    backend_->eof = true;
    if (!responseStarted_) {
      backendFailed(false);
      return true;
    }
    if (responseHeadDone_ && responseFraming_.untilClose && io == Io::kEof) {
      backendReusable_ = false;
      if (responseFraming_.rechunk) client_.out.append("0\r\n\r\n");
      finishResponse();
      return true;
    }
    close();  // a truncated response: the client can only learn of it by a close
    return false;
  }
  return progress;
}

void Exchange::consumeResponse(std::string_view data) {
  while (!data.empty() && state_ == State::kForward) {
    if (!responseHeadDone_) {
      // The head is parsed where it lies when it arrived whole (the usual case), else from
      // the bytes gathered so far.
      std::string joined;
      std::string_view view = data;
      if (!responseIn_.empty()) {
        responseIn_.append(data);
        joined = std::move(responseIn_);
        responseIn_.clear();
        view = joined;
      }
      data = {};
      size_t head = http::findHeadEnd(view, responseScan_);
      if (head == 0) {
        responseScan_ = view.size();
        if (view.size() > kMaxResponseHead) {
          backendFailed(false);
        } else if (joined.empty()) {
          responseIn_.assign(view);
        } else {
          responseIn_ = std::move(joined);
        }
        return;
      }
      bool keepAlive = clientKeepAlive_;
      size_t mark = client_.out.size();
      if (!rewriteResponseHead(view.substr(0, head), framing_.isHead, framing_.http10, keepAlive,
                               responseFraming_, client_.out)) {
        client_.out.resize(mark);
        log::v(2, "ingress: malformed response head", {{"backend", upstream_->name}});
        responseStarted_ = false;
        reusedBackend_ = false;
        attempts_ = 99;  // no retry: the backend answered
        backendFailed(false);
        return;
      }
      std::string_view rest = view.substr(head);  // in `data` or `joined`, alive in this call
      responseScan_ = 0;
      int status = responseFraming_.status;
      if (status == 101) {
        if (!upgrade_) {  // a switch nobody asked for
          client_.out.resize(mark);
          close();
          return;
        }
        state_ = State::kTunnel;
        upstreamHead_.clear();
        client_.out.append(rest);
        backend_->out.append(in_);
        in_.clear();
        touch(loop_.options().tunnelTimeoutSeconds);
        return;
      }
      if (status < 200) {  // 100 Continue and other interim responses: more heads follow
        if (!rest.empty()) consumeResponse(rest);
        return;
      }
      clientKeepAlive_ = keepAlive;
      responseHeadDone_ = true;
      upstreamHead_.clear();
      responseRemaining_ = responseFraming_.contentLength;
      if (responseFraming_.body == http::BodyFraming::kChunked)
        responseChunks_ = std::make_unique<http::ChunkedDecoder>(kBodyLimit, kChunkMetaLimit);
      if (responseFraming_.body == http::BodyFraming::kNone && !responseFraming_.untilClose) {
        if (!rest.empty()) backendReusable_ = false;  // bytes after a bodiless response
        finishResponse();
        return;
      }
      if (!rest.empty()) consumeResponse(rest);
      return;
    }
    // The body.
    if (responseFraming_.untilClose) {
      if (responseFraming_.rechunk) {
        char size[24];
        int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
        client_.out.append(size, static_cast<size_t>(n)).append(data).append("\r\n");
      } else {
        client_.out.append(data);
      }
      return;
    }
    if (responseFraming_.body == http::BodyFraming::kContentLength) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(responseRemaining_, data.size()));
      client_.out.append(data.substr(0, n));
      responseRemaining_ -= n;
      if (n < data.size()) backendReusable_ = false;
      if (responseRemaining_ == 0) finishResponse();
      return;
    }
    size_t used;
    if (responseFraming_.dechunk) {
      used = responseChunks_->feed(data, client_.out);
    } else {
      scratch_.clear();
      used = responseChunks_->feed(data, scratch_);
      client_.out.append(data.substr(0, used));
    }
    if (responseChunks_->malformed() || responseChunks_->tooLarge()) {
      close();
      return;
    }
    if (responseChunks_->done()) {
      if (used < data.size()) backendReusable_ = false;
      finishResponse();
    }
    return;
  }
}

void Exchange::finishResponse() {
  responseDone_ = true;
  responseChunks_.reset();
  if (!requestBodyDone_) {
    // The backend answered before reading the whole body: the rest can be neither forwarded
    // nor told apart from a next request.
    backendReusable_ = false;
    clientKeepAlive_ = false;
    in_.clear();
  }
  releaseBackend(backendReusable_ && responseFraming_.backendKeepAlive);
  routes_.reset();
  upstream_ = nullptr;
  if (clientKeepAlive_) {
    state_ = State::kReadHead;
    touch(loop_.options().keepAliveTimeoutSeconds);
  } else {
    state_ = State::kClosing;
    touch(loop_.options().headerTimeoutSeconds);
  }
}

bool Exchange::tunnel() {
  bool progress = false;
  // Client to backend.
  while (!client_.eof && client_.readable && backend_->pending() < kHighWater) {
    size_t n = 0;
    Io io = readInto(client_, backend_->out, kReadChunk, n);
    if (io == Io::kAgain) break;
    progress = true;
    if (io != Io::kData) {
      client_.eof = true;
      break;
    }
    touch(loop_.options().tunnelTimeoutSeconds);
  }
  if (!flush(*backend_)) {
    close();
    return false;
  }
  if (client_.eof && backend_->pending() == 0 && !backend_->shutdownSent) {
    ::shutdown(backend_->fd.get(), SHUT_WR);
    backend_->shutdownSent = true;
  }
  // Backend to client.
  while (!backend_->eof && backend_->readable && client_.pending() < kHighWater) {
    size_t n = 0;
    Io io = readInto(*backend_, client_.out, kReadChunk, n);
    if (io == Io::kAgain) break;
    progress = true;
    if (io != Io::kData) {
      backend_->eof = true;
      break;
    }
    touch(loop_.options().tunnelTimeoutSeconds);
  }
  if (!flush(client_)) {
    close();
    return false;
  }
  if (backend_->eof && client_.pending() == 0 && !client_.shutdownSent) {
    if (client_.ssl) SSL_shutdown(client_.ssl.get());
    ::shutdown(client_.fd.get(), SHUT_WR);
    client_.shutdownSent = true;
  }
  if (client_.shutdownSent && backend_->shutdownSent) {
    close();
    return false;
  }
  return progress;
}

// After a last response, half-close and drain what the client still sends until it closes:
// closing with unread input would reset the connection and could destroy the response
// before the client reads it.
bool Exchange::lingeringClose() {
  if (client_.pending() > 0) return false;
  if (!client_.shutdownSent) {
    if (client_.ssl) {
      ERR_clear_error();
      SSL_shutdown(client_.ssl.get());
    }
    ::shutdown(client_.fd.get(), SHUT_WR);
    client_.shutdownSent = true;
    touch(5);
  }
  while (client_.readable) {
    std::string& buf = loop_.scratch();
    buf.clear();
    size_t n = 0;
    Io io = client_.ssl ? Io::kError : readInto(client_, buf, kReadChunk, n);
    if (io == Io::kAgain) return false;
    if (io != Io::kData) break;
  }
  if (client_.readable || client_.ssl) close();
  return false;
}

void Exchange::timeout() {
  switch (state_) {
    case State::kHandshake:
    case State::kTunnel:
    case State::kClosing:
      close();
      return;
    case State::kReadHead:
      if (in_.empty() || client_.pending() > 0) {
        close();  // an idle keep-alive connection, or a client not reading its response
      } else {
        clientKeepAlive_ = false;
        respond(408, false);
      }
      return;
    case State::kConnecting:
    case State::kForward:
      if (responseStarted_) {
        close();
      } else {
        backendFailed(true);
        if (client_.pending() > 0) pump();
      }
      return;
    case State::kDead:
      return;
  }
}

// --- IngressProxy ---

Result<UniqueFd> listenOn(const std::string& address, int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return Error::fromErrno("socket", errno);
  int on = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1)
    return Error(ErrorCode::kInvalid, "bad bind address " + address);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    return Error::fromErrno("bind " + address + ":" + std::to_string(port), errno);
  if (::listen(fd.get(), 4096) != 0) return Error::fromErrno("listen", errno);
  return fd;
}

int boundPort(int fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  return ntohs(sa.sin_port);
}

class IngressProxyImpl final : public IngressProxy {
 public:
  explicit IngressProxyImpl(const ProxyOptions& options) : options_(options) {}
  ~IngressProxyImpl() override { stop(); }

  Result<void> start(std::shared_ptr<const CertificateStore> certificates) {
    config_.routes = std::make_shared<RouteTable>();
    config_.certificates = std::move(certificates);
    if (options_.httpsPort >= 0 && !config_.certificates)
      return Error(ErrorCode::kInvalid, "the TLS listener needs certificates");
    int threads = options_.threads > 0 ? options_.threads
                                       : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    for (int i = 0; i < threads; ++i) {
      UniqueFd http, https;
      if (options_.httpPort >= 0) {
        http = TRY(listenOn(options_.bindAddress, httpPort_ > 0 ? httpPort_ : options_.httpPort));
        httpPort_ = boundPort(http.get());
      }
      if (options_.httpsPort >= 0) {
        https = TRY(listenOn(options_.bindAddress, httpsPort_ > 0 ? httpsPort_ : options_.httpsPort));
        httpsPort_ = boundPort(https.get());
      }
      auto loop = std::make_unique<Loop>(options_, generation_, mu_, config_);
      TRY(loop->init(std::move(http), std::move(https), httpPort_, httpsPort_));
      loops_.push_back(std::move(loop));
    }
    for (auto& loop : loops_) threads_.emplace_back([l = loop.get()] { l->run(); });
    return {};
  }

  void update(std::shared_ptr<const RouteTable> routes,
              std::shared_ptr<const CertificateStore> certificates) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (routes) config_.routes = std::move(routes);
    if (certificates) config_.certificates = std::move(certificates);
    generation_.fetch_add(1, std::memory_order_release);
  }

  int httpPort() const override { return options_.httpPort >= 0 ? httpPort_ : -1; }
  int httpsPort() const override { return options_.httpsPort >= 0 ? httpsPort_ : -1; }

  void stop() override {
    for (auto& loop : loops_) loop->wake();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    threads_.clear();
    loops_.clear();
  }

 private:
  ProxyOptions options_;
  std::mutex mu_;
  Config config_;  // guarded by mu_
  std::atomic<uint64_t> generation_{0};
  int httpPort_ = 0, httpsPort_ = 0;
  std::vector<std::unique_ptr<Loop>> loops_;
  std::vector<std::thread> threads_;
};

}  // namespace

Result<std::unique_ptr<IngressProxy>> IngressProxy::start(
    const ProxyOptions& options, std::shared_ptr<const CertificateStore> certificates) {
  auto proxy = std::make_unique<IngressProxyImpl>(options);
  TRY(proxy->start(std::move(certificates)));
  return std::unique_ptr<IngressProxy>(std::move(proxy));
}

}  // namespace nave::ingress
