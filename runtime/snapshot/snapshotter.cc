// The overlayfs Snapshotter. Besides the layout in snapshotter.h:
//   layers/.tmp-HEX-XXXXXX   a layer being unpacked (removed by open() if its writer is gone)
//   layers/.gc-HEX-XXXXXX    a layer being deleted by garbageCollect
//   locks/HEX.lock           flock(2) per chain ID: held while unpacking or deleting the layer,
//                            so threads and processes unpack a layer once
//   locks/mounts.lock        flock(2) held while mounting, unmounting and collecting garbage
//   containers/ID/layers     the layer directories the container's overlay uses (for GC)
//   containers/ID/empty      the lower directory of an image without layers
//   init/HEX                 the mount points a container needs that its image lacks (/proc,
//                            /dev, /sys, /etc/hosts...), one read-only lower directory per layer
//                            chain (HEX hashes the chain's directories) shared by its containers,
//                            as Docker's init layer, so that starting a container creates them
//                            in no upper directory
// Directory names use the chain ID's hex digits only: ':' separates overlay lower dirs.
#include "runtime/snapshot/snapshotter.h"

#include <fcntl.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>

#include "common/fs.h"
#include "common/fd.h"
#include "common/log.h"
#include "runtime/snapshot/overlay.h"
#include "runtime/snapshot/tree.h"

namespace nave::runtime {
namespace {

constexpr std::string_view kSha256Prefix = "sha256:";

bool isHex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool isDigest(std::string_view s) {
  return s.starts_with(kSha256Prefix) && isHex64(s.substr(kSha256Prefix.size()));
}

std::string sha256Hex(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : md) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

// Container IDs name directories: no separators, no dot names, bounded.
bool validContainerId(std::string_view id) {
  if (id.empty() || id.size() > 128 || id == "." || id == "..") return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

Result<void> makeDir(const std::string& path, mode_t mode = 0700) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return Error::fromErrno("mkdir " + path, errno);
  }
  return okResult();
}

// An exclusive flock on a lock file that may be deleted by whoever holds it: after locking,
// the file must still be the one at `path`, else another holder deleted it; retry.
class FileLock {
 public:
  static Result<std::optional<FileLock>> acquire(const std::string& path, bool wait) {
    for (;;) {
      UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
      if (!fd) return Error::fromErrno("open " + path, errno);
      int rc;
      do {
        rc = ::flock(fd.get(), wait ? LOCK_EX : LOCK_EX | LOCK_NB);
      } while (rc != 0 && errno == EINTR);
      if (rc != 0) {
        if (errno == EWOULDBLOCK) return std::optional<FileLock>();
        return Error::fromErrno("flock " + path, errno);
      }
      struct stat held, current;
      if (::fstat(fd.get(), &held) == 0 && ::stat(path.c_str(), &current) == 0 &&
          held.st_dev == current.st_dev && held.st_ino == current.st_ino) {
        return std::optional<FileLock>(FileLock(path, std::move(fd)));
      }
    }
  }

  // Deletes the lock file while holding it (see acquire).
  void remove() { ::unlink(path_.c_str()); }

 private:
  FileLock(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  std::string path_;
  UniqueFd fd_;
};

Result<std::vector<std::string>> listDir(const std::string& path) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
    names.push_back(entry.path().filename().string());
  }
  if (ec) return Error(ErrorCode::kInternal, "list " + path + ": " + ec.message());
  return names;
}

// The HEX of ".tmp-HEX-XXXXXX" / ".gc-HEX-XXXXXX", or "".
std::string hexOfTemporary(std::string_view name) {
  for (std::string_view prefix : {".tmp-", ".gc-"}) {
    if (name.starts_with(prefix)) {
      std::string_view rest = name.substr(prefix.size());
      if (rest.size() > 64 && rest[64] == '-' && isHex64(rest.substr(0, 64))) {
        return std::string(rest.substr(0, 64));
      }
    }
  }
  return "";
}

class OverlaySnapshotter final : public Snapshotter {
 public:
  explicit OverlaySnapshotter(const std::string& root)
      : root_(root),
        layers_(root + "/layers"),
        containers_(root + "/containers"),
        locks_(root + "/locks"),
        init_(root + "/init") {}

  Result<void> init() {
    std::error_code ec;
    std::filesystem::create_directories(root_, ec);
    if (ec) return Error(ErrorCode::kInternal, "create " + root_ + ": " + ec.message());
    TRY(makeDir(layers_));
    TRY(makeDir(containers_));
    markTopDirectory(containers_);  // one subdirectory per container
    TRY(makeDir(locks_));
    TRY(makeDir(init_));
    // Leftovers of unpacks and deletions that a crash interrupted; one still in progress (in
    // another process) holds its chain's lock and is left alone.
    for (const std::string& name : TRY(listDir(layers_))) {
      std::string hex = hexOfTemporary(name);
      if (hex.empty()) continue;
      auto lock = TRY(FileLock::acquire(lockPath(hex), false));
      if (!lock) continue;
      log::info("removing an interrupted layer directory", {{"dir", name}});
      TRY(tree::removePath(layers_ + "/" + name));
    }
    return okResult();
  }

  Result<std::vector<std::string>> prepareLayers(const std::vector<LayerSource>& layers) override {
    std::vector<std::string> diffIds;
    for (const LayerSource& layer : layers) {
      if (!isDigest(layer.diffId)) {
        return Error(ErrorCode::kBadRequest, "invalid layer diff ID \"" + layer.diffId + "\"");
      }
      diffIds.push_back(layer.diffId);
    }
    std::vector<std::string> chains = chainIds(diffIds);
    std::vector<std::string> dirs;
    for (size_t i = 0; i < layers.size(); ++i) {
      std::string hex = chains[i].substr(kSha256Prefix.size());
      Result<void> done = prepareLayer(layers[i], hex);
      if (!done) {
        return std::move(done).error().context("layer " + std::to_string(i) + " (" +
                                               layers[i].diffId + ")");
      }
      dirs.push_back(layers_ + "/" + hex + "/fs");
    }
    return dirs;
  }

  Result<std::string> mountRootfs(const std::string& containerId,
                                  const std::vector<std::string>& layerDirs) override {
    if (!validContainerId(containerId)) {
      return Error(ErrorCode::kBadRequest, "invalid container ID \"" + containerId + "\"");
    }
    std::lock_guard<std::mutex> threads(mountMu_);
    auto lock = TRY(FileLock::acquire(locks_ + "/mounts.lock", true));
    std::string dir = containers_ + "/" + containerId;
    std::string rootfs = dir + "/rootfs";
    bool created = !exists(dir);
    Result<std::string> mounted = mountLocked(dir, rootfs, layerDirs);
    if (!mounted && created) {
      Result<void> removed = tree::removePath(dir);
      if (!removed)
        log::error("cannot clean up", {{"dir", dir}, {"error", removed.error().message()}});
    }
    return mounted;
  }

  Result<void> removeRootfs(const std::string& containerId) override {
    if (!validContainerId(containerId)) {
      return Error(ErrorCode::kBadRequest, "invalid container ID \"" + containerId + "\"");
    }
    std::lock_guard<std::mutex> threads(mountMu_);
    auto lock = TRY(FileLock::acquire(locks_ + "/mounts.lock", true));
    std::string dir = containers_ + "/" + containerId;
    if (!exists(dir)) return okResult();
    TRY(overlay::unmount(dir + "/rootfs"));
    return tree::removePath(dir);
  }

  Result<SnapshotStats> garbageCollect(const std::vector<std::string>& keepChainIds) override {
    std::set<std::string> keep;
    for (const std::string& id : keepChainIds) {
      if (!isDigest(id)) return Error(ErrorCode::kBadRequest, "invalid chain ID \"" + id + "\"");
      keep.insert(id.substr(kSha256Prefix.size()));
    }
    // Holding the mounts lock: no container starts using a layer while we look.
    std::lock_guard<std::mutex> threads(mountMu_);
    auto mountsLock = TRY(FileLock::acquire(locks_ + "/mounts.lock", true));
    std::set<std::string> initInUse;
    for (const std::string& id : TRY(listDir(containers_))) {
      std::ifstream in(containers_ + "/" + id + "/layers");
      std::string line;
      while (std::getline(in, line)) {
        std::string hex = layerHexOf(line);
        if (!hex.empty()) keep.insert(hex);
        if (line.starts_with(init_ + "/")) initInUse.insert(line.substr(init_.size() + 1));
      }
    }
    SnapshotStats stats;
    for (const std::string& name : TRY(listDir(init_))) {
      if (initInUse.count(name) == 0) TRY(tree::removePath(init_ + "/" + name));
    }
    for (const std::string& name : TRY(listDir(layers_))) {
      if (!isHex64(name) || keep.count(name) > 0) continue;
      auto lock = TRY(FileLock::acquire(lockPath(name), false));
      if (!lock) continue;  // being unpacked right now: in use
      // Renamed away first, so that nobody finds a half-deleted layer under its name.
      std::string doomed = layers_ + "/.gc-" + name + "-XXXXXX";
      if (::mkdtemp(doomed.data()) == nullptr) return Error::fromErrno("mkdtemp " + doomed, errno);
      if (::rename((layers_ + "/" + name).c_str(), doomed.c_str()) != 0) {
        int err = errno;
        ::rmdir(doomed.c_str());
        return Error::fromErrno("rename layer " + name, err);
      }
      TRY(tree::removePath(doomed, &stats.bytesFreed));
      lock->remove();
      ++stats.layersRemoved;
      log::v(1, "removed unused layer", {{"chainId", name}});
    }
    return stats;
  }

 private:
  enum class Kind { kAbsent, kDirectory, kOther };

  // What `components` names in the overlay of `topFirst`, looked up the way overlayfs merges
  // (whiteouts and opaque directories hide what is below). A path whose parent is not a plain
  // directory somewhere reports kOther: nothing is made under it.
  static Kind mergedKind(const std::vector<std::string>& topFirst,
                         const std::vector<std::string>& components) {
    for (const std::string& layer : topFirst) {
      std::string path = layer;
      for (size_t i = 0; i < components.size(); ++i) {
        std::string parent = path;
        path += "/" + components[i];
        struct stat st{};
        if (::lstat(path.c_str(), &st) != 0) {
          char opaque = 0;
          if (i > 0 && ::lgetxattr(parent.c_str(), "trusted.overlay.opaque", &opaque, 1) == 1 &&
              opaque == 'y')
            return Kind::kAbsent;
          break;  // not in this layer: look below
        }
        if (S_ISCHR(st.st_mode) && st.st_rdev == 0) return Kind::kAbsent;  // whiteout
        if (!S_ISDIR(st.st_mode)) return Kind::kOther;
        if (i + 1 == components.size()) return Kind::kDirectory;
      }
    }
    return Kind::kAbsent;
  }

  // The init layer of a chain (see the top of the file), made once under the mounts lock;
  // "" when the image has every mount point already.
  Result<std::string> initLayerLocked(const std::vector<std::string>& topFirst) {
    std::string joined;
    for (const std::string& l : topFirst) joined += l + "\n";
    std::string final = init_ + "/" + sha256Hex(joined).substr(0, 32);
    if (exists(final)) return final;
    struct Entry {
      std::vector<std::string> path;
      bool directory;
    };
    static const Entry kEntries[] = {{{"proc"}, true},          {{"sys"}, true},
                                     {{"dev"}, true},           {{"etc"}, true},
                                     {{"etc", "hosts"}, false}, {{"etc", "hostname"}, false},
                                     {{"etc", "resolv.conf"}, false}};
    std::vector<const Entry*> missing;
    bool etcUsable = true;
    for (const Entry& e : kEntries) {
      if (e.path.size() > 1 && !etcUsable) continue;
      Kind kind = mergedKind(topFirst, e.path);
      if (e.path == std::vector<std::string>{"etc"}) etcUsable = kind != Kind::kOther;
      if (kind == Kind::kAbsent) missing.push_back(&e);
    }
    if (missing.empty()) return std::string();
    std::string tmp = init_ + "/.tmp-XXXXXX";
    if (::mkdtemp(tmp.data()) == nullptr) return Error::fromErrno("mkdtemp " + tmp, errno);
    Result<void> made = [&]() -> Result<void> {
      if (::chmod(tmp.c_str(), 0755) != 0) return Error::fromErrno("chmod " + tmp, errno);
      for (const Entry* e : missing) {
        std::string path = tmp;
        for (const std::string& c : e->path) path += "/" + c;
        if (e->directory) {
          TRY(makeDir(path, 0755));
        } else {
          // The parent directory, when the image has it, as the image has it: the init layer's
          // copy is the one the container sees.
          std::string parent = path.substr(0, path.rfind('/'));
          if (!exists(parent)) {
            std::string rel = parent.substr(tmp.size());
            struct stat st{};
            st.st_mode = S_IFDIR | 0755;
            for (const std::string& layer : topFirst) {
              if (::lstat((layer + rel).c_str(), &st) == 0) break;
            }
            TRY(makeDir(parent, st.st_mode & 07777));
            if (::chmod(parent.c_str(), st.st_mode & 07777) != 0 ||
                ::lchown(parent.c_str(), st.st_uid, st.st_gid) != 0)
              return Error::fromErrno("set the owner and mode of " + parent, errno);
          }
          UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
          if (!fd) return Error::fromErrno("create " + path, errno);
        }
      }
      if (::rename(tmp.c_str(), final.c_str()) != 0) return Error::fromErrno("rename " + tmp, errno);
      return okResult();
    }();
    if (!made) {
      (void)tree::removePath(tmp);
      return std::move(made).error().context("init layer");
    }
    return final;
  }

  std::string lockPath(const std::string& hex) const { return locks_ + "/" + hex + ".lock"; }

  // "ROOT/layers/HEX/fs" -> "HEX", else "".
  std::string layerHexOf(const std::string& dir) const {
    std::string prefix = layers_ + "/";
    if (!dir.starts_with(prefix) || !dir.ends_with("/fs")) return "";
    std::string hex = dir.substr(prefix.size(), dir.size() - prefix.size() - 3);
    return isHex64(hex) ? hex : "";
  }

  Result<void> prepareLayer(const LayerSource& layer, const std::string& hex) {
    std::string final = layers_ + "/" + hex;
    if (exists(final + "/fs")) return okResult();
    // Whoever holds the lock is unpacking this layer: wait for them, then find it done.
    auto lock = TRY(FileLock::acquire(lockPath(hex), true));
    if (exists(final + "/fs")) return okResult();
    std::string tmp = layers_ + "/.tmp-" + hex + "-XXXXXX";
    if (::mkdtemp(tmp.data()) == nullptr) return Error::fromErrno("mkdtemp " + tmp, errno);
    Result<void> done = unpackInto(layer, tmp, final);
    if (!done) {
      Result<void> removed = tree::removePath(tmp);
      if (!removed) {
        log::error("cannot clean up", {{"dir", tmp}, {"error", removed.error().message()}});
      }
      lock->remove();
    }
    return done;
  }

  Result<void> unpackInto(const LayerSource& layer, const std::string& tmp,
                          const std::string& final) {
    TRY(makeDir(tmp + "/fs", 0755));
    std::string diffId = TRY(unpackLayer(layer.blobPath, tmp + "/fs"));
    if (diffId != layer.diffId) {
      return Error(ErrorCode::kBadRequest,
                   "diff ID mismatch: the layer's uncompressed content is " + diffId +
                       ", expected " + layer.diffId);
    }
    // Files are not fsynced one by one: one syncfs makes the whole layer durable before it
    // gets its final name, so a crash leaves either a complete layer or a .tmp to remove.
    UniqueFd fd(::open(tmp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd || ::syncfs(fd.get()) != 0) return Error::fromErrno("syncfs " + tmp, errno);
    if (::rename(tmp.c_str(), final.c_str()) != 0) {
      return Error::fromErrno("rename " + tmp + " to " + final, errno);
    }
    return okResult();
  }

  Result<std::string> mountLocked(const std::string& dir, const std::string& rootfs,
                                  const std::vector<std::string>& layerDirs) {
    TRY(makeDir(dir));
    TRY(makeDir(dir + "/upper", 0755));
    TRY(makeDir(dir + "/work"));
    TRY(makeDir(rootfs, 0755));
    if (TRY(overlay::isMountPoint(rootfs))) return rootfs;
    std::vector<std::string> lowers(layerDirs.rbegin(), layerDirs.rend());
    std::string init = TRY(initLayerLocked(lowers));
    if (!init.empty()) lowers.insert(lowers.begin(), init);
    if (lowers.empty()) {
      TRY(makeDir(dir + "/empty", 0755));
      lowers.push_back(dir + "/empty");
    }
    // Written before mounting: garbageCollect must never see a mounted layer unaccounted for.
    std::string list;
    for (const std::string& layer : layerDirs) list += layer + "\n";
    if (!init.empty()) list += init + "\n";
    TRY(writeFileAtomically(dir + "/layers", list));
    TRY(overlay::mount(lowers, dir + "/upper", dir + "/work", rootfs));
    return rootfs;
  }

  static Result<void> writeFileAtomically(const std::string& path, const std::string& data) {
    std::string tmp = path + ".tmp";
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd) return Error::fromErrno("create " + tmp, errno);
    // Not fsynced (a container start should not wait for the disk): after a power loss no
    // container is mounted, and the list only matters while one is.
    if (::write(fd.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size())) {
      return Error::fromErrno("write " + tmp, errno);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) return Error::fromErrno("rename " + tmp, errno);
    return okResult();
  }

  const std::string root_, layers_, containers_, locks_, init_;
  std::mutex mountMu_;  // with locks/mounts.lock: serialises mount, unmount and GC
};

}  // namespace

Result<std::unique_ptr<Snapshotter>> Snapshotter::open(const std::string& root) {
  auto snapshotter = std::make_unique<OverlaySnapshotter>(root);
  TRY(snapshotter->init());
  return std::unique_ptr<Snapshotter>(std::move(snapshotter));
}

std::vector<std::string> Snapshotter::chainIds(const std::vector<std::string>& diffIds) {
  std::vector<std::string> out;
  out.reserve(diffIds.size());
  for (const std::string& diffId : diffIds) {
    if (out.empty()) {
      out.push_back(diffId);
    } else {
      out.push_back(std::string(kSha256Prefix) + sha256Hex(out.back() + " " + diffId));
    }
  }
  return out;
}

}  // namespace nave::runtime
