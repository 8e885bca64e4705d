// DNS messages (RFC 1035, EDNS0 from RFC 6891): parsing queries and upstream responses, and
// encoding responses with name compression and truncation. Names are handled as dotted
// strings without the root's trailing dot ("web.default.svc.cluster.local", "" for the root);
// lookups compare them lowercased, answers echo the question as it was asked.
//
// Everything here is pure and thread-compatible; parsers never trust lengths or pointers in
// their input (a bad message is an error, never a read out of bounds).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace nave::dns {

enum Type : uint16_t {
  kTypeA = 1,
  kTypeNs = 2,
  kTypeCname = 5,
  kTypeSoa = 6,
  kTypePtr = 12,
  kTypeMx = 15,
  kTypeTxt = 16,
  kTypeAaaa = 28,
  kTypeSrv = 33,
  kTypeOpt = 41,
  kTypeAny = 255,
};
enum Rcode : uint8_t {
  kNoError = 0,
  kFormErr = 1,
  kServFail = 2,
  kNxDomain = 3,
  kNotImp = 4,
  kRefused = 5,
};
constexpr uint16_t kClassIn = 1;
constexpr size_t kHeaderSize = 12;
constexpr size_t kClassicUdpSize = 512;  // the UDP limit without EDNS0
constexpr uint16_t kMaxUdpSize = 4096;   // the most we answer over UDP, whatever EDNS0 asks

struct Question {
  std::string name;  // as asked (case kept)
  std::string key;   // lowercased: what lookups use
  uint16_t type = 0;
  uint16_t cls = kClassIn;
};

struct Query {
  uint16_t id = 0;
  uint16_t flags = 0;  // the request's flags word (opcode, RD, CD)
  Question question;
  bool edns = false;                   // an OPT record was present
  uint16_t udpSize = kClassicUdpSize;  // the requestor's payload size (>= 512)
  bool dnssecOk = false;
  uint8_t opcode() const { return (flags >> 11) & 0xf; }
  bool recursionDesired() const { return flags & 0x0100; }
};

// A resource record with its RDATA in wire form; names inside RDATA are stored uncompressed.
struct Record {
  std::string name;
  uint16_t type = 0;
  uint16_t cls = kClassIn;
  uint32_t ttl = 0;
  std::string rdata;
};

struct Answer {
  uint8_t rcode = kNoError;
  bool authoritative = false;
  std::vector<Record> answer, authority, additional;
};

// The header fields of a message that failed to parse as a query, enough to answer FORMERR
// (RFC 1035: the ID is echoed when it can be read). `valid` is false for anything shorter than
// a header, or a response: those get no answer at all.
struct BadQuery {
  bool valid = false;
  uint16_t id = 0;
  uint16_t flags = 0;
};

// Parses a request: one question, EDNS0 OPT in the additional section (a second OPT or one not
// at the root is malformed). kInvalid for malformed input; `bad` (optional) is filled with what
// a FORMERR answer needs.
Result<Query> parseQuery(std::string_view wire, BadQuery* bad = nullptr);

// Encodes the response to `query`: the question echoed, `answer`'s sections, an OPT record
// when the query had one (our payload size, EDNS version 0). When the message exceeds
// `maxSize`, the additional section is dropped first, then the authority section and the
// answer records that do not fit, and TC is set (RFC 2181 9: a client retries over TCP). `age` (seconds) is taken off every
// TTL, for answers that waited in a cache.
std::string encodeResponse(const Query& query, const Answer& answer, size_t maxSize,
                           uint32_t age = 0);
// NOTIMP, SERVFAIL... with no records, the question echoed.
std::string encodeError(const Query& query, uint8_t rcode);
std::string encodeFormErr(const BadQuery& bad);
// A query for `question` with `id`, RD set and an EDNS0 OPT offering `udpSize`.
std::string encodeQuery(uint16_t id, const Question& question, uint16_t udpSize);

// An upstream's response parsed into records (RDATA names of the types that may compress them,
// CNAME NS PTR MX SOA SRV, are expanded). The OPT record is left out.
struct Response {
  uint16_t id = 0;
  uint16_t flags = 0;
  Question question;
  Answer answer;
  bool truncated() const { return flags & 0x0200; }
};
Result<Response> parseResponse(std::string_view wire);

// Name helpers. appendName() writes a dotted name as uncompressed labels; kInvalid when a
// label is empty or longer than 63 bytes, or the name is longer than 255.
Result<void> appendName(std::string& out, std::string_view name);
std::string lowercase(std::string_view s);
// The dotted form of an uncompressed wire name (e.g. a CNAME's RDATA); "" when malformed.
std::string nameFromRdata(std::string_view rdata);

// RDATA builders.
std::string rdataA(uint32_t ipv4);             // host byte order
std::string rdataName(std::string_view name);  // CNAME, PTR, NS
std::string rdataSrv(uint16_t priority, uint16_t weight, uint16_t port, std::string_view target);
std::string rdataSoa(std::string_view mname, std::string_view rname, uint32_t serial,
                     uint32_t refresh, uint32_t retry, uint32_t expire, uint32_t minimum);
// The SOA's MINIMUM field, or -1 when `rdata` is no SOA RDATA.
int64_t soaMinimum(std::string_view rdata);

}  // namespace nave::dns
