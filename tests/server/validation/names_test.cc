#include <gtest/gtest.h>

#include "server/validation/field_errors.h"
#include "server/validation/validation.h"
#include "tests/server/validation/test_util.h"

namespace nave::validation {
namespace {

using testing::create;
using testing::describe;
using testing::yaml;

constexpr std::string_view kSubdomainMessage =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

TEST(Names, Dns1123Subdomain) {
  EXPECT_TRUE(isDns1123Subdomain("example.com").empty());
  EXPECT_TRUE(isDns1123Subdomain("a").empty());
  auto errs = isDns1123Subdomain("nginx_pod");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0], kSubdomainMessage);
  EXPECT_FALSE(isDns1123Subdomain("-a").empty());
  EXPECT_FALSE(isDns1123Subdomain("a..b").empty());
  EXPECT_FALSE(isDns1123Subdomain("").empty());
  auto tooLong = isDns1123Subdomain(std::string(254, 'a'));
  ASSERT_EQ(tooLong.size(), 1u);
  EXPECT_EQ(tooLong[0], "must be no more than 253 characters");
}

TEST(Names, Dns1123Label) {
  EXPECT_TRUE(isDns1123Label("my-name").empty());
  auto dots = isDns1123Label("a.b");
  ASSERT_EQ(dots.size(), 1u);
  EXPECT_EQ(dots[0], "must not contain dots");
  auto upper = isDns1123Label("Web");
  ASSERT_EQ(upper.size(), 1u);
  EXPECT_EQ(upper[0],
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
            "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
            "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
  EXPECT_EQ(isDns1123Label(std::string(64, 'a')).size(), 1u);
}

TEST(Names, QualifiedNameAndLabelValue) {
  EXPECT_TRUE(isQualifiedName("app.kubernetes.io/name").empty());
  EXPECT_TRUE(isQualifiedName("MyName").empty());
  auto bad = isQualifiedName("foo bar");
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0],
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
            "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
            "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
  auto prefix = isQualifiedName("/x");
  ASSERT_EQ(prefix.size(), 1u);
  EXPECT_EQ(prefix[0], "prefix part must be non-empty");
  EXPECT_EQ(isQualifiedName("a/b/c").size(), 1u);
  EXPECT_TRUE(isValidLabelValue("").empty());
  EXPECT_TRUE(isValidLabelValue("v1.2_3").empty());
  auto value = isValidLabelValue("-x");
  ASSERT_EQ(value.size(), 1u);
  EXPECT_EQ(value[0],
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
            "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
            "'my_value',  or '12345', regex used for validation is "
            "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')");
}

// The acceptance case: `kubectl run`/`create` of Pod "nginx_pod".
TEST(Names, NginxPodMessage) {
  Json pod = yaml(R"(
apiVersion: v1
kind: Pod
metadata: {name: nginx_pod}
spec:
  containers: [{name: nginx, image: nginx}]
)");
  FieldErrors errs = create(pod);
  ASSERT_EQ(errs.size(), 1u) << describe(errs);
  Error e = invalidError("", "Pod", "nginx_pod", errs);
  EXPECT_EQ(e.code(), ErrorCode::kInvalid);
  EXPECT_EQ(e.message(), "Pod \"nginx_pod\" is invalid: metadata.name: Invalid value: \"nginx_pod\": " +
                             std::string(kSubdomainMessage));
  ASSERT_EQ(e.causes.size(), 1u);
  EXPECT_EQ(e.causes[0].reason, "FieldValueInvalid");
  EXPECT_EQ(e.causes[0].field, "metadata.name");
}

TEST(Names, ServiceNamesAreDns1035Labels) {
  Json svc = yaml(R"(
apiVersion: v1
kind: Service
metadata: {name: 1web}
spec: {ports: [{port: 80}]}
)");
  FieldErrors errs = create(svc);
  ASSERT_EQ(errs.size(), 1u) << describe(errs);
  EXPECT_EQ(errs.errors()[0].toString(),
            "metadata.name: Invalid value: \"1web\": a DNS-1035 label must consist of lower case "
            "alphanumeric characters or '-', start with an alphabetic character, and end with an "
            "alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
            "'[a-z]([-a-z0-9]*[a-z0-9])?')");
}

TEST(Names, RbacNamesArePathSegments) {
  Json role = yaml(R"(
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:controller:Weird_Name"}
rules: []
)");
  EXPECT_NO_FIELD_ERRORS(create(role));
  Json bad = yaml(R"(
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "a/b"}
)");
  FieldErrors errs = create(bad);
  ASSERT_EQ(errs.size(), 1u) << describe(errs);
  EXPECT_EQ(errs.errors()[0].toString(), "metadata.name: Invalid value: \"a/b\": may not contain '/'");
}

}  // namespace
}  // namespace nave::validation
