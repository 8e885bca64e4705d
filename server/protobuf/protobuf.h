// Kubernetes' protobuf wire format for request bodies (Content-Type
// application/vnd.kubernetes.protobuf), which kubectl 1.32+ sends for objects it builds with
// typed clients (`kubectl create configmap`, `create deployment`, evictions...). Decoding is
// driven by the schema model: every field carries its protobuf field number (`proto=N` in the
// schema sources), so no generated code is needed.
#pragma once

#include <string>
#include <string_view>

#include "common/json.h"
#include "common/result.h"
#include "server/schema/schema.h"

namespace nave::protobuf {

struct DecodedObject {
  std::string apiVersion;
  std::string kind;
  Json object;  // the object as its JSON form (apiVersion and kind set)
};

// Decodes "k8s\0" + runtime.Unknown{typeMeta, raw} into the object's JSON form, using the
// built-in schema for the embedded apiVersion/kind. kBadRequest for malformed input or an
// unknown kind, kUnsupportedMediaType when the envelope names a content encoding.
Result<DecodedObject> decodeObject(std::string_view body, const schema::SchemaSet& schemas);

}  // namespace nave::protobuf
