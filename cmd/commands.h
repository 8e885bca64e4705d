// The subcommands of the nave binary. Each takes its arguments (after the subcommand's name)
// and returns the process exit status. Flags are parsed here and nowhere else.
#pragma once

#include <string>
#include <vector>

#include "server/config.h"

namespace nave::cmd {

int serverCommand(const std::vector<std::string>& args);
int kubectlCommand(const std::vector<std::string>& args);
int versionCommand(const std::vector<std::string>& args);
int imagesCmd(const std::vector<std::string>& args);
int runCmd(const std::vector<std::string>& args);
int psCmd(const std::vector<std::string>& args);
int logsCmd(const std::vector<std::string>& args);
int execCmd(const std::vector<std::string>& args);
int rmCmd(const std::vector<std::string>& args);
int shimCmd(const std::vector<std::string>& args);

// Fills config.controllers and config.schedulers with everything the server runs under the
// kube-controller-manager and kube-scheduler Leases (cmd/controllers.cc).
void addControllers(ServerConfig& config);

// Exit status for usage errors (unknown or malformed flags), as Go's flag package uses.
constexpr int kUsageError = 2;

}  // namespace nave::cmd
