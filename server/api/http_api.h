// HttpApi: the Kubernetes REST API over HTTP. Routes requests (health, version, discovery,
// OpenAPI, resources), authenticates them, decodes bodies and options, calls ResourceApi and
// encodes the results as the client asked (JSON, YAML, Table, PartialObjectMetadata; watch
// streams). It holds no state of its own beyond the components it is given.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "server/api/discovery.h"
#include "server/api/node_proxy.h"
#include "server/api/openapi.h"
#include "server/api/resource_api.h"
#include "server/http/http_server.h"

namespace nave::api {

class HttpApi {
 public:
  HttpApi(ResourceApi& resources, Discovery& discovery, OpenApi& openapi)
      : resources_(resources), discovery_(discovery), openapi_(openapi) {}

  // Serves pods/{exec,attach,portforward,log} (absent: those paths are not found).
  void setNodeProxy(NodeProxy* proxy) { nodeProxy_ = proxy; }

  // Reported by /readyz; false until the server has finished starting.
  void setReady(bool ready) { ready_ = ready; }

  void handle(http::Request& request, http::ResponseWriter& response);

 private:
  void handleResource(http::Request& request, http::ResponseWriter& response,
                      RequestContext& ctx, std::vector<std::string>& parts, bool core);

  ResourceApi& resources_;
  Discovery& discovery_;
  OpenApi& openapi_;
  NodeProxy* nodeProxy_ = nullptr;
  std::atomic<bool> ready_{false};
};

}  // namespace nave::api
