// NetlinkSocket: the owner of one libmnl socket (NETLINK_ROUTE for links, addresses and
// routes; NETLINK_NETFILTER for nftables), with request/acknowledgement and dump exchanges
// and the kernel's extended error messages folded into the returned Error.
//
// A netlink socket acts on the network namespace it was opened in, whichever thread uses it
// later. Not thread-safe: replies are matched to requests by sequence number, so one exchange
// at a time (callers serialise).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

struct mnl_socket;
struct nlmsghdr;

namespace nave::network {

class NetnsHandle;

// A netlink error: the errno the kernel returned for one message and its extended-ack text.
struct NetlinkReply {
  uint32_t seq = 0;
  int error = 0;        // 0: acknowledged
  std::string message;  // the kernel's extack message, often empty
};

// "what: strerror(err) (extack)"; ENODEV, ESRCH and EADDRNOTAVAIL map to kNotFound like ENOENT.
Error netlinkError(std::string_view what, int err, const std::string& extack = {});

class NetlinkSocket {
 public:
  // A socket of `protocol` in the calling thread's network namespace.
  static Result<NetlinkSocket> open(int protocol);
  // A socket in `ns` (opened from a short-lived thread that joins it).
  static Result<NetlinkSocket> openIn(int protocol, const NetnsHandle& ns);

  NetlinkSocket(NetlinkSocket&&) noexcept;
  NetlinkSocket& operator=(NetlinkSocket&&) noexcept;
  ~NetlinkSocket();

  uint32_t nextSeq() { return ++seq_; }

  // Called with each data message of a reply; returns false to report a malformed reply.
  using MessageHandler = std::function<bool(const nlmsghdr*)>;

  // Sends the request `nlh` (flags: NLM_F_REQUEST|NLM_F_ACK are added, a sequence number is
  // assigned) and waits for its acknowledgement, passing data replies (e.g. NLM_F_ECHO, or a
  // GET without NLM_F_DUMP) to `onMessage`. The kernel's error is returned as such.
  Result<void> request(nlmsghdr* nlh, const MessageHandler& onMessage = {});
  // Sends the dump request `nlh` (NLM_F_REQUEST|NLM_F_DUMP added) and passes every reply
  // message to `onMessage` until the dump ends.
  Result<void> dump(nlmsghdr* nlh, const MessageHandler& onMessage);

  // Batches (nftables): sends `len` bytes as one datagram (raising the send buffer to fit),
  // then collects the replies already queued. The kernel processes a netlink batch within
  // sendmsg(2), so every acknowledgement and error it will send is queued when this returns.
  Result<std::vector<NetlinkReply>> sendBatch(const void* data, size_t len);

 private:
  explicit NetlinkSocket(mnl_socket* nl);
  Result<void> send(const void* data, size_t len);
  // Receives the replies to `seq`: until its acknowledgement (a request) or NLMSG_DONE (a
  // dump), or an error.
  Result<void> receive(uint32_t seq, bool isDump, const MessageHandler& onMessage);

  mnl_socket* nl_ = nullptr;
  uint32_t portId_ = 0;
  uint32_t seq_ = 0;
  std::unique_ptr<char[]> buf_;  // receive buffer
};

}  // namespace nave::network
