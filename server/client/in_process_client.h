// The in-process Client: calls ResourceApi directly as a given identity (no HTTP, no TLS).
#pragma once

#include <memory>

#include "server/api/resource_api.h"
#include "server/client/client.h"

namespace nave::client {

std::unique_ptr<Client> newInProcessClient(api::ResourceApi& api, std::string user,
                                           std::vector<std::string> groups,
                                           std::string fieldManager);

}  // namespace nave::client
