#include "server/protobuf/protobuf.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>

#include "common/strings.h"

namespace nave::protobuf {
namespace {

using schema::Node;
using schema::Property;
using schema::SchemaSet;
using schema::Type;

constexpr std::string_view kMagic("k8s\0", 4);
constexpr int kMaxDepth = 100;

Error decodeError(std::string_view what) {
  return Error(ErrorCode::kBadRequest, "failed to decode protobuf: " + std::string(what));
}

enum WireType : int { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

struct Key {
  uint64_t field = 0;
  int wireType = 0;
};

// Protobuf wire data, read without ever going past the end of the buffer.
class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}

  bool done() const { return pos_ >= data_.size(); }

  Result<uint64_t> varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return decodeError("truncated varint");
      auto b = static_cast<uint8_t>(data_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (b < 0x80) return v;
    }
    return decodeError("varint longer than 10 bytes");
  }

  Result<uint64_t> fixed(size_t width) {
    if (data_.size() - pos_ < width) return decodeError("truncated fixed-width value");
    uint64_t v = 0;
    for (size_t i = 0; i < width; ++i)
      v |= static_cast<uint64_t>(static_cast<uint8_t>(data_[pos_ + i])) << (8 * i);
    pos_ += width;
    return v;
  }

  Result<std::string_view> lengthDelimited() {
    uint64_t n = TRY(varint());
    if (n > data_.size() - pos_) return decodeError("length past the end of the data");
    std::string_view out = data_.substr(pos_, n);
    pos_ += n;
    return out;
  }

  Result<Key> key() {
    uint64_t k = TRY(varint());
    Key out{k >> 3, static_cast<int>(k & 7)};
    if (out.field == 0 || out.field > (uint64_t{1} << 29) - 1)
      return decodeError("invalid field number " + std::to_string(out.field));
    return out;
  }

  // Skips a field this decoder does not know. Groups (wire types 3 and 4) are a proto2
  // feature Kubernetes never uses.
  Result<void> skip(int wireType) {
    switch (wireType) {
      case kVarint:
        TRY(varint());
        return {};
      case kFixed64:
        TRY(fixed(8));
        return {};
      case kLengthDelimited:
        TRY(lengthDelimited());
        return {};
      case kFixed32:
        TRY(fixed(4));
        return {};
      default:
        return decodeError("unsupported wire type " + std::to_string(wireType));
    }
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

// Types whose protobuf form differs from their JSON form, by definition name.
enum class Special {
  kNone,
  kTime,
  kMicroTime,
  kDuration,
  kQuantity,
  kIntOrString,
  kRawJson,  // RawExtension, FieldsV1, apiextensions JSON: {1: bytes of JSON}
  kSchemaOrArray,
  kSchemaOrBool,
  kSchemaOrStringArray,
};

constexpr std::string_view kMeta = "io.k8s.apimachinery.pkg.apis.meta.v1.";
constexpr std::string_view kApiextensions =
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.";

Special specialByName(std::string_view name) {
  static const std::map<std::string, Special, std::less<>> kSpecials = {
      {std::string(kMeta) + "Time", Special::kTime},
      {std::string(kMeta) + "MicroTime", Special::kMicroTime},
      {std::string(kMeta) + "Duration", Special::kDuration},
      {std::string(kMeta) + "FieldsV1", Special::kRawJson},
      {"io.k8s.apimachinery.pkg.api.resource.Quantity", Special::kQuantity},
      {"io.k8s.apimachinery.pkg.util.intstr.IntOrString", Special::kIntOrString},
      {"io.k8s.apimachinery.pkg.runtime.RawExtension", Special::kRawJson},
      {std::string(kApiextensions) + "JSON", Special::kRawJson},
      {std::string(kApiextensions) + "JSONSchemaPropsOrArray", Special::kSchemaOrArray},
      {std::string(kApiextensions) + "JSONSchemaPropsOrBool", Special::kSchemaOrBool},
      {std::string(kApiextensions) + "JSONSchemaPropsOrStringArray", Special::kSchemaOrStringArray},
  };
  auto it = kSpecials.find(name);
  return it == kSpecials.end() ? Special::kNone : it->second;
}

// A message's fields by number. A Go embedded struct that protobuf keeps as a message of its
// own (proto=E.N) is a nested table whose fields land in the same JSON object.
struct FieldTable {
  struct Entry {
    const Property* property = nullptr;
    // Required fields are the ones Go's JSON tags leave without omitempty (for the built-in
    // scalars the two coincide but for a handful of optional fields): their zero values stay.
    bool required = false;
    std::unique_ptr<FieldTable> inlined;
  };
  std::unordered_map<uint64_t, Entry> byNumber;
};

// Go's time.Duration.String(): "1h2m3.5s", "1.5ms", "0s".
std::string goDuration(int64_t ns) {
  if (ns == 0) return "0s";
  bool negative = ns < 0;
  // The magnitude of INT64_MIN does not fit in int64.
  uint64_t u = negative ? 0 - static_cast<uint64_t>(ns) : static_cast<uint64_t>(ns);
  auto fraction = [](uint64_t v, int digits, std::string& out) {
    // v's last `digits` digits are the fraction; trailing zeros are dropped.
    std::string frac;
    bool print = false;
    for (int i = 0; i < digits; ++i) {
      uint64_t digit = v % 10;
      print = print || digit != 0;
      if (print) frac.insert(frac.begin(), static_cast<char>('0' + digit));
      v /= 10;
    }
    out = std::to_string(v) + (frac.empty() ? "" : "." + frac);
  };
  std::string out;
  if (u < 1'000'000'000) {
    if (u < 1'000) {
      out = std::to_string(u) + "ns";
    } else if (u < 1'000'000) {
      fraction(u, 3, out);
      out += "µs";
    } else {
      fraction(u, 6, out);
      out += "ms";
    }
  } else {
    std::string secs;
    fraction(u % 60'000'000'000, 9, secs);
    uint64_t minutes = u / 60'000'000'000;
    out = secs + "s";
    if (minutes > 0) {
      out = std::to_string(minutes % 60) + "m" + out;
      if (minutes >= 60) out = std::to_string(minutes / 60) + "h" + out;
    }
  }
  return negative ? "-" + out : out;
}

// RFC 3339 in UTC; Go refuses to write years outside 0000-9999 in JSON, and so do we.
Result<std::string> formatTime(int64_t seconds, int64_t nanos, bool micro) {
  // Normalise nanos into [0, 1e9) like time.Unix.
  constexpr int64_t kNano = 1'000'000'000;
  constexpr int64_t kMinSeconds = -62'167'219'200;  // 0000-01-01T00:00:00Z
  constexpr int64_t kMaxSeconds = 253'402'300'799;  // 9999-12-31T23:59:59Z
  if (seconds < kMinSeconds - 1 || seconds > kMaxSeconds + 1)
    return decodeError("time out of range");
  seconds += nanos / kNano;
  nanos %= kNano;
  if (nanos < 0) {
    nanos += kNano;
    --seconds;
  }
  if (seconds < kMinSeconds || seconds > kMaxSeconds) return decodeError("time out of range");
  int64_t days = seconds / 86400, rem = seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
  days += 719468;
  int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  int64_t doe = days - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t day = doy - (153 * mp + 2) / 5 + 1;
  int64_t month = mp < 10 ? mp + 3 : mp - 9;
  int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  char buf[96];
  if (micro) {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", static_cast<int>(year),
                  static_cast<int>(month), static_cast<int>(day), static_cast<int>(rem / 3600),
                  static_cast<int>(rem / 60 % 60), static_cast<int>(rem % 60),
                  static_cast<int>(nanos / 1000));
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", static_cast<int>(year),
                  static_cast<int>(month), static_cast<int>(day), static_cast<int>(rem / 3600),
                  static_cast<int>(rem / 60 % 60), static_cast<int>(rem % 60));
  }
  return std::string(buf);
}

bool isZero(const Json& v) {
  if (v.is_string()) return v.get_ref<const std::string&>().empty();
  if (v.is_boolean()) return !v.get<bool>();
  if (v.is_number_integer()) return v.get<int64_t>() == 0;
  if (v.is_number_float()) return v.get<double>() == 0.0;
  return false;
}

// Decodes one object's message against the schema. One instance per request.
class Decoder {
 public:
  explicit Decoder(const SchemaSet& schemas) : schemas_(schemas) {}

  // "k8s\0" + runtime.Unknown; `depth` counts the messages around it.
  Result<DecodedObject> envelope(std::string_view body, int depth) {
    if (!body.starts_with(kMagic))
      return decodeError("the body does not start with the \"k8s\\x00\" prefix");
    std::string apiVersion, kind, contentEncoding;
    std::string_view raw;
    WireReader r(body.substr(kMagic.size()));
    while (!r.done()) {
      Key k = TRY(r.key());
      if (k.field >= 1 && k.field <= 3) {
        if (k.wireType != kLengthDelimited)
          return decodeError("runtime.Unknown field " + std::to_string(k.field) +
                             " has wire type " + std::to_string(k.wireType));
        std::string_view v = TRY(r.lengthDelimited());
        if (k.field == 1) {
          TRY(typeMeta(v, apiVersion, kind));
        } else if (k.field == 2) {
          raw = v;
        } else {
          contentEncoding = std::string(v);
        }
        continue;
      }
      TRY(r.skip(k.wireType));  // 4: contentType, informational
    }
    if (!contentEncoding.empty()) {
      return Error(ErrorCode::kUnsupportedMediaType,
                   "failed to decode protobuf: content encoding \"" + printable(contentEncoding) +
                       "\" is not supported");
    }
    if (kind.empty()) return decodeError("the object has no kind");
    if (apiVersion.empty()) return decodeError("the object has no apiVersion");
    schema::GroupVersionKind gvk;
    gvk.kind = kind;
    if (auto slash = apiVersion.find('/'); slash == std::string::npos) {
      gvk.version = apiVersion;
    } else {
      gvk.group = apiVersion.substr(0, slash);
      gvk.version = apiVersion.substr(slash + 1);
    }
    const Node* node = schemas_.findKind(gvk);
    if (node == nullptr) {
      return decodeError("no kind \"" + printable(kind) + "\" is registered for version \"" +
                         printable(apiVersion) + "\"");
    }
    DecodedObject out;
    out.object = Json::object();
    out.object["apiVersion"] = apiVersion;
    out.object["kind"] = kind;
    TRY(message(node, raw, out.object, depth + 1));
    out.apiVersion = std::move(apiVersion);
    out.kind = std::move(kind);
    return out;
  }

 private:
  // Strings from the envelope quoted in messages: bounded and valid UTF-8.
  static std::string printable(std::string_view s) {
    std::string out(s.substr(0, 64));
    return isValidUtf8(out) ? out : "<invalid UTF-8>";
  }

  Result<void> typeMeta(std::string_view data, std::string& apiVersion, std::string& kind) {
    WireReader r(data);
    while (!r.done()) {
      Key k = TRY(r.key());
      if ((k.field == 1 || k.field == 2) && k.wireType == kLengthDelimited) {
        std::string_view v = TRY(r.lengthDelimited());
        if (!isValidUtf8(v)) return decodeError("apiVersion or kind is not valid UTF-8");
        (k.field == 1 ? apiVersion : kind) = std::string(v);
        continue;
      }
      TRY(r.skip(k.wireType));
    }
    return {};
  }

  const FieldTable& table(const Node* shape) {
    auto& slot = tables_[shape];
    if (slot) return *slot;
    slot = std::make_unique<FieldTable>();
    for (const Property& p : shape->properties) {
      if (p.schema->protoTag == 0) continue;
      FieldTable* t = slot.get();
      for (int outer : p.schema->protoInline) {
        auto& entry = t->byNumber[static_cast<uint64_t>(outer)];
        if (!entry.inlined) entry.inlined = std::make_unique<FieldTable>();
        t = entry.inlined.get();
      }
      auto& entry = t->byNumber[static_cast<uint64_t>(p.schema->protoTag)];
      entry.property = &p;
      entry.required = shape->isRequired(p.name);
    }
    return *slot;
  }

  Special special(const Node* node) const {
    for (int hops = 0; node != nullptr && !node->ref.empty() && hops < 16; ++hops) {
      if (Special s = specialByName(node->ref); s != Special::kNone) return s;
      node = schemas_.find(node->ref);
    }
    return Special::kNone;
  }

  static Result<void> checkDepth(int depth) {
    if (depth > kMaxDepth) return decodeError("messages nested deeper than 100 levels");
    return {};
  }

  // Decodes the fields of a message of `shape` (an object definition) into `obj`.
  Result<void> message(const Node* shape, std::string_view data, Json& obj, int depth) {
    TRY(checkDepth(depth));
    return fields(table(shape), data, obj, depth);
  }

  Result<void> fields(const FieldTable& t, std::string_view data, Json& obj, int depth) {
    WireReader r(data);
    while (!r.done()) {
      Key k = TRY(r.key());
      auto it = t.byNumber.find(k.field);
      if (it == t.byNumber.end()) {
        TRY(r.skip(k.wireType));
        continue;
      }
      if (it->second.inlined) {
        TRY(expectWire(k, kLengthDelimited, "an embedded message"));
        std::string_view inner = TRY(r.lengthDelimited());
        TRY(checkDepth(depth + 1));
        TRY(fields(*it->second.inlined, inner, obj, depth + 1));
        continue;
      }
      TRY(field(it->second, k, r, obj, depth));
    }
    return {};
  }

  static Result<void> expectWire(const Key& k, int want, std::string_view what) {
    if (k.wireType == want) return {};
    return decodeError("field " + std::to_string(k.field) + " (" + std::string(what) +
                       ") has wire type " + std::to_string(k.wireType) + ", want " +
                       std::to_string(want));
  }

  // One occurrence of property `p` on the wire.
  Result<void> field(const FieldTable::Entry& e, const Key& k, WireReader& r, Json& obj,
                     int depth) {
    const Property& p = *e.property;
    const Node* f = p.schema.get();
    const Node* shape = schemas_.resolve(f);
    Special sp = special(f);
    if (sp == Special::kNone && shape->type == Type::kArray) {
      if (!hasWireForm(shape->items.get())) return r.skip(k.wireType);
      Json& arr = obj[p.name];
      if (!arr.is_array()) arr = Json::array();
      TRY(element(shape->items.get(), k, r, arr, depth, p.name));
      if (arr.empty()) obj.erase(p.name);  // an empty packed run
      return {};
    }
    if (sp == Special::kNone && shape->type == Type::kMap) {
      if (!hasWireForm(shape->additionalProperties.get())) return r.skip(k.wireType);
      TRY(expectWire(k, kLengthDelimited, p.name));
      std::string_view entry = TRY(r.lengthDelimited());
      Json& map = obj[p.name];
      if (!map.is_object()) map = Json::object();
      return mapEntry(shape->additionalProperties.get(), entry, map, depth, p.name);
    }
    std::optional<Json> v = TRY(value(f, k, r, depth, p.name));
    // Go writes plain scalars even when zero; omitempty leaves zero values out of the JSON.
    // Pointers and required fields (which have no omitempty) keep them.
    bool scalar = sp == Special::kNone && shape->type != Type::kObject;
    if (!v || (scalar && !f->pointer && !e.required && isZero(*v))) {
      obj.erase(p.name);
    } else {
      obj[p.name] = std::move(*v);
    }
    return {};
  }

  // Whether values of `node` can be on the wire at all: free JSON (`any`) and nested
  // collections have no protobuf form, and no Kubernetes type has them.
  bool hasWireForm(const Node* node) const {
    if (node == nullptr) return false;
    if (special(node) != Special::kNone) return true;
    switch (schemas_.resolve(node)->type) {
      case Type::kObject:
      case Type::kString:
      case Type::kInteger:
      case Type::kNumber:
      case Type::kBoolean:
        return true;
      default:
        return false;
    }
  }

  static bool packable(const Node* shape) {
    return shape->type == Type::kInteger || shape->type == Type::kBoolean ||
           shape->type == Type::kNumber;
  }

  // One occurrence of a repeated field: an element, or for scalars possibly a packed run.
  Result<void> element(const Node* item, const Key& k, WireReader& r, Json& arr, int depth,
                       std::string_view name) {
    const Node* shape = schemas_.resolve(item);
    if (special(item) == Special::kNone && packable(shape) && k.wireType == kLengthDelimited) {
      std::string_view packed = TRY(r.lengthDelimited());
      WireReader pr(packed);
      Key each{k.field, shape->type == Type::kNumber ? kFixed64 : kVarint};
      while (!pr.done()) arr.push_back(TRY(scalar(shape, each, pr, name)));
      return {};
    }
    std::optional<Json> v = TRY(value(item, k, r, depth, name));
    arr.push_back(v ? std::move(*v) : Json(nullptr));
    return {};
  }

  // A map entry message {1: key, 2: value}; a missing value is the value type's zero.
  Result<void> mapEntry(const Node* valueNode, std::string_view entry, Json& map, int depth,
                        std::string_view name) {
    TRY(checkDepth(depth + 1));
    WireReader r(entry);
    std::string key;
    std::optional<Json> v;
    while (!r.done()) {
      Key k = TRY(r.key());
      if (k.field == 1) {
        TRY(expectWire(k, kLengthDelimited, std::string(name) + " key"));
        std::string_view s = TRY(r.lengthDelimited());
        if (!isValidUtf8(s)) return decodeError(std::string(name) + ": key is not valid UTF-8");
        key = std::string(s);
      } else if (k.field == 2) {
        v = TRY(value(valueNode, k, r, depth + 1, name));
      } else {
        TRY(r.skip(k.wireType));
      }
    }
    map[key] = v ? std::move(*v) : zero(valueNode);
    return {};
  }

  Json zero(const Node* node) const {
    const Node* shape = schemas_.resolve(node);
    switch (special(node)) {
      case Special::kQuantity:
        return "0";
      case Special::kIntOrString:
        return 0;
      case Special::kNone:
        break;
      default:
        return nullptr;
    }
    switch (shape->type) {
      case Type::kString:
        return "";
      case Type::kInteger:
        return 0;
      case Type::kNumber:
        return 0.0;
      case Type::kBoolean:
        return false;
      case Type::kObject:
        return Json::object();
      default:
        return nullptr;
    }
  }

  // A single value (a scalar, a message or a special type); nullopt when Go would leave it
  // out of the JSON (a zero Time, an empty RawExtension).
  Result<std::optional<Json>> value(const Node* node, const Key& k, WireReader& r, int depth,
                                    std::string_view name) {
    Special sp = special(node);
    const Node* shape = schemas_.resolve(node);
    if (sp == Special::kNone) {
      if (shape->type == Type::kObject) {
        TRY(expectWire(k, kLengthDelimited, name));
        std::string_view data = TRY(r.lengthDelimited());
        Json obj = Json::object();
        TRY(message(shape, data, obj, depth + 1));
        return std::optional<Json>(std::move(obj));
      }
      if (!hasWireForm(node)) {
        TRY(r.skip(k.wireType));
        return std::optional<Json>();
      }
      return std::optional<Json>(TRY(scalar(shape, k, r, name)));
    }
    TRY(expectWire(k, kLengthDelimited, name));
    std::string_view data = TRY(r.lengthDelimited());
    TRY(checkDepth(depth + 1));
    switch (sp) {
      case Special::kTime:
      case Special::kMicroTime:
        return time(data, sp == Special::kMicroTime);
      case Special::kDuration: {
        int64_t ns = 0;
        TRY(eachField(data, [&](const Key& fk, WireReader& fr) -> Result<bool> {
          if (fk.field != 1) return false;
          TRY(expectWire(fk, kVarint, "Duration.duration"));
          ns = static_cast<int64_t>(TRY(fr.varint()));
          return true;
        }));
        return std::optional<Json>(goDuration(ns));
      }
      case Special::kQuantity: {
        std::string q = "0";
        TRY(eachField(data, [&](const Key& fk, WireReader& fr) -> Result<bool> {
          if (fk.field != 1) return false;
          q = TRY(string(fk, fr, "Quantity.string"));
          return true;
        }));
        if (q.empty()) q = "0";
        return std::optional<Json>(std::move(q));
      }
      case Special::kIntOrString:
        return intOrString(data);
      case Special::kRawJson:
        return rawJson(data, depth + 1, name);
      case Special::kSchemaOrArray:
      case Special::kSchemaOrBool:
      case Special::kSchemaOrStringArray:
        return schemaOr(sp, data, depth + 1);
      case Special::kNone:
        break;
    }
    return std::optional<Json>();
  }

  // Calls fn for each field of a small message; fn returns false for fields it does not
  // read, which are skipped.
  template <typename Fn>
  Result<void> eachField(std::string_view data, Fn&& fn) {
    WireReader r(data);
    while (!r.done()) {
      Key k = TRY(r.key());
      bool read = TRY(fn(k, r));
      if (!read) TRY(r.skip(k.wireType));
    }
    return {};
  }

  static Result<std::string> string(const Key& k, WireReader& r, std::string_view name) {
    TRY(expectWire(k, kLengthDelimited, name));
    std::string_view s = TRY(r.lengthDelimited());
    if (!isValidUtf8(s)) return decodeError(std::string(name) + ": not valid UTF-8");
    return std::string(s);
  }

  static Result<Json> scalar(const Node* shape, const Key& k, WireReader& r,
                             std::string_view name) {
    switch (shape->type) {
      case Type::kString: {
        if (shape->format == "byte") {
          TRY(expectWire(k, kLengthDelimited, name));
          std::string_view b = TRY(r.lengthDelimited());
          return Json(base64Encode(b));
        }
        return Json(TRY(string(k, r, name)));
      }
      case Type::kInteger: {
        TRY(expectWire(k, kVarint, name));
        uint64_t v = TRY(r.varint());
        // Go truncates an int32 field's varint to its low 32 bits.
        if (shape->format == "int32") return Json(static_cast<int32_t>(static_cast<uint32_t>(v)));
        return Json(static_cast<int64_t>(v));
      }
      case Type::kBoolean: {
        TRY(expectWire(k, kVarint, name));
        return Json(TRY(r.varint()) != 0);
      }
      case Type::kNumber: {
        TRY(expectWire(k, kFixed64, name));
        auto d = std::bit_cast<double>(TRY(r.fixed(8)));
        if (!std::isfinite(d)) return decodeError(std::string(name) + ": not a finite number");
        return Json(d);
      }
      default:
        return decodeError(std::string(name) + ": no protobuf form");
    }
  }

  Result<std::optional<Json>> time(std::string_view data, bool micro) {
    if (data.empty()) return std::optional<Json>();  // Go's zero time
    int64_t seconds = 0, nanos = 0;
    TRY(eachField(data, [&](const Key& k, WireReader& r) -> Result<bool> {
      if (k.field != 1 && k.field != 2) return false;
      TRY(expectWire(k, kVarint, "Timestamp"));
      uint64_t v = TRY(r.varint());
      if (k.field == 1) {
        seconds = static_cast<int64_t>(v);
      } else {
        nanos = static_cast<int32_t>(static_cast<uint32_t>(v));
      }
      return true;
    }));
    return std::optional<Json>(TRY(formatTime(seconds, nanos, micro)));
  }

  Result<std::optional<Json>> intOrString(std::string_view data) {
    int64_t type = 0;
    int32_t intVal = 0;
    std::string strVal;
    TRY(eachField(data, [&](const Key& k, WireReader& r) -> Result<bool> {
      if (k.field == 1 || k.field == 2) {
        TRY(expectWire(k, kVarint, "IntOrString"));
        uint64_t v = TRY(r.varint());
        if (k.field == 1) {
          type = static_cast<int64_t>(v);
        } else {
          intVal = static_cast<int32_t>(static_cast<uint32_t>(v));
        }
        return true;
      }
      if (k.field == 3) {
        strVal = TRY(string(k, r, "IntOrString.strVal"));
        return true;
      }
      return false;
    }));
    if (type == 0) return std::optional<Json>(Json(intVal));
    if (type == 1) return std::optional<Json>(Json(std::move(strVal)));
    return decodeError("IntOrString has unknown type " + std::to_string(type));
  }

  // {1: raw bytes}: JSON text, or a nested protobuf object ("k8s\0" + runtime.Unknown).
  Result<std::optional<Json>> rawJson(std::string_view data, int depth, std::string_view name) {
    std::string_view raw;
    TRY(eachField(data, [&](const Key& k, WireReader& r) -> Result<bool> {
      if (k.field != 1) return false;
      TRY(expectWire(k, kLengthDelimited, name));
      raw = TRY(r.lengthDelimited());
      return true;
    }));
    if (raw.empty()) return std::optional<Json>();
    if (raw.starts_with(kMagic)) {
      DecodedObject nested = TRY(envelope(raw, depth));
      return std::optional<Json>(std::move(nested.object));
    }
    // Each message level may add two JSON levels (an object in an array); the whole object
    // stays within the nesting a JSON request body may have.
    JsonParseOptions options;
    options.maxDepth = options.maxDepth > static_cast<size_t>(2 * depth)
                           ? options.maxDepth - static_cast<size_t>(2 * depth)
                           : 1;
    auto parsed = parseJson(raw, options);
    if (!parsed.ok())
      return decodeError(std::string(name) + ": embedded JSON: " + parsed.error().message());
    return std::optional<Json>(std::move(parsed->value));
  }

  // apiextensions' JSONSchemaPropsOrArray {1: schema, 2: repeated schemas},
  // JSONSchemaPropsOrBool {1: allows, 2: schema} and
  // JSONSchemaPropsOrStringArray {1: schema, 2: repeated property}, as their Go MarshalJSON
  // writes them.
  Result<std::optional<Json>> schemaOr(Special sp, std::string_view data, int depth) {
    const Node* props = schemas_.find(std::string(kApiextensions) + "JSONSchemaProps");
    if (props == nullptr) return decodeError("JSONSchemaProps is not defined");
    int schemaField = sp == Special::kSchemaOrBool ? 2 : 1;
    std::optional<Json> schemaValue;
    Json list = Json::array();
    bool allows = false;
    TRY(eachField(data, [&](const Key& k, WireReader& r) -> Result<bool> {
      if (k.field == static_cast<uint64_t>(schemaField)) {
        TRY(expectWire(k, kLengthDelimited, "JSONSchemaProps"));
        std::string_view m = TRY(r.lengthDelimited());
        Json obj = Json::object();
        TRY(message(props, m, obj, depth + 1));
        schemaValue = std::move(obj);
        return true;
      }
      if (sp == Special::kSchemaOrBool && k.field == 1) {
        TRY(expectWire(k, kVarint, "JSONSchemaPropsOrBool.allows"));
        allows = TRY(r.varint()) != 0;
        return true;
      }
      if (sp != Special::kSchemaOrBool && k.field == 2) {
        if (sp == Special::kSchemaOrStringArray) {
          list.push_back(TRY(string(k, r, "JSONSchemaPropsOrStringArray.property")));
          return true;
        }
        TRY(expectWire(k, kLengthDelimited, "JSONSchemaProps"));
        std::string_view m = TRY(r.lengthDelimited());
        Json obj = Json::object();
        TRY(message(props, m, obj, depth + 1));
        list.push_back(std::move(obj));
        return true;
      }
      return false;
    }));
    if (sp == Special::kSchemaOrBool) {
      if (schemaValue) return schemaValue;
      return std::optional<Json>(Json(allows));
    }
    if (!list.empty()) return std::optional<Json>(std::move(list));
    return schemaValue;
  }

  const SchemaSet& schemas_;
  std::unordered_map<const Node*, std::unique_ptr<FieldTable>> tables_;
};

}  // namespace

Result<DecodedObject> decodeObject(std::string_view body, const schema::SchemaSet& schemas) {
  Decoder decoder(schemas);
  return decoder.envelope(body, 0);
}

}  // namespace nave::protobuf