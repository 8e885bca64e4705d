// The revision data and names of StatefulSets and DaemonSets.
#include "server/controllers/sets/revision_history.h"

#include <gtest/gtest.h>

#include "tests/server/controllers/sets/set_test_util.h"

namespace nave::controllers::sets {
namespace {

using testing::yaml;

TEST(RevisionHistory, PatchIsTheTemplateAsGoWritesIt) {
  Json set = yaml(R"({spec: {replicas: 3, template: {metadata: {labels: {app: a}},
      spec: {initContainers: [{name: i, image: x}], containers: [{name: c, image: x, resources: {limits: {cpu: "1"}}}]}}}})");
  Json patch = templatePatch(set);
  EXPECT_EQ(patch.size(), 1u);
  EXPECT_EQ(patch["spec"].size(), 1u) << "only the template";
  const Json& t = patch["spec"]["template"];
  EXPECT_EQ(t["$patch"], "replace");
  EXPECT_TRUE(t["metadata"].contains("creationTimestamp"));
  EXPECT_TRUE(t["metadata"]["creationTimestamp"].is_null());
  EXPECT_EQ(t["spec"]["initContainers"][0]["resources"], Json::object());
  EXPECT_EQ(t["spec"]["containers"][0]["resources"]["limits"]["cpu"], "1");
  Json back = templateOf(Json{{"data", patch}});
  EXPECT_FALSE(back.contains("$patch"));
  EXPECT_EQ(back["metadata"]["labels"]["app"], "a");
}

TEST(RevisionHistory, HashDependsOnTemplateAndCollisionCount) {
  Json a = templatePatch(yaml("{spec: {template: {spec: {containers: [{name: c, image: a}]}}}}"));
  Json b = templatePatch(yaml("{spec: {template: {spec: {containers: [{name: c, image: b}]}}}}"));
  std::string h = revisionHash(a, 0);
  EXPECT_EQ(h, revisionHash(a, 0));
  EXPECT_NE(h, revisionHash(b, 0));
  EXPECT_NE(h, revisionHash(a, 1));
  EXPECT_EQ(h.find_first_of("aeiou013"), std::string::npos) << h;
  EXPECT_GE(h.size(), 6u);
}

TEST(RevisionHistory, EqualRevisionIsTheNewestWithTheSameData) {
  Json a = templatePatch(yaml("{spec: {template: {spec: {containers: [{name: c, image: a}]}}}}"));
  Json b = templatePatch(yaml("{spec: {template: {spec: {containers: [{name: c, image: b}]}}}}"));
  std::vector<Json> revisions = {
      Json{{"metadata", {{"name", "s-1"}}}, {"revision", 1}, {"data", a}},
      Json{{"metadata", {{"name", "s-2"}}}, {"revision", 2}, {"data", b}}};
  ASSERT_NE(findEqualRevision(revisions, a), nullptr);
  EXPECT_EQ(getString((*findEqualRevision(revisions, a))["metadata"], "name"), "s-1");
  EXPECT_EQ(nextRevisionNumber(revisions), 3);
  EXPECT_EQ(nextRevisionNumber({}), 1);
  EXPECT_EQ(findEqualRevision(revisions, templatePatch(yaml("{spec: {template: {}}}"))), nullptr);
}

}  // namespace
}  // namespace nave::controllers::sets
