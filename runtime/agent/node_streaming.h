// The agent's StreamingBackend: exec, attach, port-forward and logs on this node's pods,
// through the pod workers (which container instance is current) and the container runtime.
#pragma once

#include "runtime/agent/agent_context.h"
#include "runtime/agent/streaming/streaming_backend.h"

namespace nave::agent {

class NodeStreaming : public StreamingBackend {
 public:
  explicit NodeStreaming(AgentContext& ctx) : ctx_(ctx) {}

  Result<std::unique_ptr<StreamSession>> exec(const ContainerRef& container,
                                              const std::vector<std::string>& command,
                                              const StreamOptions& options, StreamFds fds) override;
  Result<std::unique_ptr<StreamSession>> attach(const ContainerRef& container,
                                                const StreamOptions& options,
                                                StreamFds fds) override;
  Result<UniqueFd> portForward(const PodRef& pod, uint16_t port) override;
  Result<void> logs(const ContainerRef& container, const LogOptions& options,
                    const std::function<bool(std::string_view)>& write) override;

 private:
  struct Found {
    std::string containerId;
    std::string logPath;
    bool running = false;
  };
  // The pod's container, with Kubernetes' errors for unknown pods and containers.
  Result<Found> find(const ContainerRef& ref, bool previous);

  AgentContext& ctx_;
};

}  // namespace nave::agent
