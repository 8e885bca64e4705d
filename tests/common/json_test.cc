#include "common/json.h"

#include <gtest/gtest.h>

namespace nave {
namespace {

TEST(ParseJson, ParsesObjects) {
  auto r = parseJson(R"({"a":1,"b":[true,null,"x"],"c":{"d":1.5}})");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->value["a"], 1);
  EXPECT_EQ(r->value["b"][2], "x");
  EXPECT_TRUE(r->duplicateFields.empty());
}

TEST(ParseJson, ReportsDuplicateFieldsWithPaths) {
  auto r = parseJson(R"({"spec":{"replicas":1,"replicas":2},"items":[{"a":1,"a":2}]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->value["spec"]["replicas"], 2);
  ASSERT_EQ(r->duplicateFields.size(), 2u);
  EXPECT_EQ(r->duplicateFields[0], "spec.replicas");
  EXPECT_EQ(r->duplicateFields[1], "items[0].a");
}

TEST(ParseJson, RefusesDeepNesting) {
  std::string deep(1000, '[');
  deep += std::string(1000, ']');
  auto r = parseJson(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kBadRequest);
  EXPECT_TRUE(parseJson(std::string(100, '[') + std::string(100, ']')).ok());
}

TEST(ParseJson, RefusesInvalidUtf8AndTrailingData) {
  EXPECT_FALSE(parseJson("\"\xff\xfe\"").ok());
  EXPECT_FALSE(parseJson("{} {}").ok());
  EXPECT_FALSE(parseJson("{\"a\":").ok());
  EXPECT_FALSE(parseJson("").ok());
}

TEST(GetHelpers, ReturnFallbacksForWrongTypes) {
  Json j = {{"s", "x"}, {"i", 3}, {"b", true}};
  EXPECT_EQ(getString(j, "s"), "x");
  EXPECT_EQ(getString(j, "i", "fb"), "fb");
  EXPECT_EQ(getInt(j, "i"), 3);
  EXPECT_EQ(getInt(j, "missing", 7), 7);
  EXPECT_TRUE(getBool(j, "b"));
  EXPECT_EQ(findMember(Json::array(), "x"), nullptr);
}

}  // namespace
}  // namespace nave
