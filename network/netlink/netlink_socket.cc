#include "network/netlink/netlink_socket.h"

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "network/netlink/netns.h"

namespace nave::network {

namespace {

// Big enough for any single message of a dump (the kernel sizes dump skbs up to 32 kB, more
// when the receive buffer allows; 64 kB is what iproute2 uses).
constexpr size_t kReceiveBufferSize = 64 * 1024;

// The errno and extack message of an NLMSG_ERROR message; false when malformed.
bool parseError(const nlmsghdr* nlh, int& err, std::string& message) {
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nlmsgerr))) return false;
  const auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  err = -e->error;
  message.clear();
  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) return true;
  size_t offset = sizeof(nlmsgerr);
  // Without NETLINK_CAP_ACK the whole request is echoed before the attributes.
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) offset += e->msg.nlmsg_len - sizeof(nlmsghdr);
  if (mnl_nlmsg_size(offset) > nlh->nlmsg_len) return true;
  mnl_attr_parse(
      nlh, static_cast<unsigned>(offset),
      [](const nlattr* attr, void* data) -> int {
        if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
            mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0) {
          *static_cast<std::string*>(data) = mnl_attr_get_str(attr);
        }
        return MNL_CB_OK;
      },
      &message);
  return true;
}

}  // namespace

Error netlinkError(std::string_view what, int err, const std::string& extack) {
  Error e = Error::fromErrno(what, err);
  // No such device, route (ESRCH) or address (EADDRNOTAVAIL): all "not found" to callers.
  if (err == ENODEV || err == ESRCH || err == EADDRNOTAVAIL)
    e = Error(ErrorCode::kNotFound, e.message());
  if (!extack.empty()) e = Error(e.code(), e.message() + " (" + extack + ")");
  return e;
}

NetlinkSocket::NetlinkSocket(mnl_socket* nl)
    : nl_(nl), portId_(mnl_socket_get_portid(nl)), buf_(new char[kReceiveBufferSize]) {}

NetlinkSocket::NetlinkSocket(NetlinkSocket&& other) noexcept
    : nl_(std::exchange(other.nl_, nullptr)),
      portId_(other.portId_),
      seq_(other.seq_),
      buf_(std::move(other.buf_)) {}

NetlinkSocket& NetlinkSocket::operator=(NetlinkSocket&& other) noexcept {
  if (this != &other) {
    if (nl_) mnl_socket_close(nl_);
    nl_ = std::exchange(other.nl_, nullptr);
    portId_ = other.portId_;
    seq_ = other.seq_;
    buf_ = std::move(other.buf_);
  }
  return *this;
}

NetlinkSocket::~NetlinkSocket() {
  if (nl_) mnl_socket_close(nl_);
}

Result<NetlinkSocket> NetlinkSocket::open(int protocol) {
  mnl_socket* nl = mnl_socket_open2(protocol, SOCK_CLOEXEC);
  if (!nl) return Error::fromErrno("open netlink socket", errno);
  NetlinkSocket sock(nl);  // owns it from here
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
    return Error::fromErrno("bind netlink socket", errno);
  sock.portId_ = mnl_socket_get_portid(nl);
  // Best effort: error messages from the kernel, without the echoed request.
  int on = 1;
  (void)mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &on, sizeof on);
  (void)mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &on, sizeof on);
  return sock;
}

Result<NetlinkSocket> NetlinkSocket::openIn(int protocol, const NetnsHandle& ns) {
  return runInNetns(ns, [&] { return open(protocol); });
}

Result<void> NetlinkSocket::send(const void* data, size_t len) {
  ssize_t n = mnl_socket_sendto(nl_, data, len);
  if (n < 0) return Error::fromErrno("netlink send", errno);
  if (static_cast<size_t>(n) != len)
    return Error(ErrorCode::kInternal, "netlink send: short write");
  return {};
}

Result<void> NetlinkSocket::request(nlmsghdr* nlh, const MessageHandler& onMessage) {
  nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = nextSeq();
  TRY(send(nlh, nlh->nlmsg_len));
  return receive(nlh->nlmsg_seq, false, onMessage);
}

Result<void> NetlinkSocket::dump(nlmsghdr* nlh, const MessageHandler& onMessage) {
  nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = nextSeq();
  TRY(send(nlh, nlh->nlmsg_len));
  return receive(nlh->nlmsg_seq, true, onMessage);
}

Result<void> NetlinkSocket::receive(uint32_t seq, bool isDump, const MessageHandler& onMessage) {
  bool interrupted = false;
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl_, buf_.get(), kReceiveBufferSize);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::fromErrno("netlink receive", errno);
    }
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf_.get()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      // Replies to an earlier exchange that gave up (none do today) or to someone else.
      if (nlh->nlmsg_seq != seq || (nlh->nlmsg_pid != 0 && nlh->nlmsg_pid != portId_)) continue;
      if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
      switch (nlh->nlmsg_type) {
        case NLMSG_NOOP:
          continue;
        case NLMSG_ERROR: {
          int err = 0;
          std::string message;
          if (!parseError(nlh, err, message))
            return Error(ErrorCode::kInternal, "netlink: malformed error message");
          if (err != 0) return netlinkError("netlink", err, message);
          if (!isDump) return {};
          continue;
        }
        case NLMSG_DONE: {
          if (!isDump) continue;
          // A dump may end with an error in NLMSG_DONE's payload.
          if (nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(int))) {
            int err = *static_cast<const int*>(mnl_nlmsg_get_payload(nlh));
            if (err < 0) return netlinkError("netlink dump", -err);
          }
          // The kernel's tables changed while it was dumping them: the caller should retry.
          if (interrupted) return Error(ErrorCode::kUnavailable, "netlink dump was interrupted");
          return {};
        }
        default:
          if (onMessage && !onMessage(nlh))
            return Error(ErrorCode::kInternal, "netlink: malformed reply");
      }
    }
  }
}

Result<std::vector<NetlinkReply>> NetlinkSocket::sendBatch(const void* data, size_t len) {
  int fd = mnl_socket_get_fd(nl_);
  int sndbuf = 0;
  socklen_t optlen = sizeof sndbuf;
  // netlink refuses a datagram larger than the send buffer (EMSGSIZE).
  if (::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &optlen) == 0 &&
      static_cast<size_t>(sndbuf) < len + 1024) {
    int want = static_cast<int>(len + 1024);
    if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want) != 0)
      (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
  }
  TRY(send(data, len));
  std::vector<NetlinkReply> replies;
  for (;;) {
    ssize_t n = ::recv(fd, buf_.get(), kReceiveBufferSize, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      // ENOBUFS: more errors than the receive buffer holds; the batch failed regardless.
      return Error::fromErrno("netlink receive", errno);
    }
    int left = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf_.get()); mnl_nlmsg_ok(nlh, left);
         nlh = mnl_nlmsg_next(nlh, &left)) {
      if (nlh->nlmsg_type != NLMSG_ERROR) continue;
      NetlinkReply r;
      r.seq = nlh->nlmsg_seq;
      if (!parseError(nlh, r.error, r.message))
        return Error(ErrorCode::kInternal, "netlink: malformed error message");
      replies.push_back(std::move(r));
    }
  }
  return replies;
}

}  // namespace nave::network
