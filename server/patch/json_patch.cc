// JSON Patch (RFC 6902) with the behaviour of the library Kubernetes serves it with
// (evanphx/json-patch v4): negative array indices count from the end, "replace" of a missing
// object member adds it, "copy" from a missing member copies null, and the error texts match.
#include <optional>

#include "server/patch/go_format.h"
#include "server/patch/patch.h"

namespace nave::patch {
namespace {

using detail::goQuote;
using detail::jsonDepth;

// Kubernetes refuses longer patches (maxJSONPatchOperations) and bounds the bytes "copy" may
// add (JSONPatchMaxCopyBytes, the request body limit).
constexpr size_t kMaxOperations = 10000;
constexpr size_t kMaxCopyBytes = 3 * 1024 * 1024;
// Results must read back through the hardened decoder.
constexpr size_t kMaxDepth = JsonParseOptions{}.maxDepth;

const char* goJsonTypeName(const Json& v) {
  switch (v.type()) {
    case Json::value_t::object:
      return "object";
    case Json::value_t::array:
      return "array";
    case Json::value_t::string:
      return "string";
    case Json::value_t::boolean:
      return "bool";
    default:
      return "number";
  }
}

Error invalid(std::string message) {
  return Error(ErrorCode::kInvalid, std::move(message));
}

// A pointer "/a/b~1c" as tokens {"a", "b/c"}. Like the library, the text before the first '/'
// is ignored and a pointer without any '/' names nothing.
std::optional<std::vector<std::string>> tokens(std::string_view path) {
  size_t slash = path.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::vector<std::string> out;
  size_t start = slash + 1;
  for (;;) {
    size_t end = path.find('/', start);
    std::string_view raw = path.substr(start, end == std::string_view::npos ? end : end - start);
    std::string tok;
    tok.reserve(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~' && i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        tok += raw[i + 1] == '0' ? '~' : '/';
        ++i;
      } else {
        tok += raw[i];
      }
    }
    out.push_back(std::move(tok));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

// strconv.Atoi: an optional sign and decimal digits that fit an int64.
Result<int64_t> atoi(const std::string& s) {
  auto syntax = [&] {
    return Error(ErrorCode::kInvalid, "strconv.Atoi: parsing " + goQuote(s) + ": invalid syntax");
  };
  size_t i = 0;
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    i = 1;
  }
  if (i == s.size()) return syntax();
  uint64_t magnitude = 0;
  bool overflow = false;
  const uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return syntax();
    uint64_t digit = static_cast<uint64_t>(s[i] - '0');
    if (overflow || magnitude > (limit - digit) / 10) {
      overflow = true;
    } else {
      magnitude = magnitude * 10 + digit;
    }
  }
  if (overflow)
    return Error(ErrorCode::kInvalid,
                 "strconv.Atoi: parsing " + goQuote(s) + ": value out of range");
  return negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
}

Error invalidIndex(int64_t idx) {
  return invalid("Unable to access invalid index: " + std::to_string(idx) +
                 ": invalid index referenced");
}

// The index of an existing element (get, replace, remove); negative counts from the end.
Result<size_t> existingIndex(const Json& array, const std::string& key) {
  int64_t idx = TRY(atoi(key));
  auto size = static_cast<int64_t>(array.size());
  if (idx < 0) {
    if (idx < -size) return invalidIndex(idx);
    idx += size;
  }
  if (idx >= size) return invalidIndex(idx);
  return static_cast<size_t>(idx);
}

// Follows all tokens but the last. nullptr when a step is missing, null, out of range or a
// scalar: the library reports all of those as a missing path.
Json* findContainer(Json& doc, const std::vector<std::string>& toks) {
  Json* cur = &doc;
  for (size_t i = 0; i + 1 < toks.size(); ++i) {
    Json* next = nullptr;
    if (cur->is_object()) {
      auto it = cur->find(toks[i]);
      if (it != cur->end()) next = &*it;
    } else if (cur->is_array()) {
      auto idx = existingIndex(*cur, toks[i]);
      if (idx.ok()) next = &(*cur)[*idx];
    }
    if (next == nullptr || !next->is_structured()) return nullptr;
    cur = next;
  }
  return cur;
}

struct Operation {
  const Json& op;

  std::string kind() const {
    const Json* k = findMember(op, "op");
    return k != nullptr && k->is_string() ? k->get<std::string>() : "unknown";
  }
  // "path" or "from": the error is the library's text for a missing or mistyped member.
  Result<std::string> pointer(const char* name, const char* missing) const {
    const Json* p = findMember(op, name);
    if (p == nullptr || p->is_null())
      return Error(ErrorCode::kInvalid, std::string(missing) + ": missing value");
    if (!p->is_string())
      return Error(ErrorCode::kInvalid, std::string("json: cannot unmarshal ") +
                                            goJsonTypeName(*p) + " into Go value of type string");
    return p->get<std::string>();
  }
  Result<std::string> path() const { return pointer("path", "operation missing path field"); }
  Result<std::string> from() const { return pointer("from", "operation, missing from field"); }
  // The "value" member; absent counts as null except where the caller checks hasValue().
  Json value() const {
    const Json* v = findMember(op, "value");
    return v != nullptr ? *v : Json(nullptr);
  }
  bool hasValue() const { return findMember(op, "value") != nullptr; }
};

// JSON equality as the library decides it: deep, and integers differ from other numbers.
bool equal(const Json& a, const Json& b) {
  if (a.is_object() || b.is_object()) {
    if (!a.is_object() || !b.is_object() || a.size() != b.size()) return false;
    for (auto it = a.begin(); it != a.end(); ++it) {
      auto other = b.find(it.key());
      if (other == b.end() || !equal(*it, *other)) return false;
    }
    return true;
  }
  if (a.is_array() || b.is_array()) {
    if (!a.is_array() || !b.is_array() || a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (!equal(a[i], b[i])) return false;
    return true;
  }
  return detail::scalarKey(a) == detail::scalarKey(b);
}

class Patcher {
 public:
  explicit Patcher(Json doc) : doc_(std::move(doc)), depthBound_(jsonDepth(doc_)) {}

  Result<void> apply(const Json& opJson) {
    Operation op{opJson};
    std::string kind = op.kind();
    if (kind == "add") return add(op);
    if (kind == "remove") return remove(op);
    if (kind == "replace") return replace(op);
    if (kind == "move") return move(op);
    if (kind == "test") return test(op);
    if (kind == "copy") return copy(op);
    return invalid("Unexpected kind: " + kind);
  }

  Json take() { return std::move(doc_); }

 private:
  // The container's "add": set an object member, or insert into an array ("-" appends).
  Result<void> addTo(Json& con, const std::string& key, Json value) {
    if (con.is_object()) {
      con[key] = std::move(value);
      return {};
    }
    if (key == "-") {
      con.push_back(std::move(value));
      return {};
    }
    auto parsed = atoi(key);
    if (!parsed.ok())
      return invalid("value was not a proper array index: '" + key +
                     "': " + parsed.error().message());
    int64_t idx = *parsed;
    auto size = static_cast<int64_t>(con.size()) + 1;
    if (idx >= size) return invalidIndex(idx);
    if (idx < 0) {
      if (idx < -size) return invalidIndex(idx);
      idx += size;
    }
    con.insert(con.begin() + idx, std::move(value));
    return {};
  }

  // The container's "get": a missing object member is null, not an error.
  Result<Json*> getFrom(Json& con, const std::string& key) {
    if (con.is_object()) {
      auto it = con.find(key);
      return it == con.end() ? nullptr : &*it;
    }
    size_t idx = TRY(existingIndex(con, key));
    return &con[idx];
  }

  Result<void> removeFrom(Json& con, const std::string& key) {
    if (con.is_object()) {
      if (con.erase(key) == 0)
        return invalid("Unable to remove nonexistent key: " + key + ": missing value");
      return {};
    }
    size_t idx = TRY(existingIndex(con, key));
    con.erase(con.begin() + static_cast<std::ptrdiff_t>(idx));
    return {};
  }

  // Inserting a value of depth `depth` under `toks` must keep the document within kMaxDepth.
  Result<void> checkDepth(size_t tokenCount, size_t depth) {
    if (tokenCount + depth > kMaxDepth)
      return invalid("the patched document would be nested deeper than " +
                     std::to_string(kMaxDepth) + " levels");
    depthBound_ = std::max(depthBound_, tokenCount + depth);
    return {};
  }

  Result<void> add(const Operation& op) {
    auto path = op.path();
    if (!path.ok()) return invalid("add operation failed to decode path: missing value");
    auto toks = tokens(*path);
    Json* con = toks ? findContainer(doc_, *toks) : nullptr;
    if (con == nullptr)
      return invalid("add operation does not apply: doc is missing path: \"" + *path +
                     "\": missing value");
    Json value = op.value();
    TRY(checkDepth(toks->size(), jsonDepth(value)));
    if (auto r = addTo(*con, toks->back(), std::move(value)); !r.ok())
      return invalid("error in add for path: '" + *path + "': " + r.error().message());
    return {};
  }

  Result<void> remove(const Operation& op) {
    auto path = op.path();
    if (!path.ok()) return invalid("remove operation failed to decode path: missing value");
    auto toks = tokens(*path);
    Json* con = toks ? findContainer(doc_, *toks) : nullptr;
    if (con == nullptr)
      return invalid("remove operation does not apply: doc is missing path: \"" + *path +
                     "\": missing value");
    if (auto r = removeFrom(*con, toks->back()); !r.ok())
      return invalid("error in remove for path: '" + *path + "': " + r.error().message());
    return {};
  }

  Result<void> replace(const Operation& op) {
    auto path = op.path();
    if (!path.ok())
      return invalid("replace operation failed to decode path: " + path.error().message());
    if (path->empty()) {
      // The whole document; the library silently ignores a value that is not a container.
      Json value = op.value();
      if (value.is_structured()) {
        size_t depth = jsonDepth(value);
        TRY(checkDepth(0, depth));
        depthBound_ = depth;
        doc_ = std::move(value);
      }
      return {};
    }
    auto toks = tokens(*path);
    Json* con = toks ? findContainer(doc_, *toks) : nullptr;
    if (con == nullptr)
      return invalid("replace operation does not apply: doc is missing path: " + *path +
                     ": missing value");
    auto target = getFrom(*con, toks->back());
    if (!target.ok())
      return invalid("replace operation does not apply: doc is missing key: " + *path +
                     ": missing value");
    Json value = op.value();
    TRY(checkDepth(toks->size(), jsonDepth(value)));
    if (*target != nullptr) {
      **target = std::move(value);
    } else {
      (*con)[toks->back()] = std::move(value);
    }
    return {};
  }

  Result<void> move(const Operation& op) {
    auto from = op.from();
    if (!from.ok())
      return invalid("move operation failed to decode from: " + from.error().message());
    auto fromToks = tokens(*from);
    Json* con = fromToks ? findContainer(doc_, *fromToks) : nullptr;
    if (con == nullptr)
      return invalid("move operation does not apply: doc is missing from path: " + *from +
                     ": missing value");
    const std::string& key = fromToks->back();
    auto found = getFrom(*con, key);
    if (!found.ok())
      return invalid("error in move for path: '" + key + "': " + found.error().message());
    Json value = *found != nullptr ? std::move(**found) : Json(nullptr);
    if (auto r = removeFrom(*con, key); !r.ok())
      return invalid("error in move for path: '" + key + "': " + r.error().message());

    auto path = op.path();
    if (!path.ok())
      return invalid("move operation failed to decode path: " + path.error().message());
    auto toks = tokens(*path);
    Json* dest = toks ? findContainer(doc_, *toks) : nullptr;
    if (dest == nullptr)
      return invalid("move operation does not apply: doc is missing destination path: " + *path +
                     ": missing value");
    // The moved value was at most (bound - its depth in the document) deep. Only a move to a
    // deeper place can exceed the limit; then measure the document exactly.
    if (toks->size() > fromToks->size()) {
      size_t bound = toks->size() + depthBound_ - std::min(depthBound_, fromToks->size());
      if (bound > kMaxDepth) {
        size_t exact = toks->size() + jsonDepth(value);
        TRY(checkDepth(0, exact));
        depthBound_ = std::max(jsonDepth(doc_), exact);
      } else {
        depthBound_ = std::max(depthBound_, bound);
      }
    }
    if (auto r = addTo(*dest, toks->back(), std::move(value)); !r.ok())
      return invalid("error in move for path: '" + *path + "': " + r.error().message());
    return {};
  }

  Result<void> test(const Operation& op) {
    auto path = op.path();
    if (!path.ok())
      return invalid("test operation failed to decode path: " + path.error().message());
    auto failed = [&] { return invalid("testing value " + *path + " failed: test failed"); };
    if (path->empty()) {
      if (!equal(doc_, op.value())) return failed();
      return {};
    }
    auto toks = tokens(*path);
    Json* con = toks ? findContainer(doc_, *toks) : nullptr;
    if (con == nullptr)
      return invalid("test operation does not apply: is missing path: " + *path +
                     ": missing value");
    auto found = getFrom(*con, toks->back());
    if (!found.ok())
      return invalid("error in test for path: '" + *path + "': " + found.error().message());
    // A missing member and null both equal an explicit null value only.
    const Json* have = *found;
    if (have == nullptr || have->is_null()) {
      const Json* want = findMember(op.op, "value");
      if (want == nullptr || !want->is_null()) return failed();
      return {};
    }
    if (!op.hasValue() || !equal(*have, op.value())) return failed();
    return {};
  }

  Result<void> copy(const Operation& op) {
    auto from = op.from();
    if (!from.ok())
      return invalid("copy operation failed to decode from: " + from.error().message());
    auto fromToks = tokens(*from);
    Json* con = fromToks ? findContainer(doc_, *fromToks) : nullptr;
    if (con == nullptr)
      return invalid("copy operation does not apply: doc is missing from path: " + *from +
                     ": missing value");
    auto found = getFrom(*con, fromToks->back());
    if (!found.ok())
      return invalid("error in copy for from: '" + *from + "': " + found.error().message());
    const Json* source = *found;

    auto path = op.path();
    if (!path.ok()) return invalid("copy operation failed to decode path: missing value");
    auto toks = tokens(*path);
    Json* dest = toks ? findContainer(doc_, *toks) : nullptr;
    if (dest == nullptr)
      return invalid("copy operation does not apply: doc is missing destination path: " + *path +
                     ": missing value");
    Json value;
    if (source != nullptr) {
      copiedBytes_ += dumpJson(*source).size();
      if (copiedBytes_ > kMaxCopyBytes)
        return invalid("Unable to complete the copy, the accumulated size increase of copy is " +
                       std::to_string(copiedBytes_) + ", exceeding the limit " +
                       std::to_string(kMaxCopyBytes));
      TRY(checkDepth(toks->size(), jsonDepth(*source)));
      value = *source;
    }
    // `dest` stays valid: nothing was inserted or removed since it was found.
    if (auto r = addTo(*dest, toks->back(), std::move(value)); !r.ok())
      return invalid("error while adding value during copy: " + r.error().message());
    return {};
  }

  Json doc_;
  // An upper bound of the document's depth, kept at most kMaxDepth.
  size_t depthBound_;
  size_t copiedBytes_ = 0;
};

}  // namespace

Result<Json> applyJsonPatch(const Json& document, const Json& patch) {
  if (patch.is_null()) return document;  // decodes as an empty patch
  if (!patch.is_array())
    return Error(ErrorCode::kBadRequest, std::string("json: cannot unmarshal ") +
                                             goJsonTypeName(patch) +
                                             " into Go value of type jsonpatch.Patch");
  for (const Json& op : patch) {
    if (!op.is_object() && !op.is_null())
      return Error(ErrorCode::kBadRequest, std::string("json: cannot unmarshal ") +
                                               goJsonTypeName(op) +
                                               " into Go value of type jsonpatch.Operation");
  }
  if (patch.size() > kMaxOperations)
    return Error(ErrorCode::kTooLarge, "The allowed maximum operations in a JSON patch is " +
                                           std::to_string(kMaxOperations) + ", got " +
                                           std::to_string(patch.size()));
  if (!document.is_structured())
    return invalid(std::string("json: cannot unmarshal ") + goJsonTypeName(document) +
                   " into Go value of type jsonpatch.partialDoc");
  if (jsonDepth(document) > kMaxDepth) return invalid("the document is nested too deeply");
  Patcher patcher(document);
  for (const Json& op : patch) TRY(patcher.apply(op));
  return patcher.take();
}

}  // namespace nave::patch
