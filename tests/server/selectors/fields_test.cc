#include <map>

#include <gtest/gtest.h>

#include "server/selectors/selectors.h"

namespace nave::selectors {
namespace {

std::function<std::optional<std::string>(std::string_view)> fieldsOf(
    std::map<std::string, std::string, std::less<>> values) {
  return [values = std::move(values)](std::string_view f) -> std::optional<std::string> {
    auto it = values.find(f);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

TEST(FieldSelectorParse, ParsesTermsSortedAsKubernetesDoes) {
  auto s = FieldSelector::parse("status.phase!=Running,metadata.name=foo,spec.nodeName==n1");
  ASSERT_TRUE(s.ok()) << s.error().message();
  ASSERT_EQ(s->requirements().size(), 3u);
  EXPECT_EQ(s->requirements()[0].field, "metadata.name");
  EXPECT_EQ(s->requirements()[0].op, Operator::kEquals);
  EXPECT_EQ(s->requirements()[0].value, "foo");
  EXPECT_EQ(s->requirements()[1].field, "spec.nodeName");
  EXPECT_EQ(s->requirements()[1].op, Operator::kEquals);  // "==" is the same term as "="
  EXPECT_EQ(s->requirements()[2].op, Operator::kNotEquals);
  EXPECT_EQ(s->toString(), "metadata.name=foo,spec.nodeName=n1,status.phase!=Running");
}

TEST(FieldSelectorParse, EmptyTermsAreSkipped) {
  auto s = FieldSelector::parse("");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->empty());
  s = FieldSelector::parse(",a=b,,");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->toString(), "a=b");
  s = FieldSelector::parse("a=");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->requirements()[0].value, "");
}

TEST(FieldSelectorParse, UnescapesValues) {
  auto s = FieldSelector::parse(R"(a=x\,y\=z\\w,b!=\\)");
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(s->requirements()[0].value, R"(x,y=z\w)");
  EXPECT_EQ(s->requirements()[1].value, "\\");
  EXPECT_EQ(s->toString(), R"(a=x\,y\=z\\w,b!=\\)");
  // The first operator splits a term; '!' needs no escape in values.
  s = FieldSelector::parse("a!=b!");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->requirements()[0].value, "b!");
}

TEST(FieldSelectorParse, ReportsKubernetesMessages) {
  auto err = [](std::string_view text) {
    auto s = FieldSelector::parse(text);
    EXPECT_FALSE(s.ok()) << text;
    if (s.ok()) return std::string();
    EXPECT_EQ(s.error().code(), ErrorCode::kBadRequest);
    return s.error().message();
  };
  EXPECT_EQ(err("metadata.name=foo,spec"),
            "invalid selector: 'metadata.name=foo,spec'; can't understand 'spec'");
  EXPECT_EQ(err("a=b=c"), "invalid field selector: unescaped character in value: 61");
  EXPECT_EQ(err("a=b\\"), "invalid field selector: invalid escape sequence: \\");
  EXPECT_EQ(err("a=\\x"), "invalid field selector: invalid escape sequence: \\x");
  EXPECT_EQ(err("a=\\!"), "invalid field selector: invalid escape sequence: \\!");
  EXPECT_EQ(err("a=\\\xc3\xa9"), "invalid field selector: invalid escape sequence: \\\xc3\xa9");
}

TEST(FieldSelectorMatch, ComparesValues) {
  auto s = FieldSelector::parse("metadata.name=web,status.phase!=Failed");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->matches(fieldsOf({{"metadata.name", "web"}, {"status.phase", "Running"}})));
  EXPECT_FALSE(s->matches(fieldsOf({{"metadata.name", "web"}, {"status.phase", "Failed"}})));
  EXPECT_FALSE(s->matches(fieldsOf({{"metadata.name", "db"}})));
  // An unknown field reads as the empty string.
  auto empty = FieldSelector::parse("spec.nodeName=");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->matches(fieldsOf({})));
  EXPECT_TRUE(FieldSelector::parse("").value().matches(fieldsOf({})));
}

TEST(FieldSelectorExactValue, FindsEqualityTermsOnly) {
  auto s = FieldSelector::parse("metadata.namespace!=kube-system,metadata.name=foo");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->exactValue("metadata.name"), "foo");
  EXPECT_EQ(s->exactValue("metadata.namespace"), std::nullopt);
  EXPECT_EQ(s->exactValue("spec.nodeName"), std::nullopt);
}

}  // namespace
}  // namespace nave::selectors
