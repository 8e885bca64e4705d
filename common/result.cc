#include <cerrno>
#include <cstring>

#include "common/result.h"

namespace nave {

std::string_view errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotFound: return "NotFound";
    case ErrorCode::kAlreadyExists: return "AlreadyExists";
    case ErrorCode::kConflict: return "Conflict";
    case ErrorCode::kInvalid: return "Invalid";
    case ErrorCode::kBadRequest: return "BadRequest";
    case ErrorCode::kUnauthorized: return "Unauthorized";
    case ErrorCode::kForbidden: return "Forbidden";
    case ErrorCode::kMethodNotAllowed: return "MethodNotAllowed";
    case ErrorCode::kNotAcceptable: return "NotAcceptable";
    case ErrorCode::kExpired: return "Expired";
    case ErrorCode::kTooLarge: return "RequestEntityTooLarge";
    case ErrorCode::kUnsupportedMediaType: return "UnsupportedMediaType";
    case ErrorCode::kTooManyRequests: return "TooManyRequests";
    case ErrorCode::kInternal: return "InternalError";
    case ErrorCode::kUnavailable: return "ServiceUnavailable";
    case ErrorCode::kTimeout: return "Timeout";
  }
  return "Unknown";
}

Error Error::fromErrno(std::string_view what, int err) {
  ErrorCode code = ErrorCode::kInternal;
  switch (err) {
    case ENOENT: code = ErrorCode::kNotFound; break;
    case EEXIST: code = ErrorCode::kAlreadyExists; break;
    case EACCES:
    case EPERM: code = ErrorCode::kForbidden; break;
    case EAGAIN:
    case EBUSY: code = ErrorCode::kUnavailable; break;
    case ETIMEDOUT: code = ErrorCode::kTimeout; break;
    default: break;
  }
  std::string msg(what);
  msg += ": ";
  msg += std::strerror(err);
  return Error(code, std::move(msg));
}

Error& Error::context(std::string_view context) & {
  std::string msg(context);
  msg += ": ";
  msg += message_;
  message_ = std::move(msg);
  return *this;
}

Error&& Error::context(std::string_view context) && { return std::move(this->context(context)); }

}  // namespace nave
