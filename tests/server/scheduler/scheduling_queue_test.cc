// The scheduling queue: priority order, the unschedulable set and backoff.
#include "server/scheduler/scheduling_queue.h"

#include <gtest/gtest.h>

#include <thread>

namespace nave::scheduler {
namespace {

using namespace std::chrono_literals;

TEST(SchedulingQueueTest, HigherPriorityThenOlderFirst) {
  SchedulingQueue q;
  q.add("ns/b", 0, "2026-01-01T00:00:02Z");
  q.add("ns/a", 0, "2026-01-01T00:00:01Z");
  q.add("ns/urgent", 100, "2026-01-01T00:00:09Z");
  EXPECT_EQ(q.pop()->key, "ns/urgent");
  EXPECT_EQ(q.pop()->key, "ns/a");
  EXPECT_EQ(q.pop()->key, "ns/b");
}

TEST(SchedulingQueueTest, UnschedulableWaitsForAChangeThenBackoff) {
  SchedulingQueue q(50ms, 200ms, 10min);
  q.add("ns/p", 0, "t");
  auto e = q.pop();
  ASSERT_TRUE(e);
  // The scheduler's own status update while it is in flight does not requeue it.
  q.add("ns/p", 0, "t", false);
  q.addUnschedulable(*e);
  EXPECT_EQ(q.activeSize(), 0u);
  EXPECT_EQ(q.unschedulableSize(), 1u);
  q.add("ns/p", 0, "t", false);
  EXPECT_EQ(q.unschedulableSize(), 1u);
  // A cluster change: back after its backoff.
  q.moveAllToActive();
  EXPECT_EQ(q.unschedulableSize(), 0u);
  auto start = SchedulingQueue::Clock::now();
  auto again = q.pop();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->key, "ns/p");
  EXPECT_GE(SchedulingQueue::Clock::now() - start, 30ms);
}

TEST(SchedulingQueueTest, ChangeWhileInFlightGoesToBackoff) {
  SchedulingQueue q(20ms, 100ms, 10min);
  q.add("ns/p", 0, "t");
  auto e = q.pop();
  q.moveAllToActive();  // e.g. a node was added while the pod was being scheduled
  q.addUnschedulable(*e);
  EXPECT_EQ(q.unschedulableSize(), 0u);
  EXPECT_EQ(q.pop()->key, "ns/p");
}

TEST(SchedulingQueueTest, ShutdownWakesPop) {
  SchedulingQueue q;
  std::thread t([&] { q.shutdown(); });
  EXPECT_FALSE(q.pop());
  t.join();
}

}  // namespace
}  // namespace nave::scheduler
