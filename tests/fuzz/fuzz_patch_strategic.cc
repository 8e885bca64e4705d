// Fuzzes strategic merge patch against a small fixed schema with every kind of patch field
// (merge lists by key, sets of scalars, replaced lists, maps, retainKeys, replace strategy,
// free-form values). The input is a document and a patch, both JSON, separated by the first
// newline. Any input yields a result or an error; a result must serialise and read back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/json.h"
#include "server/patch/patch.h"
#include "server/schema/schema.h"

namespace {

constexpr std::string_view kSchema = R"(
package fuzz.v1
type Item
  name string
  value string
  mergingList []Item merge=name strategy=merge
  nonMergingList []Item
  mergingIntList []int64 strategy=merge
  nonMergingIntList []int64
  nested Item
  simpleMap map[string]
  itemMap map[Item]
  replacingItem any strategy=replace
  retainKeysMap Item strategy=retainKeys
  retainKeysMergingList []Item merge=name strategy=merge,retainKeys
  ports []Port merge=containerPort strategy=merge
  named NamedList
  free any
type Port
  containerPort int32
  protocol string
type NamedList = []Item merge=value strategy=merge
)";

const nave::schema::SchemaSet& schemas() {
  static const nave::schema::SchemaSet* set = [] {
    auto* s = new nave::schema::SchemaSet();
    if (!s->addSource(kSchema, "fuzz").ok() || !s->validate().ok()) std::abort();
    return s;
  }();
  return *set;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  size_t nl = text.find('\n');
  if (nl == std::string_view::npos) return 0;
  auto doc = nave::parseJson(text.substr(0, nl));
  auto patch = nave::parseJson(text.substr(nl + 1));
  if (!doc.ok() || !patch.ok()) return 0;
  const nave::schema::Node* item = schemas().find("fuzz.v1.Item");
  auto r = nave::patch::applyStrategicMergePatch(doc->value, patch->value, schemas(), *item);
  if (r.ok() && !nave::parseJson(nave::dumpJson(*r)).ok()) std::abort();
  return 0;
}
