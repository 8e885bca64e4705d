// API errors as Kubernetes Status objects, and the constructors of the errors the REST layer
// raises, with Kubernetes' messages (kubectl prints them as they are).
#pragma once

#include <string>
#include <string_view>

#include "common/json.h"
#include "common/result.h"
#include "server/registry/resource_type.h"

namespace nave::api {

int httpStatusFor(ErrorCode code);
// The Status object for an error ({"kind":"Status","status":"Failure",...}).
Json statusFromError(const Error& error);
// {"kind":"Status","status":"Success",...} with details about the object.
Json successStatus(const registry::ResourceType& type, std::string_view name, std::string_view uid);

Error notFound(const registry::ResourceType& type, std::string_view name);
Error notFound(std::string_view group, std::string_view resource, std::string_view name);
Error alreadyExists(const registry::ResourceType& type, std::string_view name);
// "Operation cannot be fulfilled on deployments.apps "web": <reason>".
Error conflict(const registry::ResourceType& type, std::string_view name, std::string_view reason);
Error badRequest(std::string message);
Error forbidden(const registry::ResourceType& type, std::string_view name, std::string_view reason);
Error methodNotSupported(const registry::ResourceType& type, std::string_view verb);
Error internalError(std::string_view message);

// The standard conflict reason for a stale resourceVersion.
inline constexpr std::string_view kObjectModified =
    "the object has been modified; please apply your changes to the latest version and try again";

}  // namespace nave::api
