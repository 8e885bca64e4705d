#include "common/yaml.h"

#include <yaml.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>

namespace nave {
namespace {

struct ParserDeleter {
  void operator()(yaml_parser_t* p) const {
    yaml_parser_delete(p);
    delete p;
  }
};
struct EventOwner {
  yaml_event_t ev{};
  bool live = false;
  ~EventOwner() {
    if (live) yaml_event_delete(&ev);
  }
};

bool isOneOf(std::string_view s, std::initializer_list<std::string_view> options) {
  for (auto o : options)
    if (s == o) return true;
  return false;
}

// Resolves an untagged plain scalar the way YAML 1.1 (go-yaml v2, used by Kubernetes) does.
Json resolvePlain(std::string_view s) {
  if (s.empty() || isOneOf(s, {"~", "null", "Null", "NULL"})) return nullptr;
  if (isOneOf(s, {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y"}))
    return true;
  if (isOneOf(s, {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N"}))
    return false;
  if (isOneOf(s, {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"}))
    return std::numeric_limits<double>::infinity();
  if (isOneOf(s, {"-.inf", "-.Inf", "-.INF"})) return -std::numeric_limits<double>::infinity();
  if (isOneOf(s, {".nan", ".NaN", ".NAN"})) return std::nan("");
  std::string str(s);
  std::string digits;
  for (char c : str)
    if (c != '_') digits += c;
  // Integers: decimal, 0x hex, 0o / leading-0 octal, 0b binary.
  {
    const char* p = digits.c_str();
    bool neg = false;
    if (*p == '+' || *p == '-') neg = (*p++ == '-');
    int base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
      base = 16;
      p += 2;
    } else if (p[0] == '0' && p[1] == 'o') {
      base = 8;
      p += 2;
    } else if (p[0] == '0' && p[1] == 'b') {
      base = 2;
      p += 2;
    } else if (p[0] == '0' && p[1] != '\0') {
      base = 8;
    }
    if (*p != '\0') {
      bool all = true;
      for (const char* q = p; *q; ++q) {
        int d = (*q >= '0' && *q <= '9')   ? *q - '0'
                : (*q >= 'a' && *q <= 'f') ? *q - 'a' + 10
                : (*q >= 'A' && *q <= 'F') ? *q - 'A' + 10
                                           : 99;
        if (d >= base) {
          all = false;
          break;
        }
      }
      if (all) {
        errno = 0;
        char* end = nullptr;
        unsigned long long u = std::strtoull(p, &end, base);
        if (errno == 0 && *end == '\0') {
          if (!neg) {
            if (u <= static_cast<unsigned long long>(std::numeric_limits<int64_t>::max()))
              return static_cast<int64_t>(u);
            return static_cast<uint64_t>(u);
          }
          if (u <= static_cast<unsigned long long>(std::numeric_limits<int64_t>::max()) + 1ULL)
            return static_cast<int64_t>(0 - u);
        }
      }
    }
  }
  // Floats: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
  {
    const char* p = digits.c_str();
    const char* start = p;
    if (*p == '+' || *p == '-') ++p;
    bool mant = false, dot = false;
    while ((*p >= '0' && *p <= '9') || (*p == '.' && !dot)) {
      if (*p == '.') dot = true;
      else mant = true;
      ++p;
    }
    bool ok = mant;
    if (ok && (*p == 'e' || *p == 'E')) {
      ++p;
      if (*p == '+' || *p == '-') ++p;
      if (!(*p >= '0' && *p <= '9')) ok = false;
      while (*p >= '0' && *p <= '9') ++p;
    }
    if (ok && *p == '\0' && (dot || digits.find_first_of("eE") != std::string::npos)) {
      return std::strtod(start, nullptr);
    }
  }
  return std::string(s);
}

Json scalarValue(const yaml_event_t& ev) {
  std::string_view value(reinterpret_cast<const char*>(ev.data.scalar.value), ev.data.scalar.length);
  std::string_view tag = ev.data.scalar.tag ? reinterpret_cast<const char*>(ev.data.scalar.tag) : "";
  if (tag == "tag:yaml.org,2002:str") return std::string(value);
  if (!tag.empty() && tag != "!" && tag != "?") {
    Json resolved = resolvePlain(value);
    if (tag == "tag:yaml.org,2002:int" && !resolved.is_number_integer()) return std::string(value);
    return resolved;
  }
  if (ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return std::string(value);
  return resolvePlain(value);
}

std::string keyString(const Json& k) {
  if (k.is_string()) return k.get<std::string>();
  if (k.is_null()) return "null";
  return k.dump();
}

size_t countNodes(const Json& j) {
  size_t n = 1;
  if (j.is_structured())
    for (const auto& c : j) n += countNodes(c);
  return n;
}

class Builder {
 public:
  explicit Builder(const YamlParseOptions& o) : opts_(o) {}

  // Returns an error message, or empty on success. `done` is set when the document ends.
  std::string onEvent(const yaml_event_t& ev, std::vector<Json>& docs) {
    switch (ev.type) {
      case YAML_DOCUMENT_START_EVENT:
        anchors_.clear();
        hasRoot_ = false;
        root_ = nullptr;
        return {};
      case YAML_DOCUMENT_END_EVENT:
        if (hasRoot_ && !root_.is_null()) docs.push_back(std::move(root_));
        return {};
      case YAML_SCALAR_EVENT: {
        Json v = scalarValue(ev);
        if (ev.data.scalar.anchor) anchors_[reinterpret_cast<const char*>(ev.data.scalar.anchor)] = v;
        return put(std::move(v));
      }
      case YAML_ALIAS_EVENT: {
        auto it = anchors_.find(reinterpret_cast<const char*>(ev.data.alias.anchor));
        if (it == anchors_.end()) return "unknown anchor referenced";
        aliasNodes_ += countNodes(it->second);
        if (aliasNodes_ > opts_.maxAliasNodes) return "document has excessive aliasing";
        return put(Json(it->second));
      }
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT: {
        if (stack_.size() >= opts_.maxDepth) return "nesting too deep";
        bool seq = ev.type == YAML_SEQUENCE_START_EVENT;
        const yaml_char_t* anchor =
            seq ? ev.data.sequence_start.anchor : ev.data.mapping_start.anchor;
        stack_.push_back(Frame{seq ? Json::array() : Json::object(), {}, false,
                               anchor ? reinterpret_cast<const char*>(anchor) : ""});
        return {};
      }
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT: {
        Frame f = std::move(stack_.back());
        stack_.pop_back();
        if (!f.anchor.empty()) anchors_[f.anchor] = f.node;
        return put(std::move(f.node));
      }
      default:
        return {};
    }
  }

 private:
  struct Frame {
    Json node;
    std::string key;
    bool haveKey;
    std::string anchor;
  };

  std::string put(Json v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      hasRoot_ = true;
      return {};
    }
    Frame& f = stack_.back();
    if (f.node.is_array()) {
      f.node.push_back(std::move(v));
      return {};
    }
    if (!f.haveKey) {
      if (v.is_structured()) return "mapping keys must be scalars";
      f.key = keyString(v);
      f.haveKey = true;
      return {};
    }
    if (f.key == "<<" && v.is_object()) {  // merge key
      for (auto& [k, val] : v.items())
        if (!f.node.contains(k)) f.node[k] = val;
    } else {
      f.node[f.key] = std::move(v);
    }
    f.haveKey = false;
    return {};
  }

  const YamlParseOptions& opts_;
  std::vector<Frame> stack_;
  std::map<std::string, Json> anchors_;
  Json root_;
  bool hasRoot_ = false;
  size_t aliasNodes_ = 0;
};

bool needsQuoting(const std::string& s) {
  if (s.empty()) return true;
  Json resolved = resolvePlain(s);
  if (!resolved.is_string()) return true;
  static const std::string_view kSpecialStart = "-?:,[]{}#&*!|>'\"%@`~ ";
  if (kSpecialStart.find(s[0]) != std::string_view::npos) {
    // "-foo" is fine as a plain scalar, but "- " or "-" alone is not.
    if (!(s[0] == '-' && s.size() > 1 && s[1] != ' ')) return true;
  }
  if (s.back() == ' ') return true;
  if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos) return true;
  if (s.back() == ':') return true;
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

std::string quoteDouble(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string scalarText(const Json& v) {
  if (v.is_null()) return "null";
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    return needsQuoting(s) ? quoteDouble(s) : s;
  }
  return v.dump();
}

void emit(const Json& v, int indent, std::string& out);

void emitMultiline(const std::string& s, int indent, std::string& out) {
  out += s.back() == '\n' ? "|" : "|-";
  out += '\n';
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    std::string_view line(s.data() + start, (nl == std::string::npos ? s.size() : nl) - start);
    if (!line.empty()) out.append(indent, ' ').append(line);
    out += '\n';
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
}

bool blockable(const std::string& s) {
  if (s.find('\n') == std::string::npos || s[0] == ' ') return false;
  for (unsigned char c : s)
    if ((c < 0x20 && c != '\n') || c == 0x7f) return false;
  // Trailing spaces on lines and more than one trailing newline do not round-trip.
  return s.find(" \n") == std::string::npos && s.find("\n\n", s.size() - 2) == std::string::npos;
}

void emitValueAfterKey(const Json& v, int indent, std::string& out) {
  if (v.is_object() && !v.empty()) {
    out += '\n';
    emit(v, indent + 2, out);
  } else if (v.is_array() && !v.empty()) {
    out += '\n';
    emit(v, indent, out);
  } else if (v.is_string() && blockable(v.get_ref<const std::string&>())) {
    out += ' ';
    emitMultiline(v.get_ref<const std::string&>(), indent + 2, out);
  } else {
    out += ' ';
    out += v.is_object() ? "{}" : v.is_array() ? "[]" : scalarText(v);
    out += '\n';
  }
}

void emit(const Json& v, int indent, std::string& out) {
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      out.append(indent, ' ');
      out += scalarText(Json(it.key()));
      out += ':';
      emitValueAfterKey(it.value(), indent, out);
    }
  } else if (v.is_array()) {
    for (const Json& e : v) {
      out.append(indent, ' ');
      out += "- ";
      if (e.is_object() && !e.empty()) {
        // First key on the dash line, the rest aligned under it.
        std::string sub;
        emit(e, indent + 2, sub);
        out += sub.substr(static_cast<size_t>(indent) + 2);
      } else if (e.is_array() && !e.empty()) {
        out += '\n';
        emit(e, indent + 2, out);
      } else if (e.is_string() && blockable(e.get_ref<const std::string&>())) {
        emitMultiline(e.get_ref<const std::string&>(), indent + 2, out);
      } else {
        out += e.is_object() ? "{}" : e.is_array() ? "[]" : scalarText(e);
        out += '\n';
      }
    }
  } else {
    out.append(indent, ' ');
    out += scalarText(v);
    out += '\n';
  }
}

}  // namespace

Result<std::vector<Json>> parseYamlDocuments(std::string_view text,
                                             const YamlParseOptions& options) {
  std::unique_ptr<yaml_parser_t, ParserDeleter> parser(new yaml_parser_t);
  if (!yaml_parser_initialize(parser.get())) {
    delete parser.release();
    return Error(ErrorCode::kInternal, "yaml parser initialisation failed");
  }
  yaml_parser_set_input_string(parser.get(), reinterpret_cast<const unsigned char*>(text.data()),
                               text.size());
  std::vector<Json> docs;
  Builder builder(options);
  for (;;) {
    EventOwner e;
    if (!yaml_parser_parse(parser.get(), &e.ev)) {
      std::string msg = "error converting YAML to JSON: yaml: ";
      if (parser->problem_mark.line || parser->problem_mark.column)
        msg += "line " + std::to_string(parser->problem_mark.line + 1) + ": ";
      msg += parser->problem ? parser->problem : "invalid document";
      return Error(ErrorCode::kBadRequest, std::move(msg));
    }
    e.live = true;
    if (std::string err = builder.onEvent(e.ev, docs); !err.empty())
      return Error(ErrorCode::kBadRequest, "error converting YAML to JSON: " + err);
    if (e.ev.type == YAML_STREAM_END_EVENT) break;
  }
  return docs;
}

Result<Json> parseYaml(std::string_view text, const YamlParseOptions& options) {
  auto docs = TRY(parseYamlDocuments(text, options));
  if (docs.empty()) return Json(nullptr);
  if (docs.size() > 1) return Error(ErrorCode::kBadRequest, "expected one YAML document, found " + std::to_string(docs.size()));
  return std::move(docs[0]);
}

std::string dumpYaml(const Json& value) {
  std::string out;
  if (value.is_object() && value.empty()) return "{}\n";
  if (value.is_array() && value.empty()) return "[]\n";
  emit(value, 0, out);
  return out;
}

}  // namespace nave
