// The protobuf attributes of the schema sources (`proto=N`, `proto=E.N`, `ptr`; see
// server/schema/README.md): the parser reads them into Node::protoTag, protoInline and pointer,
// and every field of every built-in kind carries a number, unique within its message.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "server/schema/schema.h"

namespace nave::schema {
namespace {

Result<SchemaSet> parse(std::string_view text) {
  SchemaSet set;
  if (auto r = set.addSource(text, "test.schema"); !r.ok()) return std::move(r).error();
  return set;
}

const Node* field(const SchemaSet& set, std::string_view type, std::string_view name) {
  const Node* t = set.find(type);
  return t == nullptr ? nullptr : t->property(name);
}

TEST(ProtoAttrs, ParsesNumberAndPointer) {
  auto set = parse(R"(package io.example.v1
type Spec "A spec."
  replicas int32 proto=1 ptr "How many."
  paused bool proto=7 "Paused."
  names []string list=atomic proto=3 "Names."
  labels map[string] proto=12 "Labels."
  hostPath Path proto=2.1 "Inlined from an embedded struct."
  deep string proto=4.5.6
  plain string
type Path "A path."
  path string proto=1
)");
  ASSERT_TRUE(set.ok()) << set.error().message();
  const Node* replicas = field(*set, "io.example.v1.Spec", "replicas");
  ASSERT_NE(replicas, nullptr);
  EXPECT_EQ(replicas->protoTag, 1);
  EXPECT_TRUE(replicas->pointer);
  EXPECT_TRUE(replicas->protoInline.empty());
  EXPECT_EQ(replicas->description, "How many.");

  const Node* paused = field(*set, "io.example.v1.Spec", "paused");
  EXPECT_EQ(paused->protoTag, 7);
  EXPECT_FALSE(paused->pointer);

  const Node* names = field(*set, "io.example.v1.Spec", "names");
  EXPECT_EQ(names->type, Type::kArray);
  EXPECT_EQ(names->protoTag, 3);
  EXPECT_EQ(names->listType, "atomic");
  EXPECT_EQ(field(*set, "io.example.v1.Spec", "labels")->protoTag, 12);

  const Node* hostPath = field(*set, "io.example.v1.Spec", "hostPath");
  EXPECT_EQ(hostPath->protoTag, 1);
  EXPECT_EQ(hostPath->protoInline, std::vector<int>{2});
  EXPECT_EQ(hostPath->ref, "io.example.v1.Path");

  const Node* deep = field(*set, "io.example.v1.Spec", "deep");
  EXPECT_EQ(deep->protoTag, 6);
  EXPECT_EQ(deep->protoInline, (std::vector<int>{4, 5}));

  const Node* plain = field(*set, "io.example.v1.Spec", "plain");
  EXPECT_EQ(plain->protoTag, 0);
  EXPECT_FALSE(plain->pointer);
}

TEST(ProtoAttrs, PointerToNamedScalarType) {
  auto set = parse(R"(package io.example.v1
type Policy = string enum=A|B "A policy."
type Spec
  policy Policy proto=4 ptr
)");
  ASSERT_TRUE(set.ok()) << set.error().message();
  const Node* policy = field(*set, "io.example.v1.Spec", "policy");
  EXPECT_TRUE(policy->pointer);
  EXPECT_EQ(policy->protoTag, 4);
}

TEST(ProtoAttrs, KindGetsMetadataAndListNumbers) {
  auto set = parse(R"(package io.example.v1
kind Widget example.io/v1 "A widget."
  spec object proto=2
kind Thing example.io/v1 nolist
  metadata ListMeta proto=1
  code int32 proto=6
type ListMeta
  resourceVersion string proto=2
)");
  ASSERT_TRUE(set.ok()) << set.error().message();
  const Node* widget = set->find("io.example.v1.Widget");
  ASSERT_NE(widget, nullptr);
  // TypeMeta is not part of the message: apiVersion and kind travel in the envelope.
  EXPECT_EQ(widget->property("apiVersion")->protoTag, 0);
  EXPECT_EQ(widget->property("kind")->protoTag, 0);
  EXPECT_EQ(widget->property("metadata")->protoTag, 1);
  EXPECT_EQ(widget->property("spec")->protoTag, 2);

  const Node* list = set->find("io.example.v1.WidgetList");
  ASSERT_NE(list, nullptr);
  EXPECT_EQ(list->property("metadata")->protoTag, 1);
  EXPECT_EQ(list->property("items")->protoTag, 2);
  EXPECT_EQ(list->property("apiVersion")->protoTag, 0);

  const Node* thing = set->find("io.example.v1.Thing");
  EXPECT_EQ(thing->property("metadata")->protoTag, 1);
  EXPECT_EQ(thing->property("metadata")->ref, "io.example.v1.ListMeta");
  EXPECT_EQ(thing->property("code")->protoTag, 6);
}

TEST(ProtoAttrs, RejectsMalformedAttributes) {
  const char* bad[] = {
      "type T\n  f string proto=0\n",
      "type T\n  f string proto=\n",
      "type T\n  f string proto=x\n",
      "type T\n  f string proto=-1\n",
      "type T\n  f string proto=1..2\n",
      "type T\n  f string proto=2.\n",
      "type T\n  f string proto=536870912\n",       // 2^29: past the largest field number
      "type T\n  f string proto=99999999999999\n",  // would overflow an int
      "type T\n  f string ptr=1\n",
      "type T\n  f []int32 ptr\n",
      "type T\n  f map[string] ptr\n",
      "type T\n  f object ptr\n",
      "type T proto=1\n  f string\n",  // not a field
      "type T = string proto=1\n",
      "kind K v1 ptr\n",
  };
  for (const char* body : bad) {
    std::string text = std::string("package io.example.v1\n") + body;
    auto set = parse(text);
    EXPECT_FALSE(set.ok()) << body;
  }
  EXPECT_TRUE(parse("package io.example.v1\ntype T\n  f string proto=536870911\n").ok());
}

// --- The built-in schemas ---------------------------------------------------------------

TEST(ProtoAttrs, BuiltinExamplesMatchKubernetes) {
  const SchemaSet& set = builtinSchemas();
  const Node* replicas = field(set, "io.k8s.api.apps.v1.DeploymentSpec", "replicas");
  ASSERT_NE(replicas, nullptr);
  EXPECT_EQ(replicas->protoTag, 1);
  EXPECT_TRUE(replicas->pointer);
  const Node* progress = field(set, "io.k8s.api.apps.v1.DeploymentSpec", "progressDeadlineSeconds");
  EXPECT_EQ(progress->protoTag, 9);  // 8 was rollbackTo, removed
  EXPECT_FALSE(field(set, "io.k8s.api.apps.v1.DeploymentSpec", "paused")->pointer);

  const Node* hostPath = field(set, "io.k8s.api.core.v1.Volume", "hostPath");
  EXPECT_EQ(hostPath->protoTag, 1);
  EXPECT_EQ(hostPath->protoInline, std::vector<int>{2});
  EXPECT_EQ(field(set, "io.k8s.api.core.v1.Volume", "name")->protoTag, 1);
  const Node* exec = field(set, "io.k8s.api.core.v1.Probe", "exec");
  EXPECT_EQ(exec->protoInline, std::vector<int>{1});

  EXPECT_EQ(field(set, "io.k8s.api.core.v1.Secret", "data")->protoTag, 2);
  EXPECT_EQ(field(set, "io.k8s.api.core.v1.Secret", "stringData")->protoTag, 4);
  EXPECT_EQ(field(set, "io.k8s.api.core.v1.ServicePort", "targetPort")->protoTag, 4);
  EXPECT_EQ(field(set, "io.k8s.api.policy.v1.Eviction", "deleteOptions")->protoTag, 2);
  EXPECT_EQ(field(set, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "labels")->protoTag, 11);
  EXPECT_TRUE(field(set, "io.k8s.api.core.v1.PodSpec", "terminationGracePeriodSeconds")->pointer);
  EXPECT_TRUE(field(set, "io.k8s.api.networking.v1.HTTPIngressPath", "pathType")->pointer);
}

// Fields without a number, on purpose. Keep this list short and say why.
const std::set<std::string, std::less<>> kUnnumbered = {
    // meta.k8s.io Table is never protobuf-encoded by Kubernetes (its Go types carry no tags).
    "io.k8s.apimachinery.pkg.apis.meta.v1.Table.columnDefinitions",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Table.metadata",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Table.rows",
    "io.k8s.apimachinery.pkg.apis.meta.v1.TableColumnDefinition.*",
    "io.k8s.apimachinery.pkg.apis.meta.v1.TableRow.*",
    "io.k8s.apimachinery.pkg.apis.meta.v1.TableRowCondition.*",
    // Added in 1.30; its number is in no Kubernetes source we could consult.
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.ValidationRule.optionalOldSelf",
};

bool exempt(const std::string& type, const std::string& name, const Node& owner) {
  // TypeMeta: the envelope carries apiVersion and kind.
  if (!owner.gvks.empty() && (name == "apiVersion" || name == "kind")) return true;
  return kUnnumbered.contains(type + "." + name) || kUnnumbered.contains(type + ".*");
}

// Every definition reachable from a registered kind, by name.
std::set<std::string> reachableDefinitions(const SchemaSet& set) {
  std::set<std::string> seen;
  std::vector<const Node*> stack;
  auto visit = [&](const Node* n) {
    if (n != nullptr) stack.push_back(n);
  };
  for (const auto& [name, node] : set.definitions())
    if (!node->gvks.empty()) {
      seen.insert(name);
      visit(node.get());
    }
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    if (!n->ref.empty()) {
      if (seen.insert(n->ref).second) visit(set.find(n->ref));
      continue;
    }
    for (const Property& p : n->properties) visit(p.schema.get());
    visit(n->items.get());
    visit(n->additionalProperties.get());
  }
  return seen;
}

TEST(ProtoAttrs, EveryReachableFieldHasAUniqueNumber) {
  const SchemaSet& set = builtinSchemas();
  std::set<std::string> reachable = reachableDefinitions(set);
  EXPECT_GT(reachable.size(), 300u);
  std::vector<std::string> missing, duplicate;
  size_t fields = 0;
  for (const std::string& name : reachable) {
    const Node* def = set.find(name);
    ASSERT_NE(def, nullptr) << name;
    // (embedded path..., number) -> field; plain numbers and embedded-message numbers share
    // one space per message.
    std::map<std::vector<int>, std::string> used;
    for (const Property& p : def->properties) {
      ++fields;
      const Node& f = *p.schema;
      if (f.protoTag == 0) {
        if (!exempt(name, p.name, *def)) missing.push_back(name + "." + p.name);
        continue;
      }
      std::vector<int> key = f.protoInline;
      key.push_back(f.protoTag);
      if (auto [it, fresh] = used.emplace(key, p.name); !fresh)
        duplicate.push_back(name + "." + p.name + " and " + it->second);
    }
    // A number that names a field cannot also be an embedded message's number.
    for (const auto& [key, fieldName] : used)
      for (const auto& [other, otherName] : used)
        if (other.size() > key.size() && std::equal(key.begin(), key.end(), other.begin()))
          duplicate.push_back(name + "." + otherName + " is inside " + fieldName + "'s number");
  }
  EXPECT_GT(fields, 1500u);
  EXPECT_TRUE(missing.empty()) << "fields without proto=: " << ::testing::PrintToString(missing);
  EXPECT_TRUE(duplicate.empty()) << ::testing::PrintToString(duplicate);
}

TEST(ProtoAttrs, PointerOnlyOnScalars) {
  const SchemaSet& set = builtinSchemas();
  for (const auto& [name, def] : set.definitions())
    for (const Property& p : def->properties) {
      if (!p.schema->pointer) continue;
      const Node* target = set.resolve(p.schema.get());
      bool scalar = target->type == Type::kString || target->type == Type::kInteger ||
                    target->type == Type::kBoolean || target->type == Type::kNumber;
      EXPECT_TRUE(scalar) << name << "." << p.name;
    }
}

}  // namespace
}  // namespace nave::schema