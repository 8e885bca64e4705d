// The ReplicaSet controller on a real API stack: creating, adopting, releasing and deleting
// pods, and the status it reports.
#include "server/controllers/workloads/replicaset_controller.h"

#include <algorithm>
#include <atomic>
#include <set>

#include "tests/server/controllers/workloads/workload_fixture.h"

namespace nave::controllers::workloads {
namespace {

using testing::waitFor;

Json replicaSet(const std::string& name, int replicas, int minReadySeconds = 0) {
  Json labels = {{"app", name}};
  return {{"apiVersion", "apps/v1"},
          {"kind", "ReplicaSet"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec",
           {{"replicas", replicas},
            {"minReadySeconds", minReadySeconds},
            {"selector", {{"matchLabels", labels}}},
            {"template", testing::podTemplate(labels)}}}};
}

class ReplicaSetControllerTest : public testing::WorkloadTest {
 protected:
  void SetUp() override {
    WorkloadTest::SetUp();
    startControllers(
        {[](ControllerContext& c) { return std::make_unique<ReplicaSetController>(c); }});
  }
  std::string create(const Json& rs) {
    auto created = client().create(kReplicaSets, "default", rs);
    EXPECT_TRUE(created.ok()) << created.error().message();
    return created.ok() ? getString((*created)["metadata"], "uid") : "";
  }
  int64_t statusField(const std::string& name, const char* field) {
    Json rs = get(kReplicaSets, name);
    return rs.is_null() ? -1 : getInt(rs.value("status", Json::object()), field);
  }
  void scale(const std::string& name, int replicas) {
    auto r = client().patch(kReplicaSets, "default", name, api::PatchType::kMerge,
                            "{\"spec\":{\"replicas\":" + std::to_string(replicas) + "}}");
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
};

TEST_F(ReplicaSetControllerTest, CreatesPodsFromTheTemplateAndReportsStatus) {
  std::string uid = create(replicaSet("web", 3));
  ASSERT_TRUE(waitFor([&] { return podsOwnedBy(uid).size() == 3; }));
  for (const Json& pod : podsOwnedBy(uid)) {
    std::string name = getString(pod["metadata"], "name");
    EXPECT_EQ(name.rfind("web-", 0), 0u) << name;
    EXPECT_EQ(name.size(), 9u) << name;  // web- and five generated characters
    EXPECT_EQ(pod["metadata"]["labels"], Json({{"app", "web"}}));
    const Json& ref = pod["metadata"]["ownerReferences"][0];
    EXPECT_EQ(ref["kind"], "ReplicaSet");
    EXPECT_EQ(ref["apiVersion"], "apps/v1");
    EXPECT_EQ(ref["name"], "web");
    EXPECT_EQ(ref["controller"], true);
    EXPECT_EQ(ref["blockOwnerDeletion"], true);
    EXPECT_EQ(pod["spec"]["containers"][0]["image"], "busybox:1.36");
  }
  ASSERT_TRUE(waitFor([&] { return statusField("web", "replicas") == 3; }));
  EXPECT_EQ(statusField("web", "fullyLabeledReplicas"), 3);
  EXPECT_EQ(statusField("web", "readyReplicas"), 0);
  EXPECT_EQ(statusField("web", "observedGeneration"), 1);

  EXPECT_EQ(markReady(uid), 3);
  ASSERT_TRUE(waitFor([&] { return statusField("web", "availableReplicas") == 3; }));
  EXPECT_EQ(statusField("web", "readyReplicas"), 3);

  // One SuccessfulCreate per pod, naming it.
  ASSERT_TRUE(waitFor([&] { return eventMessages("web", "SuccessfulCreate").size() == 3; }));
  std::set<std::string> expected;
  for (const Json& pod : podsOwnedBy(uid))
    expected.insert("Created pod: " + getString(pod["metadata"], "name"));
  auto messages = eventMessages("web", "SuccessfulCreate");
  EXPECT_EQ(std::set<std::string>(messages.begin(), messages.end()), expected);
}

TEST_F(ReplicaSetControllerTest, ReplacesDeletedPodsAndScalesDownNotReadyFirst) {
  std::string uid = create(replicaSet("web", 4));
  ASSERT_TRUE(waitFor([&] { return podsOwnedBy(uid).size() == 4; }));
  auto pods = podsOwnedBy(uid);
  // Two pods ready, two not: scaling to 2 deletes the two not ready.
  ASSERT_TRUE(setReady(pods[0], true));
  ASSERT_TRUE(setReady(pods[1], true));
  ASSERT_TRUE(setReady(pods[2], false));
  std::set<std::string> ready = {getString(pods[0]["metadata"], "name"),
                                 getString(pods[1]["metadata"], "name")};
  ASSERT_TRUE(waitFor([&] { return statusField("web", "readyReplicas") == 2; }));
  scale("web", 2);
  ASSERT_TRUE(waitFor([&] { return podsOwnedBy(uid).size() == 2; }));
  std::set<std::string> left;
  for (const Json& p : podsOwnedBy(uid)) left.insert(getString(p["metadata"], "name"));
  EXPECT_EQ(left, ready);
  ASSERT_TRUE(waitFor([&] { return eventMessages("web", "SuccessfulDelete").size() == 2; }));
  EXPECT_EQ(eventMessages("web", "SuccessfulDelete")[0].rfind("Deleted pod: web-", 0), 0u);

  // A deleted pod is replaced.
  ASSERT_TRUE(client().remove(kPods, "default", *ready.begin()).ok());
  ASSERT_TRUE(waitFor([&] {
    auto now = podsOwnedBy(uid);
    return now.size() == 2 && std::none_of(now.begin(), now.end(), [&](const Json& p) {
             return getString(p["metadata"], "name") == *ready.begin();
           });
  }));
  ASSERT_TRUE(waitFor([&] { return statusField("web", "replicas") == 2; }));

  // Scale to zero and back.
  scale("web", 0);
  ASSERT_TRUE(
      waitFor([&] { return podsOwnedBy(uid).empty() && statusField("web", "replicas") == 0; }));
  scale("web", 3);
  ASSERT_TRUE(waitFor([&] { return podsOwnedBy(uid).size() == 3; }));
  ASSERT_TRUE(waitFor([&] { return statusField("web", "observedGeneration") == 4; }));
}

TEST_F(ReplicaSetControllerTest, AdoptsMatchingOrphansAndReleasesPodsThatStopMatching) {
  Json orphan = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", {{"name", "stray"}, {"namespace", "default"}, {"labels", {{"app", "web"}}}}},
      {"spec", testing::podTemplate(Json::object())["spec"]}};
  ASSERT_TRUE(client().create(kPods, "default", orphan).ok());
  std::string uid = create(replicaSet("web", 2));
  ASSERT_TRUE(waitFor([&] { return podsOwnedBy(uid).size() == 2; }));
  EXPECT_TRUE(isControlledBy(get(kPods, "stray"), uid));
  // Only one pod was created: the orphan counts.
  ASSERT_TRUE(waitFor([&] { return eventMessages("web", "SuccessfulCreate").size() == 1; }));

  // Relabelled out of the selector: released (its owner reference removed) and replaced.
  auto relabeled = client().patch(kPods, "default", "stray", api::PatchType::kMerge,
                                  R"({"metadata":{"labels":{"app":"other"}}})");
  ASSERT_TRUE(relabeled.ok()) << relabeled.error().message();
  ASSERT_TRUE(waitFor([&] { return controllerRefOf(get(kPods, "stray")) == nullptr; }));
  ASSERT_TRUE(waitFor([&] { return podsOwnedBy(uid).size() == 2; }));
  EXPECT_TRUE(get(kPods, "stray")["metadata"].value("ownerReferences", Json::array()).empty());

  // A pod another controller owns is left alone.
  Json owned = orphan;
  owned["metadata"]["name"] = "owned";
  owned["metadata"]["ownerReferences"] = Json::array({{{"apiVersion", "apps/v1"},
                                                       {"kind", "ReplicaSet"},
                                                       {"name", "someone"},
                                                       {"uid", "1234"},
                                                       {"controller", true}}});
  owned["metadata"]["labels"] = {{"app", "web"}};
  ASSERT_TRUE(client().create(kPods, "default", owned).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(isControlledBy(get(kPods, "owned"), "1234"));
  EXPECT_EQ(podsOwnedBy(uid).size(), 2u);
}

TEST_F(ReplicaSetControllerTest, AvailableAfterMinReadySeconds) {
  std::string uid = create(replicaSet("slow", 2, 2));
  ASSERT_TRUE(waitFor([&] { return podsOwnedBy(uid).size() == 2; }));
  EXPECT_EQ(markReady(uid), 2);
  ASSERT_TRUE(waitFor([&] { return statusField("slow", "readyReplicas") == 2; }));
  EXPECT_EQ(statusField("slow", "availableReplicas"), 0);
  // Requeued for when minReadySeconds have passed: no pod event needed.
  ASSERT_TRUE(waitFor([&] { return statusField("slow", "availableReplicas") == 2; }));
}

TEST_F(ReplicaSetControllerTest, BurstOfCreatesIsNotRepeated) {
  std::string uid = create(replicaSet("many", 40));
  ASSERT_TRUE(waitFor([&] { return podsOwnedBy(uid).size() == 40; }));
  // Pod events keep requeueing the ReplicaSet; expectations keep it from creating more.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(podsOwnedBy(uid).size(), 40u);
  ASSERT_TRUE(waitFor([&] { return statusField("many", "replicas") == 40; }));
}

// Forwards to the real client, but pod creates fail while `failPodCreates` is set (as an
// admission plugin or a quota would make them).
class FaultyClient : public client::Client {
 public:
  explicit FaultyClient(client::Client& real) : real_(real) {}
  std::atomic<bool> failPodCreates{false};
  std::atomic<int> podCreates{0};

  Result<Json> get(const client::Resource& r, std::string_view ns, std::string_view name,
                   std::string_view sub) override {
    return real_.get(r, ns, name, sub);
  }
  Result<Json> list(const client::Resource& r, std::string_view ns,
                    const api::ListOptions& o) override {
    return real_.list(r, ns, o);
  }
  Result<std::unique_ptr<client::Watch>> watch(const client::Resource& r, std::string_view ns,
                                               const api::ListOptions& o) override {
    return real_.watch(r, ns, o);
  }
  Result<Json> create(const client::Resource& r, std::string_view ns, const Json& object,
                      const api::WriteOptions& o, std::string_view sub) override {
    if (r.resource == "pods") {
      ++podCreates;
      if (failPodCreates)
        return Error(ErrorCode::kForbidden, "pods \"web-x\" is forbidden: exceeded quota: q");
    }
    return real_.create(r, ns, object, o, sub);
  }
  Result<Json> update(const client::Resource& r, std::string_view ns, const Json& object,
                      const api::WriteOptions& o, std::string_view sub) override {
    return real_.update(r, ns, object, o, sub);
  }
  Result<Json> patch(const client::Resource& r, std::string_view ns, std::string_view name,
                     api::PatchType t, std::string_view p, const api::WriteOptions& o,
                     std::string_view sub) override {
    return real_.patch(r, ns, name, t, p, o, sub);
  }
  Result<Json> remove(const client::Resource& r, std::string_view ns, std::string_view name,
                      const api::DeleteOptions& o) override {
    return real_.remove(r, ns, name, o);
  }

 private:
  client::Client& real_;
};

class ReplicaSetFailureTest : public ReplicaSetControllerTest {
 protected:
  client::Client& controllerClient() override { return faulty_; }
  FaultyClient faulty_{fx_.client()};
};

TEST_F(ReplicaSetFailureTest, FailedCreatesSetReplicaFailureAndSlowStart) {
  faulty_.failPodCreates = true;
  std::string uid = create(replicaSet("web", 50));
  auto failure = [&]() -> Json {
    Json rs = get(kReplicaSets, "web");
    const Json* status = findMember(rs, "status");
    if (status && status->contains("conditions"))
      for (const Json& c : (*status)["conditions"])
        if (c["type"] == "ReplicaFailure") return c;
    return nullptr;
  };
  ASSERT_TRUE(waitFor([&] { return !failure().is_null(); }));
  Json cond = failure();
  EXPECT_EQ(cond["status"], "True");
  EXPECT_EQ(cond["reason"], "FailedCreate");
  EXPECT_EQ(cond["message"], "pods \"web-x\" is forbidden: exceeded quota: q");
  ASSERT_TRUE(waitFor([&] { return !eventMessages("web", "FailedCreate").empty(); }));
  EXPECT_EQ(eventMessages("web", "FailedCreate")[0],
            "Error creating: pods \"web-x\" is forbidden: exceeded quota: q");
  // Slow start: each failing sync tried one create, not fifty.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  int attempts = faulty_.podCreates;
  EXPECT_LT(attempts, 50);

  faulty_.failPodCreates = false;
  ASSERT_TRUE(waitFor([&] { return podsOwnedBy(uid).size() == 50; }));
  ASSERT_TRUE(waitFor([&] { return failure().is_null(); }));
}

}  // namespace
}  // namespace nave::controllers::workloads
