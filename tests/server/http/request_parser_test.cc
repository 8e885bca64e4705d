#include "server/http/request_parser.h"

#include <gtest/gtest.h>

namespace nave::http {
namespace {

struct Parsed {
  int status = -1;
  Request request;
  RequestFraming framing;
};

Parsed parse(std::string_view text) {
  Parsed p;
  size_t end = findHeadEnd(text, 0);
  if (end == 0) return p;
  p.status = parseRequestHead(text.substr(0, end), p.request, p.framing);
  return p;
}

TEST(FindHeadEnd, FindsCrlfAndLfTerminators) {
  EXPECT_EQ(findHeadEnd("GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY", 0), 27u);
  EXPECT_EQ(findHeadEnd("GET / HTTP/1.1\nHost: a\n\nBODY", 0), 24u);
  EXPECT_EQ(findHeadEnd("GET / HTTP/1.1\r\nHost: a\r\n", 0), 0u);
  // A terminator split across two reads is found when scanning resumes.
  std::string_view full = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  EXPECT_EQ(findHeadEnd(full, 26), full.size());
}

TEST(FindHeadEnd, SkipsLeadingBlankLines) {
  EXPECT_EQ(leadingBlankLines("\r\n\nGET"), 3u);
  EXPECT_EQ(leadingBlankLines("GET"), 0u);
  EXPECT_EQ(leadingBlankLines("\r"), 0u);  // might be the start of a CRLF
}

TEST(ParseRequestHead, ParsesRequestLineTargetAndHeaders) {
  auto p = parse(
      "GET /api/v1/namespaces/a%2Fb/pods?watch=1&labelSelector=a%3Db HTTP/1.1\r\n"
      "Host: example\r\nX-Thing:   padded value \t\r\nAccept: application/json\r\n\r\n");
  ASSERT_EQ(p.status, 0);
  EXPECT_EQ(p.request.method, "GET");
  EXPECT_EQ(p.request.target, "/api/v1/namespaces/a%2Fb/pods?watch=1&labelSelector=a%3Db");
  EXPECT_EQ(p.request.path, "/api/v1/namespaces/a/b/pods");
  EXPECT_EQ(p.request.rawQuery, "watch=1&labelSelector=a%3Db");
  EXPECT_EQ(p.request.header("x-thing"), "padded value");
  EXPECT_EQ(p.request.header("ACCEPT"), "application/json");
  EXPECT_EQ(p.request.header("missing"), "");
  EXPECT_EQ(p.framing.body, BodyFraming::kNone);
  EXPECT_TRUE(p.framing.keepAlive);
  EXPECT_FALSE(p.framing.http10);
}

TEST(ParseRequestHead, ReusedRequestsKeepOnlyTheNewHeaders) {
  Request request;
  RequestFraming framing;
  std::string_view first = "GET / HTTP/1.1\r\nHost: a\r\nX-One: 1\r\nX-Two: 2\r\n\r\n";
  ASSERT_EQ(parseRequestHead(first, request, framing), 0);
  ASSERT_EQ(request.headers.size(), 3u);
  std::string_view second = "GET / HTTP/1.1\r\nHost: b\r\n\r\n";
  ASSERT_EQ(parseRequestHead(second, request, framing), 0);
  ASSERT_EQ(request.headers.size(), 1u);
  EXPECT_EQ(request.header("host"), "b");
  EXPECT_EQ(request.header("x-one"), "");
  EXPECT_NE(parseRequestHead("BAD\r\n\r\n", request, framing), 0);
  EXPECT_TRUE(request.headers.empty());
}

TEST(ParseRequestHead, AcceptsAbsoluteFormAndAsterisk) {
  auto p = parse("GET https://host:6443/version?x=1 HTTP/1.1\r\nHost: host\r\n\r\n");
  ASSERT_EQ(p.status, 0);
  EXPECT_EQ(p.request.path, "/version");
  EXPECT_EQ(p.request.rawQuery, "x=1");
  EXPECT_EQ(parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n").status, 0);
  EXPECT_EQ(parse("GET * HTTP/1.1\r\nHost: h\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET ftp://h/x HTTP/1.1\r\nHost: h\r\n\r\n").status, 400);
}

TEST(ParseRequestHead, FramingFromLengthAndChunked) {
  auto p = parse("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n");
  ASSERT_EQ(p.status, 0);
  EXPECT_EQ(p.framing.body, BodyFraming::kContentLength);
  EXPECT_EQ(p.framing.contentLength, 12u);
  p = parse("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n");
  ASSERT_EQ(p.status, 0);
  EXPECT_EQ(p.framing.body, BodyFraming::kChunked);
  // Identical repeated lengths are harmless.
  EXPECT_EQ(
      parse("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n").status,
      0);
}

TEST(ParseRequestHead, ConnectionSemanticsPerVersion) {
  EXPECT_FALSE(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").framing.keepAlive);
  EXPECT_FALSE(parse("GET / HTTP/1.0\r\n\r\n").framing.keepAlive);
  auto p = parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
  EXPECT_EQ(p.status, 0);  // HTTP/1.0 needs no Host
  EXPECT_TRUE(p.framing.keepAlive);
  EXPECT_TRUE(p.framing.http10);
  EXPECT_TRUE(parse("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n").framing.isHead);
  EXPECT_TRUE(
      parse("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n")
          .framing.expectContinue);
}

TEST(ParseRequestHead, RefusesMalformedAndAmbiguousRequests) {
  struct Case {
    const char* text;
    int status;
  } cases[] = {
      {"GET /\r\nHost: h\r\n\r\n", 400},                              // no version
      {"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},                    // empty target
      {"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},                     // method not a token
      {"GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", 400},                // control byte in target
      {"GET / HTTP/1.1\r\n\r\n", 400},                                // HTTP/1.1 without Host
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},          // two Hosts
      {"GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n", 400},      // space in name
      {"GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400},          //
      {"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n folded\r\n\r\n", 400},  // obs-fold
      {"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400},          // bare CR
      {"GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n", 400},         // DEL in value
      {"GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400},                  // bad escape
      {"GET /%4 HTTP/1.1\r\nHost: h\r\n\r\n", 400},                   //
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
       400},
      {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked"
       "\r\n\r\n",
       501},
      {"GET / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n", 417},
      {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
      {"GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400},
      {"GET / http/1.1\r\nHost: h\r\n\r\n", 400},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(parse(c.text).status, c.status) << c.text;
  }
}

std::string decodeAll(ChunkedDecoder& d, std::string_view input, size_t step) {
  std::string body;
  for (size_t i = 0; i < input.size() && !d.done() && !d.malformed() && !d.tooLarge(); i += step) {
    std::string_view piece = input.substr(i, step);
    size_t used = d.feed(piece, body);
    if (used < piece.size()) break;
  }
  return body;
}

TEST(ChunkedDecoder, DecodesWhateverTheSplit) {
  std::string_view input =
      "5;ext=1\r\nhello\r\n7\r\n, world\r\nA \r\n0123456789\r\n0\r\nX-T: y\r\n\r\n";
  for (size_t step : {size_t(1), size_t(2), size_t(7), input.size()}) {
    ChunkedDecoder d(1024, 1024);
    EXPECT_EQ(decodeAll(d, input, step), "hello, world0123456789") << step;
    EXPECT_TRUE(d.done()) << step;
  }
}

TEST(ChunkedDecoder, StopsAtTheEndOfTheBody) {
  ChunkedDecoder d(1024, 1024);
  std::string body;
  std::string_view input = "1\r\na\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
  size_t used = d.feed(input, body);
  EXPECT_TRUE(d.done());
  EXPECT_EQ(input.substr(used), "GET / HTTP/1.1\r\n");  // the next pipelined request
}

TEST(ChunkedDecoder, RefusesMalformedInput) {
  for (std::string_view bad :
       {"x\r\n", "5\r\nhelloXX", "\r\n", "5 x\r\n", "fffffffffffffffff\r\n"}) {
    ChunkedDecoder d(1 << 20, 1024);
    decodeAll(d, bad, bad.size());
    EXPECT_TRUE(d.malformed()) << bad;
  }
}

TEST(ChunkedDecoder, StopsOnceTheBodyIsTooLarge) {
  ChunkedDecoder d(8, 1024);
  decodeAll(d, "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", 3);
  EXPECT_TRUE(d.tooLarge());
  // A single announced chunk beyond the limit is refused before its data arrives.
  ChunkedDecoder big(8, 1024);
  std::string body;
  big.feed("100000\r\n", body);
  EXPECT_TRUE(big.tooLarge());
  EXPECT_TRUE(body.empty());
}

TEST(ChunkedDecoder, BoundsTrailers) {
  ChunkedDecoder d(1024, 64);
  decodeAll(d, "0\r\n" + std::string(100, 'a') + "\r\n\r\n", 10);
  EXPECT_TRUE(d.malformed());
}

}  // namespace
}  // namespace nave::http
