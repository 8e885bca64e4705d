// Table of strategic merge patch behaviours on the MergeItem type (one field of each patch
// kind), covering the situations Kubernetes' own strategic patch tests exercise.
#include <gtest/gtest.h>

#include "server/patch/patch.h"
#include "tests/server/patch/test_schemas.h"

namespace nave::patch {
namespace {

struct Case {
  const char* name;
  const char* original;
  const char* patch;
  const char* result;
};

const Case kCases[] = {
    {"add a field", R"({"name":1})", R"({"value":1})", R"({"name":1,"value":1})"},
    {"add and delete fields", R"({"name":1,"other":"a"})", R"({"name":null,"value":1})",
     R"({"other":"a","value":1})"},
    {"nulls for missing fields are ignored", R"({"name":2})",
     R"({"name":1,"value":1,"other":null})", R"({"name":1,"value":1})"},
    {"delete a field of a nested map", R"({"simpleMap":{"key1":"1","key2":"1","other":"a"}})",
     R"({"simpleMap":{"key2":null}})", R"({"simpleMap":{"key1":"1","other":"a"}})"},
    {"delete a nested map's content", R"({"simpleMap":{"key1":"1"}})",
     R"({"simpleMap":{"$patch":"delete"}})", R"({"simpleMap":{}})"},
    {"replace all keys of the document", R"({"name":1,"value":1})",
     R"({"other":"a","$patch":"replace"})", R"({"other":"a"})"},
    {"replace a list of scalars", R"({"nonMergingIntList":[1,2]})",
     R"({"nonMergingIntList":[2,3]})", R"({"nonMergingIntList":[2,3]})"},
    {"merge a list of scalars as a set", R"({"mergingIntList":[1,2]})",
     R"({"mergingIntList":[2,3]})", R"({"mergingIntList":[1,2,3]})"},
    {"keep the patch's order in an int list", R"({"mergingIntList":[1,2,3]})",
     R"({"mergingIntList":[3,1]})", R"({"mergingIntList":[2,3,1]})"},
    {"keep the patch's order when it names all", R"({"mergingIntList":[1,2,3]})",
     R"({"mergingIntList":[3,1,2]})", R"({"mergingIntList":[3,1,2]})"},
    {"delete items of a scalar list, with an order", R"({"mergingIntList":[1,2,3,4]})",
     R"({"$setElementOrder/mergingIntList":[1,2],"$deleteFromPrimitiveList/mergingIntList":[3]})",
     R"({"mergingIntList":[1,2,4]})"},
    {"delete duplicated items of a scalar list", R"({"mergingIntList":[1,2,3,3,4]})",
     R"({"$setElementOrder/mergingIntList":[1,2],"$deleteFromPrimitiveList/mergingIntList":[3]})",
     R"({"mergingIntList":[1,2,4]})"},
    {"add and delete items of a scalar list", R"({"mergingIntList":[1,2,3,4]})",
     R"({"$setElementOrder/mergingIntList":[1,2,4],"$deleteFromPrimitiveList/mergingIntList":[3],"mergingIntList":[4]})",
     R"({"mergingIntList":[1,2,4]})"},
    {"order list naming an item the list lacks", R"({"mergingIntList":[1,3]})",
     R"({"$setElementOrder/mergingIntList":[3,2,1]})", R"({"mergingIntList":[3,1]})"},
    {"merge lists of maps in the given order",
     R"({"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2,"other":"b"}]})",
     R"({"$setElementOrder/mergingList":[{"name":4},{"name":1},{"name":2},{"name":3}],
         "mergingList":[{"name":4,"value":4},{"name":3,"value":3}]})",
     R"({"mergingList":[{"name":4,"value":4},{"name":1,"other":"a"},{"name":2,"value":2,"other":"b"},{"name":3,"value":3}]})"},
    {"add a field to a map in a merging list",
     R"({"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2,"other":"b"}]})",
     R"({"$setElementOrder/mergingList":[{"name":1},{"name":2}],"mergingList":[{"name":1,"value":1}]})",
     R"({"mergingList":[{"name":1,"other":"a","value":1},{"name":2,"value":2,"other":"b"}]})"},
    {"keep the patch's order in a merging list",
     R"({"mergingList":[{"name":1},{"name":2,"value":"b"},{"name":3}]})",
     R"({"mergingList":[{"name":3,"value":"c"},{"name":1,"value":"a"}]})",
     R"({"mergingList":[{"name":2,"value":"b"},{"name":3,"value":"c"},{"name":1,"value":"a"}]})"},
    {"keep the patch's order when it names all maps",
     R"({"mergingList":[{"name":1},{"name":2,"value":"b"},{"name":3}]})",
     R"({"mergingList":[{"name":3,"value":"c"},{"name":1,"value":"a"},{"name":2,"other":"x"}]})",
     R"({"mergingList":[{"name":3,"value":"c"},{"name":1,"value":"a"},{"name":2,"value":"b","other":"x"}]})"},
    {"order list naming a map the list lacks", R"({"mergingList":[{"name":1},{"name":3}]})",
     R"({"$setElementOrder/mergingList":[{"name":3},{"name":2},{"name":1}],
         "mergingList":[{"name":3,"value":3},{"name":1,"value":1}]})",
     R"({"mergingList":[{"name":3,"value":3},{"name":1,"value":1}]})"},
    {"delete all maps from a merging list",
     R"({"mergingList":[{"name":1,"other":"a"},{"name":2}]})",
     R"({"mergingList":[{"name":1,"$patch":"delete"},{"name":2,"$patch":"delete"}]})",
     R"({"mergingList":[]})"},
    {"delete maps with duplicated keys",
     R"({"mergingList":[{"name":1},{"name":1},{"name":2,"value":"a"},{"name":3},{"name":3}]})",
     R"({"mergingList":[{"name":1,"$patch":"delete"},{"name":3,"$patch":"delete"}]})",
     R"({"mergingList":[{"name":2,"value":"a"}]})"},
    {"replace a merging list", R"({"mergingList":[{"name":1},{"name":2}]})",
     R"({"mergingList":[{"$patch":"replace"}]})", R"({"mergingList":[]})"},
    {"merge empty merging lists", R"({"mergingList":[]})", R"({"mergingList":[]})",
     R"({"mergingList":[]})"},
    {"nested merging lists merge too",
     R"({"mergingList":[{"name":1,"mergingList":[{"name":"a","value":"x"}]}]})",
     R"({"mergingList":[{"name":1,"mergingList":[{"name":"a","other":"y"},{"name":"b"}]}]})",
     R"({"mergingList":[{"name":1,"mergingList":[{"name":"a","value":"x","other":"y"},{"name":"b"}]}]})"},
    {"lists in non-merging lists are replaced",
     R"({"nonMergingList":[{"name":1,"mergingList":[{"name":"a"}]}]})",
     R"({"nonMergingList":[{"name":1,"mergingList":[{"name":"b"}]}]})",
     R"({"nonMergingList":[{"name":1,"mergingList":[{"name":"b"}]}]})"},
    {"a replace strategy takes the patch's map", R"({"replacingItem":{"a":1,"b":2}})",
     R"({"replacingItem":{"b":3,"c":null}})", R"({"replacingItem":{"b":3}})"},
    {"retainKeys clears fields not listed",
     R"({"retainKeysMap":{"name":"foo","value":"a","other":"b"}})",
     R"({"retainKeysMap":{"$retainKeys":["name","value"],"value":"c"}})",
     R"({"retainKeysMap":{"name":"foo","value":"c"}})"},
    {"retainKeys map without the directive merges",
     R"({"retainKeysMap":{"name":"foo","value":"a"}})", R"({"retainKeysMap":{"value":null}})",
     R"({"retainKeysMap":{"name":"foo"}})"},
    {"retainKeys keeps nulls and parallel lists out of the check",
     R"({"retainKeysMap":{"name":"foo","simpleMap":{"a":"1"},"mergingIntList":[1,2]}})",
     R"({"retainKeysMap":{"$retainKeys":["mergingIntList","name"],"simpleMap":null,
        "$setElementOrder/mergingIntList":[1],"$deleteFromPrimitiveList/mergingIntList":[2]}})",
     R"({"retainKeysMap":{"name":"foo","mergingIntList":[1]}})"},
    {"retainKeys in a merging list item",
     R"({"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"a","other":"o"}]})",
     R"({"retainKeysMergingList":[{"$retainKeys":["name","other"],"name":"foo","other":"p"}]})",
     R"({"retainKeysMergingList":[{"name":"bar"},{"name":"foo","other":"p"}]})"},
    {"markers on a named list type", R"({"namedList":[{"name":"a","value":"1"}]})",
     R"({"namedList":[{"name":"a","other":"2"}]})",
     R"({"namedList":[{"name":"a","value":"1","other":"2"}]})"},
    {"a pointer-like nested item merges", R"({"mergeItemPtr":{"name":"x","value":"1"}})",
     R"({"mergeItemPtr":{"other":"2"}})",
     R"({"mergeItemPtr":{"name":"x","value":"1","other":"2"}})"},
    {"integer keys differ from float keys", R"({"mergingList":[{"name":1,"value":"a"}]})",
     R"({"mergingList":[{"name":1.0,"value":"b"}]})",
     R"({"mergingList":[{"name":1.0,"value":"b"},{"name":1,"value":"a"}]})"},
};

TEST(StrategicCases, ApplyAsKubernetesDoes) {
  const schema::Node& mergeItem = testing::kindSchema("test.v1.MergeItem");
  for (const Case& c : kCases) {
    auto r = applyStrategicMergePatch(Json::parse(c.original), Json::parse(c.patch),
                                      testing::testSchemas(), mergeItem);
    ASSERT_TRUE(r.ok()) << c.name << ": " << r.error().message();
    EXPECT_EQ(*r, Json::parse(c.result)) << c.name << ": got " << r->dump();
  }
}

TEST(StrategicCases, RefuseMismatchedOrders) {
  const schema::Node& mergeItem = testing::kindSchema("test.v1.MergeItem");
  const char* patches[] = {
      R"({"$setElementOrder/mergingList":[{"name":1},{"name":2},{"name":3}],
          "mergingList":[{"name":3,"value":3},{"name":1,"value":1}]})",
      R"({"$setElementOrder/mergingIntList":[1,2,3],"mergingIntList":[3,1]})",
  };
  for (const char* p : patches) {
    auto r =
        applyStrategicMergePatch(Json::parse(R"({"mergingList":[{"name":1},{"name":3},{"name":2}],
                                                     "mergingIntList":[1,3,2]})"),
                                 Json::parse(p), testing::testSchemas(), mergeItem);
    ASSERT_FALSE(r.ok()) << p;
    EXPECT_NE(r.error().message().find("doesn't match"), std::string::npos) << r.error().message();
  }
  auto r = applyStrategicMergePatch(Json::parse(R"({"mergingList":[{"name":1,"value":"a"}]})"),
                                    Json::parse(R"({"mergingList":[{"value":"b"}]})"),
                                    testing::testSchemas(), mergeItem);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("does not contain declared merge key"), std::string::npos);
}

// Deep and wide inputs finish quickly: no step is quadratic in the list sizes or exponential
// in the depth.
TEST(StrategicCases, LargeInputsStayLinear) {
  const schema::Node& mergeItem = testing::kindSchema("test.v1.MergeItem");
  Json original = {{"mergingList", Json::array()}, {"mergingIntList", Json::array()}};
  Json patch = {{"mergingList", Json::array()}, {"mergingIntList", Json::array()}};
  Json order = Json::array();
  for (int i = 0; i < 20000; ++i) {
    original["mergingList"].push_back({{"name", i}, {"value", "v"}});
    original["mergingIntList"].push_back(i);
    if (i % 2 == 0) patch["mergingList"].push_back({{"name", i + 20000}});
    patch["mergingIntList"].push_back(i + 10000);
  }
  auto r = applyStrategicMergePatch(original, patch, testing::testSchemas(), mergeItem);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ((*r)["mergingList"].size(), 30000u);
  EXPECT_EQ((*r)["mergingIntList"].size(), 30000u);

  Json deepDoc = Json::object(), deepPatch = Json::object();
  Json* d = &deepDoc;
  Json* p = &deepPatch;
  for (int i = 0; i < 250; ++i) {
    (*d)["mergeItemPtr"] = {{"name", "x"}, {"mergingList", Json::array({{{"name", 1}}})}};
    (*p)["mergeItemPtr"] = {{"value", "y"},
                            {"mergingList", Json::array({{{"name", 1}, {"other", "o"}}})}};
    d = &(*d)["mergeItemPtr"];
    p = &(*p)["mergeItemPtr"];
  }
  r = applyStrategicMergePatch(deepDoc, deepPatch, testing::testSchemas(), mergeItem);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ((*r)["mergeItemPtr"]["mergeItemPtr"]["value"], "y");
}

}  // namespace
}  // namespace nave::patch
