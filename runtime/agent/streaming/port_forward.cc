#include "runtime/agent/streaming/port_forward.h"

#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "common/log.h"
#include "common/strings.h"
#include "runtime/agent/streaming/channel_connection.h"
#include "runtime/agent/streaming/spdy_connection.h"
#include "runtime/agent/streaming/websocket.h"

namespace nave::agent {
namespace {

constexpr std::string_view kTunnelProtocol = "SPDY/3.1+portforward.k8s.io";
const std::vector<std::string> kSpdyProtocols = {"portforward.k8s.io"};

// The threads and the stop signal of one port-forward connection. Finished threads are
// joined as new ones start, so a long session forwarding many connections keeps few.
struct ForwardSession {
  Wakeup stop;  // fired when the connection ended
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::mutex mu;
  std::vector<Worker> workers;  // guarded by mu

  void spawn(std::function<void()> fn) {
    auto done = std::make_shared<std::atomic<bool>>(false);
    std::lock_guard lock(mu);
    for (auto it = workers.begin(); it != workers.end();) {
      if (it->done->load()) {
        it->thread.join();
        it = workers.erase(it);
      } else {
        ++it;
      }
    }
    workers.push_back({std::thread([fn = std::move(fn), done] {
                         fn();
                         done->store(true);
                       }),
                       done});
  }
  void joinAll() {
    for (;;) {
      std::vector<Worker> batch;
      {
        std::lock_guard lock(mu);
        batch.swap(workers);
      }
      if (batch.empty()) return;
      for (Worker& w : batch) w.thread.join();
    }
  }
};

// Copies between one client stream and a connection to the pod's port until the pod closes
// it or the client's connection ends. Like containerd, once one direction has ended the other
// gets a second to finish; `abortInput` then ends a read of the client stream if it can.
void forward(ForwardSession& session, StreamingBackend& backend, const PodRef& pod, uint16_t port,
             InputStream& dataIn, OutputStream& dataOut, OutputStream& errorOut,
             const std::function<void()>& abortInput) {
  auto connected = backend.portForward(pod, port);
  if (!connected.ok()) {
    std::string message = "error forwarding port " + std::to_string(port) + " to pod " + pod.name +
                          ", uid " + pod.uid + ": " + connected.error().message();
    log::v(2, "port-forward failed", {{"error", message}});
    errorOut.write(message);
    return;
  }
  auto fd = std::make_shared<UniqueFd>(std::move(*connected));
  setNonBlocking(fd->get());
  struct UpState {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
  };
  auto up = std::make_shared<UpState>();
  session.spawn([fd, up, &dataIn, &session] {
    char buffer[32 * 1024];
    bool open = true;
    for (;;) {
      long n = dataIn.read(buffer, sizeof buffer);
      if (n <= 0) break;
      if (open && !writeFd(fd->get(), std::string_view(buffer, size_t(n)), session.stop)) open = false;
    }
    ::shutdown(fd->get(), SHUT_WR);
    std::lock_guard lock(up->mu);
    up->done = true;
    up->cv.notify_all();
  });
  char buffer[32 * 1024];
  for (;;) {
    long n = readFd(fd->get(), buffer, sizeof buffer, session.stop);
    if (n <= 0) break;
    if (!dataOut.write(std::string_view(buffer, size_t(n)))) break;
  }
  dataOut.closeWrite();
  std::unique_lock lock(up->mu);
  if (!up->cv.wait_for(lock, std::chrono::seconds(1), [&] { return up->done; }) && abortInput) {
    lock.unlock();
    abortInput();
  }
}

// SPDY bytes carried in WebSocket binary messages (client-go's TunnelingConnection).
class TunnelStream final : public http::Stream {
 public:
  TunnelStream(http::Stream& transport) : transport_(transport), ws_(transport) {}

  long read(char* buffer, size_t size) override {
    while (offset_ == pending_.size()) {
      auto message = ws_.readMessage();
      if (!message.ok()) return -1;
      if (!message->has_value()) return 0;
      if ((*message)->opcode != ws::kBinary) {
        ws_.close(ws::kCloseProtocolError);
        return -1;  // "invalid message type received"
      }
      pending_ = std::move((*message)->data);
      offset_ = 0;
    }
    size_t n = std::min(size, pending_.size() - offset_);
    std::memcpy(buffer, pending_.data() + offset_, n);
    offset_ += n;
    return long(n);
  }
  bool write(std::string_view data) override { return ws_.send(ws::kBinary, data); }
  void closeWrite() override { ws_.close(ws::kCloseNormal); }
  void close() override { transport_.close(); }

 private:
  http::Stream& transport_;
  ws::Connection ws_;
  std::string pending_;
  size_t offset_ = 0;
};

Result<uint16_t> parsePort(std::string_view text, std::string_view original) {
  uint64_t port = 0;
  if (text.empty() || text.size() > 5) return Error(ErrorCode::kBadRequest, "");
  for (char c : text) {
    if (c < '0' || c > '9') return Error(ErrorCode::kBadRequest, "");
    port = port * 10 + uint64_t(c - '0');
  }
  if (port > 65535) return Error(ErrorCode::kBadRequest, "");
  if (port < 1) return Error(ErrorCode::kBadRequest, "port \"" + std::string(original) + "\" must be > 0");
  return uint16_t(port);
}

// Pairs of streams by request id, and the forwarding of each complete pair.
void serveSpdyPortForward(http::Stream& transport, StreamingBackend& backend, const PodRef& pod) {
  ForwardSession session;
  struct Pair {
    std::shared_ptr<SpdyStream> data, error;
  };
  std::mutex mu;
  std::map<std::string, Pair> pending;
  SpdyConnection conn(transport, [](const std::shared_ptr<SpdyStream>& s) -> Result<void> {
    std::string_view port = s->header("port");
    if (port.empty()) return Error(ErrorCode::kBadRequest, "\"port\" header is required");
    auto parsed = parsePort(port, port);
    if (!parsed.ok()) {
      std::string m = parsed.error().message();
      if (m.empty()) m = "unable to parse \"" + std::string(port) + "\" as a port";
      return Error(ErrorCode::kBadRequest, m);
    }
    std::string_view type = s->header("streamtype");
    if (type.empty()) return Error(ErrorCode::kBadRequest, "\"streamType\" header is required");
    if (type != "error" && type != "data")
      return Error(ErrorCode::kBadRequest, "invalid stream type \"" + std::string(type) + "\"");
    if (type == "error") s->discardInput();
    return {};
  });
  conn.setRepliedHandler([&](const std::shared_ptr<SpdyStream>& s) {
    std::string id(s->header("requestid"));
    bool isError = s->header("streamtype") == "error";
    if (id.empty()) {
      // Clients that predate request ids open the data stream two ids after the error one.
      id = std::to_string(isError ? s->id() : s->id() - 2);
    }
    std::lock_guard lock(mu);
    Pair& p = pending[id];
    std::shared_ptr<SpdyStream>& slot = isError ? p.error : p.data;
    if (slot != nullptr) {
      s->reset(spdy::kProtocolError);
      return;
    }
    slot = s;
    if (p.data == nullptr || p.error == nullptr) return;
    Pair complete = std::move(p);
    pending.erase(id);
    session.spawn([&session, &backend, pod, complete] {
      auto port = parsePort(complete.data->header("port"), complete.data->header("port"));
      if (port.ok()) {
        forward(session, backend, pod, *port, *complete.data, *complete.data, *complete.error,
                [&] { complete.data->reset(spdy::kCancel); });
      }
      complete.data->closeWrite();
      complete.error->closeWrite();
    });
  });
  Result<void> served = conn.serve();
  if (!served.ok()) log::v(2, "port-forward connection ended", {{"error", served.error().message()}});
  session.stop.fire();
  session.joinAll();
}

void serveChannelPortForward(http::Stream& transport, StreamingBackend& backend, const PodRef& pod,
                             const std::string& protocol, const std::vector<uint16_t>& ports,
                             const SessionConfig& config) {
  using Kind = ChannelConnection::Kind;
  ws::Connection conn(transport);
  std::vector<Kind> kinds;
  for (size_t i = 0; i < ports.size(); ++i) {
    kinds.push_back(Kind::kReadWrite);
    kinds.push_back(Kind::kWrite);
  }
  ChannelConnection channels(conn, protocol, kinds);
  for (size_t i = 0; i < ports.size(); ++i) {
    char le[2] = {char(ports[i] & 0xff), char(ports[i] >> 8)};
    channels.output(2 * i).write(std::string_view(le, 2));
    channels.output(2 * i + 1).write(std::string_view(le, 2));
  }
  ForwardSession session;
  std::mutex mu;
  std::condition_variable cv;
  bool clientGone = false;
  std::thread reader([&] {
    channels.serve();
    session.stop.fire();
    std::lock_guard lock(mu);
    clientGone = true;
    cv.notify_all();
  });
  std::vector<std::thread> forwards;
  for (size_t i = 0; i < ports.size(); ++i) {
    forwards.emplace_back([&, i] {
      forward(session, backend, pod, ports[i], channels.input(2 * i), channels.output(2 * i),
              channels.output(2 * i + 1), nullptr);
    });
  }
  for (std::thread& t : forwards) t.join();
  channels.close();
  {
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, config.closeTimeout, [&] { return clientGone; })) transport.close();
  }
  reader.join();
  session.joinAll();
}

}  // namespace

Result<std::vector<uint16_t>> parsePortForwardPorts(const QueryValues& query) {
  std::vector<std::string> values = allValues(query, "port");
  if (values.empty()) return Error(ErrorCode::kBadRequest, "query parameter \"port\" is required");
  std::vector<uint16_t> ports;
  for (const std::string& value : values) {
    if (value.empty()) return Error(ErrorCode::kBadRequest, "query parameter \"port\" cannot be empty");
    for (const std::string& p : split(value, ',')) {
      auto port = parsePort(p, value);
      if (!port.ok()) {
        std::string m = port.error().message();
        if (m.empty()) m = "unable to parse \"" + value + "\" as a port";
        return Error(ErrorCode::kBadRequest, m);
      }
      ports.push_back(*port);
    }
  }
  return ports;
}

void servePortForward(http::Request& request, http::ResponseWriter& response,
                      StreamingBackend& backend, const PodRef& pod, const SessionConfig& config) {
  if (ws::isWebSocketRequest(request)) {
    auto handshake = ws::negotiate(request, {std::string(kTunnelProtocol), "v4.channel.k8s.io",
                                             "v4.base64.channel.k8s.io", ""});
    if (!handshake.ok()) {
      return sendHttpError(response, {httpStatusOf(handshake.error()), handshake.error().message(), {}});
    }
    if (handshake->protocol == kTunnelProtocol) {
      std::unique_ptr<http::Stream> transport = response.upgrade(101, handshake->responseHeaders);
      if (!transport) return;
      TunnelStream tunnel(*transport);
      serveSpdyPortForward(tunnel, backend, pod);
      return;
    }
    auto ports = parsePortForwardPorts(parseQuery(request.rawQuery));
    if (!ports.ok()) return sendHttpError(response, {400, ports.error().message(), {}});
    std::unique_ptr<http::Stream> transport = response.upgrade(101, handshake->responseHeaders);
    if (!transport) return;
    serveChannelPortForward(*transport, backend, pod, handshake->protocol, *ports, config);
    return;
  }
  HttpError error;
  auto protocol = negotiateSpdy(request, kSpdyProtocols, error);
  if (!protocol.ok()) return sendHttpError(response, error);
  std::unique_ptr<http::Stream> transport = response.upgrade(
      101, {{"Connection", "Upgrade"}, {"Upgrade", "SPDY/3.1"}, {"X-Stream-Protocol-Version", *protocol}});
  if (!transport) return;
  serveSpdyPortForward(*transport, backend, pod);
}

}  // namespace nave::agent
