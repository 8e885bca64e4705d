// CidrSet: node CIDRs cut from a cluster CIDR, handed out round the range.
#include "server/controllers/nodeipam/cidr_set.h"

#include <gtest/gtest.h>

namespace nave::controllers {
namespace {

using network::Ipv4Prefix;

Ipv4Prefix cidr(const char* text) {
  return *Ipv4Prefix::parse(text);
}

TEST(CidrSetTest, AllocatesRoundTheRangeAndSkipsWhatIsTaken) {
  auto set = CidrSet::create(cidr("10.42.0.0/22"), 24);
  ASSERT_TRUE(set.ok()) << set.error().message();
  EXPECT_EQ(set->size(), 4u);
  ASSERT_TRUE(set->occupy(cidr("10.42.1.0/24")).ok());
  EXPECT_EQ(set->allocateNext()->toString(), "10.42.0.0/24");
  EXPECT_EQ(set->allocateNext()->toString(), "10.42.2.0/24");
  ASSERT_TRUE(set->release(cidr("10.42.0.0/24")).ok());
  // Allocation goes on after the last one before coming back to a released CIDR.
  EXPECT_EQ(set->allocateNext()->toString(), "10.42.3.0/24");
  EXPECT_EQ(set->allocateNext()->toString(), "10.42.0.0/24");
  EXPECT_EQ(set->allocated(), 4u);
  EXPECT_FALSE(set->allocateNext().has_value());
  // Occupying twice counts once; releasing a free CIDR changes nothing.
  ASSERT_TRUE(set->occupy(cidr("10.42.3.0/24")).ok());
  ASSERT_TRUE(set->release(cidr("10.42.3.0/24")).ok());
  ASSERT_TRUE(set->release(cidr("10.42.3.0/24")).ok());
  EXPECT_EQ(set->allocated(), 3u);
  EXPECT_EQ(set->allocateNext()->toString(), "10.42.3.0/24");
}

TEST(CidrSetTest, RangesOverlappingSeveralNodeCidrs) {
  auto set = CidrSet::create(cidr("10.42.0.0/16"), 24);
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->size(), 256u);
  ASSERT_TRUE(set->occupy(cidr("10.42.0.0/23")).ok());  // two node CIDRs
  ASSERT_TRUE(set->occupy(cidr("10.42.2.7/32")).ok());  // one, by an address within it
  EXPECT_EQ(set->allocated(), 3u);
  EXPECT_EQ(set->allocateNext()->toString(), "10.42.3.0/24");
  ASSERT_TRUE(set->occupy(cidr("10.0.0.0/8")).ok());  // contains the cluster CIDR
  EXPECT_EQ(set->allocated(), 256u);
  EXPECT_TRUE(set->occupy(cidr("10.43.0.0/16")).error().is(ErrorCode::kInvalid));
  EXPECT_TRUE(set->release(cidr("192.168.0.0/24")).error().is(ErrorCode::kInvalid));
}

TEST(CidrSetTest, RefusesMaskSizesThatDoNotFit) {
  EXPECT_TRUE(CidrSet::create(cidr("10.42.0.0/16"), 15).error().is(ErrorCode::kInvalid));
  EXPECT_TRUE(CidrSet::create(cidr("10.42.0.0/16"), 31).error().is(ErrorCode::kInvalid));
  EXPECT_TRUE(CidrSet::create(cidr("10.0.0.0/7"), 24).error().is(ErrorCode::kInvalid));
  auto one = CidrSet::create(cidr("10.42.0.0/24"), 24);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->size(), 1u);
}

}  // namespace
}  // namespace nave::controllers
