// Structured, levelled logging in klog's text format, to stderr:
//   I1127 06:05:37.123456    1234 api_server.cc:42] "Listening" address="0.0.0.0:6443"
// Errors, warnings and info always print; v(N, ...) prints when the verbosity (-v) is >= N.
// Thread-safe: each record is written with one write(2).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

namespace nave::log {

// The caller's file and line (std::source_location is unavailable to clang 14 with libstdc++).
struct SourceLocation {
  const char* file;
  int line;
  static constexpr SourceLocation current(const char* file = __builtin_FILE(),
                                          int line = __builtin_LINE()) {
    return {file, line};
  }
};

// A key=value pair of a record. Strings are quoted, numbers and booleans are not.
struct Field {
  template <typename T>
  Field(std::string_view k, const T& v) : key(k) {
    if constexpr (std::is_same_v<T, bool>) {
      value = v ? "true" : "false";
    } else if constexpr (std::is_arithmetic_v<T>) {
      value = std::to_string(v);
    } else {
      value = quote(std::string_view(v));
    }
  }
  std::string_view key;
  std::string value;

  static std::string quote(std::string_view s);
};

using Fields = std::initializer_list<Field>;

void setVerbosity(int level);
int verbosity();
inline bool enabled(int level) { return verbosity() >= level; }

void error(std::string_view msg, Fields fields = {},
           SourceLocation loc = SourceLocation::current());
void warning(std::string_view msg, Fields fields = {},
             SourceLocation loc = SourceLocation::current());
void info(std::string_view msg, Fields fields = {},
          SourceLocation loc = SourceLocation::current());
void v(int level, std::string_view msg, Fields fields = {},
       SourceLocation loc = SourceLocation::current());

}  // namespace nave::log
