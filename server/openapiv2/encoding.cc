// encodeProtobuf: a Swagger 2.0 JSON document in gnostic's openapi_v2 protobuf messages
// (github.com/google/gnostic-models, openapiv2/OpenAPIv2.proto), which is what client-go's
// OpenAPISchema() unmarshals. Field numbers below are that file's.
//
// Values gnostic keeps as YAML text (vendor extensions, defaults, enums, examples) are written
// as JSON in flow style with spaces after ':' and ',', which every YAML parser reads.
#include <bit>
#include <cstdint>
#include <string>
#include <string_view>

#include "server/openapiv2/openapiv2.h"

namespace nave::openapiv2 {
namespace {

// One protobuf message being written. Scalars at their proto3 default are left out, as
// proto3 encoders do, unless `always` (members of a oneof must be written to be set).
class Message {
 public:
  void varintField(uint32_t field, uint64_t v, bool always = false) {
    if (v == 0 && !always) return;
    tag(field, 0);
    varint(v);
  }
  void boolField(uint32_t field, bool v, bool always = false) {
    varintField(field, v ? 1 : 0, always);
  }
  void int64Field(uint32_t field, int64_t v) { varintField(field, static_cast<uint64_t>(v)); }
  void doubleField(uint32_t field, double v) {
    if (v == 0) return;
    tag(field, 1);
    uint64_t bits = std::bit_cast<uint64_t>(v);
    for (int i = 0; i < 8; ++i) data_ += static_cast<char>((bits >> (8 * i)) & 0xff);
  }
  void stringField(uint32_t field, std::string_view s, bool always = false) {
    if (s.empty() && !always) return;
    tag(field, 2);
    varint(s.size());
    data_ += s;
  }
  // Embedded messages are always written: their presence is meaningful.
  void messageField(uint32_t field, const Message& m) { stringField(field, m.data_, true); }

  std::string take() { return std::move(data_); }

 private:
  void tag(uint32_t field, uint32_t wireType) { varint((uint64_t{field} << 3) | wireType); }
  void varint(uint64_t v) {
    while (v >= 0x80) {
      data_ += static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    data_ += static_cast<char>(v);
  }

  std::string data_;
};

bool isExtension(std::string_view key) {
  return key.starts_with("x-") || key.starts_with("X-");
}

// JSON text that YAML reads back as the same value.
void appendYaml(const Json& v, std::string& out) {
  if (v.is_object()) {
    out += '{';
    bool first = true;
    for (const auto& [k, e] : v.items()) {
      if (!first) out += ", ";
      first = false;
      out += Json(k).dump(-1, ' ', false, Json::error_handler_t::replace);
      out += ": ";
      appendYaml(e, out);
    }
    out += '}';
  } else if (v.is_array()) {
    out += '[';
    bool first = true;
    for (const auto& e : v) {
      if (!first) out += ", ";
      first = false;
      appendYaml(e, out);
    }
    out += ']';
  } else {
    out += v.dump(-1, ' ', false, Json::error_handler_t::replace);
  }
}

// openapi_v2.Any: field 2 holds the YAML text.
Message anyMessage(const Json& v) {
  std::string yaml;
  appendYaml(v, yaml);
  Message m;
  m.stringField(2, yaml, true);
  return m;
}

// A repeated NamedAny field for the "x-" members of `j`.
void extensions(Message& m, uint32_t field, const Json& j) {
  for (const auto& [k, v] : j.items()) {
    if (!isExtension(k)) continue;
    Message named;
    named.stringField(1, k, true);
    named.messageField(2, anyMessage(v));
    m.messageField(field, named);
  }
}

std::string str(const Json& j, std::string_view key) {
  return getString(j, key);
}

void stringMember(Message& m, uint32_t field, const Json& j, std::string_view key) {
  m.stringField(field, getString(j, key));
}
void boolMember(Message& m, uint32_t field, const Json& j, std::string_view key) {
  m.boolField(field, getBool(j, key));
}
void int64Member(Message& m, uint32_t field, const Json& j, std::string_view key) {
  const Json* v = findMember(j, key);
  if (v != nullptr && v->is_number()) m.int64Field(field, v->get<int64_t>());
}
void doubleMember(Message& m, uint32_t field, const Json& j, std::string_view key) {
  const Json* v = findMember(j, key);
  if (v != nullptr && v->is_number()) m.doubleField(field, v->get<double>());
}
void stringsMember(Message& m, uint32_t field, const Json& j, std::string_view key) {
  const Json* v = findMember(j, key);
  if (v == nullptr || !v->is_array()) return;
  for (const auto& s : *v)
    if (s.is_string()) m.stringField(field, s.get<std::string>(), true);
}
void anyMember(Message& m, uint32_t field, const Json& j, std::string_view key) {
  if (const Json* v = findMember(j, key)) m.messageField(field, anyMessage(*v));
}
void anysMember(Message& m, uint32_t field, const Json& j, std::string_view key) {
  const Json* v = findMember(j, key);
  if (v == nullptr || !v->is_array()) return;
  for (const auto& e : *v) m.messageField(field, anyMessage(e));
}
template <typename F>
void objectMember(Message& m, uint32_t field, const Json& j, std::string_view key, F encode) {
  const Json* v = findMember(j, key);
  if (v != nullptr && v->is_object()) m.messageField(field, encode(*v));
}

Message externalDocs(const Json& j) {
  Message m;
  stringMember(m, 1, j, "description");
  stringMember(m, 2, j, "url");
  extensions(m, 3, j);
  return m;
}

Message xml(const Json& j) {
  Message m;
  stringMember(m, 1, j, "name");
  stringMember(m, 2, j, "namespace");
  stringMember(m, 3, j, "prefix");
  boolMember(m, 4, j, "attribute");
  boolMember(m, 5, j, "wrapped");
  extensions(m, 6, j);
  return m;
}

Message schema(const Json& j) {
  Message m;
  stringMember(m, 1, j, "$ref");
  stringMember(m, 2, j, "format");
  stringMember(m, 3, j, "title");
  stringMember(m, 4, j, "description");
  anyMember(m, 5, j, "default");
  doubleMember(m, 6, j, "multipleOf");
  doubleMember(m, 7, j, "maximum");
  boolMember(m, 8, j, "exclusiveMaximum");
  doubleMember(m, 9, j, "minimum");
  boolMember(m, 10, j, "exclusiveMinimum");
  int64Member(m, 11, j, "maxLength");
  int64Member(m, 12, j, "minLength");
  stringMember(m, 13, j, "pattern");
  int64Member(m, 14, j, "maxItems");
  int64Member(m, 15, j, "minItems");
  boolMember(m, 16, j, "uniqueItems");
  int64Member(m, 17, j, "maxProperties");
  int64Member(m, 18, j, "minProperties");
  stringsMember(m, 19, j, "required");
  anysMember(m, 20, j, "enum");
  if (const Json* ap = findMember(j, "additionalProperties")) {
    // AdditionalPropertiesItem: oneof { Schema schema = 1; bool boolean = 2; }
    Message item;
    if (ap->is_boolean()) {
      item.boolField(2, ap->get<bool>(), true);
      m.messageField(21, item);
    } else if (ap->is_object()) {
      item.messageField(1, schema(*ap));
      m.messageField(21, item);
    }
  }
  if (const Json* t = findMember(j, "type")) {
    // TypeItem: repeated string value = 1.
    Message item;
    if (t->is_string()) item.stringField(1, t->get<std::string>(), true);
    if (t->is_array())
      for (const auto& e : *t)
        if (e.is_string()) item.stringField(1, e.get<std::string>(), true);
    m.messageField(22, item);
  }
  if (const Json* items = findMember(j, "items")) {
    // ItemsItem: repeated Schema schema = 1.
    Message item;
    if (items->is_object()) item.messageField(1, schema(*items));
    if (items->is_array())
      for (const auto& e : *items)
        if (e.is_object()) item.messageField(1, schema(e));
    m.messageField(23, item);
  }
  if (const Json* all = findMember(j, "allOf"); all != nullptr && all->is_array())
    for (const auto& e : *all)
      if (e.is_object()) m.messageField(24, schema(e));
  if (const Json* props = findMember(j, "properties"); props != nullptr && props->is_object()) {
    // Properties: repeated NamedSchema additional_properties = 1.
    Message p;
    for (const auto& [name, s] : props->items()) {
      if (!s.is_object()) continue;
      Message named;
      named.stringField(1, name, true);
      named.messageField(2, schema(s));
      p.messageField(1, named);
    }
    m.messageField(25, p);
  }
  stringMember(m, 26, j, "discriminator");
  boolMember(m, 27, j, "readOnly");
  objectMember(m, 28, j, "xml", xml);
  objectMember(m, 29, j, "externalDocs", externalDocs);
  anyMember(m, 30, j, "example");
  extensions(m, 31, j);
  return m;
}

// The fields shared by PrimitivesItems, Header and the non-body parameter schemas: each
// message numbers them consecutively from `base + 1` (type) to `base + 17` (multipleOf).
Message primitivesItems(const Json& j);
void primitiveFields(Message& m, const Json& j, uint32_t base) {
  stringMember(m, base + 1, j, "type");
  stringMember(m, base + 2, j, "format");
  objectMember(m, base + 3, j, "items", primitivesItems);
  stringMember(m, base + 4, j, "collectionFormat");
  anyMember(m, base + 5, j, "default");
  doubleMember(m, base + 6, j, "maximum");
  boolMember(m, base + 7, j, "exclusiveMaximum");
  doubleMember(m, base + 8, j, "minimum");
  boolMember(m, base + 9, j, "exclusiveMinimum");
  int64Member(m, base + 10, j, "maxLength");
  int64Member(m, base + 11, j, "minLength");
  stringMember(m, base + 12, j, "pattern");
  int64Member(m, base + 13, j, "maxItems");
  int64Member(m, base + 14, j, "minItems");
  boolMember(m, base + 15, j, "uniqueItems");
  anysMember(m, base + 16, j, "enum");
  doubleMember(m, base + 17, j, "multipleOf");
}

Message primitivesItems(const Json& j) {
  Message m;
  primitiveFields(m, j, 0);
  extensions(m, 18, j);
  return m;
}

Message header(const Json& j) {
  Message m;
  primitiveFields(m, j, 0);
  stringMember(m, 18, j, "description");
  extensions(m, 19, j);
  return m;
}

// Parameter: oneof { BodyParameter body_parameter = 1; NonBodyParameter non_body_parameter = 2; }
Message parameter(const Json& j) {
  std::string in = str(j, "in");
  Message m;
  if (in == "body") {
    Message b;
    stringMember(b, 1, j, "description");
    stringMember(b, 2, j, "name");
    stringMember(b, 3, j, "in");
    boolMember(b, 4, j, "required");
    objectMember(b, 5, j, "schema", schema);
    extensions(b, 6, j);
    m.messageField(1, b);
    return m;
  }
  // NonBodyParameter: oneof { header = 1; form_data = 2; query = 3; path = 4 }. Query and
  // formData have allow_empty_value at 5 and the primitive fields after it; header and path
  // start the primitive fields at 5.
  uint32_t which = in == "header" ? 1 : in == "formData" ? 2 : in == "path" ? 4 : 3;
  bool allowEmpty = which == 2 || which == 3;
  Message p;
  boolMember(p, 1, j, "required");
  stringMember(p, 2, j, "in");
  stringMember(p, 3, j, "description");
  stringMember(p, 4, j, "name");
  if (allowEmpty) boolMember(p, 5, j, "allowEmptyValue");
  uint32_t base = allowEmpty ? 5 : 4;
  primitiveFields(p, j, base);
  extensions(p, base + 18, j);
  Message nonBody;
  nonBody.messageField(which, p);
  m.messageField(2, nonBody);
  return m;
}

// JsonReference { string _ref = 1; string description = 2; }
Message jsonReference(const Json& j) {
  Message m;
  stringMember(m, 1, j, "$ref");
  stringMember(m, 2, j, "description");
  return m;
}

// ParametersItem: oneof { Parameter parameter = 1; JsonReference json_reference = 2; }
void parametersMember(Message& m, uint32_t field, const Json& j) {
  const Json* ps = findMember(j, "parameters");
  if (ps == nullptr || !ps->is_array()) return;
  for (const auto& p : *ps) {
    if (!p.is_object()) continue;
    Message item;
    if (p.contains("$ref")) {
      item.messageField(2, jsonReference(p));
    } else {
      item.messageField(1, parameter(p));
    }
    m.messageField(field, item);
  }
}

Message response(const Json& j) {
  Message m;
  stringMember(m, 1, j, "description");
  if (const Json* s = findMember(j, "schema"); s != nullptr && s->is_object()) {
    // SchemaItem: oneof { Schema schema = 1; FileSchema file_schema = 2; }
    Message item;
    if (str(*s, "type") == "file") {
      Message f;
      stringMember(f, 1, *s, "format");
      stringMember(f, 2, *s, "title");
      stringMember(f, 3, *s, "description");
      anyMember(f, 4, *s, "default");
      stringsMember(f, 5, *s, "required");
      stringMember(f, 6, *s, "type");
      boolMember(f, 7, *s, "readOnly");
      objectMember(f, 8, *s, "externalDocs", externalDocs);
      anyMember(f, 9, *s, "example");
      extensions(f, 10, *s);
      item.messageField(2, f);
    } else {
      item.messageField(1, schema(*s));
    }
    m.messageField(2, item);
  }
  objectMember(m, 3, j, "headers", [](const Json& hs) {
    Message h;
    for (const auto& [name, v] : hs.items()) {
      if (!v.is_object()) continue;
      Message named;
      named.stringField(1, name, true);
      named.messageField(2, header(v));
      h.messageField(1, named);
    }
    return h;
  });
  objectMember(m, 4, j, "examples", [](const Json& ex) {
    Message e;
    for (const auto& [name, v] : ex.items()) {
      Message named;
      named.stringField(1, name, true);
      named.messageField(2, anyMessage(v));
      e.messageField(1, named);
    }
    return e;
  });
  extensions(m, 5, j);
  return m;
}

Message responses(const Json& j) {
  Message m;
  for (const auto& [code, v] : j.items()) {
    if (isExtension(code) || !v.is_object()) continue;
    // ResponseValue: oneof { Response response = 1; JsonReference json_reference = 2; }
    Message value;
    if (v.contains("$ref")) {
      value.messageField(2, jsonReference(v));
    } else {
      value.messageField(1, response(v));
    }
    Message named;
    named.stringField(1, code, true);
    named.messageField(2, value);
    m.messageField(1, named);
  }
  extensions(m, 2, j);
  return m;
}

// SecurityRequirement: repeated NamedStringArray { name = 1; StringArray { repeated value = 1 } = 2
// }
void securityMember(Message& m, uint32_t field, const Json& j) {
  const Json* reqs = findMember(j, "security");
  if (reqs == nullptr || !reqs->is_array()) return;
  for (const auto& req : *reqs) {
    if (!req.is_object()) continue;
    Message r;
    for (const auto& [name, scopes] : req.items()) {
      Message values;
      if (scopes.is_array())
        for (const auto& s : scopes)
          if (s.is_string()) values.stringField(1, s.get<std::string>(), true);
      Message named;
      named.stringField(1, name, true);
      named.messageField(2, values);
      r.messageField(1, named);
    }
    m.messageField(field, r);
  }
}

Message operation(const Json& j) {
  Message m;
  stringsMember(m, 1, j, "tags");
  stringMember(m, 2, j, "summary");
  stringMember(m, 3, j, "description");
  objectMember(m, 4, j, "externalDocs", externalDocs);
  stringMember(m, 5, j, "operationId");
  stringsMember(m, 6, j, "produces");
  stringsMember(m, 7, j, "consumes");
  parametersMember(m, 8, j);
  objectMember(m, 9, j, "responses", responses);
  stringsMember(m, 10, j, "schemes");
  boolMember(m, 11, j, "deprecated");
  securityMember(m, 12, j);
  extensions(m, 13, j);
  return m;
}

Message pathItem(const Json& j) {
  Message m;
  stringMember(m, 1, j, "$ref");
  objectMember(m, 2, j, "get", operation);
  objectMember(m, 3, j, "put", operation);
  objectMember(m, 4, j, "post", operation);
  objectMember(m, 5, j, "delete", operation);
  objectMember(m, 6, j, "options", operation);
  objectMember(m, 7, j, "head", operation);
  objectMember(m, 8, j, "patch", operation);
  parametersMember(m, 9, j);
  extensions(m, 10, j);
  return m;
}

Message paths(const Json& j) {
  Message m;
  extensions(m, 1, j);
  for (const auto& [path, item] : j.items()) {
    if (isExtension(path) || !item.is_object()) continue;
    Message named;
    named.stringField(1, path, true);
    named.messageField(2, pathItem(item));
    m.messageField(2, named);
  }
  return m;
}

// A map of name -> T as repeated Named<T> { name = 1; value = 2 } in field 1.
template <typename F>
Message namedMap(const Json& j, F encode) {
  Message m;
  for (const auto& [name, v] : j.items()) {
    if (!v.is_object()) continue;
    Message named;
    named.stringField(1, name, true);
    named.messageField(2, encode(v));
    m.messageField(1, named);
  }
  return m;
}

// SecurityDefinitionsItem: oneof { basic = 1; api_key = 2; oauth2 implicit = 3; password = 4;
// application = 5; access_code = 6 }.
Message securityDefinition(const Json& j) {
  Message item;
  std::string type = str(j, "type");
  Message d;
  if (type == "basic") {
    stringMember(d, 1, j, "type");
    stringMember(d, 2, j, "description");
    extensions(d, 3, j);
    item.messageField(1, d);
  } else if (type == "apiKey") {
    stringMember(d, 1, j, "type");
    stringMember(d, 2, j, "name");
    stringMember(d, 3, j, "in");
    stringMember(d, 4, j, "description");
    extensions(d, 5, j);
    item.messageField(2, d);
  } else if (type == "oauth2") {
    std::string flow = str(j, "flow");
    stringMember(d, 1, j, "type");
    stringMember(d, 2, j, "flow");
    objectMember(d, 3, j, "scopes", [](const Json& scopes) {
      Message s;
      for (const auto& [name, v] : scopes.items()) {
        if (!v.is_string()) continue;
        Message named;
        named.stringField(1, name, true);
        named.stringField(2, v.get<std::string>());
        s.messageField(1, named);
      }
      return s;
    });
    uint32_t next = 4;
    if (flow == "implicit" || flow == "accessCode") stringMember(d, next++, j, "authorizationUrl");
    if (flow != "implicit") stringMember(d, next++, j, "tokenUrl");
    stringMember(d, next++, j, "description");
    extensions(d, next, j);
    uint32_t which = flow == "implicit"      ? 3
                     : flow == "password"    ? 4
                     : flow == "application" ? 5
                                             : 6;
    item.messageField(which, d);
  }
  return item;
}

Message info(const Json& j) {
  Message m;
  stringMember(m, 1, j, "title");
  stringMember(m, 2, j, "version");
  stringMember(m, 3, j, "description");
  stringMember(m, 4, j, "termsOfService");
  objectMember(m, 5, j, "contact", [](const Json& c) {
    Message cm;
    stringMember(cm, 1, c, "name");
    stringMember(cm, 2, c, "url");
    stringMember(cm, 3, c, "email");
    extensions(cm, 4, c);
    return cm;
  });
  objectMember(m, 6, j, "license", [](const Json& l) {
    Message lm;
    stringMember(lm, 1, l, "name");
    stringMember(lm, 2, l, "url");
    extensions(lm, 3, l);
    return lm;
  });
  extensions(m, 7, j);
  return m;
}

}  // namespace

std::string encodeProtobuf(const Json& document) {
  Message m;
  if (!document.is_object()) return m.take();
  const Json& d = document;
  stringMember(m, 1, d, "swagger");
  objectMember(m, 2, d, "info", info);
  stringMember(m, 3, d, "host");
  stringMember(m, 4, d, "basePath");
  stringsMember(m, 5, d, "schemes");
  stringsMember(m, 6, d, "consumes");
  stringsMember(m, 7, d, "produces");
  objectMember(m, 8, d, "paths", paths);
  objectMember(m, 9, d, "definitions", [](const Json& defs) { return namedMap(defs, schema); });
  objectMember(m, 10, d, "parameters", [](const Json& ps) { return namedMap(ps, parameter); });
  objectMember(m, 11, d, "responses", [](const Json& rs) { return namedMap(rs, response); });
  securityMember(m, 12, d);
  objectMember(m, 13, d, "securityDefinitions",
               [](const Json& sd) { return namedMap(sd, securityDefinition); });
  if (const Json* tags = findMember(d, "tags"); tags != nullptr && tags->is_array()) {
    for (const auto& t : *tags) {
      if (!t.is_object()) continue;
      Message tm;
      stringMember(tm, 1, t, "name");
      stringMember(tm, 2, t, "description");
      objectMember(tm, 3, t, "externalDocs", externalDocs);
      extensions(tm, 4, t);
      m.messageField(14, tm);
    }
  }
  objectMember(m, 15, d, "externalDocs", externalDocs);
  extensions(m, 16, d);
  return m.take();
}

}  // namespace nave::openapiv2
