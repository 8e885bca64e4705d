// Fuzzes label selector parsing: any input yields a selector or an error; a parsed selector's
// canonical text parses again to the same text and matching never fails. JSON input is also
// tried as a metav1.LabelSelector object, whose text form must parse.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/json.h"
#include "server/selectors/selectors.h"

using nave::selectors::LabelSelector;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  nave::Json labels = {{"app", "web"}, {"tier", "1"}, {"x", ""}};
  if (auto s = LabelSelector::parse(text); s.ok()) {
    std::string canonical = s->toString();
    auto again = LabelSelector::parse(canonical);
    if (!again.ok() || again->toString() != canonical) std::abort();
    (void)s->matches(labels);
    (void)s->matches(nullptr);
  }
  if (auto j = nave::parseJson(text); j.ok()) {
    if (auto s = LabelSelector::fromObject(j->value); s.ok()) {
      // Objects may repeat values, which the text form folds: only require that it parses.
      if (!LabelSelector::parse(s->toString()).ok()) std::abort();
      (void)s->matches(labels);
    }
  }
  return 0;
}
