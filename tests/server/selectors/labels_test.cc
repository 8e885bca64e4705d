#include <gtest/gtest.h>

#include "server/selectors/selectors.h"

namespace nave::selectors {
namespace {

std::string canonical(std::string_view text) {
  auto s = LabelSelector::parse(text);
  EXPECT_TRUE(s.ok()) << text << ": " << s.error().message();
  return s.ok() ? s->toString() : "";
}

std::string parseError(std::string_view text) {
  auto s = LabelSelector::parse(text);
  EXPECT_FALSE(s.ok()) << text << " parsed as " << s->toString();
  if (s.ok()) return "";
  EXPECT_EQ(s.error().code(), ErrorCode::kBadRequest);
  return s.error().message();
}

bool matches(std::string_view text, const Json& labels) {
  auto s = LabelSelector::parse(text);
  EXPECT_TRUE(s.ok()) << text << ": " << s.error().message();
  return s.ok() && s->matches(labels);
}

TEST(LabelSelectorParse, RoundTripsCanonicalForms) {
  for (std::string_view text : {"x=a,y=b,z=c", "", "x!=a,y=b", "x=", "x=,z=", "!x", "x>1",
                                "x>1,z<5", "x==a", "x in (a),y notin (b,c)"}) {
    EXPECT_EQ(canonical(text), text);
  }
  EXPECT_EQ(canonical("x= ,z= "), "x=,z=");
  EXPECT_EQ(canonical("\rx"), "x");
}

TEST(LabelSelectorParse, SortsRequirementsByKeyAndValues) {
  EXPECT_EQ(canonical("x=a,a=x"), "a=x,x=a");
  EXPECT_EQ(canonical("x notin (abc,def),bar,z in (),w"), "bar,w,x notin (abc,def),z in ()");
  EXPECT_EQ(canonical("x in (c, b,a ,b)"), "x in (a,b,c)");
  EXPECT_EQ(canonical("x in (abc,)"), "x in (,abc)");
  EXPECT_EQ(canonical("x in (,abc)"), "x in (,abc)");
  EXPECT_EQ(canonical("foo  in\t (abc)"), "foo in (abc)");
  EXPECT_EQ(canonical("x notin\n (abc)"), "x notin (abc)");
  auto s = LabelSelector::parse("tier in (b,a),app=web,!legacy");
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->requirements().size(), 3u);
  EXPECT_EQ(s->requirements()[0].key, "app");
  EXPECT_EQ(s->requirements()[0].op, Operator::kEquals);
  EXPECT_EQ(s->requirements()[1].key, "legacy");
  EXPECT_EQ(s->requirements()[1].op, Operator::kDoesNotExist);
  EXPECT_EQ(s->requirements()[2].op, Operator::kIn);
  EXPECT_EQ(s->requirements()[2].values, (std::vector<std::string>{"a", "b"}));
}

TEST(LabelSelectorParse, KeywordsAreValuesOrKeysWhereAnIdentifierIsExpected) {
  EXPECT_EQ(canonical("notin=in"), "notin=in");
  EXPECT_EQ(canonical("in in (in,notin)"), "in in (in,notin)");
  EXPECT_TRUE(matches("notin=in", {{"notin", "in"}}));
}

TEST(LabelSelectorParse, AcceptsQualifiedKeys) {
  EXPECT_EQ(canonical("this-is-a-dns.domain.com/key-with-dash"),
            "this-is-a-dns.domain.com/key-with-dash");
  EXPECT_EQ(canonical("0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)"),
            "0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)");
  EXPECT_EQ(canonical("app.kubernetes.io/name=nginx"), "app.kubernetes.io/name=nginx");
}

TEST(LabelSelectorParse, ReportsSyntaxErrorsLikeKubernetes) {
  // "a||y" is read as the value and refused before the parser looks further.
  EXPECT_EQ(parseError("x=a||y=b")
                .rfind("unable to parse requirement: values[0][x]: Invalid value: \"a||y\"", 0),
            0u);
  EXPECT_EQ(parseError("x==a==b"), "found '==', expected: ',' or 'end of string'");
  EXPECT_EQ(parseError("!x=a"), "found '=', expected: ',' or 'end of string'");
  EXPECT_EQ(parseError("x=a,"), "found '', expected: identifier after ','");
  EXPECT_EQ(parseError(",x"), "found ',', expected: !, identifier, or 'end of string'");
  EXPECT_EQ(parseError("x y"),
            "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt");
  EXPECT_EQ(parseError("x in a"), "unable to parse requirement: found 'a' expected: '('");
  EXPECT_EQ(parseError("x in (a b)"),
            "unable to parse requirement: found 'b', expected: ',' or ')'");
  EXPECT_EQ(parseError("x in (a"), "unable to parse requirement: found '', expected: ',' or ')'");
  EXPECT_EQ(parseError("x in (="),
            "unable to parse requirement: found '=', expected: ',', ')' or identifier");
  EXPECT_EQ(parseError("x in (a,="),
            "unable to parse requirement: found '=', expected: ',', or identifier");
  EXPECT_EQ(parseError("x=(a)"), "unable to parse requirement: found '(', expected: identifier");
  EXPECT_EQ(parseError("!=x"), "found '!=', expected: !, identifier, or 'end of string'");
  EXPECT_EQ(parseError("!"), "unable to parse requirement: found '', expected: identifier");
}

TEST(LabelSelectorParse, ValidatesKeysAndValues) {
  EXPECT_EQ(parseError("app:monolith"),
            "unable to parse requirement: <nil>: Invalid value: \"app:monolith\": name part must "
            "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
            "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
  EXPECT_EQ(parseError("app.kubernetes_io/name=x"),
            "unable to parse requirement: <nil>: Invalid value: \"app.kubernetes_io/name\": prefix "
            "part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
            "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
            "'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
  std::string msg = parseError("a/b/c=d");
  EXPECT_NE(msg.find("<nil>: Invalid value: \"a/b/c\": a qualified name must consist of"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"),
            std::string::npos);
  EXPECT_EQ(parseError("/x"),
            "unable to parse requirement: <nil>: Invalid value: \"/x\": prefix part must be "
            "non-empty");
  msg = parseError("example.com/");
  EXPECT_NE(msg.find("name part must be non-empty; name part must consist of"), std::string::npos)
      << msg;
  msg = parseError(std::string(64, 'a'));
  EXPECT_NE(msg.find("name part must be no more than 63 characters"), std::string::npos) << msg;
  EXPECT_TRUE(LabelSelector::parse(std::string(63, 'a')).ok());
  msg = parseError(std::string(254, 'a') + "/x");
  EXPECT_NE(msg.find("prefix part must be no more than 253 characters"), std::string::npos) << msg;

  EXPECT_EQ(
      parseError("x=-bad"),
      "unable to parse requirement: values[0][x]: Invalid value: \"-bad\": a valid label must "
      "be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
      "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
      "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')");
  // Values are a sorted set by then, so the index counts in sorted order.
  msg = parseError("x in (ok,z@z)");
  EXPECT_NE(msg.find("values[1][x]: Invalid value: \"z@z\""), std::string::npos) << msg;
  msg = parseError("x=" + std::string(64, 'v'));
  EXPECT_NE(msg.find("must be no more than 63 characters"), std::string::npos) << msg;
}

TEST(LabelSelectorParse, GreaterAndLessThanNeedIntegers) {
  EXPECT_EQ(parseError("x<a"),
            "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' "
            "operators, the value must be an integer");
  // Two problems are reported together, bracketed, as Kubernetes' aggregate errors are.
  std::string msg = parseError("x>a-");
  EXPECT_EQ(
      msg.rfind("unable to parse requirement: [values[0]: Invalid value: \"a-\": for 'Gt'", 0), 0u)
      << msg;
  EXPECT_NE(msg.find(", values[0][x]: Invalid value: \"a-\": a valid label"), std::string::npos);
  EXPECT_TRUE(parseError("x>1.5").find("the value must be an integer") != std::string::npos);
  EXPECT_TRUE(matches("x>1", {{"x", "2"}}));
  EXPECT_FALSE(matches("x>1", {{"x", "1"}}));
  EXPECT_TRUE(matches("x<1", {{"x", "0"}}));
  EXPECT_FALSE(matches("x<1", {{"x", "v2"}}));
  EXPECT_FALSE(matches("x>1", Json::object()));
  // "-1" is an integer but not a valid label value.
  EXPECT_NE(parseError("x>-1").find("values[0][x]: Invalid value: \"-1\""), std::string::npos);
}

TEST(LabelSelectorMatch, FollowsKubernetesSemantics) {
  Json set = {{"foo", "bar"}, {"baz", "blah"}};
  EXPECT_TRUE(matches("", set));
  EXPECT_TRUE(matches("foo=bar,baz=blah", set));
  EXPECT_FALSE(matches("foo=bar,foobar=bar,baz=blah", set));
  EXPECT_FALSE(matches("foo=blah", set));
  EXPECT_TRUE(matches("x!=y,z!=w", {{"x", "z"}, {"z", "a"}}));
  EXPECT_FALSE(matches("x!=y,z!=w", {{"x", "z"}, {"z", "w"}}));
  EXPECT_TRUE(matches("x!=y", Json::object()));  // a missing label is "not equal"
  EXPECT_TRUE(matches("x", {{"x", "z"}}));
  EXPECT_FALSE(matches("x", {{"y", "z"}}));
  EXPECT_TRUE(matches("!x", {{"y", "z"}}));
  EXPECT_FALSE(matches("!x", {{"x", "z"}}));
  EXPECT_TRUE(matches("x notin (),y", {{"y", ""}}));
  EXPECT_FALSE(matches("x in ()", {{"y", "baz"}}));
  EXPECT_TRUE(matches("x in (a,b)", {{"x", "b"}}));
  EXPECT_FALSE(matches("x in (a,b)", {{"x", "c"}}));
  EXPECT_TRUE(matches("x notin (a,b)", Json::object()));
  EXPECT_TRUE(matches("", nullptr));
  EXPECT_FALSE(matches("x", nullptr));
  EXPECT_TRUE(matches("!x", nullptr));
}

TEST(LabelSelectorParse, StopsAtANulByteLikeKubernetes) {
  EXPECT_EQ(canonical(std::string_view("a=b,\0c", 6)), "a=b,c");
  EXPECT_EQ(canonical(std::string_view("a=b \0 junk", 10)), "a=b");
}

TEST(LabelSelectorFromObject, ConvertsMatchLabelsAndExpressions) {
  auto s = LabelSelector::fromObject(Json::parse(R"({
    "matchLabels": {"app": "web", "tier": "front"},
    "matchExpressions": [
      {"key": "env", "operator": "In", "values": ["prod", "canary"]},
      {"key": "legacy", "operator": "DoesNotExist"},
      {"key": "zone", "operator": "NotIn", "values": ["a"]},
      {"key": "gpu", "operator": "Exists"}
    ]})"));
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(s->toString(), "app=web,env in (canary,prod),gpu,!legacy,tier=front,zone notin (a)");
  EXPECT_TRUE(s->matches({{"app", "web"}, {"tier", "front"}, {"env", "prod"}, {"gpu", "1"}}));
  EXPECT_FALSE(s->matches({{"app", "web"}, {"tier", "front"}, {"env", "prod"}}));
  EXPECT_FALSE(s->matches(
      {{"app", "web"}, {"tier", "front"}, {"env", "prod"}, {"gpu", "1"}, {"zone", "a"}}));
}

TEST(LabelSelectorFromObject, EmptyAndNullSelectEverything) {
  for (const Json& j : {Json(nullptr), Json::object(), Json{{"matchLabels", Json::object()}},
                        Json{{"matchExpressions", Json::array()}}}) {
    auto s = LabelSelector::fromObject(j);
    ASSERT_TRUE(s.ok());
    EXPECT_TRUE(s->empty());
    EXPECT_TRUE(s->matches({{"a", "b"}}));
    EXPECT_EQ(s->toString(), "");
  }
}

TEST(LabelSelectorFromObject, ReportsKubernetesMessages) {
  auto err = [](const char* json) {
    auto s = LabelSelector::fromObject(Json::parse(json));
    EXPECT_FALSE(s.ok()) << json;
    if (s.ok()) return std::string();
    EXPECT_EQ(s.error().code(), ErrorCode::kInvalid);
    return s.error().message();
  };
  EXPECT_EQ(err(R"({"matchExpressions":[{"key":"a","operator":"Gt","values":["1"]}]})"),
            "\"Gt\" is not a valid pod selector operator");
  EXPECT_EQ(
      err(R"({"matchExpressions":[{"key":"a","operator":"Exists","values":["x","y"]}]})"),
      "values: Invalid value: []string{\"x\", \"y\"}: values set must be empty for exists and "
      "does not exist");
  EXPECT_EQ(
      err(R"({"matchExpressions":[{"key":"a","operator":"In","values":[]}]})"),
      "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be "
      "empty");
  EXPECT_EQ(
      err(R"({"matchExpressions":[{"key":"a","operator":"NotIn"}]})"),
      "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be "
      "empty");
  std::string msg = err(R"({"matchLabels":{"bad key":"v"}})");
  EXPECT_EQ(msg.rfind("key: Invalid value: \"bad key\": name part must consist of", 0), 0u) << msg;
  msg = err(R"({"matchLabels":{"k":"bad value"}})");
  EXPECT_EQ(msg.rfind("values[0][k]: Invalid value: \"bad value\": a valid label must be", 0), 0u)
      << msg;
  msg = err(R"({"matchExpressions":[{"key":"","operator":"In","values":[]}]})");
  EXPECT_EQ(msg.rfind("[key: Invalid value: \"\": name part must be non-empty; name part must", 0),
            0u)
      << msg;
  EXPECT_NE(msg.find(", values: Invalid value: []string(nil)"), std::string::npos) << msg;
  EXPECT_FALSE(LabelSelector::fromObject(Json::parse(R"({"matchLabels":{"a":1}})")).ok());
  EXPECT_FALSE(LabelSelector::fromObject(Json::parse(R"({"matchExpressions":{}})")).ok());
  EXPECT_FALSE(LabelSelector::fromObject(Json::parse(R"([])")).ok());
}

TEST(LabelSelectorFromObject, QuotesOddOperatorsAsGoDoes) {
  auto s = LabelSelector::fromObject(
      Json::parse(R"({"matchExpressions":[{"key":"a","operator":"in\"\n"}]})"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "\"in\\\"\\n\" is not a valid pod selector operator");
}

}  // namespace
}  // namespace nave::selectors
