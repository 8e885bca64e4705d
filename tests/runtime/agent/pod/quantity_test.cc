// Quantities as resource.Quantity parses and rounds them.
#include "runtime/agent/pod/quantity.h"

#include <gtest/gtest.h>

#include <limits>

#include "runtime/agent/pod/pod_spec.h"

namespace nave::agent {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

Quantity q(const std::string& text) {
  Result<Quantity> r = Quantity::parse(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.error().message();
  return r.ok() ? *r : Quantity();
}

TEST(QuantityTest, DecimalAndBinarySuffixes) {
  EXPECT_EQ(q("128974848").value(), 128974848);
  EXPECT_EQ(q("100m").milliValue(), 100);
  EXPECT_EQ(q("1k").value(), 1000);
  EXPECT_EQ(q("1M").value(), 1000000);
  EXPECT_EQ(q("2G").value(), 2000000000);
  EXPECT_EQ(q("1T").value(), 1000000000000);
  EXPECT_EQ(q("1P").value(), 1000000000000000);
  EXPECT_EQ(q("1E").value(), 1000000000000000000);
  EXPECT_EQ(q("1Ki").value(), 1024);
  EXPECT_EQ(q("1Mi").value(), 1048576);
  EXPECT_EQ(q("1Gi").value(), 1073741824);
  EXPECT_EQ(q("1Ti").value(), 1099511627776);
  EXPECT_EQ(q("1Pi").value(), 1125899906842624);
  EXPECT_EQ(q("1Ei").value(), 1152921504606846976);
  EXPECT_EQ(q("500u").milliValue(), 1);
  EXPECT_EQ(q("1500n").milliValue(), 1);
}

TEST(QuantityTest, FractionsAndExponents) {
  EXPECT_EQ(q("0.5").milliValue(), 500);
  EXPECT_EQ(q(".5").milliValue(), 500);
  EXPECT_EQ(q("5.").value(), 5);
  EXPECT_EQ(q("1.5Ki").value(), 1536);
  EXPECT_EQ(q("1e3").value(), 1000);
  EXPECT_EQ(q("1E3").value(), 1000);
  EXPECT_EQ(q("1e+3").value(), 1000);
  EXPECT_EQ(q("1e-3").milliValue(), 1);
  EXPECT_EQ(q("2.5e2").value(), 250);
  EXPECT_EQ(q("+5").value(), 5);
  EXPECT_EQ(q("-1").value(), -1);
  EXPECT_EQ(q("0").value(), 0);
  EXPECT_EQ(q("000").value(), 0);
}

TEST(QuantityTest, RoundsUpAsValueAndMilliValue) {
  EXPECT_EQ(q("0.1Ki").value(), 103);  // 102.4
  EXPECT_EQ(q("100m").value(), 1);
  EXPECT_EQ(q("1001m").value(), 2);
  EXPECT_EQ(q("0.0001").milliValue(), 1);
  EXPECT_EQ(q("1n").milliValue(), 1);
  EXPECT_EQ(q("1e-20").milliValue(), 1) << "below a nano still rounds up";
  EXPECT_EQ(q("-1.5").value(), -2) << "away from zero, as inf.RoundUp";
}

TEST(QuantityTest, SaturatesAtTheApiCap) {
  EXPECT_EQ(q("9223372036854775807").value(), kMax);
  EXPECT_EQ(q("10E").value(), kMax);
  EXPECT_EQ(q("1e30").value(), kMax);
  EXPECT_EQ(q("1E").milliValue(), kMax) << "10^21 millis do not fit";
  EXPECT_EQ(q("1e-99999").milliValue(), 1);
}

TEST(QuantityTest, ComparesExactly) {
  EXPECT_EQ(q("1"), q("1000m"));
  EXPECT_EQ(q("0.1") + q("0.2"), q("300m"));
  EXPECT_EQ(q("1Ki"), q("1024"));
  EXPECT_GT(q("1Gi"), q("1G"));
  EXPECT_LT(q("999m"), q("1"));
  EXPECT_NE(q("1000001u"), q("1"));
}

TEST(QuantityTest, RefusesMalformedText) {
  const char* kFormat = "quantities must match the regular expression";
  const char* kSuffix = "unable to parse quantity's suffix";
  struct Case {
    const char* text;
    const char* message;
  } cases[] = {
      {"", kFormat},
      {"abc", kFormat},
      {"1.2.3", kFormat},
      {"1 ", kFormat},
      {" 1", kFormat},
      {"0x10", kFormat},
      {"1e3.5", kFormat},
      {"1K", kSuffix},
      {"1e", kSuffix},
      {"1Kii", kSuffix},
      {"1m3", kSuffix},
      {"1ki", kSuffix},
      {"1e99999999999", kSuffix},
  };
  for (const Case& c : cases) {
    Result<Quantity> r = Quantity::parse(c.text);
    ASSERT_FALSE(r.ok()) << '"' << c.text << '"';
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalid);
    EXPECT_NE(r.error().message().find(c.message), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find(std::string("\"") + c.text + "\""), std::string::npos)
        << r.error().message();
  }
}

TEST(QuantityTest, FromJsonTakesStringsAndNumbers) {
  EXPECT_EQ(Quantity::fromJson(Json(1))->value(), 1);
  EXPECT_EQ(Quantity::fromJson(Json(0.5))->milliValue(), 500);
  EXPECT_EQ(Quantity::fromJson(Json("250m"))->milliValue(), 250);
  EXPECT_FALSE(Quantity::fromJson(Json::array()).ok());
  EXPECT_FALSE(Quantity::fromJson(Json(true)).ok());
}

TEST(QuantityTest, PublicParsers) {
  EXPECT_EQ(*parseQuantityMilli("0.25"), 250);
  EXPECT_EQ(*parseQuantity("64Mi"), 67108864);
  EXPECT_FALSE(parseQuantity("64MB").ok());
  EXPECT_FALSE(parseQuantityMilli("one").ok());
}

}  // namespace
}  // namespace nave::agent
