// Forwarder: resolves names outside the cluster zone through the node's upstream resolvers
// (the nameservers of --resolv-conf), as CoreDNS' `forward . /etc/resolv.conf` does for k3s.
// Queries go over UDP with EDNS0 (1232 bytes) and again over TCP when the answer is
// truncated; an upstream that does not answer within the timeout hands the query to the next
// one; when none answers the result is SERVFAIL. The upstream's rcode is passed through.
// Concurrent queries for one name and type share one upstream exchange. Answers go into the
// ResponseCache.
//
// One thread; resolve() is thread-safe and `done` runs on that thread (it must not block).
#pragma once

#include <netinet/in.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "network/dns/cache.h"
#include "network/dns/message.h"

namespace nave::dns {

struct ForwarderOptions {
  std::vector<sockaddr_in> upstreams;  // tried in order
  int timeoutMs = 2000;                // per upstream
  size_t maxPending = 4096;            // beyond: SERVFAIL at once
};

class Forwarder {
 public:
  using Done = std::function<void(const Answer&)>;
  static Result<std::unique_ptr<Forwarder>> start(ForwarderOptions options, ResponseCache& cache);
  virtual ~Forwarder() = default;
  virtual void resolve(const Question& q, Done done) = 0;
  // Ends the thread; pending queries are dropped without calling their `done`.
  virtual void stop() = 0;
};

// The nameservers of a resolv.conf file ("nameserver ADDR" lines, IPv4 only), port 53.
// Loopback ones (systemd-resolved's 127.0.0.53) are kept: the forwarder runs in the agent,
// in the node's own network namespace, where they answer (k3s drops them because its CoreDNS
// runs in a pod, which cannot reach the node's loopback). With none, 8.8.8.8 as k3s does.
std::vector<sockaddr_in> readResolvConf(const std::string& path);
// "10.0.0.2" or "10.0.0.2:5353".
Result<sockaddr_in> parseUpstream(const std::string& s);

}  // namespace nave::dns
