// Move-only owners of SQLite handles and a thin statement API returning Result.
//
// A Connection is used by one thread at a time (connections are opened in SQLite's
// multi-thread mode, without per-connection mutexes). It caches prepared statements keyed by
// the address of their SQL text, so callers pass string literals or other static strings.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "common/result.h"

namespace nave::storage::sqlite {

// An Error for a failed SQLite call: "what: <sqlite message>". Busy, locked, full-disk and I/O
// failures map to kUnavailable (the caller may retry later); everything else to kInternal.
Error sqliteError(sqlite3* db, int rc, std::string_view what);

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;

struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

class Connection;

// One execution of a cached prepared statement. Resets the statement and clears its bindings
// when destroyed, so the next user starts clean. Column indexes start at 0, parameters at 1.
class Query {
 public:
  Query(Connection& conn, sqlite3_stmt* stmt) : conn_(&conn), stmt_(stmt) {}
  Query(Query&& other) noexcept : conn_(other.conn_), stmt_(std::exchange(other.stmt_, nullptr)) {}
  Query& operator=(Query&&) = delete;
  Query(const Query&) = delete;
  ~Query();

  // Keys and values are bound as BLOBs so that comparisons are bytewise (memcmp) and any bytes,
  // including NUL, survive.
  Query& bindBlob(int index, std::string_view bytes);
  Query& bindInt(int index, int64_t value);

  // Advances to the next row: true when a row is available, false when done.
  Result<bool> step();
  // Runs a statement that returns no rows (or ignores them).
  Result<void> run();

  int64_t columnInt(int index) const { return sqlite3_column_int64(stmt_, index); }
  bool columnIsNull(int index) const { return sqlite3_column_type(stmt_, index) == SQLITE_NULL; }
  std::string columnBlob(int index) const;

 private:
  Connection* conn_;
  sqlite3_stmt* stmt_;
};

class Connection {
 public:
  // Opens `path` with the given sqlite3_open_v2 flags (SQLITE_OPEN_NOMUTEX is added).
  static Result<std::unique_ptr<Connection>> open(const std::string& path, int flags);

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Runs one or more statements that return no rows (pragmas, BEGIN/COMMIT, DDL).
  Result<void> exec(const char* sql);
  // A query on the cached statement for `sql` (prepared on first use).
  Result<Query> query(const char* sql);
  // Runs a single-row, single-column query: the integer in the first column of the first row,
  // or `fallback` when there is no row or it is NULL.
  Result<int64_t> queryInt(const char* sql, int64_t fallback = 0);

  bool inTransaction() const { return sqlite3_get_autocommit(db_.get()) == 0; }
  sqlite3* raw() const { return db_.get(); }

 private:
  explicit Connection(DbPtr db) : db_(std::move(db)) {}

  // Statements are finalized before the connection closes (declaration order).
  DbPtr db_;
  std::unordered_map<const char*, StmtPtr> statements_;
};

// Ends a read or write transaction on scope exit unless commit() was called: a failed step in
// the middle of a read or write rolls back instead of leaving the connection in a transaction.
class Transaction {
 public:
  // `begin` is "BEGIN" (deferred; a read snapshot starts with the first SELECT) or
  // "BEGIN IMMEDIATE" (takes the write lock now).
  static Result<Transaction> begin(Connection& conn, const char* begin = "BEGIN");
  Transaction(Transaction&& other) noexcept : conn_(std::exchange(other.conn_, nullptr)) {}
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();

  Result<void> commit();

 private:
  explicit Transaction(Connection& conn) : conn_(&conn) {}
  Connection* conn_;
};

}  // namespace nave::storage::sqlite
