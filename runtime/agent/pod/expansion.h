// $(VAR) expansion as Kubernetes' forked expansion package (third_party/forked/golang/
// expansion): "$(NAME)" is replaced by mapping(NAME), "$$" is an escaped "$", anything else
// (a bare "$", "${X}", an unterminated "$(") stays as written. Internal to runtime/agent/pod.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace nave::agent {

using ExpansionMapping = std::function<std::string(const std::string& name)>;

std::string expandVariables(std::string_view input, const ExpansionMapping& mapping);

// The mapping Kubernetes builds from variable sets: the first set holding the name wins; an
// unknown name maps to "$(NAME)", i.e. stays as written.
ExpansionMapping mappingFor(std::vector<const std::map<std::string, std::string>*> contexts);

// "NAME=value" entries as a map (the last entry of a name wins; entries without '=' are
// skipped).
std::map<std::string, std::string> envToMap(const std::vector<std::string>& env);

}  // namespace nave::agent
