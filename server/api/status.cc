#include "server/api/status.h"

namespace nave::api {

int httpStatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kAlreadyExists: return 409;
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kInvalid: return 422;
    case ErrorCode::kBadRequest: return 400;
    case ErrorCode::kUnauthorized: return 401;
    case ErrorCode::kForbidden: return 403;
    case ErrorCode::kMethodNotAllowed: return 405;
    case ErrorCode::kNotAcceptable: return 406;
    case ErrorCode::kExpired: return 410;
    case ErrorCode::kTooLarge: return 413;
    case ErrorCode::kUnsupportedMediaType: return 415;
    case ErrorCode::kTooManyRequests: return 429;
    case ErrorCode::kInternal: return 500;
    case ErrorCode::kUnavailable: return 503;
    case ErrorCode::kTimeout: return 504;
  }
  return 500;
}

Json statusFromError(const Error& error) {
  Json s = {{"kind", "Status"},     {"apiVersion", "v1"},
            {"metadata", Json::object()}, {"status", "Failure"},
            {"message", error.message()}, {"reason", std::string(errorCodeName(error.code()))},
            {"code", httpStatusFor(error.code())}};
  Json details = Json::object();
  if (!error.detailName.empty()) details["name"] = error.detailName;
  if (!error.detailGroup.empty()) details["group"] = error.detailGroup;
  if (!error.detailKind.empty()) details["kind"] = error.detailKind;
  if (!error.causes.empty()) {
    Json causes = Json::array();
    for (const ErrorCause& c : error.causes) {
      Json cause = Json::object();
      if (!c.reason.empty()) cause["reason"] = c.reason;
      if (!c.message.empty()) cause["message"] = c.message;
      if (!c.field.empty()) cause["field"] = c.field;
      causes.push_back(std::move(cause));
    }
    details["causes"] = std::move(causes);
  }
  if (error.retryAfterSeconds > 0) details["retryAfterSeconds"] = error.retryAfterSeconds;
  if (!details.empty()) s["details"] = std::move(details);
  return s;
}

Json successStatus(const registry::ResourceType& type, std::string_view name, std::string_view uid) {
  Json details = {{"name", name}, {"kind", type.plural}};
  if (!type.group.empty()) details["group"] = type.group;
  if (!uid.empty()) details["uid"] = uid;
  return {{"kind", "Status"},
          {"apiVersion", "v1"},
          {"metadata", Json::object()},
          {"status", "Success"},
          {"details", std::move(details)}};
}

namespace {
Error withDetails(Error e, std::string_view group, std::string_view kind, std::string_view name) {
  e.detailGroup = std::string(group);
  e.detailKind = std::string(kind);
  e.detailName = std::string(name);
  return e;
}
std::string qualified(std::string_view group, std::string_view resource) {
  std::string q(resource);
  if (!group.empty()) q += "." + std::string(group);
  return q;
}
}  // namespace

Error notFound(std::string_view group, std::string_view resource, std::string_view name) {
  return withDetails(Error(ErrorCode::kNotFound, qualified(group, resource) + " \"" +
                                                     std::string(name) + "\" not found"),
                     group, resource, name);
}

Error notFound(const registry::ResourceType& type, std::string_view name) {
  return notFound(type.group, type.plural, name);
}

Error alreadyExists(const registry::ResourceType& type, std::string_view name) {
  return withDetails(Error(ErrorCode::kAlreadyExists, type.qualifiedResource() + " \"" +
                                                          std::string(name) + "\" already exists"),
                     type.group, type.plural, name);
}

Error conflict(const registry::ResourceType& type, std::string_view name, std::string_view reason) {
  return withDetails(Error(ErrorCode::kConflict, "Operation cannot be fulfilled on " +
                                                     type.qualifiedResource() + " \"" +
                                                     std::string(name) + "\": " + std::string(reason)),
                     type.group, type.plural, name);
}

Error badRequest(std::string message) { return Error(ErrorCode::kBadRequest, std::move(message)); }

Error forbidden(const registry::ResourceType& type, std::string_view name, std::string_view reason) {
  std::string msg = type.qualifiedResource();
  if (!name.empty()) msg += " \"" + std::string(name) + "\"";
  msg += " is forbidden: " + std::string(reason);
  return withDetails(Error(ErrorCode::kForbidden, msg), type.group, type.plural, name);
}

Error methodNotSupported(const registry::ResourceType& type, std::string_view verb) {
  return withDetails(Error(ErrorCode::kMethodNotAllowed,
                           std::string(verb) + " is not supported on resources of kind \"" +
                               type.qualifiedResource() + "\""),
                     type.group, type.plural, "");
}

Error internalError(std::string_view message) {
  Error e(ErrorCode::kInternal, "Internal error occurred: " + std::string(message));
  e.causes.push_back({"", std::string(message), ""});
  return e;
}

}  // namespace nave::api
