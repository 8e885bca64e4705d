#include "network/netlink/ipv4.h"

#include <gtest/gtest.h>

namespace nave::network {
namespace {

TEST(Ipv4Test, ParsesStrictly) {
  EXPECT_EQ(Ipv4Address::parse("10.42.0.1")->value, 0x0a2a0001u);
  EXPECT_EQ(Ipv4Address::parse("255.255.255.255")->toString(), "255.255.255.255");
  for (const char* bad : {"", "10.42.0", "10.42.0.1.2", "10.42.0.256", "010.1.1.1", " 10.1.1.1",
                          "10.1.1.1 ", "1..1.1", "a.b.c.d", "10.1.1.-1", "+1.1.1.1"}) {
    auto r = Ipv4Address::parse(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_TRUE(r.error().is(ErrorCode::kInvalid));
  }
}

TEST(Ipv4Test, Prefixes) {
  auto p = Ipv4Prefix::parse("10.42.0.0/24");
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->hasHostBits());
  EXPECT_EQ(p->broadcast().toString(), "10.42.0.255");
  EXPECT_TRUE(p->contains(*Ipv4Address::parse("10.42.0.7")));
  EXPECT_FALSE(p->contains(*Ipv4Address::parse("10.42.1.7")));
  auto cluster = Ipv4Prefix::parse("10.42.0.0/16");
  EXPECT_TRUE(cluster->contains(*p));
  EXPECT_FALSE(p->contains(*cluster));
  EXPECT_TRUE(Ipv4Prefix::parse("10.42.0.1/24")->hasHostBits());
  EXPECT_EQ(Ipv4Prefix::parse("0.0.0.0/0")->mask(), 0u);
  EXPECT_EQ(Ipv4Prefix::parse("10.0.0.9", true)->length, 32);
  for (const char* bad : {"10.42.0.0", "10.42.0.0/", "10.42.0.0/33", "10.42.0.0/-1", "10.42.0.0/08",
                          "10.42.0.0/24x", "/24", "10.42.0/24"}) {
    EXPECT_FALSE(Ipv4Prefix::parse(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace nave::network
