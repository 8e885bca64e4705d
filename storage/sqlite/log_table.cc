#include "storage/sqlite/log_table.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "common/fd.h"

namespace nave::storage::sqlite {
namespace {

// PRAGMA application_id of a nave store: "nave" in ASCII.
constexpr int64_t kApplicationId = 0x6e617665;
constexpr int64_t kSchemaVersion = 1;
constexpr int kBusyTimeoutMs = 10000;
constexpr int kCheckpointBusyMs = 250;

constexpr char kCreateSchema[] = R"sql(
CREATE TABLE log (
  revision INTEGER PRIMARY KEY AUTOINCREMENT,
  key BLOB NOT NULL,
  created INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  create_revision INTEGER NOT NULL,
  prev_revision INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  value BLOB NOT NULL
);
CREATE INDEX log_key_revision ON log (key, revision, deleted);
CREATE INDEX log_expiry ON log (expires_at) WHERE expires_at > 0;
CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO meta (name, value) VALUES ('compacted', 0), ('compact_swept', 0);
PRAGMA application_id = 1851881061;
PRAGMA user_version = 1;
)sql";
static_assert(kApplicationId == 1851881061);

constexpr char kLogState[] =
    "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'log'), 0),"
    " (SELECT value FROM meta WHERE name = 'compacted'),"
    " (SELECT value FROM meta WHERE name = 'compact_swept')";

constexpr char kLatestRow[] =
    "SELECT revision, created, deleted, create_revision, prev_revision, expires_at, value"
    " FROM log WHERE key = ?1 ORDER BY revision DESC LIMIT 1";
constexpr char kLatestRowAt[] =
    "SELECT revision, created, deleted, create_revision, prev_revision, expires_at, value"
    " FROM log WHERE key = ?1 AND revision <= ?2 ORDER BY revision DESC LIMIT 1";

// Each key's latest row at or below a revision, in key order. With the (key, revision, deleted)
// index this is a covering index range scan: SQLite takes the bare column `deleted` from the
// row holding max(revision). Values are fetched by revision only for the rows returned.
constexpr char kScanKeys[] =
    "SELECT key, max(revision), deleted FROM log"
    " WHERE key >= ?1 AND key < ?2 AND revision <= ?3 GROUP BY key";
constexpr char kScanKeysUnbounded[] =
    "SELECT key, max(revision), deleted FROM log"
    " WHERE key >= ?1 AND revision <= ?3 GROUP BY key";
constexpr char kRowValue[] = "SELECT create_revision, value FROM log WHERE revision = ?1";

constexpr char kCountKeys[] =
    "SELECT count(*) FROM (SELECT max(revision), deleted AS d FROM log"
    " WHERE key >= ?1 AND key < ?2 GROUP BY key) WHERE d = 0";
constexpr char kCountKeysUnbounded[] =
    "SELECT count(*) FROM (SELECT max(revision), deleted AS d FROM log"
    " WHERE key >= ?1 GROUP BY key) WHERE d = 0";

// History for watches: a rowid range scan from the watch position (the unary + keeps the
// planner off the key index, which would read the whole prefix and sort it for every chunk);
// the previous value is joined only for updates (a tombstone carries the deleted value, a
// create has none).
constexpr char kEvents[] =
    "SELECT l.revision, l.key, l.created, l.deleted, l.create_revision, l.prev_revision,"
    " l.value, p.value FROM log AS l"
    " LEFT JOIN log AS p ON p.revision = l.prev_revision AND l.created = 0 AND l.deleted = 0"
    " WHERE l.revision > ?1 AND +l.key >= ?2 AND +l.key < ?3 ORDER BY l.revision LIMIT ?4";
constexpr char kEventsUnbounded[] =
    "SELECT l.revision, l.key, l.created, l.deleted, l.create_revision, l.prev_revision,"
    " l.value, p.value FROM log AS l"
    " LEFT JOIN log AS p ON p.revision = l.prev_revision AND l.created = 0 AND l.deleted = 0"
    " WHERE l.revision > ?1 AND +l.key >= ?2 ORDER BY l.revision LIMIT ?4";

constexpr char kExpiredKeys[] =
    "SELECT key, revision FROM log WHERE expires_at > 0 AND expires_at <= ?1"
    " ORDER BY expires_at LIMIT ?2";
constexpr char kNextExpiry[] = "SELECT min(expires_at) FROM log WHERE expires_at > 0";

constexpr char kInsertRow[] =
    "INSERT INTO log (revision, key, created, deleted, create_revision, prev_revision,"
    " expires_at, value) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
constexpr char kClearExpiry[] = "UPDATE log SET expires_at = 0 WHERE revision = ?1";

constexpr char kSetCompacted[] = "UPDATE meta SET value = ?1 WHERE name = 'compacted'";
constexpr char kSetSwept[] = "UPDATE meta SET value = ?1 WHERE name = 'compact_swept'";
// Compaction walks the log by the revision of the superseding row: every row with revision in
// (from, to] makes its predecessor (prev_revision) unreachable at `to` and above, and a
// tombstone in the range is unreachable itself. Walking successors rather than the removed rows
// lets each compaction start where the last one stopped: a row kept by an earlier compaction
// (latest at that point) is removed once its successor falls into a later range.
constexpr char kCompactRange[] =
    "DELETE FROM log WHERE revision IN ("
    "SELECT prev_revision FROM log WHERE revision > ?1 AND revision <= ?2 AND prev_revision > 0"
    " UNION ALL SELECT revision FROM log WHERE revision > ?1 AND revision <= ?2 AND deleted = 1)";

constexpr char kCheckpoint[] = "PRAGMA wal_checkpoint(TRUNCATE)";

// The key range of a prefix list starting after afterKey: [from, to), to empty = unbounded.
struct KeyRange {
  std::string from;
  std::string to;
};

KeyRange keyRange(std::string_view prefix, std::string_view afterKey) {
  KeyRange range{std::string(prefix), prefixRangeEnd(prefix)};
  if (!afterKey.empty()) {
    // The smallest key strictly greater than afterKey is afterKey followed by a NUL byte.
    std::string next(afterKey);
    next.push_back('\0');
    range.from = std::max(range.from, next);
  }
  return range;
}

Result<void> applyConnectionPragmas(Connection& conn) {
  sqlite3_busy_timeout(conn.raw(), kBusyTimeoutMs);
  return conn.exec(
      "PRAGMA synchronous = FULL;"
      "PRAGMA journal_size_limit = 67108864;"
      "PRAGMA foreign_keys = OFF;");
}

// SQLite syncs the directory when it creates a journal or WAL, but not for the database file
// itself; sync it once after creating the store so the file's name is durable too.
Result<void> syncParentDirectory(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Error::fromErrno("open " + dir, errno);
  if (::fsync(fd.get()) != 0) return Error::fromErrno("fsync " + dir, errno);
  return okResult();
}

Result<void> initialiseSchema(Connection& conn, const std::string& path) {
  int64_t appId = TRY(conn.queryInt("PRAGMA application_id"));
  int64_t objects = TRY(conn.queryInt("SELECT count(*) FROM sqlite_schema"));
  if (appId == kApplicationId) {
    int64_t version = TRY(conn.queryInt("PRAGMA user_version"));
    if (version != kSchemaVersion) {
      return Error(ErrorCode::kInternal,
                   path + ": unsupported nave store schema version " + std::to_string(version));
    }
    return okResult();
  }
  if (appId != 0 || objects != 0) {
    return Error(ErrorCode::kInternal, path + ": not a nave store database");
  }
  // auto_vacuum only takes effect before the first table exists; journal_mode cannot change
  // inside a transaction. Both persist in the file.
  TRY(conn.exec("PRAGMA auto_vacuum = INCREMENTAL"));
  TRY(conn.exec("PRAGMA journal_mode = WAL"));
  auto txn = TRY(Transaction::begin(conn, "BEGIN IMMEDIATE"));
  // Another process may have initialised the file between the check and the lock.
  if (TRY(conn.queryInt("SELECT count(*) FROM sqlite_schema")) != 0) {
    TRY(txn.commit());
    return initialiseSchema(conn, path);
  }
  TRY(conn.exec(kCreateSchema));
  TRY(txn.commit());
  return syncParentDirectory(path);
}

LogRow rowFromLatest(const Query& q, std::string_view key) {
  LogRow row;
  row.revision = q.columnInt(0);
  row.key = std::string(key);
  row.created = q.columnInt(1) != 0;
  row.deleted = q.columnInt(2) != 0;
  row.createRevision = q.columnInt(3);
  row.prevRevision = q.columnInt(4);
  row.expiresAtMs = q.columnInt(5);
  row.value = q.columnBlob(6);
  return row;
}

}  // namespace

Result<std::unique_ptr<Connection>> openWriterConnection(const std::string& path) {
  auto conn = TRY(Connection::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
  sqlite3_busy_timeout(conn->raw(), kBusyTimeoutMs);
  TRY(initialiseSchema(*conn, path));
  // An existing store keeps WAL mode (it is persistent) but set it anyway in case the file was
  // switched back by a tool.
  TRY(conn->exec("PRAGMA journal_mode = WAL"));
  TRY(applyConnectionPragmas(*conn));
  return conn;
}

Result<std::unique_ptr<Connection>> openReaderConnection(const std::string& path) {
  auto conn = TRY(Connection::open(path, SQLITE_OPEN_READWRITE));
  sqlite3_busy_timeout(conn->raw(), kBusyTimeoutMs);
  TRY(conn->exec("PRAGMA query_only = ON"));
  return conn;
}

Result<LogState> readLogState(Connection& conn) {
  Query q = TRY(conn.query(kLogState));
  if (!TRY(q.step())) return Error(ErrorCode::kInternal, "store metadata missing");
  return LogState{q.columnInt(0), q.columnInt(1), q.columnInt(2)};
}

Result<std::optional<LogRow>> readLatestRow(Connection& conn, std::string_view key,
                                            int64_t atRevision) {
  Query q = TRY(conn.query(atRevision > 0 ? kLatestRowAt : kLatestRow));
  q.bindBlob(1, key);
  if (atRevision > 0) q.bindInt(2, atRevision);
  if (!TRY(q.step())) return std::optional<LogRow>();
  return std::optional<LogRow>(rowFromLatest(q, key));
}

Result<ListResult> listKeys(Connection& conn, const ListOptions& options, int64_t revision) {
  KeyRange range = keyRange(options.prefix, options.afterKey);
  ListResult result;
  result.revision = revision;
  if (!range.to.empty() && range.from >= range.to) return result;

  Query scan = TRY(conn.query(range.to.empty() ? kScanKeysUnbounded : kScanKeys));
  scan.bindBlob(1, range.from).bindInt(3, revision);
  if (!range.to.empty()) scan.bindBlob(2, range.to);
  while (TRY(scan.step())) {
    if (scan.columnInt(2) != 0) continue;  // deleted at this revision
    if (options.limit > 0 && static_cast<int64_t>(result.items.size()) >= options.limit) {
      result.more = true;
      ++result.remaining;
      continue;
    }
    KeyValue kv;
    kv.key = scan.columnBlob(0);
    kv.modRevision = scan.columnInt(1);
    Query row = TRY(conn.query(kRowValue));
    row.bindInt(1, kv.modRevision);
    if (!TRY(row.step())) {
      return Error(ErrorCode::kInternal, "log row " + std::to_string(kv.modRevision) + " vanished");
    }
    kv.createRevision = row.columnInt(0);
    kv.value = row.columnBlob(1);
    result.items.push_back(std::move(kv));
  }
  return result;
}

Result<int64_t> countKeys(Connection& conn, std::string_view prefix) {
  KeyRange range = keyRange(prefix, {});
  Query q = TRY(conn.query(range.to.empty() ? kCountKeysUnbounded : kCountKeys));
  q.bindBlob(1, range.from);
  if (!range.to.empty()) q.bindBlob(2, range.to);
  if (!TRY(q.step())) return int64_t{0};
  return q.columnInt(0);
}

Result<EventChunk> readEvents(Connection& conn, std::string_view prefix, int64_t afterRevision,
                              int64_t limit) {
  KeyRange range = keyRange(prefix, {});
  Query q = TRY(conn.query(range.to.empty() ? kEventsUnbounded : kEvents));
  q.bindInt(1, afterRevision).bindBlob(2, range.from).bindInt(4, limit);
  if (!range.to.empty()) q.bindBlob(3, range.to);
  EventChunk chunk;
  while (TRY(q.step())) {
    Event e{EventType::kCreate, {}, {}};
    e.kv.key = q.columnBlob(1);
    e.kv.modRevision = q.columnInt(0);
    e.kv.createRevision = q.columnInt(4);
    e.kv.value = q.columnBlob(6);
    bool created = q.columnInt(2) != 0;
    bool deleted = q.columnInt(3) != 0;
    int64_t prevRevision = q.columnInt(5);
    if (deleted) {
      e.type = EventType::kDelete;
      e.prevKv = {e.kv.key, e.kv.value, e.kv.createRevision, prevRevision};
    } else if (!created) {
      e.type = EventType::kUpdate;
      e.prevKv = {e.kv.key, q.columnBlob(7), e.kv.createRevision, prevRevision};
    }
    chunk.events.push_back(std::move(e));
  }
  chunk.complete = static_cast<int64_t>(chunk.events.size()) < limit;
  return chunk;
}

Result<std::vector<ExpiredKey>> readExpiredKeys(Connection& conn, int64_t nowMs, int64_t limit) {
  Query q = TRY(conn.query(kExpiredKeys));
  q.bindInt(1, nowMs).bindInt(2, limit);
  std::vector<ExpiredKey> keys;
  while (TRY(q.step())) keys.push_back({q.columnBlob(0), q.columnInt(1)});
  return keys;
}

Result<std::optional<int64_t>> readNextExpiry(Connection& conn) {
  Query q = TRY(conn.query(kNextExpiry));
  if (!TRY(q.step()) || q.columnIsNull(0)) return std::optional<int64_t>();
  return std::optional<int64_t>(q.columnInt(0));
}

Result<void> appendRow(Connection& conn, const LogRow& row, const LogRow* superseded) {
  {
    Query q = TRY(conn.query(kInsertRow));
    q.bindInt(1, row.revision)
        .bindBlob(2, row.key)
        .bindInt(3, row.created ? 1 : 0)
        .bindInt(4, row.deleted ? 1 : 0)
        .bindInt(5, row.createRevision)
        .bindInt(6, row.prevRevision)
        .bindInt(7, row.expiresAtMs)
        .bindBlob(8, row.value);
    TRY(q.run());
  }
  if (superseded != nullptr && superseded->expiresAtMs > 0) {
    Query q = TRY(conn.query(kClearExpiry));
    q.bindInt(1, superseded->revision);
    TRY(q.run());
  }
  return okResult();
}

Result<void> recordCompacted(Connection& conn, int64_t target) {
  Query q = TRY(conn.query(kSetCompacted));
  q.bindInt(1, target);
  return q.run();
}

Result<void> compactRange(Connection& conn, int64_t from, int64_t to) {
  {
    Query q = TRY(conn.query(kCompactRange));
    q.bindInt(1, from).bindInt(2, to);
    TRY(q.run());
  }
  Query q = TRY(conn.query(kSetSwept));
  q.bindInt(1, to);
  return q.run();
}

Result<void> shrinkFiles(Connection& conn) {
  TRY(conn.exec("PRAGMA incremental_vacuum"));
  // A truncating checkpoint waits (through the busy handler) for readers on old snapshots;
  // the writer should not stall behind a long list for the full busy timeout.
  sqlite3_busy_timeout(conn.raw(), kCheckpointBusyMs);
  Query q = TRY(conn.query(kCheckpoint));
  auto stepped = q.step();
  sqlite3_busy_timeout(conn.raw(), kBusyTimeoutMs);
  // SQLITE_BUSY here means another checkpoint is running; a busy row means readers still
  // hold old snapshots. Either way a later checkpoint finishes the job.
  if (!stepped.ok() && (sqlite3_extended_errcode(conn.raw()) & 0xff) != SQLITE_BUSY) {
    return std::move(stepped).error();
  }
  return okResult();
}

}  // namespace nave::storage::sqlite
