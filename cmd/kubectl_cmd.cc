#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cmd/commands.h"
#include "server/config.h"

namespace nave::cmd {

// Runs the kubectl on PATH with this server's kubeconfig, as `k3s kubectl` does: KUBECONFIG
// from the environment wins, else the server's default --write-kubeconfig path.
int kubectlCommand(const std::vector<std::string>& args) {
  if (std::getenv("KUBECONFIG") == nullptr) {
    ServerConfig defaults;
    setenv("KUBECONFIG", defaults.writeKubeconfig.c_str(), 1);
  }
  std::vector<char*> argv;
  std::string name = "kubectl";
  argv.push_back(name.data());
  std::vector<std::string> copy = args;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  execvp("kubectl", argv.data());
  std::fprintf(stderr, "nave kubectl: cannot run kubectl: %s\n", std::strerror(errno));
  return errno == ENOENT ? 127 : 126;
}

}  // namespace nave::cmd
