// Allocation of Service cluster IPs (from --service-cidr) and node ports (30000-32767), as the
// API server does when a Service is created. The allocations live in the Services themselves;
// the allocator derives what is taken from the watch cache, plus reservations for creates in
// flight, so two concurrent creates never get the same address.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "common/json.h"
#include "common/result.h"
#include "server/cache/watch_cache.h"

namespace nave::api {

class ServiceAllocator {
 public:
  // `cidr` like "10.43.0.0/16". kInvalid when malformed.
  static Result<std::unique_ptr<ServiceAllocator>> create(const std::string& cidr,
                                                          cache::WatchCache& cache);

  // Fills spec.clusterIP/clusterIPs/ipFamilies/ipFamilyPolicy and node ports of a new Service,
  // honouring requested values (kInvalid when taken or out of range).
  Result<void> allocate(Json& service);
  // Keeps an updated Service's allocations: clusterIP is immutable once set; node ports added
  // by a type change are allocated.
  Result<void> update(Json& service, const Json& old);

  // The first address of the range (the `kubernetes` Service's).
  std::string firstAddress() const;

 private:
  ServiceAllocator(uint32_t base, uint32_t size, cache::WatchCache& cache)
      : base_(base), size_(size), cache_(cache) {}
  void collectUsed(std::set<uint32_t>& ips, std::set<int64_t>& ports) const;
  Result<void> allocatePorts(Json& service, const std::set<int64_t>& used);
  // Picks a free address for spec.clusterIP(s); needs mu_.
  Result<void> allocateDynamicIp(Json& spec, const std::set<uint32_t>& usedIps,
                                 std::chrono::steady_clock::time_point deadline);
  void pruneReservations();

  uint32_t base_;
  uint32_t size_;
  cache::WatchCache& cache_;
  std::mutex mu_;
  std::map<uint32_t, std::chrono::steady_clock::time_point> reservedIps_;  // guarded by mu_
  std::map<int64_t, std::chrono::steady_clock::time_point> reservedPorts_; // guarded by mu_
  uint32_t nextIp_ = 0;                                                    // guarded by mu_
};

}  // namespace nave::api
