#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cmd/commands.h"

namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>& args);
};

constexpr Command kCommands[] = {
    {"server", "Run a Kubernetes server (API, store, controllers)", nave::cmd::serverCommand},
    {"agent", "Run a node agent that joins a nave server", nave::cmd::agentCommand},
    {"kubectl", "Run kubectl against this server's kubeconfig", nave::cmd::kubectlCommand},
    {"images", "Manage images (import, pull, ls, rm, inspect, gc)", nave::cmd::imagesCmd},
    {"run", "Run a command in a new container", nave::cmd::runCmd},
    {"ps", "List containers", nave::cmd::psCmd},
    {"logs", "Print a container's logs", nave::cmd::logsCmd},
    {"exec", "Run a command in a running container", nave::cmd::execCmd},
    {"rm", "Remove containers", nave::cmd::rmCmd},
    {"uninstall", "Remove the containers, network setup and data of a stopped node", nave::cmd::uninstallCommand},
    {"version", "Print the version", nave::cmd::versionCommand},
};

void usage(FILE* out) {
  std::fprintf(out,
               "nave: Kubernetes in one executable.\n\n"
               "Usage:\n  nave COMMAND [flags] [arguments]\n\nCommands:\n");
  for (const Command& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
  std::fprintf(out, "  %-10s %s\n", "help", "Show this help");
  std::fprintf(out, "\nRun 'nave COMMAND --help' for a command's flags.\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    usage(stdout);
    return args.empty() ? nave::cmd::kUsageError : 0;
  }
  if (args[0] == "--version" || args[0] == "-v") return nave::cmd::versionCommand({});
  // The per-container supervisor; not listed in the help.
  if (args[0] == "shim") return nave::cmd::shimCmd(std::vector<std::string>(args.begin() + 1, args.end()));
  for (const Command& c : kCommands) {
    if (args[0] == c.name) return c.run(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  std::fprintf(stderr, "nave: unknown command \"%s\"\n\n", args[0].c_str());
  usage(stderr);
  return nave::cmd::kUsageError;
}
