// ResponseCache: upstream answers kept for their TTL (k3s' CoreDNS runs `cache 30`: at most
// 30 s), negative ones (NXDOMAIN, NODATA) for the SOA's minimum (RFC 2308; without a SOA they
// are not kept), SERVFAIL and other failures never. Bounded: when a shard is full an arbitrary
// entry of it makes room. Thread-safe (sharded mutexes).
#pragma once

#include <array>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "network/dns/message.h"

namespace nave::dns {

class ResponseCache {
 public:
  explicit ResponseCache(size_t capacity = 10000, uint32_t maxTtl = 30);

  // Keeps `a` (when cacheable) for `q`, first lowering its TTLs to the cache's maximum, as
  // CoreDNS' cache does for the answer it passes on.
  void store(const Question& q, Answer& a);
  // The answer with each TTL lowered by the time it spent here; nullopt if absent or expired.
  std::optional<Answer> get(const Question& q) const;
  // Calls `use(answer, age)` with the cached answer (TTLs as stored, `age` the seconds it has
  // spent here) under the shard's lock, without copying it; false if absent or expired.
  template <typename Use>
  bool visit(const Question& q, Use&& use) const {
    std::string key = keyOf(q);
    Shard& s = shardOf(key);
    Clock::time_point now = Clock::now();
    std::lock_guard lock(s.mu);
    auto it = s.entries.find(key);
    if (it == s.entries.end() || now >= it->second.expires) return false;
    use(it->second.answer,
        uint32_t(
            std::chrono::duration_cast<std::chrono::seconds>(now - it->second.stored).count()));
    return true;
  }
  size_t size() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    Answer answer;
    Clock::time_point stored, expires;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Entry> entries;  // guarded by mu
  };
  static constexpr size_t kShards = 16;
  static std::string keyOf(const Question& q);
  Shard& shardOf(const std::string& key) const;

  size_t perShard_;
  uint32_t maxTtl_;
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace nave::dns
