// The shim's control socket (ROOT/ID/shim.sock): a unix stream socket carrying one request
// line and one reply line at a time.
//
//   start          -> "ok"            the container's process runs (exec after the start fd)
//   kill SIGNAL    -> "ok"            signal the container's init
//   status         -> "ok JSON"       the state.json content as the shim has it
//   wait           -> "exited"        sent once the container has exited, its log is flushed,
//                                     its cgroups are gone and state.json holds the exit
//   attach [stdin] -> "ok"            then the connection carries frames (below) both ways:
//                                     the container's output from now on (stdout, stderr),
//                                     and from the client stdin data, stdin's end and
//                                     terminal sizes; an exit frame ends it.
// Errors: "error CODE MESSAGE" (CODE: the ErrorCode's number). A closed connection without a
// reply means the shim is gone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/fd.h"
#include "common/result.h"

namespace nave::runtime {

// Binds (replacing a stale socket file) and listens. Paths longer than sun_path are reached
// through /proc/self/fd of their directory.
Result<UniqueFd> listenUnixSocket(const std::string& path);
// kUnavailable when nothing listens (the shim is gone).
Result<UniqueFd> connectUnixSocket(const std::string& path);

// Writes `line` (a newline is added) and reads one reply line (without its newline), waiting
// at most timeoutMs (< 0: forever). kTimeout when no reply came in time, kUnavailable when the
// connection closed first.
Result<std::string> shimRoundTrip(int fd, std::string_view line, int timeoutMs);
// Connects, sends, reads the reply; "error ..." replies become errors, "ok REST" gives REST.
Result<std::string> shimRequest(const std::string& socketPath, std::string_view line,
                                int timeoutMs);

// A reply line: "ok" -> "", "ok REST" -> REST, "error CODE MESSAGE" -> that error, anything else
// as it is.
Result<std::string> decodeShimReply(const std::string& reply);
std::string encodeShimError(const Error& error);

// Attach frames: a type byte, a 4-byte big-endian length, the data.
enum AttachFrameType : uint8_t {
  kAttachStdin = 0,       // client -> shim: bytes for the container's stdin (or terminal)
  kAttachStdout = 1,      // shim -> client
  kAttachStderr = 2,      // shim -> client
  kAttachExit = 3,        // shim -> client: the exit code, 4 bytes big-endian
  kAttachStdinClose = 4,  // client -> shim: no more input
  kAttachResize = 5,      // client -> shim: columns and rows, 2 bytes big-endian each
};
struct AttachFrame {
  uint8_t type = 0;
  std::string data;
};
constexpr size_t kMaxAttachFrame = 1 << 20;
std::string encodeAttachFrame(uint8_t type, std::string_view data);
// Takes the first complete frame off `buffer`; nullopt while incomplete. A frame over
// kMaxAttachFrame is dropped with the rest of the buffer (a confused peer).
std::optional<AttachFrame> decodeAttachFrame(std::string& buffer);

}  // namespace nave::runtime
