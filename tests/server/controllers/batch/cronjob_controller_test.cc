// The CronJob controller on a real API stack, with a clock the test moves.
#include "server/controllers/batch/cronjob_controller.h"

#include <gtest/gtest.h>

#include "tests/server/controllers/batch/batch_fixture.h"

namespace nave::controllers::batch {
namespace {

using testing::BatchFixture;
using testing::FakeClock;
using testing::waitFor;

class CronJobControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CronJobControllerOptions o;
    o.now = [this] { return clock_.now(); };
    controller_ = std::make_unique<CronJobController>(fx_.context(), o);
    fx_.start({controller_.get()});
  }
  void TearDown() override { fx_.stop(); }

  // Creates the CronJob and returns its creation time in seconds.
  int64_t createCronJob(const std::string& name, Json spec) {
    spec["jobTemplate"] = {{"metadata", {{"labels", {{"team", "batch"}}}}},
                           {"spec",
                            {{"template",
                              {{"spec",
                                {{"restartPolicy", "Never"},
                                 {"containers", Json::array({{{"name", "main"}, {"image", "busybox"}}})}}}}}}}};
    Json cj = {{"apiVersion", "batch/v1"},
               {"kind", "CronJob"},
               {"metadata", {{"name", name}, {"namespace", "default"}}},
               {"spec", spec}};
    auto r = fx_.client().create(kCronJobs, "default", cj);
    EXPECT_TRUE(r.ok()) << r.error().message();
    if (!r.ok()) return 0;
    return toSeconds(*parseRfc3339(getString((*r)["metadata"], "creationTimestamp")));
  }
  // Moves the clock and makes the controller look (as its timer would).
  void advanceTo(int64_t seconds, const std::string& cronJob) {
    clock_.set(fromSeconds(seconds));
    Json patch = {{"metadata", {{"annotations", {{"test/now", std::to_string(seconds)}}}}}};
    auto r = fx_.client().patch(kCronJobs, "default", cronJob, api::PatchType::kMerge, patch.dump());
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  Json cronJob(const std::string& name) { return fx_.get(kCronJobs, name).value_or(Json::object()); }
  std::vector<Json> jobsOf(const std::string& name) {
    std::vector<Json> out;
    for (Json& j : fx_.list(kJobs))
      if (getString(j["metadata"], "name").rfind(name + "-", 0) == 0) out.push_back(std::move(j));
    return out;
  }
  std::optional<Json> jobNamed(const std::string& name) { return fx_.get(kJobs, name); }
  // The Job controller's part: the Job finished.
  void finishJob(const std::string& name, bool succeeded) {
    auto j = fx_.get(kJobs, name);
    ASSERT_TRUE(j.has_value()) << name;
    std::string now = formatRfc3339(clock_.now());
    (*j)["status"]["startTime"] = now;
    (*j)["status"]["conditions"] = Json::array(
        {{{"type", succeeded ? "Complete" : "Failed"}, {"status", "True"}, {"lastTransitionTime", now}}});
    if (succeeded) (*j)["status"]["completionTime"] = now;
    auto r = fx_.client().update(kJobs, "default", *j, {}, "status");
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  static int64_t nextMinute(int64_t t) { return (t / 60 + 1) * 60; }

  FakeClock clock_{std::chrono::system_clock::now()};
  BatchFixture fx_;
  std::unique_ptr<CronJobController> controller_;
};

TEST_F(CronJobControllerTest, CreatesAJobAtEachScheduledTime) {
  int64_t created = createCronJob("tick", {{"schedule", "* * * * *"}});
  // Before the first scheduled time: nothing.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(jobsOf("tick").empty());

  int64_t first = nextMinute(created);
  advanceTo(first + 5, "tick");
  std::string name1 = "tick-" + std::to_string(first / 60);
  ASSERT_TRUE(waitFor([&] { return jobNamed(name1).has_value(); }));
  Json job = *jobNamed(name1);
  EXPECT_EQ(job["metadata"]["labels"]["team"], "batch");
  EXPECT_EQ(job["metadata"]["annotations"][kScheduledTimestampAnnotation], formatRfc3339(fromSeconds(first)));
  EXPECT_EQ(job["metadata"]["ownerReferences"][0]["kind"], "CronJob");
  EXPECT_EQ(job["metadata"]["ownerReferences"][0]["controller"], true);
  EXPECT_EQ(job["spec"]["template"]["spec"]["restartPolicy"], "Never");
  ASSERT_TRUE(waitFor([&] { return cronJob("tick")["status"].contains("active"); }));
  Json status = cronJob("tick")["status"];
  EXPECT_EQ(status["lastScheduleTime"], formatRfc3339(fromSeconds(first)));
  ASSERT_EQ(status["active"].size(), 1u);
  EXPECT_EQ(status["active"][0]["name"], name1);
  EXPECT_EQ(status["active"][0]["kind"], "Job");
  EXPECT_TRUE(waitFor([&] { return fx_.hasEvent("tick", "SuccessfulCreate", "Created job " + name1); }));

  finishJob(name1, true);
  ASSERT_TRUE(waitFor([&] { return !cronJob("tick")["status"].contains("active"); }));
  EXPECT_TRUE(cronJob("tick")["status"].contains("lastSuccessfulTime"));
  EXPECT_TRUE(waitFor([&] { return fx_.hasEvent("tick", "SawCompletedJob", "Saw completed job: " + name1 + ", condition: Complete"); }));

  // The same minute again does not run twice; the next one does.
  advanceTo(first + 30, "tick");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(jobsOf("tick").size(), 1u);
  advanceTo(first + 61, "tick");
  ASSERT_TRUE(waitFor([&] { return jobNamed("tick-" + std::to_string(first / 60 + 1)).has_value(); }));
  EXPECT_EQ(jobsOf("tick").size(), 2u);
  for (const Json& e : fx_.eventsFor("tick")) EXPECT_EQ(e["source"]["component"], "cronjob-controller");
}

TEST_F(CronJobControllerTest, OnlyTheMostRecentMissedTimeRuns) {
  int64_t created = createCronJob("late", {{"schedule", "*/5 * * * *"}});
  int64_t now = created + 3 * 3600 + 17;
  int64_t latest = now / 300 * 300;
  advanceTo(now, "late");
  ASSERT_TRUE(waitFor([&] { return jobNamed("late-" + std::to_string(latest / 60)).has_value(); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(jobsOf("late").size(), 1u);
}

TEST_F(CronJobControllerTest, TooManyMissedStartTimes) {
  int64_t created = createCronJob("skew", {{"schedule", "* * * * *"}});
  advanceTo(created + 200 * 60, "skew");
  EXPECT_TRUE(waitFor([&] { return fx_.hasEvent("skew", "TooManyMissedTimes"); }));
  EXPECT_TRUE(waitFor([&] { return jobsOf("skew").size() == 1; }));
}

TEST_F(CronJobControllerTest, ForbidSkipsWhileAJobRuns) {
  int64_t created = createCronJob("forbid", {{"schedule", "* * * * *"}, {"concurrencyPolicy", "Forbid"}});
  int64_t first = nextMinute(created);
  advanceTo(first + 1, "forbid");
  ASSERT_TRUE(waitFor([&] { return jobsOf("forbid").size() == 1; }));
  ASSERT_TRUE(waitFor([&] { return cronJob("forbid")["status"].contains("active"); }));
  advanceTo(first + 61, "forbid");
  ASSERT_TRUE(waitFor([&] {
    return fx_.hasEvent("forbid", "JobAlreadyActive",
                        "Not starting job because prior execution is running and concurrency policy is Forbid");
  }));
  EXPECT_EQ(jobsOf("forbid").size(), 1u);
  // Once it ends, the missed time still runs.
  finishJob("forbid-" + std::to_string(first / 60), true);
  ASSERT_TRUE(waitFor([&] { return jobNamed("forbid-" + std::to_string(first / 60 + 1)).has_value(); }));
}

TEST_F(CronJobControllerTest, ReplaceDeletesTheRunningJob) {
  int64_t created = createCronJob("replace", {{"schedule", "* * * * *"}, {"concurrencyPolicy", "Replace"}});
  int64_t first = nextMinute(created);
  advanceTo(first + 1, "replace");
  std::string name1 = "replace-" + std::to_string(first / 60), name2 = "replace-" + std::to_string(first / 60 + 1);
  ASSERT_TRUE(waitFor([&] { return jobNamed(name1).has_value(); }));
  ASSERT_TRUE(waitFor([&] { return cronJob("replace")["status"].contains("active"); }));
  advanceTo(first + 61, "replace");
  ASSERT_TRUE(waitFor([&] { return jobNamed(name2).has_value() && !jobNamed(name1).has_value(); }));
  ASSERT_TRUE(waitFor([&] {
    Json s = cronJob("replace")["status"];
    return s.contains("active") && s["active"].size() == 1 && s["active"][0]["name"] == name2;
  }));
  EXPECT_TRUE(waitFor([&] { return fx_.hasEvent("replace", "SuccessfulDelete", "Deleted job " + name1); }));
}

TEST_F(CronJobControllerTest, HistoryIsTrimmedToTheLimits) {
  int64_t created = createCronJob(
      "hist", {{"schedule", "* * * * *"}, {"successfulJobsHistoryLimit", 1}, {"failedJobsHistoryLimit", 1}});
  int64_t first = nextMinute(created);
  // Five runs: three succeed, two fail.
  for (int i = 0; i < 5; ++i) {
    int64_t t = first + 60 * i;
    advanceTo(t + 1, "hist");
    std::string name = "hist-" + std::to_string(t / 60);
    ASSERT_TRUE(waitFor([&] { return jobNamed(name).has_value(); })) << name;
    finishJob(name, i % 2 == 0);
  }
  ASSERT_TRUE(waitFor([&] { return jobsOf("hist").size() == 2; })) << jobsOf("hist").size();
  std::set<std::string> left;
  for (const Json& j : jobsOf("hist")) left.insert(getString(j["metadata"], "name"));
  EXPECT_EQ(left, (std::set<std::string>{"hist-" + std::to_string(first / 60 + 3), "hist-" + std::to_string(first / 60 + 4)}));
}

TEST_F(CronJobControllerTest, TimeZone) {
  if (!TimeZone::load("Asia/Tokyo").ok()) GTEST_SKIP() << "no zoneinfo database in /usr/share/zoneinfo (tzdata)";
  int64_t created = createCronJob("tokyo", {{"schedule", "0 9 * * *"}, {"timeZone", "Asia/Tokyo"}});
  // 09:00 in Tokyo is 00:00 UTC.
  int64_t midnight = (created / 86400 + 1) * 86400;
  advanceTo(midnight - 60, "tokyo");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(jobsOf("tokyo").empty());
  advanceTo(midnight + 2, "tokyo");
  std::string name = "tokyo-" + std::to_string(midnight / 60);
  ASSERT_TRUE(waitFor([&] { return jobNamed(name).has_value(); }));
  std::string stamp = (*jobNamed(name))["metadata"]["annotations"][kScheduledTimestampAnnotation];
  EXPECT_EQ(stamp.substr(10), "T09:00:00+09:00");
}

TEST_F(CronJobControllerTest, SuspendedCronJobsDoNotRun) {
  int64_t created = createCronJob("sleepy", {{"schedule", "* * * * *"}, {"suspend", true}});
  advanceTo(nextMinute(created) + 1, "sleepy");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(jobsOf("sleepy").empty());
  Json patch = {{"spec", {{"suspend", false}}}};
  ASSERT_TRUE(fx_.client().patch(kCronJobs, "default", "sleepy", api::PatchType::kMerge, patch.dump()).ok());
  EXPECT_TRUE(waitFor([&] { return jobsOf("sleepy").size() == 1; }));
}

}  // namespace
}  // namespace nave::controllers::batch
