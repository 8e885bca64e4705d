// IngressProxy: the node's HTTP and HTTPS reverse proxy (ports 80 and 443), serving the
// routes of a RouteTable.
//
// Event-driven: one event loop thread per CPU, each with its own SO_REUSEPORT listeners (the
// kernel spreads connections over them), non-blocking sockets and edge-triggered epoll; a
// connection and its backend connections stay on one loop, so nothing in the data path is
// shared between threads but the read-only route table. Per client connection: HTTP/1.1 with
// keep-alive, requests parsed by server/http's parser, routed by Host and path, forwarded to
// an endpoint picked round robin over a pool of keep-alive backend connections (per loop and
// endpoint), bodies streamed both ways with bounded buffers (reading stops while the other
// side's buffer is full), `Connection: Upgrade` (WebSocket) tunnelled after the backend's 101.
// The proxy answers 404 (no route), 503 (no ready endpoint), 502 (backend failed or answered
// garbage), 504 (backend timed out), 400/431/501/505 (bad requests) itself.
//
// Sockets are created in the network namespace of the thread that calls start() (the loop
// threads inherit it), so tests and benchmarks run it inside a namespace of their own.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "network/ingress/certificates.h"
#include "network/ingress/routes.h"

namespace nave::ingress {

struct ProxyOptions {
  std::string bindAddress = "0.0.0.0";
  int httpPort = 80;    // 0: an ephemeral port; -1: no plain HTTP listener
  int httpsPort = 443;  // likewise for TLS
  int threads = 0;      // event loops; 0: one per CPU
  size_t maxHeaderBytes = 32 * 1024;  // a longer request head is answered 431
  int headerTimeoutSeconds = 60;      // to receive a request head
  int keepAliveTimeoutSeconds = 75;   // idle client connections between requests
  int connectTimeoutSeconds = 5;      // to a backend
  int backendTimeoutSeconds = 60;     // backend silent while a response is awaited or sent
  int tunnelTimeoutSeconds = 3600;    // upgraded connections idle both ways
  int backendIdleSeconds = 60;        // pooled backend connections
  size_t maxIdlePerEndpoint = 128;    // pooled backend connections per loop and endpoint
};

class IngressProxy {
 public:
  // Binds the listeners and starts the loops with an empty route table (every request 404)
  // and `certificates` for TLS (required when httpsPort >= 0). Errors: a port in use, etc.
  static Result<std::unique_ptr<IngressProxy>> start(
      const ProxyOptions& options, std::shared_ptr<const CertificateStore> certificates);
  virtual ~IngressProxy() = default;  // implies stop()

  // Installs new routes and certificates (null: keep the current ones). Requests that start
  // after the call use them; requests in flight finish with the old ones. Thread-safe.
  virtual void update(std::shared_ptr<const RouteTable> routes,
                      std::shared_ptr<const CertificateStore> certificates) = 0;
  virtual int httpPort() const = 0;   // the bound port, -1 without a listener
  virtual int httpsPort() const = 0;
  // Closes the listeners and every connection and joins the loops. Idempotent.
  virtual void stop() = 0;
};

}  // namespace nave::ingress
