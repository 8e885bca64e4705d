#include "network/nftables/transaction.h"

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter/nfnetlink.h>

#include <cassert>
#include <cstdlib>
#include <cstring>

namespace nave::network::nft {

namespace {

// libnftnl writes attributes without bounds checks, so each message is built in a scratch
// buffer sized above the largest message it can produce: attribute lengths are 16-bit, and
// element lists are split well below that (kElementBytesPerMessage).
constexpr size_t kScratchSize = 256 * 1024;
constexpr size_t kElementBytesPerMessage = 16 * 1024;
// The kernel names an anonymous set itself, replacing the %d.
constexpr char kAnonymousSetName[] = "__map%d";

template <typename T, void (*Free)(const T*)>
struct NftnlDeleter {
  void operator()(T* p) const { Free(p); }
};
using TablePtr = std::unique_ptr<nftnl_table, NftnlDeleter<nftnl_table, nftnl_table_free>>;
using ChainPtr = std::unique_ptr<nftnl_chain, NftnlDeleter<nftnl_chain, nftnl_chain_free>>;
using SetPtr = std::unique_ptr<nftnl_set, NftnlDeleter<nftnl_set, nftnl_set_free>>;
using RulePtr = std::unique_ptr<nftnl_rule, NftnlDeleter<nftnl_rule, nftnl_rule_free>>;

template <typename P, typename T>
P allocated(T* p) {
  if (!p) std::abort();  // out of memory
  return P(p);
}

std::string name(Family family, const std::string& table) {
  return std::string(familyName(family)) + " " + table;
}

// nft's type number of a concatenation: the fields' numbers, 6 bits each, first field highest.
uint32_t concatType(const std::vector<DataType>& types) {
  uint32_t t = 0;
  for (DataType d : types) t = (t << 6) | static_cast<uint32_t>(d);
  return t;
}

SetPtr setRef(Family family, const std::string& table, const std::string& set) {
  auto s = allocated<SetPtr>(nftnl_set_alloc());
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, set.c_str());
  nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, static_cast<uint32_t>(family));
  return s;
}

}  // namespace

Transaction::Transaction() = default;
Transaction::Transaction(Transaction&&) noexcept = default;
Transaction& Transaction::operator=(Transaction&&) noexcept = default;
Transaction::~Transaction() = default;

template <typename Build>
void Transaction::append(uint16_t type, Family family, uint16_t flags, std::string description,
                         Build build) {
  if (!scratch_) scratch_.reset(new char[kScratchSize]);
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(scratch_.get(), type, static_cast<uint16_t>(family), flags, 0);
  build(nlh);
  assert(nlh->nlmsg_len <= kScratchSize);
  messages_.insert(messages_.end(), scratch_.get(), scratch_.get() + MNL_ALIGN(nlh->nlmsg_len));
  descriptions_.push_back(std::move(description));
}

void Transaction::addTable(const TableSpec& table) {
  auto t = allocated<TablePtr>(nftnl_table_alloc());
  nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, table.name.c_str());
  nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, static_cast<uint32_t>(table.family));
  append(NFT_MSG_NEWTABLE, table.family, NLM_F_CREATE,
         "add table " + name(table.family, table.name),
         [&](nlmsghdr* nlh) { nftnl_table_nlmsg_build_payload(nlh, t.get()); });
}

void Transaction::deleteTable(const TableSpec& table) {
  auto t = allocated<TablePtr>(nftnl_table_alloc());
  nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, table.name.c_str());
  nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, static_cast<uint32_t>(table.family));
  append(NFT_MSG_DELTABLE, table.family, 0, "delete table " + name(table.family, table.name),
         [&](nlmsghdr* nlh) { nftnl_table_nlmsg_build_payload(nlh, t.get()); });
}

void Transaction::addChain(const ChainSpec& chain) {
  auto c = allocated<ChainPtr>(nftnl_chain_alloc());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, chain.table.c_str());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, chain.name.c_str());
  nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_FAMILY, static_cast<uint32_t>(chain.family));
  if (chain.base) {
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TYPE, chain.base->type.c_str());
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_HOOKNUM, chain.base->hook);
    nftnl_chain_set_s32(c.get(), NFTNL_CHAIN_PRIO, chain.base->priority);
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_POLICY, static_cast<uint32_t>(chain.base->policy));
  }
  append(NFT_MSG_NEWCHAIN, chain.family, NLM_F_CREATE,
         "add chain " + name(chain.family, chain.table) + " " + chain.name,
         [&](nlmsghdr* nlh) { nftnl_chain_nlmsg_build_payload(nlh, c.get()); });
}

void Transaction::flushChain(Family family, const std::string& table, const std::string& chain) {
  // A rule deletion naming a chain but no handle deletes all of the chain's rules.
  auto r = allocated<RulePtr>(nftnl_rule_alloc());
  nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, static_cast<uint32_t>(family));
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table.c_str());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, chain.c_str());
  append(NFT_MSG_DELRULE, family, 0, "flush chain " + name(family, table) + " " + chain,
         [&](nlmsghdr* nlh) { nftnl_rule_nlmsg_build_payload(nlh, r.get()); });
}

void Transaction::deleteChain(Family family, const std::string& table, const std::string& chain) {
  auto c = allocated<ChainPtr>(nftnl_chain_alloc());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, table.c_str());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, chain.c_str());
  nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_FAMILY, static_cast<uint32_t>(family));
  append(NFT_MSG_DELCHAIN, family, 0, "delete chain " + name(family, table) + " " + chain,
         [&](nlmsghdr* nlh) { nftnl_chain_nlmsg_build_payload(nlh, c.get()); });
}

void Transaction::addRule(const Rule& rule) {
  append(NFT_MSG_NEWRULE, rule.family(), NLM_F_CREATE | NLM_F_APPEND,
         "add rule to chain " + rule.describe(),
         [&](nlmsghdr* nlh) { nftnl_rule_nlmsg_build_payload(nlh, rule.raw()); });
}

void Transaction::deleteRule(Family family, const std::string& table, const std::string& chain,
                             uint64_t handle) {
  auto r = allocated<RulePtr>(nftnl_rule_alloc());
  nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, static_cast<uint32_t>(family));
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table.c_str());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, chain.c_str());
  nftnl_rule_set_u64(r.get(), NFTNL_RULE_HANDLE, handle);
  append(NFT_MSG_DELRULE, family, 0,
         "delete rule " + std::to_string(handle) + " of chain " + name(family, table) + " " + chain,
         [&](nlmsghdr* nlh) { nftnl_rule_nlmsg_build_payload(nlh, r.get()); });
}

void Transaction::addSet(const SetSpec& set) {
  addSetMessage(set, set.name, 0);
}

uint32_t Transaction::addAnonymousSet(const SetSpec& set, const std::vector<SetElement>& elements) {
  addSetMessage(set, kAnonymousSetName, NFT_SET_ANONYMOUS | NFT_SET_CONSTANT);
  uint32_t id = setIds_;
  addElementMessages(set.family, set.table, kAnonymousSetName, id, elements, false);
  return id;
}

void Transaction::addSetMessage(const SetSpec& set, const std::string& setName,
                                uint32_t extraFlags) {
  assert(!set.key.empty());
  assert(!(set.interval && set.key.size() > 1) && "interval concatenations are not supported");
  SetPtr s = setRef(set.family, set.table, setName);
  uint32_t flags = extraFlags;
  if (!set.data.empty()) flags |= NFT_SET_MAP;
  if (set.interval) flags |= NFT_SET_INTERVAL;
  if (set.timeoutMs) {
    flags |= NFT_SET_TIMEOUT | NFT_SET_EVAL;
    nftnl_set_set_u64(s.get(), NFTNL_SET_TIMEOUT, set.timeoutMs);
  }
  nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, flags);
  // The kernel requires an ID unique within the batch (how anonymous sets are referred to).
  nftnl_set_set_u32(s.get(), NFTNL_SET_ID, ++setIds_);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, concatType(set.key));
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, set.keyLength());
  if (set.key.size() == 1 && set.key[0] == DataType::kInteger) {
    // Tells `nft list` the keys are in host byte order (numgen's results), as nft records it.
    constexpr uint32_t kNftHostByteOrder = 1;
    std::unique_ptr<nftnl_udata_buf, void (*)(const nftnl_udata_buf*)> udata(
        nftnl_udata_buf_alloc(16), nftnl_udata_buf_free);
    if (!udata) std::abort();
    nftnl_udata_put_u32(udata.get(), NFTNL_UDATA_SET_KEYBYTEORDER, kNftHostByteOrder);
    nftnl_set_set_data(s.get(), NFTNL_SET_USERDATA, nftnl_udata_buf_data(udata.get()),
                       nftnl_udata_buf_len(udata.get()));
  }
  if (set.data.size() == 1 && set.data[0] == DataType::kVerdict) {
    nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
  } else if (!set.data.empty()) {
    nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_TYPE, concatType(set.data));
    nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_LEN, set.dataLength());
  }
  append(NFT_MSG_NEWSET, set.family, NLM_F_CREATE,
         std::string(set.data.empty() ? "add set " : "add map ") + name(set.family, set.table) +
             " " + setName,
         [&](nlmsghdr* nlh) { nftnl_set_nlmsg_build_payload(nlh, s.get()); });
}

void Transaction::flushSet(Family family, const std::string& table, const std::string& set) {
  // An element deletion without elements empties the set.
  SetPtr s = setRef(family, table, set);
  append(NFT_MSG_DELSETELEM, family, 0, "flush set " + name(family, table) + " " + set,
         [&](nlmsghdr* nlh) { nftnl_set_elems_nlmsg_build_payload(nlh, s.get()); });
}

void Transaction::deleteSet(Family family, const std::string& table, const std::string& set) {
  SetPtr s = setRef(family, table, set);
  append(NFT_MSG_DELSET, family, 0, "delete set " + name(family, table) + " " + set,
         [&](nlmsghdr* nlh) { nftnl_set_nlmsg_build_payload(nlh, s.get()); });
}

namespace {

// Splits `count` elements into messages of bounded size; calls `emit(begin, end)` for each.
template <typename Size, typename Emit>
void chunked(size_t count, Size sizeOf, Emit emit) {
  size_t begin = 0;
  while (begin < count) {
    size_t end = begin, bytes = 0;
    while (end < count && (end == begin || bytes + sizeOf(end) <= kElementBytesPerMessage)) {
      bytes += sizeOf(end);
      ++end;
    }
    emit(begin, end);
    begin = end;
  }
}

}  // namespace

void Transaction::addElements(Family family, const std::string& table, const std::string& set,
                              const std::vector<SetElement>& elements, bool failIfExists) {
  addElementMessages(family, table, set, 0, elements, failIfExists);
}

void Transaction::addElementMessages(Family family, const std::string& table,
                                     const std::string& set, uint32_t setId,
                                     const std::vector<SetElement>& elements, bool excl) {
  uint16_t flags = NLM_F_CREATE | (excl ? NLM_F_EXCL : 0);
  chunked(
      elements.size(),
      [&](size_t i) {
        const auto& e = elements[i];
        return 64 + e.key.size() + e.data.size() + (e.verdict ? e.verdict->chain.size() : 0);
      },
      [&](size_t begin, size_t end) {
        SetPtr s = setRef(family, table, set);
        if (setId) nftnl_set_set_u32(s.get(), NFTNL_SET_ID, setId);
        for (size_t i = begin; i < end; ++i) {
          const SetElement& e = elements[i];
          nftnl_set_elem* el = nftnl_set_elem_alloc();
          if (!el) std::abort();
          nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, e.key.data(),
                             static_cast<uint32_t>(e.key.size()));
          if (!e.data.empty())
            nftnl_set_elem_set(el, NFTNL_SET_ELEM_DATA, e.data.data(),
                               static_cast<uint32_t>(e.data.size()));
          if (e.verdict) {
            nftnl_set_elem_set_u32(el, NFTNL_SET_ELEM_VERDICT,
                                   static_cast<uint32_t>(e.verdict->code));
            if (!e.verdict->chain.empty())
              nftnl_set_elem_set_str(el, NFTNL_SET_ELEM_CHAIN, e.verdict->chain.c_str());
          }
          nftnl_set_elem_add(s.get(), el);  // the set owns it
        }
        append(NFT_MSG_NEWSETELEM, family, flags,
               "add " + std::to_string(end - begin) + " element(s) to " + name(family, table) +
                   " " + set,
               [&](nlmsghdr* nlh) { nftnl_set_elems_nlmsg_build_payload(nlh, s.get()); });
      });
}

void Transaction::deleteElements(Family family, const std::string& table, const std::string& set,
                                 const std::vector<Bytes>& keys) {
  chunked(
      keys.size(), [&](size_t i) { return 32 + keys[i].size(); },
      [&](size_t begin, size_t end) {
        SetPtr s = setRef(family, table, set);
        for (size_t i = begin; i < end; ++i) {
          nftnl_set_elem* el = nftnl_set_elem_alloc();
          if (!el) std::abort();
          nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, keys[i].data(),
                             static_cast<uint32_t>(keys[i].size()));
          nftnl_set_elem_add(s.get(), el);
        }
        append(NFT_MSG_DELSETELEM, family, 0,
               "delete " + std::to_string(end - begin) + " element(s) from " + name(family, table) +
                   " " + set,
               [&](nlmsghdr* nlh) { nftnl_set_elems_nlmsg_build_payload(nlh, s.get()); });
      });
}

void Transaction::addRanges(Family family, const std::string& table, const std::string& set,
                            const std::vector<KeyRange>& ranges) {
  appendRanges(NFT_MSG_NEWSETELEM, NLM_F_CREATE, "add", family, table, set, ranges);
}

void Transaction::deleteRanges(Family family, const std::string& table, const std::string& set,
                               const std::vector<KeyRange>& ranges) {
  appendRanges(NFT_MSG_DELSETELEM, 0, "delete", family, table, set, ranges);
}

void Transaction::appendRanges(uint16_t type, uint16_t flags, const char* verb, Family family,
                               const std::string& table, const std::string& set,
                               const std::vector<KeyRange>& ranges) {
  // Each range as its start element and, unless it runs to the top of the key space, an end
  // element keyed one past its last key (a big-endian increment) with the interval-end flag:
  // what nft itself sends for `elements = { a-b }`.
  struct Element {
    Bytes key;
    bool end;
  };
  std::vector<Element> elements;
  for (const KeyRange& r : ranges) {
    assert(r.first.size() == r.last.size() && !r.first.empty());
    elements.push_back({r.first, false});
    Bytes next = r.last;
    size_t i = next.size();
    while (i > 0 && ++next[i - 1] == 0) --i;
    if (i > 0) elements.push_back({std::move(next), true});
  }
  chunked(
      elements.size(), [&](size_t i) { return 48 + elements[i].key.size(); },
      [&](size_t begin, size_t end) {
        SetPtr s = setRef(family, table, set);
        for (size_t i = begin; i < end; ++i) {
          nftnl_set_elem* el = nftnl_set_elem_alloc();
          if (!el) std::abort();
          nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, elements[i].key.data(),
                             static_cast<uint32_t>(elements[i].key.size()));
          if (elements[i].end)
            nftnl_set_elem_set_u32(el, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
          nftnl_set_elem_add(s.get(), el);
        }
        append(type, family, flags,
               std::string(verb) + " " + std::to_string(end - begin) + " range element(s) of " +
                   name(family, table) + " " + set,
               [&](nlmsghdr* nlh) { nftnl_set_elems_nlmsg_build_payload(nlh, s.get()); });
      });
}

}  // namespace nave::network::nft
