#include <gtest/gtest.h>

#include "server/patch/patch.h"

namespace nave::patch {
namespace {

Json J(const char* text) {
  return Json::parse(text);
}

Json applied(const char* doc, const char* patch) {
  auto r = applyJsonPatch(J(doc), J(patch));
  EXPECT_TRUE(r.ok()) << patch << ": " << r.error().message();
  return r.ok() ? *r : Json();
}

std::string failure(const char* doc, const char* patch, ErrorCode code = ErrorCode::kInvalid) {
  auto r = applyJsonPatch(J(doc), J(patch));
  EXPECT_FALSE(r.ok()) << patch << " gave " << r->dump();
  if (r.ok()) return "";
  EXPECT_EQ(r.error().code(), code) << r.error().message();
  return r.error().message();
}

TEST(JsonPatch, AddsObjectMembersAndArrayElements) {
  EXPECT_EQ(applied(R"({"a":1})", R"([{"op":"add","path":"/b","value":{"c":[1]}}])"),
            J(R"({"a":1,"b":{"c":[1]}})"));
  EXPECT_EQ(applied(R"({"a":[1,2]})", R"([{"op":"add","path":"/a/1","value":9}])"),
            J(R"({"a":[1,9,2]})"));
  EXPECT_EQ(applied(R"({"a":[1,2]})", R"([{"op":"add","path":"/a/-","value":3}])"),
            J(R"({"a":[1,2,3]})"));
  EXPECT_EQ(applied(R"({"a":[1,2]})", R"([{"op":"add","path":"/a/2","value":3}])"),
            J(R"({"a":[1,2,3]})"));
  // Negative indices count from the end, as the library Kubernetes uses allows.
  EXPECT_EQ(applied(R"({"a":[1,2]})", R"([{"op":"add","path":"/a/-1","value":9}])"),
            J(R"({"a":[1,2,9]})"));
  EXPECT_EQ(applied(R"({"a":1})", R"([{"op":"add","path":"/a","value":null}])"),
            J(R"({"a":null})"));
  EXPECT_EQ(applied(R"({})", R"([{"op":"add","path":"/","value":1}])"), J(R"({"":1})"));
}

TEST(JsonPatch, DecodesEscapesInPointers) {
  EXPECT_EQ(
      applied(R"({"metadata":{"labels":{}}})",
              R"([{"op":"add","path":"/metadata/labels/app.kubernetes.io~1name","value":"web"}])"),
      J(R"({"metadata":{"labels":{"app.kubernetes.io/name":"web"}}})"));
  EXPECT_EQ(applied(R"({"a~b":1})", R"([{"op":"remove","path":"/a~0b"}])"), J("{}"));
  // "~01" is "~1" once decoded, not "/".
  EXPECT_EQ(applied(R"({})", R"([{"op":"add","path":"/~01","value":1}])"), J(R"({"~1":1})"));
}

TEST(JsonPatch, RemovesReplacesMovesAndCopies) {
  EXPECT_EQ(applied(R"({"a":1,"b":2})", R"([{"op":"remove","path":"/a"}])"), J(R"({"b":2})"));
  EXPECT_EQ(applied(R"({"a":[1,2,3]})", R"([{"op":"remove","path":"/a/1"}])"), J(R"({"a":[1,3]})"));
  EXPECT_EQ(applied(R"({"a":[1,2,3]})", R"([{"op":"remove","path":"/a/-1"}])"),
            J(R"({"a":[1,2]})"));
  EXPECT_EQ(applied(R"({"spec":{"replicas":1}})",
                    R"([{"op":"replace","path":"/spec/replicas","value":3}])"),
            J(R"({"spec":{"replicas":3}})"));
  EXPECT_EQ(applied(R"({"a":[1,2]})", R"([{"op":"replace","path":"/a/0","value":5}])"),
            J(R"({"a":[5,2]})"));
  EXPECT_EQ(applied(R"({"a":{"x":1},"b":{}})", R"([{"op":"move","from":"/a/x","path":"/b/y"}])"),
            J(R"({"a":{},"b":{"y":1}})"));
  EXPECT_EQ(applied(R"({"a":[1,2,3]})", R"([{"op":"move","from":"/a/0","path":"/a/-"}])"),
            J(R"({"a":[2,3,1]})"));
  EXPECT_EQ(applied(R"({"a":{"x":[1]}})", R"([{"op":"copy","from":"/a","path":"/b"}])"),
            J(R"({"a":{"x":[1]},"b":{"x":[1]}})"));
  EXPECT_EQ(applied(R"({"a":1})", R"([{"op":"replace","path":"","value":{"b":2}}])"),
            J(R"({"b":2})"));
}

TEST(JsonPatch, KeepsTheQuirksOfTheLibraryKubernetesServes) {
  // "replace" of a missing object member adds it; "copy" of a missing member copies null.
  EXPECT_EQ(applied(R"({})", R"([{"op":"replace","path":"/a","value":1}])"), J(R"({"a":1})"));
  EXPECT_EQ(applied(R"({})", R"([{"op":"copy","from":"/x","path":"/a"}])"), J(R"({"a":null})"));
  // An add without a value adds null; a null patch changes nothing.
  EXPECT_EQ(applied(R"({})", R"([{"op":"add","path":"/a"}])"), J(R"({"a":null})"));
  EXPECT_EQ(applied(R"({"a":1})", "null"), J(R"({"a":1})"));
  // Replacing the whole document with a scalar is silently ignored.
  EXPECT_EQ(applied(R"({"a":1})", R"([{"op":"replace","path":"","value":3}])"), J(R"({"a":1})"));
}

TEST(JsonPatch, TestComparesDeeply) {
  EXPECT_EQ(applied(R"({"a":{"x":[1,{"y":"z"}],"w":true}})",
                    R"([{"op":"test","path":"/a","value":{"w":true,"x":[1,{"y":"z"}]}},
                        {"op":"add","path":"/ok","value":1}])"),
            J(R"({"a":{"x":[1,{"y":"z"}],"w":true},"ok":1})"));
  EXPECT_EQ(failure(R"({"a":{"x":1}})", R"([{"op":"test","path":"/a","value":{"x":1,"y":2}}])"),
            "testing value /a failed: test failed");
  // Integers and other numbers differ, as Go's decoding keeps them apart.
  EXPECT_EQ(failure(R"({"a":1})", R"([{"op":"test","path":"/a","value":1.0}])"),
            "testing value /a failed: test failed");
  EXPECT_EQ(failure(R"({"a":[1,2]})", R"([{"op":"test","path":"/a","value":[2,1]}])"),
            "testing value /a failed: test failed");
  // A missing member tests equal to null only.
  EXPECT_EQ(applied(R"({})", R"([{"op":"test","path":"/a","value":null}])"), J("{}"));
  EXPECT_EQ(failure(R"({})", R"([{"op":"test","path":"/a","value":0}])"),
            "testing value /a failed: test failed");
  EXPECT_EQ(applied(R"({"a":1})", R"([{"op":"test","path":"","value":{"a":1}}])"), J(R"({"a":1})"));
  // A failed test anywhere discards the whole patch.
  EXPECT_FALSE(applyJsonPatch(J(R"({"a":1})"), J(R"([{"op":"add","path":"/b","value":2},
      {"op":"test","path":"/a","value":2}])"))
                   .ok());
}

TEST(JsonPatch, ReportsKubernetesMessages) {
  EXPECT_EQ(failure(R"({})", R"([{"op":"add","path":"/a/b","value":1}])"),
            "add operation does not apply: doc is missing path: \"/a/b\": missing value");
  EXPECT_EQ(failure(R"({})", R"([{"op":"remove","path":"/a"}])"),
            "error in remove for path: '/a': Unable to remove nonexistent key: a: missing value");
  EXPECT_EQ(failure(R"({})", R"([{"op":"remove","path":"/a/b"}])"),
            "remove operation does not apply: doc is missing path: \"/a/b\": missing value");
  EXPECT_EQ(failure(R"({"a":[1]})", R"([{"op":"replace","path":"/a/5","value":1}])"),
            "replace operation does not apply: doc is missing key: /a/5: missing value");
  EXPECT_EQ(
      failure(R"({"a":[1]})", R"([{"op":"add","path":"/a/5","value":1}])"),
      "error in add for path: '/a/5': Unable to access invalid index: 5: invalid index referenced");
  EXPECT_EQ(failure(R"({"a":[1]})", R"([{"op":"add","path":"/a/x","value":1}])"),
            "error in add for path: '/a/x': value was not a proper array index: 'x': strconv.Atoi: "
            "parsing \"x\": invalid syntax");
  EXPECT_EQ(failure(R"({"a":[1]})", R"([{"op":"remove","path":"/a/1"}])"),
            "error in remove for path: '/a/1': Unable to access invalid index: 1: invalid index "
            "referenced");
  EXPECT_EQ(failure(R"({})", R"([{"op":"move","from":"/x","path":"/y"}])"),
            "error in move for path: 'x': Unable to remove nonexistent key: x: missing value");
  EXPECT_EQ(failure(R"({"x":1})", R"([{"op":"move","from":"/x","path":"/y/z"}])"),
            "move operation does not apply: doc is missing destination path: /y/z: missing value");
  EXPECT_EQ(failure(R"({})", R"([{"op":"copy","from":"/a/b","path":"/y"}])"),
            "copy operation does not apply: doc is missing from path: /a/b: missing value");
  EXPECT_EQ(failure(R"({})", R"([{"op":"test","path":"/a/b","value":1}])"),
            "test operation does not apply: is missing path: /a/b: missing value");
  EXPECT_EQ(failure(R"({})", R"([{"op":"frobnicate","path":"/a"}])"),
            "Unexpected kind: frobnicate");
  EXPECT_EQ(failure(R"({})", R"([{"path":"/a"}])"), "Unexpected kind: unknown");
  EXPECT_EQ(failure(R"({})", R"([{"op":"add","value":1}])"),
            "add operation failed to decode path: missing value");
  EXPECT_EQ(failure(R"({})", R"([{"op":"replace","value":1}])"),
            "replace operation failed to decode path: operation missing path field: missing value");
  EXPECT_EQ(failure(R"({})", R"([{"op":"move","path":"/a"}])"),
            "move operation failed to decode from: operation, missing from field: missing value");
  EXPECT_EQ(failure(R"({})", R"([{"op":"replace","path":5,"value":1}])"),
            "replace operation failed to decode path: json: cannot unmarshal number into Go value "
            "of type string");
  EXPECT_EQ(failure(R"({})", R"([{"op":"add","path":"","value":1}])"),
            "add operation does not apply: doc is missing path: \"\": missing value");
  // Scalars and nulls on the way are missing paths too.
  EXPECT_NE(failure(R"({"a":null,"b":3})", R"([{"op":"add","path":"/a/x","value":1}])")
                .find("missing path"),
            std::string::npos);
  EXPECT_NE(failure(R"({"b":3})", R"([{"op":"add","path":"/b/x","value":1}])").find("missing path"),
            std::string::npos);
}

TEST(JsonPatch, RefusesMalformedPatchesAsBadRequests) {
  EXPECT_EQ(failure("{}", R"({"op":"add"})", ErrorCode::kBadRequest),
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  EXPECT_EQ(failure("{}", R"(["add"])", ErrorCode::kBadRequest),
            "json: cannot unmarshal string into Go value of type jsonpatch.Operation");
}

TEST(JsonPatch, LimitsOperationsCopiesAndDepth) {
  Json ops = Json::array();
  for (int i = 0; i < 10001; ++i) ops.push_back({{"op", "test"}, {"path", "/a"}, {"value", 1}});
  auto r = applyJsonPatch(J(R"({"a":1})"), ops);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kTooLarge);
  EXPECT_EQ(r.error().message(),
            "The allowed maximum operations in a JSON patch is 10000, got 10001");
  ops.erase(ops.size() - 1);
  EXPECT_TRUE(applyJsonPatch(J(R"({"a":1})"), ops).ok());

  // Copies that double the document stop at Kubernetes' 3 MiB limit.
  Json doc = {{"a", std::string(1000, 'x')}};
  Json doubling = Json::array();
  doubling.push_back({{"op", "copy"}, {"from", "/a"}, {"path", "/b"}});
  for (int i = 0; i < 40; ++i) {
    doubling.push_back({{"op", "add"}, {"path", "/c"}, {"value", Json::array()}});
    doubling.push_back({{"op", "copy"}, {"from", "/a"}, {"path", "/c/-"}});
    doubling.push_back({{"op", "copy"}, {"from", "/b"}, {"path", "/c/-"}});
    doubling.push_back({{"op", "move"}, {"from", "/c"}, {"path", "/a"}});
    doubling.push_back({{"op", "copy"}, {"from", "/a"}, {"path", "/b"}});
  }
  r = applyJsonPatch(doc, doubling);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message().rfind(
                "Unable to complete the copy, the accumulated size increase of copy is ", 0),
            0u)
      << r.error().message();
  EXPECT_NE(r.error().message().find("exceeding the limit 3145728"), std::string::npos);

  // Nesting the document deeper than the decoder accepts is refused.
  Json deepValue = 1;
  for (int i = 0; i < 200; ++i) deepValue = Json{{"a", deepValue}};
  std::string inside;
  for (int i = 0; i < 150; ++i) inside += "/a";
  Json deep = Json::array();
  deep.push_back({{"op", "add"}, {"path", "/x"}, {"value", deepValue}});
  deep.push_back({{"op", "add"}, {"path", "/x" + inside + "/b"}, {"value", deepValue}});
  r = applyJsonPatch(J("{}"), deep);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "the patched document would be nested deeper than 256 levels");
  deep[1]["value"] = {{"c", {{"d", 1}}}};
  EXPECT_TRUE(applyJsonPatch(J("{}"), deep).ok());
}

TEST(JsonPatch, MovesIntoDeeperPlacesWithinTheLimit) {
  // A chain 255 deep; moving a small subtree further down is fine, but not past 256.
  Json doc = Json::object();
  Json* cur = &doc;
  std::string path;
  for (int i = 0; i < 254; ++i) {
    (*cur)["n"] = Json::object();
    cur = &(*cur)["n"];
    path += "/n";
  }
  doc["leaf"] = {{"x", {{"y", 1}}}};
  auto r = applyJsonPatch(
      doc, Json::array({{{"op", "move"}, {"from", "/leaf"}, {"path", path + "/leaf"}}}));
  EXPECT_FALSE(r.ok());  // 255 levels above the leaf, and the leaf is 2 deep
  r = applyJsonPatch(doc,
                     Json::array({{{"op", "move"}, {"from", "/leaf/x"}, {"path", "/n/n/leaf"}}}));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ((*r)["n"]["n"]["leaf"], J(R"({"y":1})"));
}

TEST(JsonPatch, ManyOperationsStayFast) {
  Json doc = {{"items", Json::array()}};
  Json ops = Json::array();
  for (int i = 0; i < 5000; ++i) {
    ops.push_back({{"op", "add"}, {"path", "/items/-"}, {"value", {{"i", i}}}});
    ops.push_back({{"op", "move"}, {"from", "/items/0"}, {"path", "/items/-"}});
  }
  auto r = applyJsonPatch(doc, ops);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ((*r)["items"].size(), 5000u);
}

}  // namespace
}  // namespace nave::patch
