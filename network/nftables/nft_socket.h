// NftSocket: commits Transactions and reads back what nave's own tables hold, over one
// NETLINK_NETFILTER socket in the network namespace it was opened in. Not thread-safe.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "network/netlink/netlink_socket.h"
#include "network/netlink/netns.h"
#include "network/nftables/objects.h"
#include "network/nftables/transaction.h"

namespace nave::network::nft {

class NftSocket {
 public:
  static Result<NftSocket> open();  // the calling thread's network namespace
  static Result<NftSocket> openIn(const NetnsHandle& ns);

  // Applies the whole transaction atomically, or nothing of it. On failure the error is the
  // kernel's for the first failing operation, named: "add rule to chain ip t c: No such file
  // or directory" (kNotFound); kAlreadyExists for an exclusive add of something present. An
  // empty transaction is a no-op.
  Result<void> commit(const Transaction& tx);

  Result<bool> hasTable(const TableSpec& table);
  Result<std::vector<std::string>> tableNames(Family family);
  // The elements of a set or map (kNotFound when there is no such set).
  Result<std::vector<SetElement>> elements(Family family, const std::string& table,
                                           const std::string& set);

 private:
  explicit NftSocket(NetlinkSocket nl) : nl_(std::move(nl)) {}
  NetlinkSocket nl_;
};

}  // namespace nave::network::nft
