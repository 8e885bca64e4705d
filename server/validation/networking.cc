// networking.k8s.io/v1: Ingress, IngressClass, NetworkPolicy
// (pkg/apis/networking/v1/defaults.go and pkg/apis/networking/validation).
#include <arpa/inet.h>

#include <array>
#include <cctype>
#include <cstring>

#include "server/validation/internal.h"

namespace nave::validation::detail {
namespace {

struct Cidr {
  std::array<unsigned char, 16> bytes{};
  int bits = 0;
  bool v6 = false;
};

bool parseCidr(std::string_view text, Cidr& out) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return false;
  std::string ip(text.substr(0, slash));
  std::string_view bits = text.substr(slash + 1);
  if (bits.empty() || bits.size() > 3) return false;
  int n = 0;
  for (char c : bits) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  if (inet_pton(AF_INET, ip.c_str(), out.bytes.data()) == 1) {
    out.v6 = false;
    if (n > 32) return false;
  } else if (inet_pton(AF_INET6, ip.c_str(), out.bytes.data()) == 1) {
    out.v6 = true;
    if (n > 128) return false;
  } else {
    return false;
  }
  out.bits = n;
  return true;
}

// Whether `inner`'s address lies in `outer`'s network.
bool contains(const Cidr& outer, const Cidr& inner) {
  if (outer.v6 != inner.v6) return false;
  for (int i = 0; i < outer.bits; ++i) {
    int byte = i / 8, bit = 7 - i % 8;
    if (((outer.bytes[byte] >> bit) & 1) != ((inner.bytes[byte] >> bit) & 1)) return false;
  }
  return true;
}

void validateTypedReference(const Json& ref, const std::string& path, FieldErrors& errs) {
  if (const Json* g = get(ref, "apiGroup"); g != nullptr && g->is_string())
    invalidEach(errs, child(path, "apiGroup"), *g, isDns1123Subdomain(g->get<std::string>()));
  std::string kind = str(ref, "kind");
  if (kind.empty()) {
    errs.required(child(path, "kind"), "kind is required");
  } else {
    invalidEach(errs, child(path, "kind"), kind, nameIsPathSegment(kind, false));
  }
  std::string name = str(ref, "name");
  if (name.empty()) {
    errs.required(child(path, "name"), "name is required");
  } else {
    invalidEach(errs, child(path, "name"), name, nameIsPathSegment(name, false));
  }
}

void validateIngressBackend(const Json& backend, const std::string& path, FieldErrors& errs) {
  const Json* resource = getObject(backend, "resource");
  const Json* service = getObject(backend, "service");
  if (resource != nullptr && service != nullptr) {
    errs.invalid(path, "", "cannot set both resource and service backends");
    return;
  }
  if (resource != nullptr) {
    validateTypedReference(*resource, child(path, "resource"), errs);
  } else if (service != nullptr) {
    std::string sp = child(path, "service");
    std::string name = str(*service, "name");
    if (name.empty()) {
      errs.required(child(sp, "name"));
    } else {
      invalidEach(errs, child(sp, "name"), name, isDns1035Label(name));
    }
    const Json& port = objectOf(*service, "port");
    std::string portName = str(port, "name");
    int64_t number = optInt(port, "number").value_or(0);
    if (!portName.empty() && number != 0) {
      errs.invalid(path, "", "cannot set both port name & port number");
    } else if (!portName.empty()) {
      invalidEach(errs, child(child(sp, "port"), "name"), portName, isValidPortName(portName));
    } else if (number != 0) {
      invalidEach(errs, child(child(sp, "port"), "number"), number, isValidPortNum(number));
    } else {
      errs.required(path, "port name or number is required");
    }
  } else {
    errs.invalid(path, "", "resource or service backend is required");
  }
}

void validateHttpPath(const Json& p, const std::string& path, FieldErrors& errs) {
  const Json* type = get(p, "pathType");
  if (type == nullptr) {
    errs.required(child(path, "pathType"), "pathType must be specified");
    return;
  }
  std::string value = str(p, "path");
  if (*type == "Exact" || *type == "Prefix") {
    if (value.empty() || value[0] != '/') errs.invalid(child(path, "path"), value, "must be an absolute path");
    if (!value.empty()) {
      for (std::string_view seq : {"//", "/./", "/../", "%2f", "%2F"})
        if (value.find(seq) != std::string::npos)
          errs.invalid(child(path, "path"), value, "must not contain '" + std::string(seq) + "'");
      for (std::string_view suffix : {"/..", "/."})
        if (value.size() >= suffix.size() && value.compare(value.size() - suffix.size(), suffix.size(), suffix) == 0)
          errs.invalid(child(path, "path"), value, "cannot end with '" + std::string(suffix) + "'");
    }
  } else if (*type == "ImplementationSpecific") {
    if (!value.empty() && value[0] != '/') errs.invalid(child(path, "path"), value, "must be an absolute path");
  } else {
    errs.notSupported(child(path, "pathType"), *type, {"Exact", "ImplementationSpecific", "Prefix"});
  }
  validateIngressBackend(objectOf(p, "backend"), child(path, "backend"), errs);
}

void validateHost(const std::string& host, const std::string& path, FieldErrors& errs) {
  if (host.find('*') != std::string::npos) {
    invalidEach(errs, path, host, isWildcardDns1123Subdomain(host));
  } else {
    invalidEach(errs, path, host, isDns1123Subdomain(host));
  }
}

void validateNetworkPolicyPort(const Json& port, const std::string& path, FieldErrors& errs) {
  if (const Json* protocol = get(port, "protocol"); protocol != nullptr && *protocol != "TCP" &&
                                                    *protocol != "UDP" && *protocol != "SCTP")
    errs.notSupported(child(path, "protocol"), *protocol, {"TCP", "UDP", "SCTP"});
  const Json* p = get(port, "port");
  const Json* end = get(port, "endPort");
  if (p != nullptr) {
    if (isInteger(*p)) {
      int64_t v = intValue(*p);
      invalidEach(errs, child(path, "port"), v, isValidPortNum(v));
      if (end != nullptr) {
        if (intValue(*end) < v) errs.invalid(child(path, "endPort"), v, "must be greater than or equal to `port`");
        invalidEach(errs, child(path, "endPort"), *end, isValidPortNum(intValue(*end)));
      }
    } else {
      if (end != nullptr) errs.invalid(child(path, "endPort"), *end, "may not be specified when `port` is non-numeric");
      std::string name = p->is_string() ? p->get<std::string>() : "";
      invalidEach(errs, child(path, "port"), name, isValidPortName(name));
    }
  } else if (end != nullptr) {
    errs.invalid(child(path, "endPort"), *end, "may not be specified when `port` is not specified");
  }
}

void validatePeer(const Json& peer, const std::string& path, FieldErrors& errs) {
  int peers = 0;
  if (const Json* s = getObject(peer, "podSelector")) {
    ++peers;
    validateLabelSelector(*s, child(path, "podSelector"), errs);
  }
  if (const Json* s = getObject(peer, "namespaceSelector")) {
    ++peers;
    validateLabelSelector(*s, child(path, "namespaceSelector"), errs);
  }
  const Json* block = getObject(peer, "ipBlock");
  if (block != nullptr) {
    ++peers;
    std::string bp = child(path, "ipBlock");
    std::string cidr = str(*block, "cidr");
    if (cidr.empty()) {
      errs.required(child(bp, "cidr"));
    } else {
      validateCidr(cidr, child(bp, "cidr"), errs);
      Cidr outer;
      if (parseCidr(cidr, outer)) {
        const Json& except = arrayOf(*block, "except");
        for (size_t i = 0; i < except.size(); ++i) {
          std::string ep = index(child(bp, "except"), i);
          validateCidr(except[i], ep, errs);
          Cidr inner;
          if (!except[i].is_string() || !parseCidr(except[i].get<std::string>(), inner)) continue;
          if (!contains(outer, inner) || outer.bits >= inner.bits)
            errs.invalid(ep, except[i], "must be a strict subset of `cidr`");
        }
      }
    }
  }
  if (peers == 0) {
    errs.required(path, "must specify a peer");
  } else if (peers > 1 && block != nullptr) {
    errs.forbidden(path, "may not specify both ipBlock and another peer");
  }
}

}  // namespace

void defaultNetworkPolicy(Json& o) {
  Json* spec = mutObject(o, "spec");
  if (spec == nullptr) return;
  for (std::string_view rules : {"ingress", "egress"})
    if (Json* list = mutArray(*spec, rules))
      for (Json& rule : *list)
        if (Json* ports = mutArray(rule, "ports"))
          for (Json& p : *ports) defaultIfZero(p, "protocol", "TCP");
  if (arrayOf(*spec, "policyTypes").empty()) {
    Json types = Json::array({"Ingress"});
    if (!arrayOf(*spec, "egress").empty()) types.push_back("Egress");
    (*spec)["policyTypes"] = types;
  }
}

void validateIngress(const Json& o, const Json*, Operation op, FieldErrors& errs) {
  if (op == Operation::kStatusUpdate) {
    const Json& ingress = arrayOf(objectOf(objectOf(o, "status"), "loadBalancer"), "ingress");
    for (size_t i = 0; i < ingress.size(); ++i) {
      std::string p = index("status.loadBalancer.ingress", i);
      if (const Json* ip = get(ingress[i], "ip")) validateIp(*ip, child(p, "ip"), errs);
      if (std::string h = str(ingress[i], "hostname"); !h.empty()) {
        invalidEach(errs, child(p, "hostname"), h, isDns1123Subdomain(h));
        if (isIp(h)) errs.invalid(child(p, "hostname"), h, "must be a DNS name, not an IP address");
      }
    }
    return;
  }
  if (op == Operation::kCreate) {
    const Json& annotations = objectOf(objectOf(o, "metadata"), "annotations");
    const Json* annotation = get(annotations, "kubernetes.io/ingress.class");
    const Json* className = get(objectOf(o, "spec"), "ingressClassName");
    if (annotation != nullptr && className != nullptr && *annotation != *className)
      errs.invalid("annotations.kubernetes.io/ingress.class", *annotation,
                   "must match `ingressClassName` when both are specified");
  }
  const Json& spec = objectOf(o, "spec");
  const Json& rules = arrayOf(spec, "rules");
  const Json* defaultBackend = getObject(spec, "defaultBackend");
  if (rules.empty() && defaultBackend == nullptr)
    errs.invalid("spec", rules, "either `defaultBackend` or `rules` must be specified");
  if (defaultBackend != nullptr) validateIngressBackend(*defaultBackend, "spec.defaultBackend", errs);
  for (size_t i = 0; i < rules.size(); ++i) {
    std::string rp = index("spec.rules", i);
    std::string host = str(rules[i], "host");
    if (!host.empty()) {
      if (isIp(host)) errs.invalid(child(rp, "host"), host, "must be a DNS name, not an IP address");
      validateHost(host, child(rp, "host"), errs);
    }
    if (const Json* http = getObject(rules[i], "http")) {
      const Json& paths = arrayOf(*http, "paths");
      std::string hp = child(rp, "http");
      if (paths.empty()) errs.required(child(hp, "paths"));
      for (size_t j = 0; j < paths.size(); ++j) validateHttpPath(paths[j], index(child(hp, "paths"), j), errs);
    }
  }
  const Json& tls = arrayOf(spec, "tls");
  for (size_t i = 0; i < tls.size(); ++i) {
    std::string tp = index("spec.tls", i);
    const Json& hosts = arrayOf(tls[i], "hosts");
    for (size_t j = 0; j < hosts.size(); ++j)
      if (hosts[j].is_string()) validateHost(hosts[j].get<std::string>(), index(child(tp, "hosts"), j), errs);
    if (std::string secret = str(tls[i], "secretName"); !secret.empty())
      invalidEach(errs, child(tp, "secretName"), secret, isDns1123Subdomain(secret));
  }
  if (const Json* cls = get(spec, "ingressClassName"); cls != nullptr && cls->is_string())
    invalidEach(errs, "spec.ingressClassName", *cls, isDns1123Subdomain(cls->get<std::string>()));
}

void validateIngressClass(const Json& o, const Json* old, Operation op, FieldErrors& errs) {
  if (op == Operation::kStatusUpdate) return;
  const Json& spec = objectOf(o, "spec");
  std::string controller = str(spec, "controller");
  if (controller.size() > 250) errs.tooLong("spec.controller", controller, 250);
  if (controller.empty()) {
    errs.required("spec.controller");
  } else {
    size_t slash = controller.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == controller.size()) {
      errs.invalid("spec.controller", controller, "must be a domain-prefixed path (such as \"acme.io/foo\")");
    } else {
      std::string host = controller.substr(0, slash);
      invalidEach(errs, "spec.controller", host, isDns1123Subdomain(host));
      std::string rest = controller.substr(slash + 1);
      bool ok = true;
      for (char c : rest)
        if (!std::isalnum(static_cast<unsigned char>(c)) && std::string_view("/-._~%!$&'()*+,;=:").find(c) == std::string_view::npos)
          ok = false;
      if (!ok)
        errs.invalid("spec.controller", rest,
                     "Invalid path (regex used for validation is '[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+')");
    }
  }
  if (const Json* params = getObject(spec, "parameters")) {
    std::string pp = "spec.parameters";
    validateTypedReference(*params, pp, errs);
    const Json* scope = get(*params, "scope");
    const Json* ns = get(*params, "namespace");
    if (scope != nullptr) {
      if (*scope == "Namespace") {
        if (ns == nullptr) errs.required(child(pp, "namespace"), "`parameters.scope` is set to 'Namespace'");
        else if (ns->is_string()) invalidEach(errs, child(pp, "namespace"), *ns, isDns1123Label(ns->get<std::string>()));
      } else if (*scope == "Cluster") {
        if (ns != nullptr) errs.forbidden(child(pp, "namespace"), "`parameters.scope` is set to 'Cluster'");
      } else {
        errs.notSupported(child(pp, "scope"), *scope, {"Cluster", "Namespace"});
      }
    } else if (ns != nullptr) {
      errs.required(child(pp, "scope"), "must be set when `parameters.namespace` is set");
    }
  }
  if (op == Operation::kUpdate && old != nullptr)
    immutableField(spec, objectOf(*old, "spec"), "controller", "spec.controller", errs);
}

void validateNetworkPolicy(const Json& o, const Json*, Operation op, FieldErrors& errs) {
  if (op == Operation::kStatusUpdate) return;
  const Json& spec = objectOf(o, "spec");
  validateLabelSelector(memberOrNull(spec, "podSelector"), "spec.podSelector", errs);
  for (std::string_view direction : {"ingress", "egress"}) {
    const Json& rules = arrayOf(spec, direction);
    std::string_view peers = direction == "ingress" ? "from" : "to";
    for (size_t i = 0; i < rules.size(); ++i) {
      std::string rp = index(child("spec", direction), i);
      const Json& ports = arrayOf(rules[i], "ports");
      for (size_t j = 0; j < ports.size(); ++j) validateNetworkPolicyPort(ports[j], index(child(rp, "ports"), j), errs);
      const Json& list = arrayOf(rules[i], peers);
      for (size_t j = 0; j < list.size(); ++j) validatePeer(list[j], index(child(rp, peers), j), errs);
    }
  }
  const Json& types = arrayOf(spec, "policyTypes");
  if (types.size() > 2) {
    errs.invalid("spec.policyTypes", types, "may not specify more than two policyTypes");
    return;
  }
  for (size_t i = 0; i < types.size(); ++i)
    if (types[i] != "Ingress" && types[i] != "Egress")
      errs.notSupported(index("spec.policyTypes", i), types[i], {"Ingress", "Egress"});
}

}  // namespace nave::validation::detail
