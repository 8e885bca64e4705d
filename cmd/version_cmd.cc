#include <cstdio>

#include "cmd/commands.h"
#include "server/version.h"

namespace nave::cmd {

int versionCommand(const std::vector<std::string>& args) {
  std::printf("nave version %s\nkubernetes %s\n", kNaveVersion, kKubernetesGitVersion);
  return 0;
}

}  // namespace nave::cmd
