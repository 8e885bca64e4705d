#include "network/dns/cache.h"

#include <algorithm>
#include <functional>

namespace nave::dns {

ResponseCache::ResponseCache(size_t capacity, uint32_t maxTtl)
    : perShard_(std::max<size_t>(1, capacity / kShards)), maxTtl_(maxTtl) {}

std::string ResponseCache::keyOf(const Question& q) {
  std::string key = q.key;
  key += '\0';
  key += char(q.type >> 8);
  key += char(q.type & 0xff);
  key += char(q.cls & 0xff);
  return key;
}

ResponseCache::Shard& ResponseCache::shardOf(const std::string& key) const {
  return shards_[std::hash<std::string>{}(key) % kShards];
}

void ResponseCache::store(const Question& q, Answer& a) {
  for (auto* section : {&a.answer, &a.authority, &a.additional})
    for (Record& r : *section) r.ttl = std::min(r.ttl, maxTtl_);
  int64_t ttl = -1;
  if (a.rcode == kNoError && !a.answer.empty()) {
    for (const auto* section : {&a.answer, &a.authority, &a.additional})
      for (const Record& r : *section) ttl = ttl < 0 ? r.ttl : std::min<int64_t>(ttl, r.ttl);
  } else if (a.rcode == kNoError || a.rcode == kNxDomain) {
    for (const Record& r : a.authority)
      if (r.type == kTypeSoa) ttl = std::min<int64_t>(r.ttl, soaMinimum(r.rdata));
  }
  ttl = std::min<int64_t>(ttl, maxTtl_);
  if (ttl <= 0) return;
  std::string key = keyOf(q);
  Shard& s = shardOf(key);
  Clock::time_point now = Clock::now();
  std::lock_guard lock(s.mu);
  if (s.entries.size() >= perShard_ && !s.entries.count(key)) s.entries.erase(s.entries.begin());
  s.entries[key] = Entry{a, now, now + std::chrono::seconds(ttl)};
  s.entries[key].answer.authoritative = false;
}

std::optional<Answer> ResponseCache::get(const Question& q) const {
  std::string key = keyOf(q);
  Shard& s = shardOf(key);
  Clock::time_point now = Clock::now();
  std::lock_guard lock(s.mu);
  auto it = s.entries.find(key);
  if (it == s.entries.end()) return std::nullopt;
  if (now >= it->second.expires) {
    s.entries.erase(it);
    return std::nullopt;
  }
  Answer a = it->second.answer;
  uint32_t age =
      uint32_t(std::chrono::duration_cast<std::chrono::seconds>(now - it->second.stored).count());
  for (auto* section : {&a.answer, &a.authority, &a.additional})
    for (Record& r : *section) r.ttl = r.ttl > age ? r.ttl - age : 0;
  a.authoritative = false;
  return a;
}

size_t ResponseCache::size() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.entries.size();
  }
  return n;
}

}  // namespace nave::dns
