// The subcommands of the nave binary. Each takes its arguments (after the subcommand's name)
// and returns the process exit status. Flags are parsed here and nowhere else.
#pragma once

#include <signal.h>

#include <string>
#include <vector>

#include "cmd/flags.h"

#include "server/config.h"

namespace nave::cmd {

int serverCommand(const std::vector<std::string>& args);
int agentCommand(const std::vector<std::string>& args);
int uninstallCommand(const std::vector<std::string>& args);
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

// Parses a long-running command's flags and its config file (--config, else
// /etc/nave/config.yaml when present); prints help for --help. Returns the exit status when
// the command should end now, -1 to go on.
int parseCommandLine(const std::string& command, const std::string& summary, cli::FlagSet& flags,
                     std::string& configFile, const std::vector<std::string>& args);
// Blocks SIGINT and SIGTERM in every thread (to be taken with sigwait), ignores SIGPIPE.
sigset_t takeTerminationSignals();

// Exit status for usage errors (unknown or malformed flags), as Go's flag package uses.
constexpr int kUsageError = 2;

}  // namespace nave::cmd
