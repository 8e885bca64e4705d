// The built-in API types nave serves, as a table of registrations.
#pragma once

#include <functional>
#include <string>

#include "server/registry/type_registry.h"

namespace nave::registry {

// Per-server behaviour that some built-in strategies need (allocators and the like).
struct StrategyDeps {
  // Fills spec.clusterIP(s) / nodePorts of a new Service, or fails (kInvalid, kUnavailable).
  std::function<Result<void>(Json& service)> allocateServiceAddresses;
  // Keeps allocations of an updated Service consistent with the old one.
  std::function<Result<void>(Json& service, const Json& old)> updateServiceAddresses;
  // The StorageClasses (their list object's items), for the DefaultStorageClass admission of
  // PersistentVolumeClaims; unset, claims are not given a class.
  std::function<Result<Json>()> listStorageClasses;
};

// Registers every built-in type with its schema, printer, defaulting, validation and strategy.
void registerBuiltinTypes(TypeRegistry& registry, const StrategyDeps& deps);

// Reads a field selector value by path ("spec.nodeName" -> the string at object.spec.nodeName;
// booleans and numbers as text; a missing field is ""). The default FieldValueFn.
std::optional<std::string> fieldValueByPath(const Json& object, std::string_view field);

}  // namespace nave::registry
