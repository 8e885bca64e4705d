// batch/v1: Job and CronJob (pkg/apis/batch/v1/defaults.go, pkg/apis/batch/validation), with a
// port of the schedule grammar of robfig/cron/v3's standard parser, messages included.
#include <sys/stat.h>

#include <map>

#include "common/strings.h"
#include "server/validation/internal.h"

namespace nave::validation::detail {
namespace {

constexpr std::string_view kControllerUid = "batch.kubernetes.io/controller-uid";
constexpr std::string_view kJobName = "batch.kubernetes.io/job-name";
constexpr std::string_view kLegacyControllerUid = "controller-uid";
constexpr std::string_view kLegacyJobName = "job-name";

// ---- cron -----------------------------------------------------------------------------------

struct Bounds {
  int min, max;
  const std::map<std::string, int>* names;
};

const std::map<std::string, int> kMonths = {{"jan", 1}, {"feb", 2}, {"mar", 3}, {"apr", 4},
                                            {"may", 5}, {"jun", 6}, {"jul", 7}, {"aug", 8},
                                            {"sep", 9}, {"oct", 10}, {"nov", 11}, {"dec", 12}};
const std::map<std::string, int> kDays = {{"sun", 0}, {"mon", 1}, {"tue", 2}, {"wed", 3},
                                          {"thu", 4}, {"fri", 5}, {"sat", 6}};

// Go's strconv.Atoi, with its error text.
bool atoi(std::string_view s, long long& out, std::string& err) {
  std::string quoted = Json(std::string(s)).dump();
  size_t i = 0;
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    i = 1;
  }
  if (i >= s.size()) {
    err = "strconv.Atoi: parsing " + quoted + ": invalid syntax";
    return false;
  }
  long long v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') {
      err = "strconv.Atoi: parsing " + quoted + ": invalid syntax";
      return false;
    }
    v = v * 10 + (s[i] - '0');
    if (v > 1000000000000LL) {
      err = "strconv.Atoi: parsing " + quoted + ": value out of range";
      return false;
    }
  }
  out = neg ? -v : v;
  return true;
}

bool mustParseInt(std::string_view expr, long long& out, std::string& err) {
  std::string inner;
  if (!atoi(expr, out, inner)) {
    err = "failed to parse int from " + std::string(expr) + ": " + inner;
    return false;
  }
  if (out < 0) {
    err = "negative number (" + std::to_string(out) + ") not allowed: " + std::string(expr);
    return false;
  }
  return true;
}

bool parseIntOrName(std::string_view expr, const Bounds& b, long long& out, std::string& err) {
  if (b.names != nullptr) {
    auto it = b.names->find(toLower(expr));
    if (it != b.names->end()) {
      out = it->second;
      return true;
    }
  }
  return mustParseInt(expr, out, err);
}

std::string checkRange(std::string_view expr, const Bounds& b) {
  std::vector<std::string> rangeAndStep = split(expr, '/');
  std::vector<std::string> lowAndHigh = split(rangeAndStep[0], '-');
  bool single = lowAndHigh.size() == 1;
  long long start = 0, end = 0, step = 1;
  std::string err;
  if (lowAndHigh[0] == "*" || lowAndHigh[0] == "?") {
    start = b.min;
    end = b.max;
  } else {
    if (!parseIntOrName(lowAndHigh[0], b, start, err)) return err;
    if (lowAndHigh.size() == 1) {
      end = start;
    } else if (lowAndHigh.size() == 2) {
      if (!parseIntOrName(lowAndHigh[1], b, end, err)) return err;
    } else {
      return "too many hyphens: " + std::string(expr);
    }
  }
  if (rangeAndStep.size() == 2) {
    if (!mustParseInt(rangeAndStep[1], step, err)) return err;
    if (single) end = b.max;
  } else if (rangeAndStep.size() > 2) {
    return "too many slashes: " + std::string(expr);
  }
  if (start < b.min)
    return "beginning of range (" + std::to_string(start) + ") below minimum (" + std::to_string(b.min) +
           "): " + std::string(expr);
  if (end > b.max)
    return "end of range (" + std::to_string(end) + ") above maximum (" + std::to_string(b.max) +
           "): " + std::string(expr);
  if (start > end)
    return "beginning of range (" + std::to_string(start) + ") beyond end of range (" + std::to_string(end) +
           "): " + std::string(expr);
  if (step == 0) return "step of range should be a positive number: " + std::string(expr);
  return "";
}

std::vector<std::string> fields(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

// Go's time.ParseDuration, only to accept or refuse "@every <duration>".
bool validDuration(std::string_view s) {
  if (s.empty()) return false;
  size_t i = 0;
  if (s[0] == '+' || s[0] == '-') ++i;
  if (s.substr(i) == "0") return true;
  bool any = false;
  while (i < s.size()) {
    size_t digits = 0;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) {
      ++i;
      ++digits;
    }
    if (digits == 0) return false;
    size_t unitStart = i;
    while (i < s.size() && !((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
    std::string_view unit = s.substr(unitStart, i - unitStart);
    if (unit != "ns" && unit != "us" && unit != "µs" && unit != "ms" && unit != "s" && unit != "m" && unit != "h")
      return false;
    any = true;
  }
  return any;
}

// time.LoadLocation: UTC and names found in the zoneinfo database.
std::string loadLocationError(std::string_view name) {
  if (name.empty() || name == "UTC" || name == "Local") return "";
  if (name.find("..") != std::string_view::npos || name[0] == '/' || name.find('\\') != std::string_view::npos)
    return "time: invalid location name";
  struct stat st;
  if (stat("/usr/share/zoneinfo", &st) != 0) return "";  // no database to check against
  std::string path = "/usr/share/zoneinfo/" + std::string(name);
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return "unknown time zone " + std::string(name);
  return "";
}

void validateTimeZone(const Json& spec, const std::string& path, FieldErrors& errs) {
  const Json* tz = get(spec, "timeZone");
  if (tz == nullptr || !tz->is_string()) return;
  std::string name = tz->get<std::string>();
  if (name.empty()) {
    errs.invalid(path, name, "timeZone must be nil or non-empty string");
    return;
  }
  if (toLower(name) == "local")
    errs.invalid(path, name, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones");
  if (std::string e = loadLocationError(name); !e.empty()) errs.invalid(path, name, e);
}

// ---- jobs -----------------------------------------------------------------------------------

void validateJobSpecCommon(const Json& spec, const std::string& path, FieldErrors& errs) {
  for (std::string_view k : {"parallelism", "completions", "activeDeadlineSeconds", "backoffLimit",
                             "ttlSecondsAfterFinished", "backoffLimitPerIndex", "maxFailedIndexes"})
    nonNegative(spec, k, child(path, k), errs);
  std::string mode = str(spec, "completionMode");
  if (const Json* m = get(spec, "completionMode")) {
    if (mode != "NonIndexed" && mode != "Indexed")
      errs.notSupported(child(path, "completionMode"), *m, {"NonIndexed", "Indexed"});
  }
  if (get(spec, "backoffLimitPerIndex") != nullptr && mode != "Indexed")
    errs.forbidden(child(path, "backoffLimitPerIndex"), "requires indexed completion mode");
  if (mode == "Indexed") {
    if (get(spec, "completions") == nullptr) errs.required(child(path, "completions"), "when completion mode is Indexed");
    if (std::optional<int64_t> p = optInt(spec, "parallelism"); p && *p > 100000)
      errs.invalid(child(path, "parallelism"), *p, "must be less than or equal to 100000 when completion mode is Indexed");
    if (std::optional<int64_t> c = optInt(spec, "completions"); c && *c > 100000)
      errs.invalid(child(path, "completions"), *c, "must be less than or equal to 100000 when completion mode is Indexed");
  }
  if (const Json* prp = get(spec, "podReplacementPolicy")) {
    if (*prp != "TerminatingOrFailed" && *prp != "Failed")
      errs.notSupported(child(path, "podReplacementPolicy"), *prp, {"TerminatingOrFailed", "Failed"});
    else if (get(spec, "podFailurePolicy") != nullptr && *prp != "Failed")
      errs.notSupported(child(path, "podReplacementPolicy"), *prp, {"Failed"});
  }
  if (const Json* pfp = getObject(spec, "podFailurePolicy")) {
    const Json& rules = arrayOf(*pfp, "rules");
    for (size_t i = 0; i < rules.size(); ++i) {
      std::string rp = index(child(child(path, "podFailurePolicy"), "rules"), i);
      std::string action = str(rules[i], "action");
      if (action != "FailJob" && action != "FailIndex" && action != "Ignore" && action != "Count")
        errs.notSupported(child(rp, "action"), action, {"Count", "FailIndex", "FailJob", "Ignore"});
      bool exit = get(rules[i], "onExitCodes") != nullptr;
      bool cond = !arrayOf(rules[i], "onPodConditions").empty();
      if (exit && cond) errs.invalid(rp, rules[i], "specifying both OnExitCodes and OnPodConditions is not supported");
      if (!exit && !cond) errs.invalid(rp, rules[i], "specifying one of OnExitCodes and OnPodConditions is required");
    }
  }
  PodSpecOptions opts;
  validatePodTemplateSpec(objectOf(spec, "template"), child(path, "template"), opts, errs);
  std::string restart = str(objectOf(objectOf(spec, "template"), "spec"), "restartPolicy");
  std::string rpath = child(child(child(path, "template"), "spec"), "restartPolicy");
  if (restart == "Always" || restart.empty()) {
    errs.required(rpath, "valid values: \"OnFailure\", \"Never\"");
  } else if (restart != "OnFailure" && restart != "Never") {
    errs.notSupported(rpath, restart, {"OnFailure", "Never"});
  } else if (get(spec, "podFailurePolicy") != nullptr && restart != "Never") {
    errs.invalid(rpath, restart, "only \"Never\" is supported when podFailurePolicy is specified");
  }
}

void hasLabel(const Json& templMeta, std::string_view label, const std::string& expected, FieldErrors& errs) {
  const Json& labels = objectOf(templMeta, "labels");
  std::string p = key("spec.template.metadata.labels", label);
  const Json* v = findMember(labels, label);
  if (v == nullptr) {
    errs.required(p, "must be '" + expected + "'");
  } else if (*v != expected) {
    errs.invalid(p, labels, "must be '" + expected + "'");
  }
}

void generateSelector(Json& job) {
  const Json& meta = objectOf(job, "metadata");
  std::string uid = str(meta, "uid");
  std::string name = str(meta, "name");
  Json* spec = mutObject(job, "spec");
  if (spec == nullptr || uid.empty() || truthy(*spec, "manualSelector")) return;
  Json* templ = ensureObject(*spec, "template");
  Json* tmeta = templ != nullptr ? ensureObject(*templ, "metadata") : nullptr;
  Json* labels = tmeta != nullptr ? ensureObject(*tmeta, "labels") : nullptr;
  Json* selector = ensureObject(*spec, "selector");
  Json* match = selector != nullptr ? ensureObject(*selector, "matchLabels") : nullptr;
  if (labels == nullptr || match == nullptr) return;
  for (std::string_view k : {kLegacyJobName, kJobName})
    if (!labels->contains(k)) (*labels)[std::string(k)] = name;
  for (std::string_view k : {kLegacyControllerUid, kControllerUid})
    if (!labels->contains(k)) (*labels)[std::string(k)] = uid;
  if (!match->contains(kControllerUid)) (*match)[std::string(kControllerUid)] = uid;
}

}  // namespace

std::string parseCronSchedule(std::string_view spec) {
  std::string s(spec);
  if (s.empty()) return "empty spec string";
  if (s.rfind("TZ=", 0) == 0 || s.rfind("CRON_TZ=", 0) == 0) {
    size_t eq = s.find('=');
    size_t space = s.find(' ');
    if (space == std::string::npos) return "missing spec after timezone";
    std::string tz = s.substr(eq + 1, space - eq - 1);
    if (std::string e = loadLocationError(tz); !e.empty()) return "provided bad location " + tz + ": " + e;
    s = std::string(trim(s.substr(space)));
  }
  if (!s.empty() && s[0] == '@') {
    static const std::vector<std::string> kDescriptors = {"@yearly", "@annually", "@monthly", "@weekly",
                                                          "@daily",  "@midnight", "@hourly"};
    for (const std::string& d : kDescriptors)
      if (s == d) return "";
    if (s.rfind("@every ", 0) == 0) {
      std::string dur = s.substr(7);
      if (!validDuration(dur))
        return "failed to parse duration " + s + ": time: invalid duration " + Json(dur).dump();
      return "";
    }
    return "unrecognized descriptor: " + s;
  }
  std::vector<std::string> f = fields(s);
  if (f.size() != 5) {
    std::string list = "[";
    for (size_t i = 0; i < f.size(); ++i) list += (i ? " " : "") + f[i];
    list += "]";
    return "expected exactly 5 fields, found " + std::to_string(f.size()) + ": " + list;
  }
  const Bounds bounds[5] = {{0, 59, nullptr}, {0, 23, nullptr}, {1, 31, nullptr}, {1, 12, &kMonths}, {0, 6, &kDays}};
  for (size_t i = 0; i < 5; ++i)
    for (const std::string& part : split(f[i], ','))
      if (std::string e = checkRange(part, bounds[i]); !e.empty()) return e;
  return "";
}

void defaultJob(Json& o) {
  Json* spec = mutObject(o, "spec");
  if (spec == nullptr) return;
  // The API server's create strategy generates the selector from the uid; doing it here, before
  // the labels are copied, gives the object Kubernetes shows.
  generateSelector(o);
  if (get(*spec, "completions") == nullptr && get(*spec, "parallelism") == nullptr) {
    (*spec)["completions"] = 1;
    (*spec)["parallelism"] = 1;
  }
  defaultIfAbsent(*spec, "parallelism", 1);
  if (get(*spec, "backoffLimit") == nullptr)
    (*spec)["backoffLimit"] = get(*spec, "backoffLimitPerIndex") != nullptr ? 2147483647 : 6;
  if (const Json* labels = getObject(objectOf(objectOf(*spec, "template"), "metadata"), "labels")) {
    if (Json* meta = ensureObject(o, "metadata"); meta != nullptr && !isSet(*meta, "labels"))
      (*meta)["labels"] = *labels;
  }
  defaultIfAbsent(*spec, "completionMode", "NonIndexed");
  defaultIfAbsent(*spec, "suspend", false);
  if (Json* pfp = mutObject(*spec, "podFailurePolicy"))
    if (Json* rules = mutArray(*pfp, "rules"))
      for (Json& rule : *rules)
        if (Json* conds = mutArray(rule, "onPodConditions"))
          for (Json& c : *conds) defaultIfZero(c, "status", "True");
  defaultIfAbsent(*spec, "podReplacementPolicy",
                  get(*spec, "podFailurePolicy") != nullptr ? "Failed" : "TerminatingOrFailed");
  if (Json* t = mutObject(*spec, "template")) defaultPodTemplate(*t);
}

void defaultCronJob(Json& o) {
  Json* spec = mutObject(o, "spec");
  if (spec == nullptr) return;
  defaultIfZero(*spec, "concurrencyPolicy", "Allow");
  defaultIfAbsent(*spec, "suspend", false);
  defaultIfAbsent(*spec, "successfulJobsHistoryLimit", 3);
  defaultIfAbsent(*spec, "failedJobsHistoryLimit", 1);
  if (Json* jt = mutObject(*spec, "jobTemplate"))
    if (Json* js = mutObject(*jt, "spec"))
      if (Json* t = mutObject(*js, "template")) defaultPodTemplate(*t);
}

void validateJob(const Json& o, const Json* old, Operation op, FieldErrors& errs) {
  const Json& spec = objectOf(o, "spec");
  if (op == Operation::kStatusUpdate) {
    const Json& status = objectOf(o, "status");
    for (std::string_view k : {"active", "succeeded", "failed", "ready", "terminating"})
      nonNegative(status, k, child("status", k), errs);
    return;
  }
  const Json& meta = objectOf(o, "metadata");
  const Json* selector = getObject(spec, "selector");
  bool manual = truthy(spec, "manualSelector");
  std::string uid = str(meta, "uid");
  // Generated selectors (validateGeneratedSelector); skipped until the server has given the Job
  // its uid and generated the selector.
  if (!manual && selector != nullptr && !uid.empty()) {
    const Json& tmeta = objectOf(objectOf(spec, "template"), "metadata");
    hasLabel(tmeta, kLegacyControllerUid, uid, errs);
    hasLabel(tmeta, kLegacyJobName, str(meta, "name"), errs);
    if (op == Operation::kCreate) {
      hasLabel(tmeta, kControllerUid, uid, errs);
      hasLabel(tmeta, kJobName, str(meta, "name"), errs);
    }
    Json expected = {{std::string(kLegacyControllerUid), uid},
                     {std::string(kLegacyJobName), str(meta, "name")},
                     {std::string(kControllerUid), uid},
                     {std::string(kJobName), str(meta, "name")}};
    if (!selectorMatches(*selector, expected))
      errs.invalid("spec.selector", *selector, "`selector` not auto-generated");
  }
  validateJobSpecCommon(spec, "spec", errs);
  if (selector == nullptr) {
    if (manual || op != Operation::kCreate) errs.required("spec.selector");
  } else {
    validateLabelSelector(*selector, "spec.selector", errs);
    const Json& labels = objectOf(objectOf(objectOf(spec, "template"), "metadata"), "labels");
    if (!selectorMatches(*selector, labels))
      errs.invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`");
  }
  if (str(spec, "completionMode") == "Indexed") {
    if (std::optional<int64_t> c = optInt(spec, "completions"); c && *c > 0) {
      std::string host = str(meta, "name") + "-" + std::to_string(*c - 1);
      if (!isDns1123Label(host).empty())
        errs.invalid("metadata.name", str(meta, "name"), "will not able to create pod with invalid DNS label: " + host);
    }
  }
  if (op != Operation::kUpdate || old == nullptr) return;
  const Json& oldSpec = objectOf(*old, "spec");
  immutableField(spec, oldSpec, "selector", "spec.selector", errs);
  bool indexed = str(spec, "completionMode") == "Indexed" && str(oldSpec, "completionMode") == "Indexed";
  if (!jsonEqual(memberOrNull(spec, "completions"), memberOrNull(oldSpec, "completions"))) {
    if (indexed && optInt(spec, "completions").has_value()) {
      if (optInt(spec, "completions") != optInt(spec, "parallelism"))
        errs.invalid("spec.completions", memberOrNull(spec, "completions"),
                     "can only be modified in tandem with spec.parallelism");
    } else {
      errs.invalid("spec.completions", memberOrNull(spec, "completions"), std::string(kImmutable));
    }
  }
  immutableField(spec, oldSpec, "completionMode", "spec.completionMode", errs);
  immutableField(spec, oldSpec, "podFailurePolicy", "spec.podFailurePolicy", errs);
  immutableField(spec, oldSpec, "backoffLimitPerIndex", "spec.backoffLimitPerIndex", errs);
  // A suspended Job that never started may change its scheduling directives.
  Json templ = objectOf(spec, "template");
  Json oldTempl = objectOf(oldSpec, "template");
  if (truthy(oldSpec, "suspend") || truthy(spec, "suspend")) {
    for (Json* t : {&templ, &oldTempl}) {
      if (Json* m = mutObject(*t, "metadata")) {
        m->erase("labels");
        m->erase("annotations");
      }
      if (Json* s = mutObject(*t, "spec"))
        for (const char* k : {"nodeSelector", "affinity", "tolerations", "schedulingGates"}) s->erase(k);
    }
  }
  if (!jsonEqual(templ, oldTempl)) errs.invalid("spec.template", objectOf(spec, "template"), std::string(kImmutable));
}

void validateCronJob(const Json& o, const Json* old, Operation op, FieldErrors& errs) {
  if (op == Operation::kStatusUpdate) return;
  const Json& spec = objectOf(o, "spec");
  const Json* oldSpec = old != nullptr ? &objectOf(*old, "spec") : nullptr;
  std::string schedule = str(spec, "schedule");
  if (schedule.empty()) {
    errs.required("spec.schedule");
  } else {
    if (std::string e = parseCronSchedule(schedule); !e.empty()) errs.invalid("spec.schedule", schedule, e);
    bool allowTZ = oldSpec != nullptr && str(*oldSpec, "schedule").find("TZ") != std::string::npos;
    if (allowTZ && schedule.find("TZ") != std::string::npos && get(spec, "timeZone") != nullptr) {
      errs.invalid("spec.schedule", schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule");
    } else if (!allowTZ && schedule.find("TZ") != std::string::npos) {
      errs.invalid("spec.schedule", schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead");
    }
  }
  nonNegative(spec, "startingDeadlineSeconds", "spec.startingDeadlineSeconds", errs);
  if (oldSpec == nullptr || !jsonEqual(memberOrNull(spec, "timeZone"), memberOrNull(*oldSpec, "timeZone")))
    validateTimeZone(spec, "spec.timeZone", errs);
  std::string policy = str(spec, "concurrencyPolicy");
  if (policy.empty()) {
    errs.required("spec.concurrencyPolicy");
  } else if (policy != "Allow" && policy != "Forbid" && policy != "Replace") {
    errs.notSupported("spec.concurrencyPolicy", policy, {"Allow", "Forbid", "Replace"});
  }
  const Json& jt = objectOf(spec, "jobTemplate");
  const Json& jmeta = objectOf(jt, "metadata");
  validateLabels(memberOrNull(jmeta, "labels"), "spec.jobTemplate.metadata.labels", errs);
  validateAnnotations(memberOrNull(jmeta, "annotations"), "spec.jobTemplate.metadata.annotations", errs);
  const Json& jspec = objectOf(jt, "spec");
  validateJobSpecCommon(jspec, "spec.jobTemplate.spec", errs);
  if (const Json* sel = get(jspec, "selector"))
    errs.invalid("spec.jobTemplate.spec.selector", *sel, "`selector` will be auto-generated");
  if (truthy(jspec, "manualSelector"))
    errs.notSupported("spec.jobTemplate.spec.manualSelector", true, {"nil", "false"});
  nonNegative(spec, "successfulJobsHistoryLimit", "spec.successfulJobsHistoryLimit", errs);
  nonNegative(spec, "failedJobsHistoryLimit", "spec.failedJobsHistoryLimit", errs);
  if (op == Operation::kCreate) {
    std::string name = str(objectOf(o, "metadata"), "name");
    if (name.size() > 52) errs.invalid("metadata.name", name, "must be no more than 52 characters");
  }
}

}  // namespace nave::validation::detail
