// The SQL side of the SQLite store: the schema of the revision log and the queries on it.
//
//   log(revision INTEGER PRIMARY KEY AUTOINCREMENT,  -- the global revision
//       key BLOB, created, deleted, create_revision, prev_revision, expires_at, value BLOB)
//   index log_key_revision (key, revision, deleted)  -- gets, lists and counts at any revision
//   index log_expiry (expires_at) WHERE expires_at > 0  -- the TTL sweeper
//   meta(name PRIMARY KEY, value)  -- 'compacted', 'compact_swept'
//
// A row is one revision of one key; a key's current state is its row with the highest revision
// and a tombstone (deleted = 1) carries the deleted value. Rows are never updated except for
// expires_at, which is cleared when a newer row supersedes the row (so that log_expiry only
// holds live deadlines). AUTOINCREMENT keeps revisions from being reused after compaction
// removes the highest row.
//
// Functions here run on the Connection they are given and do not start transactions unless
// they say so; callers group them in a Transaction for a consistent snapshot.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "storage/sqlite/sqlite_handle.h"
#include "storage/store.h"

namespace nave::storage::sqlite {

// Opens the connection that writes: creates and initialises the database when it is new
// (auto_vacuum=INCREMENTAL, WAL, the schema), checks that an existing file is a nave store,
// and sets synchronous=FULL, journal_size_limit and busy_timeout.
Result<std::unique_ptr<Connection>> openWriterConnection(const std::string& path);
// Opens a read-only connection (query_only, busy_timeout) on an initialised database.
Result<std::unique_ptr<Connection>> openReaderConnection(const std::string& path);

// One row of the log.
struct LogRow {
  int64_t revision = 0;
  std::string key;
  bool created = false;
  bool deleted = false;
  int64_t createRevision = 0;
  int64_t prevRevision = 0;
  int64_t expiresAtMs = 0;  // Unix milliseconds; 0 = no TTL
  std::string value;
};

// The store's revisions as seen by the current snapshot.
struct LogState {
  int64_t current = 0;    // the highest revision ever written
  int64_t compacted = 0;  // history at and below this is gone
  int64_t swept = 0;      // rows superseded at or below this are removed
};
Result<LogState> readLogState(Connection& conn);

// The latest row of `key` with revision <= atRevision (0 = no bound), tombstones included.
Result<std::optional<LogRow>> readLatestRow(Connection& conn, std::string_view key,
                                            int64_t atRevision = 0);

// The live keys of options.prefix after options.afterKey at `revision` (a resolved revision,
// not 0), as Store::list describes. The caller checks the revision against LogState.
Result<ListResult> listKeys(Connection& conn, const ListOptions& options, int64_t revision);
// Live keys under the prefix at the current revision.
Result<int64_t> countKeys(Connection& conn, std::string_view prefix);

// Up to `limit` events under `prefix` with revision > afterRevision, in revision order, with
// their previous states. `complete` is set when no more events follow in this snapshot.
struct EventChunk {
  std::vector<Event> events;
  bool complete = false;
};
Result<EventChunk> readEvents(Connection& conn, std::string_view prefix, int64_t afterRevision,
                              int64_t limit);

// Live keys whose TTL deadline is at or before nowMs: (key, revision) pairs, earliest first.
struct ExpiredKey {
  std::string key;
  int64_t revision = 0;
};
Result<std::vector<ExpiredKey>> readExpiredKeys(Connection& conn, int64_t nowMs, int64_t limit);
// The earliest TTL deadline in Unix milliseconds, or nullopt when no key has one.
Result<std::optional<int64_t>> readNextExpiry(Connection& conn);

// Appends a row (its revision must be above every existing one) and, when it supersedes a row
// with a TTL deadline, clears that deadline. Not atomic on error: run it inside a savepoint or
// a transaction that is rolled back.
Result<void> appendRow(Connection& conn, const LogRow& row, const LogRow* superseded);

// Records `target` as the compacted revision (write transaction required).
Result<void> recordCompacted(Connection& conn, int64_t target);
// Removes the rows that rows with revision in (from, to] supersede, and the tombstones in that
// range, then records `to` as swept. Reads above `to` are unaffected. Successive calls over
// adjacent ranges compact everything up to the last `to`. Write transaction required.
Result<void> compactRange(Connection& conn, int64_t from, int64_t to);
// After compaction: returns freed pages to the file system and checkpoints the WAL into the
// database, truncating it. Runs outside a transaction. A busy checkpoint (a reader still
// holds an old snapshot) is not an error; the next one catches up.
Result<void> shrinkFiles(Connection& conn);

}  // namespace nave::storage::sqlite
