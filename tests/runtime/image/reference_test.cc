#include <gtest/gtest.h>

#include "runtime/image/image_store.h"

namespace nave::runtime {
namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');

struct Case {
  std::string input, registry, repository, tag, digest, str;
};

TEST(ImageReferenceTest, NormalisesAsDocker) {
  const std::vector<Case> cases = {
      {"busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest"},
      {"busybox:1.36", "docker.io", "library/busybox", "1.36", "", "docker.io/library/busybox:1.36"},
      {"user/app", "docker.io", "user/app", "latest", "", "docker.io/user/app:latest"},
      {"docker.io/busybox", "docker.io", "library/busybox", "latest", "",
       "docker.io/library/busybox:latest"},
      {"index.docker.io/library/busybox:1", "docker.io", "library/busybox", "1", "",
       "docker.io/library/busybox:1"},
      {"localhost:5000/x", "localhost:5000", "x", "latest", "", "localhost:5000/x:latest"},
      {"localhost/x", "localhost", "x", "latest", "", "localhost/x:latest"},
      {"localhost:5000", "docker.io", "library/localhost", "5000", "",
       "docker.io/library/localhost:5000"},
      {"127.0.0.1:5000/library/busybox:1.0", "127.0.0.1:5000", "library/busybox", "1.0", "",
       "127.0.0.1:5000/library/busybox:1.0"},
      {"quay.io/coreos/etcd:v3.5.0", "quay.io", "coreos/etcd", "v3.5.0", "",
       "quay.io/coreos/etcd:v3.5.0"},
      {"registry.k8s.io/pause:3.9", "registry.k8s.io", "pause", "3.9", "",
       "registry.k8s.io/pause:3.9"},
      {"[::1]:5000/x:y", "[::1]:5000", "x", "y", "", "[::1]:5000/x:y"},
      {"a/b/c/d", "docker.io", "a/b/c/d", "latest", "", "docker.io/a/b/c/d:latest"},
      {"my-reg.example.com:8443/team/my_app__x-y.z:V1-rc.2_", "my-reg.example.com:8443",
       "team/my_app__x-y.z", "V1-rc.2_", "", "my-reg.example.com:8443/team/my_app__x-y.z:V1-rc.2_"},
      {"Registry/app", "Registry", "app", "latest", "", "Registry/app:latest"},
      {"a---b/c", "docker.io", "a---b/c", "latest", "", "docker.io/a---b/c:latest"},
      {"busybox@" + kDigest, "docker.io", "library/busybox", "", kDigest,
       "docker.io/library/busybox@" + kDigest},
      {"busybox:1.0@" + kDigest, "docker.io", "library/busybox", "1.0", kDigest,
       "docker.io/library/busybox:1.0@" + kDigest},
      {"localhost:5000/x@" + kDigest, "localhost:5000", "x", "", kDigest,
       "localhost:5000/x@" + kDigest},
  };
  for (const Case& c : cases) {
    auto ref = ImageReference::parse(c.input);
    ASSERT_TRUE(ref.ok()) << c.input << ": " << ref.error().message();
    EXPECT_EQ(ref->registry, c.registry) << c.input;
    EXPECT_EQ(ref->repository, c.repository) << c.input;
    EXPECT_EQ(ref->tag, c.tag) << c.input;
    EXPECT_EQ(ref->digest, c.digest) << c.input;
    EXPECT_EQ(ref->str(), c.str) << c.input;
    EXPECT_EQ(ref->name(), c.registry + "/" + c.repository) << c.input;
    // Normalised references parse to themselves.
    auto again = ImageReference::parse(ref->str());
    ASSERT_TRUE(again.ok()) << ref->str();
    EXPECT_EQ(again->str(), ref->str());
  }
}

TEST(ImageReferenceTest, RefusesInvalidReferences) {
  const std::vector<std::string> invalid = {
      "",
      ":latest",
      "busybox:",
      "busybox:tag with space",
      "busybox:-tag",
      "busybox:" + std::string(129, 'a'),
      "-busybox",
      "busybox-",
      "busybox/",
      "/busybox",
      "a//b",
      "a..b",
      "a___b",
      "a_.b",
      "Busybox",
      "library/Busybox",
      "busybox@sha256:abc",
      "busybox@sha256:" + std::string(64, 'A'),
      "busybox@md5:d41d8cd98f00b204e9800998ecf8427e",
      "busybox@",
      std::string(64, 'a'),
      "exa mple.com/x",
      "example.com:/x",
      "example.com:80a/x",
      "-example.com/x",
      "[::1/x",
      "docker.io/" + std::string(250, 'a'),
      "busybox:latest:extra",
  };
  for (const std::string& s : invalid) {
    auto ref = ImageReference::parse(s);
    ASSERT_FALSE(ref.ok()) << "accepted \"" << s << "\" as " << ref->str();
    EXPECT_EQ(ref.error().code(), ErrorCode::kBadRequest) << s;
    EXPECT_TRUE(ref.error().message().starts_with("invalid reference format")) << ref.error().message();
  }
}

TEST(ImageReferenceTest, UppercaseRepositoryMessage) {
  auto ref = ImageReference::parse("docker.io/library/BusyBox");
  ASSERT_FALSE(ref.ok());
  EXPECT_EQ(ref.error().message(),
            "invalid reference format: repository name (library/BusyBox) must be lowercase");
}

}  // namespace
}  // namespace nave::runtime
