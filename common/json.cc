#include "common/json.h"

namespace nave {
namespace {

// A SAX consumer that builds the document like nlohmann's own DOM parser, and additionally
// bounds the depth and records duplicate keys.
class BoundedDomBuilder {
 public:
  using number_integer_t = Json::number_integer_t;
  using number_unsigned_t = Json::number_unsigned_t;
  using number_float_t = Json::number_float_t;
  using string_t = Json::string_t;
  using binary_t = Json::binary_t;

  BoundedDomBuilder(Json& root, size_t maxDepth, std::vector<std::string>& dups)
      : root_(root), maxDepth_(maxDepth), dups_(dups) {}

  bool null() { return put(Json(nullptr)); }
  bool boolean(bool v) { return put(Json(v)); }
  bool number_integer(number_integer_t v) { return put(Json(v)); }
  bool number_unsigned(number_unsigned_t v) { return put(Json(v)); }
  bool number_float(number_float_t v, const string_t&) { return put(Json(v)); }
  bool string(string_t& v) { return put(Json(std::move(v))); }
  bool binary(binary_t&) { return false; }

  bool start_object(std::size_t) {
    if (stack_.size() >= maxDepth_) return fail("nesting too deep");
    Json* obj = put(Json::object());
    if (obj == nullptr) return false;
    stack_.push_back(Frame{obj, {}});
    return true;
  }
  bool key(string_t& k) {
    Frame& f = stack_.back();
    if (f.node->contains(k)) dups_.push_back(path(k));
    f.key = std::move(k);
    return true;
  }
  bool end_object() {
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t) {
    if (stack_.size() >= maxDepth_) return fail("nesting too deep");
    Json* arr = put(Json::array());
    if (arr == nullptr) return false;
    stack_.push_back(Frame{arr, {}});
    return true;
  }
  bool end_array() {
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception& ex) {
    if (error_.empty()) {
      error_ = ex.what();
      // nlohmann's messages begin with "[json.exception.parse_error.101] "; keep the rest.
      if (auto p = error_.find("] "); p != std::string::npos) error_ = error_.substr(p + 2);
      (void)pos;
    }
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  struct Frame {
    Json* node;
    std::string key;
  };

  Json* put(Json&& v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    Frame& f = stack_.back();
    if (f.node->is_array()) {
      f.node->push_back(std::move(v));
      return &f.node->back();
    }
    Json& slot = (*f.node)[f.key];
    slot = std::move(v);
    return &slot;
  }
  bool fail(std::string msg) {
    error_ = std::move(msg);
    return false;
  }
  std::string path(const std::string& k) const {
    std::string p;
    for (const Frame& f : stack_) {
      if (f.node->is_object() && &f != &stack_.back()) {
        if (!p.empty()) p += '.';
        p += f.key;
      } else if (f.node->is_array() && &f != &stack_.back()) {
        p += "[" + std::to_string(f.node->size() - 1) + "]";
      }
    }
    if (!p.empty()) p += '.';
    return p + k;
  }

  Json& root_;
  size_t maxDepth_;
  std::vector<std::string>& dups_;
  std::vector<Frame> stack_;
  std::string error_;
};

}  // namespace

Result<ParsedJson> parseJson(std::string_view text, const JsonParseOptions& options) {
  ParsedJson out;
  BoundedDomBuilder builder(out.value, options.maxDepth, out.duplicateFields);
  bool ok = false;
  try {
    ok = Json::sax_parse(text.begin(), text.end(), &builder, Json::input_format_t::json, true);
  } catch (const std::exception& e) {
    return Error(ErrorCode::kBadRequest, e.what());
  }
  if (!ok) {
    std::string msg = builder.error().empty() ? "invalid JSON" : builder.error();
    return Error(ErrorCode::kBadRequest, std::move(msg));
  }
  return out;
}

std::string dumpJson(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

const Json* findMember(const Json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

std::string getString(const Json& obj, std::string_view key, std::string_view fallback) {
  const Json* m = findMember(obj, key);
  return m != nullptr && m->is_string() ? m->get<std::string>() : std::string(fallback);
}

int64_t getInt(const Json& obj, std::string_view key, int64_t fallback) {
  const Json* m = findMember(obj, key);
  if (m == nullptr) return fallback;
  if (m->is_number_integer()) return m->get<int64_t>();
  if (m->is_number_unsigned()) return static_cast<int64_t>(m->get<uint64_t>());
  return fallback;
}

bool getBool(const Json& obj, std::string_view key, bool fallback) {
  const Json* m = findMember(obj, key);
  return m != nullptr && m->is_boolean() ? m->get<bool>() : fallback;
}

const Json& objectMember(const Json& obj, std::string_view key) {
  static const Json kEmpty = Json::object();
  const Json* v = findMember(obj, key);
  return v != nullptr && v->is_object() ? *v : kEmpty;
}

const Json& arrayMember(const Json& obj, std::string_view key) {
  static const Json kEmpty = Json::array();
  const Json* v = findMember(obj, key);
  return v != nullptr && v->is_array() ? *v : kEmpty;
}

}  // namespace nave
