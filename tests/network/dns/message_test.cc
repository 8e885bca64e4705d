#include "network/dns/message.h"

#include <gtest/gtest.h>

namespace nave::dns {
namespace {

// A query without EDNS0 for `name` and `type`, built by hand.
std::string plainQuery(uint16_t id, const std::string& name, uint16_t type) {
  std::string w = {char(id >> 8), char(id & 0xff), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  EXPECT_TRUE(appendName(w, name).ok());
  w += {char(type >> 8), char(type & 0xff), 0, 1};
  return w;
}

Question question(const std::string& name, uint16_t type) {
  return Question{name, lowercase(name), type, kClassIn};
}

TEST(DnsMessage, ParsesAQueryAndKeepsTheNameAsAsked) {
  auto q = parseQuery(plainQuery(0x1234, "Web.Default.svc.cluster.local", kTypeA));
  ASSERT_TRUE(q.ok()) << q.error().message();
  EXPECT_EQ(q->id, 0x1234);
  EXPECT_TRUE(q->recursionDesired());
  EXPECT_EQ(q->question.name, "Web.Default.svc.cluster.local");
  EXPECT_EQ(q->question.key, "web.default.svc.cluster.local");
  EXPECT_EQ(q->question.type, kTypeA);
  EXPECT_FALSE(q->edns);
  EXPECT_EQ(q->udpSize, kClassicUdpSize);
}

TEST(DnsMessage, ReadsEdns0PayloadSizeAndDoBit) {
  std::string w = encodeQuery(7, question("example.com", kTypeA), 4000);
  auto q = parseQuery(w);
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(q->edns);
  EXPECT_EQ(q->udpSize, 4000);
  // A payload size under 512 counts as 512 (RFC 6891 6.2.5).
  w = encodeQuery(7, question("example.com", kTypeA), 100);
  EXPECT_EQ(parseQuery(w)->udpSize, 512);
}

TEST(DnsMessage, RefusesMalformedQueriesWithoutReadingPastTheEnd) {
  std::string good = plainQuery(1, "a.b", kTypeA);
  for (size_t n = 0; n < good.size(); n++) {
    BadQuery bad;
    EXPECT_FALSE(parseQuery(good.substr(0, n), &bad).ok()) << n;
    EXPECT_EQ(bad.valid, n >= kHeaderSize) << n;
  }
  // Two questions, none.
  std::string two = good;
  two[5] = 2;
  EXPECT_FALSE(parseQuery(two).ok());
  std::string none = good.substr(0, kHeaderSize);
  none[5] = 0;
  EXPECT_FALSE(parseQuery(none).ok());
  // A compression pointer to itself, and one pointing forwards.
  std::string loop = good.substr(0, kHeaderSize) + "\xc0\x0c" + std::string("\x00\x01\x00\x01", 4);
  EXPECT_FALSE(parseQuery(loop).ok());
  std::string forward =
      good.substr(0, kHeaderSize) + "\xc0\x20" + std::string("\x00\x01\x00\x01", 4);
  EXPECT_FALSE(parseQuery(forward).ok());
  // A label type that does not exist (0x40), and a response.
  std::string ext = good.substr(0, kHeaderSize) + "\x41" + std::string(65, 'a') +
                    std::string("\x00\x00\x01\x00\x01", 5);
  EXPECT_FALSE(parseQuery(ext).ok());
  std::string response = good;
  response[2] = char(0x81);
  BadQuery bad;
  EXPECT_FALSE(parseQuery(response, &bad).ok());
  EXPECT_FALSE(bad.valid);
  // A name longer than 255 bytes.
  std::string longName = good.substr(0, kHeaderSize);
  for (int i = 0; i < 5; i++) longName += char(60) + std::string(60, 'x');
  longName += std::string(1, '\0') + std::string("\x00\x01\x00\x01", 4);
  EXPECT_FALSE(parseQuery(longName).ok());
}

TEST(DnsMessage, FormErrEchoesTheId) {
  BadQuery bad;
  std::string two = plainQuery(0xbeef, "a.b", kTypeA);
  two[5] = 2;
  ASSERT_FALSE(parseQuery(two, &bad).ok());
  std::string r = encodeFormErr(bad);
  ASSERT_EQ(r.size(), kHeaderSize);
  EXPECT_EQ(uint8_t(r[0]), 0xbe);
  EXPECT_EQ(uint8_t(r[1]), 0xef);
  EXPECT_EQ(uint8_t(r[3]) & 0xf, kFormErr);
  EXPECT_TRUE(uint8_t(r[2]) & 0x80);
}

TEST(DnsMessage, CompressesOwnerNamesAgainstTheQuestionCaseInsensitively) {
  auto q = parseQuery(plainQuery(9, "WEB.default.svc.cluster.local", kTypeA));
  ASSERT_TRUE(q.ok());
  Answer a;
  a.authoritative = true;
  a.answer.push_back({"web.default.svc.cluster.local", kTypeA, kClassIn, 5, rdataA(0x0a2b0001)});
  a.answer.push_back({"web.default.svc.cluster.local", kTypeA, kClassIn, 5, rdataA(0x0a2b0002)});
  std::string w = encodeResponse(*q, a, 512);
  // Header, the question (31 + 4), then two records of a pointer (2) + 10 + 4.
  EXPECT_EQ(w.size(), kHeaderSize + 31 + 4 + 2 * 16);
  auto r = parseResponse(w);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->id, 9);
  EXPECT_EQ(r->question.name, "WEB.default.svc.cluster.local");
  ASSERT_EQ(r->answer.answer.size(), 2u);
  EXPECT_EQ(r->answer.answer[1].name, "WEB.default.svc.cluster.local");  // echoes the asker's case
  EXPECT_EQ(r->answer.answer[1].rdata, rdataA(0x0a2b0002));
  EXPECT_TRUE(r->answer.authoritative);
}

TEST(DnsMessage, TruncatesOver512BytesWithoutEdnsAndHonoursEdnsPayloadSize) {
  Answer a;
  for (uint32_t i = 0; i < 40; i++)
    a.answer.push_back(
        {"h.default.svc.cluster.local", kTypeA, kClassIn, 5, rdataA(0x0a2a0000 + i)});
  auto plain = parseQuery(plainQuery(1, "h.default.svc.cluster.local", kTypeA));
  std::string w = encodeResponse(*plain, a, 512);
  EXPECT_LE(w.size(), 512u);
  auto r = parseResponse(w);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->truncated());
  auto edns = parseQuery(encodeQuery(1, question("h.default.svc.cluster.local", kTypeA), 1232));
  w = encodeResponse(*edns, a, edns->udpSize);
  r = parseResponse(w);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->truncated());
  EXPECT_EQ(r->answer.answer.size(), 40u);
  // The OPT record answers EDNS0.
  EXPECT_EQ(uint8_t(w[11]), 1);
}

TEST(DnsMessage, ExpandsCompressedNamesInUpstreamRdata) {
  auto q = parseQuery(plainQuery(3, "www.example.com", kTypeA));
  Answer a;
  a.answer.push_back({"www.example.com", kTypeCname, kClassIn, 60, rdataName("example.com")});
  a.authority.push_back({"example.com", kTypeSoa, kClassIn, 60,
                         rdataSoa("ns.example.com", "admin.example.com", 1, 2, 3, 4, 30)});
  std::string w = encodeResponse(*q, a, 512);
  auto r = parseResponse(w);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->answer.answer[0].rdata, rdataName("example.com"));
  EXPECT_EQ(soaMinimum(r->answer.authority[0].rdata), 30);
  // A message whose CNAME target is a pointer to the question name.
  std::string compressed = w.substr(0, kHeaderSize);
  compressed[7] = 1;                            // one answer
  compressed[9] = 0;                            // no authority
  compressed += w.substr(kHeaderSize, 17 + 4);  // "www.example.com" + type/class
  compressed += std::string("\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x02\xc0\x10", 14);
  r = parseResponse(compressed);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->answer.answer[0].rdata, rdataName("example.com"));
}

TEST(DnsMessage, UnknownEdnsVersionGetsBadVers) {
  std::string w = encodeQuery(5, question("a.b", kTypeA), 1232);
  w[w.size() - 5] = 1;  // version, in the OPT's TTL
  auto q = parseQuery(w);
  ASSERT_TRUE(q.ok());
  std::string r = encodeResponse(*q, Answer{}, 512);
  // extended rcode 1 (BADVERS = 16) in the OPT TTL's first byte.
  EXPECT_EQ(uint8_t(r[r.size() - 6]), 1);
}

}  // namespace
}  // namespace nave::dns
