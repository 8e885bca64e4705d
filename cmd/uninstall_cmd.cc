// `nave uninstall`: what k3s-killall.sh and k3s-uninstall.sh do, for a node whose nave server
// or agent has been stopped. Run in the node's network namespace:
//   - every container and pod sandbox under DATA is killed and removed (shims, cgroups,
//     overlays);
//   - the network parts are taken down: every nftables table named `nave` or `nave-*` (the
//     service proxy, the pod network's NAT, network policy), the pod bridge nave0 and the vxlan
//     device flannel.1, and the routes nave's host-gw backend installed (protocol 78);
//   - every mount under DATA is detached and DATA is removed (kept with --keep-data).
// Nothing else is touched: tables, links and routes of other programs stay.
#include <sys/mount.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cmd/commands.h"
#include "common/log.h"
#include "network/flannel/backend.h"
#include "network/netlink/rtnl.h"
#include "network/nftables/nft_socket.h"
#include "runtime/runtime.h"

namespace nave::cmd {
namespace {

int removeContainers(const std::string& dataDir) {
  if (!std::filesystem::exists(dataDir + "/agent")) return 0;
  runtime::NodeRuntimeOptions o;
  o.dataDir = dataDir;
  auto rt = runtime::NodeRuntime::open(o);
  if (!rt.ok()) {
    log::error("opening the container runtime failed", {{"error", rt.error().message()}});
    return 1;
  }
  int failures = 0;
  runtime::ContainerRuntime& containers = (*rt)->containers();
  for (const auto& c : containers.list()) {
    if (auto r = (*rt)->removeContainer(c.id, true); !r.ok()) {
      log::error("removing a container failed", {{"id", c.id}, {"error", r.error().message()}});
      ++failures;
    }
  }
  for (const auto& s : containers.listSandboxes()) {
    if (auto r = containers.removeSandbox(s.id); !r.ok()) {
      log::error("removing a pod sandbox failed", {{"id", s.id}, {"error", r.error().message()}});
      ++failures;
    }
  }
  return failures;
}

int removeNetwork() {
  namespace nft = network::nft;
  int failures = 0;
  auto sock = nft::NftSocket::open();
  if (!sock.ok()) {
    log::error("opening nftables failed", {{"error", sock.error().message()}});
    return 1;
  }
  for (nft::Family family : {nft::Family::kIp, nft::Family::kIp6, nft::Family::kInet}) {
    auto names = sock->tableNames(family);
    if (!names.ok()) continue;
    nft::Transaction tx;
    for (const std::string& name : *names)
      if (name == "nave" || name.starts_with("nave-")) tx.deleteTable({family, name});
    if (auto r = sock->commit(tx); !r.ok()) {
      log::error("removing nftables tables failed", {{"error", r.error().message()}});
      ++failures;
    }
  }
  auto rtnl = network::netlink::RtnlSocket::open();
  if (!rtnl.ok()) {
    log::error("opening rtnetlink failed", {{"error", rtnl.error().message()}});
    return failures + 1;
  }
  if (auto routes = rtnl->routes(); routes.ok()) {
    for (const auto& route : *routes)
      if (route.protocol == network::flannel::kRouteProtocol) (void)rtnl->deleteRoute(route);
  }
  for (const char* name : {"flannel.1", "nave0"}) {
    auto link = rtnl->link(name);
    if (!link.ok()) continue;
    if (auto r = rtnl->deleteLink(link->index); !r.ok()) {
      log::error("removing a link failed", {{"link", name}, {"error", r.error().message()}});
      ++failures;
    }
  }
  return failures;
}

// Detaches every mount at or under `dir`, deepest first.
int unmountUnder(const std::string& dir) {
  std::vector<std::string> mounts;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, point;
    fields >> id >> parent >> devno >> root >> point;
    if (point == dir || point.starts_with(dir + "/")) mounts.push_back(point);
  }
  std::sort(mounts.begin(), mounts.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  int failures = 0;
  for (const std::string& m : mounts) {
    if (::umount2(m.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
      log::error("unmounting failed", {{"path", m}, {"error", std::strerror(errno)}});
      ++failures;
    }
  }
  return failures;
}

}  // namespace

int uninstallCommand(const std::vector<std::string>& args) {
  std::string dataDir = "/var/lib/nave";
  bool keepData = false;
  std::string configFile;  // unused: uninstall reads no config file
  cli::FlagSet flags("uninstall");
  flags.addString("data-dir", &dataDir, "Folder holding the node's state");
  flags.addBool("keep-data", &keepData,
                "Stop containers and remove the network parts, but keep the data directory");
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") {
      std::printf("Remove what nave set up on this node (stop nave first).\n\n%s", flags.help().c_str());
      return 0;
    }
  }
  auto positional = flags.parse(args);
  if (!positional.ok() || !positional->empty()) {
    std::fprintf(stderr, "nave uninstall: %s\n",
                 positional.ok() ? "unexpected argument" : positional.error().message().c_str());
    return kUsageError;
  }
  while (dataDir.size() > 1 && dataDir.back() == '/') dataDir.pop_back();
  std::error_code ec;
  std::string canonical = std::filesystem::weakly_canonical(dataDir, ec).string();
  if (ec || canonical == "/" || canonical.empty()) {
    std::fprintf(stderr, "nave uninstall: refusing data dir \"%s\"\n", dataDir.c_str());
    return kUsageError;
  }
  int failures = removeContainers(canonical);
  failures += removeNetwork();
  failures += unmountUnder(canonical);
  if (!keepData && failures == 0) {
    std::filesystem::remove_all(canonical, ec);
    if (ec) {
      log::error("removing the data directory failed", {{"path", canonical}, {"error", ec.message()}});
      ++failures;
    }
  }
  if (failures > 0) {
    std::fprintf(stderr, "nave uninstall: %d step(s) failed; see the messages above\n", failures);
    return 1;
  }
  return 0;
}

}  // namespace nave::cmd
