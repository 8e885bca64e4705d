// Overlay mounts for container root filesystems.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace nave::runtime::overlay {

// Mounts an overlay at `target` with `lowers` (top first), `upper` and `work`, index=off.
// Layers are handed to the kernel as file descriptors through the mount API (fsopen/fsconfig
// "lowerdir+", Linux 6.13), so neither the number of layers nor their paths are limited by
// mount(2)'s one-page option string nor fsconfig's 256-byte strings; older kernels get
// "lowerdir+" paths (6.8) or, last, mount(2) with an option string (which must fit a page).
Result<void> mount(const std::vector<std::string>& lowers, const std::string& upper,
                   const std::string& work, const std::string& target);

// Tests: start from an older kernel's method (the fallbacks above) instead of the newest.
enum class MountMethod { kLayerFds, kLayerPaths, kOptionString };
void startWithMethodForTesting(MountMethod method);

// Whether `path` is the root of a mount. kNotFound if it does not exist.
Result<bool> isMountPoint(const std::string& path);

// Unmounts everything stacked at `path`, detaching lazily what is busy. Not mounted (or
// missing) is not an error.
Result<void> unmount(const std::string& path);

}  // namespace nave::runtime::overlay
