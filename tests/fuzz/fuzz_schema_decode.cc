// Fuzzes the request body path of the API server: decoding (JSON or YAML), then the schema
// walk that finds unknown fields, type errors and prunes, for a few built-in kinds. Any input
// must end in a value or an error, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/json.h"
#include "common/yaml.h"
#include "server/schema/field_check.h"
#include "server/schema/schema.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const nave::schema::SchemaSet& set = nave::schema::builtinSchemas();
  static const nave::schema::Node* kinds[] = {
      set.findKind({"", "v1", "Pod"}), set.findKind({"apps", "v1", "Deployment"}),
      set.findKind({"", "v1", "ConfigMap"}), set.findKind({"apiextensions.k8s.io", "v1", "CustomResourceDefinition"})};
  const nave::schema::Node* kind = kinds[data[0] % 4];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  nave::Json doc;
  if (auto j = nave::parseJson(text); j.ok()) {
    doc = std::move(j->value);
  } else if (auto y = nave::parseYaml(text); y.ok()) {
    doc = std::move(*y);
  } else {
    return 0;
  }
  if (kind != nullptr) {
    auto r = nave::schema::checkAndPruneFields(doc, &set, *kind);
    (void)r;
    (void)nave::dumpJson(doc);
  }
  return 0;
}
