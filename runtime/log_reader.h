// Reading CRI-format container logs ("2026-01-02T03:04:05.123456789Z stdout F text"), as the
// shim writes them: whole lines re-joined from partial ("P") chunks, with their stream and time,
// following rotation (container.log renamed to container.log.1 and a new file started).
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "common/result.h"

namespace nave::runtime {

struct LogLine {
  std::string timestamp;  // as written (RFC 3339 with nanoseconds)
  bool stderrStream = false;
  std::string text;  // without the trailing newline
};

// Parses one record. kBadRequest for malformed records.
Result<LogLine> parseCriLogRecord(const std::string& record, bool* partial);

// Calls `sink` for every complete line of `path` (older rotated files first when
// `includeRotated`). With `follow`, keeps reading (across rotations) until `stop` returns true;
// While idle it waits for the file to change (inotify) and checks `stop` when woken: give
// `wakeFd` (e.g. an eventfd the caller writes to when `stop` turns true) to be woken at once,
// else `stop` is also checked every 100 ms. `caughtUp` is called once, when what the files held
// at the start has been delivered (e.g. to write a tail before following).
Result<void> readContainerLog(const std::string& path, bool includeRotated, bool follow,
                              const std::function<void(const LogLine&)>& sink,
                              const std::function<bool()>& stop = {}, int wakeFd = -1,
                              const std::function<void()>& caughtUp = {});

}  // namespace nave::runtime
