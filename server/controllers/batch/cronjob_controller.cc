#include "server/controllers/batch/cronjob_controller.h"

#include <algorithm>
#include <ctime>

#include "common/log.h"

namespace nave::controllers::batch {
namespace {

constexpr char kComponent[] = "cronjob-controller";
// Past this many missed start times the controller warns of clock skew (Kubernetes' 100).
constexpr int64_t kTooManyMissed = 100;
// Wake up just after the scheduled time, not just before it.
constexpr auto kWakeDelta = std::chrono::milliseconds(100);

const Json& member(const Json& o, std::string_view key) {
  static const Json kNull;
  const Json* m = findMember(o, key);
  return m != nullptr ? *m : kNull;
}

std::string nameOf(const Json& o) { return getString(member(o, "metadata"), "name"); }
std::string uidOf(const Json& o) { return getString(member(o, "metadata"), "uid"); }

// RFC 3339 in `zone` ("2026-11-27T09:00:00+09:00", "...Z" in UTC), as Go formats it.
std::string formatInZone(int64_t at, const TimeZone& zone) {
  CivilTime c = zone.civil(at);
  int offset = zone.offsetAt(at);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", c.year, c.month, c.day, c.hour, c.minute, c.second);
  std::string out = buf;
  if (offset == 0) return out + "Z";
  int a = offset < 0 ? -offset : offset;
  std::snprintf(buf, sizeof buf, "%c%02d:%02d", offset < 0 ? '-' : '+', a / 3600, a / 60 % 60);
  return out + buf;
}

// Go's time.RFC1123Z in UTC: "Mon, 02 Jan 2006 15:04:05 +0000".
std::string formatRfc1123z(int64_t at) {
  std::time_t t = static_cast<std::time_t>(at);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

bool activeHas(const Json& status, const std::string& uid) {
  const Json& active = member(status, "active");
  if (!active.is_array()) return false;
  return std::any_of(active.begin(), active.end(), [&](const Json& r) { return getString(r, "uid") == uid; });
}

bool activeHasName(const Json& status, const std::string& name) {
  const Json& active = member(status, "active");
  if (!active.is_array()) return false;
  return std::any_of(active.begin(), active.end(), [&](const Json& r) { return getString(r, "name") == name; });
}

bool removeFromActive(Json& status, const std::string& uid) {
  if (!status.contains("active") || !status["active"].is_array()) return false;
  Json& active = status["active"];
  size_t before = active.size();
  Json kept = Json::array();
  for (Json& r : active)
    if (getString(r, "uid") != uid) kept.push_back(std::move(r));
  active = std::move(kept);
  if (active.empty()) status.erase("active");
  return before != (status.contains("active") ? status["active"].size() : 0);
}

Json jobReference(const Json& job) {
  const Json& meta = member(job, "metadata");
  return {{"apiVersion", "batch/v1"},
          {"kind", "Job"},
          {"name", getString(meta, "name")},
          {"namespace", getString(meta, "namespace")},
          {"uid", getString(meta, "uid")},
          {"resourceVersion", getString(meta, "resourceVersion")}};
}

struct MostRecent {
  int64_t earliest = 0;
  std::optional<int64_t> time;  // the most recent scheduled time not after now
  int64_t missed = 0;           // roughly how many were missed
};

// The most recent scheduled time between the last one run (or the CronJob's creation, or the
// starting deadline) and now (Kubernetes' mostRecentScheduleTime). Error for a schedule
// whose runs are under a second apart or impossible.
Result<MostRecent> mostRecentScheduleTime(const Json& cronJob, int64_t now, const CronSchedule& schedule,
                                          bool withStartingDeadline) {
  MostRecent out;
  auto created = parseRfc3339(getString(member(cronJob, "metadata"), "creationTimestamp"));
  out.earliest = created ? toSeconds(*created) : now;
  if (auto last = parseRfc3339(getString(member(cronJob, "status"), "lastScheduleTime"))) out.earliest = toSeconds(*last);
  const Json& deadline = member(member(cronJob, "spec"), "startingDeadlineSeconds");
  if (withStartingDeadline && deadline.is_number_integer())
    out.earliest = std::max(out.earliest, now - deadline.get<int64_t>());
  int64_t t1 = schedule.next(out.earliest);
  if (t1 == 0 || now < t1) return out;
  int64_t t2 = schedule.next(t1);
  if (t2 == 0 || now < t2) {
    out.time = t1;
    out.missed = 1;
    return out;
  }
  int64_t between = t2 - t1;
  if (between < 1) return Error(ErrorCode::kInvalid, "time difference between two schedules is less than 1 second");
  out.missed = (now - t1) / between + 1;
  // Jump close to now, then walk the last stretch (schedules need not be regular).
  int64_t from = t1 + (out.missed - 2) * between;
  for (int64_t t = schedule.next(from); t != 0 && t <= now; t = schedule.next(t)) out.time = t;
  return out;
}

}  // namespace

CronJobController::CronJobController(ControllerContext& ctx, CronJobControllerOptions options)
    : ctx_(ctx), options_(std::move(options)), cronJobs_(ctx.informers.informer(kCronJobs)),
      jobs_(ctx.informers.informer(kJobs)) {
  cronJobs_.addHandler([this](const std::string& key) { queue_.add(key); });
  jobs_.addObjectHandler([this](const Json* before, const Json* after) {
    const Json& job = after != nullptr ? *after : *before;
    const Json* ref = controllerRef(job);
    if (ref == nullptr || getString(*ref, "kind") != "CronJob") return;
    queue_.add(getString(member(job, "metadata"), "namespace") + "/" + getString(*ref, "name"));
  });
}

CronJobController::~CronJobController() { stop(); }

void CronJobController::start() {
  workers_.start(queue_, options_.workers, "cronjob", [this](const std::string& k) { return sync(k); });
}

void CronJobController::stop() { workers_.stop(); }

bool CronJobController::deleteJob(const Json& cronJob, Json& status, const Json& job) {
  api::DeleteOptions opts;
  opts.propagationPolicy = "Background";
  auto r = ctx_.client.remove(kJobs, getString(job["metadata"], "namespace"), nameOf(job), opts);
  if (!r.ok() && !r.error().is(ErrorCode::kNotFound)) {
    ctx_.events.eventAs(kComponent, cronJob, "Warning", "FailedDelete", "Deleted job: " + r.error().message());
    return false;
  }
  removeFromActive(status, uidOf(job));
  ctx_.events.eventAs(kComponent, cronJob, "Normal", "SuccessfulDelete", "Deleted job " + nameOf(job));
  return true;
}

bool CronJobController::trimHistory(const Json& cronJob, Json& status, std::vector<Json>& jobs) {
  const Json& spec = member(cronJob, "spec");
  bool changed = false;
  for (const char* kind : {"Complete", "Failed"}) {
    const Json& limit = member(spec, std::string(kind) == "Complete" ? "successfulJobsHistoryLimit" : "failedJobsHistoryLimit");
    if (!limit.is_number_integer()) continue;
    std::vector<const Json*> finished;
    for (const Json& j : jobs)
      if (jobFinishedType(j) == kind && !isDeleting(j)) finished.push_back(&j);
    int64_t excess = static_cast<int64_t>(finished.size()) - limit.get<int64_t>();
    if (excess <= 0) continue;
    // Oldest start first; Jobs that never started after those, by name.
    std::sort(finished.begin(), finished.end(), [](const Json* a, const Json* b) {
      auto sa = parseRfc3339(getString(member(*a, "status"), "startTime"));
      auto sb = parseRfc3339(getString(member(*b, "status"), "startTime"));
      if (sa && sb && *sa != *sb) return *sa < *sb;
      if (sa.has_value() != sb.has_value()) return sa.has_value();
      return nameOf(*a) < nameOf(*b);
    });
    for (int64_t i = 0; i < excess; ++i)
      if (deleteJob(cronJob, status, *finished[i])) changed = true;
  }
  return changed;
}

Result<Reconciled> CronJobController::sync(const std::string& key) {
  std::optional<Json> found = cronJobs_.get(key);
  if (!found) return Reconciled{};
  const Json cronJob = std::move(*found);
  const Json& spec = member(cronJob, "spec");
  const std::string ns = getString(cronJob["metadata"], "namespace");
  const std::string uid = uidOf(cronJob);
  const int64_t now = toSeconds(options_.now());
  const WallTime nowTime = options_.now();

  std::vector<Json> jobs;
  for (Json& j : jobs_.byIndex(Informer::kOwnerIndex, uid)) {
    const Json* ref = controllerRef(j);
    if (ref != nullptr && getString(*ref, "uid") == uid) jobs.push_back(std::move(j));
  }
  Json status = cronJob.contains("status") && cronJob["status"].is_object() ? cronJob["status"] : Json::object();
  const Json original = status;
  auto writeStatus = [&]() -> Result<void> {
    if (status == original) return {};
    Json next = cronJob;
    next["status"] = status;
    auto r = ctx_.client.update(kCronJobs, ns, next, {}, "status");
    if (!r.ok() && r.error().is(ErrorCode::kConflict)) {
      // Someone changed the spec or metadata meanwhile. The status is ours alone: if it is
      // still what this sync started from, put the new one on the fresh object (dropping it
      // would forget a Job just created).
      auto fresh = ctx_.client.get(kCronJobs, ns, nameOf(cronJob));
      if (fresh.ok() && uidOf(*fresh) == uid && (*fresh).value("status", Json::object()) == original) {
        (*fresh)["status"] = status;
        r = ctx_.client.update(kCronJobs, ns, *fresh, {}, "status");
      }
    }
    if (!r.ok() && !r.error().is(ErrorCode::kNotFound))
      return std::move(r).error().context("updating status of cronjob " + key);
    return {};
  };
  auto finish = [&](std::optional<std::chrono::milliseconds> after) -> Result<Reconciled> {
    TRY(writeStatus());
    return Reconciled{after};
  };

  trimHistory(cronJob, status, jobs);

  // Reconcile status.active with the Jobs.
  for (const Json& j : jobs) {
    const bool inActive = activeHas(status, uidOf(j));
    const std::string finished = jobFinishedType(j);
    if (!inActive && finished.empty() && !isDeleting(j)) {
      ctx_.events.eventAs(kComponent, cronJob, "Warning", "UnexpectedJob",
                          "Saw a job that the controller did not create or forgot: " + nameOf(j));
    } else if (inActive && !finished.empty()) {
      removeFromActive(status, uidOf(j));
      ctx_.events.eventAs(kComponent, cronJob, "Normal", "SawCompletedJob",
                          "Saw completed job: " + nameOf(j) + ", condition: " + finished);
    }
    if (finished == "Complete") {
      auto done = parseRfc3339(getString(member(j, "status"), "completionTime"));
      auto last = parseRfc3339(getString(status, "lastSuccessfulTime"));
      if (done && (!last || *done > *last)) status["lastSuccessfulTime"] = formatRfc3339(*done);
    }
  }
  if (status.contains("active") && status["active"].is_array()) {
    std::set<std::string> have;
    for (const Json& j : jobs) have.insert(uidOf(j));
    for (const Json& ref : Json(status["active"])) {
      if (have.count(getString(ref, "uid"))) continue;
      // The informer may lag behind a Job just created: ask the API.
      auto live = ctx_.client.get(kJobs, ns, getString(ref, "name"));
      if (live.ok() && uidOf(*live) == getString(ref, "uid")) continue;
      if (!live.ok() && !live.error().is(ErrorCode::kNotFound)) return std::move(live).error();
      ctx_.events.eventAs(kComponent, cronJob, "Normal", "MissingJob", "Active job went missing: " + getString(ref, "name"));
      removeFromActive(status, getString(ref, "uid"));
    }
  }

  if (isDeleting(cronJob)) return finish(std::nullopt);

  TimeZone zone;
  if (const Json& tz = member(spec, "timeZone"); tz.is_string()) {
    auto loaded = TimeZone::load(tz.get<std::string>(), options_.zoneinfoDir);
    if (!loaded.ok()) {
      ctx_.events.eventAs(kComponent, cronJob, "Warning", "UnknownTimeZone",
                          "invalid timeZone: " + Json(tz).dump() + ": " + loaded.error().message());
      return finish(std::nullopt);
    }
    zone = std::move(*loaded);
  }
  if (getBool(spec, "suspend")) return finish(std::nullopt);
  const std::string scheduleText = getString(spec, "schedule");
  if (scheduleText.find("TZ") != std::string::npos)
    ctx_.events.eventAs(kComponent, cronJob, "Warning", "UnsupportedSchedule",
                        "CRON_TZ or TZ used in schedule " + Json(scheduleText).dump() +
                            " is not officially supported, see "
                            "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details");
  auto schedule = CronSchedule::parse(scheduleText, zone);
  if (!schedule.ok()) {
    ctx_.events.eventAs(kComponent, cronJob, "Warning", "UnparseableSchedule",
                        "unparseable schedule: " + Json(scheduleText).dump() + " : " + schedule.error().message());
    return finish(std::nullopt);
  }
  // When to look again: just after the next scheduled time.
  Json withStatus = cronJob;
  auto nextWakeUp = [&]() -> std::optional<std::chrono::milliseconds> {
    withStatus["status"] = status;
    auto recent = mostRecentScheduleTime(withStatus, now, *schedule, false);
    if (!recent.ok()) return std::nullopt;
    int64_t next = schedule->next(recent->time.value_or(recent->earliest));
    if (next == 0) return std::nullopt;
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(fromSeconds(next) - nowTime) + kWakeDelta;
    return std::max(wait, kWakeDelta);
  };

  auto recent = mostRecentScheduleTime(withStatus, now, *schedule, true);
  if (!recent.ok()) {
    ctx_.events.eventAs(kComponent, cronJob, "Warning", "InvalidSchedule",
                        "invalid schedule: " + scheduleText + " : " + recent.error().message());
    return finish(std::nullopt);
  }
  if (!recent->time) return finish(nextWakeUp());
  if (recent->missed > kTooManyMissed)
    ctx_.events.eventAs(kComponent, cronJob, "Warning", "TooManyMissedTimes",
                        "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew");
  const int64_t scheduled = *recent->time;

  const Json& deadline = member(spec, "startingDeadlineSeconds");
  if (deadline.is_number_integer() && scheduled + deadline.get<int64_t>() < now) {
    ctx_.events.eventAs(kComponent, cronJob, "Warning", "MissSchedule",
                        "Missed scheduled time to start a job: " + formatRfc1123z(scheduled));
    return finish(nextWakeUp());
  }
  const std::string jobName = nameOf(cronJob) + "-" + std::to_string(scheduled / 60);
  if (activeHasName(status, jobName) || getString(status, "lastScheduleTime") == formatRfc3339(fromSeconds(scheduled)))
    return finish(nextWakeUp());

  const std::string policy = getString(spec, "concurrencyPolicy", "Allow");
  const bool anyActive = member(status, "active").is_array() && !status["active"].empty();
  if (policy == "Forbid" && anyActive) {
    ctx_.events.eventAs(kComponent, cronJob, "Normal", "JobAlreadyActive",
                        "Not starting job because prior execution is running and concurrency policy is Forbid");
    return finish(nextWakeUp());
  }
  if (policy == "Replace" && anyActive) {
    for (const Json& ref : Json(status["active"])) {
      auto job = ctx_.client.get(kJobs, ns, getString(ref, "name"));
      if (!job.ok()) {
        if (job.error().is(ErrorCode::kNotFound)) {
          removeFromActive(status, getString(ref, "uid"));
          continue;
        }
        ctx_.events.eventAs(kComponent, cronJob, "Warning", "FailedGet", "Get job: " + job.error().message());
        TRY(writeStatus());
        return std::move(job).error();
      }
      if (!deleteJob(cronJob, status, *job)) {
        TRY(writeStatus());
        return Error(ErrorCode::kUnavailable, "could not replace job " + ns + "/" + nameOf(*job));
      }
    }
  }

  // The Job, from the template.
  const Json& templ = member(spec, "jobTemplate");
  Json meta = {{"name", jobName}, {"namespace", ns}};
  meta["labels"] = member(member(templ, "metadata"), "labels").is_object() ? templ["metadata"]["labels"] : Json::object();
  meta["annotations"] =
      member(member(templ, "metadata"), "annotations").is_object() ? templ["metadata"]["annotations"] : Json::object();
  meta["annotations"][kScheduledTimestampAnnotation] = formatInZone(scheduled, zone);
  meta["ownerReferences"] = Json::array({controllerRefTo(cronJob, "batch/v1", "CronJob")});
  Json job = {{"apiVersion", "batch/v1"},
              {"kind", "Job"},
              {"metadata", std::move(meta)},
              {"spec", member(templ, "spec").is_object() ? templ["spec"] : Json::object()}};
  auto created = ctx_.client.create(kJobs, ns, job);
  if (!created.ok()) {
    if (!created.error().is(ErrorCode::kAlreadyExists)) {
      ctx_.events.eventAs(kComponent, cronJob, "Warning", "FailedCreate", "Error creating job: " + created.error().message());
      TRY(writeStatus());
      return std::move(created).error();
    }
    // Made before (a status update lost, a restart): adopt it if it is ours.
    auto existing = ctx_.client.get(kJobs, ns, jobName);
    if (!existing.ok()) return std::move(existing).error();
    const Json* ref = controllerRef(*existing);
    if (ref == nullptr || getString(*ref, "uid") != uid || activeHas(status, uidOf(*existing)))
      return finish(nextWakeUp());
    created = std::move(*existing);
  } else {
    ctx_.events.eventAs(kComponent, cronJob, "Normal", "SuccessfulCreate", "Created job " + jobName);
    log::v(2, "created job", {{"cronjob", key}, {"job", jobName}});
  }
  if (!status.contains("active") || !status["active"].is_array()) status["active"] = Json::array();
  status["active"].push_back(jobReference(*created));
  status["lastScheduleTime"] = formatRfc3339(fromSeconds(scheduled));
  return finish(nextWakeUp());
}

}  // namespace nave::controllers::batch
