// Result<T>: the value of an operation that can fail in an expected way (kernel, disk, network,
// user input). Bugs are not errors: they are asserted.
//
// The error codes are few and map one-to-one onto Kubernetes API Status reasons, so an Error
// raised deep in the store or a validator reaches the client with the right HTTP code.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace nave {

enum class ErrorCode {
  kNotFound,              // 404 NotFound
  kAlreadyExists,         // 409 AlreadyExists
  kConflict,              // 409 Conflict
  kInvalid,               // 422 Invalid (with field causes)
  kBadRequest,            // 400 BadRequest
  kUnauthorized,          // 401 Unauthorized
  kForbidden,             // 403 Forbidden
  kMethodNotAllowed,      // 405 MethodNotAllowed
  kNotAcceptable,         // 406 NotAcceptable
  kExpired,               // 410 Expired (compacted revision, stale continue token)
  kTooLarge,              // 413 RequestEntityTooLarge
  kUnsupportedMediaType,  // 415 UnsupportedMediaType
  kTooManyRequests,       // 429 TooManyRequests
  kInternal,              // 500 InternalError
  kUnavailable,           // 503 ServiceUnavailable
  kTimeout,               // 504 Timeout
};

std::string_view errorCodeName(ErrorCode code);

// One field-level problem, as in a Status' details.causes.
struct ErrorCause {
  std::string reason;   // e.g. "FieldValueInvalid", "FieldValueRequired"
  std::string message;  // e.g. "Invalid value: \"x\": must be ..."
  std::string field;    // e.g. "metadata.name"
};

class [[nodiscard]] Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  // An error from a failed system call: "what: strerror(err)". Maps errno onto a code
  // (ENOENT -> NotFound, EEXIST -> AlreadyExists, EACCES/EPERM -> Forbidden, else Internal).
  static Error fromErrno(std::string_view what, int err);

  // Prepends context: "context: message". Returns *this for chaining.
  Error& context(std::string_view context) &;
  Error&& context(std::string_view context) &&;

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  bool is(ErrorCode code) const { return code_ == code; }

  // Optional Status details: what the error is about.
  std::string detailGroup, detailKind, detailName;
  std::vector<ErrorCause> causes;
  int retryAfterSeconds = 0;

 private:
  ErrorCode code_;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT
  template <typename U>
    requires(std::is_constructible_v<T, U &&> && !std::is_same_v<std::decay_t<U>, T> &&
             !std::is_same_v<std::decay_t<U>, Error> && !std::is_same_v<std::decay_t<U>, Result>)
  Result(U&& value) : v_(std::in_place_index<0>, T(std::forward<U>(value))) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& {
    assert(!ok());
    return std::get<1>(v_);
  }
  Error&& error() && {
    assert(!ok());
    return std::get<1>(std::move(v_));
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  void value() const { assert(ok_); }
  const Error& error() const& {
    assert(!ok_);
    return error_;
  }
  Error&& error() && {
    assert(!ok_);
    return std::move(error_);
  }

 private:
  Error error_{ErrorCode::kInternal, ""};
  bool ok_ = true;
};

inline Result<void> okResult() { return {}; }

}  // namespace nave

// Evaluates a Result expression; on error returns the error from the enclosing function,
// otherwise yields the value: `auto fd = TRY(openFile(path));` (GNU statement expression,
// supported by both GCC and Clang).
#define TRY(expr)                                         \
  ({                                                      \
    auto nave_try_result_ = (expr);                       \
    if (!nave_try_result_.ok()) {                         \
      return std::move(nave_try_result_).error();         \
    }                                                     \
    std::move(nave_try_result_).value();                  \
  })
