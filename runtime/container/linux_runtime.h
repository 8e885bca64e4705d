// LinuxContainerRuntime: ContainerRuntime on shims (runtime/container/shim.cc) and the Linux
// launcher (runtime/container/sys/launcher.h).
//
// The object keeps no state of its own: everything is read from ROOT on each call, so several
// objects in several processes can share ROOT. Serialisation: a container's shim orders the
// requests on its socket; creation, removal and the repair of a container whose shim died
// hold the container's lock (ContainerLock).
//
// A shim that died without recording its container's exit (killed, or the machine's OOM
// killer) leaves a container nobody supervises: the next call that looks at it kills what is
// left in its cgroups and records it as exited with code 255, reason "Unknown" (what
// containerd reports for a task whose shim is gone).
#pragma once

#include <map>
#include <string>

#include "runtime/container/container_runtime.h"
#include "runtime/container/state_file.h"

namespace nave::runtime {

class LinuxContainerRuntime final : public ContainerRuntime {
 public:
  LinuxContainerRuntime(std::string root, std::string shimBinary)
      : root_(std::move(root)), shimBinary_(std::move(shimBinary)) {}

  // Repairs containers whose shim died and removes half-created or half-removed directories.
  void recover();

  Result<SandboxStatus> createSandbox(const SandboxSpec& spec) override;
  Result<void> removeSandbox(const std::string& id) override;
  std::vector<SandboxStatus> listSandboxes() override;

  // [a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}, and not "sandboxes" (ROOT/sandboxes holds the
  // sandboxes). Also for sandbox ids.
  static Result<void> validateId(const std::string& id);
  // rm -rf; missing is fine.
  static void removeTree(const std::string& path);

  Result<ContainerStatus> create(const ContainerSpec& spec) override;
  Result<void> start(const std::string& id) override;
  Result<void> kill(const std::string& id, int signal) override;
  Result<ContainerStatus> stop(const std::string& id, std::chrono::seconds grace) override;
  Result<ContainerStatus> wait(const std::string& id, std::chrono::milliseconds timeout) override;
  Result<ContainerStatus> status(const std::string& id) override;
  std::vector<ContainerStatus> list() override;
  Result<UniqueFd> exitNotifier(const std::string& id) override;
  Result<std::unique_ptr<AttachSession>> attach(const std::string& id, ExecIo io) override;
  Result<void> remove(const std::string& id) override;

  Result<std::unique_ptr<ExecProcess>> exec(const std::string& id, const ProcessSpec& process,
                                            ExecIo io) override;

 private:
  std::string containerDir(const std::string& id) const { return root_ + "/" + id; }
  std::string socketPath(const std::string& id) const { return containerDir(id) + "/shim.sock"; }
  std::string sandboxDir(const std::string& id) const { return root_ + "/sandboxes/" + id; }

  Result<void> spawnShim(const std::string& id);
  // state.json, repaired first when its shim died without recording the exit (`locked`: the
  // caller holds the container's lock).
  Result<ShimState> currentState(const std::string& id, bool locked);
  Result<ShimState> repairDeadShim(const std::string& id, bool locked);
  // `labels`: the spec's when the caller has them (else spec.json is read).
  Result<ContainerStatus> statusOf(const std::string& id, const ShimState& state,
                                   const std::map<std::string, std::string>* labels = nullptr);
  // Sends "wait" and blocks until the shim answers or the connection closes (true), or the
  // timeout passes (false).
  Result<bool> waitForExit(const std::string& id, int timeoutMs);
  void removeFiles(const std::string& id, const std::string& logPath);
  void removeLogs(const std::string& logPath);

  std::string root_;
  std::string shimBinary_;
};


}  // namespace nave::runtime
