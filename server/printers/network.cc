// Service networking: Service, Endpoints, EndpointSlice, Ingress, IngressClass, NetworkPolicy.
#include <set>

#include "server/printers/format.h"

namespace nave::printers {

namespace {

std::string created(const Json& obj, const PrintContext& context) {
  return sinceTimestamp(at(obj, {"metadata", "creationTimestamp"}), context);
}

std::vector<std::string> strings(const Json& v) {
  std::vector<std::string> out;
  for (const Json& s : arrayOf(v)) out.push_back(str(s));
  return out;
}

// The load balancer's ingress points, IP or else hostname, sorted and de-duplicated. The API
// server prints tables as for -o wide, so the list is never clipped.
std::string loadBalancerAddresses(const Json& ingress) {
  std::set<std::string> points;
  for (const Json& point : arrayOf(ingress)) {
    std::string ip = str(at(point, {"ip"}));
    std::string hostname = str(at(point, {"hostname"}));
    if (!ip.empty()) {
      points.insert(ip);
    } else if (!hostname.empty()) {
      points.insert(hostname);
    }
  }
  return joinStrings({points.begin(), points.end()}, ",");
}

std::string serviceExternalIP(const Json& spec, const Json& status, const std::string& type) {
  std::vector<std::string> externalIPs = strings(at(spec, {"externalIPs"}));
  if (type == "ClusterIP" || type == "NodePort")
    return externalIPs.empty() ? "<none>" : joinStrings(externalIPs, ",");
  if (type == "LoadBalancer") {
    std::string balancer = loadBalancerAddresses(at(status, {"loadBalancer", "ingress"}));
    if (!externalIPs.empty()) {
      return balancer.empty() ? joinStrings(externalIPs, ",")
                              : balancer + "," + joinStrings(externalIPs, ",");
    }
    return balancer.empty() ? "<pending>" : balancer;
  }
  if (type == "ExternalName") return str(at(spec, {"externalName"}));
  return "<unknown>";
}

std::string servicePorts(const Json& ports) {
  std::vector<std::string> pieces;
  for (const Json& p : arrayOf(ports)) {
    std::string protocol = str(at(p, {"protocol"}));
    if (protocol.empty()) protocol = "TCP";  // the API default
    std::string piece = std::to_string(integer(at(p, {"port"})));
    int64_t nodePort = integer(at(p, {"nodePort"}));
    if (nodePort > 0) piece += ":" + std::to_string(nodePort);
    pieces.push_back(piece + "/" + protocol);
  }
  return pieces.empty() ? "<none>" : joinStrings(pieces, ",");
}

std::vector<Json> serviceRow(const Json& obj, const PrintContext& context) {
  const Json& spec = at(obj, {"spec"});
  std::string type = str(at(spec, {"type"}));
  if (type.empty()) type = "ClusterIP";  // the API default
  // Converting a v1 service fills clusterIPs from clusterIP when only the latter is set.
  std::vector<std::string> clusterIPs = strings(at(spec, {"clusterIPs"}));
  std::string clusterIP = clusterIPs.empty() ? str(at(spec, {"clusterIP"})) : clusterIPs[0];
  if (clusterIPs.empty() && clusterIP.empty()) clusterIP = "<none>";
  return {name(obj),
          type,
          clusterIP,
          serviceExternalIP(spec, at(obj, {"status"}), type),
          servicePorts(at(spec, {"ports"})),
          created(obj, context),
          formatLabels(at(spec, {"selector"}))};
}

std::string hostPort(const std::string& host, int64_t port) {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

// At most three endpoints, then "+ N more...".
std::string formatEndpoints(const Json& subsets) {
  if (count(subsets) == 0) return "<none>";
  constexpr size_t kMax = 3;
  std::vector<std::string> list;
  bool more = false;
  size_t total = 0;
  for (const Json& subset : arrayOf(subsets)) {
    const Json& addresses = arrayOf(at(subset, {"addresses"}));
    const Json& ports = arrayOf(at(subset, {"ports"}));
    if (ports.empty()) {
      // Headless services may have no ports: list the bare addresses.
      total += addresses.size();
      for (const Json& a : addresses) {
        if (list.size() == kMax) {
          more = true;
          break;
        }
        list.push_back(str(at(a, {"ip"})));
      }
      continue;
    }
    for (const Json& port : ports) {
      total += addresses.size();
      for (const Json& a : addresses) {
        if (list.size() == kMax) {
          more = true;
          break;
        }
        list.push_back(hostPort(str(at(a, {"ip"})), integer(at(port, {"port"}))));
      }
    }
  }
  std::string out = joinStrings(list, ",");
  if (more) out += " + " + std::to_string(total - kMax) + " more...";
  return out;
}

std::vector<Json> endpointsRow(const Json& obj, const PrintContext& context) {
  return {name(obj), formatEndpoints(at(obj, {"subsets"})), created(obj, context)};
}

// Kubernetes' listWithMoreString: "a,b,c + 2 more...", "<unset>" for nothing.
std::string listWithMore(const std::vector<std::string>& list, size_t total, size_t max) {
  std::string out = joinStrings(list, ",");
  if (total > max) return out + " + " + std::to_string(total - max) + " more...";
  return out.empty() ? "<unset>" : out;
}

std::vector<Json> endpointSliceRow(const Json& obj, const PrintContext& context) {
  constexpr size_t kMax = 3;
  std::vector<std::string> ports;
  size_t portCount = 0;
  for (const Json& p : arrayOf(at(obj, {"ports"}))) {
    if (ports.size() < kMax) {
      const Json& number = at(p, {"port"});
      const Json& portName = at(p, {"name"});
      if (number.is_number_integer() || number.is_number_unsigned()) {
        ports.push_back(std::to_string(integer(number)));
      } else if (portName.is_string()) {
        ports.push_back(portName.get<std::string>());
      } else {
        ports.push_back("*");
      }
    }
    ++portCount;
  }
  std::vector<std::string> addresses;
  size_t addressCount = 0;
  for (const Json& e : arrayOf(at(obj, {"endpoints"}))) {
    for (const Json& a : arrayOf(at(e, {"addresses"}))) {
      if (addresses.size() < kMax) addresses.push_back(str(a));
      ++addressCount;
    }
  }
  return {name(obj), str(at(obj, {"addressType"})), listWithMore(ports, portCount, kMax),
          listWithMore(addresses, addressCount, kMax), created(obj, context)};
}

// Up to three hosts; rules without a host count toward "+ N more..." but are not listed.
std::string ingressHosts(const Json& rules) {
  constexpr size_t kMax = 3;
  std::vector<std::string> list;
  bool more = false;
  for (const Json& rule : arrayOf(rules)) {
    if (list.size() == kMax) more = true;
    std::string host = str(at(rule, {"host"}));
    if (!more && !host.empty()) list.push_back(host);
  }
  if (list.empty()) return "*";
  std::string out = joinStrings(list, ",");
  if (more) out += " + " + std::to_string(count(rules) - static_cast<int64_t>(kMax)) + " more...";
  return out;
}

std::vector<Json> ingressRow(const Json& obj, const PrintContext& context) {
  const Json& spec = at(obj, {"spec"});
  std::string className = "<none>";
  if (at(spec, {"ingressClassName"}).is_string()) className = str(at(spec, {"ingressClassName"}));
  return {name(obj),
          className,
          ingressHosts(at(spec, {"rules"})),
          loadBalancerAddresses(at(obj, {"status", "loadBalancer", "ingress"})),
          count(at(spec, {"tls"})) > 0 ? "80, 443" : "80",
          created(obj, context)};
}

std::vector<Json> ingressClassRow(const Json& obj, const PrintContext& context) {
  const Json& spec = at(obj, {"spec"});
  const Json& parameters = at(spec, {"parameters"});
  std::string parametersCell = "<none>";
  if (isSet(parameters)) {
    parametersCell = str(at(parameters, {"kind"}));
    if (at(parameters, {"apiGroup"}).is_string())
      parametersCell += "." + str(at(parameters, {"apiGroup"}));
    parametersCell += "/" + str(at(parameters, {"name"}));
  }
  return {name(obj), str(at(spec, {"controller"})), parametersCell, created(obj, context)};
}

std::vector<Json> networkPolicyRow(const Json& obj, const PrintContext& context) {
  return {name(obj), formatLabelSelector(at(obj, {"spec", "podSelector"})),
          created(obj, context)};
}

}  // namespace

void addNetworkPrinters(PrinterMap& printers) {
  printers[printerKey("", "Service")] = {
      {nameColumn(),
       column("Type", "string", "How the service is exposed: ClusterIP, NodePort, ..."),
       column("Cluster-IP", "string", "The virtual IP clients inside the cluster use."),
       column("External-IP", "string", "Addresses the service is reachable on from outside."),
       column("Port(s)", "string", "The service's ports, with node ports, and protocols."),
       ageColumn(),
       column("Selector", "string", "The labels of the pods that back the service.", 1)},
      serviceRow};
  printers[printerKey("", "Endpoints")] = {
      {nameColumn(), column("Endpoints", "string", "The addresses and ports behind the service."),
       ageColumn()},
      endpointsRow};
  printers[printerKey("discovery.k8s.io", "EndpointSlice")] = {
      {nameColumn(),
       column("AddressType", "string", "The kind of address the slice holds: IPv4, IPv6, FQDN."),
       column("Ports", "string", "The ports every endpoint of the slice serves."),
       column("Endpoints", "string", "The addresses of the slice's endpoints."), ageColumn()},
      endpointSliceRow};
  printers[printerKey("networking.k8s.io", "Ingress")] = {
      {nameColumn(),
       column("Class", "string", "The IngressClass that configures this ingress."),
       column("Hosts", "string", "The host names the rules match."),
       column("Address", "string", "Where the load balancer receives the traffic."),
       column("Ports", "string", "The ports served: 80, and 443 with TLS."), ageColumn()},
      ingressRow};
  printers[printerKey("networking.k8s.io", "IngressClass")] = {
      {nameColumn(),
       column("Controller", "string", "The controller that implements the class."),
       column("Parameters", "string", "The object holding extra configuration, if any."),
       ageColumn()},
      ingressClassRow};
  printers[printerKey("networking.k8s.io", "NetworkPolicy")] = {
      {nameColumn(),
       column("Pod-Selector", "string", "The pods the policy applies to."), ageColumn()},
      networkPolicyRow};
}

}  // namespace nave::printers
