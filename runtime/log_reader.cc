#include "runtime/log_reader.h"

#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <vector>

#include "common/fd.h"

namespace nave::runtime {

Result<LogLine> parseCriLogRecord(const std::string& record, bool* partial) {
  size_t a = record.find(' ');
  size_t b = a == std::string::npos ? a : record.find(' ', a + 1);
  size_t c = b == std::string::npos ? b : record.find(' ', b + 1);
  if (c == std::string::npos) {
    // "TIME STREAM TAG" with an empty text has no third space.
    if (b != std::string::npos && record.size() > b + 1) c = record.size();
    else return Error(ErrorCode::kBadRequest, "malformed log record");
  }
  LogLine l;
  l.timestamp = record.substr(0, a);
  std::string stream = record.substr(a + 1, b - a - 1);
  std::string tag = record.substr(b + 1, c - b - 1);
  if (stream != "stdout" && stream != "stderr") return Error(ErrorCode::kBadRequest, "malformed log stream");
  l.stderrStream = stream == "stderr";
  if (partial) *partial = tag == "P";
  l.text = c < record.size() ? record.substr(c + 1) : std::string();
  return l;
}

namespace {

struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const FileId&) const = default;
};

std::optional<FileId> fileId(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileId{st.st_dev, st.st_ino};
}

class Joiner {
 public:
  explicit Joiner(const std::function<void(const LogLine&)>& sink) : sink_(sink) {}
  void feed(const std::string& record) {
    bool partial = false;
    auto l = parseCriLogRecord(record, &partial);
    if (!l.ok()) return;
    if (pending_) {
      pending_->text += l->text;
    } else {
      pending_ = *l;
    }
    if (!partial) {
      sink_(*pending_);
      pending_.reset();
    }
  }

 private:
  const std::function<void(const LogLine&)>& sink_;
  std::optional<LogLine> pending_;
};

}  // namespace

Result<void> readContainerLog(const std::string& path, bool includeRotated, bool follow,
                              const std::function<void(const LogLine&)>& sink,
                              const std::function<bool()>& stop, int wakeFd,
                              const std::function<void()>& caughtUp) {
  Joiner joiner(sink);
  if (includeRotated) {
    std::vector<std::string> rotated;
    for (int i = 1; i < 100; ++i) {
      std::string p = path + "." + std::to_string(i);
      if (::access(p.c_str(), R_OK) != 0) break;
      rotated.push_back(p);
    }
    for (auto it = rotated.rbegin(); it != rotated.rend(); ++it) {
      std::ifstream in(*it);
      std::string line;
      while (std::getline(in, line)) joiner.feed(line);
    }
  }
  std::ifstream in(path);
  if (!in && !follow) return Error(ErrorCode::kNotFound, "no log file " + path);
  // Following: changes in the log's directory (writes, the rotation's renames) wake us.
  UniqueFd watch;
  if (follow) {
    watch = UniqueFd(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    std::string dir = path.substr(0, path.find_last_of('/') + 1);
    if (watch.valid() && ::inotify_add_watch(watch.get(), dir.empty() ? "." : dir.c_str(),
                                             IN_MODIFY | IN_CREATE | IN_MOVED_TO |
                                                 IN_MOVED_FROM | IN_CLOSE_WRITE) < 0) {
      watch.reset();
    }
  }
  auto id = fileId(path);
  std::string carry;
  bool reportedCaughtUp = false;
  for (;;) {
    // Decided before reading: once the writer is done, one more read drains what it wrote.
    bool last = !follow || (stop && stop());
    if (in) {
      char buf[65536];
      while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        carry.append(buf, static_cast<size_t>(in.gcount()));
        size_t nl;
        while ((nl = carry.find('\n')) != std::string::npos) {
          joiner.feed(carry.substr(0, nl));
          carry.erase(0, nl + 1);
        }
      }
      in.clear();
    }
    if (caughtUp && !reportedCaughtUp) {
      reportedCaughtUp = true;
      caughtUp();
    }
    if (last) break;
    // Rotated away: finish the old file (done above), then start on the new one.
    auto now = fileId(path);
    if (now && (!id || !(*now == *id))) {
      in = std::ifstream(path);
      id = now;
      carry.clear();
      continue;
    }
    pollfd fds[2] = {{watch.get(), POLLIN, 0}, {wakeFd, POLLIN, 0}};
    int timeout = (!watch.valid() || (wakeFd < 0 && stop)) ? 100 : -1;
    if (::poll(fds, 2, timeout) > 0 && (fds[0].revents & POLLIN)) {
      char events[4096];
      while (::read(watch.get(), events, sizeof events) > 0) {
      }
    }
  }
  return {};
}

}  // namespace nave::runtime
