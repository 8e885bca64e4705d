// YAML <-> JSON, for request bodies, the config file and YAML output.
// Parsing uses libyaml's event parser (no recursion on the input's nesting) with bounds on depth
// and on alias expansion, so hostile documents cannot exhaust the stack or memory.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/result.h"

namespace nave {

struct YamlParseOptions {
  size_t maxDepth = 256;
  // Nodes produced by alias expansion, in total, per call (billion-laughs guard).
  size_t maxAliasNodes = 100000;
};

// All documents of a YAML stream (empty documents are skipped). kBadRequest on syntax errors.
Result<std::vector<Json>> parseYamlDocuments(std::string_view text,
                                             const YamlParseOptions& options = {});
// Exactly one document (an empty stream yields null).
Result<Json> parseYaml(std::string_view text, const YamlParseOptions& options = {});

// Block-style YAML as kubectl prints it (two-space indent, "- " lists at the parent's level).
std::string dumpYaml(const Json& value);

}  // namespace nave
