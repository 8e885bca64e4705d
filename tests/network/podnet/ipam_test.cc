// HostLocalIpam on a temporary directory (no privileges needed).
#include "network/podnet/ipam.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <set>
#include <thread>

#include "common/fs.h"

namespace nave::network {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/nave-ipam-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { (void)removeTree(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Ipv4Prefix prefix(const char* text) {
  return *Ipv4Prefix::parse(text);
}

std::string contentOf(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST(HostLocalIpamTest, AllocatesInOrderSkippingGatewayAndRemembersSandboxes) {
  TempDir dir;
  auto ipam = HostLocalIpam::open(dir.path() + "/ipam", prefix("10.42.0.0/24"));
  ASSERT_TRUE(ipam.ok()) << ipam.error().message();
  EXPECT_EQ(ipam->gateway().toString(), "10.42.0.1");
  EXPECT_EQ(ipam->allocate("a")->toString(), "10.42.0.2");
  EXPECT_EQ(ipam->allocate("b")->toString(), "10.42.0.3");
  EXPECT_EQ(ipam->allocate("a")->toString(), "10.42.0.2");  // its recorded address
  EXPECT_EQ(contentOf(dir.path() + "/ipam/10.42.0.3"), "b\n");
  EXPECT_EQ(ipam->find("b")->value().toString(), "10.42.0.3");
  EXPECT_FALSE(ipam->find("c")->has_value());

  auto released = ipam->release("a");
  ASSERT_TRUE(released.ok());
  EXPECT_EQ(released->value().toString(), "10.42.0.2");
  EXPECT_FALSE(ipam->release("a")->has_value());
  // Not reused at once: allocation continues after the last one handed out.
  EXPECT_EQ(ipam->allocate("c")->toString(), "10.42.0.4");

  auto all = ipam->list();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].sandboxId, "b");
  EXPECT_EQ((*all)[1].sandboxId, "c");
}

TEST(HostLocalIpamTest, ExhaustionWrapsAroundAndThenFailsClearly) {
  TempDir dir;
  // A /29: .0 network, .1 gateway, .7 broadcast; .2 to .6 for pods.
  auto ipam = HostLocalIpam::open(dir.path(), prefix("10.42.0.0/29"));
  ASSERT_TRUE(ipam.ok());
  std::set<std::string> got;
  for (int i = 0; i < 5; ++i) {
    auto ip = ipam->allocate("s" + std::to_string(i));
    ASSERT_TRUE(ip.ok()) << ip.error().message();
    got.insert(ip->toString());
  }
  EXPECT_EQ(got, (std::set<std::string>{"10.42.0.2", "10.42.0.3", "10.42.0.4", "10.42.0.5",
                                        "10.42.0.6"}));
  auto full = ipam->allocate("s5");
  ASSERT_FALSE(full.ok());
  EXPECT_TRUE(full.error().is(ErrorCode::kUnavailable));
  EXPECT_NE(full.error().message().find("no free address left in pod CIDR 10.42.0.0/29"),
            std::string::npos)
      << full.error().message();
  // After the last address, the search wraps to the start.
  ASSERT_TRUE(ipam->release("s1").ok());
  EXPECT_EQ(ipam->allocate("s6")->toString(), "10.42.0.3");
}

TEST(HostLocalIpamTest, RecordsSurviveReopenAndForeignFilesAreIgnored) {
  TempDir dir;
  {
    auto ipam = HostLocalIpam::open(dir.path(), prefix("10.42.0.0/24"));
    ASSERT_EQ(ipam->allocate("a")->toString(), "10.42.0.2");
  }
  // Something else in the directory, and a record written by hand.
  std::ofstream(dir.path() + "/README") << "not a record";
  std::ofstream(dir.path() + "/10.42.0.9") << "manual\n";
  auto ipam = HostLocalIpam::open(dir.path(), prefix("10.42.0.0/24"));
  ASSERT_TRUE(ipam.ok());
  auto all = ipam->list();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ(ipam->allocate("a")->toString(), "10.42.0.2");
  EXPECT_EQ(ipam->find("manual")->value().toString(), "10.42.0.9");
  EXPECT_EQ(ipam->allocate("b")->toString(), "10.42.0.3");
}

TEST(HostLocalIpamTest, ConcurrentAllocatorsNeverShareAnAddress) {
  TempDir dir;
  // Separate objects (as separate processes would have) on one directory, from many threads.
  constexpr int kThreads = 8, kEach = 12;
  std::vector<std::vector<std::string>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto ipam = HostLocalIpam::open(dir.path(), prefix("10.42.0.0/24"));
      if (!ipam.ok()) return;
      for (int i = 0; i < kEach; ++i) {
        auto ip = ipam->allocate("t" + std::to_string(t) + "-" + std::to_string(i));
        if (ip.ok()) results[t].push_back(ip->toString());
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  size_t total = 0;
  for (const auto& r : results) {
    total += r.size();
    all.insert(r.begin(), r.end());
  }
  EXPECT_EQ(total, size_t{kThreads * kEach});
  EXPECT_EQ(all.size(), total);
  auto ipam = HostLocalIpam::open(dir.path(), prefix("10.42.0.0/24"));
  EXPECT_EQ(ipam->list()->size(), total);
}

TEST(HostLocalIpamTest, RefusesBadConfiguration) {
  TempDir dir;
  EXPECT_TRUE(
      HostLocalIpam::open("relative/dir", prefix("10.42.0.0/24")).error().is(ErrorCode::kInvalid));
  EXPECT_TRUE(
      HostLocalIpam::open(dir.path(), prefix("10.42.0.0/31")).error().is(ErrorCode::kInvalid));
  auto tiny = HostLocalIpam::open(dir.path(), prefix("10.42.0.0/30"));
  ASSERT_TRUE(tiny.ok());
  EXPECT_EQ(tiny->allocate("only")->toString(), "10.42.0.2");
  EXPECT_TRUE(tiny->allocate("more").error().is(ErrorCode::kUnavailable));
}

}  // namespace
}  // namespace nave::network
