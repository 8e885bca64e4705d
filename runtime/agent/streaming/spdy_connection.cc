#include "runtime/agent/streaming/spdy_connection.h"

#include <algorithm>
#include <cstring>

#include "common/log.h"

namespace nave::agent {
namespace {
constexpr size_t kMaxDataChunk = 64 * 1024;
}  // namespace

long SpdyStream::read(char* buffer, size_t size) {
  std::unique_lock lock(conn_.mu_);
  conn_.cv_.wait(lock, [&] { return !input_.empty() || remoteClosed_ || reset_; });
  if (reset_) return -1;
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
  conn_.cv_.notify_all();  // the reader may be waiting for room
  return static_cast<long>(n);
}

bool SpdyStream::write(std::string_view data) {
  {
    std::lock_guard lock(conn_.mu_);
    if (reset_ || localClosed_ || conn_.ended_) return false;
  }
  while (!data.empty()) {
    size_t n = std::min(data.size(), kMaxDataChunk);
    std::string frame;
    spdy::FrameWriter::appendData(id_, data.substr(0, n), false, frame);
    if (!conn_.writeFrame(frame)) return false;
    data.remove_prefix(n);
  }
  return true;
}

void SpdyStream::closeWrite() {
  {
    std::lock_guard lock(conn_.mu_);
    if (localClosed_ || reset_) return;
    localClosed_ = true;
  }
  std::string frame;
  spdy::FrameWriter::appendData(id_, {}, true, frame);
  conn_.writeFrame(frame);
  std::lock_guard lock(conn_.mu_);
  auto it = conn_.streams_.find(id_);
  if (it != conn_.streams_.end()) conn_.forgetIfDone(it->second);
}

void SpdyStream::reset(uint32_t status) {
  {
    std::lock_guard lock(conn_.mu_);
    if (reset_) return;
    reset_ = true;
    input_.clear();
    inputBytes_ = 0;
    conn_.streams_.erase(id_);
    conn_.cv_.notify_all();
  }
  std::string frame;
  spdy::FrameWriter::appendRstStream(id_, status, frame);
  conn_.writeFrame(frame);
}

void SpdyStream::discardInput() {
  std::lock_guard lock(conn_.mu_);
  discard_ = true;
  input_.clear();
  inputBytes_ = 0;
  conn_.cv_.notify_all();
}

SpdyConnection::SpdyConnection(http::Stream& transport, StreamHandler handler, Options options)
    : transport_(transport), handler_(std::move(handler)), options_(options) {}

SpdyConnection::~SpdyConnection() { endAllStreams(); }

bool SpdyConnection::writeFrame(const std::string& bytes) {
  std::lock_guard lock(writeMu_);
  if (writeFailed_) return false;
  if (!transport_.write(bytes)) writeFailed_ = true;
  return !writeFailed_;
}

void SpdyConnection::goAway() {
  uint32_t last;
  {
    std::lock_guard lock(mu_);
    if (goneAway_) return;
    goneAway_ = true;
    last = lastStreamId_;
  }
  std::string frame;
  spdy::FrameWriter::appendGoAway(last, spdy::kGoAwayOk, frame);
  writeFrame(frame);
}

void SpdyConnection::closeWrite() {
  std::lock_guard lock(writeMu_);
  transport_.closeWrite();
}

void SpdyConnection::close() {
  {
    std::lock_guard lock(mu_);
    ended_ = true;
    cv_.notify_all();
  }
  transport_.close();
}

void SpdyConnection::endAllStreams() {
  std::lock_guard lock(mu_);
  ended_ = true;
  for (auto& [id, s] : streams_) s->remoteClosed_ = true;
  streams_.clear();
  cv_.notify_all();
}

void SpdyConnection::forgetIfDone(const std::shared_ptr<SpdyStream>& stream) {
  if ((stream->remoteClosed_ && stream->localClosed_) || stream->reset_) streams_.erase(stream->id_);
}

void SpdyConnection::handleSynStream(spdy::Frame& frame) {
  uint32_t refuse = 0;
  {
    std::lock_guard lock(mu_);
    // spdystream's validateStreamId: client streams are odd and increasing.
    if (frame.streamId % 2 == 0 || frame.streamId <= lastStreamId_) {
      refuse = spdy::kProtocolError;
    } else if (goneAway_ || ended_ || streams_.size() >= options_.maxStreams) {
      lastStreamId_ = frame.streamId;
      refuse = spdy::kRefusedStream;
    } else {
      lastStreamId_ = frame.streamId;
    }
  }
  if (refuse != 0) {
    std::string out;
    spdy::FrameWriter::appendRstStream(frame.streamId, refuse, out);
    writeFrame(out);
    return;
  }
  std::shared_ptr<SpdyStream> stream(
      new SpdyStream(*this, frame.streamId, std::move(frame.headers)));
  if (frame.fin()) stream->remoteClosed_ = true;
  {
    std::lock_guard lock(mu_);
    streams_[stream->id_] = stream;
  }
  Result<void> accepted = handler_(stream);
  if (!accepted.ok()) {
    log::v(2, "SPDY stream rejected", {{"stream", int64_t(stream->id_)},
                                       {"error", accepted.error().message()}});
    stream->reset(spdy::kRefusedStream);
    return;
  }
  std::string out;
  {
    std::lock_guard lock(writeMu_);
    writer_.appendSynReply(stream->id_, {}, false, out);
    if (!writeFailed_ && !transport_.write(out)) writeFailed_ = true;
  }
  if (repliedHandler_) repliedHandler_(stream);
}

void SpdyConnection::handleData(spdy::Frame& frame) {
  std::unique_lock lock(mu_);
  auto it = streams_.find(frame.streamId);
  if (it == streams_.end()) return;  // gone away already, as spdystream ignores it
  std::shared_ptr<SpdyStream> s = it->second;
  if (s->remoteClosed_ || s->reset_) return;
  if (!frame.data.empty() && !s->discard_) {
    cv_.wait(lock, [&] {
      return s->inputBytes_ < options_.maxBufferedPerStream || s->reset_ || s->discard_ || ended_;
    });
    if (!s->reset_ && !s->discard_ && !ended_) {
      s->inputBytes_ += frame.data.size();
      s->input_.push_back(std::move(frame.data));
    }
  }
  if (frame.fin()) {
    s->remoteClosed_ = true;
    forgetIfDone(s);
  }
  cv_.notify_all();
}

void SpdyConnection::handleRst(const spdy::Frame& frame) {
  std::lock_guard lock(mu_);
  auto it = streams_.find(frame.streamId);
  if (it == streams_.end()) return;
  it->second->reset_ = true;
  it->second->input_.clear();
  it->second->inputBytes_ = 0;
  streams_.erase(it);
  cv_.notify_all();
}

Result<void> SpdyConnection::serve() {
  spdy::FrameParser parser;
  char buffer[32 * 1024];
  Result<void> outcome;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (ended_) break;
    }
    long n = transport_.read(buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0) {
      bool closing;
      {
        std::lock_guard lock(mu_);
        closing = ended_;
      }
      if (!closing) outcome = Error(ErrorCode::kUnavailable, "SPDY: connection read failed");
      break;
    }
    parser.feed(std::string_view(buffer, size_t(n)));
    bool failed = false;
    for (;;) {
      auto next = parser.next();
      if (!next.ok()) {
        log::v(2, "SPDY protocol error", {{"error", next.error().message()}});
        uint32_t last;
        {
          std::lock_guard lock(mu_);
          goneAway_ = true;
          last = lastStreamId_;
        }
        std::string out;
        spdy::FrameWriter::appendGoAway(last, spdy::kGoAwayProtocolError, out);
        writeFrame(out);
        outcome = std::move(next).error();
        failed = true;
        break;
      }
      if (!next->has_value()) break;
      spdy::Frame& frame = **next;
      switch (frame.type) {
        case spdy::FrameType::kSynStream:
          handleSynStream(frame);
          break;
        case spdy::FrameType::kData:
          handleData(frame);
          break;
        case spdy::FrameType::kRstStream:
          handleRst(frame);
          break;
        case spdy::FrameType::kPing:
          // Our own pings would be even; the client's (odd) are echoed.
          if (frame.pingId % 2 == 1) {
            std::string out;
            spdy::FrameWriter::appendPing(frame.pingId, out);
            writeFrame(out);
          }
          break;
        case spdy::FrameType::kGoAway: {
          std::lock_guard lock(mu_);
          goneAway_ = true;
          break;
        }
        default:  // SYN_REPLY (we open no streams), HEADERS, SETTINGS, WINDOW_UPDATE
          break;
      }
    }
    if (failed) break;
  }
  endAllStreams();
  return outcome;
}

}  // namespace nave::agent
