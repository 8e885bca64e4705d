// ReaderPool: read-only connections for the store's readers, handed out one per caller and
// returned when the Lease is destroyed. Connections are opened on demand, so concurrent
// readers never wait for each other; at most `maxIdle` are kept open between uses.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "storage/sqlite/sqlite_handle.h"

namespace nave::storage::sqlite {

class ReaderPool {
 public:
  class Lease {
   public:
    Lease(ReaderPool& pool, std::unique_ptr<Connection> conn)
        : pool_(&pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn_) pool_->release(std::move(conn_));
    }
    Connection& operator*() const { return *conn_; }
    Connection* operator->() const { return conn_.get(); }

   private:
    ReaderPool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  ReaderPool(std::string path, size_t maxIdle) : path_(std::move(path)), maxIdle_(maxIdle) {}

  Result<Lease> acquire();

 private:
  void release(std::unique_ptr<Connection> conn);

  const std::string path_;
  const size_t maxIdle_;
  std::mutex mutex_;  // guards idle_
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace nave::storage::sqlite
