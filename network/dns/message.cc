#include "network/dns/message.h"

#include <strings.h>

#include <utility>

namespace nave::dns {
namespace {

constexpr uint16_t kFlagQr = 0x8000, kFlagAa = 0x0400, kFlagTc = 0x0200, kFlagRd = 0x0100,
                   kFlagRa = 0x0080, kFlagCd = 0x0010;
constexpr uint16_t kOurUdpSize = 1232;  // what we offer upstreams and clients (DNS flag day 2020)
constexpr uint8_t kBadVersRcode = 16;   // extended: upper 8 bits in the OPT TTL, lower 4 here

Error malformed(std::string_view what) {
  return Error(ErrorCode::kInvalid, "malformed DNS message: " + std::string(what));
}

// Reads a message; the first failure sticks (error() says what), later reads return zeros and
// empty values, so parsers check once per record rather than after every field.
class Reader {
 public:
  explicit Reader(std::string_view wire) : w_(wire) {}
  size_t pos() const { return pos_; }
  size_t left() const { return w_.size() - pos_; }
  const char* error() const { return error_; }
  uint16_t u16() {
    if (left() < 2) return fail("truncated"), 0;
    uint16_t v = uint16_t(uint8_t(w_[pos_]) << 8 | uint8_t(w_[pos_ + 1]));
    pos_ += 2;
    return v;
  }
  uint32_t u32() {
    uint32_t hi = u16();
    return hi << 16 | u16();
  }
  std::string_view bytes(size_t n) {
    if (left() < n) return fail("truncated"), std::string_view();
    std::string_view v = w_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  // A possibly compressed name at the current position; the position moves past its first
  // pointer or its root label. Pointers must go strictly backwards, so every chain ends.
  std::string name() {
    std::string out;
    size_t p = pos_, wireLength = 1;
    bool jumped = false;
    size_t limit = p;  // a pointer must point before the label that holds it
    for (;;) {
      if (p >= w_.size()) return fail("name runs past the end"), "";
      uint8_t len = uint8_t(w_[p]);
      if ((len & 0xc0) == 0xc0) {
        if (p + 1 >= w_.size()) return fail("truncated pointer"), "";
        size_t target = size_t(len & 0x3f) << 8 | uint8_t(w_[p + 1]);
        if (target >= limit) return fail("compression pointer does not point backwards"), "";
        if (!jumped) pos_ = p + 2;
        jumped = true;
        p = limit = target;
        continue;
      }
      if (len & 0xc0) return fail("unknown label type"), "";
      if (len == 0) {
        if (!jumped) pos_ = p + 1;
        return out;
      }
      if (p + 1 + len > w_.size()) return fail("label runs past the end"), "";
      wireLength += len + 1;
      if (wireLength > 255) return fail("name longer than 255 bytes"), "";
      if (!out.empty()) out += '.';
      out.append(w_.substr(p + 1, len));
      p += 1 + len;
      if (!jumped) limit = p;
    }
  }
  void skip(size_t n) { pos_ += std::min(n, left()); }
  void fail(const char* what) {
    if (!error_) error_ = what;
    pos_ = w_.size();
  }

 private:
  std::string_view w_;
  size_t pos_ = 0;
  const char* error_ = nullptr;
};

void putU16(std::string& out, uint16_t v) {
  out += char(v >> 8);
  out += char(v & 0xff);
}
void putU32(std::string& out, uint32_t v) {
  putU16(out, uint16_t(v >> 16));
  putU16(out, uint16_t(v & 0xffff));
}
void setU16(std::string& out, size_t at, uint16_t v) {
  out[at] = char(v >> 8);
  out[at + 1] = char(v & 0xff);
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// Writes messages, compressing owner names against the names written before (the question's
// and earlier owners'); RDATA is copied as it is.
class Writer {
 public:
  std::string out;

  void name(std::string_view n) {
    size_t start = 0;
    while (start < n.size()) {
      std::string_view suffix = n.substr(start);
      for (const auto& [known, offset] : dict_) {
        if (equalsIgnoreCase(known, suffix)) {
          putU16(out, uint16_t(0xc000 | offset));
          return;
        }
      }
      if (out.size() < 0x4000) dict_.emplace_back(suffix, uint16_t(out.size()));
      size_t dot = n.find('.', start);
      size_t end = dot == std::string_view::npos ? n.size() : dot;
      size_t len = std::min<size_t>(end - start, 63);  // appendName() refused longer labels
      out += char(len);
      out.append(n.substr(start, len));
      start = end + 1;
    }
    out += '\0';
  }
  void record(const Record& r, uint32_t age) {
    name(r.name);
    putU16(out, r.type);
    putU16(out, r.cls);
    putU32(out, r.ttl > age ? r.ttl - age : 0);
    putU16(out, uint16_t(r.rdata.size()));
    out += r.rdata;
  }

 private:
  std::vector<std::pair<std::string_view, uint16_t>> dict_;
};

uint16_t responseFlags(const Query& q, uint8_t rcode, bool aa) {
  return uint16_t(kFlagQr | (q.flags & (0x7800 | kFlagRd | kFlagCd)) | kFlagRa |
                  (aa ? kFlagAa : 0) | (rcode & 0xf));
}

void writeOpt(Writer& w, const Query& q, uint8_t extendedRcode) {
  w.out += '\0';
  putU16(w.out, kTypeOpt);
  putU16(w.out, kOurUdpSize);
  putU32(w.out, uint32_t(extendedRcode) << 24 | (q.dnssecOk ? 0x8000u : 0u));
  putU16(w.out, 0);
}

std::string encode(const Query& q, uint8_t rcode, bool aa, const std::vector<Record>* sections[3],
                   bool truncated, uint32_t age) {
  Writer w;
  w.out.reserve(512);
  putU16(w.out, q.id);
  putU16(w.out, uint16_t(responseFlags(q, rcode, aa) | (truncated ? kFlagTc : 0)));
  putU16(w.out, 1);
  for (int i = 0; i < 3; i++) putU16(w.out, uint16_t(sections[i] ? sections[i]->size() : 0));
  w.name(q.question.name);
  putU16(w.out, q.question.type);
  putU16(w.out, q.question.cls);
  for (int i = 0; i < 3; i++)
    if (sections[i])
      for (const Record& r : *sections[i]) w.record(r, age);
  if (q.edns) {
    writeOpt(w, q, rcode >> 4);
    setU16(w.out, 10, uint16_t((sections[2] ? sections[2]->size() : 0) + 1));
  }
  return std::move(w.out);
}

// Names inside RDATA that RFC 1035 lets a message compress, expanded so the record stands alone.
std::string expandRdata(Reader& r, uint16_t type, size_t len) {
  size_t end = r.pos() + len;
  int names = 0;
  size_t before = 0, after = 0;
  switch (type) {
    case kTypeCname:
    case kTypeNs:
    case kTypePtr:
      names = 1;
      break;
    case kTypeMx:
      names = 1, before = 2;
      break;
    case kTypeSrv:
      names = 1, before = 6;
      break;
    case kTypeSoa:
      names = 2, after = 20;
      break;
    default:
      return std::string(r.bytes(len));
  }
  std::string out(r.bytes(before));
  for (int i = 0; i < names; i++)
    if (!appendName(out, r.name()).ok()) r.fail("bad name in RDATA");
  out += r.bytes(after);
  if (r.pos() != end) r.fail("RDATA length does not match its content");
  return out;
}

Question readQuestion(Reader& r) {
  Question q;
  q.name = r.name();
  q.key = lowercase(q.name);
  q.type = r.u16();
  q.cls = r.u16();
  return q;
}

}  // namespace

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = char(c + 32);
  return out;
}

Result<void> appendName(std::string& out, std::string_view name) {
  if (name.size() > 253) return Error(ErrorCode::kInvalid, "DNS name longer than 253 characters");
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    size_t end = dot == std::string_view::npos ? name.size() : dot;
    size_t len = end - start;
    if (len == 0 || len > 63)
      return Error(ErrorCode::kInvalid, "DNS name \"" + std::string(name) + "\" has a bad label");
    out += char(len);
    out.append(name.substr(start, len));
    start = end + 1;
  }
  out += '\0';
  return {};
}

Result<Query> parseQuery(std::string_view wire, BadQuery* bad) {
  Reader r(wire);
  Query q;
  q.id = r.u16();
  q.flags = r.u16();
  uint16_t qd = r.u16(), an = r.u16(), ns = r.u16(), ar = r.u16();
  if (r.error()) return malformed(r.error());
  if (q.flags & kFlagQr) return malformed("a response, not a query");
  if (bad) *bad = {true, q.id, q.flags};
  if (qd != 1) return malformed("a query has exactly one question");
  q.question = readQuestion(r);
  for (int i = 0; i < an + ns + ar && !r.error(); i++) {
    bool root = r.name().empty();
    uint16_t type = r.u16(), cls = r.u16();
    uint32_t ttl = r.u32();
    r.bytes(r.u16());
    if (type != kTypeOpt || r.error()) continue;
    if (i < an + ns || q.edns || !root) return malformed("misplaced OPT record");
    q.edns = true;
    q.udpSize = std::max<uint16_t>(cls, kClassicUdpSize);
    q.dnssecOk = ttl & 0x8000;
    if ((ttl >> 16 & 0xff) != 0) q.udpSize = 0;  // an EDNS version we do not speak: BADVERS
  }
  if (r.error()) return malformed(r.error());
  return q;
}

std::string encodeResponse(const Query& query, const Answer& a, size_t maxSize, uint32_t age) {
  if (query.edns && query.udpSize == 0) return encodeError(query, kBadVersRcode);
  const std::vector<Record>* all[3] = {&a.answer, &a.authority, &a.additional};
  std::string out = encode(query, a.rcode, a.authoritative, all, false, age);
  if (out.size() <= maxSize) return out;
  const std::vector<Record>* noAdditional[3] = {&a.answer, &a.authority, nullptr};
  out = encode(query, a.rcode, a.authoritative, noAdditional, false, age);
  if (out.size() <= maxSize) return out;
  // As many answer records as fit, with TC: clients that do not retry over TCP (musl before
  // 1.2.4) still get addresses, as from CoreDNS.
  size_t lo = 0, hi = a.answer.size();
  std::string best;
  while (lo <= hi) {
    size_t mid = (lo + hi) / 2;
    std::vector<Record> part(a.answer.begin(), a.answer.begin() + long(mid));
    const std::vector<Record>* some[3] = {&part, nullptr, nullptr};
    std::string candidate = encode(query, a.rcode, a.authoritative, some, true, age);
    if (candidate.size() <= maxSize) {
      best = std::move(candidate);
      lo = mid + 1;
    } else if (mid == 0) {
      break;
    } else {
      hi = mid - 1;
    }
  }
  return best;
}

std::string encodeError(const Query& query, uint8_t rcode) {
  const std::vector<Record>* none[3] = {nullptr, nullptr, nullptr};
  return encode(query, rcode, false, none, false, 0);
}

std::string encodeFormErr(const BadQuery& bad) {
  std::string out;
  putU16(out, bad.id);
  putU16(out, uint16_t(kFlagQr | (bad.flags & (0x7800 | kFlagRd)) | kFlagRa | kFormErr));
  out.append(8, '\0');
  return out;
}

std::string encodeQuery(uint16_t id, const Question& question, uint16_t udpSize) {
  std::string out;
  putU16(out, id);
  putU16(out, kFlagRd);
  putU16(out, 1);
  putU16(out, 0);
  putU16(out, 0);
  putU16(out, 1);
  if (!appendName(out, question.name).ok()) return "";
  putU16(out, question.type);
  putU16(out, question.cls);
  out += '\0';
  putU16(out, kTypeOpt);
  putU16(out, udpSize);
  putU32(out, 0);
  putU16(out, 0);
  return out;
}

Result<Response> parseResponse(std::string_view wire) {
  Reader r(wire);
  Response resp;
  resp.id = r.u16();
  resp.flags = r.u16();
  uint16_t qd = r.u16(), an = r.u16(), ns = r.u16(), ar = r.u16();
  if (r.error()) return malformed(r.error());
  if (!(resp.flags & kFlagQr)) return malformed("a query, not a response");
  if (qd != 1) return malformed("a response echoes exactly one question");
  resp.question = readQuestion(r);
  if (r.error()) return malformed(r.error());
  resp.answer.rcode = resp.flags & 0xf;
  resp.answer.authoritative = resp.flags & kFlagAa;
  if (resp.truncated()) return resp;  // the records that follow may be cut anywhere
  for (int i = 0; i < an + ns + ar && !r.error(); i++) {
    Record rec;
    rec.name = r.name();
    rec.type = r.u16();
    rec.cls = r.u16();
    rec.ttl = r.u32();
    uint16_t len = r.u16();
    if (rec.type == kTypeOpt) {
      resp.answer.rcode = uint8_t(resp.answer.rcode | ((rec.ttl >> 24) << 4));
      r.bytes(len);
      continue;
    }
    rec.rdata = expandRdata(r, rec.type, len);
    if (rec.ttl & 0x80000000u) rec.ttl = 0;  // RFC 2181 8: treat as zero
    (i < an        ? resp.answer.answer
     : i < an + ns ? resp.answer.authority
                   : resp.answer.additional)
        .push_back(std::move(rec));
  }
  if (r.error()) return malformed(r.error());
  return resp;
}

std::string rdataA(uint32_t ip) {
  std::string out;
  putU32(out, ip);
  return out;
}

std::string rdataName(std::string_view name) {
  std::string out;
  if (!appendName(out, name).ok()) return std::string(1, '\0');
  return out;
}

std::string rdataSrv(uint16_t priority, uint16_t weight, uint16_t port, std::string_view target) {
  std::string out;
  putU16(out, priority);
  putU16(out, weight);
  putU16(out, port);
  out += rdataName(target);
  return out;
}

std::string rdataSoa(std::string_view mname, std::string_view rname, uint32_t serial,
                     uint32_t refresh, uint32_t retry, uint32_t expire, uint32_t minimum) {
  std::string out = rdataName(mname) + rdataName(rname);
  for (uint32_t v : {serial, refresh, retry, expire, minimum}) putU32(out, v);
  return out;
}

std::string nameFromRdata(std::string_view rdata) {
  Reader r(rdata);
  std::string name = r.name();
  return r.error() ? "" : name;
}

int64_t soaMinimum(std::string_view rdata) {
  Reader r(rdata);
  // The names are uncompressed (expandRdata), so no pointer can appear.
  r.name();
  r.name();
  if (r.error() || r.left() != 20) return -1;
  r.skip(16);
  return r.u32();
}

}  // namespace nave::dns
