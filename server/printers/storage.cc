// Storage: PersistentVolume, PersistentVolumeClaim, StorageClass, CSIDriver, CSINode and
// VolumeAttachment.
#include "server/printers/format.h"

namespace nave::printers {

namespace {

constexpr std::string_view kBetaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class";

std::string created(const Json& obj, const PrintContext& context) {
  return sinceTimestamp(at(obj, {"metadata", "creationTimestamp"}), context);
}

// The string a pointer field holds, or "<unset>" when it is nil.
std::string orUnset(const Json& v) { return v.is_string() ? v.get<std::string>() : "<unset>"; }

// A missing quantity prints as the zero quantity, "0".
std::string storageQuantity(const Json& resources) {
  const Json& q = at(resources, {"storage"});
  return isSet(q) ? quantity(q) : "0";
}

// The class from the beta annotation when present (even empty), else spec.storageClassName.
std::string storageClassOf(const Json& obj) {
  const Json* annotation =
      findMember(at(obj, {"metadata", "annotations"}), kBetaStorageClassAnnotation);
  if (annotation != nullptr) return str(*annotation);
  return str(at(obj, {"spec", "storageClassName"}));
}

std::string phaseOf(const Json& obj) {
  if (isSet(at(obj, {"metadata", "deletionTimestamp"}))) return "Terminating";
  return str(at(obj, {"status", "phase"}));
}

std::vector<Json> persistentVolumeRow(const Json& obj, const PrintContext& context) {
  const Json& spec = at(obj, {"spec"});
  const Json& claimRef = at(spec, {"claimRef"});
  std::string claim;
  if (isSet(claimRef)) claim = str(at(claimRef, {"namespace"})) + "/" + str(at(claimRef, {"name"}));
  return {name(obj),
          storageQuantity(at(spec, {"capacity"})),
          accessModes(at(spec, {"accessModes"})),
          str(at(spec, {"persistentVolumeReclaimPolicy"})),
          phaseOf(obj),
          claim,
          storageClassOf(obj),
          orUnset(at(spec, {"volumeAttributesClassName"})),
          str(at(obj, {"status", "reason"})),
          created(obj, context),
          orUnset(at(spec, {"volumeMode"}))};
}

std::vector<Json> persistentVolumeClaimRow(const Json& obj, const PrintContext& context) {
  const Json& spec = at(obj, {"spec"});
  std::string volume = str(at(spec, {"volumeName"}));
  std::string capacity;
  std::string modes;
  // Capacity and access modes are the bound volume's, so they show once bound.
  if (!volume.empty()) {
    modes = accessModes(at(obj, {"status", "accessModes"}));
    capacity = storageQuantity(at(obj, {"status", "capacity"}));
  }
  return {name(obj),
          phaseOf(obj),
          volume,
          capacity,
          modes,
          storageClassOf(obj),
          orUnset(at(spec, {"volumeAttributesClassName"})),
          created(obj, context),
          orUnset(at(spec, {"volumeMode"}))};
}

std::vector<Json> storageClassRow(const Json& obj, const PrintContext& context) {
  const Json& annotations = at(obj, {"metadata", "annotations"});
  bool isDefault = str(at(annotations, {"storageclass.kubernetes.io/is-default-class"})) == "true" ||
                   str(at(annotations, {"storageclass.beta.kubernetes.io/is-default-class"})) ==
                       "true";
  std::string reclaimPolicy = "Delete";
  if (at(obj, {"reclaimPolicy"}).is_string()) reclaimPolicy = str(at(obj, {"reclaimPolicy"}));
  std::string bindingMode = "Immediate";
  if (at(obj, {"volumeBindingMode"}).is_string())
    bindingMode = str(at(obj, {"volumeBindingMode"}));
  return {name(obj) + (isDefault ? " (default)" : ""),
          str(at(obj, {"provisioner"})),
          reclaimPolicy,
          bindingMode,
          boolean(at(obj, {"allowVolumeExpansion"})),
          created(obj, context)};
}

std::vector<Json> csiDriverRow(const Json& obj, const PrintContext& context) {
  const Json& spec = at(obj, {"spec"});
  std::vector<std::string> modes;
  for (const Json& m : arrayOf(at(spec, {"volumeLifecycleModes"}))) modes.push_back(str(m));
  std::string tokenRequests = "<unset>";
  if (at(spec, {"tokenRequests"}).is_array()) {
    std::vector<std::string> audiences;
    for (const Json& t : arrayOf(at(spec, {"tokenRequests"})))
      audiences.push_back(str(at(t, {"audience"})));
    tokenRequests = joinStrings(audiences, ",");
  }
  return {name(obj),
          boolean(at(spec, {"attachRequired"}), true),
          boolean(at(spec, {"podInfoOnMount"})),
          boolean(at(spec, {"storageCapacity"})),
          tokenRequests,
          boolean(at(spec, {"requiresRepublish"})),
          modes.empty() ? "<none>" : joinStrings(modes, ","),
          created(obj, context)};
}

std::vector<Json> csiNodeRow(const Json& obj, const PrintContext& context) {
  return {name(obj), count(at(obj, {"spec", "drivers"})), created(obj, context)};
}

std::vector<Json> volumeAttachmentRow(const Json& obj, const PrintContext& context) {
  const Json& spec = at(obj, {"spec"});
  return {name(obj),
          str(at(spec, {"attacher"})),
          str(at(spec, {"source", "persistentVolumeName"})),
          str(at(spec, {"nodeName"})),
          boolean(at(obj, {"status", "attached"})),
          created(obj, context)};
}

}  // namespace

void addStoragePrinters(PrinterMap& printers) {
  printers[printerKey("", "PersistentVolume")] = {
      {nameColumn(), column("Capacity", "string", "The volume's storage size."),
       column("Access Modes", "string", "How the volume can be mounted: RWO, ROX, RWX, RWOP."),
       column("Reclaim Policy", "string", "What happens to the volume once released."),
       column("Status", "string", "Available, Bound, Released or Failed."),
       column("Claim", "string", "The claim bound to the volume, as namespace/name."),
       column("StorageClass", "string", "The storage class of the volume."),
       column("VolumeAttributesClass", "string", "The volume attributes class of the volume."),
       column("Reason", "string", "Why the volume is in its phase, if noteworthy."), ageColumn(),
       column("VolumeMode", "string", "Filesystem or Block.", 1)},
      persistentVolumeRow};
  printers[printerKey("", "PersistentVolumeClaim")] = {
      {nameColumn(), column("Status", "string", "Pending, Bound or Lost."),
       column("Volume", "string", "The volume bound to the claim."),
       column("Capacity", "string", "The storage size of the bound volume."),
       column("Access Modes", "string", "How the bound volume can be mounted."),
       column("StorageClass", "string", "The storage class the claim asks for."),
       column("VolumeAttributesClass", "string", "The volume attributes class of the claim."),
       ageColumn(), column("VolumeMode", "string", "Filesystem or Block.", 1)},
      persistentVolumeClaimRow};
  printers[printerKey("storage.k8s.io", "StorageClass")] = {
      {nameColumn(), column("Provisioner", "string", "The driver that creates the volumes."),
       column("ReclaimPolicy", "string", "The reclaim policy its volumes get."),
       column("VolumeBindingMode", "string", "When claims get bound and volumes provisioned."),
       column("AllowVolumeExpansion", "string", "Whether claims of the class may grow."),
       ageColumn()},
      storageClassRow};
  printers[printerKey("storage.k8s.io", "CSIDriver")] = {
      {nameColumn(),
       column("AttachRequired", "boolean", "Whether volumes need an attach step."),
       column("PodInfoOnMount", "boolean", "Whether the driver gets pod details on mount."),
       column("StorageCapacity", "boolean", "Whether the scheduler considers its capacity."),
       column("TokenRequests", "string", "Audiences of the tokens passed to the driver."),
       column("RequiresRepublish", "boolean", "Whether volumes are mounted again periodically."),
       column("Modes", "string", "The volume lifecycle modes the driver supports."),
       ageColumn()},
      csiDriverRow};
  printers[printerKey("storage.k8s.io", "CSINode")] = {
      {nameColumn(), column("Drivers", "integer", "The number of CSI drivers on the node."),
       ageColumn()},
      csiNodeRow};
  Column attacher = column("Attacher", "string", "The driver that attaches the volume.");
  attacher.format = "name";  // so Kubernetes declares it
  printers[printerKey("storage.k8s.io", "VolumeAttachment")] = {
      {nameColumn(), attacher,
       column("PV", "string", "The persistent volume to attach."),
       column("Node", "string", "The node to attach it to."),
       column("Attached", "boolean", "Whether the volume is attached."), ageColumn()},
      volumeAttachmentRow};
}

}  // namespace nave::printers
