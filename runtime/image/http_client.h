// A blocking HTTP(S) request through libcurl, for the registry client.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "runtime/image/registries_config.h"

namespace nave::runtime {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // sent when non-empty (POST forms)
  RegistryTls tls;
  // Receives the body of a 2xx response as it arrives; returning false aborts the transfer.
  // Without a sink the body is collected (up to maxBody bytes).
  std::function<bool(const char* data, size_t size)> sink;
  size_t maxBody = 8 << 20;
  bool followRedirects = true;
};

struct HttpResponse {
  long status = 0;  // 0: the transfer failed (see error)
  std::multimap<std::string, std::string> headers;  // lower-case names, final response only
  std::string body;  // without a sink, or for non-2xx responses (truncated to maxBody)
  std::string effectiveUrl;

  // Transport failures.
  std::string error;         // curl's message
  bool connectFailed = false;  // DNS, refused, unreachable: the endpoint is not there
  bool tlsFailed = false;      // handshake or certificate
  bool aborted = false;        // the sink refused more data
  bool bodyTooLarge = false;

  std::string header(const std::string& lowerName) const;
  std::vector<std::string> headerAll(const std::string& lowerName) const;
};

HttpResponse httpRequest(const HttpRequest& request);

}  // namespace nave::runtime
