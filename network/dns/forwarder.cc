#include "network/dns/forwarder.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "common/fd.h"
#include "common/log.h"

namespace nave::dns {
namespace {

using Clock = std::chrono::steady_clock;

std::string keyOf(const Question& q) {
  return q.key + '\0' + std::to_string(q.type) + '/' + std::to_string(q.cls);
}

bool sameAddress(const sockaddr_in& a, const sockaddr_in& b) {
  return a.sin_addr.s_addr == b.sin_addr.s_addr && a.sin_port == b.sin_port;
}

// One query over TCP (RFC 7766: a two-byte length before each message), within `timeoutMs`.
Result<std::string> tcpExchange(const sockaddr_in& to, const std::string& wire, int timeoutMs) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return Error::fromErrno("socket", errno);
  Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
  auto wait = [&](short events) -> Result<void> {
    int ms =
        int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    pollfd p{fd.get(), events, 0};
    if (ms <= 0 || ::poll(&p, 1, ms) != 1)
      return Error(ErrorCode::kTimeout, "upstream TCP exchange timed out");
    return {};
  };
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0 &&
      errno != EINPROGRESS)
    return Error::fromErrno("connect", errno);
  std::string out;
  out += char(wire.size() >> 8);
  out += char(wire.size() & 0xff);
  out += wire;
  for (size_t sent = 0; sent < out.size();) {
    TRY(wait(POLLOUT));
    ssize_t n = ::send(fd.get(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN) return Error::fromErrno("send", errno);
    if (n > 0) sent += size_t(n);
  }
  std::string in;
  for (;;) {
    if (in.size() >= 2) {
      size_t len = size_t(uint8_t(in[0])) << 8 | uint8_t(in[1]);
      if (in.size() >= 2 + len) return in.substr(2, len);
    }
    TRY(wait(POLLIN));
    char buf[4096];
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n == 0) return Error(ErrorCode::kUnavailable, "upstream closed the connection");
    if (n < 0 && errno != EAGAIN) return Error::fromErrno("recv", errno);
    if (n > 0) in.append(buf, size_t(n));
  }
}

class ForwarderImpl : public Forwarder {
 public:
  ForwarderImpl(ForwarderOptions o, ResponseCache& cache) : options_(std::move(o)), cache_(cache) {
    nextId_ = uint16_t(std::random_device{}());
  }
  ~ForwarderImpl() override { stop(); }

  Result<void> start() {
    wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake_) return Error::fromErrno("eventfd", errno);
    sock_.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!sock_) return Error::fromErrno("socket", errno);
    thread_ = std::thread([this] { run(); });
    return {};
  }

  void resolve(const Question& q, Done done) override {
    {
      std::lock_guard lock(mu_);
      if (queue_.size() < options_.maxPending && !options_.upstreams.empty()) {
        queue_.emplace_back(q, std::move(done));
        uint64_t one = 1;
        (void)!::write(wake_.get(), &one, sizeof one);
        return;
      }
    }
    Answer failed;
    failed.rcode = kServFail;
    done(failed);
  }

  void stop() override {
    if (!thread_.joinable()) return;
    stopping_ = true;
    uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof one);
    thread_.join();
  }

 private:
  struct Pending {
    Question q;
    std::vector<Done> waiters;
    size_t upstream = 0;
    Clock::time_point deadline;
    std::string wire;
  };

  void run() {
    while (!stopping_) {
      int timeout = -1;
      Clock::time_point now = Clock::now();
      for (const auto& [_, p] : pending_) {
        int ms =
            int(std::chrono::duration_cast<std::chrono::milliseconds>(p.deadline - now).count()) +
            1;
        timeout = timeout < 0 ? std::max(ms, 0) : std::min(timeout, std::max(ms, 0));
      }
      pollfd fds[2] = {{wake_.get(), POLLIN, 0}, {sock_.get(), POLLIN, 0}};
      if (::poll(fds, 2, timeout) < 0 && errno != EINTR) {
        log::error("DNS forwarder poll failed", {{"errno", errno}});
        return;
      }
      if (stopping_) return;
      if (fds[0].revents & POLLIN) takeQueue();
      if (fds[1].revents & POLLIN) receive();
      expire();
    }
  }

  void takeQueue() {
    uint64_t n;
    (void)!::read(wake_.get(), &n, sizeof n);
    std::vector<std::pair<Question, Done>> queue;
    {
      std::lock_guard lock(mu_);
      queue.swap(queue_);
    }
    for (auto& [q, done] : queue) {
      std::string key = keyOf(q);
      if (auto it = byKey_.find(key); it != byKey_.end()) {
        pending_[it->second].waiters.push_back(std::move(done));
        continue;
      }
      while (pending_.count(++nextId_)) {
      }
      Pending& p = pending_[nextId_];
      p.q = q;
      p.waiters.push_back(std::move(done));
      p.wire = encodeQuery(nextId_, q, 1232);
      byKey_[key] = nextId_;
      if (p.wire.empty()) {
        finish(nextId_, kServFail);
        continue;
      }
      send(p);
    }
  }

  void send(Pending& p) {
    const sockaddr_in& to = options_.upstreams[p.upstream];
    p.deadline = Clock::now() + std::chrono::milliseconds(options_.timeoutMs);
    if (::sendto(sock_.get(), p.wire.data(), p.wire.size(), 0,
                 reinterpret_cast<const sockaddr*>(&to), sizeof to) < 0)
      p.deadline = Clock::now();  // unreachable: try the next one now
  }

  void receive() {
    char buf[65536];
    for (;;) {
      sockaddr_in from{};
      socklen_t len = sizeof from;
      ssize_t n =
          ::recvfrom(sock_.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 0) return;
      auto resp = parseResponse(std::string_view(buf, size_t(n)));
      if (!resp.ok()) continue;
      auto it = pending_.find(resp->id);
      if (it == pending_.end()) continue;
      Pending& p = it->second;
      // Only the upstream asked may answer, and only the question asked (RFC 5452).
      if (!sameAddress(from, options_.upstreams[p.upstream]) || resp->question.key != p.q.key ||
          resp->question.type != p.q.type)
        continue;
      if (resp->truncated()) {
        auto tcp = tcpExchange(options_.upstreams[p.upstream], p.wire, options_.timeoutMs);
        if (tcp.ok()) resp = parseResponse(*tcp);
        if (!tcp.ok() || !resp.ok() || resp->id != it->first) {
          p.deadline = Clock::now();  // this upstream failed: the next one
          continue;
        }
      }
      cache_.store(p.q, resp->answer);
      complete(it->first, resp->answer);
    }
  }

  void expire() {
    Clock::time_point now = Clock::now();
    std::vector<uint16_t> failed;
    for (auto& [id, p] : pending_) {
      if (p.deadline > now) continue;
      if (++p.upstream < options_.upstreams.size()) {
        send(p);
        continue;
      }
      failed.push_back(id);
    }
    for (uint16_t id : failed) {
      log::v(1, "no upstream DNS server answered", {{"name", pending_[id].q.name}});
      finish(id, kServFail);
    }
  }

  void finish(uint16_t id, uint8_t rcode) {
    Answer a;
    a.rcode = rcode;
    complete(id, a);
  }

  void complete(uint16_t id, const Answer& a) {
    auto node = pending_.extract(id);
    byKey_.erase(keyOf(node.mapped().q));
    for (Done& d : node.mapped().waiters) d(a);
  }

  ForwarderOptions options_;
  ResponseCache& cache_;
  UniqueFd wake_, sock_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::vector<std::pair<Question, Done>> queue_;  // guarded by mu_
  // The forwarder thread's own:
  std::unordered_map<uint16_t, Pending> pending_;
  std::unordered_map<std::string, uint16_t> byKey_;
  uint16_t nextId_ = 0;
};

}  // namespace

Result<std::unique_ptr<Forwarder>> Forwarder::start(ForwarderOptions options,
                                                    ResponseCache& cache) {
  auto f = std::make_unique<ForwarderImpl>(std::move(options), cache);
  TRY(f->start());
  return std::unique_ptr<Forwarder>(std::move(f));
}

Result<sockaddr_in> parseUpstream(const std::string& s) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  std::string host = s;
  int port = 53;
  if (size_t colon = s.find(':'); colon != std::string::npos) {
    host = s.substr(0, colon);
    port = std::atoi(s.c_str() + colon + 1);
  }
  if (port <= 0 || port > 65535 || ::inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1)
    return Error(ErrorCode::kInvalid, "bad DNS upstream \"" + s + "\"");
  sa.sin_port = htons(uint16_t(port));
  return sa;
}

std::vector<sockaddr_in> readResolvConf(const std::string& path) {
  std::vector<sockaddr_in> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string keyword, address;
    if (!(words >> keyword >> address) || keyword != "nameserver") continue;
    if (auto sa = parseUpstream(address); sa.ok() && address.find(':') == std::string::npos)
      out.push_back(*sa);
  }
  if (out.empty()) {
    log::warning("no IPv4 nameserver in the resolv.conf file: forwarding to 8.8.8.8",
                 {{"path", path}});
    out.push_back(*parseUpstream("8.8.8.8"));
  }
  return out;
}

}  // namespace nave::dns
