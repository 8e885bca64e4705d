// One client connection: reads requests, runs the handler on this thread, writes responses.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/http/http_server.h"
#include "server/http/request_parser.h"
#include "server/http/socket.h"

namespace nave::http {

class Connection final : public ResponseWriter {
 public:
  Connection(const ServerOptions& options, const Handler& handler, std::unique_ptr<Socket> socket,
             std::string remoteAddress);

  // Serves requests until the client closes, a timeout or error ends the connection, the
  // server stops, or a handler upgrades it (then the socket belongs to the Stream).
  void run();

  void send(int status, const std::vector<Header>& headers, std::string_view body) override;
  bool startStream(int status, const std::vector<Header>& headers) override;
  bool write(std::string_view data) override;
  void end() override;
  Wake wait(int wakeFd, int timeoutMs) override;
  std::unique_ptr<Stream> upgrade(int status, const std::vector<Header>& headers) override;
  bool responded() const override { return responded_; }

 private:
  enum class HeadResult { kRequest, kClosed, kRefused };

  HeadResult readHead();
  // Reads the body the head announced; false when the connection must close (after answering
  // a malformed body with 400, or silently on timeout or disconnect).
  bool readBody();
  bool readContentLengthBody();
  bool readChunkedBody();
  void sendContinueIfExpected();
  void serve();  // runs the handler and completes its response
  void refuse(int status);

  // Read buffer: bytes [begin_, end_) of buffer_ are received and not yet consumed.
  std::string_view buffered() const { return {buffer_.data() + begin_, end_ - begin_}; }
  bool fill(Deadline deadline);  // reads more; false on end of stream, error or timeout
  bool makeRoom(size_t limit);   // compacts, then grows the buffer up to `limit` bytes
  void discardInput();           // lingering close: drains what the client still sends

  void beginHead(int status);
  void appendHeaders(const std::vector<Header>& headers, bool upgrading);
  void appendConnectionHeader();
  bool writeOut(std::string_view data);

  const ServerOptions& options_;
  const Handler& handler_;
  std::unique_ptr<Socket> socket_;  // null once handed over by upgrade()
  std::string remoteAddress_;
  PeerIdentity peer_;
  // How long a started request may take to arrive, and a body read to make progress.
  std::chrono::seconds requestTimeout_;

  std::vector<char> buffer_;
  size_t begin_ = 0;
  size_t end_ = 0;

  Request request_;
  RequestFraming framing_;
  std::string out_;  // response head (and small bodies), reused across requests

  // Per-response state.
  bool responded_ = false;
  bool streaming_ = false;
  bool chunked_ = false;
  bool ended_ = false;
  bool closeAfter_ = false;  // close once this response is complete
  bool bodyUnread_ = false;  // the client may still be sending a body we refused
  bool peerGone_ = false;
};

}  // namespace nave::http
