#include "common/yaml.h"

#include <gtest/gtest.h>

namespace nave {
namespace {

TEST(ParseYaml, ConvertsScalarsLikeKubernetes) {
  auto r = parseYaml("a: 1\nb: true\nc: 'true'\nd: ~\ne: 1.5\nf: hello\ng: \"007\"\nh: 0x10\n");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ((*r)["a"], 1);
  EXPECT_EQ((*r)["b"], true);
  EXPECT_EQ((*r)["c"], "true");
  EXPECT_TRUE((*r)["d"].is_null());
  EXPECT_DOUBLE_EQ((*r)["e"].get<double>(), 1.5);
  EXPECT_EQ((*r)["f"], "hello");
  EXPECT_EQ((*r)["g"], "007");
  EXPECT_EQ((*r)["h"], 16);
}

TEST(ParseYaml, ReadsMultipleDocumentsAndSkipsEmptyOnes) {
  auto r = parseYamlDocuments("---\nkind: A\n---\n---\nkind: B\n...\n");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1]["kind"], "B");
}

TEST(ParseYaml, ExpandsAliasesWithinBounds) {
  auto r = parseYaml("a: &x {k: v}\nb: *x\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["b"]["k"], "v");
  // A billion-laughs document is refused rather than expanded.
  std::string bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\n";
  for (char c = 'b'; c <= 'j'; ++c) {
    std::string prev(1, static_cast<char>(c - 1));
    bomb += std::string(1, c) + ": &" + std::string(1, c) + " [*" + prev + ",*" + prev + ",*" +
            prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" +
            prev + ",*" + prev + "]\n";
  }
  auto b = parseYaml(bomb);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code(), ErrorCode::kBadRequest);
}

TEST(ParseYaml, RefusesDeepNestingAndSyntaxErrors) {
  std::string deep;
  for (int i = 0; i < 2000; ++i) deep += "- ";
  deep += "x\n";
  EXPECT_FALSE(parseYaml(deep).ok());
  EXPECT_FALSE(parseYaml("a: [1, 2\n").ok());
  EXPECT_FALSE(parseYaml("a: b\n c: d\n").ok());
}

TEST(DumpYaml, RoundTrips) {
  Json j = Json::parse(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x",
    "labels":{"app":"web"}},"data":{"multi":"line1\nline2\n","empty":"","num":"123","t":"true",
    "colon":"a: b"},"list":[{"a":1,"b":[1,2]},"s",[]]})");
  std::string y = dumpYaml(j);
  auto back = parseYaml(y);
  ASSERT_TRUE(back.ok()) << y;
  EXPECT_EQ(*back, j) << y;
}

}  // namespace
}  // namespace nave
