// The index shared by processes, garbage collection, and the content store's writers.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <atomic>
#include <thread>

#include "image_test_util.h"
#include "runtime/image/content_store.h"
#include "runtime/image/digest.h"
#include "runtime/image/image_index.h"
#include "runtime/image/image_store.h"
#include "runtime/image/single_flight.h"

namespace nave::runtime {
namespace {

using testing::readFile;
using testing::runCommand;
using testing::TempDir;

std::unique_ptr<ImageStore> openStore(const std::string& dataDir) {
  ImageStoreOptions options;
  options.dataDir = dataDir;
  auto store = ImageStore::open(options);
  EXPECT_TRUE(store.ok()) << store.error().message();
  return store.ok() ? std::move(*store) : nullptr;
}

TEST(ContentStoreTest, WritersVerifyBeforeCommitting) {
  TempDir dir;
  auto content = ContentStore::open(dir / "content");
  ASSERT_TRUE(content.ok());
  const std::string data = "hello blob";
  const std::string digest = sha256Digest(data);

  auto w = (*content)->newWriter();
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->write(data).ok());
  auto wrong = (*w)->commit(sha256Digest("something else"));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code(), ErrorCode::kBadRequest);
  EXPECT_NE(wrong.error().message().find("digest mismatch"), std::string::npos);
  EXPECT_FALSE((*content)->has(digest));
  EXPECT_FALSE((*w)->commit(digest, 3).ok());  // size mismatch
  ASSERT_TRUE((*w)->commit(digest, static_cast<int64_t>(data.size())).ok());
  EXPECT_TRUE((*content)->has(digest));
  EXPECT_EQ(*(*content)->read(digest, 100), data);
  EXPECT_EQ((*content)->read(digest, 3).error().code(), ErrorCode::kTooLarge);
  w->reset();
  EXPECT_EQ(testing::sh("ls -A " + dir / "content/ingest").output, "");

  // An abandoned writer leaves nothing; put() verifies too.
  {
    auto w2 = (*content)->newWriter();
    ASSERT_TRUE((*w2)->write("partial").ok());
  }
  EXPECT_EQ(testing::sh("ls -A " + dir / "content/ingest").output, "");
  EXPECT_FALSE((*content)->put(sha256Digest("a"), "b").ok());
  EXPECT_FALSE((*content)->put("sha256:../../x", "b").ok());
  ASSERT_TRUE((*content)->put(sha256Digest("a"), "a").ok());
  auto list = (*content)->list();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 2u);
  EXPECT_EQ(*(*content)->remove(digest), static_cast<int64_t>(data.size()));
  EXPECT_FALSE((*content)->has(digest));
}

TEST(ImageIndexTest, TagsMoveBetweenImages) {
  IndexState state;
  auto record = [](const std::string& id, std::vector<std::string> tags) {
    ImageRecord r;
    r.id = id;
    r.manifestDigest = id;
    r.repoTags = std::move(tags);
    return r;
  };
  const std::string one = sha256Digest("1"), two = sha256Digest("2");
  state.add(record(one, {"a:1", "a:2"}));
  state.add(record(two, {"a:2", "b:1"}));
  state.add(record(one, {"c:1"}));
  EXPECT_EQ(state.images[one].repoTags, (std::vector<std::string>{"a:1", "c:1"}));
  EXPECT_EQ(state.images[two].repoTags, (std::vector<std::string>{"a:2", "b:1"}));
  EXPECT_EQ(state.byName("a:2")->id, two);
  EXPECT_EQ(state.byName("x:1"), nullptr);
  Json j = indexStateToJson(state);
  j["images"].push_back({{"id", "sha256:../../etc"}, {"manifest", one}});  // dropped on load
  auto round = indexStateFromJson(j);
  ASSERT_TRUE(round.ok());
  EXPECT_EQ(round->images.size(), 2u);
  EXPECT_EQ(round->images[one].repoTags, state.images[one].repoTags);
}

// Two processes update one index at once: every update survives.
TEST(ImageIndexTest, ConcurrentProcessesLoseNoUpdate) {
  TempDir data;
  constexpr int kPerProcess = 40;
  pid_t children[2];
  for (int c = 0; c < 2; ++c) {
    children[c] = ::fork();
    ASSERT_GE(children[c], 0);
    if (children[c] == 0) {
      auto index = ImageIndex::open(data / "agent");
      if (!index.ok()) ::_exit(1);
      for (int i = 0; i < kPerProcess; ++i) {
        ImageRecord r;
        r.id = sha256Digest(std::to_string(c) + "-" + std::to_string(i));
        r.manifestDigest = r.id;
        r.repoTags = {"example.com/p" + std::to_string(c) + ":" + std::to_string(i)};
        auto ok = (*index)->update([&](IndexState& s) -> Result<void> {
          s.add(r);
          return {};
        });
        if (!ok.ok()) ::_exit(2);
      }
      ::_exit(0);
    }
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  auto index = ImageIndex::open(data / "agent");
  ASSERT_TRUE(index.ok());
  auto state = (*index)->read();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ((*state)->images.size(), 2u * kPerProcess);
}

// Two processes import archives into one data dir at once.
TEST(ImageStoreTest, ConcurrentImportsFromTwoProcesses) {
  NAVE_REQUIRE_BUSYBOX_IMAGE();
  TempDir work;
  TempDir data;
  std::string second = work / "second.tar";
  ASSERT_EQ(runCommand({"skopeo", "copy", "--quiet", "oci:" + busybox.layout + ":latest",
                        "oci-archive:" + second + ":example.com/second:1"}).exitCode, 0);
  const std::string archives[2] = {busybox.dockerArchive, second};
  pid_t children[2];
  for (int c = 0; c < 2; ++c) {
    children[c] = ::fork();
    ASSERT_GE(children[c], 0);
    if (children[c] == 0) {
      ImageStoreOptions options;
      options.dataDir = data.path();
      auto store = ImageStore::open(options);
      if (!store.ok()) ::_exit(1);
      for (int i = 0; i < 3; ++i) {
        if (!(*store)->importArchive(archives[c]).ok()) ::_exit(2);
      }
      ::_exit(0);
    }
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  auto store = openStore(data.path());
  ASSERT_TRUE(store);
  auto a = store->find("busybox");
  auto b = store->find("example.com/second:1");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->id, b->id);
  EXPECT_EQ(a->repoTags.size(), 2u);
  EXPECT_EQ(testing::sh("ls -A " + data / "agent/content/ingest").output, "");
}

// A second store on the same data dir (the CLI beside the server) sees changes.
TEST(ImageStoreTest, ReadersReloadWhenTheIndexChanges) {
  NAVE_REQUIRE_BUSYBOX_IMAGE();
  TempDir data;
  auto server = openStore(data.path());
  auto cli = openStore(data.path());
  ASSERT_TRUE(server && cli);
  EXPECT_TRUE(server->list().empty());
  ASSERT_TRUE(cli->importArchive(busybox.dockerArchive).ok());
  auto found = server->find("busybox");
  ASSERT_TRUE(found.ok()) << found.error().message();
  ASSERT_TRUE(server->remove("busybox").ok());
  EXPECT_FALSE(cli->find("busybox").ok());
  EXPECT_TRUE(cli->list().empty());
}

TEST(ImageStoreTest, GarbageCollectionRemovesOnlyUnreferencedBlobs) {
  NAVE_REQUIRE_BUSYBOX_IMAGE();
  TempDir data;
  auto store = openStore(data.path());
  ASSERT_TRUE(store);
  auto images = store->importArchive(busybox.ociArchive);
  ASSERT_TRUE(images.ok()) << images.error().message();
  const Image img = (*images)[0];

  // Strays: a blob nothing references and an abandoned ingest file.
  auto content = ContentStore::open(data / "agent/content");
  ASSERT_TRUE(content.ok());
  ASSERT_TRUE((*content)->put(sha256Digest("stray"), "stray").ok());
  testing::writeFile(data / "agent/content/ingest/leftover.blob", "x");

  auto gc = store->garbageCollect();
  ASSERT_TRUE(gc.ok()) << gc.error().message();
  EXPECT_EQ(gc->blobsRemoved, 1);
  EXPECT_EQ(gc->bytesFreed, 5);
  EXPECT_FALSE((*content)->has(sha256Digest("stray")));
  EXPECT_EQ(testing::sh("ls -A " + data / "agent/content/ingest").output, "");
  for (const std::string& d : {img.id, img.manifestDigest, img.layers[0].digest}) {
    EXPECT_TRUE(store->blobPath(d).ok()) << d;
  }
  ASSERT_TRUE(store->find("busybox").ok());

  ASSERT_TRUE(store->remove("busybox").ok());
  gc = store->garbageCollect();
  ASSERT_TRUE(gc.ok());
  EXPECT_EQ(gc->blobsRemoved, 3);
  EXPECT_GT(gc->bytesFreed, img.size);
  auto left = (*content)->list();
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty());
}

TEST(SingleFlightTest, ConcurrentCallsShareOneRun) {
  SingleFlight<int> flight;
  std::atomic<int> runs{0};
  std::atomic<bool> release{false};
  std::atomic<int> joined{0};
  std::vector<std::thread> threads;
  std::vector<int> results(5, 0);
  for (int i = 0; i < 5; ++i) {
    threads.emplace_back([&, i] {
      bool shared = false;
      auto r = flight.run("key",
                          [&]() -> Result<int> {
                            ++runs;
                            while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
                            return 42;
                          },
                          &shared);
      if (shared) ++joined;
      results[i] = r.ok() ? *r : -1;
    });
  }
  // Release the leader only once the four others wait for it.
  for (int spin = 0; spin < 10000 && flight.waiters("key") < 4; ++spin) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(flight.waiters("key"), 4);
  release = true;
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(joined.load(), 4);
  for (int r : results) EXPECT_EQ(r, 42);
  // A later call runs again.
  auto again = flight.run("key", [&]() -> Result<int> {
    ++runs;
    return 7;
  });
  EXPECT_EQ(*again, 7);
  EXPECT_EQ(runs.load(), 2);
}

}  // namespace
}  // namespace nave::runtime
