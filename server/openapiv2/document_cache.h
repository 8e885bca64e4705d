// The /openapi/v2 document as the API server serves it: built once for a set of served types,
// in both encodings, and shared until the set changes.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "server/registry/resource_type.h"

namespace nave::openapiv2 {

// The content type of the protobuf form. Clients ask for
// "application/com.github.proto-openapi.spec.v2@v1.0+protobuf", but Go's mime parser refuses
// the '@' in a response's Content-Type, so the answer spells it with a '.' as Kubernetes does.
inline constexpr const char* kProtobufContentType =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

struct EncodedDocument {
  std::string json;
  std::string protobuf;
  std::string etag;  // quoted, derived from the JSON
};

// Thread-safe. Holds the type objects it was built from, so that their identity (resource
// types are immutable; a changed type is a new object) tells whether the document is current.
class DocumentCache {
 public:
  // The document for `types` (TypeRegistry::all()); built on the first call after the set
  // changed, which other callers wait for.
  std::shared_ptr<const EncodedDocument> get(const std::vector<registry::ResourceTypePtr>& types);

 private:
  std::mutex mu_;
  std::vector<registry::ResourceTypePtr> types_;    // guarded by mu_
  std::shared_ptr<const EncodedDocument> current_;  // guarded by mu_
};

}  // namespace nave::openapiv2
