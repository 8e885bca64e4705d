// Transaction: nftables changes collected into one netlink batch, which the kernel applies
// atomically (all or nothing, and packets see either the old or the new rules). Built without
// a socket; NftSocket::commit sends it.
//
// `add*` of tables, chains and sets is idempotent (like `nft add`, without NLM_F_EXCL); rules
// are appended, so re-adding a rule duplicates it: flush the chain first in the same
// transaction to replace a chain's rules atomically.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "network/nftables/objects.h"
#include "network/nftables/rule.h"

namespace nave::network::nft {

class Transaction {
 public:
  Transaction();
  Transaction(Transaction&&) noexcept;
  Transaction& operator=(Transaction&&) noexcept;
  ~Transaction();

  void addTable(const TableSpec& table);
  void deleteTable(const TableSpec& table);  // kNotFound at commit when missing

  void addChain(const ChainSpec& chain);  // a base chain's hook and policy are updated
  void flushChain(Family family, const std::string& table, const std::string& chain);
  void deleteChain(Family family, const std::string& table, const std::string& chain);

  void addRule(const Rule& rule);  // appended at the end of its chain
  void deleteRule(Family family, const std::string& table, const std::string& chain,
                  uint64_t handle);

  void addSet(const SetSpec& set);
  // An anonymous constant map or set with its elements (what nft makes of `vmap { 0 : goto
  // a, 1 : goto b }`), bound to the rule that looks it up and deleted with it. Returns the
  // batch-local ID to pass to Rule::lookupAnonymous in a rule added later in this transaction.
  // `set.name` is ignored.
  uint32_t addAnonymousSet(const SetSpec& set, const std::vector<SetElement>& elements);
  void flushSet(Family family, const std::string& table, const std::string& set);
  void deleteSet(Family family, const std::string& table, const std::string& set);

  // Adds elements to a set or map. An element whose key is present already is left alone
  // when its value is the same, and fails the commit otherwise; with `failIfExists`, any
  // present key fails it (kAlreadyExists).
  void addElements(Family family, const std::string& table, const std::string& set,
                   const std::vector<SetElement>& elements, bool failIfExists = false);
  // Removes elements by key; a missing key fails the commit (kNotFound).
  void deleteElements(Family family, const std::string& table, const std::string& set,
                      const std::vector<Bytes>& keys);

  // Ranges of an interval set (SetSpec::interval). The kernel keeps a range as two elements,
  // its first key and an end mark one past its last (none when `last` is the highest key), so
  // ranges may neither overlap nor touch one another (merge them first). Deleting names each
  // range exactly as it was added; a missing one fails the commit (kNotFound).
  void addRanges(Family family, const std::string& table, const std::string& set,
                 const std::vector<KeyRange>& ranges);
  void deleteRanges(Family family, const std::string& table, const std::string& set,
                    const std::vector<KeyRange>& ranges);

  bool empty() const { return descriptions_.empty(); }
  size_t size() const { return descriptions_.size(); }

 private:
  friend class NftSocket;
  // Appends one message built by `build` into the scratch buffer.
  template <typename Build>
  void append(uint16_t type, Family family, uint16_t flags, std::string description, Build build);

  void appendRanges(uint16_t type, uint16_t flags, const char* verb, Family family,
                    const std::string& table, const std::string& set,
                    const std::vector<KeyRange>& ranges);
  void addSetMessage(const SetSpec& set, const std::string& name, uint32_t extraFlags);
  void addElementMessages(Family family, const std::string& table, const std::string& set,
                          uint32_t setId, const std::vector<SetElement>& elements, bool excl);

  std::vector<char> messages_;             // netlink messages, sequence numbers unset
  std::vector<std::string> descriptions_;  // one per message, for errors
  std::unique_ptr<char[]> scratch_;
  uint32_t setIds_ = 0;
};

}  // namespace nave::network::nft
