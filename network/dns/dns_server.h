// DnsServer: answers DNS over UDP and TCP on one address: names of the cluster zone from the
// ClusterZone, other names from the ResponseCache or through the Forwarder.
//
// UDP: one SO_REUSEPORT socket and thread per core (the kernel spreads the clients over them),
// datagrams read and answered in batches (recvmmsg/sendmmsg). Answers fit the client's EDNS0
// payload size (512 bytes without EDNS0) or come back truncated (TC). TCP: one thread with
// epoll for every connection, several length-prefixed queries per connection, idle ones
// closed after 10 s. Malformed queries get FORMERR; responses sent to us get nothing.
//
// Thread-safe; stop() (or the destructor) ends every thread, the forwarder's first.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "network/dns/cache.h"
#include "network/dns/forwarder.h"
#include "network/dns/zone.h"

namespace nave::dns {

struct DnsServerOptions {
  std::string address;  // IPv4 to listen on
  uint16_t port = 53;
  int udpThreads = 0;  // 0: one per CPU (at most 4)
};

class DnsServer {
 public:
  // Binds the sockets (in the calling thread's network namespace) and starts the threads.
  // `zone` and `cache` must outlive the server; `forwarder` may be null (then names outside
  // the zone that are not cached get SERVFAIL). Errors: kInvalid (address), or the bind's.
  static Result<std::unique_ptr<DnsServer>> start(const DnsServerOptions& options,
                                                  const ClusterZone& zone,
                                                  const ResponseCache& cache,
                                                  std::unique_ptr<Forwarder> forwarder);
  virtual ~DnsServer() = default;
  virtual void stop() = 0;
};

}  // namespace nave::dns
