// What the node API's streaming server (exec, attach, port-forward, logs) needs from the agent.
//
// The API server proxies `kubectl exec|attach|port-forward|logs|cp` to the node's API (the
// kubelet's port, 10250), which speaks the Kubernetes streaming protocols (SPDY/3.1 and
// WebSocket) and calls this interface with plain file descriptors and callbacks. The agent
// implements it on its pods and the container runtime; tests implement it with fakes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.h"
#include "common/result.h"

namespace nave::agent {

struct PodRef {
  std::string namespace_;
  std::string name;
  std::string uid;  // empty when the request did not name one
};

struct ContainerRef {
  PodRef pod;
  std::string container;
};

struct StreamOptions {
  bool stdin = false;
  bool stdout = false;
  bool stderr = false;
  bool tty = false;
};

// The process's ends of its stdio, pipes the streaming server created: the process reads
// stdinFd and writes stdoutFd and stderrFd; -1 for a stream not requested. With a tty, output
// goes to stdoutFd only (stderrFd is -1) and stdinFd carries the keystrokes: the backend puts
// a terminal between these and the process. The server keeps the other ends and closes them
// when the client goes away.
struct StreamFds {
  int stdinFd = -1;
  int stdoutFd = -1;
  int stderrFd = -1;
};

// An exec'd process or an attachment to a container's main process. The streaming server
// calls resize() and cancel() from other threads while one thread blocks in wait().
class StreamSession {
 public:
  virtual ~StreamSession() = default;  // an exec'd process still running is killed
  // A terminal size change (tty sessions; the client sends one at the start).
  virtual void resize(unsigned columns, unsigned rows) = 0;
  // Blocks until the process exits (exec), or until the container exits or the session is
  // detached (attach). Exec: the exit code, which the client reports as its own (kubectl
  // exits with it); an error when the process could not be run or waited for. Attach: the
  // code is not reported (Kubernetes reports success); an error ends the attachment with it.
  virtual Result<int> wait() = 0;
  // The client went away: kill the exec'd process, or detach, so that wait() returns soon.
  // Called at most once, from another thread than wait()'s. The default does nothing, and the
  // session then ends only when the process does (as with Kubernetes' CRI streaming).
  virtual void cancel() {}
};

// Kubernetes' PodLogOptions, as the kubelet receives them.
struct LogOptions {
  bool follow = false;
  bool previous = false;
  bool timestamps = false;
  std::optional<int64_t> tailLines;
  std::optional<int64_t> limitBytes;
  std::optional<std::chrono::system_clock::time_point> since;  // sinceSeconds or sinceTime
};

class StreamingBackend {
 public:
  virtual ~StreamingBackend() = default;

  // Starts `command` in the container; the process's stdio are the given descriptors (the
  // backend duplicates what it keeps). kNotFound for an unknown pod or container,
  // kBadRequest when the container is not running, with Kubernetes' messages.
  virtual Result<std::unique_ptr<StreamSession>> exec(const ContainerRef& container,
                                                      const std::vector<std::string>& command,
                                                      const StreamOptions& options,
                                                      StreamFds fds) = 0;
  // Connects to the container's main process: its output from now on, and its stdin when the
  // container has stdin open.
  virtual Result<std::unique_ptr<StreamSession>> attach(const ContainerRef& container,
                                                        const StreamOptions& options,
                                                        StreamFds fds) = 0;
  // A TCP connection to `port` on the pod's loopback (inside its network namespace).
  virtual Result<UniqueFd> portForward(const PodRef& pod, uint16_t port) = 0;
  // Writes the container's log, formatted as the kubelet does (the line, or "TIMESTAMP line"
  // with timestamps), to `write` until done; with follow, until the container's log ends
  // (it exited) or `write` returns false (the client went away). write("") sends nothing and
  // only reports whether the client is still there: a followed log that is idle polls it.
  // Errors before anything was written reach the client as the kubelet's: kNotFound (404),
  // kBadRequest (400, e.g. "previous terminated container \"c\" in pod \"p\" not found"),
  // others 500. The streaming server also enforces limitBytes.
  virtual Result<void> logs(const ContainerRef& container, const LogOptions& options,
                            const std::function<bool(std::string_view)>& write) = 0;
};

}  // namespace nave::agent
