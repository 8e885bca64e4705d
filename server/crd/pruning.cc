#include "server/crd/pruning.h"

#include <algorithm>
#include <set>

namespace nave::crd {
namespace {

using schema::Node;

bool isMetaField(std::string_view k) {
  return k == "apiVersion" || k == "kind" || k == "metadata";
}

class Pruner {
 public:
  std::vector<std::string> paths;

  void prune(Json& x, const Node* s, bool embedded, const std::string& path) {
    if (s != nullptr && s->preserveUnknownFields) return skipPrune(x, s, embedded, path);
    if (x.is_object()) {
      for (auto it = x.begin(); it != x.end();) {
        const std::string& k = it.key();
        if (embedded && isMetaField(k)) {
          ++it;
          continue;
        }
        const Node* prop = s ? s->property(k) : nullptr;
        std::string childPath = path.empty() ? k : path + "." + k;
        if (prop != nullptr) {
          prune(it.value(), prop, prop->embeddedResource, childPath);
        } else if (s != nullptr && s->additionalProperties) {
          const Node* a = s->additionalProperties.get();
          prune(it.value(), a, a->embeddedResource, childPath);
        } else {
          paths.push_back(childPath);
          it = x.erase(it);
          continue;
        }
        ++it;
      }
    } else if (x.is_array()) {
      const Node* items = s ? s->items.get() : nullptr;
      for (size_t i = 0; i < x.size(); ++i)
        prune(x[i], items, items && items->embeddedResource, path + "[" + std::to_string(i) + "]");
    }
  }

  void skipPrune(Json& x, const Node* s, bool embedded, const std::string& path) {
    if (s == nullptr) return;
    if (x.is_object()) {
      for (auto it = x.begin(); it != x.end(); ++it) {
        const std::string& k = it.key();
        if (embedded && isMetaField(k)) continue;
        std::string childPath = path.empty() ? k : path + "." + k;
        if (const Node* prop = s->property(k); prop != nullptr)
          prune(it.value(), prop, prop->embeddedResource, childPath);
        else if (s->additionalProperties)
          prune(it.value(), s->additionalProperties.get(),
                s->additionalProperties->embeddedResource, childPath);
      }
    } else if (x.is_array()) {
      const Node* items = s->items.get();
      for (size_t i = 0; i < x.size(); ++i)
        skipPrune(x[i], items, items && items->embeddedResource,
                  path + "[" + std::to_string(i) + "]");
    }
  }
};

// metav1.ObjectMeta's JSON fields.
bool isObjectMetaField(std::string_view k) {
  static const std::set<std::string, std::less<>> kFields = {"name",
                                                             "generateName",
                                                             "namespace",
                                                             "selfLink",
                                                             "uid",
                                                             "resourceVersion",
                                                             "generation",
                                                             "creationTimestamp",
                                                             "deletionTimestamp",
                                                             "deletionGracePeriodSeconds",
                                                             "labels",
                                                             "annotations",
                                                             "ownerReferences",
                                                             "finalizers",
                                                             "managedFields"};
  return kFields.contains(k);
}

void pruneMetadataAt(Json& resource, const std::string& path, std::vector<std::string>& out) {
  if (!resource.is_object()) return;
  auto it = resource.find("metadata");
  if (it == resource.end() || !it->is_object()) return;
  std::string base = path.empty() ? "metadata" : path + ".metadata";
  for (auto m = it->begin(); m != it->end();) {
    if (isObjectMetaField(m.key())) {
      ++m;
      continue;
    }
    out.push_back(base + "." + m.key());
    m = it->erase(m);
  }
}

// Embedded resources' metadata, below `x`.
void pruneEmbeddedMetadata(Json& x, const Node* s, const std::string& path,
                           std::vector<std::string>& out) {
  if (s == nullptr) return;
  if (x.is_object()) {
    if (s->embeddedResource && !path.empty()) pruneMetadataAt(x, path, out);
    for (auto it = x.begin(); it != x.end(); ++it) {
      std::string childPath = path.empty() ? it.key() : path + "." + it.key();
      if (const Node* prop = s->property(it.key()); prop != nullptr)
        pruneEmbeddedMetadata(it.value(), prop, childPath, out);
      else if (s->additionalProperties)
        pruneEmbeddedMetadata(it.value(), s->additionalProperties.get(), childPath, out);
    }
  } else if (x.is_array()) {
    for (size_t i = 0; i < x.size(); ++i)
      pruneEmbeddedMetadata(x[i], s->items.get(), path + "[" + std::to_string(i) + "]", out);
  }
}

const Node* fieldSchema(const Node* s, std::string_view k) {
  if (s == nullptr) return nullptr;
  if (const Node* p = s->property(k); p != nullptr) return p;
  return s->additionalProperties.get();
}

}  // namespace

std::vector<std::string> pruneUnknownFields(Json& value, const Node* schema, bool isResourceRoot) {
  Pruner p;
  p.prune(value, schema, isResourceRoot || (schema && schema->embeddedResource), "");
  std::sort(p.paths.begin(), p.paths.end());
  return std::move(p.paths);
}

std::vector<std::string> pruneCustomResource(Json& object, const Node& schema) {
  std::vector<std::string> out = pruneUnknownFields(object, &schema, true);
  std::vector<std::string> meta;
  pruneMetadataAt(object, "", meta);
  pruneEmbeddedMetadata(object, &schema, "", meta);
  out.insert(out.end(), meta.begin(), meta.end());
  return out;
}

void pruneNonNullableNulls(Json& value, const Node* schema) {
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end();) {
      const Node* s = fieldSchema(schema, it.key());
      if (it.value().is_null() && s != nullptr && !s->nullable && !s->defaultValue) {
        it = value.erase(it);
        continue;
      }
      pruneNonNullableNulls(it.value(), s);
      ++it;
    }
  } else if (value.is_array()) {
    const Node* items = schema ? schema->items.get() : nullptr;
    for (Json& e : value) pruneNonNullableNulls(e, items);
  }
}

void applyDefaults(Json& value, const Node* schema) {
  if (schema == nullptr) return;
  if (value.is_object()) {
    for (const auto& p : schema->properties) {
      if (!p.schema->defaultValue) continue;
      auto it = value.find(p.name);
      if (it == value.end() || (it->is_null() && !p.schema->nullable))
        value[p.name] = *p.schema->defaultValue;
    }
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (const Node* prop = schema->property(it.key()); prop != nullptr)
        applyDefaults(it.value(), prop);
      else if (schema->additionalProperties)
        applyDefaults(it.value(), schema->additionalProperties.get());
    }
  } else if (value.is_array()) {
    for (Json& e : value) applyDefaults(e, schema->items.get());
  }
}

}  // namespace nave::crd
