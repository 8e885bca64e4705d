// The volume controllers on a real API stack: binding rules (smallest fitting volume, access
// modes, selector, classes, volumeName and claimRef pre-binding), release and reclaim, the
// protection finalizers, and local-path provisioning for a claim's first consumer.
#include "server/controllers/storage/persistent_volume_controller.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "common/log.h"
#include "server/controllers/storage/local_path_provisioner.h"
#include "server/controllers/storage/protection_controllers.h"
#include "tests/server/controllers/controller_fixture.h"

namespace nave::controllers {
namespace {

using testing::waitFor;

const client::Resource kPvs{"", "v1", "persistentvolumes"};
const client::Resource kPvcs{"", "v1", "persistentvolumeclaims"};
const client::Resource kClasses{"storage.k8s.io", "v1", "storageclasses"};
const client::Resource kNodes{"", "v1", "nodes"};
const client::Resource kPodsR{"", "v1", "pods"};
const client::Resource kEvents{"", "v1", "events"};

class VolumeControllersTest : public ::testing::Test, public testing::ControllerFixture {
 protected:
  void SetUp() override { log::setVerbosity(0); }

  Json makePv(const std::string& name, const std::string& size, Json extraSpec = Json::object(),
              Json labels = Json::object()) {
    Json spec = {{"capacity", {{"storage", size}}},
                 {"accessModes", {"ReadWriteOnce"}},
                 {"storageClassName", "manual"},
                 {"persistentVolumeReclaimPolicy", "Retain"},
                 {"hostPath", {{"path", "/tmp/" + name}}}};
    spec.update(extraSpec);
    Json pv = {{"apiVersion", "v1"},
               {"kind", "PersistentVolume"},
               {"metadata", {{"name", name}, {"labels", labels}}},
               {"spec", spec}};
    auto r = client().create(kPvs, "", pv);
    EXPECT_TRUE(r.ok()) << r.error().message();
    return r.ok() ? *r : Json();
  }
  Json makePvc(const std::string& name, const std::string& size, Json extraSpec = Json::object()) {
    Json spec = {{"accessModes", {"ReadWriteOnce"}},
                 {"storageClassName", "manual"},
                 {"resources", {{"requests", {{"storage", size}}}}}};
    spec.update(extraSpec);
    Json pvc = {{"apiVersion", "v1"},
                {"kind", "PersistentVolumeClaim"},
                {"metadata", {{"name", name}}},
                {"spec", spec}};
    auto r = client().create(kPvcs, "default", pvc);
    EXPECT_TRUE(r.ok()) << r.error().message();
    return r.ok() ? *r : Json();
  }
  Json pvc(const std::string& name) {
    auto r = client().get(kPvcs, "default", name);
    return r.ok() ? *r : Json();
  }
  Json pv(const std::string& name) {
    auto r = client().get(kPvs, "", name);
    return r.ok() ? *r : Json();
  }
  static std::string phase(const Json& o) {
    return o.is_null() ? "" : getString(o.value("status", Json::object()), "phase");
  }
  bool boundTo(const std::string& claim, const std::string& volume) {
    return waitFor([&] { return phase(pvc(claim)) == "Bound" && phase(pv(volume)) == "Bound"; }) &&
           pvc(claim)["spec"].value("volumeName", "") == volume;
  }
  void makePod(const std::string& name, const std::string& claim, const std::string& node = "") {
    Json pod = {
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata", {{"name", name}}},
        {"spec",
         {{"containers", {{{"name", "c"}, {"image", "busybox"}}}},
          {"volumes", {{{"name", "data"}, {"persistentVolumeClaim", {{"claimName", claim}}}}}}}}};
    if (!node.empty()) pod["spec"]["nodeName"] = node;
    auto r = client().create(kPodsR, "default", pod);
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  void removePod(const std::string& name) {
    api::DeleteOptions o;
    o.gracePeriodSeconds = 0;
    ASSERT_TRUE(client().remove(kPodsR, "default", name, o).ok());
  }
  bool hasEvent(const std::string& reason, const std::string& message) {
    auto list = client().list(kEvents, "default");
    if (!list.ok()) return false;
    for (const Json& e : (*list)["items"])
      if (e.value("reason", "") == reason && e.value("message", "") == message) return true;
    return false;
  }
};

TEST_F(VolumeControllersTest, BindsTheSmallestFittingVolume) {
  run<PersistentVolumeController>();
  makePv("small", "1Gi");
  makePv("medium", "5Gi");
  makePv("large", "10Gi");
  makePv("other-class", "4Gi", {{"storageClassName", "fast"}});
  makePvc("claim", "3Gi");
  ASSERT_TRUE(boundTo("claim", "medium"));
  Json v = pv("medium"), c = pvc("claim");
  EXPECT_EQ(v["spec"]["claimRef"]["name"], "claim");
  EXPECT_EQ(v["spec"]["claimRef"]["uid"], c["metadata"]["uid"]);
  EXPECT_EQ(v["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"], "yes");
  EXPECT_EQ(c["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"], "yes");
  EXPECT_EQ(c["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"], "yes");
  EXPECT_EQ(c["status"]["capacity"]["storage"], "5Gi");
  EXPECT_EQ(c["status"]["accessModes"], Json::array({"ReadWriteOnce"}));
  EXPECT_TRUE(waitFor([&] {
    return phase(pv("small")) == "Available" && phase(pv("other-class")) == "Available";
  }));
}

TEST_F(VolumeControllersTest, AccessModesAndSelectorsNarrowTheChoice) {
  run<PersistentVolumeController>();
  makePv("rwo", "5Gi", Json::object(), {{"tier", "gold"}});
  makePv("rwx", "8Gi", {{"accessModes", {"ReadWriteMany", "ReadWriteOnce"}}});
  makePvc("shared", "1Gi", {{"accessModes", {"ReadWriteMany"}}});
  makePvc("picky", "1Gi", {{"selector", {{"matchLabels", {{"tier", "gold"}}}}}});
  makePvc("greedy", "20Gi");
  EXPECT_TRUE(boundTo("shared", "rwx"));
  EXPECT_TRUE(boundTo("picky", "rwo"));
  // Nothing fits, and its class has no provisioner to ask.
  EXPECT_TRUE(waitFor([&] {
    return hasEvent("ProvisioningFailed", "storageclass.storage.k8s.io \"manual\" not found");
  }));
  EXPECT_EQ(phase(pvc("greedy")), "Pending");
}

TEST_F(VolumeControllersTest, VolumeNameAndClaimRefPreBinding) {
  run<PersistentVolumeController>();
  makePv("wanted", "10Gi");
  makePv("fits", "2Gi");
  makePv("reserved", "2Gi", {{"claimRef", {{"namespace", "default"}, {"name", "reserving"}}}});
  makePvc("naming", "1Gi", {{"volumeName", "wanted"}});
  makePvc("reserving", "1Gi");
  EXPECT_TRUE(boundTo("naming", "wanted"));
  EXPECT_TRUE(boundTo("reserving", "reserved"));
  // Set by the user: no bound-by-controller annotation on either side.
  EXPECT_FALSE(
      pvc("naming")["metadata"]["annotations"].contains("pv.kubernetes.io/bound-by-controller"));
  EXPECT_FALSE(
      pv("reserved")["metadata"]["annotations"].contains("pv.kubernetes.io/bound-by-controller"));
  EXPECT_EQ(phase(pv("fits")), "Available");
  // No class at all and nothing fits.
  makePvc("classless", "1Gi", {{"storageClassName", ""}});
  EXPECT_TRUE(waitFor([&] {
    return hasEvent("FailedBinding",
                    "no persistent volumes available for this claim and no storage class is set");
  }));
  // A claim naming a volume that is bound to another.
  makePvc("late", "1Gi", {{"volumeName", "wanted"}});
  EXPECT_TRUE(waitFor([&] {
    return hasEvent("FailedBinding", "volume \"wanted\" already bound to a different claim.");
  }));
  EXPECT_EQ(phase(pvc("late")), "Pending");
}

TEST_F(VolumeControllersTest, ClassLessClaimsGetTheDefaultClassWhenOneAppears) {
  run<PersistentVolumeController>();
  Json spec = {{"accessModes", {"ReadWriteOnce"}},
               {"resources", {{"requests", {{"storage", "1Gi"}}}}}};
  ASSERT_TRUE(client()
                  .create(kPvcs, "default",
                          {{"apiVersion", "v1"},
                           {"kind", "PersistentVolumeClaim"},
                           {"metadata", {{"name", "early"}}},
                           {"spec", spec}})
                  .ok());
  spec["storageClassName"] = "";
  ASSERT_TRUE(client()
                  .create(kPvcs, "default",
                          {{"apiVersion", "v1"},
                           {"kind", "PersistentVolumeClaim"},
                           {"metadata", {{"name", "classless"}}},
                           {"spec", spec}})
                  .ok());
  EXPECT_FALSE(pvc("early")["spec"].contains("storageClassName"));
  Json sc = {{"apiVersion", "storage.k8s.io/v1"},
             {"kind", "StorageClass"},
             {"metadata",
              {{"name", "standard"},
               {"annotations", {{"storageclass.kubernetes.io/is-default-class", "true"}}}}},
             {"provisioner", "example.com/none"}};
  ASSERT_TRUE(client().create(kClasses, "", sc).ok());
  EXPECT_TRUE(
      waitFor([&] { return pvc("early")["spec"].value("storageClassName", "") == "standard"; }));
  // "" asks for no class, and keeps asking.
  EXPECT_EQ(pvc("classless")["spec"]["storageClassName"], "");
  // Handed to the class's provisioner.
  EXPECT_TRUE(waitFor([&] {
    return pvc("early")["metadata"]
               .value("annotations", Json::object())
               .value("volume.kubernetes.io/storage-provisioner", "") == "example.com/none";
  }));
}

TEST_F(VolumeControllersTest, ReleasedVolumesAreRetainedOrFail) {
  run<PersistentVolumeController, PvcProtectionController, PvProtectionController>();
  makePv("keep", "1Gi");
  makePvc("a", "1Gi");
  ASSERT_TRUE(boundTo("a", "keep"));
  EXPECT_EQ(pvc("a")["metadata"]["finalizers"], Json::array({"kubernetes.io/pvc-protection"}));
  EXPECT_EQ(pv("keep")["metadata"]["finalizers"], Json::array({"kubernetes.io/pv-protection"}));
  ASSERT_TRUE(client().remove(kPvcs, "default", "a").ok());
  EXPECT_TRUE(waitFor([&] { return pvc("a").is_null() && phase(pv("keep")) == "Released"; }));
  // A Bound volume is protected; a Released one may go.
  makePv("doomed", "1Gi", {{"persistentVolumeReclaimPolicy", "Delete"}});
  makePvc("b", "1Gi");
  ASSERT_TRUE(boundTo("b", "doomed"));
  ASSERT_TRUE(client().remove(kPvs, "", "doomed").ok());
  EXPECT_FALSE(waitFor([&] { return pv("doomed").is_null(); }, std::chrono::seconds(1)));
  ASSERT_TRUE(client().remove(kPvcs, "default", "b").ok());
  // Nothing deletes a hostPath volume: it fails, and then the protection lets it go.
  EXPECT_TRUE(waitFor([&] { return pv("doomed").is_null(); }));
  EXPECT_TRUE(waitFor([&] {
    auto list = client().list(kEvents, "");
    if (!list.ok()) return false;
    for (const Json& e : (*list)["items"])
      if (e.value("reason", "") == "VolumeFailedDelete") return true;
    return false;
  }));
  ASSERT_TRUE(client().remove(kPvs, "", "keep").ok());
  EXPECT_TRUE(waitFor([&] { return pv("keep").is_null(); }));
}

TEST_F(VolumeControllersTest, ClaimInUseIsKeptUntilItsPodIsGone) {
  run<PersistentVolumeController, PvcProtectionController, PvProtectionController>();
  makePv("vol", "1Gi");
  makePvc("used", "1Gi");
  ASSERT_TRUE(boundTo("used", "vol"));
  makePod("user", "used", "somewhere");
  ASSERT_TRUE(client().remove(kPvcs, "default", "used").ok());
  EXPECT_FALSE(waitFor([&] { return pvc("used").is_null(); }, std::chrono::seconds(1)));
  EXPECT_TRUE(pvc("used")["metadata"].contains("deletionTimestamp"));
  EXPECT_EQ(phase(pv("vol")), "Bound");
  removePod("user");
  EXPECT_TRUE(waitFor([&] { return pvc("used").is_null() && phase(pv("vol")) == "Released"; }));
}

TEST_F(VolumeControllersTest, WaitForFirstConsumerBindsAVolumeOnThePodsNode) {
  run<PersistentVolumeController>();
  Json sc = {{"apiVersion", "storage.k8s.io/v1"},
             {"kind", "StorageClass"},
             {"metadata", {{"name", "local"}}},
             {"provisioner", "kubernetes.io/no-provisioner"},
             {"volumeBindingMode", "WaitForFirstConsumer"}};
  ASSERT_TRUE(client().create(kClasses, "", sc).ok());
  for (const char* node : {"n1", "n2"}) {
    Json n = {{"apiVersion", "v1"},
              {"kind", "Node"},
              {"metadata", {{"name", node}, {"labels", {{"kubernetes.io/hostname", node}}}}}};
    ASSERT_TRUE(client().create(kNodes, "", n).ok());
    Json affinity = {{"required",
                      {{"nodeSelectorTerms",
                        {{{"matchExpressions",
                           {{{"key", "kubernetes.io/hostname"}, {"operator", "In"}, {"values", {node}}}}}}}}}}};
    makePv(std::string("local-") + node, "1Gi",
           {{"storageClassName", "local"}, {"nodeAffinity", affinity}, {"hostPath", nullptr},
            {"local", {{"path", "/mnt/disk"}}}});
  }
  makePvc("claim", "1Gi", {{"storageClassName", "local"}});
  EXPECT_TRUE(waitFor([&] {
    return hasEvent("WaitForFirstConsumer", "waiting for first consumer to be created before binding");
  }));
  EXPECT_EQ(phase(pvc("claim")), "Pending");
  makePod("consumer", "claim", "n2");
  EXPECT_TRUE(boundTo("claim", "local-n2"));
  EXPECT_EQ(phase(pv("local-n1")), "Available");
}

TEST_F(VolumeControllersTest, LocalPathProvisionsForTheFirstConsumerAndCleansUp) {
  run<PersistentVolumeController, LocalPathProvisioner, PvcProtectionController,
      PvProtectionController>();
  ASSERT_TRUE(waitFor([&] { return client().get(kClasses, "", "local-path").ok(); }));
  Json sc = *client().get(kClasses, "", "local-path");
  EXPECT_EQ(sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"], "true");
  EXPECT_EQ(sc["provisioner"], "rancher.io/local-path");
  EXPECT_EQ(sc["volumeBindingMode"], "WaitForFirstConsumer");
  EXPECT_EQ(sc["reclaimPolicy"], "Delete");

  // No class named: the default one (DefaultStorageClass admission).
  Json spec = {{"accessModes", {"ReadWriteOnce"}},
               {"resources", {{"requests", {{"storage", "128Mi"}}}}}};
  Json claim = {{"apiVersion", "v1"},
                {"kind", "PersistentVolumeClaim"},
                {"metadata", {{"name", "data"}}},
                {"spec", spec}};
  auto created = client().create(kPvcs, "default", claim);
  ASSERT_TRUE(created.ok()) << created.error().message();
  EXPECT_EQ((*created)["spec"]["storageClassName"], "local-path");
  std::string uid = (*created)["metadata"]["uid"];
  EXPECT_TRUE(waitFor([&] {
    return hasEvent("WaitForFirstConsumer",
                    "waiting for first consumer to be created before binding");
  }));
  EXPECT_EQ(phase(pvc("data")), "Pending");

  Json node = {{"apiVersion", "v1"},
               {"kind", "Node"},
               {"metadata", {{"name", "n1"}, {"labels", {{"kubernetes.io/hostname", "n1"}}}}}};
  ASSERT_TRUE(client().create(kNodes, "", node).ok());
  makePod("consumer", "data", "n1");
  std::string volume = "pvc-" + uid;
  ASSERT_TRUE(boundTo("data", volume));
  Json v = pv(volume);
  std::string dir = context().dataDir + "/storage/" + volume + "_default_data";
  EXPECT_EQ(v["spec"]["hostPath"]["path"], dir);
  EXPECT_EQ(v["spec"]["capacity"]["storage"], "128Mi");
  EXPECT_EQ(v["spec"]["persistentVolumeReclaimPolicy"], "Delete");
  EXPECT_EQ(v["spec"]["storageClassName"], "local-path");
  EXPECT_EQ(v["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"],
            "rancher.io/local-path");
  EXPECT_EQ(v["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
             ["values"],
            Json::array({"n1"}));
  EXPECT_EQ(pvc("data")["metadata"]["annotations"]["volume.kubernetes.io/selected-node"], "n1");
  EXPECT_TRUE(hasEvent("ProvisioningSucceeded", "Successfully provisioned volume " + volume));
  struct stat st;
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));

  removePod("consumer");
  ASSERT_TRUE(client().remove(kPvcs, "default", "data").ok());
  EXPECT_TRUE(waitFor([&] { return pv(volume).is_null() && pvc("data").is_null(); }));
  EXPECT_NE(::stat(dir.c_str(), &st), 0);
}

}  // namespace
}  // namespace nave::controllers
