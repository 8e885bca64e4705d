#include "server/registry/type_registry.h"

#include <algorithm>

namespace nave::registry {

bool ResourceType::hasVerb(std::string_view verb) const {
  return std::find(verbs.begin(), verbs.end(), verb) != verbs.end();
}

void TypeRegistry::add(ResourceTypePtr type, bool preferred) {
  std::unique_lock lock(mu_);
  auto it = std::find_if(groups_.begin(), groups_.end(),
                         [&](const GroupVersions& g) { return g.group == type->group; });
  if (it == groups_.end()) {
    groups_.push_back(GroupVersions{type->group, {type->version}});
  } else {
    auto& v = it->versions;
    auto pos = std::find(v.begin(), v.end(), type->version);
    if (pos == v.end()) {
      if (preferred) v.insert(v.begin(), type->version);
      else v.push_back(type->version);
    } else if (preferred && pos != v.begin()) {
      v.erase(pos);
      v.insert(v.begin(), type->version);
    }
  }
  types_[Key{type->group, type->version, type->plural}] = std::move(type);
  ++generation_;
}

void TypeRegistry::removeResource(std::string_view group, std::string_view plural) {
  std::unique_lock lock(mu_);
  for (auto it = types_.begin(); it != types_.end();) {
    if (std::get<0>(it->first) == group && std::get<2>(it->first) == plural) it = types_.erase(it);
    else ++it;
  }
  // Drop versions (and groups) that no longer serve anything.
  for (auto g = groups_.begin(); g != groups_.end();) {
    auto& versions = g->versions;
    versions.erase(std::remove_if(versions.begin(), versions.end(),
                                  [&](const std::string& v) {
                                    for (const auto& [k, t] : types_)
                                      if (std::get<0>(k) == g->group && std::get<1>(k) == v)
                                        return false;
                                    return true;
                                  }),
                   versions.end());
    if (versions.empty()) g = groups_.erase(g);
    else ++g;
  }
  ++generation_;
}

ResourceTypePtr TypeRegistry::find(std::string_view group, std::string_view version,
                                   std::string_view plural) const {
  std::shared_lock lock(mu_);
  auto it = types_.find(std::make_tuple(std::string(group), std::string(version),
                                        std::string(plural)));
  return it == types_.end() ? nullptr : it->second;
}

ResourceTypePtr TypeRegistry::findKind(std::string_view group, std::string_view version,
                                       std::string_view kind) const {
  std::shared_lock lock(mu_);
  for (const auto& [k, t] : types_)
    if (t->group == group && t->version == version && t->kind == kind) return t;
  return nullptr;
}

std::vector<ResourceTypePtr> TypeRegistry::all() const {
  std::shared_lock lock(mu_);
  std::vector<ResourceTypePtr> out;
  out.reserve(types_.size());
  for (const auto& [k, t] : types_) out.push_back(t);
  return out;
}

std::vector<GroupVersions> TypeRegistry::groups() const {
  std::shared_lock lock(mu_);
  return groups_;
}

bool TypeRegistry::servesGroupVersion(std::string_view group, std::string_view version) const {
  std::shared_lock lock(mu_);
  for (const auto& g : groups_)
    if (g.group == group)
      return std::find(g.versions.begin(), g.versions.end(), version) != g.versions.end();
  return false;
}

uint64_t TypeRegistry::generation() const {
  std::shared_lock lock(mu_);
  return generation_;
}

}  // namespace nave::registry
