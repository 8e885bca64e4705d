// Fuzzes field selector parsing: any input yields a selector or an error, and a parsed
// selector's text parses again to as many requirements; after that one normalisation ("=="
// becomes "=", which can change the sorted order) the text is a fixed point.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/selectors/selectors.h"

using nave::selectors::FieldSelector;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto s = FieldSelector::parse(text);
  if (!s.ok()) return 0;
  auto again = FieldSelector::parse(s->toString());
  if (!again.ok() || again->requirements().size() != s->requirements().size()) std::abort();
  std::string canonical = again->toString();
  auto third = FieldSelector::parse(canonical);
  if (!third.ok() || third->toString() != canonical) std::abort();
  (void)s->matches([](std::string_view f) -> std::optional<std::string> {
    if (f == "metadata.name") return "web";
    return std::nullopt;
  });
  for (const auto& r : s->requirements()) (void)s->exactValue(r.field);
  return 0;
}
