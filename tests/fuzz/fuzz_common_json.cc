// Fuzzes the hardened JSON decoder and the YAML decoder: any input must yield a value or an
// error, never a crash, and a decoded value must serialise.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/json.h"
#include "common/yaml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto j = nave::parseJson(text); j.ok()) {
    std::string out = nave::dumpJson(j->value);
    (void)nave::dumpYaml(j->value);
    (void)out;
  }
  if (auto y = nave::parseYamlDocuments(text); y.ok()) {
    for (const auto& doc : *y) (void)nave::dumpJson(doc);
  }
  return 0;
}
