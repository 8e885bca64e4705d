// Fuzzes what the ingress proxy does with bytes from clients and backends: a request head is
// parsed and rewritten for the backend, a response head is parsed and rewritten for the
// client, and the request's host and path are matched against a routing table. Nothing may
// crash, and the rewritten heads must end with their blank line.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "network/ingress/http_codec.h"
#include "network/ingress/routes.h"

namespace {

const nave::ingress::RouteTable& table() {
  static const auto t = [] {
    using namespace nave::ingress;
    auto table = std::make_shared<RouteTable>();
    auto up = std::make_shared<Upstream>();
    table->addPath("a.example.com", "/api", PathType::kPrefix, up);
    table->addPath("a.example.com", "/x", PathType::kExact, up);
    table->addPath("*.example.com", "/", PathType::kPrefix, up);
    table->addPath("", "/shared/", PathType::kPrefix, up);
    table->finish();
    return table;
  }();
  return *t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nave;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  size_t head = http::findHeadEnd(text, 0);
  if (head > 0) {
    http::Request request;
    http::RequestFraming framing;
    if (http::parseRequestHead(text.substr(0, head), request, framing) == 0) {
      std::string out;
      ingress::appendUpstreamRequest(request, framing, {"10.0.0.1", "http", "80"}, out);
      if (!out.ends_with("\r\n\r\n")) std::abort();
      (void)ingress::wantsUpgrade(request);
      (void)table().match(request.header("host"), request.path);
    }
    bool keepAlive = size % 2 == 0;
    ingress::ResponseFraming framing2;
    std::string out;
    if (ingress::rewriteResponseHead(text.substr(0, head), size % 3 == 0, size % 5 == 0, keepAlive,
                                     framing2, out) &&
        !out.ends_with("\r\n\r\n"))
      std::abort();
  }
  (void)table().match(text.substr(0, size / 2), text.substr(size / 2));
  return 0;
}
