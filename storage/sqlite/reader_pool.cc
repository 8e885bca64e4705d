#include "storage/sqlite/reader_pool.h"

#include "storage/sqlite/log_table.h"

namespace nave::storage::sqlite {

Result<ReaderPool::Lease> ReaderPool::acquire() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(conn));
    }
  }
  auto conn = TRY(openReaderConnection(path_));
  return Lease(*this, std::move(conn));
}

void ReaderPool::release(std::unique_ptr<Connection> conn) {
  // A connection left inside a read transaction would pin its snapshot and stop checkpoints.
  if (conn->inTransaction()) (void)conn->exec("ROLLBACK");
  std::lock_guard lock(mutex_);
  if (idle_.size() < maxIdle_) idle_.push_back(std::move(conn));
}

}  // namespace nave::storage::sqlite
