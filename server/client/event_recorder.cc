#include "server/client/event_recorder.h"

#include <chrono>

#include "common/log.h"
#include "common/time.h"

namespace nave::client {
namespace {

const client::Resource kEvents{"", "v1", "events"};
constexpr size_t kMaxRemembered = 4096;

// The suffix client-go gives event names: the time in nanoseconds, in hex.
std::string eventSuffix() {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(ns));
  return buf;
}

}  // namespace

constexpr size_t kMaxQueued = 10000;  // beyond this, events are dropped (and logged)

EventRecorder::EventRecorder(client::Client& client, std::string component, std::string host)
    : client_(client), component_(std::move(component)), host_(std::move(host)) {
  thread_ = std::thread([this] { run(); });
}

EventRecorder::~EventRecorder() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EventRecorder::enqueue(Pending p) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= kMaxQueued) {
      log::warning("dropping an event: too many queued", {{"reason", p.reason}});
      return;
    }
    queue_.push_back(std::move(p));
  }
  cv_.notify_one();
}

void EventRecorder::run() {
  for (;;) {
    Pending p;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything written
      p = std::move(queue_.front());
      queue_.pop_front();
    }
    record(p);
  }
}

void EventRecorder::event(const Json& object, const std::string& type, const std::string& reason,
                          const std::string& message, const std::string& fieldPath) {
  eventAs(component_, object, type, reason, message, fieldPath);
}

void EventRecorder::eventAs(const std::string& component, const Json& object,
                            const std::string& type, const std::string& reason,
                            const std::string& message, const std::string& fieldPath) {
  const Json& md = object.value("metadata", Json::object());
  Json involved = {{"kind", getString(object, "kind")},
                   {"apiVersion", getString(object, "apiVersion")},
                   {"name", getString(md, "name")},
                   {"uid", getString(md, "uid")},
                   {"resourceVersion", getString(md, "resourceVersion")}};
  std::string ns = getString(md, "namespace");
  if (!ns.empty()) involved["namespace"] = ns;
  if (!fieldPath.empty()) involved["fieldPath"] = fieldPath;
  // Events about cluster-scoped objects go to "default", as client-go puts them.
  enqueue({involved, ns.empty() ? "default" : ns, type, reason, message, component,
           formatRfc3339(std::chrono::system_clock::now())});
}

void EventRecorder::pod(const Json& pod, const std::string& fieldPath, const std::string& type,
                        const std::string& reason, const std::string& message) {
  if (pod.contains("kind") && pod.contains("apiVersion")) {
    event(pod, type, reason, message, fieldPath);
    return;
  }
  Json named = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", pod.value("metadata", Json::object())}};
  event(named, type, reason, message, fieldPath);
}

void EventRecorder::node(const std::string& nodeUid, const std::string& type,
                         const std::string& reason, const std::string& message) {
  Json involved = {{"kind", "Node"}, {"name", host_}, {"uid", nodeUid}};
  enqueue({involved, "default", type, reason, message, component_,
           formatRfc3339(std::chrono::system_clock::now())});
}

void EventRecorder::record(const Pending& p) {
  const Json& involved = p.involved;
  const std::string& ns = p.ns;
  const std::string& type = p.type;
  const std::string& reason = p.reason;
  const std::string& message = p.message;
  const std::string& now = p.timestamp;
  std::string key = p.component + "/" + getString(involved, "uid") + "/" + getString(involved, "fieldPath") + "/" +
                    reason + "/" + message;
  std::string name;
  int64_t count = 1;
  {
    std::lock_guard lock(mu_);
    auto it = seen_.find(key);
    if (it != seen_.end()) {
      name = it->second.name;
      count = ++it->second.count;
    } else {
      if (seen_.size() >= kMaxRemembered) seen_.clear();
      name = getString(involved, "name") + "." + eventSuffix();
      seen_[key] = Seen{name, 1};
    }
  }
  if (count > 1) {
    Json patch = {{"count", count}, {"lastTimestamp", now}};
    auto r = client_.patch(kEvents, ns, name, api::PatchType::kMerge, dumpJson(patch));
    if (r.ok()) return;
    // Gone (the TTL removed it): start over with a new object.
    std::lock_guard lock(mu_);
    name = getString(involved, "name") + "." + eventSuffix();
    seen_[key] = Seen{name, 1};
    count = 1;
  }
  Json event = {{"apiVersion", "v1"},
                {"kind", "Event"},
                {"metadata", {{"name", name}, {"namespace", ns}}},
                {"involvedObject", involved},
                {"reason", reason},
                {"message", message},
                {"type", type},
                {"source", host_.empty() ? Json{{"component", p.component}}
                                         : Json{{"component", p.component}, {"host", host_}}},
                {"firstTimestamp", now},
                {"lastTimestamp", now},
                {"count", count},
                {"reportingComponent", p.component},
                {"reportingInstance", host_.empty() ? p.component : host_}};
  auto r = client_.create(kEvents, ns, event);
  if (!r.ok()) {
    log::v(2, "recording an event failed", {{"reason", reason}, {"error", r.error().message()}});
  }
}

}  // namespace nave::client
