// TypeRegistry: the set of served resources, looked up by every request. Built-in types are
// added at start; custom resources come and go at run time. Thread-safe; lookups return shared
// pointers, so a type removed while a request uses it stays valid for that request.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <tuple>
#include <vector>

#include "server/registry/resource_type.h"

namespace nave::registry {

struct GroupVersions {
  std::string group;
  std::vector<std::string> versions;  // preferred first
};

class TypeRegistry {
 public:
  // Adds or replaces the type with the same group, version and plural. A group's versions keep
  // the order in which they were first added (the first is preferred) unless `preferred`.
  void add(ResourceTypePtr type, bool preferred = false);
  // Removes every version of group/plural (a deleted CRD).
  void removeResource(std::string_view group, std::string_view plural);

  ResourceTypePtr find(std::string_view group, std::string_view version,
                       std::string_view plural) const;
  ResourceTypePtr findKind(std::string_view group, std::string_view version,
                           std::string_view kind) const;
  // Every type, ordered by group then version then plural.
  std::vector<ResourceTypePtr> all() const;
  // Groups in registration order (core first), versions preferred first.
  std::vector<GroupVersions> groups() const;
  bool servesGroupVersion(std::string_view group, std::string_view version) const;

  // Bumps on every change (discovery and OpenAPI caches key on it).
  uint64_t generation() const;

 private:
  using Key = std::tuple<std::string, std::string, std::string>;  // group, version, plural
  mutable std::shared_mutex mu_;
  std::map<Key, ResourceTypePtr, std::less<>> types_;  // guarded by mu_
  std::vector<GroupVersions> groups_;                  // guarded by mu_
  uint64_t generation_ = 0;                            // guarded by mu_
};

}  // namespace nave::registry
