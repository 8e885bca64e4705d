#include <gtest/gtest.h>

#include "tests/server/printers/print_testing.h"

namespace nave::printers {
namespace {

using testing::columns;
using testing::json;
using testing::row;
using Names = std::vector<std::string>;

TEST(PersistentVolumePrinter, BoundVolume) {
  EXPECT_EQ(columns("", "PersistentVolume"),
            (Names{"Name", "Capacity", "Access Modes", "Reclaim Policy", "Status", "Claim",
                   "StorageClass", "VolumeAttributesClass", "Reason", "Age", "VolumeMode*"}));
  EXPECT_EQ(row("", "PersistentVolume", json(R"({
    "metadata":{"name":"pvc-3f2a","creationTimestamp":"2025-01-10T11:00:00Z",
      "annotations":{"pv.kubernetes.io/provisioned-by":"rancher.io/local-path"}},
    "spec":{"capacity":{"storage":"10Gi"},
      "accessModes":["ReadWriteOncePod","ReadWriteOnce","ReadWriteOnce"],
      "persistentVolumeReclaimPolicy":"Delete","storageClassName":"local-path",
      "volumeMode":"Filesystem",
      "claimRef":{"kind":"PersistentVolumeClaim","namespace":"default","name":"data-db-0"}},
    "status":{"phase":"Bound"}})")),
            json(R"(["pvc-3f2a","10Gi","RWO,RWOP","Delete","Bound","default/data-db-0","local-path",
                     "<unset>","","60m","Filesystem"])"));
}

TEST(PersistentVolumePrinter, ReleasedTerminatingAndBetaClass) {
  EXPECT_EQ(row("", "PersistentVolume", json(R"({
    "metadata":{"name":"old","deletionTimestamp":"2025-01-10T11:59:00Z",
      "annotations":{"volume.beta.kubernetes.io/storage-class":"slow"}},
    "spec":{"accessModes":["ReadOnlyMany","ReadWriteMany"],"storageClassName":"fast",
      "persistentVolumeReclaimPolicy":"Retain","volumeAttributesClassName":"gold"},
    "status":{"phase":"Released","reason":"claim deleted"}})")),
            json(R"(["old","0","ROX,RWX","Retain","Terminating","","slow","gold","claim deleted",
                     "<unknown>","<unset>"])"));
}

TEST(PersistentVolumeClaimPrinter, BoundAndPending) {
  EXPECT_EQ(columns("", "PersistentVolumeClaim"),
            (Names{"Name", "Status", "Volume", "Capacity", "Access Modes", "StorageClass",
                   "VolumeAttributesClass", "Age", "VolumeMode*"}));
  EXPECT_EQ(row("", "PersistentVolumeClaim", json(R"({
    "metadata":{"name":"data-db-0","creationTimestamp":"2025-01-10T11:00:00Z"},
    "spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"5Gi"}},
      "storageClassName":"local-path","volumeName":"pvc-3f2a","volumeMode":"Filesystem",
      "volumeAttributesClassName":"gold"},
    "status":{"phase":"Bound","accessModes":["ReadWriteOnce"],"capacity":{"storage":"10Gi"}}})")),
            json(R"(["data-db-0","Bound","pvc-3f2a","10Gi","RWO","local-path","gold","60m",
                     "Filesystem"])"));
  EXPECT_EQ(row("", "PersistentVolumeClaim", json(R"({"metadata":{"name":"p"},
    "spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}},
      "storageClassName":"local-path"},"status":{"phase":"Pending"}})")),
            json(R"(["p","Pending","","","","local-path","<unset>","<unknown>","<unset>"])"));
  EXPECT_EQ(row("", "PersistentVolumeClaim", json(R"({"metadata":{"name":"q",
    "deletionTimestamp":"2025-01-10T11:00:00Z"},"spec":{}})"))[1],
            "Terminating");
}

TEST(StorageClassPrinter, DefaultClassAndDefaults) {
  EXPECT_EQ(columns("storage.k8s.io", "StorageClass"),
            (Names{"Name", "Provisioner", "ReclaimPolicy", "VolumeBindingMode",
                   "AllowVolumeExpansion", "Age"}));
  EXPECT_EQ(row("storage.k8s.io", "StorageClass", json(R"({
    "metadata":{"name":"local-path","creationTimestamp":"2025-01-03T12:00:00Z",
      "annotations":{"storageclass.kubernetes.io/is-default-class":"true"}},
    "provisioner":"rancher.io/local-path","reclaimPolicy":"Delete",
    "volumeBindingMode":"WaitForFirstConsumer","allowVolumeExpansion":true})")),
            json(R"j(["local-path (default)","rancher.io/local-path","Delete","WaitForFirstConsumer",
                     true,"7d"])j"));
  EXPECT_EQ(row("storage.k8s.io", "StorageClass", json(R"({"metadata":{"name":"legacy",
    "annotations":{"storageclass.beta.kubernetes.io/is-default-class":"true"}},
    "provisioner":"example.com/nfs"})")),
            json(R"j(["legacy (default)","example.com/nfs","Delete","Immediate",false,"<unknown>"])j"));
  EXPECT_EQ(row("storage.k8s.io", "StorageClass", json(R"({"metadata":{"name":"slow",
    "annotations":{"storageclass.kubernetes.io/is-default-class":"false"}},
    "provisioner":"p","reclaimPolicy":"Retain"})"))[0],
            "slow");
}

TEST(CsiPrinters, DriverNodeAndAttachment) {
  EXPECT_EQ(columns("storage.k8s.io", "CSIDriver"),
            (Names{"Name", "AttachRequired", "PodInfoOnMount", "StorageCapacity", "TokenRequests",
                   "RequiresRepublish", "Modes", "Age"}));
  EXPECT_EQ(row("storage.k8s.io", "CSIDriver", json(R"({"metadata":{"name":"hostpath.csi.k8s.io"},
    "spec":{}})")),
            json(R"(["hostpath.csi.k8s.io",true,false,false,"<unset>",false,"<none>","<unknown>"])"));
  EXPECT_EQ(row("storage.k8s.io", "CSIDriver", json(R"({"metadata":{"name":"secrets.csi"},
    "spec":{"attachRequired":false,"podInfoOnMount":true,"storageCapacity":true,
      "tokenRequests":[{"audience":"vault"},{"audience":"aws"}],"requiresRepublish":true,
      "volumeLifecycleModes":["Persistent","Ephemeral"]}})")),
            json(R"(["secrets.csi",false,true,true,"vault,aws",true,"Persistent,Ephemeral",
                     "<unknown>"])"));
  EXPECT_EQ(columns("storage.k8s.io", "CSINode"), (Names{"Name", "Drivers", "Age"}));
  EXPECT_EQ(row("storage.k8s.io", "CSINode", json(R"({"metadata":{"name":"node-1"},
    "spec":{"drivers":[{"name":"hostpath.csi.k8s.io","nodeID":"node-1"}]}})")),
            json(R"(["node-1",1,"<unknown>"])"));
  EXPECT_EQ(columns("storage.k8s.io", "VolumeAttachment"),
            (Names{"Name", "Attacher", "PV", "Node", "Attached", "Age"}));
  EXPECT_EQ(findPrinter("storage.k8s.io", "VolumeAttachment")->columns[1].format, "name");
  EXPECT_EQ(row("storage.k8s.io", "VolumeAttachment", json(R"({"metadata":{"name":"csi-9a1b"},
    "spec":{"attacher":"hostpath.csi.k8s.io","nodeName":"node-1",
      "source":{"persistentVolumeName":"pvc-3f2a"}},"status":{"attached":true}})")),
            json(R"(["csi-9a1b","hostpath.csi.k8s.io","pvc-3f2a","node-1",true,"<unknown>"])"));
}

}  // namespace
}  // namespace nave::printers
