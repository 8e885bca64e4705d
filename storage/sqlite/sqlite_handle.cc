#include "storage/sqlite/sqlite_handle.h"

namespace nave::storage::sqlite {

Error sqliteError(sqlite3* db, int rc, std::string_view what) {
  ErrorCode code = ErrorCode::kInternal;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
      code = ErrorCode::kUnavailable;
      break;
    default:
      break;
  }
  std::string msg(what);
  msg += ": ";
  // sqlite3_errmsg describes the connection's last error, which is this one only if the
  // connection exists and reports the same code.
  if (db != nullptr && sqlite3_extended_errcode(db) == rc) {
    msg += sqlite3_errmsg(db);
  } else {
    msg += sqlite3_errstr(rc);
  }
  return Error(code, std::move(msg));
}

Query::~Query() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Query& Query::bindBlob(int index, std::string_view bytes) {
  // A null data pointer would bind NULL rather than an empty blob.
  if (bytes.empty()) {
    sqlite3_bind_zeroblob(stmt_, index, 0);
  } else {
    sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  }
  return *this;
}

Query& Query::bindInt(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Result<bool> Query::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqliteError(conn_->raw(), rc, sqlite3_sql(stmt_));
}

Result<void> Query::run() {
  while (TRY(step())) {
  }
  return okResult();
}

std::string Query::columnBlob(int index) const {
  const void* data = sqlite3_column_blob(stmt_, index);
  int size = sqlite3_column_bytes(stmt_, index);
  if (data == nullptr || size <= 0) return {};
  return std::string(static_cast<const char*>(data), static_cast<size_t>(size));
}

Result<std::unique_ptr<Connection>> Connection::open(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  DbPtr db(raw);
  if (rc != SQLITE_OK) return sqliteError(db.get(), rc, "open " + path);
  sqlite3_extended_result_codes(db.get(), 1);
  return std::unique_ptr<Connection>(new Connection(std::move(db)));
}

Connection::~Connection() {
  statements_.clear();
}

Result<void> Connection::exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err != nullptr ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    Error e = sqliteError(nullptr, rc, sql);
    return Error(e.code(), std::string(sql) + ": " + msg);
  }
  return okResult();
}

Result<Query> Connection::query(const char* sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    StmtPtr stmt(raw);
    if (rc != SQLITE_OK) return sqliteError(db_.get(), rc, std::string("prepare ") + sql);
    it = statements_.emplace(sql, std::move(stmt)).first;
  }
  return Query(*this, it->second.get());
}

Result<int64_t> Connection::queryInt(const char* sql, int64_t fallback) {
  Query q = TRY(query(sql));
  if (!TRY(q.step()) || q.columnIsNull(0)) return fallback;
  return q.columnInt(0);
}

Result<Transaction> Transaction::begin(Connection& conn, const char* begin) {
  TRY(conn.exec(begin));
  return Transaction(conn);
}

Transaction::~Transaction() {
  // SQLite may already have rolled back on its own after an I/O or full-disk error.
  if (conn_ != nullptr && conn_->inTransaction()) (void)conn_->exec("ROLLBACK");
}

Result<void> Transaction::commit() {
  Connection* conn = std::exchange(conn_, nullptr);
  auto r = conn->exec("COMMIT");
  if (!r.ok() && conn->inTransaction()) (void)conn->exec("ROLLBACK");
  return r;
}

}  // namespace nave::storage::sqlite
