#include "server/crd/jsonpath.h"

#include <gtest/gtest.h>

#include "common/time.h"
#include "server/crd/printer.h"
#include "tests/server/crd/test_crds.h"

namespace nave::crd {
namespace {

const Json kDoc = Json::parse(R"({
  "metadata": {"name": "a", "labels": {"app.kubernetes.io/name": "web"}},
  "spec": {"replicas": 3, "ratio": 0.5, "big": 1000000.0, "on": true,
           "items": [{"name": "x", "n": 1}, {"name": "y", "n": 2}, {"name": "z", "n": 3}]},
  "status": {"conditions": [{"type": "Progressing", "status": "True"},
                            {"type": "Ready", "status": "False"}]}})");

std::vector<Json> values(std::string_view expr) {
  auto p = JsonPath::parse(expr);
  EXPECT_TRUE(p.ok()) << expr << ": " << (p.ok() ? "" : p.error().message());
  std::vector<Json> out;
  if (!p.ok()) return out;
  for (const Json* v : p->find(kDoc)) out.push_back(*v);
  return out;
}

TEST(JsonPath, FieldsIndexesAndSlices) {
  EXPECT_EQ(values(".spec.replicas"), std::vector<Json>{3});
  EXPECT_EQ(values("{.spec.replicas}"), std::vector<Json>{3});
  EXPECT_EQ(values("$.spec.replicas"), std::vector<Json>{3});
  EXPECT_EQ(values(".spec.items[1].name"), std::vector<Json>{"y"});
  EXPECT_EQ(values(".spec.items[-1].name"), std::vector<Json>{"z"});
  EXPECT_EQ(values(".spec.items[*].name"), (std::vector<Json>{"x", "y", "z"}));
  EXPECT_EQ(values(".spec.items[0:2].n"), (std::vector<Json>{1, 2}));
  EXPECT_EQ(values(".spec.items[::2].n"), (std::vector<Json>{1, 3}));
  EXPECT_EQ(values(".spec.items[0,2].name"), (std::vector<Json>{"x", "z"}));
  EXPECT_EQ(values(".metadata.labels['app.kubernetes.io/name']"), std::vector<Json>{"web"});
  EXPECT_EQ(values(".metadata.labels.app\\.kubernetes\\.io/name"), std::vector<Json>{"web"});
  EXPECT_EQ(values("..name").size(), 4u);
  EXPECT_TRUE(values(".spec.missing.deeper").empty());
  EXPECT_TRUE(values(".spec.items[7]").empty());
}

TEST(JsonPath, Filters) {
  EXPECT_EQ(values(".status.conditions[?(@.type==\"Ready\")].status"), std::vector<Json>{"False"});
  EXPECT_EQ(values(".status.conditions[?(@.type=='Progressing')].status"),
            std::vector<Json>{"True"});
  EXPECT_EQ(values(".spec.items[?(@.n > 1)].name"), (std::vector<Json>{"y", "z"}));
  EXPECT_EQ(values(".spec.items[?(@.n != 2)].name"), (std::vector<Json>{"x", "z"}));
  EXPECT_EQ(values(".spec.items[?(@.name)].n").size(), 3u);
  EXPECT_TRUE(values(".status.conditions[?(@.type==\"Missing\")].status").empty());
}

TEST(JsonPath, ParseErrors) {
  EXPECT_FALSE(JsonPath::parse("").ok());
  EXPECT_FALSE(JsonPath::parse(".spec[").ok());
  EXPECT_FALSE(JsonPath::parse(".spec[abc]").ok());
  EXPECT_FALSE(JsonPath::parse(".spec.items[?(@.n > )]").ok());
}

TEST(JsonPath, SimplePaths) {
  Json o = Json::object();
  setSimplePath(o, ".spec.replicas", 5);
  EXPECT_EQ(o["spec"]["replicas"], 5);
  ASSERT_NE(lookupSimplePath(o, ".spec.replicas"), nullptr);
  EXPECT_EQ(*lookupSimplePath(o, "spec.replicas"), 5);
  EXPECT_EQ(lookupSimplePath(o, ".spec.nope"), nullptr);
  EXPECT_EQ(lookupSimplePath(o, ".spec.replicas.deeper"), nullptr);
}

TEST(Printer, ColumnsFromTheCrd) {
  Json crd = testing::cronTabCrd();
  const Json& columns = crd["spec"]["versions"][1]["additionalPrinterColumns"];
  auto printer = printerForColumns(columns);
  ASSERT_TRUE(printer.ok());
  const auto& cols = (*printer)->columns;
  ASSERT_EQ(cols.size(), 5u);
  EXPECT_EQ(cols[0].name, "Name");
  EXPECT_EQ(cols[0].format, "name");
  EXPECT_EQ(cols[2].name, "Replicas");
  EXPECT_EQ(cols[2].type, "integer");
  EXPECT_EQ(cols[1].description,
            "Custom resource definition column (in JSONPath format): .spec.cronSpec");
  EXPECT_EQ(cols[4].name, "Age");

  Json o = Json::parse(R"({"metadata": {"name": "c1"}, "spec": {"cronSpec": "* * * * */5",
    "replicas": 2}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}})");
  o["metadata"]["creationTimestamp"] =
      formatRfc3339(std::chrono::system_clock::now() - std::chrono::minutes(5));
  printers::PrintContext ctx{std::chrono::system_clock::now()};
  std::vector<Json> row = (*printer)->row(o, ctx);
  EXPECT_EQ(row, (std::vector<Json>{"c1", "* * * * */5", 2, "True", "5m"}));
  o["spec"].erase("replicas");
  o["metadata"]["creationTimestamp"] = "yesterday";
  row = (*printer)->row(o, ctx);
  EXPECT_TRUE(row[2].is_null());
  EXPECT_EQ(row[4], "<invalid>");
}

TEST(Printer, DefaultsToAgeAndFormatsCells) {
  auto printer = printerForColumns(Json::array());
  ASSERT_TRUE(printer.ok());
  ASSERT_EQ((*printer)->columns.size(), 2u);
  EXPECT_EQ((*printer)->columns[1].name, "Age");
  EXPECT_EQ((*printer)->columns[1].type, "date");

  auto typed = printerForColumns(Json::parse(R"([
    {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio"},
    {"name": "On", "type": "boolean", "jsonPath": ".spec.on"},
    {"name": "Text", "type": "string", "jsonPath": ".spec.big"},
    {"name": "Obj", "type": "string", "jsonPath": ".spec.items[0]"},
    {"name": "Int", "type": "integer", "jsonPath": ".spec.ratio"},
    {"name": "Bad", "type": "integer", "jsonPath": ".spec.on"}])"));
  ASSERT_TRUE(typed.ok());
  printers::PrintContext ctx{std::chrono::system_clock::now()};
  std::vector<Json> row = (*typed)->row(kDoc, ctx);
  EXPECT_EQ(row,
            (std::vector<Json>{"a", 0.5, true, "1e+06", "{\"n\":1,\"name\":\"x\"}", 0, nullptr}));
  EXPECT_FALSE(printerForColumns(Json::parse(R"([{"name": "X", "type": "string",
                                                  "jsonPath": ".spec["}])"))
                   .ok());
}

}  // namespace
}  // namespace nave::crd
