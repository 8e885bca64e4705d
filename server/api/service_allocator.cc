#include "server/api/service_allocator.h"

#include <arpa/inet.h>

#include <random>

namespace nave::api {
namespace {

constexpr int64_t kNodePortMin = 30000;
constexpr int64_t kNodePortMax = 32767;
constexpr auto kReservationTtl = std::chrono::seconds(30);
constexpr const char* kServicesPrefix = "/registry/core/services/";

std::optional<uint32_t> parseIpv4(const std::string& s) {
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

std::string formatIpv4(uint32_t ip) {
  in_addr a{htonl(ip)};
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

Error invalid(const std::string& name, const std::string& field, const Json& value,
              const std::string& detail) {
  Error e(ErrorCode::kInvalid, "Service \"" + name + "\" is invalid: " + field +
                                   ": Invalid value: " + value.dump() + ": " + detail);
  e.detailKind = "Service";
  e.detailName = name;
  e.causes.push_back({"FieldValueInvalid", "Invalid value: " + value.dump() + ": " + detail, field});
  return e;
}

bool needsNodePorts(const Json& spec) {
  std::string type = getString(spec, "type", "ClusterIP");
  if (type == "NodePort") return true;
  if (type == "LoadBalancer") return getBool(spec, "allocateLoadBalancerNodePorts", true);
  return false;
}

}  // namespace

Result<std::unique_ptr<ServiceAllocator>> ServiceAllocator::create(const std::string& cidr,
                                                                   cache::WatchCache& cache) {
  auto slash = cidr.find('/');
  if (slash == std::string::npos) return Error(ErrorCode::kInvalid, "invalid service CIDR " + cidr);
  auto ip = parseIpv4(cidr.substr(0, slash));
  int bits = std::atoi(cidr.c_str() + slash + 1);
  if (!ip || bits < 8 || bits > 30) return Error(ErrorCode::kInvalid, "invalid service CIDR " + cidr);
  uint32_t size = 1u << (32 - bits);
  uint32_t base = *ip & ~(size - 1);
  return std::unique_ptr<ServiceAllocator>(new ServiceAllocator(base, size, cache));
}

std::string ServiceAllocator::firstAddress() const { return formatIpv4(base_ + 1); }

void ServiceAllocator::collectUsed(std::set<uint32_t>& ips, std::set<int64_t>& ports) const {
  cache::WatchFilter all;
  auto list = cache_.list(kServicesPrefix, "", all, 0);
  for (const auto& o : list.items) {
    const Json& spec = o->object.value("spec", Json::object());
    if (const Json* cips = findMember(spec, "clusterIPs"); cips && cips->is_array())
      for (const Json& c : *cips)
        if (c.is_string())
          if (auto ip = parseIpv4(c.get<std::string>())) ips.insert(*ip);
    if (auto ip = parseIpv4(getString(spec, "clusterIP"))) ips.insert(*ip);
    if (const Json* ps = findMember(spec, "ports"); ps && ps->is_array())
      for (const Json& p : *ps)
        if (int64_t np = getInt(p, "nodePort", 0); np > 0) ports.insert(np);
  }
}

void ServiceAllocator::pruneReservations() {
  auto now = std::chrono::steady_clock::now();
  std::erase_if(reservedIps_, [&](const auto& kv) { return kv.second < now; });
  std::erase_if(reservedPorts_, [&](const auto& kv) { return kv.second < now; });
}

Result<void> ServiceAllocator::allocatePorts(Json& service, const std::set<int64_t>& used) {
  Json& spec = service["spec"];
  if (!needsNodePorts(spec)) return {};
  Json& ports = spec["ports"];
  if (!ports.is_array()) return {};
  std::string name = getString(service["metadata"], "name");
  std::mt19937 rng(std::random_device{}());
  auto deadline = std::chrono::steady_clock::now() + kReservationTtl;
  for (size_t i = 0; i < ports.size(); ++i) {
    Json& p = ports[i];
    int64_t np = getInt(p, "nodePort", 0);
    if (np != 0) {
      if (np < kNodePortMin || np > kNodePortMax)
        return invalid(name, "spec.ports[" + std::to_string(i) + "].nodePort", np,
                       "provided port is not in the valid range. The range of valid ports is 30000-32767");
      continue;  // requested ports are checked by the caller against `used`
    }
    for (int attempt = 0; attempt < 5000; ++attempt) {
      int64_t candidate = kNodePortMin + static_cast<int64_t>(rng() % (kNodePortMax - kNodePortMin + 1));
      if (used.contains(candidate) || reservedPorts_.contains(candidate)) continue;
      p["nodePort"] = candidate;
      reservedPorts_[candidate] = deadline;
      break;
    }
    if (getInt(p, "nodePort", 0) == 0)
      return Error(ErrorCode::kUnavailable, "range is full: no node ports left");
  }
  return {};
}

Result<void> ServiceAllocator::allocate(Json& service) {
  std::lock_guard lock(mu_);
  pruneReservations();
  Json& spec = service["spec"];
  if (!spec.is_object()) spec = Json::object();
  std::string name = getString(service["metadata"], "name");
  std::set<uint32_t> usedIps;
  std::set<int64_t> usedPorts;
  collectUsed(usedIps, usedPorts);
  auto deadline = std::chrono::steady_clock::now() + kReservationTtl;

  // Requested node ports must be free.
  if (const Json* ps = findMember(spec, "ports"); ps && ps->is_array())
    for (size_t i = 0; i < ps->size(); ++i)
      if (int64_t np = getInt((*ps)[i], "nodePort", 0);
          np > 0 && (usedPorts.contains(np) || reservedPorts_.contains(np)))
        return invalid(name, "spec.ports[" + std::to_string(i) + "].nodePort", np,
                       "provided port is already allocated");
  TRY(allocatePorts(service, usedPorts));

  if (getString(spec, "type", "ClusterIP") == "ExternalName") return {};
  std::string requested = getString(spec, "clusterIP");
  if (requested.empty() && spec.contains("clusterIPs") && spec["clusterIPs"].is_array() &&
      !spec["clusterIPs"].empty() && spec["clusterIPs"][0].is_string())
    requested = spec["clusterIPs"][0].get<std::string>();
  spec["ipFamilies"] = Json::array({"IPv4"});
  if (!spec.contains("ipFamilyPolicy")) spec["ipFamilyPolicy"] = "SingleStack";
  if (requested == "None") {
    spec["clusterIP"] = "None";
    spec["clusterIPs"] = Json::array({"None"});
    return {};
  }
  if (!requested.empty()) {
    auto ip = parseIpv4(requested);
    if (!ip) return invalid(name, "spec.clusterIPs", Json::array({requested}), "must be a valid IP address");
    if (*ip <= base_ || *ip >= base_ + size_ - 1)
      return invalid(name, "spec.clusterIPs", Json::array({requested}),
                     "failed to allocate IP " + requested +
                         ": provided IP is not in the valid range. The range of valid IPs is " +
                         formatIpv4(base_) + "/" + std::to_string(32 - __builtin_ctz(size_)));
    if (usedIps.contains(*ip) || reservedIps_.contains(*ip))
      return invalid(name, "spec.clusterIPs", Json::array({requested}),
                     "failed to allocate IP " + requested + ": provided IP is already allocated");
    reservedIps_[*ip] = deadline;
    spec["clusterIP"] = requested;
    spec["clusterIPs"] = Json::array({requested});
    return {};
  }
  return allocateDynamicIp(spec, usedIps, deadline);
}

Result<void> ServiceAllocator::allocateDynamicIp(Json& spec, const std::set<uint32_t>& usedIps,
                                                 std::chrono::steady_clock::time_point deadline) {
  // Dynamic addresses come from above the first tenth of the range (or from its start in small
  // ranges), leaving low addresses for static assignment, as Kubernetes does.
  uint32_t usable = size_ - 2;
  uint32_t offset = std::min<uint32_t>(std::max<uint32_t>(usable / 16, 16), 256);
  if (offset >= usable) offset = 0;
  for (uint32_t i = 0; i < usable; ++i) {
    uint32_t idx = offset + (nextIp_ + i) % (usable - offset);
    uint32_t ip = base_ + 1 + idx;
    if (usedIps.contains(ip) || reservedIps_.contains(ip)) continue;
    nextIp_ = (nextIp_ + i + 1) % (usable - offset);
    reservedIps_[ip] = deadline;
    spec["clusterIP"] = formatIpv4(ip);
    spec["clusterIPs"] = Json::array({formatIpv4(ip)});
    return {};
  }
  return Error(ErrorCode::kUnavailable, "failed to allocate a serviceIP: range is full");
}

Result<void> ServiceAllocator::update(Json& service, const Json& old) {
  Json& spec = service["spec"];
  if (!spec.is_object()) return {};
  const Json& oldSpec = old.value("spec", Json::object());
  std::string oldIp = getString(oldSpec, "clusterIP");
  std::string type = getString(spec, "type", "ClusterIP");
  // Fields that belonged to the old type go with it when the client left them unchanged (a
  // NodePort Service edited into a ClusterIP one still carries its old node ports).
  if (!needsNodePorts(spec) && needsNodePorts(oldSpec) && spec.contains("ports") &&
      spec["ports"].is_array() && oldSpec.contains("ports")) {
    for (Json& p : spec["ports"]) {
      for (const Json& op : oldSpec["ports"])
        if (getInt(op, "nodePort", 0) != 0 && getInt(op, "nodePort", 0) == getInt(p, "nodePort", -1))
          p.erase("nodePort");
    }
  }
  std::string oldType = getString(oldSpec, "type", "ClusterIP");
  auto external = [](const std::string& t) { return t == "NodePort" || t == "LoadBalancer"; };
  auto dropIfUnchanged = [&](const char* field) {
    if (spec.contains(field) && oldSpec.contains(field) && spec[field] == oldSpec[field])
      spec.erase(field);
  };
  if (external(oldType) && !external(type)) {
    dropIfUnchanged("externalTrafficPolicy");
    dropIfUnchanged("healthCheckNodePort");
  }
  if (oldType == "LoadBalancer" && type != "LoadBalancer") {
    dropIfUnchanged("allocateLoadBalancerNodePorts");
    dropIfUnchanged("loadBalancerClass");
  }
  if (type == "ExternalName" && oldType != "ExternalName") {
    if (getString(spec, "clusterIP") == oldIp) {
      spec.erase("clusterIP");
      spec.erase("clusterIPs");
      spec.erase("ipFamilies");
      spec.erase("ipFamilyPolicy");
    }
    return {};
  }
  if (type != "ExternalName" && !oldIp.empty()) {
    std::string newIp = getString(spec, "clusterIP");
    if (newIp.empty()) {
      spec["clusterIP"] = oldIp;
      if (oldSpec.contains("clusterIPs")) spec["clusterIPs"] = oldSpec["clusterIPs"];
    } else if (newIp != oldIp) {
      return invalid(getString(service["metadata"], "name"), "spec.clusterIPs[0]",
                     newIp, "may not change once set");
    }
    if (!spec.contains("ipFamilies") && oldSpec.contains("ipFamilies")) spec["ipFamilies"] = oldSpec["ipFamilies"];
    if (!spec.contains("ipFamilyPolicy") && oldSpec.contains("ipFamilyPolicy"))
      spec["ipFamilyPolicy"] = oldSpec["ipFamilyPolicy"];
  }
  std::lock_guard lock(mu_);
  pruneReservations();
  std::set<uint32_t> usedIps;
  std::set<int64_t> usedPorts;
  collectUsed(usedIps, usedPorts);
  // A Service that had no address (it was an ExternalName) gets one.
  if (type != "ExternalName" && getString(spec, "clusterIP").empty() && oldIp.empty()) {
    spec["ipFamilies"] = Json::array({"IPv4"});
    if (!spec.contains("ipFamilyPolicy")) spec["ipFamilyPolicy"] = "SingleStack";
    TRY(allocateDynamicIp(spec, usedIps, std::chrono::steady_clock::now() + kReservationTtl));
  }
  if (!needsNodePorts(spec)) return {};
  // Keep node ports the old object had for the same port; allocate the rest.
  if (spec.contains("ports") && spec["ports"].is_array() && oldSpec.contains("ports")) {
    for (Json& p : spec["ports"]) {
      if (getInt(p, "nodePort", 0) != 0) continue;
      for (const Json& op : oldSpec["ports"])
        if (getInt(op, "port", -1) == getInt(p, "port", -2) &&
            getString(op, "protocol", "TCP") == getString(p, "protocol", "TCP") &&
            getInt(op, "nodePort", 0) != 0)
          p["nodePort"] = op["nodePort"];
    }
  }
  return allocatePorts(service, usedPorts);
}

}  // namespace nave::api
