#include "server/apply/fieldpath.h"

#include <gtest/gtest.h>

namespace nave::apply {
namespace {

Json json(std::string_view text) {
  auto r = parseJson(text);
  EXPECT_TRUE(r.ok()) << text;
  return r.ok() ? r->value : Json();
}

Path path(std::initializer_list<PathElement> elems) {
  return Path(elems);
}
PathElement f(const char* name) {
  return PathElement::fieldName(name);
}

TEST(PathElement, SerializesLikeStructuredMergeDiff) {
  EXPECT_EQ(f("spec").serialize(), "f:spec");
  EXPECT_EQ(PathElement::keyed({{"name", "nginx"}}).serialize(), R"(k:{"name":"nginx"})");
  // Key fields are written sorted by name, whatever order they were given in.
  EXPECT_EQ(PathElement::keyed({{"protocol", "TCP"}, {"containerPort", 80}}).serialize(),
            R"(k:{"containerPort":80,"protocol":"TCP"})");
  EXPECT_EQ(PathElement::setValue("example.com/finalizer").serialize(),
            R"(v:"example.com/finalizer")");
  EXPECT_EQ(PathElement::setValue(5).serialize(), "v:5");
  EXPECT_EQ(PathElement::at(3).serialize(), "i:3");
  // Go's encoder escapes HTML characters.
  EXPECT_EQ(PathElement::setValue("a<b&c>").serialize(), R"(v:"a\u003cb\u0026c\u003e")");
}

TEST(PathElement, ParsesEveryKind) {
  bool unknown = false;
  auto k = PathElement::parse(R"(k:{"protocol":"TCP","containerPort":80})", unknown);
  ASSERT_TRUE(k.ok());
  EXPECT_FALSE(unknown);
  EXPECT_EQ(*k, PathElement::keyed({{"containerPort", 80}, {"protocol", "TCP"}}));
  auto v = PathElement::parse(R"(v:"x")", unknown);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, PathElement::setValue("x"));
  auto i = PathElement::parse("i:12", unknown);
  ASSERT_TRUE(i.ok());
  EXPECT_EQ(i->index, 12);
  auto fld = PathElement::parse("f:a:b", unknown);
  ASSERT_TRUE(fld.ok());
  EXPECT_EQ(fld->field, "a:b");
}

TEST(PathElement, RejectsMalformedKeys) {
  bool unknown = false;
  EXPECT_FALSE(PathElement::parse("f", unknown).ok());
  EXPECT_FALSE(PathElement::parse("fx", unknown).ok());
  EXPECT_FALSE(PathElement::parse("k:[1]", unknown).ok());
  EXPECT_FALSE(PathElement::parse("k:{", unknown).ok());
  EXPECT_FALSE(PathElement::parse("v:nope", unknown).ok());
  EXPECT_FALSE(PathElement::parse("i:1x", unknown).ok());
  auto other = PathElement::parse("z:anything", unknown);
  EXPECT_TRUE(other.ok());
  EXPECT_TRUE(unknown);
}

TEST(PathElement, HumanForm) {
  Path p = path({f("spec"), f("containers"), PathElement::keyed({{"name", "app"}}), f("image")});
  EXPECT_EQ(pathString(p), R"(.spec.containers[name="app"].image)");
  EXPECT_EQ(pathString(path({f("spec"), f("ports"),
                             PathElement::keyed({{"protocol", "TCP"}, {"containerPort", 80}})})),
            R"(.spec.ports[containerPort=80,protocol="TCP"])");
  EXPECT_EQ(pathString(path({f("metadata"), f("finalizers"), PathElement::setValue("a\"b")})),
            R"(.metadata.finalizers[="a\"b"])");
  EXPECT_EQ(pathString(path({f("x"), PathElement::at(2)})), ".x[2]");
}

TEST(PathElement, OrdersLikeStructuredMergeDiff) {
  // Field names < keys < values < indexes.
  EXPECT_LT(f("z"), PathElement::keyed({{"a", 1}}));
  EXPECT_LT(PathElement::keyed({{"a", 1}}), PathElement::setValue(1));
  EXPECT_LT(PathElement::setValue("x"), PathElement::at(0));
  // Values: numbers < strings < booleans < null; ints and floats compare numerically.
  EXPECT_LT(compareValues(Json(2), Json(2.5)), 0);
  EXPECT_EQ(compareValues(Json(2), Json(2.0)), 0);
  EXPECT_LT(compareValues(Json(100), Json("1")), 0);
  EXPECT_LT(compareValues(Json("z"), Json(false)), 0);
  EXPECT_LT(compareValues(Json(true), Json(nullptr)), 0);
}

// The FieldsV1 example of the server-side apply documentation (an applied ConfigMap).
TEST(FieldSet, DocumentationExample) {
  FieldSet s;
  s.insert(path({f("metadata"), f("labels"), f("test-label")}));
  s.insert(path({f("data"), f("key")}));
  EXPECT_EQ(s.toFieldsV1(),
            json(R"({"f:metadata":{"f:labels":{"f:test-label":{}}},"f:data":{"f:key":{}}})"));
}

TEST(FieldSet, MarksPathsThatAreMembersAndPrefixesWithDot) {
  Json fields = json(R"({
    "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
    "f:spec": {
      "f:replicas": {},
      "f:template": {"f:spec": {"f:containers": {
        "k:{\"name\":\"nginx\"}": {
          ".": {}, "f:image": {}, "f:name": {},
          "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
        }
      }}}
    },
    "f:metadata2": {"f:finalizers": {"v:\"example.com/a\"": {}}}
  })");
  auto s = FieldSet::fromFieldsV1(fields);
  ASSERT_TRUE(s.ok()) << s.error().message();
  PathElement nginx = PathElement::keyed({{"name", "nginx"}});
  Path item = path({f("spec"), f("template"), f("spec"), f("containers"), nginx});
  EXPECT_TRUE(s->has(item));
  Path image = item;
  image.push_back(f("image"));
  EXPECT_TRUE(s->has(image));
  EXPECT_TRUE(s->has(path({f("metadata"), f("labels")})));
  EXPECT_FALSE(s->has(path({f("metadata")})));
  EXPECT_FALSE(s->has(path({f("spec")})));
  EXPECT_TRUE(
      s->has(path({f("metadata2"), f("finalizers"), PathElement::setValue("example.com/a")})));
  EXPECT_EQ(s->size(), 9u);
  // Round trip: the same trie comes back.
  EXPECT_EQ(s->toFieldsV1(), fields);
}

TEST(FieldSet, IgnoresUnknownElementKindsAndRejectsMalformedTries) {
  auto s = FieldSet::fromFieldsV1(json(R"({"f:a":{"x:future":{}},"f:b":{}})"));
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->has(path({f("a")})));  // nothing known below it: a member
  EXPECT_TRUE(s->has(path({f("b")})));
  EXPECT_FALSE(FieldSet::fromFieldsV1(json(R"({"f:a":1})")).ok());
  EXPECT_FALSE(FieldSet::fromFieldsV1(json(R"([])")).ok());
  EXPECT_FALSE(FieldSet::fromFieldsV1(json(R"({"k:notjson":{}})")).ok());
  EXPECT_FALSE(FieldSet::fromFieldsV1(json(R"({"q":{}})")).ok());
}

TEST(FieldSet, SetOperations) {
  FieldSet a, b;
  a.insert(path({f("spec")}));
  a.insert(path({f("spec"), f("replicas")}));
  a.insert(path({f("spec"), f("template"), f("x")}));
  b.insert(path({f("spec")}));
  EXPECT_EQ(a.difference(b).size(), 2u);          // only the exact path goes
  EXPECT_TRUE(a.recursiveDifference(b).empty());  // everything below goes too
  EXPECT_EQ(a.intersection(b).size(), 1u);
  EXPECT_EQ(a.withPrefix(f("spec")).size(), 2u);
  EXPECT_TRUE(a.withPrefix(f("spec")).has(path({f("replicas")})));
  EXPECT_TRUE(a.hasPrefix(f("spec")));
  EXPECT_FALSE(a.hasPrefix(f("status")));
  // Iteration lists a level's members before its children.
  FieldSet c;
  c.insert(path({f("a"), f("b")}));
  c.insert(path({f("z")}));
  auto order = c.iterationOrder();
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(pathString(order[0]), ".z");
  EXPECT_EQ(pathString(order[1]), ".a.b");
}

}  // namespace
}  // namespace nave::apply
