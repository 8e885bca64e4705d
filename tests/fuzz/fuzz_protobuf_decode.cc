// Fuzzes the protobuf request body decoder against the built-in schemas. Any input yields an
// object or an error, never a crash; an object must serialise and read back through the
// hardened JSON decoder (valid UTF-8, nested no deeper than a JSON body may be) and carry the
// envelope's apiVersion and kind.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/json.h"
#include "server/protobuf/protobuf.h"
#include "server/schema/schema.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nave::schema::SchemaSet& schemas = nave::schema::builtinSchemas();
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto r = nave::protobuf::decodeObject(body, schemas);
  if (!r.ok()) {
    if (!r.error().message().starts_with("failed to decode protobuf: ")) std::abort();
    return 0;
  }
  const nave::Json& obj = r->object;
  if (!obj.is_object() || obj.value("apiVersion", "") != r->apiVersion ||
      obj.value("kind", "") != r->kind)
    std::abort();
  auto back = nave::parseJson(nave::dumpJson(obj));
  if (!back.ok() || back->value != obj) std::abort();
  return 0;
}
