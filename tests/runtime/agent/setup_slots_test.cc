#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "runtime/agent/pod_manager.h"

namespace nave::agent {
namespace {

void waitFor(const std::function<bool()>& done) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_TRUE(done());
}

TEST(SetupSlotsTest, WaitersAreServedInArrivalOrder) {
  SetupSlots slots(1);
  std::optional<SetupSlots::Hold> first(std::in_place, slots);
  std::mutex mu;
  std::vector<int> order;
  std::vector<std::thread> waiters;
  for (int i = 0; i < 4; ++i) {
    // Each one queues before the next is started, so their arrival order is known.
    waiters.emplace_back([&, i] {
      SetupSlots::Hold h(slots);
      std::lock_guard lock(mu);
      order.push_back(i);
    });
    waitFor([&] { return slots.waiting() == static_cast<size_t>(i + 1); });
  }
  first.reset();
  for (auto& t : waiters) t.join();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(slots.waiting(), 0u);
}

TEST(SetupSlotsTest, NoMoreHoldersThanSlots) {
  SetupSlots slots(2);
  std::atomic<int> inside{0}, most{0}, done{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      SetupSlots::Hold h(slots);
      int now = ++inside;
      for (int m = most; now > m && !most.compare_exchange_weak(m, now);) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      --inside;
      ++done;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(done.load(), 6);
  EXPECT_LE(most.load(), 2);
  // Both slots are free again.
  SetupSlots::Hold a(slots), b(slots);
  EXPECT_EQ(slots.waiting(), 0u);
}

}  // namespace
}  // namespace nave::agent
