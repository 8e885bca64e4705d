// A small table-driven flag parser with k3s' conventions: --name=value, --name value, -v N,
// boolean flags with optional =true/false, repeatable list flags, and a YAML config file whose
// keys are the flag names (flags on the command line win over the file).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/result.h"

namespace nave::cli {

enum class FlagKind { kString, kBool, kInt, kStringList, kFileMode };

struct Flag {
  std::string name;       // without dashes: "data-dir"
  std::string shorthand;  // "v", or empty
  FlagKind kind;
  std::string usage;
  std::string defaultText;  // shown in help
  // Set by the parser: receives the textual value (for kBool: "true"/"false").
  std::function<Result<void>(const std::string& value)> set;
};

class FlagSet {
 public:
  explicit FlagSet(std::string command) : command_(std::move(command)) {}

  void add(Flag flag) { flags_.push_back(std::move(flag)); }
  void addString(std::string name, std::string* target, std::string usage);
  void addBool(std::string name, bool* target, std::string usage);
  void addInt(std::string name, int* target, std::string usage, std::string shorthand = "");
  void addStringList(std::string name, std::vector<std::string>* target, std::string usage);

  // Parses argv; positional arguments are returned. kBadRequest with a message naming the flag
  // for unknown flags, missing values and malformed values.
  Result<std::vector<std::string>> parse(const std::vector<std::string>& args);
  // Applies a config file's top-level keys as if given as flags, skipping the flags `parse`
  // saw on the command line. Unknown keys are errors.
  Result<void> applyConfig(const Json& config);

  std::string help() const;
  const std::vector<std::string>& seen() const { return seen_; }

 private:
  const Flag* find(std::string_view name) const;
  Result<void> assign(const Flag& flag, const std::string& value);

  std::string command_;
  std::vector<Flag> flags_;
  std::vector<std::string> seen_;
};

}  // namespace nave::cli
