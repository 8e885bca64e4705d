// What the volume controllers share: the annotations of the binding protocol, which claims a
// pod uses, how a volume's node affinity and a claim's request are read.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "server/controllers/object_util.h"
#include "server/client/client.h"

namespace nave::controllers::volumes {

inline const client::Resource kPersistentVolumes{"", "v1", "persistentvolumes"};
inline const client::Resource kPersistentVolumeClaims{"", "v1", "persistentvolumeclaims"};
inline const client::Resource kStorageClasses{"storage.k8s.io", "v1", "storageclasses"};
inline const client::Resource kPods{"", "v1", "pods"};
inline const client::Resource kNodes{"", "v1", "nodes"};

// Set on a claim once the controller has completed its side of the binding.
inline constexpr char kAnnBindCompleted[] = "pv.kubernetes.io/bind-completed";
// Set on a volume (claimRef) or a claim (volumeName) that the controller, not the user, bound.
inline constexpr char kAnnBoundByController[] = "pv.kubernetes.io/bound-by-controller";
// The node the first consumer of a WaitForFirstConsumer claim runs on.
inline constexpr char kAnnSelectedNode[] = "volume.kubernetes.io/selected-node";
// The provisioner asked to provision a claim (and its beta spelling, still read by many).
inline constexpr char kAnnStorageProvisioner[] = "volume.kubernetes.io/storage-provisioner";
inline constexpr char kAnnBetaStorageProvisioner[] =
    "volume.beta.kubernetes.io/storage-provisioner";
// Who provisioned a volume (the provisioner that deletes it).
inline constexpr char kAnnProvisionedBy[] = "pv.kubernetes.io/provisioned-by";
inline constexpr char kAnnBetaStorageClass[] = "volume.beta.kubernetes.io/storage-class";
inline constexpr char kPvcProtectionFinalizer[] = "kubernetes.io/pvc-protection";
inline constexpr char kPvProtectionFinalizer[] = "kubernetes.io/pv-protection";
inline constexpr char kNoProvisioner[] = "kubernetes.io/no-provisioner";

// An index of pods by the claims they use ("namespace/claimName").
inline constexpr char kPodClaimIndex[] = "claims";
std::vector<std::string> claimKeysOfPod(const Json& pod);

using controllers::isDeleting;  // server/controllers/object_util.h
// Succeeded or Failed: its volumes are no longer in use.
bool podIsTerminated(const Json& pod);
std::string annotation(const Json& object, const std::string& key);
bool hasFinalizer(const Json& object, const std::string& finalizer);

// The default StorageClass's name among these (the newest of those marked default), or "".
std::string defaultClassName(const std::vector<Json>& classes);

// A claim's class: spec.storageClassName, or the beta annotation that preceded it.
std::string claimClass(const Json& claim);
// The storage a claim requests / a volume holds, as comparable amounts (nullopt when absent or
// malformed).
std::optional<__int128> claimRequest(const Json& claim);
std::optional<__int128> volumeCapacity(const Json& volume);

// Whether the volume's required node affinity admits the node (no affinity admits all).
bool nodeAffinityAdmits(const Json& volume, const Json& node);

}  // namespace nave::controllers::volumes
