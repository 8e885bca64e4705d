// Table printers: the columns `kubectl get` shows for each built-in type, computed on the
// server (Accept: application/json;as=Table;g=meta.k8s.io;v=v1), as Kubernetes'
// pkg/printers/internalversion does.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/time.h"

namespace nave::printers {

struct Column {
  std::string name;         // "NAME" is printed from "Name"; kubectl upper-cases
  std::string type;         // "string", "integer", "number", "boolean", "date"
  std::string format;       // "name" for the name column, else usually ""
  std::string description;
  int priority = 0;         // 0: always shown; 1: only with -o wide
};

struct PrintContext {
  WallTime now;
};

struct TablePrinter {
  std::vector<Column> columns;
  // The cells of one object's row, one per column (strings, integers, numbers, booleans).
  std::function<std::vector<Json>(const Json& object, const PrintContext& context)> row;
};

// The printer for a built-in type, keyed by API group ("" for core) and kind, or nullptr when
// the type has no special printer (the API server then prints NAME and AGE).
const TablePrinter* findPrinter(std::string_view group, std::string_view kind);

// Kubernetes' default table for built-in types without a printer of their own: NAME and
// CREATED AT (type "date", the creation time in RFC 3339 UTC). Role, ClusterRole, LimitRange
// and CustomResourceDefinition print this way, and findPrinter returns it for them.
const TablePrinter& defaultPrinter();

// "5m", "3h2m", "<unknown>" for a missing timestamp: the AGE cell.
std::string age(const Json& timestamp, const PrintContext& context);

}  // namespace nave::printers
