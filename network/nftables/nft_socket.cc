#include "network/nftables/nft_socket.h"

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter/nfnetlink.h>

#include <cstdlib>
#include <cstring>
#include <memory>

namespace nave::network::nft {

namespace {

struct SetFree {
  void operator()(nftnl_set* s) const { nftnl_set_free(s); }
};
struct TableFree {
  void operator()(nftnl_table* t) const { nftnl_table_free(t); }
};

}  // namespace

Result<NftSocket> NftSocket::open() {
  return NftSocket(TRY(NetlinkSocket::open(NETLINK_NETFILTER)));
}

Result<NftSocket> NftSocket::openIn(const NetnsHandle& ns) {
  return NftSocket(TRY(NetlinkSocket::openIn(NETLINK_NETFILTER, ns)));
}

Result<void> NftSocket::commit(const Transaction& tx) {
  if (tx.empty()) return {};
  // begin, the transaction's messages, end: each with its own sequence number. Only the last
  // operation asks for an acknowledgement: errors are reported for any failing message anyway,
  // and that one ack proves the kernel processed the whole batch.
  const size_t count = tx.descriptions_.size();
  const uint32_t first = nl_.nextSeq();
  for (size_t i = 0; i <= count; ++i) (void)nl_.nextSeq();
  std::vector<char> batch;
  batch.reserve(tx.messages_.size() + 2 * MNL_ALIGN(sizeof(nlmsghdr) + sizeof(nfgenmsg)));
  alignas(nlmsghdr) char edge[256];
  nlmsghdr* begin = nftnl_batch_begin(edge, first);
  batch.insert(batch.end(), edge, edge + MNL_ALIGN(begin->nlmsg_len));
  size_t offset = batch.size();
  batch.insert(batch.end(), tx.messages_.begin(), tx.messages_.end());
  uint32_t lastSeq = 0;
  for (size_t i = 0; i < count; ++i) {
    auto* nlh = reinterpret_cast<nlmsghdr*>(batch.data() + offset);
    nlh->nlmsg_seq = lastSeq = first + 1 + static_cast<uint32_t>(i);
    if (i + 1 == count) nlh->nlmsg_flags |= NLM_F_ACK;
    offset += MNL_ALIGN(nlh->nlmsg_len);
  }
  nlmsghdr* end = nftnl_batch_end(edge, lastSeq + 1);
  batch.insert(batch.end(), edge, edge + MNL_ALIGN(end->nlmsg_len));

  auto replies = nl_.sendBatch(batch.data(), batch.size());
  if (!replies.ok()) return std::move(replies).error().context("nftables transaction");
  const NetlinkReply* failed = nullptr;
  bool acknowledged = false;
  for (const auto& r : *replies) {
    if (r.error != 0 && (!failed || r.seq < failed->seq)) failed = &r;
    if (r.error == 0 && r.seq == lastSeq) acknowledged = true;
  }
  if (failed) {
    std::string what = "nftables";
    if (failed->seq > first && failed->seq <= lastSeq)
      what = tx.descriptions_[failed->seq - first - 1];
    return netlinkError(what, failed->error, failed->message);
  }
  if (!acknowledged)
    return Error(ErrorCode::kInternal, "nftables transaction: the kernel did not acknowledge it");
  return {};
}

Result<bool> NftSocket::hasTable(const TableSpec& table) {
  alignas(nlmsghdr) char buf[8192];
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, static_cast<uint16_t>(table.family), 0, 0);
  std::unique_ptr<nftnl_table, TableFree> t(nftnl_table_alloc());
  if (!t) std::abort();
  nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, table.name.c_str());
  nftnl_table_nlmsg_build_payload(nlh, t.get());
  auto r = nl_.request(nlh, [](const nlmsghdr*) { return true; });
  if (r.ok()) return true;
  if (r.error().is(ErrorCode::kNotFound)) return false;
  return std::move(r).error().context("get table " + table.name);
}

Result<std::vector<std::string>> NftSocket::tableNames(Family family) {
  alignas(nlmsghdr) char buf[8192];
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, static_cast<uint16_t>(family), 0, 0);
  std::vector<std::string> out;
  auto r = nl_.dump(nlh, [&](const nlmsghdr* m) {
    std::unique_ptr<nftnl_table, TableFree> t(nftnl_table_alloc());
    if (!t) std::abort();
    if (nftnl_table_nlmsg_parse(m, t.get()) < 0) return false;
    if (nftnl_table_is_set(t.get(), NFTNL_TABLE_NAME))
      out.emplace_back(nftnl_table_get_str(t.get(), NFTNL_TABLE_NAME));
    return true;
  });
  if (!r.ok()) return std::move(r).error().context("list nftables tables");
  return out;
}

Result<std::vector<SetElement>> NftSocket::elements(Family family, const std::string& table,
                                                    const std::string& set) {
  alignas(nlmsghdr) char buf[8192];
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, static_cast<uint16_t>(family), 0, 0);
  std::unique_ptr<nftnl_set, SetFree> query(nftnl_set_alloc());
  if (!query) std::abort();
  nftnl_set_set_str(query.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(query.get(), NFTNL_SET_NAME, set.c_str());
  nftnl_set_elems_nlmsg_build_payload(nlh, query.get());
  std::vector<SetElement> out;
  auto r = nl_.dump(nlh, [&](const nlmsghdr* m) {
    std::unique_ptr<nftnl_set, SetFree> s(nftnl_set_alloc());
    if (!s) std::abort();
    if (nftnl_set_elems_nlmsg_parse(m, s.get()) < 0) return false;
    nftnl_set_elem_foreach(
        s.get(),
        [](nftnl_set_elem* e, void* data) -> int {
          SetElement el;
          uint32_t len = 0;
          if (const void* k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len))
            el.key.assign(static_cast<const uint8_t*>(k), static_cast<const uint8_t*>(k) + len);
          if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_DATA)) {
            const void* d = nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &len);
            el.data.assign(static_cast<const uint8_t*>(d), static_cast<const uint8_t*>(d) + len);
          }
          if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_VERDICT)) {
            Verdict v;
            v.code = static_cast<int32_t>(nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT));
            if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_CHAIN))
              v.chain = nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN);
            el.verdict = std::move(v);
          }
          static_cast<std::vector<SetElement>*>(data)->push_back(std::move(el));
          return 0;
        },
        &out);
    return true;
  });
  if (!r.ok()) {
    return std::move(r).error().context("list elements of " + std::string(familyName(family)) +
                                        " " + table + " " + set);
  }
  return out;
}

}  // namespace nave::network::nft
