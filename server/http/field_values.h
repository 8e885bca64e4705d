// Small helpers for HTTP/1.1 header fields (RFC 9110 section 5), shared by the API server's
// request parser and the ingress proxy.
#pragma once

#include <strings.h>

#include <string_view>

namespace nave::http {

// Field names and tokens compare case-insensitively.
inline bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// Strips optional whitespace (spaces and tabs) around a field value.
inline std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls `fn` with each comma-separated element of a list-valued field, trimmed; empty
// elements are skipped.
template <typename Fn>
void forEachListElement(std::string_view value, Fn fn) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = trimOws(value.substr(0, comma));
    if (!item.empty()) fn(item);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

}  // namespace nave::http
