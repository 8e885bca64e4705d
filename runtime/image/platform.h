// Platforms (os/architecture/variant) as OCI indexes describe them, normalised the way
// containerd's platforms package does, and the choice of an index entry for this node.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace nave::runtime {

struct Platform {
  std::string os = "linux";
  std::string architecture;  // "amd64", "arm64", "arm", "386", ...
  std::string variant;       // "v7" for arm; "v8" for arm64 (its default)

  // "linux/amd64", "linux/arm/v7", "arm64" (os defaults to linux). kBadRequest otherwise.
  static Result<Platform> parse(std::string_view text);
  // This machine's platform (uname).
  static Platform host();
  // amd64/x86_64/x86-64 -> amd64, aarch64/arm64 -> arm64 with variant v8, armhf -> arm/v7,
  // armel -> arm/v6, arm without variant -> v7, variant "7" -> "v7".
  Platform normalized() const;
  std::string str() const;  // "linux/arm/v7", "linux/amd64"

  bool operator==(const Platform&) const = default;
};

// How well an image built for `candidate` runs on `target` (both normalised): 0 when it does
// not, higher is better (an exact match beats arm/v6 on arm/v7, or 386 on amd64).
int platformScore(const Platform& target, const Platform& candidate);

}  // namespace nave::runtime
