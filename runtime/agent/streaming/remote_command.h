// exec and attach on the node API: the kubelet's CRI streaming remotecommand server
// (pkg/kubelet/cri/streaming/remotecommand). Over SPDY the client opens one stream per
// stdio channel (streamType: error, stdin, stdout, stderr, resize), negotiated with
// X-Stream-Protocol-Version (v4.channel.k8s.io, v3, v2, channel.k8s.io); over WebSocket the
// channels are numbered 0..4 (v5.channel.k8s.io with the close signal, v4.channel.k8s.io,
// the base64 variants and channel.k8s.io). The outcome goes on the error stream: from v4 on a
// metav1.Status (Success, or Failure NonZeroExitCode with an ExitCode cause, or
// InternalError), before v4 the error message text.
#pragma once

#include <string>
#include <vector>

#include "runtime/agent/streaming/session_util.h"
#include "runtime/agent/streaming/streaming_backend.h"
#include "server/http/http_server.h"

namespace nave::agent {

// The kubelet's exec/attach query (stdin, stdout, stderr, tty as "1"; command repeated).
// Errors: "you must specify at least 1 of stdin, stdout, stderr".
Result<StreamOptions> parseStreamOptions(const QueryValues& query);

// Serves one exec (attach == false) or attach request: upgrades, runs the session through
// the backend, reports the outcome. Answers errors before upgrading as the kubelet does.
void serveRemoteCommand(http::Request& request, http::ResponseWriter& response,
                        StreamingBackend& backend, const ContainerRef& container,
                        const std::vector<std::string>& command, bool attach,
                        const SessionConfig& config);

// The JSON a v4 error stream carries (json.Marshal of metav1.Status), for tests.
std::string successStatusJson();
std::string exitCodeStatusJson(const std::vector<std::string>& command, int exitCode);
std::string internalErrorStatusJson(const std::string& message);

}  // namespace nave::agent
