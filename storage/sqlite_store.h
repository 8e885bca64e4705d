// The embedded SQLite backend of Store.
//
// Layout (kine's idea): one append-only log table where each row is one revision of one key
// (the row id is the revision); the latest row of a key is its current state, a row marked
// deleted is a tombstone. Gets and lists at a past revision read the log; compaction removes
// rows superseded at or below the compact revision.
//
// Durability and speed: WAL mode with synchronous=FULL; one writer thread owns the write
// connection and commits queued writes in batches (group commit: concurrent writers share one
// fsync); readers use their own connections. The WAL is checkpointed and truncated after
// compaction so it stays bounded; freed pages are returned with incremental vacuum.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "storage/store.h"

namespace nave::storage {

struct SqliteOptions {
  std::string path;  // the database file; its directory must exist
  // Compaction keeps at least this many revisions of history (watches and lists from the
  // past within the window succeed; older ones get kExpired).
  int64_t retainRevisions = 1000;
  // How often the background compactor runs; 0 disables it (tests call compact()).
  int compactIntervalSeconds = 300;
  // Upper bound of writes committed in one transaction.
  int maxBatch = 256;
};

// Opens (creating if needed) and recovers the database. Errors: the file cannot be opened or
// is not a nave database.
Result<std::unique_ptr<Store>> openSqliteStore(const SqliteOptions& options);

}  // namespace nave::storage
