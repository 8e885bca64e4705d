// Directory-tree operations that never follow a symlink: resolving a path beneath a root
// directory fd, and removing a tree. The layer unpacker and the snapshotter's cleanup use them
// on directories whose contents came from untrusted layers or containers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/fd.h"
#include "common/result.h"

namespace nave::runtime::tree {

// Opens the directory `path` (relative, normalised: no "", "." or ".." components) beneath
// `rootFd` for reading, with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS |
// RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV), or, where the kernel has no openat2, a walk of
// O_NOFOLLOW opens one component at a time. An empty path is the root itself. Any symlink on
// the way fails with ELOOP. On failure returns an invalid fd with errno set, so that callers
// can tell a hostile path (ELOOP, ENOTDIR, ENAMETOOLONG) from a failing disk.
UniqueFd openDir(int rootFd, std::string_view path);

// Like openDir, creating missing directories (mode 0755, owned by the caller) on the way.
UniqueFd openOrCreateDir(int rootFd, std::string_view path);

// Tests: forces the O_NOFOLLOW walk used where openat2 is missing (true) or restores openat2.
void forceComponentWalkForTesting(bool force);

// Removes `name` in `dirFd` whatever it is; a directory is removed with its contents. Never
// follows a symlink and never descends into another filesystem (a mount point inside fails
// with EXDEV, even a bind mount of the same filesystem). Holds two descriptors at most,
// whatever the depth. Missing is not an error. Adds the bytes the removed files occupied to *bytes
// when given.
Result<void> removeAt(int dirFd, const std::string& name, int64_t* bytes = nullptr);

// Removes everything inside the directory `dirFd`, keeping the directory itself.
Result<void> removeContents(int dirFd, int64_t* bytes = nullptr);

// Removes the tree at `path` (absolute or relative to the working directory). Missing is fine.
Result<void> removePath(const std::string& path, int64_t* bytes = nullptr);

}  // namespace nave::runtime::tree
