// What the agent derives from a Pod's spec before it asks the runtime for anything: the
// environment of each container, its command with $(VAR) references expanded, the pod's
// volumes on the host and each container's mounts, the pod's /etc/hosts, /etc/hostname and
// /etc/resolv.conf, its QoS class and each container's cgroup resources. All as the kubelet
// computes them (pkg/kubelet/kubelet_pods.go, pkg/volume, pkg/apis/core/v1/helper/qos).
//
// Errors carry the kubelet's messages: the agent reports them as the container's waiting
// reason CreateContainerConfigError (env, commands, mounts) or as FailedMount events (volumes).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/result.h"
#include "runtime/container/container_runtime.h"

namespace nave::agent {

// Where the agent reads the objects a pod refers to (through the API, with caching).
class ObjectSource {
 public:
  virtual ~ObjectSource() = default;
  // kNotFound when missing.
  virtual Result<Json> configMap(const std::string& ns, const std::string& name) = 0;
  virtual Result<Json> secret(const std::string& ns, const std::string& name) = 0;
  virtual Result<Json> persistentVolumeClaim(const std::string& ns, const std::string& name) = 0;
  virtual Result<Json> persistentVolume(const std::string& name) = 0;
};

// Facts about the node and the pod that the spec alone does not hold.
struct PodFacts {
  std::string nodeName;
  std::string hostIp;
  std::vector<std::string> podIps;
  std::string serviceAccountName;       // spec's, defaulted
  int64_t nodeAllocatableMilliCpu = 0;  // limits default to these (resourceFieldRef)
  int64_t nodeAllocatableMemoryBytes = 0;
  int64_t nodeAllocatableEphemeralBytes = 0;
};

// ---- environment and command ----------------------------------------------------------

// The container's environment as "NAME=value", in Kubernetes' order: envFrom sources, then env
// (later entries override earlier ones with the same name, keeping the first position), with
// $(VAR) references to earlier variables and to the service variables expanded; valueFrom
// fieldRef (metadata.name, metadata.namespace, metadata.uid, metadata.labels['k'],
// metadata.annotations['k'], metadata.labels, metadata.annotations, spec.nodeName,
// spec.serviceAccountName, status.hostIP, status.hostIPs, status.podIP, status.podIPs; spec
// fields from the pod, `facts` when it lacks them; addresses from `facts`, the pod's status
// when they are empty; pod IPs one per family, the node IP's family first, as the kubelet
// sorts them), resourceFieldRef (limits/requests of
// cpu, memory, ephemeral-storage, hugepages-* with divisor; limits default to the node's
// allocatable), configMapKeyRef and secretKeyRef (optional honoured); envFrom prefix and
// optional. `serviceEnv` ("NAME=value", Docker-link style service variables) comes last, as
// the kubelet appends it, without the names the container sets itself.
//
// Errors carry the kubelet's messages (`configmap "x" not found`, `couldn't find key k in
// ConfigMap ns/x`, `secret "s" not found`, ...). envFrom keys that cannot be variable names
// (empty, '=' or characters other than printable ASCII: the API's relaxed rule of Kubernetes
// 1.32) are skipped; when `warnings` is given, one message per source is appended to it, worded
// as the kubelet's InvalidEnvironmentVariableNames event.
Result<std::vector<std::string>> containerEnv(const Json& pod, const Json& container,
                                              ObjectSource& objects, const PodFacts& facts,
                                              const std::vector<std::string>& serviceEnv = {},
                                              std::vector<std::string>* warnings = nullptr);

// Expands $(VAR) in command/args with the container's environment ($$ escapes, unknown
// references stay as written), as Kubernetes' expansion package.
std::vector<std::string> expandReferences(const std::vector<std::string>& args,
                                          const std::vector<std::string>& env);

// ---- volumes --------------------------------------------------------------------------

// A pod's volumes on the host, under PODS/UID/volumes/<plugin>/<name> (PODS = DATA/agent/pods;
// plugin as the kubelet names them: kubernetes.io~empty-dir, ~configmap, ~secret,
// ~downward-api, ~projected). hostPath and PersistentVolume paths are used where they are.
// Needs root (tmpfs mounts, ownership). Thread-safe: one mutex serialises all calls; `objects`
// must outlive the manager and is called under that mutex.
class VolumeManager {
 public:
  // Creates podsDir (0750) when missing.
  static Result<std::unique_ptr<VolumeManager>> open(const std::string& podsDir,
                                                     ObjectSource& objects);
  virtual ~VolumeManager() = default;

  // Sets up every volume of the pod (idempotent): emptyDir (a directory; medium Memory: a
  // tmpfs whose size is the smallest of sizeLimit, the pod's memory limit and the node's
  // allocatable memory), hostPath (type checks: DirectoryOrCreate, Directory, FileOrCreate,
  // File, Socket, CharDevice, BlockDevice), configMap, secret, downwardAPI, projected (items,
  // defaultMode, mode, optional; written atomically as the kubelet's AtomicWriter: a
  // timestamped directory, a ..data symlink swapped by rename, user-visible symlinks; secret
  // and projected volumes on a tmpfs, as the kubelet keeps them off the disk),
  // persistentVolumeClaim bound to a hostPath or local PersistentVolume. fsGroup is applied
  // to emptyDir, configMap, secret, downwardAPI, projected and local volumes. Returns volume
  // name -> host path. Errors name the volume, as FailedMount events do (e.g.
  // `MountVolume.SetUp failed for volume "cfg" : configmap "missing" not found`); a volume
  // whose setup failed is torn down again. Projected serviceAccountToken sources are not
  // written yet (tokens come with the TokenRequest API).
  virtual Result<std::map<std::string, std::string>> setUp(const Json& pod,
                                                           const PodFacts& facts) = 0;
  // Re-writes the configMap, secret, downwardAPI and projected volumes whose content changed
  // (atomic swap, so readers see the old or the new set, never a mix). Returns whether
  // anything changed.
  virtual Result<bool> refresh(const Json& pod, const PodFacts& facts) = 0;
  // Unmounts everything mounted under PODS/UID (tmpfs volumes, subPath bind mounts) and
  // removes the directory (missing is fine).
  virtual Result<void> tearDown(const std::string& podUid) = 0;
};

// A container's mounts from its volumeMounts: source = the volume's host path (joined with
// subPath, or subPathExpr expanded with the container's env; a subPath must stay inside the
// volume: no "..", no absolute path, no symlink leading out, checked on the host; a missing
// subPath directory is created inside the volume), readOnly (always for configMap, secret,
// downwardAPI and projected volumes and read-only claims), recursiveReadOnly ("rro") and
// mountPropagation (None: rprivate, HostToContainer: rslave, Bidirectional: rshared). A subPath
// is bind-mounted, from the descriptor that was checked, at
// podDir/volume-subpaths/VOLUME/CONTAINER/INDEX, and that is the mount's source: a container
// swapping a directory of the volume for a symlink cannot redirect it (the kubelet's defence;
// tearDown unmounts these). Also the pod's /etc/hosts, /etc/hostname and /etc/resolv.conf files
// (`podFiles`, from writePodFiles) unless the container mounts something there (hosts read-
// write; hostname and resolv.conf read-only with a read-only root filesystem, as containerd
// mounts them), and the termination message file at terminationMessagePath
// (`terminationLogPath` on the host, created with mode 0666 when missing).
struct PodFilePaths {
  std::string hosts;  // empty when the pod gets no managed /etc/hosts (no pod IP yet)
  std::string hostname, resolvConf;
  std::string podDir;  // PODS/UID: where subPath bind mounts are made
};
Result<std::vector<runtime::Mount>> containerMounts(
    const Json& pod, const Json& container, const std::map<std::string, std::string>& volumes,
    const std::vector<std::string>& env, const PodFilePaths& podFiles,
    const std::string& terminationLogPath);

// ---- pod files ------------------------------------------------------------------------

struct DnsSettings {
  std::string clusterDns;                           // e.g. 10.43.0.10 (several: comma-separated)
  std::string clusterDomain;                        // cluster.local
  std::string hostResolvConf = "/etc/resolv.conf";  // for dnsPolicy Default and hostNetwork
  std::string hostHosts = "/etc/hosts";             // the node's hosts file, for hostNetwork
};

// Writes PODS/UID/etc-hosts, PODS/UID/etc-hostname and PODS/UID/resolv.conf as the kubelet
// (and containerd, for the last two) does: the hosts file with the kubelet's header comment,
// localhost entries, the pod's IPs and hostname (hostname.subdomain.NS.svc.DOMAIN first when
// subdomain is set), hostAliases (hostNetwork pods get the node's file under their own header;
// pods with no IP yet get none); resolv.conf per dnsPolicy (ClusterFirst,
// ClusterFirstWithHostNet, Default, None) and dnsConfig (nameservers, searches, options;
// ndots:5 for cluster DNS; at most 3 nameservers, 32 search domains and 2048 characters as
// the kubelet's limits); hostname = podHostname(). Files are rewritten in place (running
// containers bind-mount them) and only when their content changes.
Result<PodFilePaths> writePodFiles(const std::string& podsDir, const Json& pod,
                                   const PodFacts& facts, const DnsSettings& dns);

// The hostname a pod's UTS namespace gets: spec.hostname (a DNS label) or the pod name,
// truncated to 63 characters; hostname.subdomain.NS.svc.DOMAIN with setHostnameAsFQDN (at most
// 64 characters); the node's hostname for hostNetwork pods.
Result<std::string> podHostname(const Json& pod, const DnsSettings& dns);

// ---- resources ------------------------------------------------------------------------

// "Guaranteed", "Burstable" or "BestEffort", as Kubernetes' qos helper (status.qosClass when
// the API server has set it; quantities that do not parse count as absent).
std::string qosClass(const Json& pod);

// The cgroup settings of a container: cpu shares from the cpu request, or from the cpu limit
// when no request is given (millicores * 1024 / 1000, 2 to 262144; BestEffort: 2), cpu quota
// from the cpu limit (period 100 ms, minimum 1 ms), memory limit from the memory limit.
// Quantities parsed as Kubernetes' resource.Quantity ("100m", "0.5", "1Gi", "1e3",
// "128974848"); invalid or negative ones are an error.
Result<runtime::Resources> containerResources(const Json& container);

// Kubernetes quantities: value in millis (cpu) or bytes (memory, storage), rounding up (away
// from zero) as resource.Quantity's MilliValue/Value do; values beyond int64 saturate, as the
// API caps quantities at 2^63-1.
Result<int64_t> parseQuantityMilli(const std::string& quantity);
Result<int64_t> parseQuantity(const std::string& quantity);

}  // namespace nave::agent
