#include <gtest/gtest.h>

#include "server/validation/internal.h"
#include "server/validation/validation.h"
#include "tests/server/validation/test_util.h"

namespace nave::validation {
namespace {

using testing::create;
using testing::describe;
using testing::findError;
using testing::hasError;
using testing::update;
using testing::yaml;

Json job() {
  return yaml(R"y(
apiVersion: batch/v1
kind: Job
metadata: {name: pi}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: pi, image: "perl:5.34", command: [perl, "-Mbignum=bpi", "-wle", "print bpi(2000)"]}]
)y");
}

TEST(Batch, JobDefaultsWithoutUid) {
  Json j = job();
  EXPECT_NO_FIELD_ERRORS(create(j));
  const Json& spec = j["spec"];
  EXPECT_EQ(spec["parallelism"], 1);
  EXPECT_EQ(spec["completions"], 1);
  EXPECT_EQ(spec["backoffLimit"], 6);
  EXPECT_EQ(spec["completionMode"], "NonIndexed");
  EXPECT_EQ(spec["suspend"], false);
  EXPECT_EQ(spec["podReplacementPolicy"], "TerminatingOrFailed");
  EXPECT_FALSE(spec.contains("selector"));

  Json parallel = job();
  parallel["spec"]["parallelism"] = 3;
  create(parallel);
  EXPECT_FALSE(parallel["spec"].contains("completions"));
}

TEST(Batch, JobSelectorIsGeneratedFromUid) {
  Json j = job();
  j["metadata"]["uid"] = "0f3a2c9e-5b1d-4c7a-9e2f-1a2b3c4d5e6f";
  EXPECT_NO_FIELD_ERRORS(create(j));
  const std::string uid = "0f3a2c9e-5b1d-4c7a-9e2f-1a2b3c4d5e6f";
  EXPECT_EQ(j["spec"]["selector"], (Json{{"matchLabels", {{"batch.kubernetes.io/controller-uid", uid}}}}));
  Json labels = {{"batch.kubernetes.io/controller-uid", uid},
                 {"batch.kubernetes.io/job-name", "pi"},
                 {"controller-uid", uid},
                 {"job-name", "pi"}};
  EXPECT_EQ(j["spec"]["template"]["metadata"]["labels"], labels);
  EXPECT_EQ(j["metadata"]["labels"], labels);

  // Template and selector are immutable afterwards.
  Json old = j;
  old["metadata"]["resourceVersion"] = "4";
  Json changed = old;
  changed["spec"]["template"]["spec"]["containers"][0]["image"] = "perl:5.36";
  FieldErrors errs = update(changed, old);
  ASSERT_EQ(errs.size(), 1u) << describe(errs);
  EXPECT_EQ(errs.errors()[0].field, "spec.template");
  EXPECT_EQ(errs.errors()[0].detail, "field is immutable");
  Json resumed = old;
  resumed["spec"]["suspend"] = true;
  EXPECT_NO_FIELD_ERRORS(update(resumed, old));

  Json wrong = job();
  wrong["metadata"]["uid"] = uid;
  wrong["spec"]["selector"] = {{"matchLabels", {{"app", "pi"}}}};
  wrong["spec"]["template"]["metadata"]["labels"] = {{"app", "pi"}};
  EXPECT_EQ(findError(create(wrong), "spec.selector")->detail, "`selector` not auto-generated");
}

TEST(Batch, JobRestartPolicy) {
  Json j = job();
  j["spec"]["template"]["spec"].erase("restartPolicy");
  FieldErrors errs = create(j);
  ASSERT_EQ(errs.size(), 1u) << describe(errs);
  EXPECT_EQ(errs.errors()[0].toString(),
            "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"");
}

TEST(Batch, JobSpecRules) {
  Json j = job();
  j["spec"]["parallelism"] = -1;
  j["spec"]["backoffLimit"] = -2;
  j["spec"]["completionMode"] = "Indexed";
  j["spec"]["manualSelector"] = true;
  FieldErrors errs = create(j);
  EXPECT_FIELD_ERROR(errs, "spec.parallelism", FieldErrorType::kInvalid);
  EXPECT_FIELD_ERROR(errs, "spec.backoffLimit", FieldErrorType::kInvalid);
  EXPECT_EQ(findError(errs, "spec.completions")->toString(),
            "spec.completions: Required value: when completion mode is Indexed");
  EXPECT_FIELD_ERROR(errs, "spec.selector", FieldErrorType::kRequired);

  Json mode = job();
  mode["spec"]["completionMode"] = "Sometimes";
  EXPECT_FIELD_ERROR(create(mode), "spec.completionMode", FieldErrorType::kNotSupported);
}

TEST(Batch, CronSchedules) {
  for (const char* ok : {"*/5 * * * *", "0 0 * * 0", "@hourly", "@daily", "@every 1h30m", "0 9-17 * * MON-FRI",
                         "15,45 */2 1 jan,jul ?", "0 0 1 */3 *", "TZ=UTC 0 0 * * *"})
    EXPECT_EQ(detail::parseCronSchedule(ok), "") << ok;
  EXPECT_EQ(detail::parseCronSchedule("hourly"), "expected exactly 5 fields, found 1: [hourly]");
  EXPECT_EQ(detail::parseCronSchedule("* * * *"), "expected exactly 5 fields, found 4: [* * * *]");
  EXPECT_EQ(detail::parseCronSchedule("60 * * * *"), "end of range (60) above maximum (59): 60");
  EXPECT_EQ(detail::parseCronSchedule("* * 0 * *"), "beginning of range (0) below minimum (1): 0");
  EXPECT_EQ(detail::parseCronSchedule("5-1 * * * *"), "beginning of range (5) beyond end of range (1): 5-1");
  EXPECT_EQ(detail::parseCronSchedule("*/0 * * * *"), "step of range should be a positive number: */0");
  EXPECT_EQ(detail::parseCronSchedule("x * * * *"),
            "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax");
  EXPECT_EQ(detail::parseCronSchedule("@fortnightly"), "unrecognized descriptor: @fortnightly");
  EXPECT_EQ(detail::parseCronSchedule("1-2-3 * * * *"), "too many hyphens: 1-2-3");
}

TEST(Batch, CronJob) {
  Json cj = yaml(R"(
apiVersion: batch/v1
kind: CronJob
metadata: {name: backup}
spec:
  schedule: "0 3 * * *"
  timeZone: Etc/UTC
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: backup, image: "backup:1"}]
)");
  EXPECT_NO_FIELD_ERRORS(create(cj));
  EXPECT_EQ(cj["spec"]["concurrencyPolicy"], "Allow");
  EXPECT_EQ(cj["spec"]["suspend"], false);
  EXPECT_EQ(cj["spec"]["successfulJobsHistoryLimit"], 3);
  EXPECT_EQ(cj["spec"]["failedJobsHistoryLimit"], 1);
  EXPECT_EQ(cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"], "ClusterFirst");
  EXPECT_FALSE(cj["spec"]["jobTemplate"]["spec"].contains("backoffLimit"));

  Json bad = cj;
  bad["metadata"]["name"] = std::string(53, 'a');
  bad["spec"]["schedule"] = "TZ=UTC 0 3 * * *";
  bad["spec"]["concurrencyPolicy"] = "Sometimes";
  bad["spec"]["timeZone"] = "Mars/Olympus_Mons";
  bad["spec"]["jobTemplate"]["spec"]["selector"] = {{"matchLabels", {{"a", "b"}}}};
  FieldErrors errs = create(bad);
  EXPECT_EQ(findError(errs, "metadata.name")->detail, "must be no more than 52 characters");
  EXPECT_EQ(findError(errs, "spec.schedule")->toString(),
            "spec.schedule: Invalid value: \"TZ=UTC 0 3 * * *\": cannot use TZ or CRON_TZ in schedule, use "
            "timeZone field instead");
  EXPECT_FIELD_ERROR(errs, "spec.concurrencyPolicy", FieldErrorType::kNotSupported);
  EXPECT_EQ(findError(errs, "spec.jobTemplate.spec.selector")->detail, "`selector` will be auto-generated");

  Json noSchedule = cj;
  noSchedule["spec"]["schedule"] = "";
  EXPECT_FIELD_ERROR(create(noSchedule), "spec.schedule", FieldErrorType::kRequired);
  Json wrongSyntax = cj;
  wrongSyntax["spec"]["schedule"] = "every hour";
  EXPECT_EQ(findError(create(wrongSyntax), "spec.schedule")->toString(),
            "spec.schedule: Invalid value: \"every hour\": expected exactly 5 fields, found 2: [every hour]");
}

}  // namespace
}  // namespace nave::validation
