// The two halves of one logical stream of a streaming session (a SPDY stream, a WebSocket
// channel), as exec, attach and port-forward use them whatever the transport.
#pragma once

#include <cstddef>
#include <string_view>

namespace nave::agent {

// What the client sends on a stream.
class InputStream {
 public:
  virtual ~InputStream() = default;
  // Blocks until data arrives: the byte count, 0 once the client half-closed the stream or
  // the connection ended, -1 when the stream was reset.
  virtual long read(char* buffer, size_t size) = 0;
};

// What the server sends on a stream.
class OutputStream {
 public:
  virtual ~OutputStream() = default;
  // Sends everything; false once the stream or the connection is gone.
  virtual bool write(std::string_view data) = 0;
  // Half-closes the stream where the protocol can (SPDY FIN); later calls do nothing.
  virtual void closeWrite() = 0;
};

}  // namespace nave::agent
