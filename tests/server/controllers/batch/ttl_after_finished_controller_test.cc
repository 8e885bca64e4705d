// Finished Jobs are deleted ttlSecondsAfterFinished after they finished, by a timer.
#include "server/controllers/batch/ttl_after_finished_controller.h"

#include <gtest/gtest.h>

#include "tests/server/controllers/batch/batch_fixture.h"

namespace nave::controllers::batch {
namespace {

using testing::BatchFixture;
using testing::jobObject;
using testing::waitFor;

TEST(TtlAfterFinishedControllerTest, DeletesFinishedJobsAfterTheirTtl) {
  BatchFixture fx;
  TtlAfterFinishedController controller(fx.context());
  fx.start({&controller});
  auto finish = [&](const std::string& name) {
    auto j = fx.get(kJobs, name);
    ASSERT_TRUE(j.has_value());
    std::string now = formatRfc3339(std::chrono::system_clock::now());
    (*j)["status"]["conditions"] =
        Json::array({{{"type", "Complete"}, {"status", "True"}, {"lastTransitionTime", now}}});
    ASSERT_TRUE(fx.client().update(kJobs, "default", *j, {}, "status").ok());
  };
  ASSERT_TRUE(fx.client().create(kJobs, "default", jobObject("short", {{"ttlSecondsAfterFinished", 1}})).ok());
  ASSERT_TRUE(fx.client().create(kJobs, "default", jobObject("long", {{"ttlSecondsAfterFinished", 3600}})).ok());
  ASSERT_TRUE(fx.client().create(kJobs, "default", jobObject("unfinished", {{"ttlSecondsAfterFinished", 0}})).ok());
  finish("short");
  finish("long");
  // Foreground deletion: the Job is marked for deletion for the garbage collector to finish
  // (none runs here), with the foregroundDeletion finalizer.
  ASSERT_TRUE(waitFor([&] {
    auto j = fx.get(kJobs, "short");
    return !j || isDeleting(*j);
  }));
  auto j = fx.get(kJobs, "short");
  if (j) {
    EXPECT_TRUE(hasFinalizer(*j, "foregroundDeletion"));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(fx.get(kJobs, "long").has_value());
  EXPECT_FALSE(isDeleting(*fx.get(kJobs, "long")));
  EXPECT_FALSE(isDeleting(*fx.get(kJobs, "unfinished")));
  fx.stop();
}

}  // namespace
}  // namespace nave::controllers::batch
