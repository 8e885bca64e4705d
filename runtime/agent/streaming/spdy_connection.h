// The server side of a SPDY/3.1 connection as Kubernetes' streaming protocols use it
// (k8s.io/apimachinery/pkg/util/httpstream/spdy over moby/spdystream): the client opens
// streams (SYN_STREAM, odd ids) whose headers say what they carry; the server accepts each
// with an empty SYN_REPLY or refuses it with RST_STREAM; either side half-closes with FIN;
// PINGs are echoed; GOAWAY ends the connection. Like spdystream there is no flow control
// (WINDOW_UPDATE and SETTINGS are ignored): a stream whose reader falls behind holds the
// connection's reader back once its buffer is full (TCP backpressure, as spdystream does).
//
// Threading: serve() runs on one thread and calls the stream handler there; SpdyStream reads
// and writes may come from any other threads. writeMu_ keeps each frame whole on the wire and
// the header compression context in wire order; mu_ guards the stream table and flags.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/result.h"
#include "runtime/agent/streaming/byte_streams.h"
#include "runtime/agent/streaming/spdy_frame.h"
#include "server/http/http_server.h"

namespace nave::agent {

class SpdyConnection;

// One stream of a connection.
class SpdyStream final : public InputStream, public OutputStream {
 public:
  uint32_t id() const { return id_; }
  const spdy::Headers& headers() const { return headers_; }
  std::string_view header(std::string_view name) const { return spdy::headerValue(headers_, name); }

  // What the client sent: blocks until data arrives; 0 once the client half-closed the
  // stream (FIN) or the connection ended, -1 when the stream was reset.
  long read(char* buffer, size_t size) override;
  // Sends data frames; false once the stream is reset or closed, or the connection is gone.
  bool write(std::string_view data) override;
  // Half-closes our side (an empty data frame with FIN); later calls do nothing.
  void closeWrite() override;
  // RST_STREAM with `status`; reads and writes end.
  void reset(uint32_t status = spdy::kCancel);
  // Drops whatever the client sends on this stream from now on (streams whose input nobody
  // reads must not stall the connection).
  void discardInput();

 private:
  friend class SpdyConnection;
  SpdyStream(SpdyConnection& conn, uint32_t id, spdy::Headers headers)
      : conn_(conn), id_(id), headers_(std::move(headers)) {}

  SpdyConnection& conn_;
  const uint32_t id_;
  const spdy::Headers headers_;
  // Guarded by conn_.mu_.
  std::deque<std::string> input_;
  size_t inputBytes_ = 0;
  bool remoteClosed_ = false;  // FIN received, or the connection ended
  bool reset_ = false;         // RST_STREAM sent or received
  bool localClosed_ = false;   // FIN sent
  bool discard_ = false;
};

class SpdyConnection {
 public:
  // Called on the serving thread for each new stream before its SYN_REPLY; an error refuses
  // the stream (RST_STREAM REFUSED_STREAM), as Kubernetes' connection does.
  using StreamHandler = std::function<Result<void>(const std::shared_ptr<SpdyStream>&)>;

  struct Options {
    size_t maxStreams = 1024;              // open at once
    size_t maxBufferedPerStream = 1 << 20;  // unread input before the reader waits
  };

  SpdyConnection(http::Stream& transport, StreamHandler handler, Options options);
  SpdyConnection(http::Stream& transport, StreamHandler handler)
      : SpdyConnection(transport, std::move(handler), Options{}) {}
  ~SpdyConnection();
  SpdyConnection(const SpdyConnection&) = delete;
  SpdyConnection& operator=(const SpdyConnection&) = delete;

  // Called on the serving thread once a stream's SYN_REPLY is on the wire: data may be
  // written to it from then on (spdystream drops data frames of streams not yet replied).
  void setRepliedHandler(std::function<void(const std::shared_ptr<SpdyStream>&)> handler) {
    repliedHandler_ = std::move(handler);
  }

  // Reads and handles frames until the client closes the connection (ok), the transport
  // fails or a frame is malformed (the error; a GOAWAY with PROTOCOL_ERROR is sent first), or
  // close() is called. Every stream then reads as ended.
  Result<void> serve();

  // GOAWAY (OK), once: no new streams are accepted from now on.
  void goAway();
  // Ends our sending direction after what was written (TLS close_notify and FIN).
  void closeWrite();
  // Ends the connection in both directions; serve() returns.
  void close();

 private:
  friend class SpdyStream;

  bool writeFrame(const std::string& bytes);  // takes writeMu_
  void handleSynStream(spdy::Frame& frame);
  void handleData(spdy::Frame& frame);
  void handleRst(const spdy::Frame& frame);
  void endAllStreams();
  void forgetIfDone(const std::shared_ptr<SpdyStream>& stream);  // under mu_

  http::Stream& transport_;
  StreamHandler handler_;
  std::function<void(const std::shared_ptr<SpdyStream>&)> repliedHandler_;
  Options options_;

  std::mutex writeMu_;
  spdy::FrameWriter writer_;  // guarded by writeMu_
  bool writeFailed_ = false;  // guarded by writeMu_

  std::mutex mu_;
  std::condition_variable cv_;  // stream input arrived / drained / ended
  std::map<uint32_t, std::shared_ptr<SpdyStream>> streams_;
  uint32_t lastStreamId_ = 0;
  bool goneAway_ = false;
  bool ended_ = false;
};

}  // namespace nave::agent
