// Helpers shared by the files of server/crd. Not part of the module's interface.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"

namespace nave::crd::detail {

// Go's fmt %v of a float64: the shortest representation that round-trips, in %e form when the
// exponent is below -4 or at least 6 ("10", "0.5", "1e+06", "1.5e-07").
std::string goFloat(double v);
// Go's %v of a decoded JSON value as kube-openapi prints bounds and values: integers in decimal,
// floats as goFloat, strings bare, booleans as true/false.
std::string goValue(const Json& v);
// The Go type name of a decoded JSON value: string, int64, float64, bool,
// map[string]interface {}, []interface {}, <nil>.
std::string goTypeName(const Json& v);

// Whether the JSON value is an integer (a float with an integral value counts, as Go's decoder
// keeps such numbers as int64 when they have no fraction or exponent; we only see integers
// nlohmann parsed as such, and integral floats).
bool isIntegral(const Json& v);

// Kubernetes' DNS-1035 label check (apimachinery IsDNS1035Label): the list of problems.
std::vector<std::string> dns1035LabelErrors(std::string_view value);

}  // namespace nave::crd::detail

namespace nave::crd::detail {

// The schema's format if Kubernetes validates it in CRDs ("date-time", "uuid", ...), else ""
// (int32, float and unknown formats are ignored, as apiextensions strips them).
std::string supportedFormat(std::string_view format);

// Matches `value` against a CRD `pattern` (Go RE2 syntax, unanchored search) with std::regex.
// nullopt when the pattern does not compile; `error` then says why. Compiled patterns are
// cached; thread-safe.
std::optional<bool> patternMatches(std::string_view pattern, std::string_view value,
                                   std::string* error = nullptr);

}  // namespace nave::crd::detail
