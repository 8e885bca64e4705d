// Helpers shared by the exec/attach, port-forward and logs handlers of the streaming server.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.h"
#include "common/result.h"
#include "server/http/http_server.h"

namespace nave::agent {

using QueryValues = std::multimap<std::string, std::string, std::less<>>;

// The decoded query of a request (form decoding: '+' is a space, as Go's url.ParseQuery).
QueryValues parseQuery(std::string_view rawQuery);
// The first value of `key`, or "" (Go's FormValue).
std::string firstValue(const QueryValues& query, std::string_view key);
std::vector<std::string> allValues(const QueryValues& query, std::string_view key);
bool hasKey(const QueryValues& query, std::string_view key);

// A response the handler gives instead of upgrading: status, text body, extra headers.
struct HttpError {
  int status = 400;
  std::string message;
  std::vector<http::Header> headers;
};
void sendHttpError(http::ResponseWriter& response, const HttpError& error);
// The HTTP status the kubelet answers an Error with (kNotFound 404, kBadRequest 400, ...).
int httpStatusOf(const Error& error);

// SPDY subprotocol negotiation and upgrade checks (httpstream.Handshake and the SPDY
// response upgrader): the negotiated protocol, or the error response.
Result<std::string> negotiateSpdy(const http::Request& request,
                                  const std::vector<std::string>& serverProtocols,
                                  HttpError& error);

// The timing knobs of streaming sessions.
struct SessionConfig {
  std::chrono::seconds streamCreationTimeout{30};  // for the client to open its streams
  std::chrono::seconds closeTimeout{30};  // for the client to close after the session ended
};

// An eventfd that wakes the polls of a session's pumps when the session ends.
class Wakeup {
 public:
  Wakeup();
  int fd() const { return fd_.get(); }
  void fire();
  bool fired() const;

 private:
  UniqueFd fd_;
};

// Writes everything to a non-blocking descriptor, waiting with poll; false on error (EPIPE:
// the reader went away) or when `stop` fires.
bool writeFd(int fd, std::string_view data, const Wakeup& stop);
// Reads from a non-blocking descriptor: the count, 0 at end of file, -1 on error, when `stop`
// fires, or at `deadline`.
long readFd(int fd, char* buffer, size_t size, const Wakeup& stop,
            std::chrono::steady_clock::time_point deadline =
                std::chrono::steady_clock::time_point::max());
void setNonBlocking(int fd);

// A pipe whose ends are close-on-exec: [0] to read, [1] to write.
Result<std::pair<UniqueFd, UniqueFd>> makePipe();

}  // namespace nave::agent
