// containerMounts: volume mounts, subPath safety and bind mounts, the pod files and the
// termination message file.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "runtime/agent/pod/host_fs.h"
#include "runtime/agent/pod/pod_spec.h"
#include "tests/runtime/agent/pod/test_support.h"

namespace nave::agent {
namespace {

using testing::basePod;
using testing::modeOf;
using testing::readFile;
using testing::ScratchDir;
using testing::writeFile;

class MountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pod_ = basePod();
    pod_["spec"]["volumes"] = Json::parse(R"([
        {"name": "data", "emptyDir": {}},
        {"name": "cfg", "configMap": {"name": "cfg"}},
        {"name": "claim", "persistentVolumeClaim": {"claimName": "c", "readOnly": true}}])");
    for (const char* d : {"data", "cfg", "claim", "pod"}) {
      std::filesystem::create_directories(scratch_ / d);
      volumes_[d] = scratch_ / d;
    }
    volumes_.erase("pod");
    files_.podDir = scratch_ / "pod";
    files_.hosts = scratch_ / "pod/etc-hosts";
    files_.hostname = scratch_ / "pod/etc-hostname";
    files_.resolvConf = scratch_ / "pod/resolv.conf";
    for (const std::string& f : {files_.hosts, files_.hostname, files_.resolvConf})
      writeFile(f, "x");
  }

  Json& container() { return pod_["spec"]["containers"][0]; }
  void mountsOf(const std::string& json) { container()["volumeMounts"] = Json::parse(json); }

  Result<std::vector<runtime::Mount>> mounts(const std::vector<std::string>& env = {},
                                             const std::string& terminationLog = "") {
    return containerMounts(pod_, container(), volumes_, env, files_, terminationLog);
  }
  std::vector<runtime::Mount> mountsOk(const std::vector<std::string>& env = {},
                                       const std::string& terminationLog = "") {
    auto r = mounts(env, terminationLog);
    EXPECT_TRUE(r.ok()) << r.error().message();
    return r.ok() ? *r : std::vector<runtime::Mount>{};
  }
  std::string errorOf(const std::vector<std::string>& env = {}) {
    auto r = mounts(env);
    EXPECT_FALSE(r.ok());
    return r.ok() ? "" : r.error().message();
  }
  // The mount at `dst`, or an empty one.
  static const runtime::Mount& at(const std::vector<runtime::Mount>& ms, const std::string& dst) {
    static const runtime::Mount kNone;
    for (const auto& m : ms) {
      if (m.destination == dst) return m;
    }
    return kNone;
  }
  static bool has(const std::vector<runtime::Mount>& ms, const std::string& dst) {
    return !at(ms, dst).destination.empty();
  }

  ScratchDir scratch_;
  Json pod_;
  std::map<std::string, std::string> volumes_;
  PodFilePaths files_;
};

using Options = std::vector<std::string>;

TEST_F(MountsTest, VolumeMountsAndPodFiles) {
  mountsOf(R"([{"name": "data", "mountPath": "/data"},
               {"name": "cfg", "mountPath": "/etc/cfg"},
               {"name": "data", "mountPath": "cache", "readOnly": true},
               {"name": "claim", "mountPath": "/claim"}])");
  auto ms = mountsOk();
  ASSERT_EQ(ms.size(), 7u);
  EXPECT_EQ(ms[0].destination, "/data");
  EXPECT_EQ(ms[0].source, scratch_ / "data");
  EXPECT_EQ(ms[0].type, "bind");
  EXPECT_EQ(ms[0].options, (Options{"rbind", "rprivate"}));
  EXPECT_EQ(at(ms, "/etc/cfg").options, (Options{"rbind", "rprivate", "ro"}))
      << "configMap volumes are read-only";
  EXPECT_EQ(at(ms, "/cache").options, (Options{"rbind", "rprivate", "ro"}));
  EXPECT_EQ(at(ms, "/claim").options, (Options{"rbind", "rprivate", "ro"})) << "a read-only claim";
  EXPECT_EQ(at(ms, "/etc/hosts").source, files_.hosts);
  EXPECT_EQ(at(ms, "/etc/hosts").options, (Options{"rbind", "rprivate"}));
  EXPECT_EQ(at(ms, "/etc/hostname").source, files_.hostname);
  EXPECT_EQ(at(ms, "/etc/resolv.conf").source, files_.resolvConf);
}

TEST_F(MountsTest, ShallowDestinationsComeFirst) {
  mountsOf(R"([{"name": "data", "mountPath": "/a/b/c"}, {"name": "cfg", "mountPath": "/a"},
               {"name": "claim", "mountPath": "/a/b"}])");
  auto ms = mountsOk();
  std::vector<std::string> order;
  for (const auto& m : ms) order.push_back(m.destination);
  EXPECT_EQ(order, (std::vector<std::string>{"/a", "/a/b", "/etc/hosts", "/etc/hostname",
                                             "/etc/resolv.conf", "/a/b/c"}));
}

TEST_F(MountsTest, ContainersMountingPodFilePathsKeepTheirs) {
  mountsOf(R"([{"name": "data", "mountPath": "/etc/hosts", "subPath": ""},
               {"name": "cfg", "mountPath": "/etc/resolv.conf/"}])");
  container()["securityContext"] = {{"readOnlyRootFilesystem", true}};
  auto ms = mountsOk();
  ASSERT_EQ(ms.size(), 3u);
  EXPECT_EQ(at(ms, "/etc/hosts").source, scratch_ / "data");
  EXPECT_EQ(at(ms, "/etc/resolv.conf/").source, scratch_ / "cfg");
  EXPECT_EQ(at(ms, "/etc/hostname").options, (Options{"rbind", "rprivate", "ro"}))
      << "read-only with a read-only root, as containerd mounts it";
  files_.hosts.clear();
  mountsOf("[]");
  ms = mountsOk();
  EXPECT_FALSE(has(ms, "/etc/hosts")) << "no pod IP yet: no managed hosts file";
  files_.hostname = scratch_ / "pod/missing";
  EXPECT_FALSE(has(mountsOk(), "/etc/hostname"));
}

TEST_F(MountsTest, MissingVolumesAndPaths) {
  mountsOf(R"([{"name": "nope", "mountPath": "/x"}])");
  EXPECT_EQ(errorOf(), "cannot find volume \"nope\" to mount into container \"app\"");
  mountsOf(R"([{"name": "data"}])");
  EXPECT_EQ(errorOf(), "volumeMount \"data\" of container \"app\" has no mountPath");
}

TEST_F(MountsTest, Propagation) {
  mountsOf(R"([{"name": "data", "mountPath": "/a", "mountPropagation": "None"},
               {"name": "data", "mountPath": "/b", "mountPropagation": "HostToContainer"},
               {"name": "data", "mountPath": "/c", "mountPropagation": "Bidirectional"}])");
  auto ms = mountsOk();
  EXPECT_EQ(at(ms, "/a").options[1], "rprivate");
  EXPECT_EQ(at(ms, "/b").options[1], "rslave");
  EXPECT_EQ(at(ms, "/c").options[1], "rshared");
  mountsOf(R"([{"name": "data", "mountPath": "/a", "mountPropagation": "Sideways"}])");
  EXPECT_EQ(errorOf(), "invalid MountPropagation mode: \"Sideways\"");
}

TEST_F(MountsTest, RecursiveReadOnly) {
  mountsOf(
      R"([{"name": "data", "mountPath": "/a", "readOnly": true, "recursiveReadOnly": "Enabled"},
               {"name": "data", "mountPath": "/b", "readOnly": true, "recursiveReadOnly": "IfPossible"},
               {"name": "data", "mountPath": "/c", "readOnly": true, "recursiveReadOnly": "Disabled"}])");
  auto ms = mountsOk();
  EXPECT_EQ(at(ms, "/a").options, (Options{"rbind", "rprivate", "ro", "rro"}));
  EXPECT_EQ(at(ms, "/b").options, (Options{"rbind", "rprivate", "ro", "rro"}));
  EXPECT_EQ(at(ms, "/c").options, (Options{"rbind", "rprivate", "ro"}));
  mountsOf(R"([{"name": "data", "mountPath": "/a", "recursiveReadOnly": "Enabled"}])");
  EXPECT_EQ(errorOf(),
            "failed to resolve recursive read-only mode: volume \"data\" requested "
            "recursive read-only mode, but it is not read-only");
  mountsOf(R"([{"name": "data", "mountPath": "/a", "readOnly": true, "recursiveReadOnly": "Enabled",
                "mountPropagation": "HostToContainer"}])");
  EXPECT_EQ(errorOf(),
            "failed to resolve recursive read-only mode: volume \"data\" requested "
            "recursive read-only mode, but it is not compatible with propagation "
            "\"HostToContainer\"");
  mountsOf(
      R"([{"name": "data", "mountPath": "/a", "readOnly": true, "recursiveReadOnly": "Maybe"}])");
  EXPECT_EQ(
      errorOf(),
      "failed to resolve recursive read-only mode: unknown recursive read-only mode \"Maybe\"");
}

TEST_F(MountsTest, TerminationMessageFile) {
  container()["terminationMessagePath"] = "/dev/termination-log";
  std::string log = scratch_ / "pod/containers/app/0123";
  mode_t old = ::umask(077);
  auto ms = mountsOk({}, log);
  ::umask(old);
  ASSERT_TRUE(has(ms, "/dev/termination-log"));
  EXPECT_EQ(at(ms, "/dev/termination-log").source, log);
  EXPECT_EQ(modeOf(log), 0666u);
  writeFile(log, "last words");
  mountsOk({}, log);
  EXPECT_EQ(readFile(log), "last words") << "an existing file is kept";
  container().erase("terminationMessagePath");
  EXPECT_FALSE(has(mountsOk({}, log), "/dev/termination-log"));
}

TEST_F(MountsTest, SubPathsThatLeaveTheVolumeAreRefused) {
  std::string v = scratch_ / "data";
  std::filesystem::create_directories(scratch_ / "outside");
  ASSERT_EQ(::symlink("/etc", (v + "/abs").c_str()), 0);
  ASSERT_EQ(::symlink("../outside", (v + "/up").c_str()), 0);
  std::filesystem::create_directories(v + "/dir");
  ASSERT_EQ(::symlink("../..", (v + "/dir/twoup").c_str()), 0);
  struct Case {
    const char* subPath;
    std::string message;
  } cases[] = {
      {"../etc", "unable to provision SubPath `../etc`: must not contain '..'"},
      {"a/../../etc", "unable to provision SubPath `a/../../etc`: must not contain '..'"},
      {"/etc", "error SubPath `/etc` must not be an absolute path"},
      {"abs",
       "failed to prepare subPath for volumeMount \"data\" of container \"app\": path \"abs\" "
       "leads outside of its directory"},
      {"abs/passwd",
       "failed to prepare subPath for volumeMount \"data\" of container \"app\": path "
       "\"abs/passwd\" leads outside of its directory"},
      {"up",
       "failed to prepare subPath for volumeMount \"data\" of container \"app\": path \"up\" leads "
       "outside of its directory"},
      {"dir/twoup/outside",
       "failed to prepare subPath for volumeMount \"data\" of container \"app\": path "
       "\"dir/twoup/outside\" leads outside of its directory"},
      {"up/newdir",
       "failed to prepare subPath for volumeMount \"data\" of container \"app\": path "
       "\"up/newdir\" leads outside of its directory"},
  };
  for (const Case& c : cases) {
    container()["volumeMounts"] =
        Json::array({{{"name", "data"}, {"mountPath", "/x"}, {"subPath", c.subPath}}});
    EXPECT_EQ(errorOf(), c.message) << c.subPath;
  }
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "outside/newdir")) << "nothing created outside";
  mountsOf(R"J([{"name": "data", "mountPath": "/x", "subPathExpr": "$(DIR)/etc"}])J");
  EXPECT_EQ(errorOf({"DIR=.."}), "unable to provision SubPath `../etc`: must not contain '..'");
  EXPECT_EQ(errorOf({}), "missing value for DIR");
  EXPECT_EQ(errorOf({"DIR="}), "missing value for DIR") << "empty values count as missing";
  mountsOf(R"J([{"name": "data", "mountPath": "/x", "subPathExpr": "$(B)/$(A)/$(B)"}])J");
  EXPECT_EQ(errorOf(), "missing value for A, B");
  EXPECT_TRUE(hostfs::mountPointsUnder(scratch_.path())->empty());
}

TEST_F(MountsTest, SubPathsAreBoundFromTheCheckedDescriptor) {
  if (!testing::isRoot()) GTEST_SKIP() << "SKIPPED: subPath bind mounts need root";
  std::string v = scratch_ / "data";
  ASSERT_EQ(::chmod(v.c_str(), 02770), 0);
  std::filesystem::create_directories(v + "/logs");
  writeFile(v + "/config.ini", "k=v");
  ASSERT_EQ(::symlink("logs", (v + "/inner").c_str()), 0);
  mountsOf(R"J([{"name": "data", "mountPath": "/var/log/app", "subPath": "logs"},
               {"name": "data", "mountPath": "/etc/app.ini", "subPath": "config.ini"},
               {"name": "data", "mountPath": "/srv", "subPathExpr": "pods/$(POD_NAME)"},
               {"name": "data", "mountPath": "/inner", "subPath": "inner"}])J");
  mode_t old = ::umask(077);
  auto ms = mountsOk({"POD_NAME=web"});
  ::umask(old);
  std::string base = scratch_ / "pod/volume-subpaths/data/app/";
  EXPECT_EQ(at(ms, "/var/log/app").source, base + "0");
  EXPECT_EQ(at(ms, "/etc/app.ini").source, base + "1");
  EXPECT_EQ(at(ms, "/srv").source, base + "2");
  EXPECT_EQ(at(ms, "/inner").source, base + "3");
  writeFile(base + "0/through-the-bind", "seen");
  EXPECT_EQ(readFile(v + "/logs/through-the-bind"), "seen");
  EXPECT_EQ(readFile(base + "1"), "k=v");
  EXPECT_TRUE(std::filesystem::is_directory(v + "/pods/web")) << "a missing subPath is created";
  EXPECT_EQ(modeOf(v + "/pods/web"), 02770u) << "with the volume directory's mode";
  EXPECT_EQ(readFile(base + "3/through-the-bind"), "seen") << "a symlink inside is followed";
  EXPECT_EQ(hostfs::mountPointsUnder(scratch_ / "pod")->size(), 4u);

  // A restart of the container reuses the bind mounts; a subPath replaced meanwhile is bound anew.
  mountsOk({"POD_NAME=web"});
  EXPECT_EQ(hostfs::mountPointsUnder(scratch_ / "pod")->size(), 4u);
  std::filesystem::remove_all(v + "/logs");
  std::filesystem::create_directories(v + "/logs");
  writeFile(v + "/logs/new", "n");
  mountsOk({"POD_NAME=web"});
  EXPECT_EQ(readFile(base + "0/new"), "n");
  EXPECT_EQ(hostfs::mountPointsUnder(scratch_ / "pod")->size(), 4u);

  // Swapping the directory for a symlink out of the volume is refused, not followed.
  std::filesystem::remove_all(v + "/logs");
  ASSERT_EQ(::symlink("/etc", (v + "/logs").c_str()), 0);
  auto r = mounts({"POD_NAME=web"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("leads outside"), std::string::npos);
}

TEST_F(MountsTest, SubPathsNeedAPodDirectory) {
  files_.podDir.clear();
  mountsOf(R"([{"name": "data", "mountPath": "/x", "subPath": "a"}])");
  EXPECT_EQ(errorOf(),
            "failed to prepare subPath for volumeMount \"data\" of container \"app\": no "
            "pod directory for the subPath bind mount");
}

}  // namespace
}  // namespace nave::agent
