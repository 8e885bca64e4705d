// Fuzzes JSON Patch and JSON Merge Patch. The input is a document and a patch, both JSON,
// separated by the first newline. Any input yields a result or an error; a result must
// serialise and read back through the hardened decoder (so it is not nested too deeply).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/json.h"
#include "server/patch/patch.h"

namespace {

void checkReadsBack(const nave::Json& v) {
  if (!nave::parseJson(nave::dumpJson(v)).ok()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  size_t nl = text.find('\n');
  if (nl == std::string_view::npos) return 0;
  auto doc = nave::parseJson(text.substr(0, nl));
  auto patch = nave::parseJson(text.substr(nl + 1));
  if (!doc.ok() || !patch.ok()) return 0;
  if (auto r = nave::patch::applyJsonPatch(doc->value, patch->value); r.ok()) checkReadsBack(*r);
  if (auto r = nave::patch::applyMergePatch(doc->value, patch->value); r.ok()) checkReadsBack(*r);
  return 0;
}
