// Fuzzes the cluster DNS server's message parsers with what any pod (queries) or a spoofing
// upstream (responses) could send: parsing must fail cleanly or give messages that encode and
// parse again, and zone lookups of whatever name was parsed must not crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "network/dns/message.h"
#include "network/dns/zone.h"

namespace {

using namespace nave;
using namespace nave::dns;

const ClusterZone& zone() {
  static ClusterZone* z = [] {
    auto* z = new ClusterZone("cluster.local", "10.43.0.10");
    Json svc = {{"metadata", {{"namespace", "default"}, {"name", "db"}}},
                {"spec", {{"clusterIP", "None"}, {"ports", {{{"name", "pg"}, {"port", 5432}}}}}}};
    z->setService("default/db", &svc);
    Json slice = {{"metadata",
                   {{"namespace", "default"},
                    {"name", "db-x"},
                    {"labels", {{"kubernetes.io/service-name", "db"}}}}},
                  {"addressType", "IPv4"},
                  {"endpoints", {{{"addresses", {"10.42.0.5"}}, {"hostname", "db-0"}}}},
                  {"ports", {{{"name", "pg"}, {"port", 5432}, {"protocol", "TCP"}}}}};
    z->setEndpointSlice("default/db-x", &slice);
    return z;
  }();
  return *z;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view wire(reinterpret_cast<const char*>(data), size);
  std::string scratch;
  BadQuery bad;
  if (auto q = parseQuery(wire, &bad); q.ok()) {
    auto a = zone().lookup(q->question);
    std::string out = encodeResponse(*q, a.value_or(Answer{}), q->edns ? q->udpSize : 512);
    if (!parseResponse(out).ok() && appendName(scratch, q->question.name).ok()) std::abort();
  } else if (bad.valid) {
    if (encodeFormErr(bad).size() != kHeaderSize) std::abort();
  }
  if (auto r = parseResponse(wire); r.ok()) {
    Query q;
    q.id = r->id;
    q.question = r->question;
    std::string out = encodeResponse(q, r->answer, 65535);
    auto again = parseResponse(out);
    // Names that came in with labels containing dots re-encode differently: only check
    // messages whose names are plain.
    if (!again.ok() && appendName(scratch, r->question.name).ok()) {
      bool plain = true;
      for (const auto* s : {&r->answer.answer, &r->answer.authority, &r->answer.additional})
        for (const Record& rec : *s) plain = plain && appendName(scratch, rec.name).ok();
      if (plain) std::abort();
    }
  }
  return 0;
}
