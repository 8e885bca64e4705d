// Channels multiplexed on one WebSocket connection, as wsstream.Conn serves them: each channel
// is read (client to server), write (server to client), both, or ignored; messages for a
// channel that is not readable, or beyond the last, are dropped; on v5 the close signal
// half-closes a readable channel.
//
// Threading: serve() on one thread; channels' reads and writes from any others. mu_ guards
// the input queues.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/agent/streaming/byte_streams.h"
#include "runtime/agent/streaming/channel.h"
#include "runtime/agent/streaming/websocket.h"

namespace nave::agent {

class ChannelConnection {
 public:
  enum class Kind { kRead, kWrite, kReadWrite, kIgnore };

  ChannelConnection(ws::Connection& conn, std::string_view protocol, std::vector<Kind> kinds,
                    size_t maxBufferedPerChannel = 1 << 20);
  ~ChannelConnection();

  // Reads messages until the client closes the connection or breaks the protocol; every
  // channel then reads as ended.
  void serve();
  InputStream& input(size_t channel) { return *channels_[channel]; }
  OutputStream& output(size_t channel) { return *channels_[channel]; }
  // The closing handshake (1000), once.
  void close() { conn_.close(ws::kCloseNormal); }

 private:
  class Channel final : public InputStream, public OutputStream {
   public:
    Channel(ChannelConnection& owner, uint8_t id, Kind kind) : owner_(owner), id_(id), kind_(kind) {}
    long read(char* buffer, size_t size) override;
    bool write(std::string_view data) override;
    void closeWrite() override {}  // no half-close from the server in these protocols

   private:
    friend class ChannelConnection;
    ChannelConnection& owner_;
    uint8_t id_;
    Kind kind_;
    std::deque<std::string> input_;  // guarded by owner_.mu_
    size_t inputBytes_ = 0;
    bool ended_ = false;
  };

  ws::Connection& conn_;
  channel::Codec codec_;
  size_t maxBuffered_;
  std::vector<std::unique_ptr<Channel>> channels_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool ended_ = false;  // guarded by mu_
};

}  // namespace nave::agent
