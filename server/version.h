// Versions reported by `nave version` and the API's /version.
#pragma once

namespace nave {

inline constexpr const char* kNaveVersion = "v" NAVE_VERSION;
// The Kubernetes API version nave serves (kubectl compares it for version skew).
inline constexpr const char* kKubernetesMajor = "1";
inline constexpr const char* kKubernetesMinor = "32";
inline constexpr const char* kKubernetesGitVersion = "v1.32.0+nave";

}  // namespace nave
