// nftables transactions against the real kernel, each test in its own network namespace;
// `nft list` (run inside it) is the independent witness of what was built.
#include <gtest/gtest.h>
#include <linux/netfilter/nf_conntrack_common.h>

#include "network/nftables/nft_socket.h"
#include "network/nftables/rule.h"
#include "network/nftables/transaction.h"
#include "tests/network/netns_fixture.h"

namespace nave::network::nft {
namespace {

using testing::TestNetns;

const TableSpec kTable{Family::kIp, "nave-test"};

class NftTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NAVE_REQUIRE_NETNS();
    ns_ = TestNetns::create("nft");
    ASSERT_TRUE(ns_);
    auto s = NftSocket::openIn(ns_->handle());
    ASSERT_TRUE(s.ok()) << s.error().message();
    nft_.emplace(std::move(s).value());
  }

  std::string list(const std::string& what = "ruleset") {
    auto [rc, out] = ns_->exec("nft list " + what);
    EXPECT_EQ(rc, 0) << out;
    return out;
  }

  // The base of a NAT table as the pod network builds it.
  Transaction natTable() {
    Transaction tx;
    tx.addTable(kTable);
    tx.addChain({Family::kIp, kTable.name, "postrouting",
                 BaseChainSpec{"nat", NF_INET_POST_ROUTING, 100, NF_ACCEPT}});
    tx.addChain({Family::kIp, kTable.name, "prerouting",
                 BaseChainSpec{"nat", NF_INET_PRE_ROUTING, -100, NF_ACCEPT}});
    tx.addSet({Family::kIp,
               kTable.name,
               "ports",
               {DataType::kInetProto, DataType::kInetService},
               {DataType::kIpv4Addr, DataType::kInetService}});
    return tx;
  }

  std::unique_ptr<TestNetns> ns_;
  std::optional<NftSocket> nft_;
};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST_F(NftTest, BuildsTablesChainsMapsAndRulesAsNftPrintsThem) {
  Transaction tx = natTable();
  Rule masq(Family::kIp, kTable.name, "postrouting");
  masq.ipSaddr(*Ipv4Prefix::parse("10.42.0.0/24"))
      .ipDaddr(*Ipv4Prefix::parse("10.42.0.0/16"), true)
      .counter()
      .masquerade();
  tx.addRule(masq);
  Rule hairpin(Family::kIp, kTable.name, "postrouting");
  hairpin.ctStatus(IPS_DST_NAT)
      .ipSaddr(*Ipv4Prefix::parse("10.42.0.0/20"))
      .oifname("nave0")
      .masquerade();
  tx.addRule(hairpin);
  Rule dnat(Family::kIp, kTable.name, "prerouting");
  dnat.fibDaddrLocal()
      .meta(NFT_META_L4PROTO, reg32(0))
      .payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, reg32(1))
      .lookup("ports", reg32(0), reg32(0))
      .dnat(reg32(0), reg32(1));
  tx.addRule(dnat);
  auto r = nft_->commit(tx);
  ASSERT_TRUE(r.ok()) << r.error().message();

  std::string out = list("table ip nave-test");
  EXPECT_TRUE(contains(out, "type nat hook postrouting priority srcnat; policy accept;")) << out;
  EXPECT_TRUE(contains(out, "type nat hook prerouting priority dstnat; policy accept;")) << out;
  EXPECT_TRUE(contains(out, "type inet_proto . inet_service : ipv4_addr . inet_service")) << out;
  EXPECT_TRUE(contains(
      out, "ip saddr 10.42.0.0/24 ip daddr != 10.42.0.0/16 counter packets 0 bytes 0 masquerade"))
      << out;
  EXPECT_TRUE(contains(out, "ct status dnat ip saddr 10.42.0.0/20 oifname \"nave0\" masquerade"))
      << out;
  EXPECT_TRUE(contains(out, "fib daddr type local dnat ip to meta l4proto . th dport map @ports"))
      << out;

  auto has = nft_->hasTable(kTable);
  ASSERT_TRUE(has.ok());
  EXPECT_TRUE(*has);
  EXPECT_FALSE(*nft_->hasTable({Family::kIp, "nave-other"}));
  auto names = nft_->tableNames(Family::kIp);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"nave-test"});
}

TEST_F(NftTest, AddsListsAndDeletesMapElements) {
  ASSERT_TRUE(nft_->commit(natTable()).ok());
  auto key = [](uint8_t proto, uint16_t port) {
    return Concat().inetProto(proto).inetService(port).bytes();
  };
  auto value = [](const char* ip, uint16_t port) {
    return Concat().ipv4(*Ipv4Address::parse(ip)).inetService(port).bytes();
  };
  Transaction add;
  add.addElements(Family::kIp, kTable.name, "ports",
                  {{key(IPPROTO_TCP, 8080), value("10.42.0.5", 80), {}},
                   {key(IPPROTO_UDP, 5353), value("10.42.0.6", 53), {}}});
  ASSERT_TRUE(nft_->commit(add).ok());
  std::string out = list("map ip nave-test ports");
  EXPECT_TRUE(contains(out, "tcp . 8080 : 10.42.0.5 . 80")) << out;
  EXPECT_TRUE(contains(out, "udp . 5353 : 10.42.0.6 . 53")) << out;

  auto elements = nft_->elements(Family::kIp, kTable.name, "ports");
  ASSERT_TRUE(elements.ok()) << elements.error().message();
  ASSERT_EQ(elements->size(), 2u);
  for (const auto& e : *elements) {
    EXPECT_EQ(e.key.size(), 8u);
    EXPECT_EQ(e.data.size(), 8u);
  }

  // The same element again is fine; with failIfExists it is not.
  ASSERT_TRUE(nft_->commit(add).ok());
  Transaction exclusive;
  exclusive.addElements(Family::kIp, kTable.name, "ports",
                        {{key(IPPROTO_TCP, 8080), value("10.42.0.9", 80), {}}}, true);
  auto conflict = nft_->commit(exclusive);
  ASSERT_FALSE(conflict.ok());
  EXPECT_TRUE(conflict.error().is(ErrorCode::kAlreadyExists)) << conflict.error().message();
  EXPECT_TRUE(contains(conflict.error().message(), "add 1 element(s) to ip nave-test ports"))
      << conflict.error().message();

  // Delete one and replace another within one transaction.
  Transaction change;
  change.deleteElements(Family::kIp, kTable.name, "ports", {key(IPPROTO_TCP, 8080)});
  change.addElements(Family::kIp, kTable.name, "ports",
                     {{key(IPPROTO_TCP, 8080), value("10.42.0.7", 8080), {}}}, true);
  auto changed = nft_->commit(change);
  ASSERT_TRUE(changed.ok()) << changed.error().message();
  out = list("map ip nave-test ports");
  EXPECT_TRUE(contains(out, "tcp . 8080 : 10.42.0.7 . 8080")) << out;

  Transaction missing;
  missing.deleteElements(Family::kIp, kTable.name, "ports", {key(IPPROTO_SCTP, 1)});
  auto notFound = nft_->commit(missing);
  ASSERT_FALSE(notFound.ok());
  EXPECT_TRUE(notFound.error().is(ErrorCode::kNotFound)) << notFound.error().message();

  Transaction flush;
  flush.flushSet(Family::kIp, kTable.name, "ports");
  ASSERT_TRUE(nft_->commit(flush).ok());
  EXPECT_TRUE(nft_->elements(Family::kIp, kTable.name, "ports")->empty());
  EXPECT_TRUE(nft_->elements(Family::kIp, kTable.name, "nope").error().is(ErrorCode::kNotFound));
}

TEST_F(NftTest, AFailingTransactionChangesNothingAndNamesTheFailure) {
  Transaction tx;
  tx.addTable(kTable);
  tx.addChain({Family::kIp, kTable.name, "good", std::nullopt});
  Rule bad(Family::kIp, kTable.name, "missing-chain");
  bad.counter();
  tx.addRule(bad);
  auto r = nft_->commit(tx);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().is(ErrorCode::kNotFound)) << r.error().message();
  EXPECT_TRUE(contains(r.error().message(), "add rule to chain ip nave-test missing-chain"))
      << r.error().message();
  EXPECT_FALSE(*nft_->hasTable(kTable));
  EXPECT_EQ(list(), "");
}

TEST_F(NftTest, FlushAndRefillIsIdempotentAndLeavesOtherTablesAlone) {
  auto [rc, out] = ns_->exec("nft add table ip someone-else");
  ASSERT_EQ(rc, 0) << out;
  for (int round = 0; round < 3; ++round) {
    Transaction tx;
    tx.addTable(kTable);
    tx.addChain({Family::kIp, kTable.name, "postrouting",
                 BaseChainSpec{"nat", NF_INET_POST_ROUTING, 100, NF_ACCEPT}});
    tx.flushChain(Family::kIp, kTable.name, "postrouting");
    Rule r(Family::kIp, kTable.name, "postrouting");
    r.ipSaddr(*Ipv4Prefix::parse("10.42.0.0/24")).masquerade();
    tx.addRule(r);
    auto c = nft_->commit(tx);
    ASSERT_TRUE(c.ok()) << c.error().message();
  }
  std::string table = list("table ip nave-test");
  size_t first = table.find("masquerade");
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(table.find("masquerade", first + 1), std::string::npos) << table;

  Transaction del;
  del.deleteTable(kTable);
  ASSERT_TRUE(nft_->commit(del).ok());
  auto again = nft_->commit(del);
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(again.error().is(ErrorCode::kNotFound));
  EXPECT_EQ(list(), "table ip someone-else {\n}\n");
}

TEST_F(NftTest, VerdictMapsAndJumps) {
  Transaction tx;
  tx.addTable(kTable);
  tx.addChain(
      {Family::kIp, kTable.name, "input", BaseChainSpec{"filter", NF_INET_LOCAL_IN, 0, NF_ACCEPT}});
  tx.addChain({Family::kIp, kTable.name, "svc-a", std::nullopt});
  tx.addSet({Family::kIp,
             kTable.name,
             "dispatch",
             {DataType::kInetProto, DataType::kInetService},
             {DataType::kVerdict}});
  Rule lookup(Family::kIp, kTable.name, "input");
  lookup.meta(NFT_META_L4PROTO, reg32(0))
      .payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, reg32(1))
      .lookup("dispatch", reg32(0), kRegVerdict);
  tx.addRule(lookup);
  Rule count(Family::kIp, kTable.name, "svc-a");
  count.counter().verdict(Verdict::accept());
  tx.addRule(count);
  tx.addElements(
      Family::kIp, kTable.name, "dispatch",
      {{Concat().inetProto(IPPROTO_TCP).inetService(443).bytes(), {}, Verdict::jump("svc-a")},
       {Concat().inetProto(IPPROTO_TCP).inetService(23).bytes(), {}, Verdict::drop()}});
  auto r = nft_->commit(tx);
  ASSERT_TRUE(r.ok()) << r.error().message();
  std::string out = list("table ip nave-test");
  EXPECT_TRUE(contains(out, "meta l4proto . th dport vmap @dispatch")) << out;
  EXPECT_TRUE(contains(out, "tcp . 443 : jump svc-a")) << out;
  EXPECT_TRUE(contains(out, "tcp . 23 : drop")) << out;
  auto elements = nft_->elements(Family::kIp, kTable.name, "dispatch");
  ASSERT_TRUE(elements.ok());
  ASSERT_EQ(elements->size(), 2u);
  int jumps = 0;
  for (const auto& e : *elements) {
    ASSERT_TRUE(e.verdict);
    if (*e.verdict == Verdict::jump("svc-a")) ++jumps;
  }
  EXPECT_EQ(jumps, 1);

  // A chain still referenced cannot go: the kernel says so, and the name is in the error.
  Transaction del;
  del.deleteChain(Family::kIp, kTable.name, "svc-a");
  auto busy = nft_->commit(del);
  ASSERT_FALSE(busy.ok());
  EXPECT_TRUE(contains(busy.error().message(), "delete chain ip nave-test svc-a"))
      << busy.error().message();
}

TEST_F(NftTest, LargeTransactionsAreSplitAndSent) {
  // Thousands of rules and elements: more than the default socket buffer holds, and more
  // elements than one message may carry.
  Transaction tx = natTable();
  tx.addChain({Family::kIp, kTable.name, "many", std::nullopt});
  for (int i = 0; i < 3000; ++i) {
    Rule r(Family::kIp, kTable.name, "many");
    r.ipSaddr(Ipv4Prefix{Ipv4Address{0x0a000000u + static_cast<uint32_t>(i)}, 32}).counter();
    tx.addRule(r);
  }
  std::vector<SetElement> elements;
  for (int i = 0; i < 5000; ++i) {
    elements.push_back(
        {Concat().inetProto(IPPROTO_TCP).inetService(static_cast<uint16_t>(10000 + i)).bytes(),
         Concat().ipv4(Ipv4Address{0x0a2a0000u + static_cast<uint32_t>(i)}).inetService(80).bytes(),
         {}});
  }
  tx.addElements(Family::kIp, kTable.name, "ports", elements);
  auto r = nft_->commit(tx);
  ASSERT_TRUE(r.ok()) << r.error().message();
  auto listed = nft_->elements(Family::kIp, kTable.name, "ports");
  ASSERT_TRUE(listed.ok()) << listed.error().message();
  EXPECT_EQ(listed->size(), 5000u);
  auto [rc, out] = ns_->exec("nft -a list chain ip nave-test many");
  size_t rules = 0;
  for (size_t p = out.find("counter"); p != std::string::npos; p = out.find("counter", p + 1))
    ++rules;
  EXPECT_EQ(rules, 3000u);
}

TEST_F(NftTest, IntervalSetRangesAndReject) {
  const TableSpec table{Family::kInet, "nave-test"};
  auto ip = [](const char* text) { return Concat().ipv4(*Ipv4Address::parse(text)).bytes(); };
  Transaction tx;
  tx.addTable(table);
  tx.addChain({Family::kInet, table.name, "c", std::nullopt});
  tx.addSet({Family::kInet, table.name, "peers", {DataType::kIpv4Addr}, {}, true});
  tx.addRanges(Family::kInet, table.name, "peers",
               {{ip("10.0.0.0"), ip("10.0.255.255")},
                {ip("10.42.0.5"), ip("10.42.0.5")},
                {ip("255.255.255.0"), ip("255.255.255.255")}});  // no end element
  Rule r(Family::kInet, table.name, "c");
  r.counter().reject();
  tx.addRule(r);
  auto c = nft_->commit(tx);
  ASSERT_TRUE(c.ok()) << c.error().message();
  std::string out = list("table inet nave-test");
  EXPECT_TRUE(contains(out, "elements = { 10.0.0.0/16, 10.42.0.5,")) << out;
  EXPECT_TRUE(contains(out, "255.255.255.0/24 }")) << out;
  EXPECT_TRUE(contains(out, "counter packets 0 bytes 0 reject")) << out;
  // Lookups see exactly the ranges: nothing before the first, after a range's end or between.
  for (auto [addr, in] : std::vector<std::pair<std::string, bool>>{{"9.255.255.255", false},
                                                                   {"10.0.0.0", true},
                                                                   {"10.0.200.1", true},
                                                                   {"10.1.0.0", false},
                                                                   {"10.42.0.4", false},
                                                                   {"10.42.0.5", true},
                                                                   {"10.42.0.6", false},
                                                                   {"255.255.255.255", true}}) {
    auto [rc, got] = ns_->exec("nft get element inet nave-test peers { " + addr + " }");
    EXPECT_EQ(rc == 0, in) << addr << ": " << got;
  }

  // A range is deleted as it was added; ranges that are not there fail the commit.
  Transaction del;
  del.deleteRanges(Family::kInet, table.name, "peers", {{ip("10.0.0.0"), ip("10.0.255.255")}});
  del.addRanges(Family::kInet, table.name, "peers", {{ip("10.0.0.0"), ip("10.0.0.255")}});
  c = nft_->commit(del);
  ASSERT_TRUE(c.ok()) << c.error().message();
  out = list("set inet nave-test peers");
  EXPECT_TRUE(contains(out, "elements = { 10.0.0.0/24, 10.42.0.5,")) << out;
  Transaction missing;
  missing.deleteRanges(Family::kInet, table.name, "peers", {{ip("10.9.0.0"), ip("10.9.0.1")}});
  auto notFound = nft_->commit(missing);
  ASSERT_FALSE(notFound.ok());
  EXPECT_TRUE(notFound.error().is(ErrorCode::kNotFound)) << notFound.error().message();
}

}  // namespace
}  // namespace nave::network::nft
