// The Job controller on a real API stack, with the test playing the kubelet.
#include "server/controllers/batch/job_controller.h"

#include <gtest/gtest.h>

#include "tests/server/controllers/batch/batch_fixture.h"

namespace nave::controllers::batch {
namespace {

using testing::BatchFixture;
using testing::jobObject;
using testing::waitFor;

class JobControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    JobControllerOptions o;
    o.podBackoff = std::chrono::milliseconds(100);
    controller_ = std::make_unique<JobController>(fx_.context(), o);
    fx_.start({controller_.get()});
  }
  void TearDown() override { fx_.stop(); }

  Json createJob(const std::string& name, Json spec) {
    auto r = fx_.client().create(kJobs, "default", jobObject(name, std::move(spec)));
    EXPECT_TRUE(r.ok()) << r.error().message();
    return r.ok() ? *r : Json();
  }
  Json job(const std::string& name) { return fx_.get(kJobs, name).value_or(Json::object()); }
  bool finishedAs(const std::string& name, const std::string& type) {
    return conditionIsTrue(job(name), type);
  }
  // Waits for `count` active pods, then returns them.
  std::vector<Json> waitActive(const std::string& name, size_t count) {
    std::vector<Json> pods;
    EXPECT_TRUE(waitFor([&] {
      pods = fx_.activePodsOf(name);
      return pods.size() == count;
    })) << "active pods of " << name << ": " << pods.size() << ", want " << count;
    return pods;
  }

  BatchFixture fx_;
  std::unique_ptr<JobController> controller_;
};

TEST_F(JobControllerTest, CompletionsWithParallelismNeverRunMoreThanParallelism) {
  Json created = createJob("work", {{"completions", 5}, {"parallelism", 2}});
  std::string uid = created["metadata"]["uid"];
  int finished = 0;
  while (finished < 5) {
    size_t want = std::min(2, 5 - finished);
    std::vector<Json> pods = waitActive("work", want);
    ASSERT_EQ(pods.size(), want);
    // What the controller made: the template's labels, an owner, the tracking finalizer.
    const Json& meta = pods[0]["metadata"];
    EXPECT_EQ(meta["labels"]["batch.kubernetes.io/job-name"], "work");
    EXPECT_EQ(meta["labels"]["batch.kubernetes.io/controller-uid"], uid);
    EXPECT_EQ(meta["labels"]["job-name"], "work");
    EXPECT_EQ(getString(meta, "name").rfind("work-", 0), 0u);
    EXPECT_EQ(meta["ownerReferences"][0]["kind"], "Job");
    EXPECT_EQ(meta["ownerReferences"][0]["uid"], uid);
    EXPECT_EQ(meta["ownerReferences"][0]["controller"], true);
    EXPECT_EQ(meta["ownerReferences"][0]["blockOwnerDeletion"], true);
    EXPECT_TRUE(hasFinalizer(pods[0], kTrackingFinalizer));
    fx_.finishPod(pods[0], 0);
    ++finished;
    // Counted once, and the finalizer released.
    ASSERT_TRUE(waitFor([&] { return getInt(job("work")["status"], "succeeded") == finished; }))
        << job("work")["status"].dump();
    size_t nonTerminal = fx_.activePodsOf("work").size();
    EXPECT_LE(nonTerminal, 2u);
  }
  ASSERT_TRUE(waitFor([&] { return finishedAs("work", "Complete"); })) << job("work")["status"].dump();
  Json status = job("work")["status"];
  EXPECT_EQ(status["succeeded"], 5);
  EXPECT_EQ(status["failed"], 0);
  EXPECT_EQ(status["active"], 0);
  EXPECT_TRUE(status.contains("completionTime"));
  EXPECT_TRUE(status.contains("startTime"));
  EXPECT_EQ(status["uncountedTerminatedPods"], Json::object());
  ASSERT_EQ(status["conditions"].size(), 2u);
  EXPECT_EQ(status["conditions"][0]["type"], "SuccessCriteriaMet");
  EXPECT_EQ(status["conditions"][1]["type"], "Complete");
  EXPECT_EQ(status["conditions"][1]["reason"], "CompletionsReached");
  EXPECT_EQ(status["conditions"][1]["message"], "Reached expected number of succeeded pods");
  EXPECT_EQ(fx_.podsOf("work").size(), 5u);
  for (const Json& p : fx_.podsOf("work")) EXPECT_FALSE(hasFinalizer(p, kTrackingFinalizer));
  EXPECT_TRUE(waitFor([&] { return fx_.hasEvent("work", "Completed", "Job completed"); }));
  EXPECT_TRUE(waitFor([&] { return fx_.hasEvent("work", "SuccessfulCreate"); }));
  for (const Json& e : fx_.eventsFor("work")) EXPECT_EQ(e["source"]["component"], "job-controller");
}

TEST_F(JobControllerTest, FailsAtItsBackoffLimit) {
  createJob("flaky", {{"backoffLimit", 1}});
  std::vector<Json> pods = waitActive("flaky", 1);
  ASSERT_EQ(pods.size(), 1u);
  fx_.finishPod(pods[0], 1);
  // Replaced after the backoff delay.
  ASSERT_TRUE(waitFor([&] { return fx_.activePodsOf("flaky").size() == 1 && getInt(job("flaky")["status"], "failed") == 1; }));
  pods = fx_.activePodsOf("flaky");
  ASSERT_EQ(pods.size(), 1u);
  fx_.finishPod(pods[0], 1);
  ASSERT_TRUE(waitFor([&] { return finishedAs("flaky", "Failed"); })) << job("flaky")["status"].dump();
  Json status = job("flaky")["status"];
  EXPECT_EQ(status["failed"], 2);
  EXPECT_EQ(status["active"], 0);
  Json failedJob = job("flaky");
  const Json* failed = findCondition(failedJob, "Failed");
  ASSERT_NE(failed, nullptr);
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ((*failed)["reason"], "BackoffLimitExceeded");
  EXPECT_EQ((*failed)["message"], "Job has reached the specified backoff limit");
  EXPECT_TRUE(conditionIsTrue(job("flaky"), "FailureTarget"));
  EXPECT_FALSE(status.contains("completionTime"));
  EXPECT_EQ(fx_.podsOf("flaky").size(), 2u);
  EXPECT_TRUE(waitFor([&] { return fx_.hasEvent("flaky", "BackoffLimitExceeded", "Job has reached the specified backoff limit"); }));
}

TEST_F(JobControllerTest, DeletedPodIsCountedOnceAsFailedAndReplaced) {
  createJob("del", {{"backoffLimit", 3}});
  std::vector<Json> pods = waitActive("del", 1);
  ASSERT_EQ(pods.size(), 1u);
  ASSERT_TRUE(fx_.client().remove(kPods, "default", pods[0]["metadata"]["name"].get<std::string>()).ok());
  ASSERT_TRUE(waitFor([&] { return getInt(job("del")["status"], "failed") == 1 && fx_.activePodsOf("del").size() == 1; }));
  // The deleted pod is gone once released, and was counted exactly once.
  ASSERT_TRUE(waitFor([&] { return !fx_.get(kPods, pods[0]["metadata"]["name"]).has_value(); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(getInt(job("del")["status"], "failed"), 1);
  fx_.finishPod(fx_.activePodsOf("del")[0], 0);
  ASSERT_TRUE(waitFor([&] { return finishedAs("del", "Complete"); }));
  EXPECT_EQ(job("del")["status"]["failed"], 1);
  EXPECT_EQ(job("del")["status"]["succeeded"], 1);
}

TEST_F(JobControllerTest, IndexedCompletion) {
  createJob("idx", {{"completions", 4}, {"parallelism", 2}, {"completionMode", "Indexed"}});
  std::vector<Json> pods = waitActive("idx", 2);
  ASSERT_EQ(pods.size(), 2u);
  std::set<std::string> indexes;
  for (const Json& p : pods) {
    std::string ix = p["metadata"]["annotations"][kCompletionIndexKey];
    indexes.insert(ix);
    EXPECT_EQ(p["metadata"]["labels"][kCompletionIndexKey], ix);
    EXPECT_EQ(p["spec"]["hostname"], "idx-" + ix);
    EXPECT_EQ(getString(p["metadata"], "name").rfind("idx-" + ix + "-", 0), 0u);
    const Json& env = p["spec"]["containers"][0]["env"];
    ASSERT_EQ(env.size(), 1u);
    EXPECT_EQ(env[0]["name"], "JOB_COMPLETION_INDEX");
    EXPECT_EQ(env[0]["valueFrom"]["fieldRef"]["fieldPath"], "metadata.annotations['batch.kubernetes.io/job-completion-index']");
  }
  EXPECT_EQ(indexes, (std::set<std::string>{"0", "1"}));
  auto podWithIndex = [&](int ix) {
    for (const Json& p : fx_.activePodsOf("idx"))
      if (podCompletionIndex(p) == ix) return p;
    return Json();
  };
  fx_.finishPod(podWithIndex(1), 0);
  ASSERT_TRUE(waitFor([&] { return getString(job("idx")["status"], "completedIndexes") == "1"; }));
  ASSERT_TRUE(waitFor([&] { return !podWithIndex(2).is_null(); }));
  fx_.finishPod(podWithIndex(0), 0);
  ASSERT_TRUE(waitFor([&] { return !podWithIndex(3).is_null(); }));
  fx_.finishPod(podWithIndex(3), 0);
  ASSERT_TRUE(waitFor([&] { return getString(job("idx")["status"], "completedIndexes") == "0,1,3"; }))
      << job("idx")["status"].dump();
  // A failed index is retried.
  fx_.finishPod(podWithIndex(2), 1);
  ASSERT_TRUE(waitFor([&] { return !podWithIndex(2).is_null(); }));
  fx_.finishPod(podWithIndex(2), 0);
  ASSERT_TRUE(waitFor([&] { return finishedAs("idx", "Complete"); })) << job("idx")["status"].dump();
  EXPECT_EQ(job("idx")["status"]["completedIndexes"], "0-3");
  EXPECT_EQ(job("idx")["status"]["succeeded"], 4);
  EXPECT_EQ(job("idx")["status"]["failed"], 1);
}

TEST_F(JobControllerTest, SuspendAndResume) {
  createJob("sus", {{"parallelism", 2}, {"completions", 4}, {"suspend", true}});
  ASSERT_TRUE(waitFor([&] { return conditionIsTrue(job("sus"), "Suspended"); }));
  EXPECT_EQ(fx_.podsOf("sus").size(), 0u);
  EXPECT_FALSE(job("sus")["status"].contains("startTime"));
  Json cJob = job("sus");
  const Json* c = findCondition(cJob, "Suspended");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ((*c)["reason"], "JobSuspended");
  EXPECT_EQ((*c)["message"], "Job suspended");

  auto setSuspend = [&](bool v) {
    Json patch = {{"spec", {{"suspend", v}}}};
    auto r = fx_.client().patch(kJobs, "default", "sus", api::PatchType::kMerge, patch.dump());
    ASSERT_TRUE(r.ok()) << r.error().message();
  };
  setSuspend(false);
  waitActive("sus", 2);
  ASSERT_TRUE(waitFor([&] {
    Json sJob = job("sus");
    const Json* s = findCondition(sJob, "Suspended");
    return s != nullptr && (*s)["status"] == "False" && (*s)["reason"] == "JobResumed";
  }));
  EXPECT_TRUE(job("sus")["status"].contains("startTime"));
  EXPECT_TRUE(waitFor([&] { return fx_.hasEvent("sus", "Resumed", "Job resumed"); }));

  setSuspend(true);
  ASSERT_TRUE(waitFor([&] { return fx_.podsOf("sus").empty() && conditionIsTrue(job("sus"), "Suspended"); }));
  EXPECT_TRUE(waitFor([&] { return getInt(job("sus")["status"], "active", -1) == 0; }));
  EXPECT_EQ(getInt(job("sus")["status"], "failed"), 0);
  EXPECT_TRUE(waitFor([&] { return fx_.hasEvent("sus", "SuccessfulDelete"); }));
}

TEST_F(JobControllerTest, ActiveDeadlineSeconds) {
  createJob("slow", {{"activeDeadlineSeconds", 1}, {"parallelism", 2}, {"completions", 2}});
  ASSERT_TRUE(waitFor([&] { return finishedAs("slow", "Failed"); })) << job("slow")["status"].dump();
  Json failedJob = job("slow");
  const Json* failed = findCondition(failedJob, "Failed");
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ((*failed)["reason"], "DeadlineExceeded");
  EXPECT_EQ((*failed)["message"], "Job was active longer than specified deadline");
  EXPECT_EQ(job("slow")["status"]["active"], 0);
  EXPECT_EQ(job("slow")["status"]["failed"], 2);
  EXPECT_TRUE(fx_.podsOf("slow").empty());
  EXPECT_TRUE(waitFor([&] { return fx_.hasEvent("slow", "DeadlineExceeded"); }));
}

TEST_F(JobControllerTest, PodFailurePolicy) {
  Json spec = {{"backoffLimit", 5},
               {"podFailurePolicy",
                {{"rules",
                  Json::array({{{"action", "FailJob"}, {"onExitCodes", {{"containerName", "main"}, {"operator", "In"}, {"values", {42}}}}},
                               {{"action", "Ignore"}, {"onPodConditions", Json::array({{{"type", "DisruptionTarget"}}})}},
                               {{"action", "Count"}, {"onExitCodes", {{"operator", "NotIn"}, {"values", {42}}}}}})}}}};
  createJob("pfp", spec);
  std::vector<Json> pods = waitActive("pfp", 1);
  ASSERT_EQ(pods.size(), 1u);
  // A disruption is ignored: not counted, and the pod is replaced.
  fx_.finishPod(pods[0], 137, Json::array({{{"type", "DisruptionTarget"}, {"status", "True"}, {"reason", "PreemptionByScheduler"}}}));
  ASSERT_TRUE(waitFor([&] { return fx_.activePodsOf("pfp").size() == 1; }));
  EXPECT_EQ(getInt(job("pfp")["status"], "failed"), 0);
  // Exit code 1 counts.
  fx_.finishPod(fx_.activePodsOf("pfp")[0], 1);
  ASSERT_TRUE(waitFor([&] { return getInt(job("pfp")["status"], "failed") == 1 && fx_.activePodsOf("pfp").size() == 1; }));
  // Exit code 42 fails the Job at once.
  Json last = fx_.activePodsOf("pfp")[0];
  fx_.finishPod(last, 42);
  ASSERT_TRUE(waitFor([&] { return finishedAs("pfp", "Failed"); })) << job("pfp")["status"].dump();
  Json failedJob = job("pfp");
  const Json* failed = findCondition(failedJob, "Failed");
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ((*failed)["reason"], "PodFailurePolicy");
  EXPECT_EQ((*failed)["message"], "Container main for pod default/" + getString(last["metadata"], "name") +
                                      " failed with exit code 42 matching FailJob rule at index 0");
  EXPECT_EQ(job("pfp")["status"]["failed"], 2);
}

TEST_F(JobControllerTest, WorkQueueJobCompletesWhenOnePodSucceededAndTheRestEnded) {
  createJob("queue", {{"parallelism", 2}});
  Json j = job("queue");
  EXPECT_FALSE(j["spec"].contains("completions"));
  std::vector<Json> pods = waitActive("queue", 2);
  ASSERT_EQ(pods.size(), 2u);
  fx_.finishPod(pods[0], 0);
  // No new pod after a success; the job waits for the other.
  ASSERT_TRUE(waitFor([&] { return getInt(job("queue")["status"], "succeeded") == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(fx_.activePodsOf("queue").size(), 1u);
  EXPECT_FALSE(finishedAs("queue", "Complete"));
  fx_.finishPod(pods[1], 0);
  ASSERT_TRUE(waitFor([&] { return finishedAs("queue", "Complete"); }));
  EXPECT_EQ(job("queue")["status"]["succeeded"], 2);
}

TEST_F(JobControllerTest, DeletedJobReleasesItsPods) {
  createJob("gone", {{"parallelism", 1}});
  std::vector<Json> pods = waitActive("gone", 1);
  ASSERT_EQ(pods.size(), 1u);
  // Background propagation: the Job goes at once, its pods are left to the garbage collector
  // (none runs here), released by the Job controller.
  api::DeleteOptions background;
  background.propagationPolicy = "Background";
  ASSERT_TRUE(fx_.client().remove(kJobs, "default", "gone", background).ok());
  ASSERT_TRUE(waitFor([&] {
    auto p = fx_.get(kPods, pods[0]["metadata"]["name"]);
    return p && !hasFinalizer(*p, kTrackingFinalizer);
  }));
}


TEST_F(JobControllerTest, BackoffLimitPerIndexAndFailIndex) {
  Json spec = {{"completions", 3},
               {"parallelism", 3},
               {"completionMode", "Indexed"},
               {"backoffLimitPerIndex", 1},
               {"podFailurePolicy",
                {{"rules", Json::array({{{"action", "FailIndex"}, {"onExitCodes", {{"operator", "In"}, {"values", {3}}}}}})}}}};
  createJob("per", spec);
  EXPECT_EQ(job("per")["spec"]["backoffLimit"], 2147483647);
  waitActive("per", 3);
  auto podWithIndex = [&](int ix) {
    for (const Json& p : fx_.activePodsOf("per"))
      if (podCompletionIndex(p) == ix) return p;
    return Json();
  };
  EXPECT_EQ(podWithIndex(0)["metadata"]["annotations"]["batch.kubernetes.io/job-index-failure-count"], "0");
  // Index 0 fails once and is retried, with its failure count.
  fx_.finishPod(podWithIndex(0), 1);
  ASSERT_TRUE(waitFor([&] { return !podWithIndex(0).is_null(); }));
  EXPECT_EQ(podWithIndex(0)["metadata"]["annotations"]["batch.kubernetes.io/job-index-failure-count"], "1");
  // Index 1 fails for good at once (FailIndex); index 0 at its second failure.
  fx_.finishPod(podWithIndex(1), 3);
  ASSERT_TRUE(waitFor([&] { return getString(job("per")["status"], "failedIndexes") == "1"; })) << job("per")["status"].dump();
  fx_.finishPod(podWithIndex(0), 1);
  ASSERT_TRUE(waitFor([&] { return getString(job("per")["status"], "failedIndexes") == "0,1"; })) << job("per")["status"].dump();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(podWithIndex(0).is_null());
  EXPECT_TRUE(podWithIndex(1).is_null());
  EXPECT_FALSE(finishedAs("per", "Failed"));
  fx_.finishPod(podWithIndex(2), 0);
  ASSERT_TRUE(waitFor([&] { return finishedAs("per", "Failed"); })) << job("per")["status"].dump();
  Json failedJob = job("per");
  const Json* failed = findCondition(failedJob, "Failed");
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ((*failed)["reason"], "FailedIndexes");
  EXPECT_EQ((*failed)["message"], "Job has failed indexes");
  EXPECT_EQ(failedJob["status"]["completedIndexes"], "2");
  EXPECT_EQ(failedJob["status"]["failed"], 3);
  EXPECT_EQ(failedJob["status"]["succeeded"], 1);
}

TEST_F(JobControllerTest, MaxFailedIndexes) {
  createJob("maxf", {{"completions", 4},
                     {"parallelism", 2},
                     {"completionMode", "Indexed"},
                     {"backoffLimitPerIndex", 0},
                     {"maxFailedIndexes", 0}});
  std::vector<Json> pods = waitActive("maxf", 2);
  ASSERT_EQ(pods.size(), 2u);
  fx_.finishPod(pods[0], 1);
  ASSERT_TRUE(waitFor([&] { return finishedAs("maxf", "Failed"); })) << job("maxf")["status"].dump();
  Json failedJob = job("maxf");
  const Json* failed = findCondition(failedJob, "Failed");
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ((*failed)["reason"], "MaxFailedIndexesExceeded");
  EXPECT_EQ((*failed)["message"], "Job has exceeded the specified maximal number of failed indexes");
  EXPECT_TRUE(fx_.activePodsOf("maxf").empty());
}


TEST_F(JobControllerTest, SuccessPolicyEndsAnIndexedJobEarly) {
  createJob("leader", {{"completions", 3},
                       {"parallelism", 3},
                       {"completionMode", "Indexed"},
                       {"successPolicy", {{"rules", Json::array({{{"succeededIndexes", "0"}}})}}}});
  std::vector<Json> pods = waitActive("leader", 3);
  ASSERT_EQ(pods.size(), 3u);
  for (const Json& p : pods)
    if (podCompletionIndex(p) == 0) fx_.finishPod(p, 0);
  ASSERT_TRUE(waitFor([&] { return finishedAs("leader", "Complete"); })) << job("leader")["status"].dump();
  Json done = job("leader");
  const Json* met = findCondition(done, "SuccessCriteriaMet");
  ASSERT_NE(met, nullptr);
  EXPECT_EQ((*met)["reason"], "SuccessPolicy");
  EXPECT_EQ((*met)["message"], "Matched rules at index 0");
  EXPECT_EQ((*findCondition(done, "Complete"))["reason"], "SuccessPolicy");
  EXPECT_EQ(done["status"]["completedIndexes"], "0");
  EXPECT_EQ(done["status"]["succeeded"], 1);
  EXPECT_EQ(done["status"]["failed"], 0);
  EXPECT_TRUE(fx_.activePodsOf("leader").empty());
}

TEST_F(JobControllerTest, OnFailureRestartsCountTowardsTheBackoffLimit) {
  Json spec = {{"backoffLimit", 2},
               {"template",
                {{"spec",
                  {{"restartPolicy", "OnFailure"},
                   {"containers", Json::array({{{"name", "main"}, {"image", "busybox"}}})}}}}}};
  createJob("restarts", spec);
  std::vector<Json> pods = waitActive("restarts", 1);
  ASSERT_EQ(pods.size(), 1u);
  // The kubelet restarted the container in place, twice; the pod is still running and Ready.
  Json p = pods[0];
  p["status"]["phase"] = "Running";
  p["status"]["conditions"] = Json::array({{{"type", "Ready"}, {"status", "True"}}});
  p["status"]["containerStatuses"] = Json::array(
      {{{"name", "main"}, {"image", "busybox"}, {"imageID", ""}, {"ready", true}, {"restartCount", 1},
        {"state", {{"running", {{"startedAt", formatRfc3339(std::chrono::system_clock::now())}}}}}}});
  ASSERT_TRUE(fx_.client().update(kPods, "default", p, {}, "status").ok());
  ASSERT_TRUE(waitFor([&] { return getInt(job("restarts")["status"], "ready") == 1; }));
  EXPECT_FALSE(finishedAs("restarts", "Failed"));
  p = *fx_.get(kPods, getString(p["metadata"], "name"));
  p["status"]["containerStatuses"][0]["restartCount"] = 2;
  ASSERT_TRUE(fx_.client().update(kPods, "default", p, {}, "status").ok());
  ASSERT_TRUE(waitFor([&] { return finishedAs("restarts", "Failed"); })) << job("restarts")["status"].dump();
  Json failedJob = job("restarts");
  EXPECT_EQ((*findCondition(failedJob, "Failed"))["reason"], "BackoffLimitExceeded");
  EXPECT_TRUE(fx_.activePodsOf("restarts").empty());
  EXPECT_EQ(failedJob["status"]["ready"], 0);
}

TEST_F(JobControllerTest, CountsEveryPodOnceAcrossAControllerRestart) {
  createJob("survivor", {{"completions", 4}, {"parallelism", 3}, {"backoffLimit", 5}});
  std::vector<Json> pods = waitActive("survivor", 3);
  ASSERT_EQ(pods.size(), 3u);
  fx_.finishPod(pods[0], 0);
  ASSERT_TRUE(waitFor([&] { return getInt(job("survivor")["status"], "succeeded") == 1; }));

  // The controller is down while one pod succeeds and another is deleted: the finalizers keep
  // both for the next controller to count.
  fx_.stop();
  std::unique_ptr<JobController> old = std::move(controller_);
  fx_.finishPod(*fx_.get(kPods, getString(pods[1]["metadata"], "name")), 0);
  ASSERT_TRUE(fx_.client().remove(kPods, "default", getString(pods[2]["metadata"], "name")).ok());
  auto deleted = fx_.get(kPods, getString(pods[2]["metadata"], "name"));
  ASSERT_TRUE(deleted.has_value());
  EXPECT_TRUE(isDeleting(*deleted));

  fx_.restart();
  JobControllerOptions o;
  o.podBackoff = std::chrono::milliseconds(100);
  controller_ = std::make_unique<JobController>(fx_.context(), o);
  fx_.start({controller_.get()});
  ASSERT_TRUE(waitFor([&] {
    Json s = job("survivor")["status"];
    return getInt(s, "succeeded") == 2 && getInt(s, "failed") == 1;
  })) << job("survivor")["status"].dump();
  EXPECT_FALSE(fx_.get(kPods, getString(pods[2]["metadata"], "name")).has_value());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(waitFor([&] { return !fx_.activePodsOf("survivor").empty(); }));
    fx_.finishPod(fx_.activePodsOf("survivor")[0], 0);
    ASSERT_TRUE(waitFor([&] { return getInt(job("survivor")["status"], "succeeded") == 3 + i; }));
  }
  ASSERT_TRUE(waitFor([&] { return finishedAs("survivor", "Complete"); })) << job("survivor")["status"].dump();
  Json s = job("survivor")["status"];
  EXPECT_EQ(s["succeeded"], 4);
  EXPECT_EQ(s["failed"], 1);
}

TEST_F(JobControllerTest, JobsManagedByAnotherControllerAreLeftAlone) {
  createJob("external", {{"managedBy", "example.com/multikueue"}});
  createJob("builtin", {{"managedBy", "kubernetes.io/job-controller"}});
  waitActive("builtin", 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(fx_.podsOf("external").empty());
  EXPECT_FALSE(job("external").contains("status") && job("external")["status"].contains("startTime"));
}

TEST_F(JobControllerTest, AdoptsMatchingOrphansAndReleasesPodsThatStopMatching) {
  // An orphan pod (as left by `kubectl delete job --cascade=orphan`) with the labels of a Job
  // with a manual selector.
  Json orphan = {{"apiVersion", "v1"},
                 {"kind", "Pod"},
                 {"metadata", {{"name", "orphan"}, {"namespace", "default"}, {"labels", {{"app", "crunch"}}}}},
                 {"spec", {{"restartPolicy", "Never"}, {"containers", Json::array({{{"name", "main"}, {"image", "busybox"}}})}}}};
  ASSERT_TRUE(fx_.client().create(kPods, "default", orphan).ok());
  Json spec = {{"completions", 2},
               {"parallelism", 2},
               {"manualSelector", true},
               {"selector", {{"matchLabels", {{"app", "crunch"}}}}},
               {"template",
                {{"metadata", {{"labels", {{"app", "crunch"}}}}},
                 {"spec", {{"restartPolicy", "Never"}, {"containers", Json::array({{{"name", "main"}, {"image", "busybox"}}})}}}}}};
  Json created = createJob("crunch", spec);
  std::string uid = created["metadata"]["uid"];
  auto owned = [&] {
    std::vector<Json> out;
    for (Json& p : fx_.list(kPods, "app=crunch")) {
      const Json* ref = controllerRef(p);
      if (ref != nullptr && getString(*ref, "uid") == uid && !isPodTerminal(p)) out.push_back(std::move(p));
    }
    return out;
  };
  ASSERT_TRUE(waitFor([&] { return owned().size() == 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(owned().size(), 2u);  // the orphan and one new pod
  Json adopted = *fx_.get(kPods, "orphan");
  ASSERT_NE(controllerRef(adopted), nullptr);
  EXPECT_EQ((*controllerRef(adopted))["uid"], uid);
  EXPECT_EQ((*controllerRef(adopted))["blockOwnerDeletion"], true);
  EXPECT_TRUE(hasFinalizer(adopted, kTrackingFinalizer));

  // Relabelled out of the selector: let go (no owner, no finalizer) and replaced.
  Json patch = {{"metadata", {{"labels", {{"app", "debugging"}}}}}};
  ASSERT_TRUE(fx_.client().patch(kPods, "default", "orphan", api::PatchType::kMerge, patch.dump()).ok());
  ASSERT_TRUE(waitFor([&] {
    auto p = fx_.get(kPods, "orphan");
    return p && controllerRef(*p) == nullptr && !hasFinalizer(*p, kTrackingFinalizer);
  }));
  ASSERT_TRUE(waitFor([&] { return owned().size() == 2; }));
  for (const Json& p : owned()) fx_.finishPod(p, 0);
  ASSERT_TRUE(waitFor([&] { return finishedAs("crunch", "Complete"); }));
  EXPECT_EQ(job("crunch")["status"]["succeeded"], 2);
}

}  // namespace
}  // namespace nave::controllers::batch
