// HostLocalIpam: the pod addresses of one node, allocated from its pod CIDR and recorded in
// a directory so that they survive restarts and are shared safely by processes (as CNI's
// host-local plugin does).
//
// Layout of `dir`: one file per allocated address, named by it ("10.42.0.7") and holding the
// sandbox id; "last_reserved" (the most recently allocated address: allocation continues
// after it, so a released address is not handed out again at once); ".lock" (flock, held
// while allocating or releasing). The network address, the gateway (the first address) and
// the broadcast address are never allocated.
//
// Thread- and process-safe: every call takes the directory's lock, and a record is created
// with link(2), which fails if the name exists, so even an unlocked writer cannot share an
// address.
#pragma once

#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "network/netlink/ipv4.h"

namespace nave::network {

struct IpAllocation {
  Ipv4Address ip;
  std::string sandboxId;
};

class HostLocalIpam {
 public:
  // Creates `dir` (and its parents) when missing. `range` must have room for one address
  // besides the gateway (a /30 or larger).
  static Result<HostLocalIpam> open(const std::string& dir, const Ipv4Prefix& range);

  // The address recorded for `sandboxId`, or a new one (kUnavailable when none is free).
  // `existed` (optional) tells which.
  Result<Ipv4Address> allocate(const std::string& sandboxId, bool* existed = nullptr);
  // Removes the sandbox's record; returns the address it had, if any.
  Result<std::optional<Ipv4Address>> release(const std::string& sandboxId);
  Result<std::optional<Ipv4Address>> find(const std::string& sandboxId) const;
  // Every record, in address order (records outside the range, left by an earlier pod CIDR,
  // included: they are released like any other).
  Result<std::vector<IpAllocation>> list() const;

  Ipv4Address gateway() const { return Ipv4Address{range_.network().value + 1}; }
  const Ipv4Prefix& range() const { return range_; }

 private:
  HostLocalIpam(std::string dir, Ipv4Prefix range)
      : dir_(std::move(dir)), range_(range), cache_(std::make_shared<Cache>()) {}
  Result<std::vector<IpAllocation>> readRecords() const;
  // The records, from memory unless the directory changed since this process last looked
  // (another process allocated or released). Needs cache_->mu and the directory lock.
  Result<std::vector<IpAllocation>*> cachedRecords();
  void rememberDirectory();  // after a change of ours (under the same locks)
  // Creates the record of `ip`; false when it exists.
  Result<bool> createRecord(Ipv4Address ip, const std::string& sandboxId);

  std::string dir_;
  Ipv4Prefix range_;
  // Reading every record for every allocation is O(pods) file reads under the lock: the
  // records are kept in memory. O_EXCL creation stays the guarantee against sharing an
  // address with another process, whatever the cache says.
  struct Cache {
    std::mutex mu;
    bool valid = false;
    timespec dirMtime{};
    std::vector<IpAllocation> records;
  };
  std::shared_ptr<Cache> cache_;
};

}  // namespace nave::network
