#include "runtime/agent/streaming/spdy_frame.h"

#include <gtest/gtest.h>
#include <zlib.h>

namespace nave::agent::spdy {
namespace {

std::vector<Frame> parseAll(FrameParser& parser, std::string_view bytes, bool byteByByte = false) {
  std::vector<Frame> frames;
  auto drain = [&] {
    for (;;) {
      auto next = parser.next();
      EXPECT_TRUE(next.ok()) << next.error().message();
      if (!next.ok() || !next->has_value()) return;
      frames.push_back(std::move(**next));
    }
  };
  if (byteByByte) {
    for (char c : bytes) {
      parser.feed(std::string_view(&c, 1));
      drain();
    }
  } else {
    parser.feed(bytes);
    drain();
  }
  return frames;
}

std::string errorOf(std::string_view bytes, ParserLimits limits = {}) {
  FrameParser parser(limits);
  parser.feed(bytes);
  for (;;) {
    auto next = parser.next();
    if (!next.ok()) return next.error().message();
    if (!next->has_value()) return "";
  }
}

std::string controlFrame(uint16_t type, uint8_t flags, std::string_view payload, uint16_t version = 3) {
  std::string out;
  out += char(0x80 | (version >> 8));
  out += char(version & 0xff);
  out += char(type >> 8);
  out += char(type & 0xff);
  out += char(flags);
  out += char(payload.size() >> 16);
  out += char((payload.size() >> 8) & 0xff);
  out += char(payload.size() & 0xff);
  out.append(payload);
  return out;
}

TEST(SpdyFrame, DictionaryIsTheSpdy3One) {
  std::string_view d = headerDictionary();
  EXPECT_EQ(d.substr(0, 11), std::string_view("\0\0\0\7options", 11));
  EXPECT_TRUE(d.ends_with(",utf-,*,enq=0."));
  EXPECT_EQ(d.size(), 1423u);
}

TEST(SpdyFrame, SynStreamRoundTripsWithHeadersAcrossOneCompressionContext) {
  FrameWriter writer;
  std::string wire;
  for (uint32_t id : {1u, 3u, 5u}) {
    Frame f;
    f.type = FrameType::kSynStream;
    f.streamId = id;
    f.priority = 2;
    f.headers = {{"streamtype", "stdout"}, {"Port", "8080"}, {"multi", "a"}, {"multi", "b"}};
    writer.append(f, wire);
  }
  for (bool byteByByte : {false, true}) {
    FrameParser parser;
    auto frames = parseAll(parser, wire, byteByByte);
    ASSERT_EQ(frames.size(), 3u);
    for (const Frame& f : frames) {
      EXPECT_EQ(f.type, FrameType::kSynStream);
      EXPECT_EQ(f.priority, 2);
      EXPECT_EQ(headerValue(f.headers, "streamtype"), "stdout");
      EXPECT_EQ(headerValue(f.headers, "port"), "8080");  // names are lower-cased
      Headers multi;
      for (const auto& h : f.headers)
        if (h.name == "multi") multi.push_back(h);
      EXPECT_EQ(multi, (Headers{{"multi", "a"}, {"multi", "b"}}));
    }
    EXPECT_EQ(frames[2].streamId, 5u);
  }
}

TEST(SpdyFrame, ControlAndDataFramesRoundTrip) {
  FrameWriter writer;
  std::string wire;
  FrameWriter::appendData(7, "hello", false, wire);
  FrameWriter::appendData(7, "", true, wire);
  writer.appendSynReply(7, {}, false, wire);
  FrameWriter::appendRstStream(9, kCancel, wire);
  FrameWriter::appendPing(3, wire);
  FrameWriter::appendGoAway(7, kGoAwayOk, wire);
  Frame settings;
  settings.type = FrameType::kSettings;
  settings.settings = {{7, 65536}};
  writer.append(settings, wire);
  Frame window;
  window.type = FrameType::kWindowUpdate;
  window.streamId = 7;
  window.deltaWindowSize = 1000;
  writer.append(window, wire);
  FrameParser parser;
  auto f = parseAll(parser, wire);
  ASSERT_EQ(f.size(), 8u);
  EXPECT_EQ(f[0].data, "hello");
  EXPECT_FALSE(f[0].fin());
  EXPECT_TRUE(f[1].fin());
  EXPECT_EQ(f[2].type, FrameType::kSynReply);
  EXPECT_TRUE(f[2].headers.empty());
  EXPECT_EQ(f[3].status, kCancel);
  EXPECT_EQ(f[4].pingId, 3u);
  EXPECT_EQ(f[5].type, FrameType::kGoAway);
  EXPECT_EQ(f[5].streamId, 7u);
  EXPECT_EQ(f[6].settings.size(), 1u);
  EXPECT_EQ(f[7].deltaWindowSize, 1000u);
  EXPECT_EQ(parser.buffered(), 0u);
}

TEST(SpdyFrame, TruncatedInputWaitsForMore) {
  std::string wire;
  FrameWriter::appendData(1, "payload", false, wire);
  FrameParser parser;
  parser.feed(wire.substr(0, wire.size() - 1));
  auto next = parser.next();
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->has_value());
  parser.feed(wire.substr(wire.size() - 1));
  next = parser.next();
  ASSERT_TRUE(next.ok() && next->has_value());
  EXPECT_EQ((*next)->data, "payload");
}

TEST(SpdyFrame, UnknownControlTypesAreSkipped) {
  std::string wire = controlFrame(5, 0, "noop") + controlFrame(10, 0, "credential");
  FrameWriter::appendPing(1, wire);
  FrameParser parser;
  auto f = parseAll(parser, wire);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].type, FrameType::kPing);
}

TEST(SpdyFrame, HostileFramesFailClearly) {
  EXPECT_EQ(errorOf(controlFrame(6, 0, std::string("\0\0\0\1", 4), 2)), "SPDY: unsupported version 2");
  EXPECT_EQ(errorOf(std::string("\0\0\0\0\0\0\0\0", 8)), "SPDY: stream id zero is disallowed");
  EXPECT_EQ(errorOf(controlFrame(6, 0, "12345")), "SPDY: invalid control frame (PING)");
  EXPECT_EQ(errorOf(controlFrame(6, 0, std::string(4, '\0'))), "SPDY: ping id zero is disallowed");
  EXPECT_EQ(errorOf(controlFrame(3, 0, std::string("\0\0\0\1\0\0\0\0", 8))),
            "SPDY: invalid control frame (RST_STREAM status 0)");
  EXPECT_EQ(errorOf(controlFrame(1, 0, "short")), "SPDY: invalid control frame (SYN_STREAM too short)");
  EXPECT_EQ(errorOf(controlFrame(4, 0, std::string("\0\0\0\5", 4))), "SPDY: invalid control frame (SETTINGS length)");
  EXPECT_EQ(errorOf(controlFrame(7, 1, std::string(8, '\0'))), "SPDY: invalid control frame (GOAWAY)");
  // A header block that is not zlib data.
  std::string syn = std::string("\0\0\0\1\0\0\0\0\0\0", 10) + "not zlib at all";
  EXPECT_NE(errorOf(controlFrame(1, 0, syn)).find("does not decompress"), std::string::npos);
  // A data frame beyond the limit is refused before it is buffered.
  std::string big;
  FrameWriter::appendData(1, std::string(2000, 'x'), false, big);
  ParserLimits small;
  small.maxDataFrame = 1000;
  EXPECT_EQ(errorOf(big.substr(0, 8), small), "SPDY: data frame of 2000 bytes exceeds the limit of 1000");
  // A failed parser stays failed.
  FrameParser parser;
  parser.feed(std::string("\0\0\0\0\0\0\0\0", 8));
  EXPECT_FALSE(parser.next().ok());
  EXPECT_FALSE(parser.next().ok());
}

std::string compressed(std::string_view block) {
  z_stream z{};
  deflateInit(&z, Z_BEST_COMPRESSION);
  std::string_view dict = headerDictionary();
  deflateSetDictionary(&z, reinterpret_cast<const Bytef*>(dict.data()), uInt(dict.size()));
  std::string out(compressBound(uLong(block.size())) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(block.data()));
  z.avail_in = uInt(block.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  deflate(&z, Z_SYNC_FLUSH);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  return out;
}

std::string synWithBlock(std::string_view block) {
  return controlFrame(1, 0, std::string("\0\0\0\1\0\0\0\0\0\0", 10) + compressed(block));
}

TEST(SpdyFrame, HostileHeaderBlocksFailClearly) {
  auto u32 = [](uint32_t v) { return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; };
  EXPECT_EQ(errorOf(synWithBlock(u32(1) + u32(4) + "Port" + u32(1) + "1")),
            "SPDY: header block: header was not lowercased");
  EXPECT_EQ(errorOf(synWithBlock(u32(2) + u32(1) + "a" + u32(0) + u32(1) + "a" + u32(0))),
            "SPDY: header block: multiple headers with same name");
  EXPECT_EQ(errorOf(synWithBlock(u32(1) + u32(100) + "abc")), "SPDY: header block: truncated");
  EXPECT_EQ(errorOf(synWithBlock(u32(1u << 30))), "SPDY: header block: too many headers (1073741824)");
  EXPECT_EQ(errorOf(synWithBlock(u32(0) + "trailing")),
            "SPDY: header block: compressed payload size was incorrect");
  // A small compressed block that inflates beyond the limit.
  std::string bomb = u32(1) + u32(1) + "a" + u32(1 << 20) + std::string(1 << 20, 'z');
  EXPECT_NE(errorOf(synWithBlock(bomb)).find("header block larger than"), std::string::npos);
}

TEST(SpdyFrame, HeaderBlockEncodingMergesValues) {
  std::string block = encodeHeaderBlock({{"A", "1"}, {"a", "2"}, {"b", ""}});
  auto headers = decodeHeaderBlock(block, {});
  ASSERT_TRUE(headers.ok());
  EXPECT_EQ(*headers, (Headers{{"a", "1"}, {"a", "2"}, {"b", ""}}));
}

}  // namespace
}  // namespace nave::agent::spdy
