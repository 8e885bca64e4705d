// VolumeManager: every volume type on the real file system (tmpfs cases need root).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>

#include <cstring>
#include <filesystem>
#include <set>

#include "runtime/agent/pod/host_fs.h"
#include "runtime/agent/pod/pod_spec.h"
#include "tests/runtime/agent/pod/test_support.h"

namespace nave::agent {
namespace {

using testing::basePod;
using testing::configMapObject;
using testing::FakeObjectSource;
using testing::modeOf;
using testing::readFile;
using testing::ScratchDir;
using testing::secretObject;
using testing::writeFile;

gid_t groupOf(const std::string& path) {
  struct stat st {};
  ::lstat(path.c_str(), &st);
  return st.st_gid;
}

uint64_t fsSize(const std::string& path) {
  struct statvfs vfs {};
  if (::statvfs(path.c_str(), &vfs) != 0) return 0;
  return static_cast<uint64_t>(vfs.f_blocks) * vfs.f_frsize;
}

std::set<std::string> visibleNames(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (!name.starts_with("..")) out.insert(name);
  }
  return out;
}

class VolumesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pods_ = scratch_ / "pods";
    auto m = VolumeManager::open(pods_, objects_);
    ASSERT_TRUE(m.ok()) << m.error().message();
    manager_ = std::move(*m);
    pod_ = basePod();
    facts_.nodeAllocatableMemoryBytes = 1LL << 30;
    facts_.nodeAllocatableMilliCpu = 2000;
  }
  void TearDown() override {
    if (manager_) {
      EXPECT_TRUE(manager_->tearDown("uid-1").ok());
    }
  }

  void addVolume(const std::string& json) { pod_["spec"]["volumes"].push_back(Json::parse(json)); }

  std::map<std::string, std::string> setUpOk() {
    auto r = manager_->setUp(pod_, facts_);
    EXPECT_TRUE(r.ok()) << r.error().message();
    return r.ok() ? *r : std::map<std::string, std::string>{};
  }

  std::string setUpError() {
    auto r = manager_->setUp(pod_, facts_);
    EXPECT_FALSE(r.ok());
    return r.ok() ? "" : r.error().message();
  }

  std::string volumeDir(const std::string& plugin, const std::string& name) {
    return pods_ + "/uid-1/volumes/kubernetes.io~" + plugin + "/" + name;
  }

  ScratchDir scratch_;
  std::string pods_;
  FakeObjectSource objects_;
  std::unique_ptr<VolumeManager> manager_;
  Json pod_;
  PodFacts facts_;
};

TEST_F(VolumesTest, OpenNeedsAnAbsoluteDirectory) {
  FakeObjectSource objects;
  EXPECT_FALSE(VolumeManager::open("relative/pods", objects).ok());
  EXPECT_TRUE(std::filesystem::is_directory(pods_));
}

TEST_F(VolumesTest, EmptyDirOnDisk) {
  addVolume(R"({"name": "data", "emptyDir": {}})");
  addVolume(R"({"name": "defaulted"})");
  auto paths = setUpOk();
  std::string dir = volumeDir("empty-dir", "data");
  EXPECT_EQ(paths["data"], dir);
  EXPECT_EQ(paths["defaulted"], volumeDir("empty-dir", "defaulted")) << "no source: emptyDir";
  EXPECT_EQ(modeOf(dir), 0777u);
  EXPECT_TRUE(std::filesystem::exists(pods_ + "/uid-1/plugins/kubernetes.io~empty-dir/data/ready"));
  writeFile(dir + "/kept", "x");
  setUpOk();
  EXPECT_EQ(readFile(dir + "/kept"), "x") << "setUp is idempotent";
  EXPECT_TRUE(manager_->tearDown("uid-1").ok());
  EXPECT_FALSE(std::filesystem::exists(pods_ + "/uid-1"));
  EXPECT_TRUE(manager_->tearDown("uid-1").ok()) << "missing is fine";
  EXPECT_FALSE(manager_->tearDown("../etc").ok());
}

TEST_F(VolumesTest, EmptyDirMediumErrors) {
  addVolume(R"({"name": "data", "emptyDir": {"medium": "Disk"}})");
  EXPECT_EQ(setUpError(),
            "MountVolume.SetUp failed for volume \"data\" : unknown storage medium \"Disk\"");
  pod_["spec"]["volumes"][0]["emptyDir"]["medium"] = "HugePages-2Mi";
  EXPECT_NE(setUpError().find("emptyDir medium HugePages-2Mi is not supported"), std::string::npos);
  pod_["spec"]["volumes"][0] =
      Json::parse(R"({"name": "data", "emptyDir": {"medium": "Memory", "sizeLimit": "1 Gi"}})");
  EXPECT_NE(setUpError().find("invalid quantity \"1 Gi\""), std::string::npos);
}

TEST_F(VolumesTest, MemoryEmptyDirIsASizedTmpfsThatTearDownUnmounts) {
  if (!testing::isRoot()) GTEST_SKIP() << "SKIPPED: mounting a tmpfs needs root";
  addVolume(R"({"name": "limited", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}})");
  addVolume(R"({"name": "node", "emptyDir": {"medium": "Memory"}})");
  addVolume(R"({"name": "above", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}})");
  auto paths = setUpOk();
  for (const char* name : {"limited", "node", "above"}) {
    EXPECT_TRUE(*hostfs::isTmpfsMountPoint(paths[name])) << name;
  }
  EXPECT_EQ(fsSize(paths["limited"]), 64u << 20);
  EXPECT_EQ(fsSize(paths["node"]), 1u << 30) << "the node's allocatable memory";
  EXPECT_EQ(fsSize(paths["above"]), 1u << 30) << "sizeLimit only when smaller";
  EXPECT_EQ(modeOf(paths["node"]), 01777u) << "a tmpfs root, as the kubelet's";
  writeFile(paths["node"] + "/f", "in memory");
  setUpOk();
  EXPECT_EQ(readFile(paths["node"] + "/f"), "in memory") << "not mounted twice";
  EXPECT_EQ(hostfs::mountPointsUnder(pods_)->size(), 3u);

  ASSERT_TRUE(manager_->tearDown("uid-1").ok());
  EXPECT_TRUE(hostfs::mountPointsUnder(pods_)->empty());
  EXPECT_FALSE(std::filesystem::exists(pods_ + "/uid-1"));
}

TEST_F(VolumesTest, MemoryEmptyDirFollowsThePodMemoryLimit) {
  if (!testing::isRoot()) GTEST_SKIP() << "SKIPPED: mounting a tmpfs needs root";
  pod_["spec"]["containers"][0]["resources"] = {{"limits", {{"memory", "128Mi"}}}};
  addVolume(R"({"name": "m", "emptyDir": {"medium": "Memory"}})");
  EXPECT_EQ(fsSize(setUpOk()["m"]), 128u << 20);
}

TEST_F(VolumesTest, EmptyDirFsGroup) {
  if (!testing::isRoot()) GTEST_SKIP() << "SKIPPED: changing a directory's group needs root";
  pod_["spec"]["securityContext"] = {{"fsGroup", 2000}};
  addVolume(R"({"name": "data", "emptyDir": {}})");
  std::string dir = setUpOk()["data"];
  EXPECT_EQ(groupOf(dir), 2000u);
  EXPECT_EQ(modeOf(dir), 02777u) << "setgid, so new files get the group";
  pod_["spec"]["securityContext"]["fsGroup"] = -5;
  EXPECT_NE(setUpError().find("invalid fsGroup -5"), std::string::npos);
}

TEST_F(VolumesTest, BadVolumesAndPods) {
  addVolume(R"({"name": "share", "nfs": {"server": "x", "path": "/"}})");
  EXPECT_EQ(setUpError(),
            "MountVolume.SetUp failed for volume \"share\" : no volume plugin "
            "matched: volume type \"nfs\" is not supported");
  pod_["spec"]["volumes"] = Json::parse(R"([{"name": "../x", "emptyDir": {}}])");
  EXPECT_NE(setUpError().find("invalid volume name \"../x\""), std::string::npos);
  pod_["spec"]["volumes"] = Json::array();
  pod_["metadata"]["uid"] = "a/b";
  EXPECT_NE(setUpError().find("pod has no usable metadata.uid"), std::string::npos);
}

TEST_F(VolumesTest, HostPathTypeChecks) {
  std::string base = scratch_ / "host";
  std::filesystem::create_directories(base + "/dir");
  writeFile(base + "/file", "f");
  int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string sockPath = base + "/sock";
  std::strncpy(addr.sun_path, sockPath.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);

  struct Case {
    std::string path, type, error;  // error empty: accepted
  } cases[] = {
      {base + "/dir", "Directory", ""},
      {base + "/dir", "DirectoryOrCreate", ""},
      {base + "/new/deeper", "DirectoryOrCreate", ""},
      {base + "/file", "Directory",
       "hostPath type check failed: " + base + "/file is not a directory"},
      {base + "/missing", "Directory",
       "hostPath type check failed: " + base + "/missing is not a directory"},
      {base + "/file", "File", ""},
      {base + "/file", "FileOrCreate", ""},
      {base + "/created", "FileOrCreate", ""},
      {base + "/nodir/created", "FileOrCreate",
       "open " + base + "/nodir/created: No such file or directory"},
      {base + "/dir", "File", "hostPath type check failed: " + base + "/dir is not a file"},
      {base + "/sock", "Socket", ""},
      {base + "/file", "Socket",
       "hostPath type check failed: " + base + "/file is not a socket file"},
      {"/dev/null", "CharDevice", ""},
      {base + "/file", "CharDevice",
       "hostPath type check failed: " + base + "/file is not a character device"},
      {"/dev/null", "BlockDevice", "hostPath type check failed: /dev/null is not a block device"},
      {base + "/file", "Weird", "Weird is an invalid volume type"},
      {base + "/whatever", "", ""},
      {base + "/dir/../file", "",
       "invalid HostPath `" + base + "/dir/../file`: must not contain '..'"},
      {"relative/path", "", "invalid HostPath `relative/path`: must be an absolute path"},
  };
  for (const Case& c : cases) {
    pod_["spec"]["volumes"] =
        Json::array({{{"name", "h"}, {"hostPath", {{"path", c.path}, {"type", c.type}}}}});
    auto r = manager_->setUp(pod_, facts_);
    if (c.error.empty()) {
      ASSERT_TRUE(r.ok()) << c.path << " " << c.type << ": " << r.error().message();
      EXPECT_EQ((*r)["h"], c.path);
    } else {
      ASSERT_FALSE(r.ok()) << c.path << " " << c.type;
      EXPECT_EQ(r.error().message(), "MountVolume.SetUp failed for volume \"h\" : " + c.error);
    }
  }
  ::close(sock);
  EXPECT_TRUE(std::filesystem::is_directory(base + "/new/deeper"));
  EXPECT_EQ(modeOf(base + "/new/deeper"), 0755u);
  EXPECT_TRUE(std::filesystem::is_regular_file(base + "/created"));
  EXPECT_EQ(readFile(base + "/file"), "f") << "FileOrCreate leaves an existing file alone";
}

TEST_F(VolumesTest, ConfigMapVolume) {
  objects_.configMaps["ns1/cfg"] =
      configMapObject("ns1", "cfg", {{"app.conf", "x=1\n"}, {"other", "o"}},
                      {{"blob.bin", base64Encode(std::string("\0\1\2", 3))}});
  addVolume(R"({"name": "cfg", "configMap": {"name": "cfg", "defaultMode": 256}})");
  std::string dir = setUpOk()["cfg"];
  EXPECT_EQ(dir, volumeDir("configmap", "cfg"));
  EXPECT_EQ(visibleNames(dir), (std::set<std::string>{"app.conf", "other", "blob.bin"}));
  EXPECT_EQ(readFile(dir + "/app.conf"), "x=1\n");
  EXPECT_EQ(readFile(dir + "/blob.bin"), std::string("\0\1\2", 3));
  EXPECT_EQ(modeOf(dir + "/..data/other"), 0400u);
  EXPECT_FALSE(*hostfs::isMountPoint(dir)) << "configMaps stay on the disk";

  pod_["spec"]["volumes"][0]["configMap"] = Json::parse(
      R"({"name": "cfg", "items": [{"key": "app.conf", "path": "conf/app.conf", "mode": 384},
                                   {"key": "blob.bin", "path": "b"}]})");
  setUpOk();
  EXPECT_EQ(visibleNames(dir), (std::set<std::string>{"conf", "b"}));
  EXPECT_EQ(readFile(dir + "/conf/app.conf"), "x=1\n");
  EXPECT_EQ(modeOf(dir + "/..data/conf/app.conf"), 0600u);
  EXPECT_EQ(modeOf(dir + "/..data/b"), 0644u) << "defaultMode defaults to 0644";
}

TEST_F(VolumesTest, ConfigMapErrorsAndOptional) {
  objects_.configMaps["ns1/cfg"] = configMapObject("ns1", "cfg", {{"a", "1"}});
  addVolume(R"({"name": "cfg", "configMap": {"name": "missing"}})");
  EXPECT_EQ(setUpError(),
            "MountVolume.SetUp failed for volume \"cfg\" : configmap \"missing\" not found");
  EXPECT_FALSE(std::filesystem::exists(volumeDir("configmap", "cfg"))) << "nothing left behind";
  pod_["spec"]["volumes"][0]["configMap"] =
      Json::parse(R"({"name": "cfg", "items": [{"key": "k", "path": "k"}]})");
  EXPECT_EQ(setUpError(),
            "MountVolume.SetUp failed for volume \"cfg\" : configmap references "
            "non-existent config key: k");
  pod_["spec"]["volumes"][0]["configMap"]["optional"] = true;
  EXPECT_TRUE(visibleNames(setUpOk()["cfg"]).empty()) << "optional: missing keys are skipped";
  pod_["spec"]["volumes"][0]["configMap"] = Json::parse(R"({"name": "missing", "optional": true})");
  EXPECT_TRUE(visibleNames(setUpOk()["cfg"]).empty()) << "optional: an empty volume";
  pod_["spec"]["volumes"][0]["configMap"] = Json::parse(R"({"name": "cfg", "defaultMode": 512})");
  EXPECT_NE(setUpError().find("invalid defaultMode 512: must be a number between 0 and 0777"),
            std::string::npos);
  pod_["spec"]["volumes"][0]["configMap"] =
      Json::parse(R"({"name": "cfg", "items": [{"key": "a", "path": "../a"}]})");
  EXPECT_NE(setUpError().find("invalid path: must not contain '..': ../a"), std::string::npos);
}

TEST_F(VolumesTest, AtomicVolumesGetFsGroupReadBits) {
  if (!testing::isRoot()) GTEST_SKIP() << "SKIPPED: changing groups needs root";
  pod_["spec"]["securityContext"] = {{"fsGroup", 3000}};
  objects_.configMaps["ns1/cfg"] = configMapObject("ns1", "cfg", {{"a", "1"}});
  addVolume(R"({"name": "cfg", "configMap": {"name": "cfg", "defaultMode": 256}})");
  std::string dir = setUpOk()["cfg"];
  EXPECT_EQ(groupOf(dir + "/..data/a"), 3000u);
  EXPECT_EQ(modeOf(dir + "/..data/a"), 0440u) << "0400 plus the group's read bit";
  EXPECT_EQ(modeOf(dir + "/..data/"), 02755u);
  EXPECT_EQ(groupOf(dir), 3000u);
}

TEST_F(VolumesTest, SecretVolumeLivesOnATmpfs) {
  if (!testing::isRoot()) GTEST_SKIP() << "SKIPPED: secret volumes are tmpfs mounts (root)";
  objects_.secrets["ns1/tls"] =
      secretObject("ns1", "tls", {{"tls.crt", "CERT"}, {"tls.key", "KEY"}});
  addVolume(R"({"name": "certs", "secret": {"secretName": "tls", "defaultMode": 288,
                "items": [{"key": "tls.key", "path": "key.pem", "mode": 256}, {"key": "tls.crt", "path": "cert.pem"}]}})");
  std::string dir = setUpOk()["certs"];
  EXPECT_EQ(dir, volumeDir("secret", "certs"));
  EXPECT_TRUE(*hostfs::isTmpfsMountPoint(dir));
  EXPECT_EQ(fsSize(dir), 1u << 30) << "sized as the node's allocatable memory";
  EXPECT_EQ(readFile(dir + "/key.pem"), "KEY");
  EXPECT_EQ(readFile(dir + "/cert.pem"), "CERT");
  EXPECT_EQ(modeOf(dir + "/..data/key.pem"), 0400u);
  EXPECT_EQ(modeOf(dir + "/..data/cert.pem"), 0440u);
  ASSERT_TRUE(manager_->tearDown("uid-1").ok());
  EXPECT_TRUE(hostfs::mountPointsUnder(pods_)->empty());
}

TEST_F(VolumesTest, SecretErrorsLeaveNothingMounted) {
  if (!testing::isRoot()) GTEST_SKIP() << "SKIPPED: secret volumes are tmpfs mounts (root)";
  addVolume(R"({"name": "s", "secret": {"secretName": "nope"}})");
  EXPECT_EQ(setUpError(), "MountVolume.SetUp failed for volume \"s\" : secret \"nope\" not found");
  objects_.secrets["ns1/one"] = secretObject("ns1", "one", {{"a", "1"}});
  pod_["spec"]["volumes"][0]["secret"] =
      Json::parse(R"({"secretName": "one", "items": [{"key": "b", "path": "b"}]})");
  EXPECT_EQ(setUpError(),
            "MountVolume.SetUp failed for volume \"s\" : references non-existent secret key: b");
  objects_.secrets["ns1/bad"] =
      Json::parse(R"({"metadata": {"namespace": "ns1", "name": "bad"}, "data": {"k": "%%%"}})");
  pod_["spec"]["volumes"][0]["secret"] = Json::parse(R"({"secretName": "bad"})");
  EXPECT_NE(setUpError().find("the value of key k is not valid base64"), std::string::npos);
  // A failure after the tmpfs was mounted (a payload path the writer refuses) unmounts it.
  pod_["spec"]["volumes"][0]["secret"] =
      Json::parse(R"({"secretName": "one", "items": [{"key": "a", "path": "..a"}]})");
  EXPECT_NE(setUpError().find("must not start with '..'"), std::string::npos);
  EXPECT_TRUE(hostfs::mountPointsUnder(pods_)->empty());
  EXPECT_FALSE(std::filesystem::exists(volumeDir("secret", "s")));
  pod_["spec"]["volumes"][0]["secret"] = Json::parse(R"({"secretName": "nope", "optional": true})");
  EXPECT_TRUE(visibleNames(setUpOk()["s"]).empty());
}

TEST_F(VolumesTest, DownwardApiVolume) {
  pod_["spec"]["containers"][0]["resources"] = {{"limits", {{"memory", "64Mi"}}},
                                                {"requests", {{"cpu", "250m"}}}};
  addVolume(R"({"name": "info", "downwardAPI": {"defaultMode": 420, "items": [
      {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
      {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}},
      {"path": "meta/name", "fieldRef": {"fieldPath": "metadata.name"}, "mode": 256},
      {"path": "./app", "fieldRef": {"fieldPath": "metadata.labels['app']"}},
      {"path": "mem", "resourceFieldRef": {"containerName": "app", "resource": "limits.memory", "divisor": "1Mi"}},
      {"path": "cpu", "resourceFieldRef": {"containerName": "app", "resource": "limits.cpu", "divisor": "1m"}}
  ]}})");
  std::string dir = setUpOk()["info"];
  EXPECT_EQ(dir, volumeDir("downward-api", "info"));
  EXPECT_EQ(readFile(dir + "/labels"), "app=\"web\"\ntier=\"front\"");
  EXPECT_EQ(readFile(dir + "/annotations"), "note=\"a \\\"quoted\\\" value\"");
  EXPECT_EQ(readFile(dir + "/meta/name"), "web");
  EXPECT_EQ(modeOf(dir + "/..data/meta/name"), 0400u);
  EXPECT_EQ(readFile(dir + "/app"), "web");
  EXPECT_EQ(readFile(dir + "/mem"), "64");
  EXPECT_EQ(readFile(dir + "/cpu"), "2000") << "the limit defaults to the node's allocatable";

  // Labels change: the file follows on refresh.
  pod_["metadata"]["labels"]["app"] = "web2";
  auto changed = manager_->refresh(pod_, facts_);
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(*changed);
  EXPECT_EQ(readFile(dir + "/app"), "web2");
  EXPECT_FALSE(*manager_->refresh(pod_, facts_));

  pod_["spec"]["volumes"][0]["downwardAPI"]["items"] = Json::parse(R"([
      {"path": "a", "fieldRef": {"fieldPath": "spec.nodeName"}},
      {"path": "b", "resourceFieldRef": {"containerName": "ghost", "resource": "limits.cpu"}}])");
  EXPECT_EQ(setUpError(),
            "MountVolume.SetUp failed for volume \"info\" : [unsupported fieldPath: "
            "spec.nodeName, container ghost not found]");
}

TEST_F(VolumesTest, ProjectedVolume) {
  if (!testing::isRoot()) GTEST_SKIP() << "SKIPPED: projected volumes are tmpfs mounts (root)";
  objects_.configMaps["ns1/kube-root-ca.crt"] =
      configMapObject("ns1", "kube-root-ca.crt", {{"ca.crt", "CA"}});
  objects_.secrets["ns1/s"] = secretObject("ns1", "s", {{"user", "u"}, {"pass", "p"}});
  addVolume(R"({"name": "kube-api-access", "projected": {"defaultMode": 420, "sources": [
      {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
      {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
      {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
      {"secret": {"name": "s", "items": [{"key": "user", "path": "namespace", "mode": 384}]}},
      {"secret": {"name": "absent", "optional": true}}
  ]}})");
  std::string dir = setUpOk()["kube-api-access"];
  EXPECT_EQ(dir, volumeDir("projected", "kube-api-access"));
  EXPECT_TRUE(*hostfs::isTmpfsMountPoint(dir));
  EXPECT_EQ(visibleNames(dir), (std::set<std::string>{"ca.crt", "namespace"}))
      << "no token yet (the TokenRequest API comes later)";
  EXPECT_EQ(readFile(dir + "/ca.crt"), "CA");
  EXPECT_EQ(readFile(dir + "/namespace"), "u") << "later sources win";
  EXPECT_EQ(modeOf(dir + "/..data/namespace"), 0600u);

  pod_["spec"]["volumes"][0]["projected"]["sources"] = Json::parse(R"([
      {"configMap": {"name": "gone"}}, {"secret": {"name": "gone"}}])");
  EXPECT_EQ(setUpError(),
            "MountVolume.SetUp failed for volume \"kube-api-access\" : "
            "[configmap \"gone\" not found, secret \"gone\" not found]");
  EXPECT_EQ(readFile(dir + "/ca.crt"), "CA") << "a volume that served before keeps its content";
}

TEST_F(VolumesTest, RefreshRewritesChangedConfigMaps) {
  objects_.configMaps["ns1/cfg"] = configMapObject("ns1", "cfg", {{"a", "1"}});
  addVolume(R"({"name": "cfg", "configMap": {"name": "cfg"}})");
  addVolume(R"({"name": "scratch", "emptyDir": {}})");
  std::string dir = setUpOk()["cfg"];
  EXPECT_FALSE(*manager_->refresh(pod_, facts_));
  objects_.configMaps["ns1/cfg"] = configMapObject("ns1", "cfg", {{"a", "2"}, {"b", "3"}});
  auto changed = manager_->refresh(pod_, facts_);
  ASSERT_TRUE(changed.ok()) << changed.error().message();
  EXPECT_TRUE(*changed);
  EXPECT_EQ(readFile(dir + "/a"), "2");
  EXPECT_EQ(readFile(dir + "/b"), "3");
  objects_.configMaps.clear();
  auto gone = manager_->refresh(pod_, facts_);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().message(),
            "MountVolume.SetUp failed for volume \"cfg\" : configmap \"cfg\" not found");
  EXPECT_EQ(readFile(dir + "/a"), "2") << "the last content stays";
}

TEST_F(VolumesTest, NestedMountPointsAreCreatedInReadOnlyVolumes) {
  objects_.configMaps["ns1/cfg"] = configMapObject("ns1", "cfg", {{"a", "1"}});
  addVolume(R"({"name": "cfg", "configMap": {"name": "cfg"}})");
  addVolume(R"({"name": "extra", "emptyDir": {}})");
  addVolume(R"({"name": "deeper", "emptyDir": {}})");
  pod_["spec"]["containers"][0]["volumeMounts"] = Json::parse(R"([
      {"name": "cfg", "mountPath": "/etc/app/"},
      {"name": "extra", "mountPath": "/etc/app/extra"},
      {"name": "deeper", "mountPath": "/etc/app/extra/more"}])");
  std::string dir = setUpOk()["cfg"];
  EXPECT_TRUE(std::filesystem::is_directory(dir + "/extra"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/extra/more")) << "only the first level";
  EXPECT_EQ(readFile(dir + "/a"), "1");
}

class ClaimsTest : public VolumesTest {
 protected:
  void SetUp() override {
    VolumesTest::SetUp();
    std::filesystem::create_directories(scratch_ / "pv-data");
    objects_.claims["ns1/claim"] =
        Json::parse(R"({"metadata": {"namespace": "ns1", "name": "claim", "uid": "claim-uid"},
        "spec": {"volumeName": "pv1"}, "status": {"phase": "Bound"}})");
    objects_.volumes["pv1"] = {
        {"metadata", {{"name", "pv1"}}},
        {"spec",
         {{"claimRef", {{"uid", "claim-uid"}}},
          {"hostPath", {{"path", scratch_ / "pv-data"}, {"type", "Directory"}}}}}};
    addVolume(R"({"name": "data", "persistentVolumeClaim": {"claimName": "claim"}})");
  }
  std::string prefix() {
    return "MountVolume.SetUp failed for volume \"data\" : error processing PVC ns1/claim: ";
  }
};

TEST_F(ClaimsTest, HostPathVolume) {
  EXPECT_EQ(setUpOk()["data"], scratch_ / "pv-data");
}

TEST_F(ClaimsTest, LocalVolumeWithFsGroup) {
  objects_.volumes["pv1"]["spec"].erase("hostPath");
  objects_.volumes["pv1"]["spec"]["local"] = {{"path", scratch_ / "pv-data"}};
  EXPECT_EQ(setUpOk()["data"], scratch_ / "pv-data");
  if (!testing::isRoot()) GTEST_SKIP() << "SKIPPED: fsGroup on a local volume needs root";
  pod_["spec"]["securityContext"] = {{"fsGroup", 5000}};
  setUpOk();
  EXPECT_EQ(groupOf(scratch_ / "pv-data"), 5000u);
  objects_.volumes["pv1"]["spec"]["local"]["path"] = scratch_ / "nope";
  EXPECT_NE(
      setUpError().find("local volume pv1: path \"" + (scratch_ / "nope") + "\" does not exist"),
      std::string::npos);
}

TEST_F(ClaimsTest, ClaimErrors) {
  objects_.claims["ns1/claim"]["status"]["phase"] = "Pending";
  EXPECT_EQ(setUpError(), prefix() + "PVC is not bound");
  objects_.claims["ns1/claim"]["status"]["phase"] = "Bound";
  objects_.claims["ns1/claim"]["spec"]["volumeName"] = "";
  EXPECT_EQ(setUpError(), prefix() + "PVC has empty pvc.Spec.VolumeName");
  objects_.claims["ns1/claim"]["spec"]["volumeName"] = "pv2";
  EXPECT_EQ(
      setUpError(),
      prefix() + "failed to fetch PV pv2 from API server: persistentvolumes \"pv2\" not found");
  objects_.claims["ns1/claim"]["spec"]["volumeName"] = "pv1";
  objects_.volumes["pv1"]["spec"]["claimRef"]["uid"] = "other";
  EXPECT_EQ(setUpError(), prefix() +
                              "found PV object pv1 but its pv.Spec.ClaimRef.UID other does not "
                              "point to claim.UID claim-uid");
  objects_.volumes["pv1"]["spec"].erase("claimRef");
  EXPECT_EQ(setUpError(), prefix() +
                              "found PV object pv1 but it has a nil pv.Spec.ClaimRef indicating it "
                              "is not yet bound to the claim");
  objects_.claims["ns1/claim"]["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z";
  EXPECT_EQ(setUpError(), prefix() + "PVC is being deleted");
  objects_.claims.clear();
  EXPECT_EQ(
      setUpError(),
      prefix() + "failed to fetch PVC from API server: persistentvolumeclaims \"claim\" not found");
}

TEST_F(ClaimsTest, OtherPersistentVolumesAreRefused) {
  objects_.volumes["pv1"]["spec"].erase("hostPath");
  objects_.volumes["pv1"]["spec"]["nfs"] = {{"server", "s"}, {"path", "/"}};
  EXPECT_EQ(setUpError(), prefix() + "PV pv1 is neither a hostPath nor a local volume");
}

}  // namespace
}  // namespace nave::agent
