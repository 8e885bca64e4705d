#include "network/dns/dns_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "common/log.h"

namespace nave::dns {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxTcpConnections = 256;
constexpr auto kTcpIdle = std::chrono::seconds(10);

// Where a reply goes: a UDP client (the socket it asked on and its address) or a TCP connection.
struct ReplyTo {
  int udpFd = -1;
  sockaddr_in peer{};
  uint64_t conn = 0;
};

Result<UniqueFd> bindSocket(int type, const sockaddr_in& sa) {
  UniqueFd fd(::socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return Error::fromErrno("socket", errno);
  int on = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (type == SOCK_DGRAM) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0)
    return Error::fromErrno(
        "bind DNS " + std::string(type == SOCK_DGRAM ? "UDP" : "TCP") + " socket", errno);
  if (type == SOCK_STREAM && ::listen(fd.get(), 128) != 0) return Error::fromErrno("listen", errno);
  return fd;
}

class DnsServerImpl : public DnsServer {
 public:
  DnsServerImpl(const ClusterZone& zone, const ResponseCache& cache,
                std::unique_ptr<Forwarder> forwarder)
      : zone_(zone), cache_(cache), forwarder_(std::move(forwarder)) {}
  ~DnsServerImpl() override { stop(); }

  Result<void> start(const DnsServerOptions& o) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(o.port);
    if (::inet_pton(AF_INET, o.address.c_str(), &sa.sin_addr) != 1)
      return Error(ErrorCode::kInvalid, "bad DNS listen address \"" + o.address + "\"");
    int threads = o.udpThreads > 0 ? o.udpThreads
                                   : std::clamp(int(std::thread::hardware_concurrency()), 1, 4);
    stopFd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    tcpWake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!stopFd_ || !tcpWake_ || !epoll_) return Error::fromErrno("eventfd/epoll", errno);
    for (int i = 0; i < threads; i++) udp_.push_back(TRY(bindSocket(SOCK_DGRAM, sa)));
    tcp_ = TRY(bindSocket(SOCK_STREAM, sa));
    for (auto [fd, id] : {std::pair{tcp_.get(), kListenerId},
                          {tcpWake_.get(), kWakeId},
                          {stopFd_.get(), kStopId}}) {
      epoll_event ev{EPOLLIN, {.u64 = id}};
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
    }
    for (const UniqueFd& fd : udp_) threads_.emplace_back([this, fd = fd.get()] { udpLoop(fd); });
    threads_.emplace_back([this] { tcpLoop(); });
    log::info("The cluster DNS server is listening",
              {{"address", o.address}, {"port", int(o.port)}, {"udpThreads", threads}});
    return {};
  }

  void stop() override {
    if (stopped_.exchange(true)) return;
    if (forwarder_) forwarder_->stop();  // no more replies from its thread
    uint64_t one = 1;
    if (stopFd_) (void)!::write(stopFd_.get(), &one, sizeof one);
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

 private:
  static constexpr uint64_t kListenerId = 0, kWakeId = 1, kStopId = 2;

  struct Handled {
    std::string reply;  // empty: none now
    bool forwarded = false;
  };

  Handled handle(std::string_view wire, const ReplyTo& to) {
    BadQuery bad;
    auto parsed = parseQuery(wire, &bad);
    if (!parsed.ok()) return {bad.valid ? encodeFormErr(bad) : std::string()};
    const Query& q = *parsed;
    size_t limit = to.udpFd < 0 ? 65535
                   : q.edns     ? std::clamp<size_t>(q.udpSize, kClassicUdpSize, kMaxUdpSize)
                                : kClassicUdpSize;
    if (q.opcode() != 0) return {encodeError(q, kNotImp)};
    if (auto a = zone_.lookup(q.question)) {
      // CoreDNS' `loadbalance` (k3s' Corefile): the addresses in turn, not always the first.
      thread_local uint32_t turn = 0;
      if (a->answer.size() > 1 && a->answer[0].type == kTypeA && a->answer.back().type == kTypeA)
        std::rotate(a->answer.begin(), a->answer.begin() + (turn++ % a->answer.size()),
                    a->answer.end());
      if (!chasesCname(q, *a)) return {encodeResponse(q, *a, limit)};
      // An ExternalName Service: the target's records too, as CoreDNS adds them (stub
      // resolvers such as glibc's do not follow a CNAME themselves).
      std::string target = lowercase(nameFromRdata(a->answer.back().rdata));
      Question tq{target, target, q.question.type, q.question.cls};
      std::optional<Answer> t = zone_.lookup(tq);
      if (!t) t = cache_.get(tq);
      if (t || !forwarder_) return {encodeResponse(q, withTarget(*a, t ? *t : Answer{}), limit)};
      forwarder_->resolve(tq, [this, to, q, limit, a = *a](const Answer& t) {
        replyLater(to, encodeResponse(q, withTarget(a, t), limit));
      });
      return {"", true};
    }
    std::string cached;
    if (cache_.visit(q.question, [&](const Answer& a, uint32_t age) {
          cached = encodeResponse(q, a, limit, age);
        }))
      return {std::move(cached)};
    if (!forwarder_) return {encodeError(q, kServFail)};
    forwarder_->resolve(q.question, [this, to, q, limit](const Answer& a) {
      std::string reply = a.rcode == kServFail && a.answer.empty() ? encodeError(q, kServFail)
                                                                   : encodeResponse(q, a, limit);
      replyLater(to, std::move(reply));
    });
    return {"", true};
  }

  static bool chasesCname(const Query& q, const Answer& a) {
    return q.question.type != kTypeCname && q.question.type != kTypeAny && !a.answer.empty() &&
           a.answer.back().type == kTypeCname;
  }

  // The CNAME answer `a` followed by its target's answer (RFC 6604: the rcode is the target's;
  // a target that failed leaves the CNAME alone).
  static Answer withTarget(Answer a, const Answer& target) {
    if (target.rcode != kNoError && target.rcode != kNxDomain) return a;
    a.rcode = target.rcode;
    a.answer.insert(a.answer.end(), target.answer.begin(), target.answer.end());
    if (a.answer.size() == 1) a.authority = target.authority;
    return a;
  }

  // From the forwarder's thread.
  void replyLater(const ReplyTo& to, std::string reply) {
    if (to.udpFd >= 0) {
      ::sendto(to.udpFd, reply.data(), reply.size(), 0, reinterpret_cast<const sockaddr*>(&to.peer),
               sizeof to.peer);
      return;
    }
    std::lock_guard lock(outboxMu_);
    outbox_.emplace_back(to.conn, std::move(reply));
    uint64_t one = 1;
    (void)!::write(tcpWake_.get(), &one, sizeof one);
  }

  void udpLoop(int fd) {
    constexpr int kBatch = 32;
    constexpr size_t kBuf = 4096;
    std::vector<char> buffers(kBatch * kBuf);
    mmsghdr in[kBatch], out[kBatch];
    iovec inIov[kBatch], outIov[kBatch];
    sockaddr_in peers[kBatch];
    std::string replies[kBatch];
    while (!stopped_) {
      pollfd fds[2] = {{fd, POLLIN, 0}, {stopFd_.get(), POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0 && errno != EINTR) break;
      if (fds[1].revents) break;
      for (;;) {
        for (int i = 0; i < kBatch; i++) {
          inIov[i] = {buffers.data() + i * kBuf, kBuf};
          in[i].msg_hdr = {};
          in[i].msg_hdr.msg_name = &peers[i];
          in[i].msg_hdr.msg_namelen = sizeof peers[i];
          in[i].msg_hdr.msg_iov = &inIov[i];
          in[i].msg_hdr.msg_iovlen = 1;
        }
        int n = ::recvmmsg(fd, in, kBatch, MSG_DONTWAIT, nullptr);
        if (n <= 0) break;
        int m = 0;
        for (int i = 0; i < n; i++) {
          ReplyTo to{fd, peers[i], 0};
          replies[m] = handle(std::string_view(buffers.data() + i * kBuf, in[i].msg_len), to).reply;
          if (replies[m].empty()) continue;
          outIov[m] = {replies[m].data(), replies[m].size()};
          out[m].msg_hdr = {};
          out[m].msg_hdr.msg_name = &peers[i];
          out[m].msg_hdr.msg_namelen = sizeof peers[i];
          out[m].msg_hdr.msg_iov = &outIov[m];
          out[m].msg_hdr.msg_iovlen = 1;
          m++;
        }
        for (int sent = 0; sent < m;) {
          int k = ::sendmmsg(fd, out + sent, unsigned(m - sent), 0);
          if (k <= 0) break;  // a full socket buffer: the client asks again
          sent += k;
        }
        if (n < kBatch) break;
      }
    }
  }

  struct Conn {
    UniqueFd fd;
    std::string in, out;
    Clock::time_point lastActive;
    int pending = 0;  // forwarded queries not answered yet
    bool peerClosed = false;
    uint32_t events = EPOLLIN;  // registered with epoll
  };

  void tcpLoop() {
    std::map<uint64_t, Conn> conns;
    uint64_t nextId = 3;
    epoll_event events[64];
    for (;;) {
      Clock::time_point now = Clock::now();
      int timeout = -1;
      for (const auto& [id, c] : conns) {
        int ms =
            int(std::chrono::duration_cast<std::chrono::milliseconds>(c.lastActive + kTcpIdle - now)
                    .count());
        timeout = std::max(0, timeout < 0 ? ms : std::min(timeout, ms));
      }
      int n = ::epoll_wait(epoll_.get(), events, 64, timeout);
      if (n < 0 && errno != EINTR) return;
      now = Clock::now();
      for (int i = 0; i < n; i++) {
        uint64_t id = events[i].data.u64;
        if (id == kStopId) return;
        if (id == kListenerId) {
          for (;;) {
            UniqueFd fd(::accept4(tcp_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
            if (!fd) break;
            if (conns.size() >= kMaxTcpConnections) continue;  // closed at once
            epoll_event ev{EPOLLIN, {.u64 = nextId}};
            ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd.get(), &ev);
            Conn& c = conns[nextId++];
            c.fd = std::move(fd);
            c.lastActive = now;
          }
        } else if (id == kWakeId) {
          uint64_t v;
          (void)!::read(tcpWake_.get(), &v, sizeof v);
          std::vector<std::pair<uint64_t, std::string>> outbox;
          {
            std::lock_guard lock(outboxMu_);
            outbox.swap(outbox_);
          }
          for (auto& [connId, reply] : outbox) {
            auto it = conns.find(connId);
            if (it == conns.end()) continue;
            it->second.pending--;
            queueWrite(it->second, reply);
            it->second.lastActive = now;
          }
        } else if (auto it = conns.find(id); it != conns.end()) {
          Conn& c = it->second;
          c.lastActive = now;
          if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) readConn(id, c);
        }
      }
      // Flush, and close what is finished, broken or idle.
      for (auto it = conns.begin(); it != conns.end();) {
        Conn& c = it->second;
        bool ok = flush(it->first, c);
        bool done = c.peerClosed && c.out.empty() && c.pending == 0;
        bool idle = c.pending == 0 && now - c.lastActive >= kTcpIdle;
        if (!ok || done || idle) {
          it = conns.erase(it);  // closing the fd removes it from the epoll set
        } else {
          ++it;
        }
      }
    }
  }

  void readConn(uint64_t id, Conn& c) {
    char buf[16384];
    for (;;) {
      ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        c.peerClosed = true;
        break;
      }
      if (n < 0) break;
      c.in.append(buf, size_t(n));
    }
    size_t at = 0;
    while (c.in.size() - at >= 2) {
      size_t len = size_t(uint8_t(c.in[at])) << 8 | uint8_t(c.in[at + 1]);
      if (c.in.size() - at - 2 < len) break;
      Handled h = handle(std::string_view(c.in).substr(at + 2, len), ReplyTo{-1, {}, id});
      if (h.forwarded) c.pending++;
      if (!h.reply.empty()) queueWrite(c, h.reply);
      at += 2 + len;
    }
    c.in.erase(0, at);
  }

  static void queueWrite(Conn& c, const std::string& reply) {
    c.out += char(reply.size() >> 8);
    c.out += char(reply.size() & 0xff);
    c.out += reply;
  }

  // Sends what is queued; false when the connection broke.
  bool flush(uint64_t id, Conn& c) {
    while (!c.out.empty()) {
      ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EAGAIN) break;
      if (n <= 0) return false;
      c.out.erase(0, size_t(n));
    }
    // A closed peer stays readable: stop listening for it, or the loop would spin.
    uint32_t events =
        (c.peerClosed ? 0u : uint32_t(EPOLLIN)) | (c.out.empty() ? 0u : uint32_t(EPOLLOUT));
    if (events != c.events) {
      c.events = events;
      epoll_event ev{events, {.u64 = id}};
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
    }
    return true;
  }

  const ClusterZone& zone_;
  const ResponseCache& cache_;
  std::unique_ptr<Forwarder> forwarder_;
  std::atomic<bool> stopped_{false};
  UniqueFd stopFd_, tcpWake_, epoll_, tcp_;
  std::vector<UniqueFd> udp_;
  std::vector<std::thread> threads_;
  std::mutex outboxMu_;
  std::vector<std::pair<uint64_t, std::string>> outbox_;  // guarded by outboxMu_
};

}  // namespace

Result<std::unique_ptr<DnsServer>> DnsServer::start(const DnsServerOptions& options,
                                                    const ClusterZone& zone,
                                                    const ResponseCache& cache,
                                                    std::unique_ptr<Forwarder> forwarder) {
  auto s = std::make_unique<DnsServerImpl>(zone, cache, std::move(forwarder));
  TRY(s->start(options));
  return std::unique_ptr<DnsServer>(std::move(s));
}

}  // namespace nave::dns
