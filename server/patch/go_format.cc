#include "server/patch/go_format.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <vector>

namespace nave::patch::detail {
namespace {

// %v of a float64: shortest digits, exponent form below 1e-4 and from 1e6 up (fmt uses %g
// with precision 6 for that decision when printing the shortest representation).
std::string goFloat(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  if (d == 0) return std::signbit(d) ? "-0" : "0";
  char buf[64];
  auto sci = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string s(buf, sci.ptr);
  auto e = s.find('e');
  int exp = std::atoi(s.c_str() + e + 1);
  if (exp < -4 || exp >= 6) return s;  // to_chars writes "1.5e+06" like Go does
  auto fixed = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
  return std::string(buf, fixed.ptr);
}

void appendValue(const Json& v, std::string& out, int depth) {
  if (depth > 64) {  // messages need no more; keeps formatting cheap and bounded
    out += "...";
    return;
  }
  switch (v.type()) {
    case Json::value_t::null:
      out += "<nil>";
      return;
    case Json::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      return;
    case Json::value_t::number_integer:
      out += std::to_string(v.get<int64_t>());
      return;
    case Json::value_t::number_unsigned:
      out += std::to_string(v.get<uint64_t>());
      return;
    case Json::value_t::number_float:
      out += goFloat(v.get<double>());
      return;
    case Json::value_t::string:
      out += v.get_ref<const std::string&>();
      return;
    case Json::value_t::array: {
      out += '[';
      bool first = true;
      for (const Json& e : v) {
        if (!first) out += ' ';
        first = false;
        appendValue(e, out, depth + 1);
      }
      out += ']';
      return;
    }
    case Json::value_t::object: {
      out += "map[";
      bool first = true;
      for (const auto& [k, e] : v.items()) {  // nlohmann keeps keys sorted, as fmt prints them
        if (!first) out += ' ';
        first = false;
        out += k;
        out += ':';
        appendValue(e, out, depth + 1);
      }
      out += ']';
      return;
    }
    default:
      out += "?";
      return;
  }
}

}  // namespace

std::string goValue(const Json& v) {
  std::string out;
  appendValue(v, out, 0);
  return out;
}

std::string goTypeName(const Json& v) {
  switch (v.type()) {
    case Json::value_t::object:
      return "map[string]interface {}";
    case Json::value_t::array:
      return "[]interface {}";
    case Json::value_t::string:
      return "string";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "int64";
    case Json::value_t::number_float:
      return "float64";
    case Json::value_t::boolean:
      return "bool";
    default:
      return "%!s(<nil>)";
  }
}


std::string scalarKey(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "n";
    case Json::value_t::boolean:
      return v.get<bool>() ? "b1" : "b0";
    case Json::value_t::number_integer:
      return "i" + std::to_string(v.get<int64_t>());
    case Json::value_t::number_unsigned:
      return "i" + std::to_string(v.get<uint64_t>());
    case Json::value_t::number_float:
      return "f" + dumpJson(v);
    case Json::value_t::string:
      return "s" + v.get_ref<const std::string&>();
    default:
      return "c" + dumpJson(v);
  }
}

size_t jsonDepth(const Json& v) {
  if (!v.is_structured()) return 0;
  size_t maxDepth = 0;
  std::vector<std::pair<const Json*, size_t>> stack{{&v, 1}};
  while (!stack.empty()) {
    auto [node, depth] = stack.back();
    stack.pop_back();
    maxDepth = std::max(maxDepth, depth);
    for (const Json& child : *node)
      if (child.is_structured()) stack.emplace_back(&child, depth + 1);
  }
  return maxDepth;
}

}  // namespace nave::patch::detail
