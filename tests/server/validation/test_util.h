// Helpers for the validation tests: manifests in YAML, the API server's create and update
// sequence (namespace from the request, defaults, validation), and error lookups.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "common/yaml.h"
#include "server/validation/validation.h"

namespace nave::validation::testing {

inline Json yaml(std::string_view text) {
  auto r = parseYaml(text);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  return r.ok() ? *r : Json();
}

inline std::string groupOf(const Json& obj) {
  std::string apiVersion = obj.value("apiVersion", "");
  size_t slash = apiVersion.find('/');
  return slash == std::string::npos ? "" : apiVersion.substr(0, slash);
}

// What the API server does with a create: the request's namespace, defaults, validation.
inline FieldErrors create(Json& obj, std::string_view ns = "default") {
  if (!obj["metadata"].contains("namespace")) obj["metadata"]["namespace"] = std::string(ns);
  applyDefaults(groupOf(obj), obj.value("kind", ""), obj);
  return validate(groupOf(obj), obj.value("kind", ""), obj, nullptr, Operation::kCreate);
}

inline FieldErrors update(Json& obj, const Json& old) {
  applyDefaults(groupOf(obj), obj.value("kind", ""), obj);
  return validate(groupOf(obj), obj.value("kind", ""), obj, &old, Operation::kUpdate);
}

inline std::string describe(const FieldErrors& errs) {
  std::string s;
  for (const FieldError& e : errs.errors()) s += "\n  " + e.toString();
  return s.empty() ? "(no errors)" : s;
}

inline const FieldError* findError(const FieldErrors& errs, std::string_view field) {
  for (const FieldError& e : errs.errors())
    if (e.field == field) return &e;
  return nullptr;
}

inline bool hasError(const FieldErrors& errs, std::string_view field, FieldErrorType type) {
  for (const FieldError& e : errs.errors())
    if (e.field == field && e.type == type) return true;
  return false;
}

#define EXPECT_NO_FIELD_ERRORS(errs) EXPECT_TRUE((errs).empty()) << describe(errs)
#define EXPECT_FIELD_ERROR(errs, field, type) \
  EXPECT_TRUE(hasError((errs), (field), (type))) << "want " << (field) << describe(errs)

}  // namespace nave::validation::testing
