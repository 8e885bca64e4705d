// Pure parts of the container security settings: users and groups, capability sets,
// rlimits, mount options, cgroup conversions.
#include "runtime/container/sys/security.h"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/mount.h>

#include "runtime/container/sys/cgroups.h"
#include "runtime/container/sys/rootfs.h"

namespace nave::runtime::sys {
namespace {

const char* kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "# a comment\n"
    "\n"
    "user1:x:1000:1000:User One:/home/user1:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const char* kGroup =
    "root:x:0:\n"
    "wheel:x:10:root\n"
    "users:x:100:user1\n"
    "user1:x:1000:\n"
    "audio:x:29:user1,nobody\n"
    "nogroup:x:65534:\n";

TEST(ResolveUser, EmptyIsRootWithItsGroups) {
  auto u = resolveUser("", kPasswd, kGroup);
  ASSERT_TRUE(u.ok()) << u.error().message();
  EXPECT_EQ(u->uid, 0u);
  EXPECT_EQ(u->gid, 0u);
  EXPECT_EQ(u->home, "/root");
  EXPECT_EQ(u->supplementaryGroups, std::vector<uint32_t>{10});
}

TEST(ResolveUser, NameGivesUidGidHomeAndMemberships) {
  auto u = resolveUser("user1", kPasswd, kGroup);
  ASSERT_TRUE(u.ok()) << u.error().message();
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->gid, 1000u);
  EXPECT_EQ(u->home, "/home/user1");
  EXPECT_EQ(u->supplementaryGroups, (std::vector<uint32_t>{100, 29}));
}

TEST(ResolveUser, NumericUidFoundInPasswdIsThatUser) {
  auto u = resolveUser("65534", kPasswd, kGroup);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->uid, 65534u);
  EXPECT_EQ(u->gid, 65534u);
  EXPECT_EQ(u->supplementaryGroups, std::vector<uint32_t>{29});
}

TEST(ResolveUser, NumericIdsNeedNoEntries) {
  auto u = resolveUser("1234:5678", kPasswd, kGroup);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->uid, 1234u);
  EXPECT_EQ(u->gid, 5678u);
  EXPECT_TRUE(u->supplementaryGroups.empty());
  EXPECT_EQ(u->home, "/");
  // Without any passwd or group file too.
  auto bare = resolveUser("42:43", std::nullopt, std::nullopt);
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->uid, 42u);
  EXPECT_EQ(bare->gid, 43u);
}

TEST(ResolveUser, ExplicitGroupReplacesThePrimaryAndDropsMemberships) {
  auto u = resolveUser("user1:wheel", kPasswd, kGroup);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->gid, 10u);
  EXPECT_TRUE(u->supplementaryGroups.empty());
  auto numeric = resolveUser("user1:29", kPasswd, kGroup);
  ASSERT_TRUE(numeric.ok());
  EXPECT_EQ(numeric->gid, 29u);
}

TEST(ResolveUser, UnknownNamesFailAsRuncSays) {
  auto u = resolveUser("nobody2", kPasswd, kGroup);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().message(), "unable to find user nobody2: no matching entries in passwd file");
  auto g = resolveUser("user1:nogroup2", kPasswd, kGroup);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().message(), "unable to find group nogroup2: no matching entries in group file");
  EXPECT_FALSE(resolveUser("someone", std::nullopt, std::nullopt).ok());
  EXPECT_FALSE(resolveUser("4294967296", kPasswd, kGroup).ok());
}

TEST(Capabilities, DefaultSetIsDockers) {
  // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW
  // SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP.
  EXPECT_EQ(defaultCapabilities(), 0xa80425fbULL);
  auto caps = containerCapabilities({});
  ASSERT_TRUE(caps.ok());
  EXPECT_EQ(*caps, 0xa80425fbULL);
  EXPECT_FALSE(*caps & (1ULL << CAP_SYS_ADMIN));
}

TEST(Capabilities, AddAndDropByNameInEitherSpelling) {
  SecurityOptions s;
  s.capAdd = {"NET_ADMIN", "cap_sys_ptrace"};
  s.capDrop = {"CAP_CHOWN", "mknod"};
  auto caps = containerCapabilities(s);
  ASSERT_TRUE(caps.ok()) << caps.error().message();
  EXPECT_TRUE(*caps & (1ULL << CAP_NET_ADMIN));
  EXPECT_TRUE(*caps & (1ULL << CAP_SYS_PTRACE));
  EXPECT_FALSE(*caps & (1ULL << CAP_CHOWN));
  EXPECT_FALSE(*caps & (1ULL << CAP_MKNOD));
  EXPECT_TRUE(*caps & (1ULL << CAP_KILL));
}

TEST(Capabilities, AllOnEitherSide) {
  SecurityOptions dropAll;
  dropAll.capDrop = {"ALL"};
  dropAll.capAdd = {"NET_BIND_SERVICE"};
  EXPECT_EQ(*containerCapabilities(dropAll), 1ULL << CAP_NET_BIND_SERVICE);
  SecurityOptions addAll;
  addAll.capAdd = {"all"};
  addAll.capDrop = {"SYS_ADMIN"};
  uint64_t caps = *containerCapabilities(addAll);
  EXPECT_EQ(caps, allCapabilities() & ~(1ULL << CAP_SYS_ADMIN));
  SecurityOptions privileged;
  privileged.privileged = true;
  EXPECT_EQ(*containerCapabilities(privileged), allCapabilities());
}

TEST(Capabilities, UnknownNamesAreInvalid) {
  SecurityOptions s;
  s.capAdd = {"FLY"};
  auto caps = containerCapabilities(s);
  ASSERT_FALSE(caps.ok());
  EXPECT_EQ(caps.error().code(), ErrorCode::kInvalid);
  EXPECT_EQ(caps.error().message(), "unknown capability: \"CAP_FLY\"");
  EXPECT_EQ(capabilityName(CAP_SYS_ADMIN), "CAP_SYS_ADMIN");
}

TEST(Rlimits, DefaultIsALenientNofile) {
  auto r = resolveRlimits({});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ((*r)[0].value.rlim_cur, 1048576u);
  EXPECT_TRUE((*r)[0].lenient);
}

TEST(Rlimits, NamesWithOrWithoutPrefix) {
  auto r = resolveRlimits({{"RLIMIT_NPROC", 10, 20}, {"core", 0, 0}});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].resource, RLIMIT_NPROC);
  EXPECT_EQ((*r)[0].value.rlim_max, 20u);
  EXPECT_EQ((*r)[1].resource, RLIMIT_CORE);
  EXPECT_FALSE(resolveRlimits({{"RLIMIT_WINGS", 1, 1}}).ok());
  EXPECT_FALSE(resolveRlimits({{"NOFILE", 10, 5}}).ok());
}

TEST(MountOptions, FlagsPropagationAndData) {
  auto f = parseMountOptions({"rbind", "ro", "nosuid", "nodev", "rprivate", "size=64m", "mode=755"});
  EXPECT_EQ(f.flags, static_cast<unsigned long>(MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID | MS_NODEV));
  EXPECT_EQ(f.propagation, static_cast<unsigned long>(MS_PRIVATE | MS_REC));
  EXPECT_EQ(f.data, "size=64m,mode=755");
  EXPECT_FALSE(f.recursiveReadonly);
  auto rw = parseMountOptions({"ro", "rw", "suid", "rro"});
  EXPECT_EQ(rw.flags, static_cast<unsigned long>(MS_RDONLY));
  EXPECT_TRUE(rw.recursiveReadonly);
}

TEST(CgroupConversions, SharesToWeightAsKubernetes) {
  EXPECT_EQ(cpuSharesToWeight(2), 1u);
  EXPECT_EQ(cpuSharesToWeight(1024), 39u);
  EXPECT_EQ(cpuSharesToWeight(262144), 10000u);
  EXPECT_EQ(cpuSharesToWeight(1), 1u);
}

}  // namespace
}  // namespace nave::runtime::sys
