#include <gtest/gtest.h>

#include "server/patch/patch.h"

namespace nave::patch {
namespace {

Json J(const char* text) {
  return Json::parse(text);
}

Json merged(const char* doc, const char* patch) {
  auto r = applyMergePatch(J(doc), J(patch));
  EXPECT_TRUE(r.ok()) << patch << ": " << r.error().message();
  return r.ok() ? *r : Json();
}

// The examples of RFC 7386's appendix, as far as they have an object patch.
TEST(MergePatch, FollowsRfc7386) {
  EXPECT_EQ(merged(R"({"a":"b"})", R"({"a":"c"})"), J(R"({"a":"c"})"));
  EXPECT_EQ(merged(R"({"a":"b"})", R"({"b":"c"})"), J(R"({"a":"b","b":"c"})"));
  EXPECT_EQ(merged(R"({"a":"b"})", R"({"a":null})"), J(R"({})"));
  EXPECT_EQ(merged(R"({"a":"b","b":"c"})", R"({"a":null})"), J(R"({"b":"c"})"));
  EXPECT_EQ(merged(R"({"a":["b"]})", R"({"a":"c"})"), J(R"({"a":"c"})"));
  EXPECT_EQ(merged(R"({"a":"c"})", R"({"a":["b"]})"), J(R"({"a":["b"]})"));
  EXPECT_EQ(merged(R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})"), J(R"({"a":{"b":"d"}})"));
  EXPECT_EQ(merged(R"({"a":[{"b":"c"}]})", R"({"a":[1]})"), J(R"({"a":[1]})"));
  EXPECT_EQ(merged(R"({"e":null})", R"({"a":1})"), J(R"({"e":null,"a":1})"));
  EXPECT_EQ(merged(R"([1,2])", R"({"a":"b","c":null})"), J(R"({"a":"b"})"));
  EXPECT_EQ(merged(R"({})", R"({"a":{"bb":{"ccc":null}}})"), J(R"({"a":{"bb":{}}})"));
}

TEST(MergePatch, PrunesNullsInNewValuesIncludingInsideArrays) {
  EXPECT_EQ(merged(R"({})", R"({"a":[{"x":null,"y":1},null]})"), J(R"({"a":[{"y":1},null]})"));
  // A member that is null in the document counts as absent.
  EXPECT_EQ(merged(R"({"a":null})", R"({"a":{"x":null,"y":1}})"), J(R"({"a":{"y":1}})"));
}

TEST(MergePatch, KubectlLabelAnnotateAndScale) {
  const char* pod = R"({"metadata":{"name":"p","labels":{"app":"web","old":"1"},
                        "annotations":{"a":"b"}},"spec":{"replicas":1}})";
  EXPECT_EQ(
      merged(pod, R"({"metadata":{"labels":{"tier":"front","old":null}}})"),
      J(R"({"metadata":{"name":"p","labels":{"app":"web","tier":"front"},"annotations":{"a":"b"}},
                 "spec":{"replicas":1}})"));
  EXPECT_EQ(
      merged(pod, R"({"metadata":{"annotations":null}})"),
      J(R"({"metadata":{"name":"p","labels":{"app":"web","old":"1"}},"spec":{"replicas":1}})"));
  EXPECT_EQ(merged(pod, R"({"spec":{"replicas":5}})")["spec"], J(R"({"replicas":5})"));
}

TEST(MergePatch, RefusesNonObjectPatches) {
  for (const char* patch : {"[1]", "\"x\"", "null", "3"}) {
    auto r = applyMergePatch(J("{}"), J(patch));
    ASSERT_FALSE(r.ok()) << patch;
    EXPECT_EQ(r.error().code(), ErrorCode::kBadRequest);
    EXPECT_EQ(r.error().message(), "Invalid JSON Patch");
  }
}

}  // namespace
}  // namespace nave::patch
