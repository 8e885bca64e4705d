#include "server/scheduler/pod_info.h"

namespace nave::scheduler {

const Json& objectField(const Json& o, std::string_view key) {
  static const Json kEmpty = Json::object();
  const Json* m = findMember(o, key);
  return m && m->is_object() ? *m : kEmpty;
}

const Json& arrayField(const Json& o, std::string_view key) {
  static const Json kEmpty = Json::array();
  const Json* m = findMember(o, key);
  return m && m->is_array() ? *m : kEmpty;
}

bool tolerates(const Toleration& t, const Taint& taint) {
  if (!t.effect.empty() && t.effect != taint.effect) return false;
  if (!t.key.empty() && t.key != taint.key) return false;
  if (t.op == "Exists") return true;
  if (t.op.empty() || t.op == "Equal") return t.value == taint.value;
  return false;
}

bool anyTolerates(const std::vector<Toleration>& ts, const Taint& taint) {
  for (const Toleration& t : ts)
    if (tolerates(t, taint)) return true;
  return false;
}

namespace {

std::optional<selectors::LabelSelector> parseSelector(const Json* s) {
  // A missing selector selects nothing here (metav1.LabelSelectorAsSelector(nil)).
  if (s == nullptr || s->is_null()) return std::nullopt;
  auto parsed = selectors::LabelSelector::fromObject(*s);
  if (!parsed.ok()) return std::nullopt;
  return std::move(*parsed);
}

AffinityTerm parseTerm(const Json& t, const std::string& podNs) {
  AffinityTerm term;
  term.selector = parseSelector(findMember(t, "labelSelector"));
  term.topologyKey = getString(t, "topologyKey");
  const Json* nss = findMember(t, "namespaces");
  const Json* nsSel = findMember(t, "namespaceSelector");
  if (nss && nss->is_array())
    for (const Json& n : *nss)
      if (n.is_string()) term.namespaces.insert(n.get<std::string>());
  if (nsSel && !nsSel->is_null()) {
    auto parsed = selectors::LabelSelector::fromObject(*nsSel);
    if (parsed.ok()) term.namespaceSelector = std::move(*parsed);
  }
  if (term.namespaces.empty() && (nsSel == nullptr || nsSel->is_null()))
    term.namespaces.insert(podNs);
  return term;
}

void parseTerms(const Json& affinity, const char* kind, const std::string& ns,
                std::vector<AffinityTerm>& required, std::vector<AffinityTerm>& preferred) {
  const Json* a = findMember(affinity, kind);
  if (a == nullptr || !a->is_object()) return;
  if (const Json* r = findMember(*a, "requiredDuringSchedulingIgnoredDuringExecution");
      r && r->is_array())
    for (const Json& t : *r) required.push_back(parseTerm(t, ns));
  if (const Json* p = findMember(*a, "preferredDuringSchedulingIgnoredDuringExecution");
      p && p->is_array())
    for (const Json& w : *p) {
      AffinityTerm term = parseTerm(objectField(w, "podAffinityTerm"), ns);
      term.weight = static_cast<int32_t>(getInt(w, "weight"));
      preferred.push_back(std::move(term));
    }
}

}  // namespace

PodInfo makePodInfo(const Json& pod) {
  const Json& spec = objectField(pod, "spec");
  return makePodInfo(pod, static_cast<int32_t>(getInt(spec, "priority", 0)),
                     getString(spec, "preemptionPolicy") == "Never");
}

PodInfo makePodInfo(Json object, int32_t priority, bool preemptNever) {
  PodInfo p;
  p.pod = std::move(object);
  const Json& pod = p.pod;
  const Json& md = objectField(pod, "metadata");
  const Json& spec = objectField(pod, "spec");
  const Json& status = objectField(pod, "status");
  p.ns = getString(md, "namespace");
  p.name = getString(md, "name");
  p.key = p.ns.empty() ? p.name : p.ns + "/" + p.name;
  p.uid = getString(md, "uid");
  p.creationTimestamp = getString(md, "creationTimestamp");
  if (const Json* l = findMember(md, "labels"); l && l->is_object()) p.labels = *l;
  p.terminating = md.contains("deletionTimestamp") && !md["deletionTimestamp"].is_null();
  p.nodeName = getString(spec, "nodeName");
  p.nominatedNodeName = getString(status, "nominatedNodeName");
  p.startTime = getString(status, "startTime", p.creationTimestamp);
  p.priority = priority;
  p.preemptNever = preemptNever;
  p.requests = podRequests(pod);
  p.nonZeroRequests = podNonZeroRequests(pod);

  if (const Json* ts = findMember(spec, "tolerations"); ts && ts->is_array())
    for (const Json& t : *ts)
      p.tolerations.push_back({getString(t, "key"), getString(t, "operator"), getString(t, "value"),
                               getString(t, "effect")});
  if (const Json* s = findMember(spec, "nodeSelector"); s && s->is_object()) p.nodeSelector = *s;
  if (const Json* affinity = findMember(spec, "affinity"); affinity && affinity->is_object()) {
    if (const Json* na = findMember(*affinity, "nodeAffinity"); na && na->is_object()) {
      if (const Json* req = findMember(*na, "requiredDuringSchedulingIgnoredDuringExecution");
          req && req->is_object())
        p.requiredNodeTerms = req->value("nodeSelectorTerms", Json::array());
      if (const Json* pref = findMember(*na, "preferredDuringSchedulingIgnoredDuringExecution");
          pref && pref->is_array())
        p.preferredNodeTerms = *pref;
    }
    parseTerms(*affinity, "podAffinity", p.ns, p.requiredAffinity, p.preferredAffinity);
    parseTerms(*affinity, "podAntiAffinity", p.ns, p.requiredAntiAffinity, p.preferredAntiAffinity);
  }
  for (const char* list : {"containers", "initContainers"}) {
    const Json* cs = findMember(spec, list);
    if (cs == nullptr || !cs->is_array()) continue;
    for (const Json& c : *cs) {
      const Json* ports = findMember(c, "ports");
      if (ports == nullptr || !ports->is_array()) continue;
      for (const Json& port : *ports) {
        int64_t hp = getInt(port, "hostPort", 0);
        if (hp <= 0) continue;
        HostPort h;
        h.port = static_cast<int32_t>(hp);
        h.protocol = getString(port, "protocol", "TCP");
        h.ip = getString(port, "hostIP", "0.0.0.0");
        if (h.ip.empty()) h.ip = "0.0.0.0";
        p.hostPorts.push_back(h);
      }
    }
  }
  if (const Json* vs = findMember(spec, "volumes"); vs && vs->is_array()) {
    for (const Json& v : *vs) {
      if (const Json* c = findMember(v, "persistentVolumeClaim"); c && c->is_object())
        p.claims.push_back(getString(*c, "claimName"));
      else if (const Json* e = findMember(v, "ephemeral"); e && e->is_object())
        p.claims.push_back(p.name + "-" + getString(v, "name"));  // the claim it gets
    }
  }
  if (const Json* cs = findMember(spec, "topologySpreadConstraints"); cs && cs->is_array()) {
    for (const Json& c : *cs) {
      SpreadConstraint sc;
      sc.maxSkew = static_cast<int32_t>(getInt(c, "maxSkew", 1));
      sc.topologyKey = getString(c, "topologyKey");
      sc.doNotSchedule = getString(c, "whenUnsatisfiable", "DoNotSchedule") == "DoNotSchedule";
      sc.selector = parseSelector(findMember(c, "labelSelector"));
      sc.minDomains = static_cast<int32_t>(getInt(c, "minDomains", 1));
      sc.honorNodeAffinity = getString(c, "nodeAffinityPolicy", "Honor") == "Honor";
      sc.honorNodeTaints = getString(c, "nodeTaintsPolicy", "Ignore") == "Honor";
      p.spread.push_back(std::move(sc));
    }
  }
  return p;
}

void addDefaultSpread(PodInfo& pod, const selectors::LabelSelector& selector) {
  if (!pod.spread.empty() || selector.empty()) return;
  for (auto [key, skew] :
       {std::pair{"kubernetes.io/hostname", 3}, std::pair{"topology.kubernetes.io/zone", 5}}) {
    SpreadConstraint c;
    c.maxSkew = skew;
    c.topologyKey = key;
    c.doNotSchedule = false;
    c.selector = selector;
    pod.spread.push_back(std::move(c));
  }
  pod.spreadDefaulted = true;
}

bool termMatches(const AffinityTerm& term, const PodInfo& other, const Json& nsLabels) {
  bool inNamespace = term.namespaces.contains(other.ns) ||
                     (term.namespaceSelector && term.namespaceSelector->matches(nsLabels));
  return inNamespace && term.selector && term.selector->matches(other.labels);
}

}  // namespace nave::scheduler
