#include "server/crd/printer.h"

#include "common/time.h"
#include "server/crd/internal.h"
#include "server/crd/jsonpath.h"

namespace nave::crd {
namespace {

constexpr const char* kNameDescription =
    "Name must be unique within a namespace. It is required when creating resources, although "
    "some resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
constexpr const char* kCreationTimestampDescription =
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
    "UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/"
    "api-conventions.md#metadata";

struct PrinterColumn {
  std::string type;
  JsonPath path;
};

Json cell(const PrinterColumn& column, const Json& object, const printers::PrintContext& ctx) {
  std::vector<const Json*> found = column.path.find(object);
  if (found.empty() || found.front()->is_null()) return nullptr;
  const Json& v = *found.front();
  const std::string& type = column.type;
  if (type == "string") return columnText(v);
  if (type == "integer") {
    if (v.is_number_integer()) return v;
    if (v.is_number_float()) return static_cast<int64_t>(v.get<double>());
    return nullptr;
  }
  if (type == "number") {
    if (v.is_number()) return v.get<double>();
    return nullptr;
  }
  if (type == "boolean") return v.is_boolean() ? v : Json(nullptr);
  if (type == "date") {
    if (!v.is_string()) return nullptr;
    const std::string& s = v.get_ref<const std::string&>();
    if (s.empty()) return "<unknown>";
    if (!parseRfc3339(s)) return "<invalid>";
    return printers::age(v, ctx);
  }
  return nullptr;
}

}  // namespace

std::string columnText(const Json& value) {
  if (value.is_object() || value.is_array()) return dumpJson(value);
  return detail::goValue(value);
}

Result<std::shared_ptr<const printers::TablePrinter>> printerForColumns(const Json& columns) {
  Json defs = columns;
  if (!defs.is_array() || defs.empty()) {
    defs = Json::array({{{"name", "Age"},
                         {"type", "date"},
                         {"description", kCreationTimestampDescription},
                         {"jsonPath", ".metadata.creationTimestamp"}}});
  }
  auto printer = std::make_shared<printers::TablePrinter>();
  printer->columns.push_back({"Name", "string", "name", kNameDescription, 0});
  std::vector<PrinterColumn> parsed;
  for (const Json& c : defs) {
    std::string jsonPath = getString(c, "jsonPath");
    auto path = JsonPath::parse(jsonPath);
    if (!path.ok()) return std::move(path).error();
    std::string description = getString(c, "description");
    if (description.empty())
      description = "Custom resource definition column (in JSONPath format): " + jsonPath;
    printer->columns.push_back({getString(c, "name"), getString(c, "type"), getString(c, "format"),
                                description, static_cast<int>(getInt(c, "priority", 0))});
    parsed.push_back({getString(c, "type"), std::move(*path)});
  }
  printer->row = [parsed = std::move(parsed)](const Json& object,
                                              const printers::PrintContext& ctx) {
    std::vector<Json> cells;
    cells.reserve(parsed.size() + 1);
    const Json* meta = findMember(object, "metadata");
    cells.push_back(meta ? getString(*meta, "name") : "");
    for (const PrinterColumn& column : parsed) cells.push_back(cell(column, object, ctx));
    return cells;
  };
  return std::shared_ptr<const printers::TablePrinter>(std::move(printer));
}

}  // namespace nave::crd
