#include "runtime/agent/streaming/channel_connection.h"

#include <algorithm>
#include <cstring>

#include "common/log.h"

namespace nave::agent {

ChannelConnection::ChannelConnection(ws::Connection& conn, std::string_view protocol,
                                     std::vector<Kind> kinds, size_t maxBufferedPerChannel)
    : conn_(conn), codec_(channel::codecFor(protocol)), maxBuffered_(maxBufferedPerChannel) {
  for (size_t i = 0; i < kinds.size(); ++i)
    channels_.push_back(std::make_unique<Channel>(*this, uint8_t(i), kinds[i]));
}

ChannelConnection::~ChannelConnection() {
  std::lock_guard lock(mu_);
  ended_ = true;
  cv_.notify_all();
}

long ChannelConnection::Channel::read(char* buffer, size_t size) {
  std::unique_lock lock(owner_.mu_);
  owner_.cv_.wait(lock, [&] { return !input_.empty() || ended_ || owner_.ended_; });
  if (input_.empty()) return 0;
  std::string& front = input_.front();
  size_t n = std::min(size, front.size());
  std::memcpy(buffer, front.data(), n);
  if (n == front.size()) {
    input_.pop_front();
  } else {
    front.erase(0, n);
  }
  inputBytes_ -= n;
  owner_.cv_.notify_all();
  return long(n);
}

bool ChannelConnection::Channel::write(std::string_view data) {
  if (kind_ != Kind::kWrite && kind_ != Kind::kReadWrite) return true;  // as wsstream
  channel::Encoded e = channel::encode(owner_.codec_, id_, data);
  return owner_.conn_.send(e.opcode, e.payload);
}

void ChannelConnection::serve() {
  for (;;) {
    auto message = conn_.readMessage();
    if (!message.ok()) {
      log::v(2, "websocket stream ended", {{"error", message.error().message()}});
      break;
    }
    if (!message->has_value()) break;
    auto decoded = channel::decode(codec_, (*message)->data);
    if (!decoded.ok()) {
      log::v(2, "websocket channel message dropped", {{"error", decoded.error().message()}});
      if (codec_.streamClose && !(*message)->data.empty() &&
          uint8_t((*message)->data[0]) == channel::kCloseSignal) {
        break;  // wsstream ends the connection on a malformed close signal
      }
      continue;
    }
    if (decoded->kind == channel::Decoded::kEmpty || decoded->channel >= channels_.size()) continue;
    Channel& ch = *channels_[decoded->channel];
    std::unique_lock lock(mu_);
    if (decoded->kind == channel::Decoded::kClose) {
      ch.ended_ = true;
      cv_.notify_all();
      continue;
    }
    if ((ch.kind_ != Kind::kRead && ch.kind_ != Kind::kReadWrite) || ch.ended_ ||
        decoded->data.empty()) {
      continue;
    }
    cv_.wait(lock, [&] { return ch.inputBytes_ < maxBuffered_ || ch.ended_ || ended_; });
    if (ch.ended_ || ended_) continue;
    ch.inputBytes_ += decoded->data.size();
    ch.input_.push_back(std::move(decoded->data));
    cv_.notify_all();
  }
  std::lock_guard lock(mu_);
  ended_ = true;
  cv_.notify_all();
}

}  // namespace nave::agent
