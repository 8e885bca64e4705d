// Field-level validation errors, shaped like Kubernetes' field.Error so that messages read the
// same: `spec.replicas: Invalid value: -1: must be greater than or equal to 0`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/result.h"

namespace nave::validation {

enum class FieldErrorType {
  kNotFound,      // "Not found"              FieldValueNotFound
  kRequired,      // "Required value"         FieldValueRequired
  kDuplicate,     // "Duplicate value"        FieldValueDuplicate
  kInvalid,       // "Invalid value"          FieldValueInvalid
  kNotSupported,  // "Unsupported value"      FieldValueNotSupported
  kForbidden,     // "Forbidden"              FieldValueForbidden
  kTooLong,       // "Too long"               FieldValueTooLong
  kTooMany,       // "Too many"               FieldValueTooMany
  kInternal,      // "Internal error"         InternalError
  kTypeInvalid,   // "Invalid value"          FieldValueTypeInvalid
};

struct FieldError {
  FieldErrorType type;
  std::string field;  // "spec.containers[0].image", "metadata.labels[app]"
  Json badValue;      // shown for types other than Required/Forbidden/TooLong/Internal
  bool hasBadValue = false;
  std::string detail;

  // "Invalid value: \"x\": detail" (the message of a Status cause).
  std::string body() const;
  // "field: body" (one line of an Invalid error's message).
  std::string toString() const;
  // The Status cause reason: "FieldValueInvalid"...
  std::string_view reason() const;
};

class FieldErrors {
 public:
  void add(FieldError e) { errors_.push_back(std::move(e)); }
  void append(const FieldErrors& other) {
    errors_.insert(errors_.end(), other.errors_.begin(), other.errors_.end());
  }

  void notFound(std::string field, Json value);
  void required(std::string field, std::string detail = "");
  void duplicate(std::string field, Json value);
  void invalid(std::string field, Json value, std::string detail);
  void notSupported(std::string field, Json value, const std::vector<std::string>& supported);
  void forbidden(std::string field, std::string detail);
  void tooLong(std::string field, Json value, size_t maxLength);
  void tooMany(std::string field, size_t actual, size_t max);
  void typeInvalid(std::string field, Json value, std::string detail);
  void internal(std::string field, std::string detail);

  bool empty() const { return errors_.empty(); }
  size_t size() const { return errors_.size(); }
  const std::vector<FieldError>& errors() const { return errors_; }

 private:
  std::vector<FieldError> errors_;
};

// Joins path elements: child("spec", "replicas") = "spec.replicas"; index("spec.containers", 0)
// = "spec.containers[0]"; key("metadata.labels", "app") = "metadata.labels[app]".
std::string child(std::string_view path, std::string_view name);
std::string index(std::string_view path, size_t i);
std::string key(std::string_view path, std::string_view k);

// The 422 Invalid error for an object: `Deployment.apps "web" is invalid: <errors>`, with one
// cause per field error. `group` empty for the core group. One error prints bare, several as
// "[e1, e2]", as Kubernetes' aggregate does.
Error invalidError(std::string_view group, std::string_view kind, std::string_view name,
                   const FieldErrors& errors);

}  // namespace nave::validation
