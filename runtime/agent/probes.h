// Running one probe or lifecycle handler (exec, httpGet, tcpSocket), as the kubelet's prober:
// exec runs the command in the container and succeeds on exit code 0; httpGet succeeds on a
// status from 200 to 399 (redirects to other hosts are not followed, as the kubelet treats
// them as success with a warning); tcpSocket succeeds when a connection opens. Each within the
// timeout.
#pragma once

#include <chrono>
#include <string>

#include "common/json.h"
#include "runtime/container/container_runtime.h"

namespace nave::agent {

enum class ProbeResult { kSuccess, kFailure };

struct ProbeOutcome {
  ProbeResult result = ProbeResult::kFailure;
  std::string message;  // why it failed, in the kubelet's words (for Unhealthy events)
};

// `handler` is a Probe or a LifecycleHandler object (exec / httpGet / tcpSocket). `podIp` is
// where httpGet and tcpSocket connect unless the handler names a host; a port is a number or
// the name of one of the container's ports (from `containerSpec`).
ProbeOutcome runHandler(runtime::ContainerRuntime& runtime, const std::string& containerId,
                        const Json& handler, const Json& containerSpec, const std::string& podIp,
                        std::chrono::milliseconds timeout);

}  // namespace nave::agent
