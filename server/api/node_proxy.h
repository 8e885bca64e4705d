// NodeProxy: the pods subresources that Kubernetes serves by proxying to the kubelet of the
// pod's node (pkg/registry/core/pod/rest: ExecREST, AttachREST, PortForwardREST, LogREST):
//   pods/exec, pods/attach, pods/portforward  GET|POST, connect: upgraded (SPDY or WebSocket)
//   pods/log                                  GET: plain text, streamed when following
// It checks the request as Kubernetes does (the pod exists; the container is named or the pod
// has only one; the pod is scheduled; PodLogOptions), finds the node's kubelet (the Node's
// InternalIP, else ExternalIP, else Hostname address, as k3s prefers them, and
// status.daemonEndpoints.kubeletEndpoint.Port, default 10250), connects to it over TLS with
// the API server's kubelet-client certificate (verifying the kubelet's certificate against the
// cluster CA and the node address), forwards the request, and after a 101 answer splices the
// bytes both ways: the streaming protocols live only in the kubelet (the node API).
//
// Threading: serve() runs on the request's connection thread (two threads while splicing).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "server/api/options.h"
#include "server/api/resource_api.h"
#include "server/http/http_server.h"
#include "server/pki/pki.h"

namespace nave::api {

class NodeProxy {
 public:
  struct Options {
    std::string caPem;         // verifies the kubelets' serving certificates
    pki::KeyPair clientCertificate;  // the API server's kubelet-client certificate
    std::chrono::seconds dialTimeout{10};
    // How long a spliced connection may stay half-closed (one side done) before it is closed.
    std::chrono::seconds lingerTimeout{30};
  };

  // Errors (kInvalid) when the CA or the client certificate does not load.
  static Result<std::unique_ptr<NodeProxy>> create(ResourceApi& api, const Options& options);
  virtual ~NodeProxy() = default;

  // Whether `subresource` of pods is one this proxies.
  static bool handles(std::string_view subresource);

  // Serves pods/{name}/{subresource} in namespace `ns` completely (errors as Status objects).
  virtual void serve(http::Request& request, http::ResponseWriter& response, RequestContext& ctx,
                     const std::string& ns, const std::string& name,
                     const std::string& subresource) = 0;
  // Ends the connections to kubelets (spliced sessions end). Idempotent.
  virtual void stop() = 0;
};

}  // namespace nave::api
