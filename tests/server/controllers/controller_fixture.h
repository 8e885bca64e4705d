// A controller on a real API stack: ApiFixture plus the shared informers, an event recorder
// and a ControllerContext, as the ControllerManager gives them.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "server/controllers/controller.h"
#include "tests/server/api_fixture.h"

namespace nave::testing {

class ControllerFixture : public ApiFixture {
 public:
  ControllerFixture()
      : informers_(client()),
        events_(client(), "test-controller"),
        ctx_{client(), informers_, events_, types(), dir()} {}
  ~ControllerFixture() {
    for (auto it = controllers_.rbegin(); it != controllers_.rend(); ++it) (*it)->stop();
    informers_.stop();
  }

  controllers::ControllerContext& context() { return ctx_; }

  // Constructs controllers (they ask for their informers), then starts informers and them.
  template <typename... C>
  void run() {
    (controllers_.push_back(std::make_unique<C>(ctx_)), ...);
    informers_.start();
    for (auto& c : controllers_) c->start();
  }

 private:
  controllers::InformerFactory informers_;
  client::EventRecorder events_;
  controllers::ControllerContext ctx_;
  std::vector<std::unique_ptr<controllers::Controller>> controllers_;
};

inline bool waitFor(const std::function<bool()>& done,
                    std::chrono::seconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

}  // namespace nave::testing
