// port-forward on the node API: the kubelet's CRI streaming portforward server
// (pkg/kubelet/cri/streaming/portforward).
// - SPDY (portforward.k8s.io): per forwarded connection the client opens a data and an error
//   stream carrying the headers port, streamType and requestID; streams pair by requestID.
// - SPDY tunnelled in WebSocket binary messages (subprotocol SPDY/3.1+portforward.k8s.io),
//   which kubectl 1.31+ sends and Kubernetes' API server unwraps before the kubelet; here the
//   node API unwraps it itself, as our API server only splices bytes.
// - WebSocket channels (v4.channel.k8s.io, v4.base64.channel.k8s.io, or none): the ports come
//   from the query (port=); channel 2i carries port i's data and 2i+1 its errors, each
//   starting with the port as 16-bit little endian.
// A failure to reach the port goes to the error stream as "error forwarding port P to pod
// NAME, uid UID: ERROR".
#pragma once

#include "runtime/agent/streaming/session_util.h"
#include "runtime/agent/streaming/streaming_backend.h"
#include "server/http/http_server.h"

namespace nave::agent {

void servePortForward(http::Request& request, http::ResponseWriter& response,
                      StreamingBackend& backend, const PodRef& pod, const SessionConfig& config);

// The ports of a WebSocket port-forward request ("port" values, comma-separated lists
// allowed), with the kubelet's errors.
Result<std::vector<uint16_t>> parsePortForwardPorts(const QueryValues& query);

}  // namespace nave::agent
