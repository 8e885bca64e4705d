// CriLogWriter: a container's stdout and stderr as a CRI-format log file, as the kubelet reads
// it:
//   2026-01-02T03:04:05.123456789Z stdout F a whole line
//   2026-01-02T03:04:05.123456789Z stderr P the first 16 KiB of a longer line...
// A line longer than kMaxLineBytes is split into partial (P) records followed by a full (F)
// one; what is left without a newline when a stream is flushed becomes a P record.
//
// Rotation by size: before a record would take the file past maxBytes, container.log becomes
// container.log.1 (older ones shift up: .1 -> .2, ...), keeping maxFiles files in all
// (container.log included); the oldest is deleted. The total therefore stays under about
// maxFiles * (maxBytes + one record).
//
// Not thread-safe (the shim's single loop owns it). Write errors (a full disk) drop the records
// and are counted, so a container never blocks on its log.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/fd.h"
#include "common/result.h"

namespace nave::runtime {

enum class LogStream { kStdout = 0, kStderr = 1 };

class CriLogWriter {
 public:
  static constexpr size_t kMaxLineBytes = 16 * 1024;

  // Opens (appends to) `path`; its directory must exist.
  static Result<std::unique_ptr<CriLogWriter>> open(const std::string& path, int64_t maxBytes,
                                                    int maxFiles);

  // Data read from a stream: complete lines are written now, the rest waits for its newline.
  void append(LogStream stream, std::string_view data);
  // Writes the stream's pending bytes (no newline yet) as a partial record.
  void flush(LogStream stream);
  void flushAll() {
    flush(LogStream::kStdout);
    flush(LogStream::kStderr);
  }

  int64_t droppedRecords() const { return dropped_; }
  const std::string& path() const { return path_; }

 private:
  CriLogWriter(std::string path, UniqueFd fd, int64_t size, int64_t maxBytes, int maxFiles)
      : path_(std::move(path)), fd_(std::move(fd)), size_(size), maxBytes_(maxBytes),
        maxFiles_(maxFiles) {}
  void writeRecord(LogStream stream, std::string_view text, bool partial);
  void rotate();
  // The record's "TIME STREAM TAG " prefix.
  size_t formatPrefix(char* out, LogStream stream, bool partial);

  std::string path_;
  UniqueFd fd_;
  int64_t size_ = 0;
  int64_t maxBytes_;
  int maxFiles_;
  int64_t dropped_ = 0;
  std::string pending_[2];
  // The formatted "YYYY-MM-DDTHH:MM:SS." of cachedSecond_.
  int64_t cachedSecond_ = -1;
  char cachedDate_[48] = {};
};

}  // namespace nave::runtime
