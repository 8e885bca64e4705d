// An HTTP/1.1 server over TLS (OpenSSL), built for the API server's needs: keep-alive
// connections, bodies bounded in size, streamed (chunked) responses for watches that notice a
// client going away, client-certificate identities, and connection hand-over after
// "101 Switching Protocols" for exec/attach/port-forward (SPDY and WebSocket).
//
// Why not civetweb: Debian's libcivetweb 1.15 loads OpenSSL at run time by symbol name and
// calls SSL_get_peer_certificate, which OpenSSL 3 no longer exports; every TLS request crashes
// it. Owning the loop also gives us disconnect detection for watches.
//
// Threading: one thread per connection (connections are few and long-lived: kubectl, client
// libraries, agents). Handlers run on the connection's thread and may block.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace nave::http {

struct Header {
  std::string name;
  std::string value;
};

// The subject of a client certificate that verified against the client CA.
struct PeerIdentity {
  bool present = false;
  std::string commonName;                  // CN: the user name
  std::vector<std::string> organizations;  // O: the groups
};

struct Request {
  std::string method;
  std::string target;    // as sent, e.g. "/api/v1/pods?watch=1"
  std::string path;      // the percent-decoded path part of target
  std::string rawQuery;  // after '?', not decoded
  std::vector<Header> headers;
  std::string body;
  bool bodyTooLarge = false;  // the body exceeded ServerOptions::maxBodyBytes; body is empty
  std::string remoteAddress;  // "127.0.0.1:54321"
  PeerIdentity peer;

  // The first value of a header (case-insensitive name), or "".
  std::string_view header(std::string_view name) const;
};

// A connection taken over after an upgrade: a bidirectional byte stream (TLS inside).
class Stream {
 public:
  virtual ~Stream() = default;
  // Reads up to `size` bytes; 0 at end of stream, -1 on error. Blocks.
  virtual long read(char* buffer, size_t size) = 0;
  // Writes everything; false on error. Safe to call from another thread than read().
  virtual bool write(std::string_view data) = 0;
  // Ends the sending direction (TLS close_notify, then FIN) after everything written so far;
  // reading goes on until the peer closes its side. Safe to call from another thread than
  // read().
  virtual void closeWrite() = 0;
  // Closes the stream in both directions; a read() blocked in another thread returns.
  virtual void close() = 0;
};

class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;

  // A complete response with Content-Length.
  virtual void send(int status, const std::vector<Header>& headers, std::string_view body) = 0;

  // A streamed response (Transfer-Encoding: chunked): startStream, any number of write()s,
  // then end(). write() returns false once the client has gone; stop then.
  virtual bool startStream(int status, const std::vector<Header>& headers) = 0;
  virtual bool write(std::string_view data) = 0;
  virtual void end() = 0;

  enum class Wake { kTimeout, kWakeFd, kClientGone };
  // Blocks until `wakeFd` (if >= 0) is readable, the client closes its side, or timeoutMs
  // passes (-1: forever). For long-lived responses such as watches.
  virtual Wake wait(int wakeFd, int timeoutMs) = 0;

  // Sends `status` (normally 101) with the headers, then hands the connection over. The
  // server forgets the connection; the stream owns it.
  virtual std::unique_ptr<Stream> upgrade(int status, const std::vector<Header>& headers) = 0;

  virtual bool responded() const = 0;
};

using Handler = std::function<void(Request& request, ResponseWriter& response)>;

struct ServerOptions {
  std::string bindAddress = "0.0.0.0";
  int port = 0;  // 0 = an ephemeral port; see HttpServer::port()
  std::string certPem;      // serving certificate chain
  std::string keyPem;       // its private key
  std::string clientCaPem;  // when set, client certificates are requested (optional) and verified
  bool plaintext = false;   // tests only: no TLS
  size_t maxBodyBytes = 3 * 1024 * 1024;
  size_t maxHeaderBytes = 1024 * 1024;
  int maxConnections = 2048;
  int idleTimeoutSeconds = 300;  // keep-alive connections idle this long are closed
};

class HttpServer {
 public:
  // Binds, listens and starts accepting. Errors: the address is in use, the certificate or
  // key does not load.
  static Result<std::unique_ptr<HttpServer>> start(const ServerOptions& options, Handler handler);
  virtual ~HttpServer() = default;  // implies stop()

  virtual int port() const = 0;
  // Stops accepting, shuts connections down (streaming handlers see kClientGone) and joins
  // their threads. Idempotent.
  virtual void stop() = 0;
};

}  // namespace nave::http
