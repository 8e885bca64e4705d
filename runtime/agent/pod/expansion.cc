#include "runtime/agent/pod/expansion.h"

#include "runtime/agent/pod/pod_spec.h"

namespace nave::agent {
namespace {

struct Read {
  std::string_view text;  // the variable name, or the text to copy
  bool isVariable;
  size_t advance;  // bytes consumed after the '$'
};

// `rest` follows a '$' and is not empty.
Read readVariableName(std::string_view rest) {
  switch (rest[0]) {
    case '$':  // "$$": an escaped operator
      return {rest.substr(0, 1), false, 1};
    case '(': {
      size_t close = rest.find(')', 1);
      if (close != std::string_view::npos) return {rest.substr(1, close - 1), true, close + 1};
      return {"$(", false, 1};  // unterminated: copied, and scanning resumes after the '('
    }
    default:
      return {{}, false, 0};  // a '$' that begins nothing: copied with what follows
  }
}

}  // namespace

std::string expandVariables(std::string_view input, const ExpansionMapping& mapping) {
  std::string out;
  out.reserve(input.size());
  size_t checkpoint = 0;
  for (size_t cursor = 0; cursor < input.size(); ++cursor) {
    if (input[cursor] != '$' || cursor + 1 >= input.size()) continue;
    Read read = readVariableName(input.substr(cursor + 1));
    if (read.advance == 0) continue;  // left in place; copied with the next chunk
    out.append(input.substr(checkpoint, cursor - checkpoint));
    if (read.isVariable) {
      out += mapping(std::string(read.text));
    } else {
      out.append(read.text);
    }
    cursor += read.advance;
    checkpoint = cursor + 1;
  }
  out.append(input.substr(checkpoint));
  return out;
}

ExpansionMapping mappingFor(std::vector<const std::map<std::string, std::string>*> contexts) {
  return [contexts = std::move(contexts)](const std::string& name) {
    for (const auto* vars : contexts) {
      auto it = vars->find(name);
      if (it != vars->end()) return it->second;
    }
    return "$(" + name + ")";
  };
}

std::map<std::string, std::string> envToMap(const std::vector<std::string>& env) {
  std::map<std::string, std::string> out;
  for (const std::string& entry : env) {
    size_t eq = entry.find('=');
    if (eq == std::string::npos) continue;
    out[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return out;
}

std::vector<std::string> expandReferences(const std::vector<std::string>& args,
                                          const std::vector<std::string>& env) {
  std::map<std::string, std::string> vars = envToMap(env);
  ExpansionMapping mapping = mappingFor({&vars});
  std::vector<std::string> out;
  out.reserve(args.size());
  for (const std::string& arg : args) out.push_back(expandVariables(arg, mapping));
  return out;
}

}  // namespace nave::agent
