#include "runtime/agent/streaming/remote_command.h"

#include <poll.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/json.h"
#include "common/log.h"
#include "common/strings.h"
#include "runtime/agent/streaming/channel_connection.h"
#include "runtime/agent/streaming/spdy_connection.h"
#include "runtime/agent/streaming/websocket.h"

namespace nave::agent {
namespace {

using Clock = std::chrono::steady_clock;

// How long output may still drain once the process has exited (a background child can hold
// the pipes open forever).
constexpr auto kDrainAfterExit = std::chrono::seconds(5);

enum class Version { kV1, kV2, kV3, kV4, kV5 };

const std::vector<std::string> kSpdyProtocols = {"v4.channel.k8s.io", "v3.channel.k8s.io",
                                                 "v2.channel.k8s.io", "channel.k8s.io"};
const std::vector<std::string> kWebSocketProtocols = {
    "v5.channel.k8s.io", "v4.channel.k8s.io", "v4.base64.channel.k8s.io", "channel.k8s.io",
    "base64.channel.k8s.io", ""};

Version versionOf(std::string_view protocol) {
  if (protocol == "v5.channel.k8s.io") return Version::kV5;
  if (protocol == "v4.channel.k8s.io" || protocol == "v4.base64.channel.k8s.io") return Version::kV4;
  if (protocol == "v3.channel.k8s.io") return Version::kV3;
  if (protocol == "v2.channel.k8s.io") return Version::kV2;
  return Version::kV1;
}

std::string jsonString(std::string_view s) { return dumpJson(Json(std::string(s))); }

// Our ends of the process's stdio.
struct Ends {
  UniqueFd stdinW, stdoutR, stderrR;
};

// The session's streams, whatever the transport.
struct SessionIo {
  InputStream* in = nullptr;
  InputStream* resize = nullptr;
  OutputStream* out = nullptr;
  OutputStream* err = nullptr;
  OutputStream* error = nullptr;
};

// Terminal sizes as the client sends them: a stream of JSON objects {"Width":W,"Height":H}
// (Go's decoder matches the names case-insensitively).
class ResizeDecoder {
 public:
  // The sizes completed by `data`; false once the stream is malformed (ignore the rest).
  bool feed(std::string_view data, std::vector<std::pair<unsigned, unsigned>>& sizes) {
    buffer_.append(data);
    if (buffer_.size() > 64 * 1024) return false;
    for (;;) {
      size_t start = buffer_.find_first_not_of(" \t\r\n");
      if (start == std::string::npos) {
        buffer_.clear();
        return true;
      }
      if (buffer_[start] != '{') return false;
      size_t end = objectEnd(start);
      if (end == std::string::npos) return true;
      auto parsed = parseJson(std::string_view(buffer_).substr(start, end - start));
      buffer_.erase(0, end);
      if (!parsed.ok() || !parsed->value.is_object()) return false;
      unsigned width = 0, height = 0;
      for (auto& [key, value] : parsed->value.items()) {
        if (!value.is_number_unsigned() || value.get<uint64_t>() > 0xffff) continue;
        if (toLower(key) == "width") width = value.get<unsigned>();
        if (toLower(key) == "height") height = value.get<unsigned>();
      }
      sizes.emplace_back(width, height);
    }
  }

 private:
  size_t objectEnd(size_t start) const {
    int depth = 0;
    bool inString = false, escaped = false;
    for (size_t i = start; i < buffer_.size(); ++i) {
      char c = buffer_[i];
      if (inString) {
        if (escaped) escaped = false;
        else if (c == '\\') escaped = true;
        else if (c == '"') inString = false;
        continue;
      }
      if (c == '"') inString = true;
      else if (c == '{' || c == '[') ++depth;
      else if ((c == '}' || c == ']') && --depth == 0) return i + 1;
    }
    return std::string::npos;
  }
  std::string buffer_;
};

// The pumps between the session's streams and the process's stdio, and the wait for it.
class Pumps {
 public:
  Pumps(StreamSession& session, Ends& ends, const SessionIo& io) : session_(session), ends_(ends), io_(io) {}
  ~Pumps() {
    stop_.fire();
    joinInputs();
    for (std::thread* t : {&out_, &err_})
      if (t->joinable()) t->join();
  }

  // Runs the session to its end: the exit code (or error) once the process exited and its
  // output drained.
  Result<int> run() {
    if (ends_.stdinW) {
      if (io_.in != nullptr) {
        in_ = std::thread([this] { pumpStdin(); });
      } else {
        ends_.stdinW.reset();
      }
    }
    if (io_.resize != nullptr) resize_ = std::thread([this] { pumpResize(); });
    if (ends_.stdoutR) out_ = std::thread([this] { pumpOutput(ends_.stdoutR, io_.out); });
    if (ends_.stderrR) err_ = std::thread([this] { pumpOutput(ends_.stderrR, io_.err); });
    Result<int> result = session_.wait();
    exited_.fire();
    if (out_.joinable()) out_.join();
    if (err_.joinable()) err_.join();
    return result;
  }

  // The client went away: stop moving data.
  void stop() { stop_.fire(); }

  // The input pumps end when their streams do (the client closed them or the connection).
  void joinInputs() {
    stop_.fire();
    if (in_.joinable()) in_.join();
    if (resize_.joinable()) resize_.join();
  }

 private:
  void pumpStdin() {
    char buffer[32 * 1024];
    bool open = true;
    for (;;) {
      long n = io_.in->read(buffer, sizeof buffer);
      if (n <= 0) break;
      // Once the process stops reading, keep draining so the connection does not stall.
      if (open && !writeFd(ends_.stdinW.get(), std::string_view(buffer, size_t(n)), stop_)) {
        open = false;
        ends_.stdinW.reset();
      }
    }
    ends_.stdinW.reset();
  }

  void pumpResize() {
    ResizeDecoder decoder;
    bool ok = true;
    char buffer[4096];
    for (;;) {
      long n = io_.resize->read(buffer, sizeof buffer);
      if (n <= 0) break;
      if (!ok) continue;
      std::vector<std::pair<unsigned, unsigned>> sizes;
      ok = decoder.feed(std::string_view(buffer, size_t(n)), sizes);
      for (auto [w, h] : sizes) session_.resize(w, h);
    }
  }

  void pumpOutput(UniqueFd& fd, OutputStream* out) {
    char buffer[32 * 1024];
    auto deadline = Clock::time_point::max();
    for (;;) {
      ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
      if (n > 0) {
        if (out == nullptr || !out->write(std::string_view(buffer, size_t(n)))) break;
        continue;
      }
      if (n == 0) break;
      if (errno == EINTR) continue;
      if (errno != EAGAIN) break;
      if (deadline == Clock::time_point::max() && exited_.fired()) deadline = Clock::now() + kDrainAfterExit;
      int timeout = -1;
      if (deadline != Clock::time_point::max()) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) break;
        timeout = int(left);
      }
      pollfd p[3] = {{fd.get(), POLLIN, 0}, {stop_.fd(), POLLIN, 0}, {exited_.fd(), POLLIN, 0}};
      int polled = ::poll(p, deadline == Clock::time_point::max() ? 3 : 2, timeout);
      if (polled < 0 && errno != EINTR) break;
      if (p[1].revents != 0) break;
    }
    fd.reset();  // a writer still there gets EPIPE
  }

  StreamSession& session_;
  Ends& ends_;
  SessionIo io_;
  Wakeup stop_, exited_;
  std::thread in_, resize_, out_, err_;
};

// Cancels the session when the client leaves before it ended; tells when the client is gone.
class ClientWatch {
 public:
  ClientWatch(StreamSession& session, Pumps& pumps) : session_(session), pumps_(pumps) {}
  void clientLeft() {
    std::lock_guard lock(mu_);
    gone_ = true;
    cv_.notify_all();
    if (!finished_) {
      pumps_.stop();
      session_.cancel();
    }
  }
  void finished() {
    std::lock_guard lock(mu_);
    finished_ = true;
  }
  bool gone() {
    std::lock_guard lock(mu_);
    return gone_;
  }
  // Waits for the client to close the connection, at most `timeout`.
  bool waitGone(std::chrono::seconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return gone_; });
  }

 private:
  StreamSession& session_;
  Pumps& pumps_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool gone_ = false, finished_ = false;
};

std::string exitCodeMessage(const std::vector<std::string>& command, int exitCode) {
  // containerd's CRI streaming reports the exit as "error executing command [cmd args], exit
  // code N"; the kubelet wraps it.
  return "command terminated with non-zero exit code: error executing command [" + join(command, " ") +
         "], exit code " + std::to_string(exitCode);
}

void writeStatus(Version version, OutputStream& error, const Result<int>& result, bool attach,
                 const std::vector<std::string>& command) {
  bool json = version >= Version::kV4;
  if (!result.ok()) {
    std::string message = std::string(attach ? "error attaching to container: "
                                             : "error executing command in container: ") +
                          result.error().message();
    log::warning("streaming session failed", {{"error", message}});
    error.write(json ? internalErrorStatusJson(message) : "Internal error occurred: " + message);
  } else if (!attach && *result != 0) {
    error.write(json ? exitCodeStatusJson(command, *result) : exitCodeMessage(command, *result));
  } else if (json) {
    error.write(successStatusJson());
  }
}

void serveSpdy(http::ResponseWriter& response, StreamSession& session, Ends& ends,
               const StreamOptions& options, const std::string& protocol, bool attach,
               const std::vector<std::string>& command, const SessionConfig& config) {
  Version version = versionOf(protocol);
  std::unique_ptr<http::Stream> transport = response.upgrade(
      101, {{"Connection", "Upgrade"}, {"Upgrade", "SPDY/3.1"}, {"X-Stream-Protocol-Version", protocol}});
  if (!transport) return;

  struct Collected {
    std::mutex mu;
    std::condition_variable cv;
    std::shared_ptr<SpdyStream> error, in, out, err, resize;
    int replied = 0;
    bool ended = false;
  } c;
  int expected = 1 + int(options.stdin) + int(options.stdout) + int(options.stderr) +
                 int(options.tty && version >= Version::kV3);
  SpdyConnection conn(*transport, [&](const std::shared_ptr<SpdyStream>& s) -> Result<void> {
    std::string_view type = s->header("streamtype");
    std::lock_guard lock(c.mu);
    if (type == "error") c.error = s;
    else if (type == "stdin") c.in = s;
    else if (type == "stdout") c.out = s;
    else if (type == "stderr") c.err = s;
    else if (type == "resize") c.resize = s;
    else log::v(2, "unexpected stream type", {{"streamType", type}});
    if ((type != "stdin" && type != "resize") || (type == "resize" && !options.tty)) s->discardInput();
    return {};
  });
  conn.setRepliedHandler([&](const std::shared_ptr<SpdyStream>& s) {
    std::string_view type = s->header("streamtype");
    if (type != "error" && type != "stdin" && type != "stdout" && type != "stderr" &&
        (type != "resize" || version < Version::kV3)) {
      return;
    }
    std::lock_guard lock(c.mu);
    ++c.replied;
    c.cv.notify_all();
  });

  ClientWatch* watchPtr = nullptr;
  std::mutex watchMu;
  std::thread reader([&] {
    Result<void> served = conn.serve();
    if (!served.ok()) log::v(2, "SPDY connection ended", {{"error", served.error().message()}});
    {
      std::lock_guard lock(c.mu);
      c.ended = true;
      c.cv.notify_all();
    }
    std::lock_guard lock(watchMu);
    if (watchPtr != nullptr) watchPtr->clientLeft();
  });
  bool ready;
  {
    std::unique_lock lock(c.mu);
    ready = c.cv.wait_for(lock, config.streamCreationTimeout,
                          [&] { return c.replied >= expected || c.ended; }) &&
            c.replied >= expected && c.error != nullptr;
  }
  if (!ready) {
    log::v(2, "timed out waiting for client to create streams");
    session.cancel();
    conn.close();
    reader.join();
    return;
  }
  if (version == Version::kV1 && c.in != nullptr) c.in->closeWrite();

  SessionIo io{c.in.get(), options.tty ? c.resize.get() : nullptr, c.out.get(), c.err.get(),
               c.error.get()};
  Pumps pumps(session, ends, io);
  ClientWatch watch(session, pumps);
  {
    std::lock_guard lock(watchMu);
    watchPtr = &watch;
    std::lock_guard clock(c.mu);
    if (c.ended) watch.clientLeft();
  }
  Result<int> result = pumps.run();
  watch.finished();
  if (!watch.gone()) {
    writeStatus(version, *c.error, result, attach, command);
    for (auto* s : {c.out.get(), c.err.get(), c.error.get()})
      if (s != nullptr) s->closeWrite();
    conn.goAway();
    // The client closes once it has read everything; closing first could cut its reading
    // short (spdystream drops queued frames when the connection ends).
    if (!watch.waitGone(config.closeTimeout)) conn.close();
  }
  if (!watch.gone()) conn.close();
  reader.join();
  {
    std::lock_guard lock(watchMu);
    watchPtr = nullptr;
  }
  pumps.joinInputs();
}

void serveWebSocket(http::ResponseWriter& response, StreamSession& session, Ends& ends,
                    const StreamOptions& options, const ws::Handshake& handshake, bool attach,
                    const std::vector<std::string>& command, const SessionConfig& config) {
  Version version = versionOf(handshake.protocol);
  std::unique_ptr<http::Stream> transport = response.upgrade(101, handshake.responseHeaders);
  if (!transport) return;
  using Kind = ChannelConnection::Kind;
  ws::Connection wsConn(*transport);
  ChannelConnection channels(wsConn, handshake.protocol,
                             {options.stdin ? Kind::kRead : Kind::kIgnore,
                              options.stdout ? Kind::kWrite : Kind::kIgnore,
                              options.stderr ? Kind::kWrite : Kind::kIgnore, Kind::kWrite, Kind::kRead});
  // The client learns that the connection is established from an empty message on the
  // lowest writable channel.
  channels.output(options.stdout ? 1 : options.stderr ? 2 : 3).write("");

  SessionIo io{options.stdin ? &channels.input(0) : nullptr, &channels.input(4),
               options.stdout ? &channels.output(1) : nullptr,
               options.stderr ? &channels.output(2) : nullptr, &channels.output(3)};
  Pumps pumps(session, ends, io);
  ClientWatch watch(session, pumps);
  std::thread reader([&] {
    channels.serve();
    watch.clientLeft();
  });
  Result<int> result = pumps.run();
  watch.finished();
  if (!watch.gone()) {
    writeStatus(version, channels.output(3), result, attach, command);
    channels.close();
    if (!watch.waitGone(config.closeTimeout)) transport->close();
  }
  reader.join();
  pumps.joinInputs();
}

}  // namespace

Result<StreamOptions> parseStreamOptions(const QueryValues& query) {
  StreamOptions o;
  o.tty = firstValue(query, "tty") == "1";
  o.stdin = firstValue(query, "input") == "1" || firstValue(query, "stdin") == "1";
  o.stdout = firstValue(query, "output") == "1" || firstValue(query, "stdout") == "1";
  o.stderr = firstValue(query, "error") == "1" || firstValue(query, "stderr") == "1";
  if (o.tty && o.stderr) o.stderr = false;  // the kubelet bypasses stderr with a tty
  if (!o.stdin && !o.stdout && !o.stderr)
    return Error(ErrorCode::kBadRequest, "you must specify at least 1 of stdin, stdout, stderr");
  return o;
}

std::string successStatusJson() { return R"({"metadata":{},"status":"Success"})"; }

std::string exitCodeStatusJson(const std::vector<std::string>& command, int exitCode) {
  return R"({"metadata":{},"status":"Failure","message":)" + jsonString(exitCodeMessage(command, exitCode)) +
         R"(,"reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":")" +
         std::to_string(exitCode) + R"("}]}})";
}

std::string internalErrorStatusJson(const std::string& message) {
  return R"({"metadata":{},"status":"Failure","message":)" +
         jsonString("Internal error occurred: " + message) +
         R"(,"reason":"InternalError","details":{"causes":[{"message":)" + jsonString(message) +
         R"(}]},"code":500})";
}

void serveRemoteCommand(http::Request& request, http::ResponseWriter& response,
                        StreamingBackend& backend, const ContainerRef& container,
                        const std::vector<std::string>& command, bool attach,
                        const SessionConfig& config) {
  QueryValues query = parseQuery(request.rawQuery);
  Result<StreamOptions> options = parseStreamOptions(query);
  if (!options.ok()) return sendHttpError(response, {400, options.error().message(), {}});
  bool websocket = ws::isWebSocketRequest(request);
  ws::Handshake handshake;
  std::string protocol;
  if (websocket) {
    auto negotiated = ws::negotiate(request, kWebSocketProtocols);
    if (!negotiated.ok()) {
      return sendHttpError(response, {httpStatusOf(negotiated.error()), negotiated.error().message(), {}});
    }
    handshake = std::move(*negotiated);
  } else {
    HttpError error;
    auto negotiated = negotiateSpdy(request, kSpdyProtocols, error);
    if (!negotiated.ok()) return sendHttpError(response, error);
    protocol = *negotiated;
  }

  Ends ends;
  UniqueFd processIn, processOut, processErr;
  auto pipeFailed = [&](const Error& e) {
    sendHttpError(response, {500, "unable to create pipes: " + e.message(), {}});
  };
  if (options->stdin) {
    auto p = makePipe();
    if (!p.ok()) return pipeFailed(p.error());
    processIn = std::move(p->first);
    ends.stdinW = std::move(p->second);
    setNonBlocking(ends.stdinW.get());
  }
  if (options->stdout) {
    auto p = makePipe();
    if (!p.ok()) return pipeFailed(p.error());
    ends.stdoutR = std::move(p->first);
    processOut = std::move(p->second);
    setNonBlocking(ends.stdoutR.get());
  }
  if (options->stderr) {
    auto p = makePipe();
    if (!p.ok()) return pipeFailed(p.error());
    ends.stderrR = std::move(p->first);
    processErr = std::move(p->second);
    setNonBlocking(ends.stderrR.get());
  }
  StreamFds fds{processIn.get(), processOut.get(), processErr.get()};
  auto session = attach ? backend.attach(container, *options, fds)
                        : backend.exec(container, command, *options, fds);
  processIn.reset();
  processOut.reset();
  processErr.reset();
  if (!session.ok()) {
    return sendHttpError(response, {httpStatusOf(session.error()), session.error().message(), {}});
  }
  if (websocket) {
    serveWebSocket(response, **session, ends, *options, handshake, attach, command, config);
  } else {
    serveSpdy(response, **session, ends, *options, protocol, attach, command, config);
  }
}

}  // namespace nave::agent
