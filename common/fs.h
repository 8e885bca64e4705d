// File system helpers shared by the runtime's stores.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace nave {

// Removes `path` and everything below it without following symbolic links and without
// descending into other file systems (a mount point below `path` is an error, and what is
// mounted there is left alone: removing a tree must never delete a container's or the host's
// files through a forgotten mount). Missing is not an error.
Result<void> removeTree(const std::string& path);

// The whole file. kNotFound when missing; kTooLarge past `limit` bytes.
Result<std::string> readFile(const std::string& path, size_t limit = SIZE_MAX);

// Replaces `path` with `data` atomically (a temporary file in the same directory, renamed
// over it): readers see the old or the new content, never a mix. `durable` fsyncs the file and
// its directory, for state that must survive a power loss.
Result<void> writeFileAtomic(const std::string& path, std::string_view data, unsigned mode = 0600,
                             bool durable = false);

// Marks a directory whose subdirectories are unrelated to each other (one per pod, per
// container) as the top of a hierarchy for ext4's Orlov allocator (`chattr +T`): each new
// subdirectory then goes to a block group with few directories and many free inodes instead of
// its parent's group, so that making it does not walk the parent group's recently deleted
// inodes (which an ext4 without a journal checks one by one before it reuses any). A hint:
// file systems without the flag ignore it, and failures are not reported.
void markTopDirectory(const std::string& path);

}  // namespace nave
