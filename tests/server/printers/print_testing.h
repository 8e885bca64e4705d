// Shared helpers for the printer tests: a fixed clock, JSON literals and row printing.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/json.h"
#include "common/time.h"
#include "server/printers/printers.h"

namespace nave::printers::testing {

// Every test prints as of this instant.
inline PrintContext context() { return {*parseRfc3339("2025-01-10T12:00:00Z")}; }

inline Json json(std::string_view text) {
  auto parsed = parseJson(text);
  EXPECT_TRUE(parsed.ok()) << text;
  return parsed.ok() ? parsed->value : Json();
}

// The printer's row for `object`, checked to have one cell per column.
inline Json row(std::string_view group, std::string_view kind, const Json& object) {
  const TablePrinter* printer = findPrinter(group, kind);
  EXPECT_NE(printer, nullptr) << group << "/" << kind;
  if (printer == nullptr) return Json();
  std::vector<Json> cells = printer->row(object, context());
  EXPECT_EQ(cells.size(), printer->columns.size()) << group << "/" << kind;
  return Json(cells);
}

// "Name", "IP*" (a -o wide column), ...; the name column also carries format "name".
inline std::vector<std::string> columns(std::string_view group, std::string_view kind) {
  std::vector<std::string> out;
  const TablePrinter* printer = findPrinter(group, kind);
  EXPECT_NE(printer, nullptr) << group << "/" << kind;
  if (printer == nullptr) return out;
  for (const Column& c : printer->columns) {
    EXPECT_FALSE(c.description.empty()) << c.name;
    out.push_back(c.name + (c.priority == 1 ? "*" : ""));
  }
  return out;
}

inline std::vector<std::string> types(std::string_view group, std::string_view kind) {
  std::vector<std::string> out;
  if (const TablePrinter* printer = findPrinter(group, kind)) {
    for (const Column& c : printer->columns) out.push_back(c.type);
  }
  return out;
}

}  // namespace nave::printers::testing
