// The workload controllers on a real API stack (ApiFixture) with shared informers and an
// event recorder, as the controller manager runs them. No kubelet runs here: tests play it by
// writing pod status (markReady).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "common/time.h"
#include "server/client/event_recorder.h"
#include "server/controllers/controller.h"
#include "server/controllers/workloads/controller_refs.h"
#include "server/controllers/workloads/replicaset_controller.h"
#include "tests/server/api_fixture.h"

namespace nave::controllers::workloads::testing {

inline const client::Resource kEvents{"", "v1", "events"};

inline bool waitFor(const std::function<bool()>& done,
                    std::chrono::seconds timeout = std::chrono::seconds(30)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

inline Json podTemplate(const Json& labels, const std::string& image = "busybox:1.36") {
  return {
      {"metadata", {{"labels", labels}}},
      {"spec",
       {{"containers",
         Json::array({{{"name", "main"}, {"image", image}, {"command", {"sleep", "3600"}}}})}}}};
}

class WorkloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* v = std::getenv("NAVE_TEST_V")) log::setVerbosity(std::atoi(v));
    informers_ = std::make_unique<InformerFactory>(fx_.client());
    events_ = std::make_unique<client::EventRecorder>(fx_.client(), "kube-controller-manager");
    ctx_ = std::make_unique<ControllerContext>(
        ControllerContext{controllerClient(), *informers_, *events_, fx_.types(), fx_.dir()});
  }
  // The client the controllers write through (a test may put a faulty one in front).
  virtual client::Client& controllerClient() { return fx_.client(); }
  // Constructs the controllers (before the informers start, as the manager does) and starts them.
  void startControllers(
      const std::vector<std::function<std::unique_ptr<Controller>(ControllerContext&)>>& makers) {
    for (const auto& make : makers) controllers_.push_back(make(*ctx_));
    informers_->start();
    for (auto& c : controllers_) c->start();
  }
  void TearDown() override {
    for (auto& c : controllers_) c->stop();
    informers_->stop();
    controllers_.clear();
    events_.reset();
  }

  client::Client& client() { return fx_.client(); }

  Json get(const client::Resource& r, const std::string& name, const std::string& ns = "default") {
    auto got = client().get(r, ns, name);
    return got.ok() ? *got : Json(nullptr);
  }

  // Active pods (not being deleted) in `ns` whose controller has this UID.
  std::vector<Json> podsOwnedBy(const std::string& uid, const std::string& ns = "default") {
    std::vector<Json> out;
    auto list = client().list(kPods, ns);
    if (!list.ok()) return out;
    for (const Json& p : (*list)["items"])
      if (isControlledBy(p, uid) && !hasDeletionTimestamp(p)) out.push_back(p);
    return out;
  }

  // Plays the kubelet: Running and Ready (or not) since now.
  bool setReady(const Json& pod, bool ready) {
    for (int attempt = 0; attempt < 10; ++attempt) {
      auto fresh = client().get(kPods, getString(pod["metadata"], "namespace"),
                                getString(pod["metadata"], "name"));
      if (!fresh.ok()) return false;
      Json p = *fresh;
      std::string now = formatRfc3339(std::chrono::system_clock::now());
      p["status"] = {{"phase", "Running"},
                     {"conditions", Json::array({{{"type", "Ready"},
                                                  {"status", ready ? "True" : "False"},
                                                  {"lastTransitionTime", now}}})}};
      auto r = client().update(kPods, getString(p["metadata"], "namespace"), p, {}, "status");
      if (r.ok()) return true;
      if (!r.error().is(ErrorCode::kConflict)) return false;
    }
    return false;
  }
  // Marks every owned pod that is not Ready yet as Ready; returns how many it marked.
  int markReady(const std::string& uid) {
    int n = 0;
    for (const Json& p : podsOwnedBy(uid)) {
      const Json* status = findMember(p, "status");
      const Json* conditions = status ? findMember(*status, "conditions") : nullptr;
      bool ready = false;
      if (conditions)
        for (const Json& c : *conditions)
          if (getString(c, "type") == "Ready" && getString(c, "status") == "True") ready = true;
      if (!ready && setReady(p, true)) ++n;
    }
    return n;
  }

  // The messages of the events about `name` with `reason`.
  std::vector<std::string> eventMessages(const std::string& name, const std::string& reason) {
    std::vector<std::string> out;
    auto list = client().list(kEvents, "default");
    if (!list.ok()) return out;
    for (const Json& e : (*list)["items"])
      if (getString(e["involvedObject"], "name") == name && getString(e, "reason") == reason)
        out.push_back(getString(e, "message"));
    return out;
  }

  nave::testing::ApiFixture fx_;
  std::unique_ptr<InformerFactory> informers_;
  std::unique_ptr<client::EventRecorder> events_;
  std::unique_ptr<ControllerContext> ctx_;
  std::vector<std::unique_ptr<Controller>> controllers_;
};

}  // namespace nave::controllers::workloads::testing
