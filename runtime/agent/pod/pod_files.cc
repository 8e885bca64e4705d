// The pod's /etc/hosts (the kubelet's ensureHostsFile), /etc/hostname (containerd's sandbox
// file, from the kubelet's GeneratePodHostNameAndDomain) and /etc/resolv.conf (the kubelet's
// dns.Configurer.GetPodDNS, written in containerd's format).
#include <arpa/inet.h>
#include <unistd.h>

#include <cctype>
#include <climits>
#include <set>

#include "common/log.h"
#include "common/strings.h"
#include "runtime/agent/pod/host_fs.h"
#include "runtime/agent/pod/pod_json.h"
#include "runtime/agent/pod/pod_spec.h"

namespace nave::agent {
namespace {

constexpr const char* kManagedHostsHeader = "# Kubernetes-managed hosts file.\n";
constexpr const char* kManagedHostsHeaderWithHostNetwork =
    "# Kubernetes-managed hosts file (host network).\n";

// The API's limits, which the kubelet applies to what it composes (ExpandedDNSConfig).
constexpr size_t kMaxNameservers = 3;
constexpr size_t kMaxSearchPaths = 32;
constexpr size_t kMaxSearchListChars = 2048;
constexpr size_t kMaxSearchPathLength = 253;  // a DNS-1123 subdomain
constexpr size_t kHostnameMaxLength = 63;
constexpr size_t kFqdnMaxLength = 64;  // the kernel's nodename field

struct HostnameAndDomain {
  std::string hostname, domain;
};

// The kubelet's GeneratePodHostNameAndDomain.
Result<HostnameAndDomain> hostnameAndDomain(const Json& pod, const DnsSettings& dns) {
  const Json& spec = objectMember(pod, "spec");
  std::string name = podName(pod);
  std::string hostname = name;
  std::string specHostname = getString(spec, "hostname");
  if (!specHostname.empty()) {
    if (!isDns1123Label(specHostname)) {
      return Error(ErrorCode::kInvalid,
                   "pod Hostname " + goQuote(specHostname) +
                       " is not a valid DNS label: " + dns1123LabelError(specHostname));
    }
    hostname = specHostname;
  }
  if (hostname.size() > kHostnameMaxLength) {
    hostname.resize(kHostnameMaxLength);
    while (!hostname.empty() && (hostname.back() == '-' || hostname.back() == '.')) {
      hostname.pop_back();
    }
    if (hostname.empty()) {
      return Error(ErrorCode::kInvalid,
                   "hostname for pod " + goQuote(name) + " was invalid: " + goQuote(name));
    }
  }
  std::string domain;
  std::string subdomain = getString(spec, "subdomain");
  if (!subdomain.empty()) {
    if (!isDns1123Label(subdomain)) {
      return Error(ErrorCode::kInvalid,
                   "pod Subdomain " + goQuote(subdomain) +
                       " is not a valid DNS label: " + dns1123LabelError(subdomain));
    }
    domain = subdomain + "." + podNamespace(pod) + ".svc." + dns.clusterDomain;
  }
  return HostnameAndDomain{hostname, domain};
}

Result<std::string> nodeHostname() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return Error::fromErrno("gethostname", errno);
  return std::string(buf);
}

std::string hostAliasEntries(const Json& pod) {
  const Json& aliases = arrayMember(objectMember(pod, "spec"), "hostAliases");
  if (aliases.empty()) return "";
  std::string out = "\n# Entries added by HostAliases.\n";
  for (const Json& alias : aliases) {
    std::vector<std::string> names;
    for (const Json& h : arrayMember(alias, "hostnames")) {
      if (h.is_string()) names.push_back(h.get<std::string>());
    }
    out += getString(alias, "ip") + "\t" + join(names, "\t") + "\n";
  }
  return out;
}

std::string managedHosts(const std::vector<std::string>& ips, const HostnameAndDomain& names,
                         const Json& pod) {
  std::string out = kManagedHostsHeader;
  out += "127.0.0.1\tlocalhost\n";
  out += "::1\tlocalhost ip6-localhost ip6-loopback\n";
  out += "fe00::0\tip6-localnet\n";
  out += "fe00::0\tip6-mcastprefix\n";
  out += "fe00::1\tip6-allnodes\n";
  out += "fe00::2\tip6-allrouters\n";
  for (const std::string& ip : ips) {
    if (!names.domain.empty()) {
      out += ip + "\t" + names.hostname + "." + names.domain + "\t" + names.hostname + "\n";
    } else {
      out += ip + "\t" + names.hostname + "\n";
    }
  }
  return out + hostAliasEntries(pod);
}

// The pod's IPs as the sandbox reported them (empty entries dropped), else from its status.
std::vector<std::string> podIps(const Json& pod, const PodFacts& facts) {
  std::vector<std::string> ips;
  for (const std::string& ip : facts.podIps) {
    if (!ip.empty()) ips.push_back(ip);
  }
  if (!ips.empty()) return ips;
  const Json& status = objectMember(pod, "status");
  for (const Json& ip : arrayMember(status, "podIPs")) {
    if (!getString(ip, "ip").empty()) ips.push_back(getString(ip, "ip"));
  }
  if (ips.empty() && !getString(status, "podIP").empty()) ips.push_back(getString(status, "podIP"));
  return ips;
}

struct DnsConfig {
  std::vector<std::string> servers, searches, options;
};

// The kubelet's parseResolvConf: nameservers accumulate, the last search and options lines win.
Result<DnsConfig> parseResolvConf(const std::string& content) {
  DnsConfig out;
  for (const std::string& line : split(content, '\n')) {
    std::string_view trimmed = trim(line);
    if (trimmed.starts_with("#")) continue;
    std::vector<std::string> fields;  // strings.Fields: split at any white space
    std::string field;
    for (char c : trimmed) {
      if (std::isspace(static_cast<unsigned char>(c))) {
        if (!field.empty()) fields.push_back(std::move(field));
        field.clear();
      } else {
        field += c;
      }
    }
    if (!field.empty()) fields.push_back(std::move(field));
    if (fields.empty()) continue;
    if (fields[0] == "nameserver") {
      if (fields.size() < 2) return Error(ErrorCode::kInvalid, "nameserver list is empty ");
      out.servers.push_back(fields[1]);
    } else if (fields[0] == "search") {
      out.searches.clear();
      for (size_t i = 1; i < fields.size(); ++i) {
        std::string s = fields[i];
        if (s.ends_with(".")) s.pop_back();
        out.searches.push_back(s);
      }
    } else if (fields[0] == "options") {
      out.options.assign(fields.begin() + 1, fields.end());
    }
  }
  return out;
}

std::vector<std::string> omitDuplicates(const std::vector<std::string>& in) {
  std::set<std::string> seen;
  std::vector<std::string> out;
  for (const std::string& s : in) {
    if (seen.insert(s).second) out.push_back(s);
  }
  return out;
}

// dnsConfig.options override options of the same name (kept in first-seen order).
std::vector<std::string> mergeOptions(const std::vector<std::string>& existing, const Json& extra) {
  std::vector<std::pair<std::string, std::string>> merged;
  auto set = [&](const std::string& name, const std::string& value) {
    for (auto& [n, v] : merged) {
      if (n == name) {
        v = value;
        return;
      }
    }
    merged.emplace_back(name, value);
  };
  for (const std::string& op : existing) {
    size_t colon = op.find(':');
    if (colon == std::string::npos) {
      set(op, "");
    } else {
      set(op.substr(0, colon), op.substr(colon + 1));
    }
  }
  for (const Json& op : extra) set(getString(op, "name"), getString(op, "value"));
  std::vector<std::string> out;
  for (const auto& [name, value] : merged) out.push_back(value.empty() ? name : name + ":" + value);
  return out;
}

std::vector<std::string> searchesWithinLimits(std::vector<std::string> searches, const Json& pod) {
  size_t given = searches.size();
  if (searches.size() > kMaxSearchPaths) searches.resize(kMaxSearchPaths);
  std::vector<std::string> kept;
  for (std::string& s : searches) {
    // Some resolvers (glibc 2.28) abort on search paths longer than 255 characters.
    if (s.size() <= kMaxSearchPathLength) kept.push_back(std::move(s));
  }
  size_t length = join(kept, " ").size();
  while (length > kMaxSearchListChars && !kept.empty()) {
    length -= std::min(length, kept.back().size() + 1);
    kept.pop_back();
  }
  if (kept.size() != given) {
    // The kubelet's DNSConfigForming event.
    log::warning("Search Line limits were exceeded, some search paths have been omitted",
                 {{"pod", podNamespace(pod) + "/" + podName(pod)}, {"applied", join(kept, " ")}});
  }
  return kept;
}

bool isIpv6(const std::string& ip) {
  in6_addr a;
  return ::inet_pton(AF_INET6, ip.c_str(), &a) == 1;
}

Result<std::string> resolvConf(const Json& pod, const PodFacts& facts, const DnsSettings& dns) {
  DnsConfig config;
  std::string hostContent;
  if (!dns.hostResolvConf.empty()) {
    hostContent = TRY(hostfs::readFile(dns.hostResolvConf));
    config = TRY(parseResolvConf(hostContent));
  }
  const Json& spec = objectMember(pod, "spec");
  std::string policy = getString(spec, "dnsPolicy", "ClusterFirst");
  bool hostNetwork = getBool(spec, "hostNetwork");
  enum { kCluster, kHost, kNone } type = kCluster;
  if (policy == "None") {
    type = kNone;
  } else if (policy == "Default" || (policy == "ClusterFirst" && hostNetwork)) {
    type = kHost;
  }
  std::vector<std::string> clusterServers;
  for (const std::string& s : split(dns.clusterDns, ',')) {
    if (!trim(s).empty()) clusterServers.emplace_back(trim(s));
  }
  if (type == kNone) {
    config = DnsConfig();
  } else if (type == kCluster && !clusterServers.empty()) {
    config.servers = clusterServers;
    if (!dns.clusterDomain.empty()) {
      std::vector<std::string> searches = {podNamespace(pod) + ".svc." + dns.clusterDomain,
                                           "svc." + dns.clusterDomain, dns.clusterDomain};
      searches.insert(searches.end(), config.searches.begin(), config.searches.end());
      config.searches = omitDuplicates(searches);
    }
    config.options = {"ndots:5"};
  } else if (dns.hostResolvConf.empty()) {
    // The node's settings (also the fallback of ClusterFirst without a cluster DNS server);
    // with no resolv.conf to start from, the local resolver and no search.
    config.servers = {!facts.hostIp.empty() && isIpv6(facts.hostIp) ? "::1" : "127.0.0.1"};
    config.searches = {"."};
  }
  if (const Json* extra = findMember(spec, "dnsConfig"); extra != nullptr && extra->is_object()) {
    for (const Json& s : arrayMember(*extra, "nameservers")) {
      if (s.is_string()) config.servers.push_back(s.get<std::string>());
    }
    for (const Json& s : arrayMember(*extra, "searches")) {
      if (s.is_string()) config.searches.push_back(s.get<std::string>());
    }
    config.servers = omitDuplicates(config.servers);
    config.searches = omitDuplicates(config.searches);
    config.options = mergeOptions(config.options, arrayMember(*extra, "options"));
  }
  if (config.servers.size() > kMaxNameservers) {
    config.servers.resize(kMaxNameservers);
    log::warning(
        "Nameserver limits were exceeded, some nameservers have been omitted",
        {{"pod", podNamespace(pod) + "/" + podName(pod)}, {"applied", join(config.servers, " ")}});
  }
  config.searches = searchesWithinLimits(std::move(config.searches), pod);

  std::string out;
  if (!config.searches.empty()) out += "search " + join(config.searches, " ") + "\n";
  for (const std::string& server : config.servers) out += "nameserver " + server + "\n";
  if (!config.options.empty()) out += "options " + join(config.options, " ") + "\n";
  // Nothing to say: containerd copies the node's file.
  return out.empty() ? hostContent : out;
}

}  // namespace

Result<std::string> podHostname(const Json& pod, const DnsSettings& dns) {
  if (getBool(objectMember(pod, "spec"), "hostNetwork")) return nodeHostname();
  HostnameAndDomain names = TRY(hostnameAndDomain(pod, dns));
  if (names.domain.empty() || !getBool(objectMember(pod, "spec"), "setHostnameAsFQDN")) {
    return names.hostname;
  }
  std::string fqdn = names.hostname + "." + names.domain;
  if (fqdn.size() > kFqdnMaxLength) {
    return Error(ErrorCode::kInvalid,
                 "failed to construct FQDN from pod hostname and cluster domain, FQDN " + fqdn +
                     " is too long (" + std::to_string(kFqdnMaxLength) +
                     " characters is the max, " + std::to_string(fqdn.size()) +
                     " characters requested)");
  }
  return fqdn;
}

Result<PodFilePaths> writePodFiles(const std::string& podsDir, const Json& pod,
                                   const PodFacts& facts, const DnsSettings& dns) {
  std::string uid = TRY(podUid(pod));
  PodFilePaths paths;
  paths.podDir = cleanPath(podsDir + "/" + uid);
  TRY(hostfs::makeDirs(paths.podDir, 0750));
  bool hostNetwork = getBool(objectMember(pod, "spec"), "hostNetwork");
  HostnameAndDomain names = TRY(hostnameAndDomain(pod, dns));

  // A pod on the pod network gets its hosts file once it has an IP.
  std::vector<std::string> ips = podIps(pod, facts);
  if (!ips.empty() || hostNetwork) {
    std::string content;
    if (hostNetwork) {
      content = kManagedHostsHeaderWithHostNetwork + TRY(hostfs::readFile(dns.hostHosts)) +
                hostAliasEntries(pod);
    } else {
      content = managedHosts(ips, names, pod);
    }
    paths.hosts = paths.podDir + "/etc-hosts";
    TRY(hostfs::writeFileIfChanged(paths.hosts, content, 0644));
  }

  paths.hostname = paths.podDir + "/etc-hostname";
  TRY(hostfs::writeFileIfChanged(paths.hostname, TRY(podHostname(pod, dns)) + "\n", 0644));
  paths.resolvConf = paths.podDir + "/resolv.conf";
  TRY(hostfs::writeFileIfChanged(paths.resolvConf, TRY(resolvConf(pod, facts, dns)), 0644));
  return paths;
}

}  // namespace nave::agent
