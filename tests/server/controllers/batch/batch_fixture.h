// A controller-manager stand-in for the batch controllers' integration tests: a real API stack
// (ApiFixture), shared informers and an event recorder. Nothing runs pods here: tests play the
// kubelet by setting pod phases and container statuses themselves.
#pragma once

#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "common/log.h"
#include "server/client/event_recorder.h"
#include "server/controllers/batch/job_util.h"
#include "server/controllers/controller.h"
#include "tests/server/api_fixture.h"

namespace nave::controllers::batch::testing {

inline bool waitFor(const std::function<bool()>& done, std::chrono::seconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// A clock the test moves by hand.
class FakeClock {
 public:
  explicit FakeClock(WallTime start) : now_(start) {}
  WallTime now() {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  void set(WallTime t) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ = t;
  }

 private:
  std::mutex mu_;
  WallTime now_;
};

class BatchFixture {
 public:
  BatchFixture() {
    if (const char* v = std::getenv("NAVE_TEST_V")) log::setVerbosity(std::atoi(v));
    informers_ = std::make_unique<InformerFactory>(api_.client());
    events_ = std::make_unique<client::EventRecorder>(api_.client(), "kube-controller-manager");
    ctx_ = std::make_unique<ControllerContext>(
        ControllerContext{api_.client(), *informers_, *events_, api_.types(), api_.dir()});
  }
  ~BatchFixture() { stop(); }

  ControllerContext& context() { return *ctx_; }
  client::Client& client() { return api_.client(); }

  // Starts the informers (after the controllers asked for theirs), then the controllers.
  void start(std::vector<Controller*> controllers) {
    controllers_ = std::move(controllers);
    informers_->start();
    for (Controller* c : controllers_) c->start();
  }
  void stop() {
    for (Controller* c : controllers_) c->stop();
    controllers_.clear();
    if (informers_) informers_->stop();
  }
  // A controller manager that took over (after a restart, or another leader): fresh informers
  // over the same API. Call stop() first; then construct the new controllers on context() and
  // start() them.
  void restart() {
    stop();
    retired_.push_back(std::move(informers_));
    informers_ = std::make_unique<InformerFactory>(api_.client());
    ctx_ = std::make_unique<ControllerContext>(
        ControllerContext{api_.client(), *informers_, *events_, api_.types(), api_.dir()});
  }

  std::vector<Json> list(const client::Resource& r, const std::string& selector = "") {
    api::ListOptions o;
    o.labelSelector = selector;
    auto l = api_.client().list(r, "default", o);
    EXPECT_TRUE(l.ok());
    return l.ok() ? (*l)["items"].get<std::vector<Json>>() : std::vector<Json>{};
  }
  std::optional<Json> get(const client::Resource& r, const std::string& name) {
    auto g = api_.client().get(r, "default", name);
    if (!g.ok()) return std::nullopt;
    return *g;
  }
  std::vector<Json> podsOf(const std::string& job) { return list(kPods, "batch.kubernetes.io/job-name=" + job); }
  std::vector<Json> activePodsOf(const std::string& job) {
    std::vector<Json> out;
    for (Json& p : podsOf(job))
      if (!isPodTerminal(p) && !isDeleting(p)) out.push_back(std::move(p));
    return out;
  }

  // The kubelet's part: the pod ran and its container "main" exited with `exitCode`.
  void finishPod(const Json& pod, int exitCode, Json extraConditions = Json::array()) {
    Json p = pod;
    std::string now = formatRfc3339(std::chrono::system_clock::now());
    p["status"]["phase"] = exitCode == 0 ? "Succeeded" : "Failed";
    p["status"]["containerStatuses"] = Json::array(
        {{{"name", "main"},
          {"image", "busybox"},
          {"imageID", ""},
          {"ready", false},
          {"restartCount", 0},
          {"state",
           {{"terminated",
             {{"exitCode", exitCode}, {"reason", exitCode == 0 ? "Completed" : "Error"}, {"startedAt", now}, {"finishedAt", now}}}}}}});
    p["status"]["conditions"] = extraConditions;
    auto r = api_.client().update(kPods, "default", p, {}, "status");
    ASSERT_TRUE(r.ok()) << r.error().message();
  }

  std::vector<Json> eventsFor(const std::string& name) {
    std::vector<Json> out;
    for (Json& e : list(client::Resource{"", "v1", "events"}))
      if (getString(e["involvedObject"], "name") == name) out.push_back(std::move(e));
    return out;
  }
  bool hasEvent(const std::string& name, const std::string& reason, const std::string& message = "") {
    for (const Json& e : eventsFor(name))
      if (getString(e, "reason") == reason && (message.empty() || getString(e, "message") == message)) return true;
    return false;
  }

 private:
  nave::testing::ApiFixture api_;
  std::unique_ptr<InformerFactory> informers_;
  std::unique_ptr<client::EventRecorder> events_;
  std::unique_ptr<ControllerContext> ctx_;
  std::vector<Controller*> controllers_;
  std::vector<std::unique_ptr<InformerFactory>> retired_;  // kept until the end: old controllers hold references
};

inline Json jobObject(const std::string& name, Json spec) {
  if (!spec.contains("template"))
    spec["template"] = {{"spec",
                         {{"restartPolicy", "Never"},
                          {"containers", Json::array({{{"name", "main"}, {"image", "busybox"}}})}}}};
  return {{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"metadata", {{"name", name}, {"namespace", "default"}}}, {"spec", spec}};
}

}  // namespace nave::controllers::batch::testing
