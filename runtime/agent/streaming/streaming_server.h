// StreamingServer: the node API (the kubelet's port, 10250) that the API server proxies
// `kubectl exec|attach|port-forward|logs|cp` to. HTTPS with mutual TLS: it serves the node's
// certificate and accepts only clients whose certificate the cluster CA signed and whose
// subject is the API server's kubelet-client identity. Paths, as the kubelet's:
//   GET|POST /exec/{namespace}/{pod}[/{uid}]/{container}?command=...&stdin=1&stdout=1&stderr=1&tty=1
//   GET|POST /attach/{namespace}/{pod}[/{uid}]/{container}?stdin=1&stdout=1&stderr=1&tty=1
//   GET|POST /portForward/{namespace}/{pod}[/{uid}][?port=P]
//   GET      /containerLogs/{namespace}/{pod}/{container}?follow&previous&timestamps&tailLines&
//            sinceSeconds&sinceTime&limitBytes
//   GET      /healthz
// exec, attach and portForward speak SPDY/3.1 or WebSocket (remote_command.h,
// port_forward.h); the work is the StreamingBackend's (the agent's pods and runtime).
//
// The agent starts it with its node's serving certificate (pki::ensureKubeletServingCertificate)
// and the cluster CA; the API server finds it through the Node's status (InternalIP address,
// daemonEndpoints.kubeletEndpoint.Port) and presents pki::ServerPki::kubeletClient.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/result.h"
#include "runtime/agent/streaming/streaming_backend.h"
#include "server/pki/pki.h"

namespace nave::agent {

struct StreamingServerOptions {
  std::string bindAddress = "0.0.0.0";
  int port = 10250;  // 0: an ephemeral port (tests); see StreamingServer::port()
  std::string servingCertPem, servingKeyPem;
  std::string clientCaPem;  // required: the CA that signs the API server's client certificate
  // The only client identity accepted: the certificate's CN, and, when not empty, one of its O.
  std::string allowedCommonName = pki::kKubeletClientCommonName;
  std::string allowedOrganization;
  std::chrono::seconds streamCreationTimeout{30};  // for a client to open its SPDY streams
  std::chrono::seconds closeTimeout{30};  // for a client to close once its session ended
};

class StreamingServer {
 public:
  // Listens and serves with `backend`, which must outlive the server. Errors: no client CA,
  // the certificate or key does not load, the address is in use.
  static Result<std::unique_ptr<StreamingServer>> start(const StreamingServerOptions& options,
                                                       StreamingBackend& backend);
  virtual ~StreamingServer() = default;  // implies stop()
  virtual int port() const = 0;
  // Stops listening and ends every session (sockets are shut down; sessions are cancelled).
  virtual void stop() = 0;
};

}  // namespace nave::agent
