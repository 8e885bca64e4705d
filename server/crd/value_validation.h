// Validation of custom resources against their schema, with the rules and messages of
// kube-openapi's schema validator as apiextensions-apiserver reports them:
//   spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"
//   spec.size: Required value
//   spec.mode: Unsupported value: "x": supported values: "a", "b"
//   spec.count: Invalid value: 20: spec.count in body should be less than or equal to 10
// plus the checks apiextensions adds around it: uniqueness in x-kubernetes-list-type set and
// map lists, and the apiVersion/kind/metadata of embedded resources.
//
// x-kubernetes-validations (CEL rules) are not evaluated. Formats are checked for the set
// Kubernetes supports in CRDs (date-time, date, duration, byte, ipv4, ipv6, cidr, mac, uuid*,
// hostname, email, uri, ...); unknown formats are ignored as Kubernetes ignores them.
#pragma once

#include <string_view>

#include "common/json.h"
#include "server/schema/schema.h"
#include "server/validation/field_errors.h"

namespace nave::crd {

// Validates `value` against `schema` (a tree from convertSchema: the CRD's own schema, not the
// resource tree with inlined ObjectMeta). `fieldPath` is the Kubernetes field path the value sits
// at: "" for an object root (errors about the root itself then read "<nil>: ...", as Kubernetes
// prints a nil path), "spec.versions[0].schema.openAPIV3Schema.default" for a default value.
validation::FieldErrors validateValue(const schema::Node& schema, const Json& value,
                                      std::string_view fieldPath = "");

// Duplicate items in x-kubernetes-list-type=set lists and duplicate keys in
// x-kubernetes-list-type=map lists, anywhere in `object`.
validation::FieldErrors validateListSetsAndMaps(const schema::Node& schema, const Json& object,
                                                std::string_view fieldPath = "");

// apiVersion, kind and metadata of every x-kubernetes-embedded-resource value in `object`.
validation::FieldErrors validateEmbeddedResources(const schema::Node& schema, const Json& object,
                                                  std::string_view fieldPath = "");

// Whether `value` is valid for the CRD schema `format` (Kubernetes' supported set; true for
// formats it ignores). Exposed for tests.
bool formatMatches(std::string_view format, std::string_view value);

}  // namespace nave::crd
