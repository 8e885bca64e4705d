#include "runtime/container/spec_json.h"

namespace nave::runtime {

namespace {

Json strings(const std::vector<std::string>& v) { return Json(v); }

// The reader: every accessor checks the type first (nlohmann throws on mismatches) and
// remembers the first problem.
class Reader {
 public:
  std::string error;

  std::string str(const Json& obj, const char* key, std::string fallback = "") {
    const Json* m = findMember(obj, key);
    if (!m || m->is_null()) return fallback;
    if (!m->is_string()) return fail(key), fallback;
    return m->get<std::string>();
  }
  int64_t num(const Json& obj, const char* key, int64_t fallback = 0) {
    const Json* m = findMember(obj, key);
    if (!m || m->is_null()) return fallback;
    if (!m->is_number_integer()) return fail(key), fallback;
    return m->get<int64_t>();
  }
  uint64_t unum(const Json& obj, const char* key) {
    const Json* m = findMember(obj, key);
    if (!m || m->is_null()) return 0;
    if (!m->is_number_unsigned() && !(m->is_number_integer() && m->get<int64_t>() >= 0))
      return fail(key), 0;
    return m->get<uint64_t>();
  }
  bool flag(const Json& obj, const char* key, bool fallback = false) {
    const Json* m = findMember(obj, key);
    if (!m || m->is_null()) return fallback;
    if (!m->is_boolean()) return fail(key), fallback;
    return m->get<bool>();
  }
  std::vector<std::string> list(const Json& obj, const char* key) {
    std::vector<std::string> out;
    const Json* m = findMember(obj, key);
    if (!m || m->is_null()) return out;
    if (!m->is_array()) return fail(key), out;
    for (const Json& e : *m) {
      if (!e.is_string()) return fail(key), out;
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  const Json& object(const Json& obj, const char* key) {
    static const Json kEmpty = Json::object();
    const Json* m = findMember(obj, key);
    if (!m || m->is_null()) return kEmpty;
    if (!m->is_object()) return fail(key), kEmpty;
    return *m;
  }
  const Json& array(const Json& obj, const char* key) {
    static const Json kEmpty = Json::array();
    const Json* m = findMember(obj, key);
    if (!m || m->is_null()) return kEmpty;
    if (!m->is_array()) return fail(key), kEmpty;
    return *m;
  }
  void fail(const char* key) {
    if (error.empty()) error = std::string("field ") + key + " has the wrong type";
  }
};

Json processToJson(const ProcessSpec& p) {
  Json rl = Json::array();
  for (const Rlimit& r : p.rlimits) rl.push_back({{"type", r.type}, {"soft", r.soft}, {"hard", r.hard}});
  return {{"args", strings(p.args)}, {"env", strings(p.env)},   {"cwd", p.cwd},
          {"user", p.user},          {"extraGroups", p.extraGroups}, {"tty", p.tty},
          {"stdin", p.stdin},        {"stdinOnce", p.stdinOnce}, {"rlimits", rl}};
}

ProcessSpec processFromJson(Reader& r, const Json& j) {
  ProcessSpec p;
  p.args = r.list(j, "args");
  p.env = r.list(j, "env");
  p.cwd = r.str(j, "cwd", "/");
  p.user = r.str(j, "user");
  for (const Json& g : r.array(j, "extraGroups")) {
    if (!g.is_number_unsigned()) {
      r.fail("extraGroups");
      break;
    }
    p.extraGroups.push_back(g.get<uint32_t>());
  }
  p.tty = r.flag(j, "tty");
  p.stdin = r.flag(j, "stdin");
  p.stdinOnce = r.flag(j, "stdinOnce");
  for (const Json& e : r.array(j, "rlimits")) {
    if (!e.is_object()) {
      r.fail("rlimits");
      break;
    }
    p.rlimits.push_back({r.str(e, "type"), r.unum(e, "soft"), r.unum(e, "hard")});
  }
  return p;
}

}  // namespace

Json containerSpecToJson(const ContainerSpec& s) {
  Json mounts = Json::array();
  for (const Mount& m : s.mounts) {
    mounts.push_back({{"source", m.source},
                      {"destination", m.destination},
                      {"type", m.type},
                      {"options", strings(m.options)}});
  }
  const Resources& res = s.resources;
  const SecurityOptions& sec = s.security;
  return {
      {"id", s.id},
      {"rootfs", s.rootfs},
      {"process", processToJson(s.process)},
      {"hostname", s.hostname},
      {"sandboxId", s.sandboxId},
      {"mounts", mounts},
      {"resources",
       {{"memoryLimitBytes", res.memoryLimitBytes},
        {"cpuShares", res.cpuShares},
        {"cpuQuotaMicros", res.cpuQuotaMicros},
        {"cpuPeriodMicros", res.cpuPeriodMicros},
        {"pidsLimit", res.pidsLimit}}},
      {"cgroupParent", s.cgroupParent},
      {"security",
       {{"privileged", sec.privileged},
        {"capAdd", strings(sec.capAdd)},
        {"capDrop", strings(sec.capDrop)},
        {"noNewPrivileges", sec.noNewPrivileges},
        {"seccomp", static_cast<int>(sec.seccomp)},
        {"seccompProfilePath", sec.seccompProfilePath},
        {"readonlyRootfs", sec.readonlyRootfs}}},
      {"logPath", s.logPath},
      {"logMaxBytes", s.logMaxBytes},
      {"logMaxFiles", s.logMaxFiles},
      {"stopSignal", s.stopSignal},
      {"labels", s.labels},
  };
}

Result<ContainerSpec> containerSpecFromJson(const Json& j) {
  if (!j.is_object()) return Error(ErrorCode::kBadRequest, "container spec is not an object");
  Reader r;
  ContainerSpec s;
  s.id = r.str(j, "id");
  s.rootfs = r.str(j, "rootfs");
  s.process = processFromJson(r, r.object(j, "process"));
  s.hostname = r.str(j, "hostname");
  s.sandboxId = r.str(j, "sandboxId");
  for (const Json& m : r.array(j, "mounts")) {
    if (!m.is_object()) {
      r.fail("mounts");
      break;
    }
    s.mounts.push_back(
        {r.str(m, "source"), r.str(m, "destination"), r.str(m, "type"), r.list(m, "options")});
  }
  const Json& res = r.object(j, "resources");
  s.resources.memoryLimitBytes = r.num(res, "memoryLimitBytes");
  s.resources.cpuShares = r.num(res, "cpuShares");
  s.resources.cpuQuotaMicros = r.num(res, "cpuQuotaMicros");
  s.resources.cpuPeriodMicros = r.num(res, "cpuPeriodMicros", 100000);
  s.resources.pidsLimit = r.num(res, "pidsLimit");
  s.cgroupParent = r.str(j, "cgroupParent");
  const Json& sec = r.object(j, "security");
  s.security.privileged = r.flag(sec, "privileged");
  s.security.capAdd = r.list(sec, "capAdd");
  s.security.capDrop = r.list(sec, "capDrop");
  s.security.noNewPrivileges = r.flag(sec, "noNewPrivileges", true);
  int64_t mode = r.num(sec, "seccomp");
  if (mode < 0 || mode > static_cast<int64_t>(SeccompMode::kLocalhost)) r.fail("seccomp");
  else s.security.seccomp = static_cast<SeccompMode>(mode);
  s.security.seccompProfilePath = r.str(sec, "seccompProfilePath");
  s.security.readonlyRootfs = r.flag(sec, "readonlyRootfs");
  s.logPath = r.str(j, "logPath");
  s.logMaxBytes = r.num(j, "logMaxBytes", s.logMaxBytes);
  s.logMaxFiles = static_cast<int>(r.num(j, "logMaxFiles", s.logMaxFiles));
  s.stopSignal = static_cast<int>(r.num(j, "stopSignal", s.stopSignal));
  for (const auto& [k, v] : r.object(j, "labels").items()) {
    if (!v.is_string()) {
      r.fail("labels");
      break;
    }
    s.labels[k] = v.get<std::string>();
  }
  if (!r.error.empty()) return Error(ErrorCode::kBadRequest, "container spec: " + r.error);
  return s;
}

}  // namespace nave::runtime
