// The server-side table of a custom resource version (apiextensions' tableconvertor): a Name
// column, then the version's additionalPrinterColumns, or an Age column when it declares none.
//
// Cells follow the column type: "integer" and "number" cells are numbers, "boolean" booleans,
// "date" cells the age since the timestamp ("5m", "<unknown>" when empty, "<invalid>" when
// unreadable), "string" cells the value as JSONPath prints it (strings bare, numbers in Go's
// notation, objects and lists as JSON). A missing value or a value of the wrong type gives a
// null cell, which kubectl shows as "<none>".
#pragma once

#include <memory>

#include "common/json.h"
#include "common/result.h"
#include "server/printers/printers.h"

namespace nave::crd {

// `columns` is the version's additionalPrinterColumns (null or [] for none). kBadRequest when
// a column's jsonPath cannot be parsed.
Result<std::shared_ptr<const printers::TablePrinter>> printerForColumns(const Json& columns);

// How the JSONPath template of a "string" column prints a value.
std::string columnText(const Json& value);

}  // namespace nave::crd
