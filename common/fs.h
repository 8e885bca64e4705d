// File system helpers shared by the runtime's stores.
#pragma once

#include <string>

#include "common/result.h"

namespace nave {

// Removes `path` and everything below it without following symbolic links and without
// descending into other file systems (a mount point below `path` is an error, and what is
// mounted there is left alone: removing a tree must never delete a container's or the host's
// files through a forgotten mount). Missing is not an error.
Result<void> removeTree(const std::string& path);

}  // namespace nave
