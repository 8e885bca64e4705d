#include "server/api/tables.h"

#include "server/api/resource_api.h"

namespace nave::api {

Json partialMetadata(const registry::ResourceType& type, const Json& object,
                     const std::string& version) {
  return {{"kind", "PartialObjectMetadata"},
          {"apiVersion", "meta.k8s.io/" + version},
          {"metadata", object.value("metadata", Json::object())}};
}


Json renderTable(const registry::ResourceType& type, const std::vector<const Json*>& objects,
                 IncludeObject include, const Json& listMeta, bool headers,
                 const std::string& tableVersion) {
  const printers::TablePrinter* printer = type.ownedPrinter ? type.ownedPrinter.get() : type.printer;
  if (printer == nullptr) printer = &printers::defaultPrinter();
  Json table = {{"kind", "Table"}, {"apiVersion", "meta.k8s.io/" + tableVersion}, {"metadata", listMeta}};
  Json columns = Json::array();
  if (headers) {
    for (const printers::Column& c : printer->columns)
      columns.push_back({{"name", c.name},
                         {"type", c.type},
                         {"format", c.format},
                         {"description", c.description},
                         {"priority", c.priority}});
  }
  table["columnDefinitions"] = headers ? columns : Json(nullptr);
  printers::PrintContext ctx{std::chrono::system_clock::now()};
  Json rows = Json::array();
  for (const Json* o : objects) {
    Json row = {{"cells", printer->row(*o, ctx)}};
    if (include == IncludeObject::kMetadata) {
      row["object"] = partialMetadata(type, *o, tableVersion);
    } else if (include == IncludeObject::kObject) {
      row["object"] = ResourceApi::toServed(type, *o);
    }
    rows.push_back(std::move(row));
  }
  table["rows"] = std::move(rows);
  return table;
}

}  // namespace nave::api
