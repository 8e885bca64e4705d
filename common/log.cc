#include "common/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>

namespace nave::log {
namespace {

std::atomic<int> gVerbosity{0};

void emit(char severity, std::string_view msg, Fields fields, const SourceLocation& loc) {
  timeval tv{};
  gettimeofday(&tv, nullptr);
  tm t{};
  localtime_r(&tv.tv_sec, &t);
  std::string_view file = loc.file;
  if (auto slash = file.rfind('/'); slash != std::string_view::npos) file.remove_prefix(slash + 1);
  char head[96];
  int n = std::snprintf(head, sizeof head, "%c%02d%02d %02d:%02d:%02d.%06ld %7d ", severity,
                        t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                        static_cast<long>(tv.tv_usec), static_cast<int>(getpid()));
  std::string line(head, n > 0 ? static_cast<size_t>(n) : 0);
  line.append(file);
  line += ':';
  line += std::to_string(loc.line);
  line += "] ";
  line += Field::quote(msg);
  for (const Field& f : fields) {
    line += ' ';
    line.append(f.key);
    line += '=';
    line += f.value;
  }
  line += '\n';
  // One write per record keeps lines from concurrent threads whole.
  size_t off = 0;
  while (off < line.size()) {
    ssize_t w = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
    if (w <= 0) break;
    off += static_cast<size_t>(w);
  }
}

}  // namespace

std::string Field::quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

void setVerbosity(int level) { gVerbosity.store(level, std::memory_order_relaxed); }
int verbosity() { return gVerbosity.load(std::memory_order_relaxed); }

void error(std::string_view msg, Fields fields, SourceLocation loc) {
  emit('E', msg, fields, loc);
}
void warning(std::string_view msg, Fields fields, SourceLocation loc) {
  emit('W', msg, fields, loc);
}
void info(std::string_view msg, Fields fields, SourceLocation loc) {
  emit('I', msg, fields, loc);
}
void v(int level, std::string_view msg, Fields fields, SourceLocation loc) {
  if (enabled(level)) emit('I', msg, fields, loc);
}

}  // namespace nave::log
