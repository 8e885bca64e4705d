// Fuzzes unpackLayer with arbitrary bytes (any compression, any tar, hostile or broken): it
// must never write outside the layer directory, and a refused layer leaves nothing behind.
//
// The layer directory is SANDBOX/a/b/layer, with a canary file and directory next to it, so
// that escapes through "..", symlinks or hard links (the targets a fuzzer can reach from the
// seeds) land in SANDBOX where they are seen. SANDBOX is a private tmpfs (a mount namespace of
// our own) when we may mount, else a temporary directory on disk.
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "common/fd.h"
#include "runtime/snapshot/snapshotter.h"
#include "runtime/snapshot/tree.h"

namespace {

std::string sandbox;
const char kCanary[] = "canary contents";

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "fuzz_snapshot_unpack: %s\n", why.c_str());
  std::abort();
}

std::set<std::string> names(const std::string& dir) {
  std::set<std::string> out;
  nave::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) fail("cannot open " + dir);
  DIR* d = ::fdopendir(fd.release());
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.insert(n);
  }
  ::closedir(d);
  return out;
}

std::string readAll(const std::string& path) {
  nave::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return "<unreadable>";
  char buf[64];
  ssize_t n = ::read(fd.get(), buf, sizeof buf);
  return n < 0 ? "<unreadable>" : std::string(buf, static_cast<size_t>(n));
}

void checkSandbox(bool layerExists) {
  if (names(sandbox) != std::set<std::string>{"a", "canary", "outside"}) {
    fail("something was created next to the layer's ancestors in " + sandbox);
  }
  if (names(sandbox + "/a") != std::set<std::string>{"b"}) fail("escape into a/");
  std::set<std::string> expected;
  if (layerExists) expected.insert("layer");
  if (names(sandbox + "/a/b") != expected) fail("escape into a/b/");
  if (names(sandbox + "/outside") != std::set<std::string>{"file"}) fail("escape into outside/");
  if (readAll(sandbox + "/canary") != kCanary) fail("canary modified");
  if (readAll(sandbox + "/outside/file") != kCanary) fail("outside/file modified");
  struct stat st;
  if (::lstat((sandbox + "/canary").c_str(), &st) != 0 || st.st_nlink != 1 ||
      (st.st_mode & 07777) != 0644) {
    fail("canary linked to or its mode changed");
  }
}

void writeCanary(const std::string& path) {
  nave::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd || ::write(fd.get(), kCanary, sizeof kCanary - 1) != sizeof kCanary - 1) {
    fail("cannot write " + path);
  }
}

void removeSandbox() {
  ::umount2(sandbox.c_str(), MNT_DETACH);  // the tmpfs, if we have one
  (void)nave::runtime::tree::removePath(sandbox);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  char tmpl[] = "/tmp/nave-fuzz-snapshot-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) fail("mkdtemp");
  sandbox = tmpl;
  // A tmpfs in a mount namespace of our own: fast, bounded, gone when we exit.
  if (::unshare(CLONE_NEWNS) == 0 &&
      ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
      ::mount("tmpfs", sandbox.c_str(), "tmpfs", 0, "size=512m,mode=0700") == 0) {
    std::fprintf(stderr, "fuzz_snapshot_unpack: sandbox %s on a private tmpfs\n", sandbox.c_str());
  } else {
    std::fprintf(stderr, "fuzz_snapshot_unpack: sandbox %s on disk\n", sandbox.c_str());
  }
  ::mkdir((sandbox + "/a").c_str(), 0755);
  ::mkdir((sandbox + "/a/b").c_str(), 0755);
  ::mkdir((sandbox + "/outside").c_str(), 0755);
  writeCanary(sandbox + "/canary");
  writeCanary(sandbox + "/outside/file");
  std::atexit(removeSandbox);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nave::UniqueFd blob(::memfd_create("layer", MFD_CLOEXEC));
  if (!blob) fail("memfd_create");
  if (size > 0 && ::write(blob.get(), data, size) != static_cast<ssize_t>(size)) fail("write");
  std::string layer = sandbox + "/a/b/layer";
  if (::mkdir(layer.c_str(), 0755) != 0) fail("mkdir layer");
  auto result = nave::runtime::unpackLayer("/proc/self/fd/" + std::to_string(blob.get()), layer);
  checkSandbox(true);
  if (!result.ok() && !names(layer).empty()) {
    fail("refused layer left files behind: " + result.error().message());
  }
  if (result.ok() && result->size() != 71) fail("bad digest " + *result);
  auto removed = nave::runtime::tree::removePath(layer);
  if (!removed.ok()) fail("cannot remove the layer: " + removed.error().message());
  checkSandbox(false);
  return 0;
}
