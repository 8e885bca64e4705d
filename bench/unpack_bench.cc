// unpack_bench: unpacking a ~100 MB gzip layer with nave's unpacker against GNU tar.
//
//   unpack_bench [--dir DIR] [--runs N] [--mb N]
//
// Generates a deterministic layer under DIR (default /var/tmp): a tree of directories with
// many files of mixed sizes (mostly small, some large; half text-like, half random bytes),
// gzip level 6 as most image builders write it, about N MB compressed (default 100). Then,
// alternating, times unpackLayer (which also computes the diff ID) and `tar -xzf` into fresh
// directories on the same disk. Each run starts after a sync(2) so that neither pays for the
// other's writeback. Prints the medians of wall time and their ratio (target: nave within 1.2x
// of tar), and of CPU time (nave's own; tar's and its gzip child's), steadier on a busy machine.
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/snapshot/snapshotter.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return state_;
  }
  uint64_t below(uint64_t n) { return next() % n; }

 private:
  uint64_t state_;
};

// A gzip file written through zlib as the tar stream is produced.
class GzipTarWriter {
 public:
  explicit GzipTarWriter(const std::string& path) : out_(std::fopen(path.c_str(), "wb")) {
    std::memset(&zs_, 0, sizeof zs_);
    deflateInit2(&zs_, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  }
  bool ok() const { return out_ != nullptr; }

  void directory(const std::string& name) { header(name + "/", '5', 0, 0755); }
  void file(const std::string& name, const std::string& data, unsigned mode) {
    header(name, '0', data.size(), mode);
    write(data);
    pad(data.size());
  }
  void symlink(const std::string& name, const std::string& target) {
    header(name, '2', 0, 0777, target);
  }

  // Ends the archive; returns the compressed size.
  int64_t finish() {
    std::string zeros(1024, '\0');
    write(zeros);
    deflateChunk(nullptr, 0, Z_FINISH);
    deflateEnd(&zs_);
    std::fclose(out_);
    return compressed_;
  }
  int64_t uncompressed() const { return uncompressed_; }
  int64_t compressed() const { return compressed_; }

 private:
  static void octal(char* field, size_t width, uint64_t value) {
    for (size_t i = width - 1; i-- > 0; value >>= 3)
      field[i] = static_cast<char>('0' + (value & 7));
  }

  void header(const std::string& name, char type, uint64_t size, unsigned mode,
              const std::string& link = "") {
    char h[512] = {};
    std::memcpy(h, name.data(), std::min<size_t>(name.size(), 99));
    octal(h + 100, 8, mode);
    octal(h + 108, 8, 0);
    octal(h + 116, 8, 0);
    octal(h + 124, 12, size);
    octal(h + 136, 12, 1700000000);
    h[156] = type;
    std::memcpy(h + 157, link.data(), std::min<size_t>(link.size(), 99));
    std::memcpy(h + 257, "ustar", 6);
    std::memcpy(h + 263, "00", 2);
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    octal(h + 148, 7, sum);
    write(std::string(h, sizeof h));
  }

  void pad(size_t n) {
    if (n % 512 != 0) write(std::string(512 - n % 512, '\0'));
  }

  void write(const std::string& data) {
    uncompressed_ += static_cast<int64_t>(data.size());
    deflateChunk(data.data(), data.size(), Z_NO_FLUSH);
  }

  void deflateChunk(const char* data, size_t n, int flush) {
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
    zs_.avail_in = static_cast<uInt>(n);
    char buf[1 << 16];
    do {
      zs_.next_out = reinterpret_cast<Bytef*>(buf);
      zs_.avail_out = sizeof buf;
      deflate(&zs_, flush);
      size_t produced = sizeof buf - zs_.avail_out;
      std::fwrite(buf, 1, produced, out_);
      compressed_ += static_cast<int64_t>(produced);
    } while (zs_.avail_out == 0 || (flush == Z_FINISH && zs_.avail_in > 0));
  }

  FILE* out_;
  z_stream zs_;
  int64_t uncompressed_ = 0, compressed_ = 0;
};

std::string content(Random& rng, size_t size) {
  static const char* kWords[] = {"container", "layer",  "overlay", "kernel", "namespace",
                                 "cgroup",    "image",  "digest",  "the",    "of",
                                 "static",    "return", "include", "int",    "void",
                                 "config",    "struct", "error",   "value",  "node"};
  std::string out;
  out.reserve(size);
  if (rng.below(2) == 0) {  // text-like: compresses about 3x
    while (out.size() < size) {
      out += kWords[rng.below(20)];
      out += rng.below(8) == 0 ? '\n' : ' ';
      if (rng.below(4) == 0) out += std::to_string(rng.below(100000));
    }
    out.resize(size);
  } else {  // binary: does not compress
    while (out.size() < size) {
      uint64_t v = rng.next();
      out.append(reinterpret_cast<const char*>(&v), std::min<size_t>(8, size - out.size()));
    }
  }
  return out;
}

// Mostly small files, as in a distribution's /usr (Debian's rootfs averages ~13 KB a file); a
// few large ones (libraries, binaries).
size_t fileSize(Random& rng) {
  uint64_t r = rng.below(1000);
  if (r < 750) return 64 + rng.below(4096);
  if (r < 970) return 4096 + rng.below(60 * 1024);
  if (r < 997) return 64 * 1024 + rng.below(448 * 1024);
  return (1 << 20) + rng.below(4 << 20);
}

struct Layer {
  int64_t files = 0, dirs = 0, uncompressed = 0, compressed = 0;
};

Layer generate(const std::string& path, int64_t targetCompressed) {
  Random rng(0x6e617665);
  GzipTarWriter tar(path);
  Layer layer;
  if (!tar.ok()) return layer;
  for (int d = 0; tar.compressed() < targetCompressed; ++d) {
    std::string dir = "usr/share/d" + std::to_string(d / 20) + "/s" + std::to_string(d);
    if (d % 20 == 0) {
      tar.directory("usr/share/d" + std::to_string(d / 20));
      ++layer.dirs;
    }
    tar.directory(dir);
    ++layer.dirs;
    int n = 10 + static_cast<int>(rng.below(60));
    for (int f = 0; f < n; ++f) {
      std::string name = dir + "/f" + std::to_string(f);
      if (rng.below(30) == 0) {
        tar.symlink(name, "f0");
      } else {
        tar.file(name, content(rng, fileSize(rng)), rng.below(5) == 0 ? 0755 : 0644);
      }
      ++layer.files;
    }
  }
  layer.uncompressed = tar.uncompressed();
  layer.compressed = tar.finish();
  return layer;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// User + system CPU seconds of this process (self) or of its waited-for children (tar, gzip).
double cpuSeconds(int who) {
  struct rusage ru;
  getrusage(who, &ru);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

double seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

bool runTar(const std::string& blob, const std::string& dir) {
  std::vector<std::string> args = {"tar", "-xzf", blob, "-C", dir};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  if (posix_spawnp(&pid, "tar", nullptr, nullptr, argv.data(), environ) != 0) return false;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string parent = "/var/tmp";
  int runs = 5;
  int64_t mb = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--dir")
      parent = argv[i + 1];
    else if (flag == "--runs")
      runs = std::max(1, std::atoi(argv[i + 1]));
    else if (flag == "--mb")
      mb = std::max(1, std::atoi(argv[i + 1]));
    else {
      std::fprintf(stderr, "usage: unpack_bench [--dir DIR] [--runs N] [--mb N]\n");
      return 2;
    }
  }
  std::string work = parent + "/nave-unpack-bench-XXXXXX";
  if (mkdtemp(work.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  std::string blob = work + "/layer.tar.gz";
  auto start = Clock::now();
  Layer layer = generate(blob, mb << 20);
  std::printf("layer: %lld files, %lld dirs, %.1f MB uncompressed, %.1f MB gzip (made in %.1fs)\n",
              static_cast<long long>(layer.files), static_cast<long long>(layer.dirs),
              static_cast<double>(layer.uncompressed) / 1e6,
              static_cast<double>(layer.compressed) / 1e6, seconds(start));

  std::vector<double> ours, tars, oursCpu, tarsCpu;
  int failures = 0;
  for (int run = 0; run < runs; ++run) {
    for (int which = 0; which < 2; ++which) {
      bool naveFirst = run % 2 == 0;
      bool nave = (which == 0) == naveFirst;
      // Every run gets its own directory, all removed at the end: ext4 slows down allocating
      // inodes next to ones deleted seconds ago (recently_deleted()), which would measure the
      // previous run's cleanup rather than this run.
      std::string dir = work + "/out-" + std::to_string(run) + (nave ? "-nave" : "-tar");
      std::filesystem::create_directories(dir);
      sync();
      int who = nave ? RUSAGE_SELF : RUSAGE_CHILDREN;
      double cpu0 = cpuSeconds(who);
      auto t0 = Clock::now();
      bool ok;
      if (nave) {
        auto r = nave::runtime::unpackLayer(blob, dir);
        ok = r.ok();
        if (!ok) std::fprintf(stderr, "unpackLayer: %s\n", r.error().message().c_str());
      } else {
        ok = runTar(blob, dir);
      }
      double s = seconds(t0);
      double cpu = cpuSeconds(who) - cpu0;
      if (!ok) ++failures;
      (nave ? ours : tars).push_back(s);
      (nave ? oursCpu : tarsCpu).push_back(cpu);
      std::printf("run %d %-5s %.3fs (cpu %.3fs)\n", run, nave ? "nave" : "tar", s, cpu);
    }
  }
  double n = median(ours), t = median(tars);
  double nc = median(oursCpu), tc = median(tarsCpu);
  std::printf(
      "median wall: nave %.3fs (%.0f MB/s uncompressed), tar -xzf %.3fs; ratio %.2fx "
      "(target <= 1.2x)\n",
      n, static_cast<double>(layer.uncompressed) / 1e6 / n, t, n / t);
  std::printf("median cpu:  nave %.3fs, tar + gzip %.3fs; ratio %.2fx\n", nc, tc, nc / tc);
  std::error_code ec;
  std::filesystem::remove_all(work, ec);
  return failures == 0 ? 0 : 1;
}
