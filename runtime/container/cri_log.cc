#include "runtime/container/cri_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace nave::runtime {

namespace {

UniqueFd openLog(const std::string& path) {
  return UniqueFd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
}

}  // namespace

Result<std::unique_ptr<CriLogWriter>> CriLogWriter::open(const std::string& path,
                                                         int64_t maxBytes, int maxFiles) {
  UniqueFd fd = openLog(path);
  if (!fd) return Error::fromErrno("open log " + path, errno);
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return Error::fromErrno("stat log " + path, errno);
  return std::unique_ptr<CriLogWriter>(new CriLogWriter(
      path, std::move(fd), st.st_size, maxBytes > 0 ? maxBytes : 0, maxFiles < 1 ? 1 : maxFiles));
}

void CriLogWriter::append(LogStream stream, std::string_view data) {
  // Invariant: pending.size() <= kMaxLineBytes.
  std::string& pending = pending_[static_cast<int>(stream)];
  while (!data.empty()) {
    size_t nl = data.find('\n');
    size_t lineLen = nl == std::string_view::npos ? data.size() : nl;
    size_t room = kMaxLineBytes - pending.size();
    if (lineLen <= room) {
      if (nl == std::string_view::npos) {
        pending.append(data);
        return;
      }
      if (pending.empty()) {
        writeRecord(stream, data.substr(0, nl), false);
      } else {
        pending.append(data.substr(0, nl));
        writeRecord(stream, pending, false);
        pending.clear();
      }
      data.remove_prefix(nl + 1);
      continue;
    }
    // Longer than one record: the first kMaxLineBytes go out as a partial record.
    if (pending.empty()) {
      writeRecord(stream, data.substr(0, room), true);
    } else {
      pending.append(data.substr(0, room));
      writeRecord(stream, pending, true);
      pending.clear();
    }
    data.remove_prefix(room);
  }
}

void CriLogWriter::flush(LogStream stream) {
  std::string& pending = pending_[static_cast<int>(stream)];
  if (pending.empty()) return;
  writeRecord(stream, pending, true);
  pending.clear();
}

size_t CriLogWriter::formatPrefix(char* out, LogStream stream, bool partial) {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  if (ts.tv_sec != cachedSecond_) {
    struct tm tm{};
    time_t secs = ts.tv_sec;
    ::gmtime_r(&secs, &tm);
    std::snprintf(cachedDate_, sizeof cachedDate_, "%04d-%02d-%02dT%02d:%02d:%02d.",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cachedSecond_ = ts.tv_sec;
  }
  int n = std::snprintf(out, 64, "%s%09ldZ %s %c ", cachedDate_, static_cast<long>(ts.tv_nsec),
                        stream == LogStream::kStdout ? "stdout" : "stderr", partial ? 'P' : 'F');
  return static_cast<size_t>(n);
}

void CriLogWriter::writeRecord(LogStream stream, std::string_view text, bool partial) {
  char prefix[64];
  size_t prefixLen = formatPrefix(prefix, stream, partial);
  int64_t recordSize = static_cast<int64_t>(prefixLen + text.size() + 1);
  if (maxBytes_ > 0 && size_ > 0 && size_ + recordSize > maxBytes_) rotate();
  if (!fd_) {
    ++dropped_;
    return;
  }
  iovec iov[3] = {{prefix, prefixLen},
                  {const_cast<char*>(text.data()), text.size()},
                  {const_cast<char*>("\n"), 1}};
  size_t total = static_cast<size_t>(recordSize);
  size_t done = 0;
  int first = 0;
  while (done < total) {
    ssize_t n = ::writev(fd_.get(), iov + first, 3 - first);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ++dropped_;
      break;
    }
    done += static_cast<size_t>(n);
    size_t left = static_cast<size_t>(n);
    while (first < 3 && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (first < 3) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  size_ += static_cast<int64_t>(done);
}

void CriLogWriter::rotate() {
  fd_.reset();
  if (maxFiles_ > 1) {
    std::string oldest = path_ + "." + std::to_string(maxFiles_ - 1);
    ::unlink(oldest.c_str());
    for (int i = maxFiles_ - 2; i >= 1; --i) {
      std::string from = path_ + "." + std::to_string(i);
      std::string to = path_ + "." + std::to_string(i + 1);
      ::rename(from.c_str(), to.c_str());  // missing ones are fine
    }
    ::rename(path_.c_str(), (path_ + ".1").c_str());
  } else {
    ::unlink(path_.c_str());
  }
  fd_ = openLog(path_);
  size_ = 0;
}

}  // namespace nave::runtime
