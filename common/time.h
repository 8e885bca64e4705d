// Wall-clock times in Kubernetes' wire formats.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nave {

using WallTime = std::chrono::system_clock::time_point;

// RFC 3339 in UTC with second precision: "2026-11-27T06:05:37Z" (metav1.Time).
std::string formatRfc3339(WallTime t);
// RFC 3339 with microseconds: "2026-11-27T06:05:37.123456Z" (metav1.MicroTime).
std::string formatRfc3339Micro(WallTime t);
// Parses RFC 3339 (any offset, optional fraction). nullopt when malformed.
std::optional<WallTime> parseRfc3339(std::string_view s);
// kubectl-style short duration ("5s", "3m2s", "4h", "12d", "2y") as in the AGE column.
std::string humanDuration(std::chrono::seconds d);

}  // namespace nave
