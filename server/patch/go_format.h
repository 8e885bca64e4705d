// Formatting of JSON values the way Go's fmt prints the decoded interface{} values, so that
// patch error messages read like Kubernetes' ("map: map[image:nginx] does not contain ...").
// Internal to the patch module.
#pragma once

#include "common/strings.h"

#include <string>
#include <string_view>

#include "common/json.h"

namespace nave::patch::detail {

// fmt's %v: map[k:v ...] with sorted keys, [a b] for arrays, <nil> for null, strings bare,
// integers in decimal and other numbers as %g with the shortest precision.
std::string goValue(const Json& v);

// The reflect type name Go reports for a decoded value: "map[string]interface {}",
// "[]interface {}", "string", "int64", "float64", "bool", or "%!s(<nil>)" as %s prints a nil
// type.
std::string goTypeName(const Json& v);

using nave::goQuote;

// A key that is equal for two scalars exactly when Go's == on the decoded values is true
// (so 1 and 1.0 differ: Kubernetes decodes integers as int64 and others as float64).
// Containers get a key from their serialisation.
std::string scalarKey(const Json& v);

// The nesting depth of containers in `v` ({} is 1, a scalar 0), computed without recursion.
size_t jsonDepth(const Json& v);

}  // namespace nave::patch::detail
