#include "cmd/flags.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace nave::cli {
namespace {

Error badFlag(std::string msg) { return Error(ErrorCode::kBadRequest, std::move(msg)); }

Result<int64_t> parseInteger(const std::string& v, int base) {
  if (v.empty()) return badFlag("empty number");
  errno = 0;
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, base);
  if (errno != 0 || end == nullptr || *end != '\0') return badFlag("invalid number \"" + v + "\"");
  return static_cast<int64_t>(n);
}

}  // namespace

void FlagSet::addString(std::string name, std::string* target, std::string usage) {
  std::string def = *target;
  add(Flag{std::move(name), "", FlagKind::kString, std::move(usage), def,
           [target](const std::string& v) -> Result<void> {
             *target = v;
             return {};
           }});
}

void FlagSet::addBool(std::string name, bool* target, std::string usage) {
  add(Flag{std::move(name), "", FlagKind::kBool, std::move(usage), "",
           [target](const std::string& v) -> Result<void> {
             *target = v == "true";
             return {};
           }});
}

void FlagSet::addInt(std::string name, int* target, std::string usage, std::string shorthand) {
  std::string def = std::to_string(*target);
  add(Flag{std::move(name), std::move(shorthand), FlagKind::kInt, std::move(usage), def,
           [target](const std::string& v) -> Result<void> {
             int64_t n = TRY(parseInteger(v, 10));
             if (n < INT32_MIN || n > INT32_MAX) return badFlag("value out of range");
             *target = static_cast<int>(n);
             return {};
           }});
}

void FlagSet::addStringList(std::string name, std::vector<std::string>* target,
                            std::string usage) {
  add(Flag{std::move(name), "", FlagKind::kStringList, std::move(usage), "",
           [target](const std::string& v) -> Result<void> {
             target->push_back(v);
             return {};
           }});
}

const Flag* FlagSet::find(std::string_view name) const {
  for (const Flag& f : flags_)
    if (f.name == name || (!f.shorthand.empty() && f.shorthand == name)) return &f;
  return nullptr;
}

Result<void> FlagSet::assign(const Flag& flag, const std::string& value) {
  if (flag.kind == FlagKind::kBool && value != "true" && value != "false")
    return badFlag("invalid argument \"" + value + "\" for \"--" + flag.name +
                   "\" flag: expected true or false");
  auto r = flag.set(value);
  if (!r.ok())
    return badFlag("invalid argument \"" + value + "\" for \"--" + flag.name +
                   "\" flag: " + r.error().message());
  return {};
}

Result<std::vector<std::string>> FlagSet::parse(const std::vector<std::string>& args) {
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      positional.insert(positional.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      positional.push_back(a);
      continue;
    }
    std::string body = a.substr(a[1] == '-' ? 2 : 1);
    bool isShort = a[1] != '-';
    std::string name = body, value;
    bool hasValue = false;
    if (auto eq = body.find('='); eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      hasValue = true;
    }
    const Flag* flag = find(name);
    bool matches = flag != nullptr && (isShort ? flag->shorthand == name : flag->name == name);
    if (!matches) return badFlag("unknown flag: " + a.substr(0, a.find('=')));
    if (flag->kind == FlagKind::kBool) {
      if (!hasValue) value = "true";
    } else if (!hasValue) {
      if (i + 1 >= args.size()) return badFlag("flag needs an argument: " + a);
      value = args[++i];
    }
    TRY(assign(*flag, value));
    seen_.push_back(flag->name);
  }
  return positional;
}

Result<void> FlagSet::applyConfig(const Json& config) {
  if (config.is_null()) return {};
  if (!config.is_object()) return badFlag("config file must be a YAML mapping of flag names");
  for (const auto& [key, value] : config.items()) {
    const Flag* flag = find(key);
    if (flag == nullptr || key.size() == 1) return badFlag("unknown key in config file: " + key);
    if (std::find(seen_.begin(), seen_.end(), flag->name) != seen_.end()) continue;
    std::vector<Json> values;
    if (value.is_array()) {
      if (flag->kind != FlagKind::kStringList)
        return badFlag("config key " + key + " does not take a list");
      values.assign(value.begin(), value.end());
    } else {
      values.push_back(value);
    }
    for (const Json& v : values) {
      std::string text = v.is_string() ? v.get<std::string>() : v.dump();
      TRY(assign(*flag, text));
    }
  }
  return {};
}

std::string FlagSet::help() const {
  std::string out = "Usage:\n  nave " + command_ + " [flags]\n\nFlags:\n";
  for (const Flag& f : flags_) {
    std::string left = "  ";
    left += f.shorthand.empty() ? "    " : "-" + f.shorthand + ", ";
    left += "--" + f.name;
    if (f.kind != FlagKind::kBool) left += " value";
    if (left.size() < 36) left.append(36 - left.size(), ' ');
    else left += "  ";
    out += left + f.usage;
    if (!f.defaultText.empty()) out += " (default: " + f.defaultText + ")";
    out += '\n';
  }
  return out;
}

}  // namespace nave::cli
